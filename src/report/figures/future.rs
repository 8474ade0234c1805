//! Figures whose data result files of schema 2 do not carry: power, ROI,
//! idle-state residency, syscall time costs and zcrx bytes per CQE. Each is one function that says why it is absent; when the
//! result schema records the data, the function reads it and draws.

use super::Ctx;
use crate::domain::{RxMode, name_of};
use crate::report::doc::Item;
use crate::results::schema::SCHEMA_VERSION;

fn absent(id: &str, title: &str, note: String) -> Item {
    Item::Absent { id: id.into(), title: title.into(), note }
}

fn newest(ctx: &Ctx) -> u32 {
    ctx.series.iter().flat_map(|s| s.runs.iter()).map(|r| r.r.schema_version).max().unwrap_or(SCHEMA_VERSION)
}

pub fn power(ctx: &Ctx, side: &str) -> Item {
    absent(
        &format!("power-{side}"),
        &format!("{side} power"),
        format!(
            "No {side} power readings: none of these result files (schema {}) records a power source, so no power \
             figure is drawn (a missing reading is never drawn as 0 W).",
            newest(ctx)
        ),
    )
}

pub fn roi(ctx: &Ctx) -> Item {
    absent(
        "roi",
        "ROI: T²/C and T²/P",
        format!(
            "Not in these result files (schema {}): they record no ROI figures and no power, so neither T²/C nor \
             T²/P is drawn. Throughput per receiver core (above) is T/C.",
            newest(ctx)
        ),
    )
}

pub fn idle_residency(ctx: &Ctx) -> Item {
    let first = ctx.series.first().map(|s| &s.first().receiver.host.idle);
    let states = first.map(|i| i.states.join(", ")).filter(|s| !s.is_empty()).unwrap_or_else(|| "none listed".into());
    absent(
        "idle",
        "Idle-state residency",
        format!(
            "No per-core idle-state residency in these result files (schema {}); the hosts' idle states are only \
             named ({states}). iowait per core is in the CPU figure.",
            newest(ctx)
        ),
    )
}

pub fn syscall_costs(ctx: &Ctx) -> Item {
    absent(
        "syscall-costs",
        "System call time costs",
        format!(
            "No time per system call in these result files (schema {}): the counts above are all they record.",
            newest(ctx)
        ),
    )
}

fn has_mode(ctx: &Ctx, m: RxMode) -> bool {
    ctx.series.iter().any(|s| s.runs.iter().any(|r| r.r.flow.mode == m))
}

fn per_mode(ctx: &Ctx, m: RxMode, id: &str, title: &str, what: &str) -> Item {
    let name = name_of(&m);
    let note = if has_mode(ctx, m) {
        format!("The {name} runs' result files (schema {}) record no {what}.", newest(ctx))
    } else {
        format!("No {name} series in these results, so no {what}.")
    };
    absent(id, title, note)
}

pub fn zcrx_cqe_bytes(ctx: &Ctx) -> Item {
    per_mode(ctx, RxMode::Zcrx, "zcrx-cqe-bytes", "zcrx: bytes per CQE", "bytes-per-CQE distribution")
}

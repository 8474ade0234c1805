//! The report's figure sections, in page order.

use super::compare;
use super::doc::{Item, Section};
use super::figures::{Ctx, bars, cpu, devmem, idle, power, syscalls, tables, zcrx};
use crate::domain::name_of;

/// Every section, in page order.
pub fn sections(ctx: &Ctx) -> Vec<Section> {
    let sec = |id: &str, title: &str, items: Vec<Item>| Section { id: id.into(), title: title.into(), items };
    let summary = Item::Table { title: "One line per series".into(), table: compare::summary(ctx) };
    vec![
        sec("summary", "Summary", vec![summary]),
        sec("throughput", "Throughput", vec![bars::throughput(ctx), bars::efficiency(ctx)]),
        sec("baseline", &format!("Compared with {}", name_of(&ctx.baseline)), bars::ratios(ctx)),
        sec("flows", "Several flows", super::figures::flows::items(ctx)),
        sec("cpu", "CPU by core role", cpu::cpu_stacked(ctx)),
        sec("power", "Power", power::power(ctx)),
        sec("roi", "Return on investment", power::roi(ctx)),
        sec("zero-copy", "Zero copy", vec![bars::zero_copy(ctx)]),
        sec("syscalls", "System calls", std::iter::once(tables::syscalls(ctx)).chain(syscalls::costs(ctx)).collect()),
        sec("idle", "Idle states", idle::residency(ctx)),
        sec(
            "devmem-zcrx",
            "devmem and zcrx",
            std::iter::once(devmem::frags(ctx)).chain(zcrx::cqe_bytes(ctx)).collect(),
        ),
        sec("time", "Over time", cpu::over_time(ctx)),
    ]
}

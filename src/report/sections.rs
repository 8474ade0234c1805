//! The report's figure sections, in page order.

use super::compare;
use super::doc::{Item, Section};
use super::figures::{Ctx, bars, counters, cpu, devmem, idle, intervals, netdev, power, syscalls, tables, zcrx};
use crate::domain::name_of;

/// Every section, in page order.
pub fn sections(ctx: &Ctx) -> Vec<Section> {
    let sec = |id: &str, title: &str, items: Vec<Item>| Section { id: id.into(), title: title.into(), items };
    let summary = Item::Table { title: "One line per series".into(), table: compare::summary(ctx) };
    vec![
        sec("throughput", "Throughput", vec![bars::throughput(ctx), bars::efficiency(ctx)]),
        sec("summary", "Summary", vec![summary]),
        sec("baseline", &format!("Compared with {}", name_of(&ctx.baseline)), bars::ratios(ctx)),
        sec("flows", "Several flows", super::figures::flows::items(ctx)),
        sec("cpu", "CPU by core role", cpu::cpu_stacked(ctx)),
        sec("softirqs", "Softirqs", vec![counters::softirq(ctx)]),
        sec("perf", "perf counters", counters::perf(ctx)),
        sec("nic", "NIC queues and page pools", netdev::items(ctx)),
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
        sec("intervals", "Per-interval throughput", intervals::cdf(ctx)),
        sec("time", "Over time", cpu::over_time(ctx)),
    ]
}

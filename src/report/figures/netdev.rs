//! The receiving device's own statistics over the window (netdev netlink):
//! per queue (`qstats-get`) the packets received, allocation failures and
//! drops, and per page pool (`page-pool-stats-get`) the pages allocated and
//! recycled; all per GB received. A panel per series, a category per queue or
//! pool, a bar per counter group. A group whose counters the driver does not
//! report is not drawn (absent is not 0).

use super::bars::WHISKERS;
use super::{Ctx, cell, gb, in_units, magnitude, max_of, reasons};
use crate::report::chart::{Bar, BarChart, Category, Panel, Plot};
use crate::report::doc::{Figure, Item, Table};
use crate::report::series::Metric;
use crate::results::schema::{NetdevStats, RunResult, Side};
use plotters::style::RGBColor;
use std::collections::BTreeMap;

/// Counters drawn as one bar: their sum, where the driver reports any of them.
struct Group {
    name: &'static str,
    colour: RGBColor,
    counters: &'static [&'static str],
}

const QUEUE_GROUPS: [Group; 3] = [
    Group { name: "packets received", colour: RGBColor(0x44, 0x77, 0xAA), counters: &["rx-packets"] },
    Group { name: "allocation failures", colour: RGBColor(0xCC, 0xBB, 0x44), counters: &["rx-alloc-fail"] },
    Group {
        name: "drops",
        colour: RGBColor(0xEE, 0x66, 0x77),
        counters: &["rx-hw-drops", "rx-hw-drop-overruns", "rx-hw-drop-ratelimits"],
    },
];

const POOL_GROUPS: [Group; 3] = [
    Group { name: "allocated", colour: RGBColor(0x44, 0x77, 0xAA), counters: &["alloc-fast", "alloc-slow"] },
    Group { name: "recycled", colour: RGBColor(0x22, 0x88, 0x33), counters: &["recycle-cached", "recycle-ring"] },
    Group {
        name: "not recycled (cache or ring full, page still referenced)",
        colour: RGBColor(0xEE, 0x66, 0x77),
        counters: &["recycle-cache-full", "recycle-ring-full", "recycle-released-refcnt"],
    },
];

/// Named counter sets of one run: "rx 0", "rx 1" (queues) or "pool 1", "pool 2"
/// (page pools in id order: their ids change from run to run).
type Entries<'a> = Vec<(String, &'a BTreeMap<String, u64>)>;

fn queues(n: &NetdevStats) -> Entries<'_> {
    n.qstats
        .items
        .iter()
        .filter(|q| q.queue_type == "rx")
        .map(|q| (format!("rx {}", q.queue_id), &q.counters))
        .collect()
}

fn pools(n: &NetdevStats) -> Entries<'_> {
    let mut v: Vec<_> = n.page_pools.items.iter().collect();
    v.sort_by_key(|p| p.id);
    v.into_iter().enumerate().map(|(k, p)| (format!("pool {}", k + 1), &p.counters)).collect()
}

/// What one figure draws: which counter sets, grouped how.
struct Kind {
    id: &'static str,
    title: &'static str,
    entries: fn(&NetdevStats) -> Entries<'_>,
    groups: &'static [Group],
    unavailable: fn(&NetdevStats) -> Option<String>,
    caption: &'static str,
}

fn entries<'a>(k: &Kind, r: &'a RunResult) -> Entries<'a> {
    r.receiver.netdev.as_ref().map(|n| (k.entries)(n)).unwrap_or_default()
}

/// A group's sum in one counter set per GB; None when the set has none of its counters.
fn group_per_gb(k: &Kind, r: &RunResult, entry: &str, g: &Group) -> Option<f64> {
    let (_, c) = entries(k, r).into_iter().find(|(n, _)| n == entry)?;
    let present: Vec<u64> = g.counters.iter().filter_map(|n| c.get(*n).copied()).collect();
    if present.is_empty() {
        return None;
    }
    Some(present.iter().sum::<u64>() as f64 / gb(r)?)
}

fn figure(ctx: &Ctx, k: &Kind) -> Vec<Item> {
    let have: Vec<usize> = (0..ctx.series.len()).filter(|&i| !entries(k, ctx.series[i].first()).is_empty()).collect();
    if have.is_empty() {
        let why = reasons(ctx, |s: &Side| s.netdev.as_ref().map(|n| (k.unavailable)(n)), "nothing listed");
        return vec![Item::Absent {
            id: k.id.into(),
            title: k.title.into(),
            note: format!("Not in these results ({why})."),
        }];
    }
    let mut counters: Vec<String> = Vec::new();
    for &i in &have {
        for (_, c) in ctx.series[i].runs.iter().flat_map(|r| entries(k, &r.r)) {
            counters.extend(c.keys().filter(|n| !counters.contains(n)).cloned().collect::<Vec<_>>());
        }
    }
    let mut headers = vec!["series".to_string(), "runs".to_string(), "queue".to_string()];
    headers.extend(counters.iter().map(|c| format!("{c} per GB")));
    let mut t = Table { headers, rows: Vec::new() };
    // (series, entry name, a metric per group)
    let mut cells: Vec<(usize, String, Vec<Metric>)> = Vec::new();
    for &i in &have {
        let s = &ctx.series[i];
        for (entry, _) in entries(k, s.first()) {
            let per = |name: &str| {
                s.metric(|r| {
                    let (_, c) = entries(k, r).into_iter().find(|(n, _)| *n == entry)?;
                    Some(*c.get(name)? as f64 / gb(r)?)
                })
            };
            let mut row = vec![ctx.labels[i].clone(), s.runs.len().to_string(), entry.clone()];
            row.extend(counters.iter().map(|c| cell(&per(c), 1.0, 1)));
            t.rows.push(row);
            let m = k.groups.iter().map(|g| s.metric(|r| group_per_gb(k, r, &entry, g))).collect();
            cells.push((i, entry, m));
        }
    }
    let (scale, word) = magnitude(cells.iter().map(|(_, _, m)| max_of(m)).fold(0.0, f64::max));
    let mut panels: Vec<Panel> = Vec::new();
    let mut shown = vec![false; k.groups.len()];
    for (i, entry, m) in cells {
        let bars = k
            .groups
            .iter()
            .zip(&m)
            .enumerate()
            .filter_map(|(g, (grp, m))| {
                let sp = m.spread?;
                shown[g] = true;
                Some(Bar {
                    colour: grp.colour,
                    value: sp.trimmed_mean * scale,
                    range: (sp.n > 1).then_some((sp.min * scale, sp.max * scale)),
                })
            })
            .collect();
        let category = Category { name: entry, bars };
        match panels.iter_mut().find(|p| p.title == ctx.labels[i]) {
            Some(p) => p.categories.push(category),
            None => panels.push(Panel { title: ctx.labels[i].clone(), categories: vec![category] }),
        }
    }
    let legend =
        k.groups.iter().zip(&shown).filter(|(_, s)| **s).map(|(g, _)| (g.name.to_string(), g.colour)).collect();
    let mut items = vec![Item::Figure(Box::new(Figure {
        id: k.id.into(),
        title: k.title.into(),
        caption: format!("{} Counts over the window per GB (10^9 bytes) received. {WHISKERS}", k.caption),
        plot: Plot::Bars(BarChart {
            y_label: format!("per GB{}", in_units(word)),
            x_label: String::new(),
            panels,
            legend,
            reference: None,
        }),
        table: Some(t),
    }))];
    let without: Vec<&str> =
        (0..ctx.series.len()).filter(|i| !have.contains(i)).map(|i| ctx.labels[i].as_str()).collect();
    if !without.is_empty() {
        items.push(Item::Note(format!("{}: not recorded for {}.", k.title, without.join(", "))));
    }
    items
}

/// The queue and page-pool figures.
pub fn items(ctx: &Ctx) -> Vec<Item> {
    let kinds = [
        Kind {
            id: "netdev-queues",
            title: "NIC receive queues: packets, allocation failures, drops",
            entries: queues,
            groups: &QUEUE_GROUPS,
            unavailable: |n| n.qstats.unavailable.clone(),
            caption: "Each receive queue of the receiving device as its driver counts it (netdev qstats-get, scope \
                      queue): packets received, buffer allocation failures, and packets dropped (hardware drops, \
                      overruns, rate limits). The table has every counter the driver reports.",
        },
        Kind {
            id: "netdev-page-pools",
            title: "Page pools: pages allocated and recycled",
            entries: pools,
            groups: &POOL_GROUPS,
            unavailable: |n| n.page_pools.unavailable.clone(),
            caption: "Each page pool of the receiving device (netdev page-pool-stats-get; pools in id order, a pool \
                      per receive queue on most drivers): pages allocated (fast path from the pool's cache, slow \
                      path from the page allocator), pages recycled back into the pool (cache, ring), and pages \
                      that could not be (cache or ring full, page still referenced when released).",
        },
    ];
    kinds.iter().flat_map(|k| figure(ctx, k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::Run;
    use crate::report::series::group;
    use crate::report::test_data;
    use crate::results::schema::{PagePoolStats, QueueStats};
    use std::path::PathBuf;

    fn with(r: RunResult, f: impl FnOnce(Vec<Item>)) {
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let series = group(vec![Run { path: PathBuf::from("n"), r }], keys);
        f(items(&Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE)));
    }

    /// The real run's veth has neither: two notes with the kernel's reasons.
    /// Counters filled into it (no result here is of a driver that has them):
    /// a bar per reported group per queue, per GB; a group the driver does
    /// not report (drops) is not drawn, not drawn as 0.
    #[test]
    fn queues_and_pools_per_gb_and_notes_when_absent() {
        let r = test_data("result-v3-netns-power.json");
        with(r.clone(), |items| {
            let [Item::Absent { note: q, .. }, Item::Absent { note: p, .. }] = &items[..] else {
                panic!("not two notes")
            };
            assert!(q.contains("qstats-get: the driver does not support it"), "{q}");
            assert!(p.contains("page-pool-stats-get"), "{p}");
        });
        let mut r = r;
        let gb = r.summary.rx_bytes as f64 / 1e9;
        let n = r.receiver.netdev.as_mut().unwrap();
        n.qstats.unavailable = None;
        let q = |id, packets: u64, fail: u64| QueueStats {
            queue_type: "rx".into(),
            queue_id: id,
            counters: [("rx-packets".to_string(), packets), ("rx-alloc-fail".to_string(), fail)].into(),
        };
        n.qstats.items = vec![q(0, 1000, 0), q(1, 3000, 2)];
        n.page_pools.unavailable = None;
        n.page_pools.items = vec![PagePoolStats {
            id: 9,
            counters: [
                ("alloc-fast".to_string(), 500),
                ("alloc-slow".to_string(), 100),
                ("recycle-ring".to_string(), 550),
            ]
            .into(),
        }];
        with(r, |items| {
            let [Item::Figure(qf), Item::Figure(pf)] = &items[..] else { panic!("not two figures") };
            let Plot::Bars(b) = &qf.plot else { panic!() };
            let cats: Vec<(&str, Vec<f64>)> = b.panels[0]
                .categories
                .iter()
                .map(|c| (c.name.as_str(), c.bars.iter().map(|b| (b.value * 1e6).round() / 1e6).collect()))
                .collect();
            let v = |x: f64| ((x / gb) * 1e6).round() / 1e6;
            assert_eq!(cats, [("rx 0", vec![v(1000.0), v(0.0)]), ("rx 1", vec![v(3000.0), v(2.0)])]);
            assert_eq!(b.legend.len(), 2, "drops are not reported, so not in the legend");
            let Plot::Bars(p) = &pf.plot else { panic!() };
            let pool: Vec<f64> = p.panels[0].categories[0].bars.iter().map(|b| (b.value * 1e6).round() / 1e6).collect();
            assert_eq!(pool, [v(600.0), v(550.0)]);
            assert_eq!(p.panels[0].categories[0].name, "pool 1");
        });
    }
}

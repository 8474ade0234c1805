//! The kernel's own counters by core role: NET_RX / NET_TX softirqs per second
//! on each measured core (/proc/softirqs) beside the core's softirq time, and
//! perf counters per GB received (cycles, instructions, cache misses, context
//! switches, page faults, migrations). A category per core role, a bar per
//! series in its own colour, the legend naming the series (their labels are
//! too long to stand under each bar once machines differ).

use super::bars::{WHISKERS, bar};
use super::{Ctx, cell, distinct_colours, gb, in_units, magnitude, max_of, measured_cores, reasons};
use crate::report::chart::{Bar, BarChart, Category, Panel, Plot};
use crate::report::doc::{Figure, Item, Table};
use crate::report::series::Metric;
use crate::results::schema::{CorePerf, CoreUtil, RunResult};

/// Core roles in the order panels and rows show them.
const ROLES: [&str; 4] = ["app+net", "app", "net", "sender"];

/// The roles some run of the series has.
fn roles_in(ctx: &Ctx) -> Vec<&'static str> {
    let mut seen: Vec<&str> = Vec::new();
    for r in ctx.series.iter().flat_map(|s| s.runs.iter()) {
        for (role, _, _) in measured_cores(&r.r) {
            if !seen.contains(&role) {
                seen.push(role);
            }
        }
    }
    ROLES.into_iter().filter(|r| seen.contains(r)).collect()
}

/// The core utilisation of a role over the window (`summary`).
fn util(r: &RunResult, role: &str) -> Option<CoreUtil> {
    match role {
        "app+net" | "app" => r.summary.app,
        "net" => r.summary.net,
        _ => r.summary.sender,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Softirq {
    NetRx,
    NetTx,
}

impl Softirq {
    fn name(self) -> &'static str {
        match self {
            Softirq::NetRx => "NET_RX",
            Softirq::NetTx => "NET_TX",
        }
    }
}

/// A role's softirqs of one kind in one run, and the window they cover.
fn softirqs(r: &RunResult, role: &str, kind: Softirq) -> Option<(u64, f64)> {
    let (_, side, cpu) = measured_cores(r).into_iter().find(|(n, _, _)| *n == role)?;
    let c = side.softirqs.as_ref()?.cores.iter().find(|c| c.cpu == cpu)?;
    let n = if kind == Softirq::NetRx { c.net_rx } else { c.net_tx };
    Some((n, side.window_s))
}

fn per_second(r: &RunResult, role: &str, kind: Softirq) -> Option<f64> {
    let (n, w) = softirqs(r, role, kind)?;
    (w > 0.0).then(|| n as f64 / w)
}

/// A core role and each series' value for it.
type RoleValues = (&'static str, Vec<Metric>);

/// A panel of bars by core role: a category per role, a bar per series that
/// has the value; the series drawn are added to `drawn`. None without a value.
fn role_panel(ctx: &Ctx, title: &str, values: &[RoleValues], scale: f64, drawn: &mut Vec<usize>) -> Option<Panel> {
    let colours = distinct_colours(ctx);
    let categories: Vec<Category> = values
        .iter()
        .map(|(role, m)| {
            let bars: Vec<Bar> = (0..ctx.series.len())
                .filter_map(|i| {
                    let b = bar(ctx, i, &m[i], scale)?;
                    drawn.push(i);
                    Some(Bar { colour: colours[i], ..b })
                })
                .collect();
            Category { name: role.to_string(), bars }
        })
        .filter(|c| !c.bars.is_empty())
        .collect();
    (!categories.is_empty()).then(|| Panel { title: title.into(), categories })
}

/// The chart of role panels, its legend the series drawn, by label.
fn chart(ctx: &Ctx, y_label: &str, panels: Vec<Panel>, mut drawn: Vec<usize>) -> BarChart {
    drawn.sort_unstable();
    drawn.dedup();
    let colours = distinct_colours(ctx);
    BarChart {
        y_label: y_label.into(),
        x_label: "core role".into(),
        panels,
        legend: drawn.iter().map(|&i| (ctx.labels[i].clone(), colours[i])).collect(),
        reference: None,
    }
}

/// NET_RX and NET_TX softirqs per second per core role, and the softirq time
/// of each role's core in the table.
pub fn softirq(ctx: &Ctx) -> Item {
    let roles = roles_in(ctx);
    let mut t = Table::new(&["series", "runs", "role", "softirq time %", "NET_RX / s", "NET_TX / s", "NET_RX per GB"]);
    for (i, s) in ctx.series.iter().enumerate() {
        for &role in &roles {
            let rx = s.metric(|r| per_second(r, role, Softirq::NetRx));
            if rx.spread.is_none() {
                continue;
            }
            let per_gb = s.metric(|r| Some(softirqs(r, role, Softirq::NetRx)?.0 as f64 / gb(r)?));
            t.rows.push(vec![
                ctx.labels[i].clone(),
                s.runs.len().to_string(),
                role.to_string(),
                cell(&s.metric(|r| util(r, role).map(|u| u.softirq)), 100.0, 1),
                cell(&rx, 1.0, 0),
                cell(&s.metric(|r| per_second(r, role, Softirq::NetTx)), 1.0, 0),
                cell(&per_gb, 1.0, 0),
            ]);
        }
    }
    if t.rows.is_empty() {
        return Item::Absent {
            id: "softirqs".into(),
            title: "Softirqs by core role".into(),
            note: format!(
                "No NET_RX / NET_TX counts in these results ({}). Softirq time per core is in the CPU figure.",
                reasons(ctx, |s| s.softirqs.as_ref().map(|x| x.unavailable.clone()), "no measured core listed")
            ),
        };
    }
    let mut values: Vec<(Softirq, Vec<RoleValues>)> = Vec::new();
    let mut silent = Vec::new();
    for kind in [Softirq::NetRx, Softirq::NetTx] {
        let mut of_kind = Vec::new();
        for &role in &roles {
            let m: Vec<Metric> = ctx.series.iter().map(|s| s.metric(|r| per_second(r, role, kind))).collect();
            if max_of(&m) > 0.0 {
                of_kind.push((role, m));
            } else if m.iter().any(|m| m.spread.is_some()) {
                silent.push(format!("{} on the {role} core", kind.name()));
            }
        }
        values.push((kind, of_kind));
    }
    let (scale, word) =
        magnitude(values.iter().flat_map(|(_, v)| v.iter()).map(|(_, m)| max_of(m)).fold(0.0, f64::max));
    let mut drawn = Vec::new();
    let panels = values.iter().filter_map(|(kind, v)| role_panel(ctx, kind.name(), v, scale, &mut drawn)).collect();
    let mut caption = format!(
        "Softirqs raised per second on each measured core over the window, from /proc/softirqs: NET_RX (receive \
         processing) and NET_TX (transmit completion), a panel per kind. The table adds the share \
         of each core's time spent in softirq (/proc/stat) and NET_RX per GB received. {WHISKERS}"
    );
    if !silent.is_empty() {
        caption += &format!(" Not drawn, 0 in every run: {}.", silent.join(", "));
    }
    Item::Figure(Box::new(Figure {
        id: "softirqs".into(),
        title: "Softirqs by core role".into(),
        caption,
        plot: Plot::Bars(chart(ctx, &format!("softirqs per second{}", in_units(word)), panels, drawn)),
        table: Some(t),
    }))
}

/// The perf events drawn, in order, and what each is.
const EVENTS: [(&str, &str); 6] = [
    ("cycles", "CPU cycles"),
    ("instructions", "instructions retired"),
    ("cache-misses", "last-level cache misses"),
    ("context-switches", "context switches"),
    ("page-faults", "page faults"),
    ("cpu-migrations", "migrations between cores"),
];

/// The perf record of a role's core in one run (the sender's on the sender's side).
fn core_perf<'a>(r: &'a RunResult, role: &str) -> Option<&'a CorePerf> {
    let (_, side, cpu) = measured_cores(r).into_iter().find(|(n, _, _)| *n == role)?;
    side.perf.as_ref()?.cores.iter().find(|c| c.cpu == cpu)
}

/// An event's count on a role's core per GB received.
fn per_gb(r: &RunResult, role: &str, event: &str) -> Option<f64> {
    let c = core_perf(r, role)?.counters.iter().find(|c| c.event == event)?;
    Some(c.value? as f64 / gb(r)?)
}

/// Why no run has a count of `event`: the hosts' reasons, once each.
fn not_counted(ctx: &Ctx, event: &str) -> String {
    let mut why: Vec<String> = Vec::new();
    for r in ctx.series.iter().flat_map(|s| s.runs.iter()) {
        for side in std::iter::once(&r.r.receiver).chain(r.r.sender.iter()) {
            let w = match &side.perf {
                None => format!("not recorded (result schema {})", r.r.schema_version),
                Some(p) => match &p.unavailable {
                    Some(u) => u.clone(),
                    None => p
                        .cores
                        .iter()
                        .flat_map(|c| c.counters.iter())
                        .find(|c| c.event == event)
                        .map_or("not counted by this zcbench version".into(), |c| {
                            c.unavailable.clone().unwrap_or_else(|| "no value".into())
                        }),
                },
            };
            if !why.contains(&w) {
                why.push(w);
            }
        }
    }
    why.join("; ")
}

/// A figure per perf event some run counted (a panel per core role), a note
/// for the events none did, and the numbers in one table.
pub fn perf(ctx: &Ctx) -> Vec<Item> {
    let roles = roles_in(ctx);
    let mut items = Vec::new();
    let mut absent = Vec::new();
    let mut headers = vec!["series", "runs", "role"];
    headers.extend(EVENTS.iter().map(|(e, _)| *e));
    let mut t = Table::new(&headers);
    for (i, s) in ctx.series.iter().enumerate() {
        for &role in &roles {
            let cells: Vec<Metric> = EVENTS.iter().map(|(e, _)| s.metric(|r| per_gb(r, role, e))).collect();
            if cells.iter().all(|m| m.spread.is_none()) {
                continue;
            }
            let mut row = vec![ctx.labels[i].clone(), s.runs.len().to_string(), role.to_string()];
            row.extend(cells.iter().map(|m| cell(m, 1.0, 0)));
            t.rows.push(row);
        }
    }
    for (event, what) in EVENTS {
        let values: Vec<RoleValues> = roles
            .iter()
            .map(|&role| (role, ctx.series.iter().map(|s| s.metric(|r| per_gb(r, role, event))).collect()))
            .collect();
        let (scale, word) = magnitude(values.iter().map(|(_, m)| max_of(m)).fold(0.0, f64::max));
        let mut drawn = Vec::new();
        let Some(panel) = role_panel(ctx, "", &values, scale, &mut drawn) else {
            absent.push(format!("{event} ({})", not_counted(ctx, event)));
            continue;
        };
        items.push(Item::Figure(Box::new(Figure {
            id: format!("perf-{event}"),
            title: format!("perf: {what} per GB received"),
            caption: format!(
                "perf's {event} counted system-wide on each measured core over the window (every process and the \
                 kernel on that core), over the GB (10^9 bytes) received. Multiplexed \
                 counters are scaled to the whole window. {WHISKERS}"
            ),
            plot: Plot::Bars(chart(ctx, &format!("{event} per GB{}", in_units(word)), vec![panel], drawn)),
            table: None,
        })));
    }
    if !absent.is_empty() {
        let title = if items.is_empty() { "perf counters per GB" } else { "perf counters not counted" };
        items.push(Item::Absent {
            id: "perf".into(),
            title: title.into(),
            note: format!("Not counted on any measured core of these results: {}.", absent.join("; ")),
        });
    }
    if !t.rows.is_empty() {
        items.push(Item::Table { title: "perf counters per GB received, by core role".into(), table: t });
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::Run;
    use crate::report::series::group;
    use crate::report::test_data;
    use std::path::PathBuf;

    fn ctx_of(runs: Vec<RunResult>, f: impl FnOnce(&Ctx)) {
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let runs = runs.into_iter().enumerate().map(|(k, r)| Run { path: PathBuf::from(k.to_string()), r }).collect();
        let series = group(runs, keys);
        f(&Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE));
    }

    fn bars(item: &Item) -> Vec<(String, f64)> {
        let Item::Figure(f) = item else { panic!("not a figure") };
        let Plot::Bars(b) = &f.plot else { panic!("not bars") };
        b.panels
            .iter()
            .flat_map(|p| {
                p.categories.iter().flat_map(|c| c.bars.iter().map(|b| (format!("{}: {}", c.name, p.title), b.value)))
            })
            .collect()
    }

    /// A real v3 run (app and net on core 1, the sender on core 0): NET_RX per
    /// second from its own counts; NET_TX, 0 on every core, is not drawn but
    /// said. A schema 2 run has no counts: a note, no bar.
    #[test]
    fn softirqs_per_role_from_the_runs_counts() {
        let r = test_data("result-v3-netns-power.json");
        let w = r.receiver.window_s;
        ctx_of(vec![r], |ctx| {
            let item = softirq(ctx);
            let b = bars(&item);
            let per_s = |n: f64| n / w;
            assert_eq!(b, [("app+net: NET_RX".to_string(), per_s(9736.0)), ("sender: NET_RX".into(), per_s(8586.0))]);
            let Item::Figure(f) = &item else { unreachable!() };
            assert!(f.caption.contains("0 in every run: NET_TX on the app+net core"), "{}", f.caption);
        });
        ctx_of(vec![test_data("result-v2-netns.json")], |ctx| {
            let Item::Absent { note, .. } = softirq(ctx) else { panic!("not a note") };
            assert!(note.contains("not recorded (result schema 2)"), "{note}");
        });
    }

    /// Software counters per GB from the real run; its host has no hardware
    /// counters: cycles and instructions are a note with the host's reason,
    /// never a zero bar. A run with cycles counted draws them.
    #[test]
    fn perf_per_gb_and_a_note_for_what_was_not_counted() {
        let r = test_data("result-v4-netns-mmap-flows4.json");
        let cs = r.receiver.perf.as_ref().unwrap().cores[0].counters[1].value.unwrap() as f64;
        let per_gb_cs = cs / (r.summary.rx_bytes as f64 / 1e9);
        let mut counted = r.clone();
        ctx_of(vec![r], |ctx| {
            let items = perf(ctx);
            let ids: Vec<&str> = items
                .iter()
                .filter_map(|i| match i {
                    Item::Figure(f) => Some(f.id.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(ids, ["perf-context-switches", "perf-page-faults", "perf-cpu-migrations"]);
            let cs_bar = bars(&items[0])[0].1;
            assert!((cs_bar - per_gb_cs).abs() < 1e-6 * per_gb_cs, "{cs_bar} vs {per_gb_cs}");
            let Some(Item::Absent { note, .. }) = items.iter().find(|i| matches!(i, Item::Absent { .. })) else {
                panic!("no note")
            };
            assert!(note.contains("cycles (cycles: this host has no such counter"), "{note}");
            assert!(note.contains("cache-misses (not counted by this zcbench version)"), "{note}");
        });
        for c in &mut counted.receiver.perf.as_mut().unwrap().cores {
            c.counters[4].value = Some(4_000_000_000);
            c.counters[4].unavailable = None;
        }
        ctx_of(vec![counted], |ctx| {
            let items = perf(ctx);
            let Item::Figure(f) = &items[0] else { panic!("cycles not drawn first") };
            assert_eq!(f.id, "perf-cycles");
        });
    }
}

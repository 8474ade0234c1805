//! Several flows at once (`--flows`): "Gbit/s and cores as flows grow" — one
//! line per family of series that differ only in their number of flows (a
//! study with a `flows` axis) — and each flow's throughput as bars, so an
//! unfair split is seen at once.

use super::{Ctx, cell};
use crate::domain::GroupKey;
use crate::report::chart::{Bar, BarChart, Category, Line, LineChart, LinePanel, Panel, Plot};
use crate::report::doc::{Figure, Item, Table};
use crate::results::schema::RunResult;

/// A series' key without its flow count.
type Family = Vec<(GroupKey, String)>;

/// Series that differ only in their flow count, each in order of flows.
fn families(ctx: &Ctx) -> Vec<Vec<usize>> {
    let mut fams: Vec<(Family, Vec<usize>)> = Vec::new();
    for (i, s) in ctx.series.iter().enumerate() {
        let key: Family = s.key.iter().filter(|(k, _)| *k != GroupKey::Flows).cloned().collect();
        match fams.iter_mut().find(|f| f.0 == key) {
            Some(f) => f.1.push(i),
            None => fams.push((key, vec![i])),
        }
    }
    let flows = |i: &usize| ctx.series[*i].first().flow.flows;
    fams.into_iter()
        .map(|(_, mut v)| {
            v.sort_by_key(flows);
            v
        })
        .collect()
}

/// All the cores the run kept busy, every flow's (the ROI's C for the total).
fn cores(r: &RunResult) -> Option<f64> {
    r.summary.roi.as_ref().map(|roi| roi.total.cores)
}

fn fairness(r: &RunResult) -> Option<f64> {
    r.summary.flows.as_ref()?.fairness
}

/// "Gbit/s and cores as flows grow": total throughput, busy cores and
/// fairness against the number of flows, a line per family of series.
pub fn scaling(ctx: &Ctx) -> Item {
    let title = "Gbit/s and cores as flows grow";
    let grown: Vec<Vec<usize>> = families(ctx)
        .into_iter()
        .filter(|f| f.iter().map(|&i| ctx.series[i].first().flow.flows).max() > Some(1) && f.len() > 1)
        .collect();
    if !ctx.keys.contains(&GroupKey::Flows) || grown.is_empty() {
        return Item::Absent {
            id: "flows-scaling".into(),
            title: title.into(),
            note: "No series differ only in their number of flows (a study with a `flows` axis, grouped by \
                   `flows`, which the default --group-by is), so there is no line to draw against it."
                .into(),
        };
    }
    let mut t = Table::new(&["series", "flows", "runs", "Gbit/s (sum of flows)", "cores busy", "Jain's fairness"]);
    let mut panels: Vec<LinePanel> = ["Gbit/s (sum of flows)", "cores busy (every flow's)", "Jain's fairness"]
        .iter()
        .map(|y| LinePanel { y_label: y.to_string(), lines: Vec::new() })
        .collect();
    let mut legend = Vec::new();
    for fam in &grown {
        let colour = ctx.colours[fam[0]];
        let figures: [fn(&RunResult) -> Option<f64>; 3] = [|r| Some(r.summary.gbps), cores, fairness];
        for (panel, f) in panels.iter_mut().zip(figures) {
            // A point per flow count: (flows, 0 length, trimmed mean).
            let points = fam
                .iter()
                .filter_map(|&i| {
                    let s = &ctx.series[i];
                    let m = s.metric(f).spread?;
                    Some((f64::from(s.first().flow.flows), 0.0, m.trimmed_mean))
                })
                .collect();
            panel.lines.push(Line { colour, intervals: points });
        }
        let name: Vec<&str> = ctx.series[fam[0]]
            .key
            .iter()
            .filter(|(k, _)| *k != GroupKey::Flows && ctx.varying.contains(k))
            .map(|(_, v)| v.as_str())
            .collect();
        legend.push((if name.is_empty() { "all".to_string() } else { name.join(", ") }, colour));
        for &i in fam {
            let s = &ctx.series[i];
            t.rows.push(vec![
                ctx.labels[i].clone(),
                s.first().flow.flows.to_string(),
                s.runs.len().to_string(),
                cell(&s.metric(|r| Some(r.summary.gbps)), 1.0, 2),
                cell(&s.metric(cores), 1.0, 2),
                cell(&s.metric(fairness), 1.0, 3),
            ]);
        }
    }
    Item::Figure(Box::new(Figure {
        id: "flows-scaling".into(),
        title: title.into(),
        caption: "Against the number of TCP connections run at once (--flows): the total throughput (the sum of \
                  the flows), the cores the run kept busy (every flow's app, net and, on one host, sending core; \
                  the C of the total ROI) and Jain's fairness index over the flows (1: equal shares). Points: \
                  trimmed mean of the runs; the table has the lowest and highest run."
            .into(),
        plot: Plot::Lines(LineChart { x_label: "flows".into(), panels, warmup_until: None, legend }),
        table: Some(t),
    }))
}

/// Flow `k`'s window throughput in a run.
fn flow_gbps(r: &RunResult, k: usize) -> Option<f64> {
    r.summary.flows.as_ref()?.per_flow.get(k).map(|f| f.gbps)
}

/// Each flow's Gbit/s as a bar, a panel per series of several flows.
pub fn per_flow(ctx: &Ctx) -> Item {
    let title = "Gbit/s of each flow";
    let many: Vec<usize> = (0..ctx.series.len()).filter(|&i| ctx.series[i].first().flow.flows > 1).collect();
    if many.is_empty() {
        return Item::Absent {
            id: "flows-per-flow".into(),
            title: title.into(),
            note: "No series ran several flows at once (--flows).".into(),
        };
    }
    let mut t = Table::new(&["series", "flow", "Gbit/s", "share %", "ended early in"]);
    let mut panels = Vec::new();
    for &i in &many {
        let s = &ctx.series[i];
        let n = s.first().flow.flows as usize;
        let categories = (0..n)
            .map(|k| {
                let m = s.metric(|r| flow_gbps(r, k));
                let bars = m.spread.map(|sp| Bar {
                    colour: ctx.colours[i],
                    value: sp.trimmed_mean,
                    range: (sp.n > 1).then_some((sp.min, sp.max)),
                });
                let ended = s
                    .runs
                    .iter()
                    .filter(|r| r.r.summary.flows.as_ref().and_then(|f| f.per_flow.get(k)?.ended.as_ref()).is_some())
                    .count();
                t.rows.push(vec![
                    ctx.labels[i].clone(),
                    (k + 1).to_string(),
                    cell(&m, 1.0, 2),
                    cell(&s.metric(|r| Some(r.summary.flows.as_ref()?.per_flow.get(k)?.share)), 100.0, 1),
                    format!("{ended} of {} runs", s.runs.len()),
                ]);
                Category { name: format!("flow {}", k + 1), bars: bars.into_iter().collect() }
            })
            .collect();
        panels.push(Panel { title: ctx.labels[i].clone(), categories });
    }
    Item::Figure(Box::new(Figure {
        id: "flows-per-flow".into(),
        title: title.into(),
        caption: "Each flow's throughput over the measured window, a panel per series that ran several flows. \
                  Bars: trimmed mean of the runs; whiskers: lowest and highest run. A flow that ended early \
                  (died or stalled) is counted in the table."
            .into(),
        plot: Plot::Bars(BarChart {
            y_label: "Gbit/s".into(),
            x_label: "flow".into(),
            panels,
            legend: ctx.mode_legend(&many),
            reference: None,
        }),
        table: Some(t),
    }))
}

/// The flows section's items.
pub fn items(ctx: &Ctx) -> Vec<Item> {
    vec![scaling(ctx), per_flow(ctx)]
}

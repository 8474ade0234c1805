//! Grouped-bar figures: throughput, Gbit/s per core, ratios to the baseline
//! mode, zero-copy shares. A panel per CPU layout, a category per remaining
//! varying key (GRO, BIG TCP, ...), a bar per mode.

use super::{Ctx, baseline_of, cell, per_core};
use crate::domain::GroupKey;
use crate::report::chart::{Bar, BarChart, Category, Panel, Plot};
use crate::report::doc::{Figure, Item, Table};
use crate::report::series::{Metric, Series};
use crate::results::schema::RunResult;

/// Series indices by panel (CPU layout when it varies or is a key) and, within
/// a panel, by category (the other varying keys except mode and tx).
/// A panel's title and its categories, each a name and the series in it.
type Layout = Vec<(String, Vec<(String, Vec<usize>)>)>;

fn layout(ctx: &Ctx, only: &[usize], panels_by_cpus: bool) -> Layout {
    let mut panels: Layout = Vec::new();
    for &i in only {
        let s = &ctx.series[i];
        let panel = if panels_by_cpus { s.get(GroupKey::Cpus).to_string() } else { String::new() };
        let skip =
            |k: &GroupKey| matches!(k, GroupKey::Mode | GroupKey::Tx) || (panels_by_cpus && *k == GroupKey::Cpus);
        let cat: Vec<&str> = ctx.varying.iter().filter(|k| !skip(k)).map(|k| s.get(*k)).collect();
        let cat = cat.join(" · ");
        let p = match panels.iter_mut().position(|(n, _)| *n == panel) {
            Some(p) => p,
            None => {
                panels.push((panel, Vec::new()));
                panels.len() - 1
            }
        };
        let cats = &mut panels[p].1;
        match cats.iter_mut().find(|(n, _)| *n == cat) {
            Some((_, v)) => v.push(i),
            None => cats.push((cat, vec![i])),
        }
    }
    panels.sort_by(|a, b| a.0.cmp(&b.0));
    panels
}

pub(super) fn bar(ctx: &Ctx, i: usize, m: &Metric, scale: f64) -> Option<Bar> {
    let s = m.spread?;
    Some(Bar {
        colour: ctx.colours[i],
        value: s.trimmed_mean * scale,
        range: (s.n > 1).then_some((s.min * scale, s.max * scale)),
    })
}

/// A grouped bar chart of one value per series; series without it are left
/// out of the chart (and listed by the caller).
fn chart(ctx: &Ctx, only: &[usize], y_label: &str, values: &[Metric], scale: f64) -> BarChart {
    chart_by(ctx, only, y_label, values, scale, ctx.keys.contains(&GroupKey::Cpus))
}

fn chart_by(ctx: &Ctx, only: &[usize], y_label: &str, values: &[Metric], scale: f64, by_cpus: bool) -> BarChart {
    let panels = layout(ctx, only, by_cpus)
        .into_iter()
        .map(|(title, cats)| Panel {
            title,
            categories: cats
                .into_iter()
                .map(|(name, idx)| Category {
                    name,
                    bars: idx.iter().filter_map(|&i| bar(ctx, i, &values[i], scale)).collect(),
                })
                .collect(),
        })
        .collect();
    let x_label: Vec<String> = ctx
        .varying
        .iter()
        .filter(|k| !(matches!(k, GroupKey::Mode | GroupKey::Tx) || (by_cpus && **k == GroupKey::Cpus)))
        .map(crate::domain::name_of)
        .collect();
    BarChart {
        y_label: y_label.into(),
        x_label: x_label.join(" · "),
        panels,
        legend: ctx.mode_legend(only),
        reference: None,
    }
}

pub(super) const WHISKERS: &str = "Bars: trimmed mean of the series (first and last run dropped when it has 3 or more); \
                        whiskers: its lowest and highest run.";

pub fn throughput(ctx: &Ctx) -> Item {
    let gbps: Vec<Metric> = ctx.series.iter().map(|s| s.metric(|r| Some(r.summary.gbps))).collect();
    let mut t = Table::new(&["series", "runs", "Gbit/s", "receiver cores busy", "retransmits"]);
    for (i, s) in ctx.series.iter().enumerate() {
        let cores = s.metric(|r| Some(r.summary.receiver_cores.busy));
        let retr = s.metric(|r| r.summary.retransmits.map(f64::from));
        t.rows.push(vec![
            ctx.labels[i].clone(),
            s.runs.len().to_string(),
            cell(&gbps[i], 1.0, 2),
            cell(&cores, 1.0, 2),
            cell(&retr, 1.0, 0),
        ]);
    }
    Item::Figure(Box::new(Figure {
        id: "throughput".into(),
        title: "Throughput".into(),
        caption: format!("Gbit/s (10^9 bit/s) received over the measured window. {WHISKERS}"),
        plot: Plot::Bars(chart(ctx, &ctx.all(), "Gbit/s", &gbps, 1.0)),
        table: Some(t),
    }))
}

pub fn efficiency(ctx: &Ctx) -> Item {
    let v: Vec<Metric> = ctx.series.iter().map(|s| s.metric(per_core)).collect();
    let mut t = Table::new(&["series", "runs", "Gbit/s per receiver core", "receiver cores per Gbit/s"]);
    for (i, s) in ctx.series.iter().enumerate() {
        let cpg = s.metric(|r| (r.summary.gbps > 0.0).then_some(r.summary.cpu_per_gbit));
        t.rows.push(vec![ctx.labels[i].clone(), s.runs.len().to_string(), cell(&v[i], 1.0, 2), cell(&cpg, 1.0, 3)]);
    }
    Item::Figure(Box::new(Figure {
        id: "per-core".into(),
        title: "Throughput per receiver core".into(),
        caption: format!(
            "Gbit/s divided by the busy share of the app and net cores (one core counted once when they are the same). {WHISKERS}"
        ),
        plot: Plot::Bars(chart(ctx, &ctx.all(), "Gbit/s per busy core", &v, 1.0)),
        table: Some(t),
    }))
}

/// Ratio of trimmed means, with the widest ratio the runs allow as whiskers.
fn ratio(s: &Metric, b: &Metric) -> Option<(f64, f64, f64, usize)> {
    let (s, b) = (s.spread?, b.spread?);
    if b.trimmed_mean <= 0.0 || b.min <= 0.0 {
        return None;
    }
    Some((s.trimmed_mean / b.trimmed_mean, s.min / b.max, s.max / b.min, s.n.min(b.n)))
}

pub fn ratios(ctx: &Ctx) -> Vec<Item> {
    let base = crate::domain::name_of(&ctx.baseline);
    if !ctx.keys.contains(&GroupKey::Mode) {
        return vec![Item::Absent {
            id: "ratio".into(),
            title: format!("Ratios to {base}"),
            note: "Series are not grouped by mode (--group-by without mode), so there is no baseline series to compare with.".into(),
        }];
    }
    let pairs: Vec<(usize, &Series)> = ctx
        .series
        .iter()
        .enumerate()
        .filter(|(_, s)| s.rx_mode() != Some(ctx.baseline))
        .filter_map(|(i, s)| baseline_of(ctx, s).map(|b| (i, b)))
        .collect();
    if pairs.is_empty() {
        return vec![Item::Absent {
            id: "ratio".into(),
            title: format!("Ratios to {base}"),
            note: format!(
                "No {base} series matches another series in every other key, so no ratio is drawn \
                 (run {base} with the same settings, or choose another mode with --baseline)."
            ),
        }];
    }
    type Get = fn(&RunResult) -> Option<f64>;
    let figs: [(&str, &str, Get); 2] = [
        ("ratio-throughput", "Throughput", |r| Some(r.summary.gbps)),
        ("ratio-per-core", "Gbit/s per receiver core", per_core),
    ];
    let mut items = Vec::new();
    for (id, what, f) in figs {
        let mut values: Vec<Metric> = ctx.series.iter().map(|_| Metric { spread: None, missing: 0 }).collect();
        let mut t = Table::new(&["series", &format!("{what} ÷ {base}"), "lowest–highest", "runs compared"]);
        for (i, b) in &pairs {
            if let Some((r, lo, hi, n)) = ratio(&ctx.series[*i].metric(f), &b.metric(f)) {
                values[*i] = ratio_metric(r, lo, hi, n);
                t.rows.push(vec![ctx.labels[*i].clone(), format!("{r:.3}"), format!("{lo:.3}–{hi:.3}"), n.to_string()]);
            }
        }
        let only: Vec<usize> = pairs.iter().map(|(i, _)| *i).collect();
        let mut c = chart(ctx, &only, &format!("× {base}"), &values, 1.0);
        c.reference = Some((1.0, format!("{base} = 1")));
        items.push(Item::Figure(Box::new(Figure {
            id: id.into(),
            title: format!("{what} relative to {base}"),
            caption: format!(
                "Each series' trimmed mean divided by that of the {base} series equal to it in every other key. \
                 Whiskers: its lowest run over {base}'s highest, and its highest over {base}'s lowest."
            ),
            plot: Plot::Bars(c),
            table: Some(t),
        })));
    }
    items
}

/// A ratio shown through the bar helpers (mean, and lowest/highest as whiskers).
fn ratio_metric(r: f64, lo: f64, hi: f64, n: usize) -> Metric {
    let spread =
        crate::results::stats::Spread { n, missing: 0, trimmed_mean: r, kept: n, min: lo, max: hi, stddev: 0.0 };
    Metric { spread: Some(spread), missing: 0 }
}

pub fn zero_copy(ctx: &Ctx) -> Item {
    type Get = fn(&RunResult) -> Option<f64>;
    let rx: Get = |r| r.receiver.rx.as_ref()?.zero_copy.as_ref().map(|z| z.zero_copy_share);
    let tx: Get =
        |r| r.sender.as_ref().unwrap_or(&r.receiver).tx.as_ref()?.zero_copy.as_ref().map(|z| z.zero_copy_share);
    let mut panels = Vec::new();
    let mut t = Table::new(&["series", "runs", "direction", "zero-copy share %", "counted by"]);
    let mut without = Vec::new();
    let mut drawn = Vec::new();
    for (dir, get) in [("receive", rx), ("transmit", tx)] {
        let m: Vec<Metric> = ctx.series.iter().map(|s| s.metric(get)).collect();
        for (i, mi) in m.iter().enumerate() {
            if mi.spread.is_none() {
                without.push(format!("{} ({dir})", ctx.labels[i]));
                continue;
            }
            let r = ctx.series[i].first();
            let src = if dir == "receive" {
                r.receiver.rx.as_ref().and_then(|x| x.zero_copy.clone())
            } else {
                r.sender.as_ref().unwrap_or(&r.receiver).tx.as_ref().and_then(|x| x.zero_copy.clone())
            };
            t.rows.push(vec![
                ctx.labels[i].clone(),
                ctx.series[i].runs.len().to_string(),
                dir.into(),
                cell(mi, 100.0, 1),
                src.map(|z| z.source).unwrap_or_default(),
            ]);
        }
        panels.extend(titled(ctx, dir, &m, 100.0, &mut drawn));
    }
    if panels.is_empty() {
        return Item::Absent {
            id: "zero-copy".into(),
            title: "Zero-copy shares".into(),
            note: "No series has a zero-copy account (only zero-copy modes record one: mmap, MSG_ZEROCOPY, SEND_ZC)."
                .into(),
        };
    }
    let chart = of_panels(ctx, "% of bytes not copied", panels, drawn);
    let mut caption = "Share of the payload the kernel did not copy, by its own account (TCP_ZEROCOPY_RECEIVE mapped \
                       bytes; MSG_ZEROCOPY / SEND_ZC completions not marked copied). On loopback and veth the \
                       kernel copies every zero-copy send for the local receiver."
        .to_string();
    if !without.is_empty() {
        caption += &format!(" Not drawn (no zero-copy account in their results): {}.", without.join(", "));
    }
    Item::Figure(Box::new(Figure {
        id: "zero-copy".into(),
        title: "Zero-copy shares".into(),
        caption,
        plot: Plot::Bars(chart),
        table: Some(t),
    }))
}

/// One panel titled `title`: a bar per series that has the value (grouped by
/// the varying keys but mode, CPU layout included); the series drawn are added
/// to `drawn`. No panel when no series has the value.
pub(super) fn titled(ctx: &Ctx, title: &str, values: &[Metric], scale: f64, drawn: &mut Vec<usize>) -> Vec<Panel> {
    let have: Vec<usize> = (0..values.len()).filter(|&i| values[i].spread.is_some()).collect();
    if have.is_empty() {
        return Vec::new();
    }
    drawn.extend(have.iter().copied());
    let mut c = chart_by(ctx, &have, "", values, scale, false);
    for p in &mut c.panels {
        p.title = title.to_string();
    }
    c.panels
}

/// A bar chart of the given panels, its legend the modes of the series drawn.
pub(super) fn of_panels(ctx: &Ctx, y_label: &str, panels: Vec<Panel>, mut drawn: Vec<usize>) -> BarChart {
    drawn.sort_unstable();
    drawn.dedup();
    BarChart {
        y_label: y_label.into(),
        x_label: String::new(),
        panels,
        legend: ctx.mode_legend(&drawn),
        reference: None,
    }
}

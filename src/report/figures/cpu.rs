//! CPU by core role (stacked by what the core did) and throughput / CPU over
//! time per run.

use super::{Ctx, Parts, cell};
use crate::report::chart::{Line, LineChart, LinePanel, Plot, Stack, StackGroup, StackedChart};
use crate::report::doc::{Figure, Item, Table};
use crate::report::series::Series;
use crate::results::schema::{CoreUtil, RunResult};
use crate::results::stats::cores_of;
use plotters::style::RGBColor;

/// What a core did, bottom to top in the stacks (Paul Tol's muted scheme).
const CATEGORIES: [(&str, RGBColor); 6] = [
    ("user", RGBColor(0x33, 0x22, 0x88)),
    ("sys", RGBColor(0x88, 0xCC, 0xEE)),
    ("softirq", RGBColor(0x11, 0x77, 0x33)),
    ("irq", RGBColor(0xDD, 0xCC, 0x77)),
    ("iowait", RGBColor(0xCC, 0x66, 0x77)),
    ("steal", RGBColor(0xAA, 0x44, 0x99)),
];

fn parts(u: &CoreUtil) -> [f64; 6] {
    [u.user + u.nice, u.system, u.softirq, u.irq, u.iowait, u.steal]
}

type RoleOf = fn(&RunResult) -> Option<CoreUtil>;

/// The core roles of a series: app and net (one "app+net" core with --cpus 1),
/// and the sender's core.
fn roles(s: &Series) -> Vec<(&'static str, RoleOf)> {
    let l = &s.first().receiver.layout;
    let mut v: Vec<(&'static str, RoleOf)> = if l.app_cpu == l.net_cpu {
        vec![("app+net", |r| r.summary.app)]
    } else {
        vec![("app", |r| r.summary.app), ("net", |r| r.summary.net)]
    };
    v.push(("sender", |r| r.summary.sender));
    v
}

/// Series per CPU figure: more would squeeze the bars past reading.
const SERIES_PER_CPU_FIGURE: usize = 10;

/// CPU by core role, one figure per ten series (the table under the last).
pub fn cpu_stacked(ctx: &Ctx) -> Vec<Item> {
    let mut groups = Vec::new();
    let mut t = Table::new(&[
        "series",
        "runs",
        "role",
        "busy %",
        "user %",
        "sys %",
        "softirq %",
        "irq %",
        "iowait %",
        "steal %",
    ]);
    for (i, s) in ctx.series.iter().enumerate() {
        let mut stacks = Vec::new();
        for (role, get) in roles(s) {
            let busy = s.metric(|r| get(r).map(|u| u.busy));
            let Some(b) = busy.spread else { continue };
            let cats: Vec<_> = (0..CATEGORIES.len()).map(|c| s.metric(|r| get(r).map(|u| parts(&u)[c]))).collect();
            let segments = cats.iter().map(|m| m.spread.map_or(0.0, |x| x.trimmed_mean * 100.0)).collect();
            let mut row =
                vec![ctx.labels[i].clone(), s.runs.len().to_string(), role.to_string(), cell(&busy, 100.0, 1)];
            row.extend(cats.iter().map(|m| cell(m, 100.0, 1)));
            t.rows.push(row);
            let range = (b.n > 1).then_some((b.min * 100.0, b.max * 100.0));
            stacks.push(Stack { label: role.to_string(), segments, range });
        }
        if !stacks.is_empty() {
            groups.push(StackGroup { name: ctx.labels[i].clone(), colour: ctx.colours[i], stacks });
        }
    }
    let parts = Parts {
        id: "cpu",
        title: "CPU by core role",
        caption: "Share of each core's time over the measured window, from /proc/stat: the receiving app's core, the \
                  core running its network processing (the same core with 1 CPU), and the sender's core. Stacks: \
                  trimmed means per category; above each: busy total; whiskers: lowest and highest run's busy share.",
        absent: "No result records per-core utilisation of the app, net or sender core.",
        per: SERIES_PER_CPU_FIGURE,
    };
    parts.figures(groups, t, |chunk| {
        Plot::Stacked(StackedChart {
            y_label: "% of one core".into(),
            x_label: "series (strip under each: its mode colour)".into(),
            categories: CATEGORIES.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
            groups: chunk,
        })
    })
}

/// Time figures are drawn for this many series at most (a figure each).
const MAX_TIME_FIGURES: usize = 24;

fn lighten(c: RGBColor, k: usize, n: usize) -> RGBColor {
    // Runs of one series: the mode's colour, later runs lighter.
    let f = if n <= 1 { 0.0 } else { 0.45 * k as f64 / (n - 1) as f64 };
    let l = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * f) as u8;
    RGBColor(l(c.0), l(c.1), l(c.2))
}

/// Busy cores of a sample over the given cores (each counted once).
fn busy(cpu: &[CoreUtil], cores: &[usize]) -> f64 {
    cores_of(cpu, cores).iter().map(|u| u.busy).sum()
}

fn time_figure(ctx: &Ctx, i: usize) -> Figure {
    let s = &ctx.series[i];
    let n = s.runs.len();
    let mut panels = vec![
        LinePanel { y_label: "Gbit/s".into(), lines: Vec::new() },
        LinePanel { y_label: "receiver cores busy".into(), lines: Vec::new() },
        LinePanel { y_label: "sender core busy".into(), lines: Vec::new() },
    ];
    let mut legend = Vec::new();
    for (k, run) in s.runs.iter().enumerate() {
        let colour = lighten(ctx.colours[i], k, n);
        let r = &run.r;
        let l = &r.receiver.layout;
        let sender_side = r.sender.as_ref().unwrap_or(&r.receiver);
        let label = format!("run {} ({})", k + 1, r.timestamp);
        legend.push((label, colour));
        let gbps = r.receiver.samples.iter().map(|x| (x.t_s, x.dt_s, x.rx_gbps)).collect();
        let cores = r.receiver.samples.iter().map(|x| (x.t_s, x.dt_s, busy(&x.cpu, &[l.app_cpu, l.net_cpu]))).collect();
        let sender_cpu = sender_side.layout.sender_cpu;
        let sender: Vec<(f64, f64, f64)> = match sender_cpu {
            Some(c) => sender_side.samples.iter().map(|x| (x.t_s, x.dt_s, busy(&x.cpu, &[c]))).collect(),
            None => Vec::new(),
        };
        panels[0].lines.push(Line { colour, intervals: gbps });
        panels[1].lines.push(Line { colour, intervals: cores });
        panels[2].lines.push(Line { colour, intervals: sender });
    }
    if panels[2].lines.iter().all(|l| l.intervals.is_empty()) {
        panels.pop();
    }
    let warmup = s.first().flow.warmup_s;
    Figure {
        id: format!("time-{}", s.id),
        title: format!("Over time: {}", ctx.labels[i]),
        caption: format!(
            "Each sampling interval of each run, drawn over the interval it covers (one line per run, later runs \
             lighter): Gbit/s received, busy share of the app and net cores (in cores) and of the sender's core. The shaded start ({warmup} s) is the \
             warm-up, not counted in the other figures."
        ),
        plot: Plot::Lines(LineChart {
            x_label: "seconds since the flow started".into(),
            panels,
            warmup_until: Some(warmup),
            legend,
        }),
        table: None,
    }
}

pub fn over_time(ctx: &Ctx) -> Vec<Item> {
    let mut items: Vec<Item> =
        (0..ctx.series.len().min(MAX_TIME_FIGURES)).map(|i| Item::Figure(Box::new(time_figure(ctx, i)))).collect();
    if ctx.series.len() > MAX_TIME_FIGURES {
        let rest: Vec<&str> = ctx.labels[MAX_TIME_FIGURES..].iter().map(String::as_str).collect();
        items.push(Item::Note(format!(
            "Time figures are drawn for the first {MAX_TIME_FIGURES} of {} series; not drawn: {}. Report a subset of the results to see them.",
            ctx.series.len(),
            rest.join(", ")
        )));
    }
    items
}

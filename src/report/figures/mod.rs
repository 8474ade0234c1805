//! Every figure and table of a report, one function each (one file per
//! kind), built from the series; this file is what they all read (`Ctx`) and
//! share. A function whose data the results lack returns an `Absent` item
//! saying so; nothing is drawn from zeros. `report::sections` puts them in
//! page order.

pub mod bars;
pub mod counters;
pub mod cpu;
pub mod devmem;
pub mod flows;
pub mod idle;
pub mod intervals;
pub mod netdev;
pub mod power;
pub mod syscalls;
pub mod tables;
pub mod zcrx;

use super::chart::Plot;
use super::doc::{Figure, Item, Table};
use super::series::{Metric, Series, label, varying_keys};
use crate::domain::{GroupKey, RxMode, name_of};
use crate::results::schema::{RunResult, Side};
use plotters::style::RGBColor;

/// What every figure function reads.
pub struct Ctx<'a> {
    pub series: &'a [Series],
    pub keys: &'a [GroupKey],
    pub varying: Vec<GroupKey>,
    pub common: Vec<(GroupKey, String)>,
    pub labels: Vec<String>,
    pub colours: Vec<RGBColor>,
    pub baseline: RxMode,
}

impl<'a> Ctx<'a> {
    pub fn new(series: &'a [Series], keys: &'a [GroupKey], baseline: RxMode) -> Ctx<'a> {
        let (varying, common) = varying_keys(series, keys);
        let labels = series.iter().map(|s| label(s, &varying)).collect();
        let colours = palette(series);
        Ctx { series, keys, varying, common, labels, colours, baseline }
    }

    /// One legend entry per mode label, in series order.
    pub fn mode_legend(&self, only: &[usize]) -> Vec<(String, RGBColor)> {
        let mut out: Vec<(String, RGBColor)> = Vec::new();
        for &i in only {
            let l = self.series[i].mode_label();
            if !out.iter().any(|(x, _)| *x == l) {
                out.push((l, self.colours[i]));
            }
        }
        out
    }

    pub fn all(&self) -> Vec<usize> {
        (0..self.series.len()).collect()
    }
}

/// Each receive mode's colour (its descriptor's), the same in every report;
/// grey for a series of mixed modes.
fn mode_colour(m: Option<RxMode>) -> RGBColor {
    let (r, g, b) = m.map_or((0x88, 0x88, 0x88), |m| crate::rx::describe(m).colour);
    RGBColor(r, g, b)
}

/// Each series' colour: its receive mode's; a receive mode seen with more than
/// one transmit mode gets darker shades for the others (sorted by name, so the
/// same pairs get the same shades).
fn palette(series: &[Series]) -> Vec<RGBColor> {
    let mut pairs: Vec<(Option<RxMode>, String)> = Vec::new();
    for s in series {
        let p = (s.rx_mode(), s.mode_label());
        if !pairs.contains(&p) {
            pairs.push(p);
        }
    }
    series
        .iter()
        .map(|s| {
            let m = s.rx_mode();
            let label = s.mode_label();
            let default = m.map(|m| name_of(&m));
            let mut others: Vec<&String> =
                pairs.iter().filter(|(pm, l)| *pm == m && Some(l) != default.as_ref()).map(|(_, l)| l).collect();
            others.sort();
            let shade = others.iter().position(|l| **l == label).map_or(0, |p| p + 1);
            darken(mode_colour(m), shade)
        })
        .collect()
}

/// Each series' colour made unique: a series whose mode colour an earlier one
/// already has (the same mode on another machine) gets a darker shade, for
/// figures that tell series apart by colour alone (lines).
pub fn distinct_colours(ctx: &Ctx) -> Vec<RGBColor> {
    let mut out: Vec<RGBColor> = Vec::new();
    for &c in &ctx.colours {
        let mut k = 0;
        while out.contains(&darken(c, k)) && k < 8 {
            k += 1;
        }
        out.push(darken(c, k));
    }
    out
}

fn darken(c: RGBColor, steps: usize) -> RGBColor {
    let f = 0.72f64.powi(steps as i32);
    let d = |v: u8| (f64::from(v) * f) as u8;
    RGBColor(d(c.0), d(c.1), d(c.2))
}

/// Trimmed mean with the lowest and highest run as table text:
/// "12.3 (11.9–12.8)"; "— " when no run has the value; the count of runs
/// that have it when some lack it.
pub fn cell(m: &Metric, scale: f64, digits: usize) -> String {
    let Some(s) = &m.spread else { return "—".into() };
    let mean = format!("{:.*}", digits, s.trimmed_mean * scale);
    let of = if m.missing > 0 { format!("; {} of {} runs", s.n, s.n + m.missing) } else { String::new() };
    if s.n == 1 {
        return if of.is_empty() { mean } else { format!("{mean} ({})", &of[2..]) };
    }
    format!("{mean} ({:.*}–{:.*}{of})", digits, s.min * scale, digits, s.max * scale)
}

/// One item per series that has the data (`f` gives None for one without),
/// and the labels of those without.
pub fn per_series(ctx: &Ctx, f: impl Fn(&Ctx, usize) -> Option<Item>) -> (Vec<Item>, Vec<String>) {
    let mut items = Vec::new();
    let mut without = Vec::new();
    for i in 0..ctx.series.len() {
        match f(ctx, i) {
            Some(t) => items.push(t),
            None => without.push(ctx.labels[i].clone()),
        }
    }
    (items, without)
}

/// One figure of many series, as several of at most `per` each (titled "(k of
/// n)", ids `id`, `id-2`, ...), the table under the last; the `absent` note
/// when there is nothing to draw.
pub struct Parts<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub caption: &'a str,
    pub per: usize,
    pub absent: &'a str,
}

impl Parts<'_> {
    pub fn figures<T>(&self, all: Vec<T>, table: Table, plot: impl Fn(Vec<T>) -> Plot) -> Vec<Item> {
        if all.is_empty() {
            let (id, title, note) = (self.id.into(), self.title.into(), self.absent.into());
            return vec![Item::Absent { id, title, note }];
        }
        let parts = all.len().div_ceil(self.per).max(1);
        let mut table = Some(table);
        let mut all = all.into_iter();
        (0..parts)
            .map(|k| {
                let chunk: Vec<T> = all.by_ref().take(self.per).collect();
                let part = if parts > 1 { format!(" ({} of {parts})", k + 1) } else { String::new() };
                Item::Figure(Box::new(Figure {
                    id: if k == 0 { self.id.into() } else { format!("{}-{}", self.id, k + 1) },
                    title: format!("{}{part}", self.title),
                    caption: self.caption.into(),
                    plot: plot(chunk),
                    table: if k + 1 == parts { table.take() } else { None },
                }))
            })
            .collect()
    }
}

/// "1 run", "3 runs".
pub fn runs(n: usize) -> String {
    if n == 1 { "1 run".into() } else { format!("{n} runs") }
}

/// The measured cores of a run: role ("app", "net", "app+net", "sender"), the
/// side whose host it is on, core number.
pub fn measured_cores(r: &RunResult) -> Vec<(&'static str, &Side, usize)> {
    let l = &r.receiver.layout;
    let mut v = if l.app_cpu == l.net_cpu {
        vec![("app+net", &r.receiver, l.app_cpu)]
    } else {
        vec![("app", &r.receiver, l.app_cpu), ("net", &r.receiver, l.net_cpu)]
    };
    let s = r.sender.as_ref().unwrap_or(&r.receiver);
    if let Some(c) = s.layout.sender_cpu {
        v.push(("sender", s, c));
    }
    v
}

/// Why no run has a block: each side's own reason (`block` gives None when
/// the side has no such block, Some(None) when it has one without a reason),
/// once each.
pub fn reasons(ctx: &Ctx, block: impl Fn(&Side) -> Option<Option<String>>, empty: &str) -> String {
    let mut why: Vec<String> = Vec::new();
    for r in ctx.series.iter().flat_map(|s| s.runs.iter()) {
        for side in std::iter::once(&r.r.receiver).chain(r.r.sender.iter()) {
            let w = match block(side) {
                Some(w) => w.unwrap_or_else(|| empty.to_string()),
                None => format!("not recorded (result schema {})", r.r.schema_version),
            };
            let w = format!("{}: {w}", side.role);
            if !why.contains(&w) {
                why.push(w);
            }
        }
    }
    why.join("; ")
}

/// Payload received over the measured window, in GB (10^9 bytes); None for none.
pub fn gb(r: &RunResult) -> Option<f64> {
    (r.summary.rx_bytes > 0).then(|| r.summary.rx_bytes as f64 / 1e9)
}

/// A scale that brings values up to `max` to a readable axis, and its word
/// ("", "thousand", "million", "billion").
pub fn magnitude(max: f64) -> (f64, &'static str) {
    match max {
        m if m >= 1e9 => (1e-9, "billion"),
        m if m >= 1e6 => (1e-6, "million"),
        m if m >= 1e4 => (1e-3, "thousand"),
        _ => (1.0, ""),
    }
}

/// An axis label's unit suffix for `magnitude`'s word: "" or " (thousands)".
pub fn in_units(word: &str) -> String {
    if word.is_empty() { String::new() } else { format!(" ({word}s)") }
}

/// The largest trimmed mean or run of some metrics.
pub fn max_of<'a>(m: impl IntoIterator<Item = &'a Metric>) -> f64 {
    m.into_iter().filter_map(|m| m.spread).map(|s| s.max.max(s.trimmed_mean)).fold(0.0, f64::max)
}

/// Gbit/s per busy receiver core (app and net, one core counted once).
pub fn per_core(r: &RunResult) -> Option<f64> {
    let c = r.summary.receiver_cores.busy;
    (c > 0.0).then_some(r.summary.gbps / c)
}

/// The series of the baseline mode that `s` is compared with: equal in every
/// key but the modes (None for the baseline's own series).
pub fn baseline_of<'a>(ctx: &'a Ctx, s: &Series) -> Option<&'a Series> {
    if s.rx_mode() == Some(ctx.baseline) || !ctx.keys.contains(&GroupKey::Mode) {
        return None;
    }
    let same = |a: &Series, b: &Series| {
        a.key.iter().zip(&b.key).all(|((k, x), (_, y))| matches!(k, GroupKey::Mode | GroupKey::Tx) || x == y)
    };
    ctx.series.iter().find(|b| b.rx_mode() == Some(ctx.baseline) && same(b, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::Run;
    use crate::report::series::group;
    use crate::results::stats::spread;
    use std::path::{Path, PathBuf};

    #[test]
    fn cells_show_mean_range_and_runs_without_the_value() {
        let m = |v: &[f64], missing| Metric { spread: spread(v), missing };
        assert_eq!(cell(&m(&[1.0, 2.0, 3.0, 4.0], 0), 1.0, 1), "2.5 (1.0–4.0)");
        assert_eq!(cell(&m(&[0.5], 0), 100.0, 1), "50.0");
        assert_eq!(cell(&m(&[0.5], 2), 100.0, 1), "50.0 (1 of 3 runs)");
        assert_eq!(cell(&m(&[1.0, 3.0], 1), 1.0, 0), "2 (1–3; 2 of 3 runs)");
        assert_eq!(cell(&m(&[], 3), 1.0, 0), "—");
    }

    /// One colour per receive mode in every report; a second transmit mode
    /// with the same receive mode is a darker shade of it.
    #[test]
    fn colours_follow_the_mode() {
        let real = |name: &str, tx: Option<crate::domain::TxMode>, cpus: u8| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
            let mut r = crate::results::read(&path).unwrap();
            if let Some(tx) = tx {
                r.flow.tx_mode = tx;
            }
            r.receiver.layout.cpus = cpus;
            Run { path: PathBuf::from(name), r }
        };
        // All over loopback on one host: the machine keys are equal.
        let runs = vec![
            real("result-v1-first-build-lo.json", None, 1),
            real("result-v1-first-build-lo.json", None, 2),
            real("result-v2-mmap.json", None, 1),
            real("result-v2-mmap.json", Some(crate::domain::TxMode::Copy), 1),
        ];
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let series = group(runs, keys);
        let ctx = Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE);
        let by_label = |l: &str| ctx.colours[series.iter().position(|s| s.mode_label() == l).unwrap()];
        assert_eq!(ctx.colours[0], ctx.colours[1], "both baseline series");
        let registry = |name: &str| {
            let (r, g, b) = crate::rx::all().find(|d| d.name == name).unwrap().colour;
            RGBColor(r, g, b)
        };
        assert_eq!(by_label("baseline"), registry("baseline"));
        assert_eq!(by_label("mmap"), registry("mmap"));
        assert_eq!(by_label("mmap/copy"), darken(registry("mmap"), 1));
        assert_eq!(ctx.mode_legend(&ctx.all()).len(), 3);
        // The mmap series is compared with the baseline series of its layout.
        let mmap = series.iter().find(|s| s.mode_label() == "mmap").unwrap();
        assert_eq!(baseline_of(&ctx, mmap).unwrap().get(GroupKey::Cpus), "1 CPU");
        assert!(baseline_of(&ctx, &series[0]).is_none());
    }
}

//! Every figure and table of a report, one function each (one file per
//! kind), built from the series; this file is what they all read (`Ctx`) and
//! share. A function whose data the results lack returns an `Absent` item
//! saying so; nothing is drawn from zeros. `report::sections` puts them in
//! page order.

pub mod bars;
pub mod cpu;
pub mod devmem;
pub mod flows;
pub mod idle;
pub mod power;
pub mod syscalls;
pub mod tables;
pub mod zcrx;

use super::doc::Item;
use super::series::{Metric, Series, label, varying_keys};
use crate::domain::{GroupKey, RxMode, name_of};
use crate::results::schema::RunResult;
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

/// "1 run", "3 runs".
pub fn runs(n: usize) -> String {
    if n == 1 { "1 run".into() } else { format!("{n} runs") }
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
        let runs = vec![
            real("result-v2-netns.json", None, 1),
            real("result-v2-netns.json", None, 2),
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

//! Power per series and the return-on-investment figures. Power is drawn one
//! figure per kind (wall, package, dram, estimate), so a CPU package figure is
//! never a bar beside wall power; ROI is drawn a panel per party (receiver,
//! sender, both) and, for the power ROI, per power kind.

use super::bars::{WHISKERS, of_panels, titled};
use super::{Ctx, cell};
use crate::domain::{PowerKind, name_of};
use crate::report::chart::{Panel, Plot};
use crate::report::doc::{Figure, Item, Table};
use crate::report::series::{Metric, Series};
use crate::results::schema::{PowerSource, PowerSummary, RoiFigures, RunResult};

const KINDS: [PowerKind; 4] = [PowerKind::Wall, PowerKind::Package, PowerKind::Dram, PowerKind::Estimate];

/// What a kind measures, for captions.
fn what(k: PowerKind) -> &'static str {
    match k {
        PowerKind::Wall => "the whole machine at the wall",
        PowerKind::Package => "the CPU package only (RAPL package domain), not wall power",
        PowerKind::Dram => "the memory only (RAPL DRAM domain), not wall power",
        PowerKind::Estimate => "a model's estimate, not a measurement",
    }
}

/// A run's power summary of one source.
fn reading<'a>(r: &'a RunResult, side: &str, name: &str, kind: PowerKind) -> Option<&'a PowerSummary> {
    r.summary.power.iter().find(|p| p.side == side && p.name == name && p.kind == kind)
}

/// A host's power as the ROI takes it (`results::stats::host_power`).
pub fn host_power<'a>(r: &'a RunResult, side: &str) -> Option<&'a PowerSummary> {
    crate::results::stats::host_power(&r.summary.power, side)
}

/// The source's entry on its side (what it ran or read, why readings are missing).
fn origin<'a>(r: &'a RunResult, side: &str, name: &str) -> Option<&'a PowerSource> {
    let s = if side == "sender" { r.sender.as_ref()? } else { &r.receiver };
    s.power_sources.iter().find(|p| p.name == name)
}

/// Every (side, name) of a kind any run recorded, in the order first seen.
fn sources(ctx: &Ctx, kind: PowerKind) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for p in ctx.series.iter().flat_map(|s| s.runs.iter()).flat_map(|r| r.r.summary.power.iter()) {
        let k = (p.side.clone(), p.name.clone());
        if p.kind == kind && !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// "receiver host" or, in a local run (one host for both ends), "host (receiver and sender)".
fn host_name(s: &Series, side: &str) -> String {
    if side == "receiver" && s.runs.iter().all(|r| r.r.sender.is_none()) {
        "host (receiver and sender)".into()
    } else {
        format!("{side} host")
    }
}

/// Distinct values of the runs' failure messages of one source.
fn errors(s: &Series, side: &str, name: &str) -> String {
    let mut msgs: Vec<String> = Vec::new();
    for o in s.runs.iter().filter_map(|r| origin(&r.r, side, name)) {
        for e in &o.errors {
            let m = format!("{} (×{})", e.message, e.count);
            if !msgs.contains(&m) {
                msgs.push(m);
            }
        }
    }
    msgs.join("; ")
}

fn power_figure(ctx: &Ctx, kind: PowerKind, t: &mut Table) -> Option<Item> {
    let k = name_of(&kind);
    let mut panels = Vec::new();
    let mut drawn = Vec::new();
    for (side, name) in sources(ctx, kind) {
        let m: Vec<Metric> = ctx.series.iter().map(|s| s.metric(|r| reading(r, &side, &name, kind)?.mean_w)).collect();
        for (i, s) in ctx.series.iter().enumerate() {
            let rs: Vec<&PowerSummary> = s.runs.iter().filter_map(|r| reading(&r.r, &side, &name, kind)).collect();
            if rs.is_empty() {
                continue;
            }
            let present: u32 = rs.iter().map(|p| p.present).sum();
            let all: u32 = present + rs.iter().map(|p| p.missing).sum::<u32>();
            let from = origin(s.first(), &side, &name).map_or(String::new(), |o| o.source.clone());
            t.rows.push(vec![
                ctx.labels[i].clone(),
                s.runs.len().to_string(),
                host_name(s, &side),
                format!("{name}: {from}"),
                k.clone(),
                cell(&m[i], 1.0, 1),
                cell(&s.metric(|r| reading(r, &side, &name, kind)?.idle_w), 1.0, 1),
                format!("{present} of {all}"),
                errors(s, &side, &name),
            ]);
        }
        let local = ctx.series.iter().all(|s| s.runs.iter().all(|r| r.r.sender.is_none()));
        let host = match side.as_str() {
            "receiver" if local => "host",
            "receiver" => "receiver's host",
            _ => "sender's host",
        };
        panels.extend(titled(ctx, &format!("{host} · {name} ({k})"), &m, 1.0, &mut drawn));
    }
    if panels.is_empty() {
        return None;
    }
    Some(Item::Figure(Box::new(Figure {
        id: format!("power-{k}"),
        title: format!("Power ({k}: {})", what(kind)),
        caption: format!(
            "Mean watts over the measured window of each {k} power source ({}), a panel per host and source; \
             intervals without a reading are left out of the mean, never counted as 0 W. In local runs the \
             receiver's host runs the sender too. {WHISKERS}",
            what(kind)
        ),
        plot: Plot::Bars(of_panels(ctx, &format!("W ({k})"), panels, drawn)),
        table: None,
    })))
}

/// One figure per power kind any run has readings of, the table under the last.
pub fn power(ctx: &Ctx) -> Vec<Item> {
    let mut t = Table::new(&[
        "series",
        "runs",
        "host",
        "source",
        "kind",
        "mean W",
        "idle W",
        "intervals read",
        "why readings are missing",
    ]);
    let mut items: Vec<Item> = KINDS.iter().filter_map(|k| power_figure(ctx, *k, &mut t)).collect();
    if items.is_empty() {
        let note = if t.rows.is_empty() {
            "No run of these results records a power source (run with --power-cmd, --power, --power-log, or add a \
             meter's log with zcbench attach-power), so no power figure is drawn."
                .to_string()
        } else {
            "The power sources of these runs gave no reading in the measured window (see the table), so no power \
             figure is drawn: a missing reading is never drawn as 0 W."
                .to_string()
        };
        items.push(Item::Absent { id: "power".into(), title: "Power".into(), note });
    }
    if !t.rows.is_empty() {
        items.push(Item::Table { title: "Power per series, host and source".into(), table: t });
    }
    items
}

type Party = fn(&RunResult) -> Option<&RoiFigures>;

const PARTIES: [(&str, Party); 3] = [
    ("receiver", |r| r.summary.roi.as_ref().map(|x| &x.receiver)),
    ("sender", |r| r.summary.roi.as_ref()?.sender.as_ref()),
    ("receiver + sender", |r| r.summary.roi.as_ref().map(|x| &x.total)),
];

/// `x` as an exponent: "²" for 2, nothing for 1, "^2.5" otherwise.
pub fn sup(x: f64) -> String {
    const DIGITS: [&str; 10] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"];
    if x == 1.0 {
        String::new()
    } else if x.fract() == 0.0 && (0.0..10.0).contains(&x) {
        DIGITS[x as usize].to_string()
    } else {
        format!("^{x}")
    }
}

/// The (n, m) exponents the runs' ROI figures were computed with, distinct.
pub fn exponents(ctx: &Ctx) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for roi in ctx.series.iter().flat_map(|s| s.runs.iter()).filter_map(|r| r.r.summary.roi.as_ref()) {
        if !out.contains(&(roi.n, roi.m)) {
            out.push((roi.n, roi.m));
        }
    }
    out
}

type RoiValue = fn(&RoiFigures) -> Option<f64>;

/// Panels of one ROI figure: a panel per party and exponent pair (and power kind
/// when `kind` is given); a run whose figures are of another pair or kind is
/// not in the bar.
fn roi_panels(ctx: &Ctx, value: RoiValue, kind: Option<PowerKind>, what: &str, drawn: &mut Vec<usize>) -> Vec<Panel> {
    let exps = exponents(ctx);
    let mut panels = Vec::new();
    for (party, get) in PARTIES {
        for &(n, m) in &exps {
            let of = |r: &RunResult| {
                r.summary.roi.as_ref().filter(|x| (x.n, x.m) == (n, m))?;
                get(r).filter(|f| kind.is_none() || f.power_kind == kind).and_then(value)
            };
            let v: Vec<Metric> = ctx.series.iter().map(|s| s.metric(of)).collect();
            let mut title = party.to_string();
            if let Some(k) = kind {
                title += &format!(" · {} {what}", name_of(&k));
            }
            if exps.len() > 1 {
                title += &format!(" · n = {n}, m = {m}");
            }
            panels.extend(titled(ctx, &title, &v, 1.0, drawn));
        }
    }
    panels
}

fn roi_table(ctx: &Ctx, n: &str, m: &str) -> Table {
    let mut t = Table::new(&[
        "series",
        "runs",
        "party",
        "T Gbit/s",
        "C cores",
        "P W",
        "P idle W",
        "power kind",
        &format!("T{n}/C"),
        &format!("T{n}/P{m}"),
        &format!("T{n}/(P − P idle){m}"),
    ]);
    for (i, s) in ctx.series.iter().enumerate() {
        for (party, get) in PARTIES {
            if s.runs.iter().all(|r| get(&r.r).is_none()) {
                continue;
            }
            let f = |v: RoiValue, digits| cell(&s.metric(|r| get(r).and_then(v)), 1.0, digits);
            let mut kinds: Vec<String> =
                s.runs.iter().filter_map(|r| get(&r.r)?.power_kind.map(|k| name_of(&k))).collect();
            kinds.dedup();
            t.rows.push(vec![
                ctx.labels[i].clone(),
                s.runs.len().to_string(),
                party.into(),
                f(|x| Some(x.gbps), 2),
                f(|x| Some(x.cores), 2),
                f(|x| x.watts, 1),
                f(|x| x.idle_watts, 1),
                kinds.join(", "),
                f(|x| x.roi_cpu, 1),
                f(|x| x.roi_power, 3),
                f(|x| x.roi_power_above_idle, 3),
            ]);
        }
    }
    t
}

/// T^n/C, T^n/P^m and T^n/(P - P_idle)^m per party.
pub fn roi(ctx: &Ctx) -> Vec<Item> {
    let exps = exponents(ctx);
    let Some(&(n0, m0)) = exps.first() else {
        return vec![Item::Absent {
            id: "roi".into(),
            title: "ROI: T²/C and T²/P".into(),
            note: "No ROI figures in these result files (zcbench records them from result schema 3 on). Throughput \
                   per receiver core (above) is T/C."
                .into(),
        }];
    };
    let (n, m) = if exps.len() == 1 { (sup(n0), sup(m0)) } else { ("ⁿ".to_string(), "ᵐ".to_string()) };
    let differ = if exps.len() > 1 {
        " The series were computed with different exponents (see the warning): each pair is its own panel."
    } else {
        ""
    };
    let mut items = Vec::new();
    let mut drawn = Vec::new();
    let cpu = roi_panels(ctx, |f| f.roi_cpu, None, "", &mut drawn);
    items.push(Item::Figure(Box::new(Figure {
        id: "roi-cpu".into(),
        title: format!("ROI per core: T{n}/C"),
        caption: format!(
            "Throughput T (Gbit/s) to the power n = {} over the busy cores C: the receiver's app and net cores, \
             the sender's core, and all of them once each. Higher is better. {WHISKERS}{differ}",
            exps.iter().map(|e| e.0.to_string()).collect::<Vec<_>>().join(" or ")
        ),
        plot: Plot::Bars(of_panels(ctx, &format!("T{n}/C  ((Gbit/s){n} per core)"), cpu, drawn)),
        table: None,
    })));
    let mut drawn = Vec::new();
    let mut panels = Vec::new();
    for k in KINDS {
        panels.extend(roi_panels(ctx, |f| f.roi_power, Some(k), "P", &mut drawn));
        panels.extend(roi_panels(ctx, |f| f.roi_power_above_idle, Some(k), "P above idle", &mut drawn));
    }
    if panels.is_empty() {
        items.push(Item::Absent {
            id: "roi-power".into(),
            title: format!("ROI per watt: T{n}/P{m}"),
            note: "No run of these results has a power reading, so T^n/P^m is not drawn (run with --power-cmd, \
                   --power or --power-log)."
                .into(),
        });
    } else {
        items.push(Item::Figure(Box::new(Figure {
            id: "roi-power".into(),
            title: format!("ROI per watt: T{n}/P{m}"),
            caption: format!(
                "T{n} over the mean power P{m} of the host(s), a panel per party and power kind (a package or DRAM \
                 figure is not wall power); \"above idle\": over P − P idle, where the idle power is known. In local \
                 runs one host's power is not split between the ends: only receiver + sender has it. \
                 {WHISKERS}{differ}"
            ),
            plot: Plot::Bars(of_panels(ctx, &format!("T{n}/P{m}  ((Gbit/s){n} per W{m})"), panels, drawn)),
            table: None,
        })));
    }
    items.push(Item::Table { title: "ROI per series and party".into(), table: roi_table(ctx, &n, &m) });
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::BarChart;
    use crate::report::load::Run;
    use crate::report::series::group;
    use crate::report::test_data;
    use std::path::PathBuf;

    fn bars(i: &Item) -> (&str, &BarChart) {
        let Item::Figure(f) = i else { panic!("not a figure") };
        let Plot::Bars(b) = &f.plot else { panic!("not bars") };
        (f.id.as_str(), b)
    }

    /// Panel titles and their first bar's value.
    fn values(b: &BarChart) -> Vec<(String, f64)> {
        b.panels.iter().map(|p| (p.title.clone(), p.categories[0].bars[0].value)).collect()
    }

    /// The real run (a wall power command on a local run): its mean watts, its
    /// idle figure and its ROI, as the file has them; a package source in
    /// another series is a figure of its own.
    #[test]
    fn power_and_roi_are_the_files_numbers() {
        let r = test_data("result-v3-netns-power.json");
        let mut pkg = r.clone();
        pkg.receiver.layout.cpus = 2;
        pkg.summary.power[0].kind = PowerKind::Package;
        pkg.summary.power[0].mean_w = Some(30.0);
        pkg.summary.roi.as_mut().unwrap().total.power_kind = Some(PowerKind::Package);
        let p = r.summary.power[0].clone();
        let want_roi = r.summary.roi.clone().unwrap();
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let runs = vec![Run { path: PathBuf::from("a"), r }, Run { path: PathBuf::from("b"), r: pkg }];
        let series = group(runs, keys);
        let ctx = Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE);
        let items = power(&ctx);
        assert_eq!(items.len(), 3, "wall, package, the table");
        let (id, wall) = bars(&items[0]);
        assert_eq!(id, "power-wall");
        assert_eq!(wall.y_label, "W (wall)");
        assert_eq!(values(wall), [("host · cmd (wall)".to_string(), p.mean_w.unwrap())]);
        assert_eq!(wall.panels[0].categories.len(), 1, "the package series is not on the wall figure");
        let (id, package) = bars(&items[1]);
        assert_eq!((id, values(package)[0].1), ("power-package", 30.0));
        let Item::Table { table: t, .. } = &items[2] else { panic!("no table") };
        assert_eq!(
            t.rows[0][2..8],
            [
                "host (receiver and sender)",
                &format!("cmd: {}", ctx.series[0].first().receiver.power_sources[0].source),
                "wall",
                &format!("{:.1}", p.mean_w.unwrap()),
                "50.0",
                "2 of 2"
            ]
        );

        let items = roi(&ctx);
        let (id, cpu) = bars(&items[0]);
        assert_eq!((id, cpu.y_label.as_str()), ("roi-cpu", "T²/C  ((Gbit/s)² per core)"));
        let want = [
            ("receiver", want_roi.receiver.roi_cpu.unwrap()),
            ("sender", want_roi.sender.as_ref().unwrap().roi_cpu.unwrap()),
            ("receiver + sender", want_roi.total.roi_cpu.unwrap()),
        ];
        assert_eq!(values(cpu), want.map(|(t, v)| (t.to_string(), v)));
        let (id, pw) = bars(&items[1]);
        assert_eq!(id, "roi-power");
        // A local run: only the total has power; wall and package are apart.
        let titles: Vec<String> = pw.panels.iter().map(|p| p.title.clone()).collect();
        assert_eq!(
            titles,
            [
                "receiver + sender · wall P",
                "receiver + sender · wall P above idle",
                "receiver + sender · package P",
                "receiver + sender · package P above idle"
            ]
        );
        assert_eq!(values(pw)[0].1, want_roi.total.roi_power.unwrap());
        assert_eq!(values(pw)[1].1, want_roi.total.roi_power_above_idle.unwrap());
    }

    /// Results without power or ROI (schema 2): notes, no figure.
    #[test]
    fn absent_power_and_roi_are_notes() {
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let series = group(vec![Run { path: PathBuf::from("a"), r: test_data("result-v2-netns.json") }], keys);
        let ctx = Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE);
        assert!(matches!(&power(&ctx)[..], [Item::Absent { id, .. }] if id == "power"));
        assert!(matches!(&roi(&ctx)[..], [Item::Absent { id, .. }] if id == "roi"));
        // ROI without any power reading: T^n/C drawn, T^n/P a note.
        let mut r = test_data("result-v3-netns-power.json");
        r.summary.power.clear();
        r.summary.roi.as_mut().unwrap().total.roi_power = None;
        r.summary.roi.as_mut().unwrap().total.roi_power_above_idle = None;
        r.summary.roi.as_mut().unwrap().n = 3.0;
        let series = group(vec![Run { path: PathBuf::from("a"), r }], keys);
        let ctx = Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE);
        let items = roi(&ctx);
        assert_eq!(bars(&items[0]).1.y_label, "T³/C  ((Gbit/s)³ per core)");
        assert!(matches!(&items[1], Item::Absent { id, .. } if id == "roi-power"));
        assert!(matches!(&power(&ctx)[..], [Item::Absent { .. }]));
        assert_eq!((sup(1.0), sup(2.0), sup(2.5)), (String::new(), "²".to_string(), "^2.5".to_string()));
    }
}

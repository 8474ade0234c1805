//! System call time costs (`--syscall-times`): per series a `perf trace -s`
//! style table for each data thread, and the time per GiB moved of the kinds
//! that took the most time.

use super::bars::{of_panels, titled};
use super::{Ctx, cell};
use crate::report::chart::Plot;
use crate::report::doc::{Figure, Item, Table};
use crate::report::series::{Metric, Series};
use crate::results::schema::{RunResult, SyscallStat, SyscallTimes};

const GIB: f64 = (1u64 << 30) as f64;

/// A data thread's syscall times and the bytes it moved (whole flow, as both
/// are counted).
type Thread = fn(&RunResult) -> Option<(&SyscallTimes, u64)>;

const THREADS: [(&str, Thread); 2] = [
    ("receive", |r| r.receiver.rx.as_ref().and_then(|x| Some((x.syscalls.as_ref()?, x.bytes)))),
    ("send", |r| {
        r.sender.as_ref().unwrap_or(&r.receiver).tx.as_ref().and_then(|x| Some((x.syscalls.as_ref()?, x.bytes)))
    }),
];

/// Each series' kinds with the most time, this many per thread, are drawn.
const TOP: usize = 2;

fn stat<'a>(r: &'a RunResult, thread: Thread, kind: &str) -> Option<(&'a SyscallStat, u64)> {
    let (t, bytes) = thread(r)?;
    t.calls.iter().find(|c| c.syscall == kind).map(|c| (c, bytes))
}

/// Kinds a thread called in any of `runs`, most total time first.
fn kinds<'a>(runs: impl Iterator<Item = &'a RunResult>, thread: Thread) -> Vec<String> {
    let mut total: Vec<(String, u64)> = Vec::new();
    for c in runs.filter_map(thread).flat_map(|(t, _)| t.calls.iter()) {
        match total.iter_mut().find(|(k, _)| *k == c.syscall) {
            Some((_, n)) => *n += c.total_ns,
            None => total.push((c.syscall.clone(), c.total_ns)),
        }
    }
    total.sort_by_key(|k| std::cmp::Reverse(k.1));
    total.into_iter().map(|(k, _)| k).collect()
}

fn per_gib(v: f64, bytes: u64) -> Option<f64> {
    (bytes > 0).then(|| v * GIB / bytes as f64)
}

fn table(ctx: &Ctx, i: usize) -> Option<Item> {
    let s = &ctx.series[i];
    let mut t = Table::new(&[
        "thread",
        "syscall",
        "calls",
        "errors",
        "total ms",
        "min µs",
        "mean µs",
        "max µs",
        "stddev % of mean",
        "calls / GiB",
        "ms / GiB",
    ]);
    let mut clocks: Vec<String> = Vec::new();
    let mut pair: Vec<f64> = Vec::new();
    for (name, thread) in THREADS {
        for k in kinds(s.runs.iter().map(|r| &r.r), thread) {
            let m =
                |f: fn(&SyscallStat, u64) -> Option<f64>| s.metric(|r| stat(r, thread, &k).and_then(|(c, b)| f(c, b)));
            let lowest = m(|c, _| Some(c.min_ns as f64)).spread.map_or("—".into(), |x| format!("{:.1}", x.min / 1e3));
            let highest =
                m(|c, _| Some(c.max_ns as f64)).spread.map_or("—".into(), |x| format!("{:.1}", x.max / 1e3));
            t.rows.push(vec![
                name.into(),
                k.clone(),
                cell(&m(|c, _| Some(c.calls as f64)), 1.0, 0),
                cell(&m(|c, _| Some(c.errors as f64)), 1.0, 0),
                cell(&m(|c, _| Some(c.total_ns as f64)), 1e-6, 1),
                lowest,
                cell(&m(|c, _| Some(c.mean_ns)), 1e-3, 1),
                highest,
                cell(&m(|c, _| (c.mean_ns > 0.0).then(|| c.stddev_ns / c.mean_ns)), 100.0, 0),
                cell(&m(|c, b| per_gib(c.calls as f64, b)), 1.0, 0),
                cell(&m(|c, b| per_gib(c.total_ns as f64 / 1e6, b)), 1.0, 1),
            ]);
        }
        for (st, _) in s.runs.iter().filter_map(|r| thread(&r.r)) {
            if !clocks.contains(&st.clock) {
                clocks.push(st.clock.clone());
            }
            pair.push(st.clock_pair_ns);
        }
    }
    if t.rows.is_empty() {
        return None;
    }
    let lo = pair.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pair.iter().copied().fold(0.0, f64::max);
    let cost = if hi - lo < 0.5 { format!("{hi:.0}") } else { format!("{lo:.0}–{hi:.0}") };
    Some(Item::Table {
        title: format!(
            "System call times, {} ({}; min and max over all runs, the rest trimmed mean (lowest–highest run); \
             clock {}, whose reads cost {cost} ns per call)",
            ctx.labels[i],
            super::runs(s.runs.len()),
            clocks.join(", ")
        ),
        table: t,
    })
}

fn figure(ctx: &Ctx) -> Option<Item> {
    let mut panels = Vec::new();
    let mut drawn = Vec::new();
    for (name, thread) in THREADS {
        let all = ctx.series.iter().flat_map(|s| s.runs.iter()).map(|r| &r.r);
        let top: Vec<String> =
            ctx.series.iter().flat_map(|s| kinds(s.runs.iter().map(|r| &r.r), thread).into_iter().take(TOP)).collect();
        for k in kinds(all, thread).into_iter().filter(|k| top.contains(k)) {
            let v: Vec<Metric> = ctx
                .series
                .iter()
                .map(|s: &Series| s.metric(|r| stat(r, thread, &k).and_then(|(c, b)| per_gib(c.total_ns as f64, b))))
                .collect();
            panels.extend(titled(
                ctx,
                &format!("{} · {k}", if name == "receive" { "rx" } else { "tx" }),
                &v,
                1e-6,
                &mut drawn,
            ));
        }
    }
    if panels.is_empty() {
        return None;
    }
    Some(Item::Figure(Box::new(Figure {
        id: "syscall-time".into(),
        title: "System call time per GiB moved".into(),
        caption: format!(
            "Milliseconds spent inside each kind of call per GiB the thread moved (rx: the receiving thread, tx: the \
             sending one), for each series' {TOP} kinds per thread that took the most time. Wall time from entry to return: a poll() or io_uring_enter() that \
             waits for data counts its wait. Whole flow, warm-up included (as the calls and bytes are counted). \
             Bars: trimmed mean of the series; whiskers: its lowest and highest run."
        ),
        plot: Plot::Bars(of_panels(ctx, "ms per GiB", panels, drawn)),
        table: None,
    })))
}

pub fn costs(ctx: &Ctx) -> Vec<Item> {
    let (tables, without) = super::per_series(ctx, table);
    let mut items: Vec<Item> = figure(ctx).into_iter().chain(tables).collect();
    if items.is_empty() {
        return vec![Item::Absent {
            id: "syscall-costs".into(),
            title: "System call time costs".into(),
            note: "No time per system call in these results: the data threads time their calls only with \
                   --syscall-times (result schema 3 on). The counts above are all they record."
                .into(),
        }];
    }
    if !without.is_empty() {
        items.push(Item::Note(format!("Not run with --syscall-times: {}.", without.join(", "))));
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

    /// The real run's own numbers, one run: the table is its `calls[]`, the bars
    /// its total time over its bytes; a run without timing gives the note.
    #[test]
    fn table_and_bars_are_the_files_numbers() {
        let r = test_data("result-v3-netns-power.json");
        let rx = r.receiver.rx.clone().unwrap();
        let tx = r.receiver.tx.clone().unwrap();
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let series = group(vec![Run { path: PathBuf::from("a"), r }], keys);
        let ctx = Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE);
        let items = costs(&ctx);
        let [Item::Figure(f), Item::Table { table: t, .. }] = &items[..] else { panic!("not a figure and a table") };
        let rxs = &rx.syscalls.as_ref().unwrap().calls;
        let txs = &tx.syscalls.as_ref().unwrap().calls;
        assert_eq!(t.rows.len(), rxs.len() + txs.len());
        let most = rxs.iter().max_by_key(|c| c.total_ns).unwrap();
        let row = &t.rows[0];
        assert_eq!((row[0].as_str(), row[1].as_str()), ("receive", most.syscall.as_str()));
        assert_eq!(row[2], most.calls.to_string());
        assert_eq!(row[4], format!("{:.1}", most.total_ns as f64 / 1e6));
        assert_eq!(row[5], format!("{:.1}", most.min_ns as f64 / 1e3));
        assert_eq!(row[7], format!("{:.1}", most.max_ns as f64 / 1e3));
        let Plot::Bars(b) = &f.plot else { panic!("not bars") };
        assert_eq!(b.panels.len(), TOP.min(rxs.len()) + TOP.min(txs.len()), "one series: its top kinds");
        assert_eq!(b.panels[0].title, format!("rx · {}", most.syscall));
        let want = most.total_ns as f64 / 1e6 * GIB / rx.bytes as f64;
        assert!((b.panels[0].categories[0].bars[0].value - want).abs() < 1e-9 * want);

        let old = group(vec![Run { path: PathBuf::from("b"), r: test_data("result-v2-netns.json") }], keys);
        let ctx = Ctx::new(&old, keys, crate::domain::DEFAULT_BASELINE);
        assert!(matches!(&costs(&ctx)[..], [Item::Absent { .. }]));
    }
}

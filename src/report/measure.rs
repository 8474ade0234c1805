//! Terminal lines for the measurements of schema 3: power, ROI, syscall
//! costs, and a series' statistics.

use crate::results::schema::series::SeriesResult;
use crate::results::schema::{RunResult, SyscallTimes};

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.prec$}"))
}

/// Power per source, ROI, and the syscall tables of the data threads.
pub fn lines(r: &RunResult) -> String {
    let s = &r.summary;
    let mut o = String::new();
    for p in &s.power {
        o += &format!(
            "power {:<8} {:<16} {:>9} W mean ({}; {} intervals read, {} missing{})\n",
            p.side,
            p.name,
            opt(p.mean_w, 1),
            crate::domain::name_of(&p.kind),
            p.present,
            p.missing,
            p.idle_w.map_or(String::new(), |i| format!("; idle {i:.1} W"))
        );
    }
    if let Some(roi) = &s.roi {
        o += &format!("ROI (n={}, m={})   T^n/C      T^n/P^m   above idle\n", roi.n, roi.m);
        let mut row = |who: &str, f: &crate::results::schema::RoiFigures| {
            o += &format!(
                "  {who:<9} {:>12} {:>10} {:>12}\n",
                opt(f.roi_cpu, 2),
                opt(f.roi_power, 3),
                opt(f.roi_power_above_idle, 3)
            );
        };
        row("receiver", &roi.receiver);
        if let Some(sf) = &roi.sender {
            row("sender", sf);
        }
        row("total", &roi.total);
    }
    let rx = r.receiver.rx.as_ref().and_then(|x| x.syscalls.as_ref());
    let tx = r.sender.as_ref().unwrap_or(&r.receiver).tx.as_ref().and_then(|x| x.syscalls.as_ref());
    for (who, t) in [("receiver", rx), ("sender", tx)] {
        if let Some(t) = t {
            o += &syscall_table(who, t);
        }
    }
    o += &format!("measuring overhead {:.3}% of one core\n", s.sampler_overhead_pct_of_core);
    o
}

/// A `perf trace -s`-like table.
pub fn syscall_table(who: &str, t: &SyscallTimes) -> String {
    let mut o = format!(
        "{who} syscalls ({}; timing cost {:.0} ns a call, {:.3} s in all)\n   syscall            calls   errors   total ms    min us    avg us    max us\n",
        t.clock, t.clock_pair_ns, t.overhead_s
    );
    for c in &t.calls {
        o += &format!(
            "   {:<16} {:>8} {:>8} {:>10.1} {:>9.1} {:>9.1} {:>9.1}\n",
            c.syscall,
            c.calls,
            c.errors,
            c.total_ns as f64 / 1e6,
            c.min_ns as f64 / 1e3,
            c.mean_ns / 1e3,
            c.max_ns as f64 / 1e3
        );
    }
    o
}

/// The statistics of a series, figure by figure.
pub fn series_table(s: &SeriesResult) -> String {
    let mut o = format!("series of {} runs: trimmed mean (first and last dropped when 3 or more)\n", s.runs.len());
    o += "   figure                         mean         min         max      stddev   kept/n\n";
    for (name, sp) in &s.figures {
        o += &format!(
            "   {name:<28} {:>10.3} {:>11.3} {:>11.3} {:>11.3}   {}/{}{}\n",
            sp.trimmed_mean,
            sp.min,
            sp.max,
            sp.stddev,
            sp.kept,
            sp.n,
            if sp.missing > 0 { format!(" ({} missing)", sp.missing) } else { String::new() }
        );
    }
    o
}

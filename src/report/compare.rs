//! The compact comparison: one line per series (printed on the terminal, and
//! the first table of the page).

use super::doc::Table;
use super::figures::{Ctx, baseline_of, per_core};
use crate::domain::name_of;

fn mean_range(s: Option<crate::results::stats::Spread>, digits: usize) -> String {
    match s {
        None => "—".into(),
        Some(s) if s.n == 1 => format!("{:.*}", digits, s.trimmed_mean),
        Some(s) => format!("{:.*} ({:.*}–{:.*})", digits, s.trimmed_mean, digits, s.min, digits, s.max),
    }
}

pub fn summary(ctx: &Ctx) -> Table {
    let base = name_of(&ctx.baseline);
    let ratio_head = format!("Gbit/s × {base}");
    let exps = super::figures::power::exponents(ctx);
    let n = match exps[..] {
        [(n, _)] => super::figures::power::sup(n),
        _ => "ⁿ".into(),
    };
    let roi_head = format!("receiver T{n}/C");
    let mut t = Table::new(&[
        "series",
        "runs",
        "Gbit/s (lowest–highest)",
        "receiver cores",
        "Gbit/s per core",
        &ratio_head,
        &roi_head,
    ]);
    for (i, s) in ctx.series.iter().enumerate() {
        let gbps = s.metric(|r| Some(r.summary.gbps)).spread;
        let cores = s.metric(|r| Some(r.summary.receiver_cores.busy)).spread;
        let pc = s.metric(per_core).spread;
        let ratio = baseline_of(ctx, s)
            .and_then(|b| Some((gbps?.trimmed_mean, b.metric(|r| Some(r.summary.gbps)).spread?.trimmed_mean)))
            .filter(|(_, b)| *b > 0.0)
            .map_or_else(|| "—".to_string(), |(a, b)| format!("{:.3}", a / b));
        t.rows.push(vec![
            ctx.labels[i].clone(),
            s.runs.len().to_string(),
            mean_range(gbps, 2),
            mean_range(cores, 2),
            mean_range(pc, 2),
            ratio,
            mean_range(s.metric(|r| r.summary.roi.as_ref()?.receiver.roi_cpu).spread, 1),
        ]);
    }
    t
}

/// The summary as aligned text columns.
pub fn table(ctx: &Ctx) -> String {
    let t = summary(ctx);
    let mut widths: Vec<usize> = t.headers.iter().map(|h| h.chars().count()).collect();
    for r in &t.rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (k, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - c.chars().count();
            if k == 0 {
                s += &format!("{c}{}  ", " ".repeat(pad));
            } else {
                s += &format!("{}{c}  ", " ".repeat(pad));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut o = line(&t.headers);
    for r in &t.rows {
        o += &line(r);
    }
    o
}

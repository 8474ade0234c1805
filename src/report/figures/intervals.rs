//! Per-interval throughput as a distribution: every measured sampling interval
//! of every run of a series pooled, drawn as an empirical CDF (a line per
//! series), with percentiles in the table. Steady flows are steep lines; a
//! flow that stalls now and then has a foot at the left.

use super::{Ctx, Parts, distinct_colours};
use crate::report::chart::{Line, LineChart, LinePanel, Plot};
use crate::report::doc::{Item, Table};
use crate::report::series::Series;

/// Lines per figure: more would not be told apart.
const SERIES_PER_FIGURE: usize = 12;

/// The measured intervals' Gbit/s of every run of a series, sorted.
fn intervals(s: &Series) -> Vec<f64> {
    let mut v: Vec<f64> = s
        .runs
        .iter()
        .flat_map(|r| r.r.receiver.samples.iter())
        .filter(|x| !x.warmup && x.rx_gbps.is_finite())
        .map(|x| x.rx_gbps)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The value below which a share `q` of the sorted values lie (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let k = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[k - 1]
}

/// The empirical CDF as steps: (x where a step ends, its width, height).
fn steps(sorted: &[f64]) -> Vec<(f64, f64, f64)> {
    let n = sorted.len() as f64;
    (0..=sorted.len())
        .map(|k| {
            let x = sorted[k.min(sorted.len() - 1)];
            let from = if k == 0 { x } else { sorted[k - 1] };
            (x, x - from, k as f64 / n)
        })
        .collect()
}

pub fn cdf(ctx: &Ctx) -> Vec<Item> {
    let colours = distinct_colours(ctx);
    let mut t = Table::new(&["series", "runs", "intervals", "lowest", "p10", "median", "p90", "highest", "p90 / p10"]);
    let mut lines = Vec::new();
    for (i, s) in ctx.series.iter().enumerate() {
        let v = intervals(s);
        if v.is_empty() {
            continue;
        }
        let q = |x| format!("{:.2}", quantile(&v, x));
        let (p10, p90) = (quantile(&v, 0.1), quantile(&v, 0.9));
        t.rows.push(vec![
            ctx.labels[i].clone(),
            s.runs.len().to_string(),
            v.len().to_string(),
            format!("{:.2}", v[0]),
            q(0.1),
            q(0.5),
            q(0.9),
            format!("{:.2}", v[v.len() - 1]),
            if p10 > 0.0 { format!("{:.2}", p90 / p10) } else { "—".into() },
        ]);
        lines.push((ctx.labels[i].clone(), Line { colour: colours[i], intervals: steps(&v) }));
    }
    let parts = Parts {
        id: "interval-cdf",
        title: "Per-interval throughput, distribution",
        caption: "Empirical CDF of the Gbit/s of each measured sampling interval (warm-up left out), every run of a \
                  series pooled: at a given Gbit/s, the share of intervals at or below it. A steep line is a steady \
                  flow; a foot at the left is intervals in which the flow nearly stopped. The table has the \
                  percentiles (nearest rank).",
        absent: "No run has a measured sampling interval (every sample is warm-up).",
        per: SERIES_PER_FIGURE,
    };
    parts.figures(lines, t, |chunk| {
        let legend = chunk.iter().map(|(l, line)| (l.clone(), line.colour)).collect();
        let lines = chunk.into_iter().map(|(_, l)| l).collect();
        Plot::Lines(LineChart {
            x_label: "Gbit/s in one sampling interval".into(),
            panels: vec![LinePanel { y_label: "share of intervals at or below".into(), lines }],
            warmup_until: None,
            legend,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_steps_and_percentiles() {
        let v = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(steps(&v), [(1.0, 0.0, 0.0), (2.0, 1.0, 0.25), (4.0, 2.0, 0.5), (8.0, 4.0, 0.75), (8.0, 0.0, 1.0)]);
        assert_eq!((quantile(&v, 0.1), quantile(&v, 0.5), quantile(&v, 0.9)), (1.0, 2.0, 8.0));
        assert_eq!(quantile(&[3.0], 0.5), 3.0);
    }
}

//! devmem TCP receive: how many frags each recvmsg brought (the histogram the
//! data path keeps), and what returning the tokens cost.

use super::{Ctx, cell};
use crate::domain::RxMode;
use crate::report::chart::{Bar, BarChart, Category, Panel, Plot};
use crate::report::doc::{Figure, Item, Table};
use crate::results::schema::{DevmemRx, RunResult};

fn devmem(r: &RunResult) -> Option<&DevmemRx> {
    r.receiver.rx.as_ref()?.devmem.as_ref()
}

/// Bin k of the histogram: 0 frags, then 2^(k-1) ..= 2^k - 1.
fn bin_name(k: usize) -> String {
    match k {
        0 => "0".into(),
        1 => "1".into(),
        k => format!("{}–{}", 1u64 << (k - 1), (1u64 << k) - 1),
    }
}

/// Share of a run's recvmsg calls in bin `k`.
fn share(r: &RunResult, k: usize) -> Option<f64> {
    let h = &devmem(r)?.frags_per_recvmsg_log2;
    let all: u64 = h.iter().sum();
    (all > 0).then(|| h.get(k).copied().unwrap_or(0) as f64 / all as f64)
}

pub fn frags(ctx: &Ctx) -> Item {
    let have: Vec<usize> =
        (0..ctx.series.len()).filter(|&i| ctx.series[i].runs.iter().any(|r| devmem(&r.r).is_some())).collect();
    if have.is_empty() {
        let ran = ctx.series.iter().any(|s| s.runs.iter().any(|r| r.r.flow.mode == RxMode::Devmem));
        let note = if ran {
            "The devmem runs' result files hold no frags-per-recvmsg histogram (written before zcbench recorded it)."
        } else {
            "No devmem series in these results, so no frags-per-recvmsg histogram."
        };
        return Item::Absent {
            id: "devmem-frags".into(),
            title: "devmem: frags per recvmsg".into(),
            note: note.into(),
        };
    }
    // Up to the last bin any run filled (the histogram has room for 2^17 frags).
    let bins = have
        .iter()
        .flat_map(|&i| ctx.series[i].runs.iter())
        .filter_map(|r| devmem(&r.r).and_then(|d| d.frags_per_recvmsg_log2.iter().rposition(|n| *n > 0)))
        .max()
        .map_or(0, |last| last + 1);
    let mut panels = Vec::new();
    let mut t = Table::new(&[
        "series",
        "runs",
        "frags per recvmsg",
        "token batch",
        "tokens per SO_DEVMEM_DONTNEED",
        "DONTNEED calls / GiB",
        "payload in the dma-buf %",
    ]);
    for &i in &have {
        let s = &ctx.series[i];
        let categories = (0..bins)
            .map(|k| {
                let m = s.metric(|r| share(r, k));
                let bars = m.spread.map(|sp| Bar {
                    colour: ctx.colours[i],
                    value: sp.trimmed_mean * 100.0,
                    range: (sp.n > 1).then_some((sp.min * 100.0, sp.max * 100.0)),
                });
                Category { name: bin_name(k), bars: bars.into_iter().collect() }
            })
            .collect();
        panels.push(Panel { title: ctx.labels[i].clone(), categories });
        let bytes = |d: &DevmemRx| (d.dmabuf_bytes + d.linear_bytes + d.copied_bytes) as f64;
        let gib = |d: &DevmemRx| bytes(d) / (1u64 << 30) as f64;
        t.rows.push(vec![
            ctx.labels[i].clone(),
            s.runs.len().to_string(),
            cell(&s.metric(|r| devmem(r).map(|d| d.frags_per_recvmsg)), 1.0, 1),
            cell(&s.metric(|r| devmem(r).map(|d| f64::from(d.token_batch))), 1.0, 0),
            cell(&s.metric(|r| devmem(r).map(|d| d.tokens_per_call)), 1.0, 1),
            cell(&s.metric(|r| devmem(r).filter(|d| gib(d) > 0.0).map(|d| d.dontneed_calls as f64 / gib(d))), 1.0, 0),
            cell(
                &s.metric(|r| devmem(r).filter(|d| bytes(d) > 0.0).map(|d| d.dmabuf_bytes as f64 / bytes(d))),
                100.0,
                1,
            ),
        ]);
    }
    let chart = BarChart {
        y_label: "% of recvmsg calls".into(),
        x_label: "frags per recvmsg".into(),
        panels,
        legend: ctx.mode_legend(&have),
        reference: None,
    };
    Item::Figure(Box::new(Figure {
        id: "devmem-frags".into(),
        title: "devmem: frags per recvmsg".into(),
        caption: "How many SCM_DEVMEM_DMABUF frags each recvmsg brought, as a share of the calls the data path's \
                  log2 histogram counts (0 frags, 1, 2–3, 4–7, ...). Bars: trimmed mean of the runs' shares; \
                  whiskers: lowest and highest run. The table: what handing the tokens back cost."
            .into(),
        plot: Plot::Bars(chart),
        table: Some(t),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::Plot;
    use crate::report::load::Run;
    use crate::report::series::group;
    use std::path::{Path, PathBuf};

    /// A devmem run's histogram becomes one panel of shares per series; runs
    /// without the histogram (a baseline) are left out, and with no devmem
    /// series at all the figure is a note.
    #[test]
    fn histogram_shares_per_series() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/result-v2-netns.json");
        let base = crate::results::read(&path).unwrap();
        let mut dm = base.clone();
        dm.flow.mode = RxMode::Devmem;
        let rx = dm.receiver.rx.as_mut().unwrap();
        rx.devmem = Some(DevmemRx {
            frags_per_recvmsg_log2: vec![1, 0, 1, 2],
            dmabuf_bytes: 3 << 30,
            linear_bytes: 1 << 30,
            dontneed_calls: 8,
            token_batch: 512,
            ..Default::default()
        });
        let runs = vec![Run { path: PathBuf::from("b"), r: base.clone() }, Run { path: PathBuf::from("d"), r: dm }];
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let series = group(runs, keys);
        let ctx = Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE);
        let Item::Figure(f) = frags(&ctx) else { panic!("no devmem figure") };
        let Plot::Bars(b) = &f.plot else { panic!("not bars") };
        assert_eq!(b.panels.len(), 1, "the baseline series has no histogram");
        let names: Vec<&str> = b.panels[0].categories.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["0", "1", "2–3", "4–7"]);
        let values: Vec<f64> = b.panels[0].categories.iter().map(|c| c.bars[0].value).collect();
        assert_eq!(values, [25.0, 0.0, 25.0, 50.0]);
        let t = f.table.as_ref().unwrap();
        assert_eq!(t.rows[0][5], "2", "8 DONTNEED calls over 4 GiB");
        assert_eq!(t.rows[0][6], "75.0", "3 of 4 GiB stayed in the dma-buf");

        let only_base = group(vec![Run { path: PathBuf::from("b"), r: base }], keys);
        let ctx = Ctx::new(&only_base, keys, crate::domain::DEFAULT_BASELINE);
        assert!(matches!(frags(&ctx), Item::Absent { .. }));
    }

    /// Real devmem runs (the kernel testbed VM's netdevsim ports, token batch
    /// 512 and 1): one panel each, bins up to the last one any run filled,
    /// shares as the files' own histograms give them.
    #[test]
    fn real_devmem_runs() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let runs: Vec<Run> = ["result-v2-devmem-batch512.json", "result-v2-devmem-batch1.json"]
            .iter()
            .map(|f| Run { path: PathBuf::from(f), r: crate::results::read(&data.join(f)).unwrap() })
            .collect();
        let hists: Vec<Vec<u64>> = runs.iter().map(|r| devmem(&r.r).unwrap().frags_per_recvmsg_log2.clone()).collect();
        let keys = [crate::domain::GroupKey::Mode, crate::domain::GroupKey::TokenBatch];
        let series = group(runs, &keys);
        let ctx = Ctx::new(&series, &keys, crate::domain::DEFAULT_BASELINE);
        assert_eq!(ctx.labels, ["token batch 1", "token batch 512"]);
        let Item::Figure(f) = frags(&ctx) else { panic!("no devmem figure") };
        let Plot::Bars(b) = &f.plot else { panic!("not bars") };
        assert_eq!(b.panels.len(), 2);
        let last = hists.iter().map(|h| h.iter().rposition(|n| *n > 0).unwrap()).max().unwrap();
        for (p, h) in b.panels.iter().zip([&hists[1], &hists[0]]) {
            assert_eq!(p.categories.len(), last + 1);
            let all: u64 = h.iter().sum();
            for (k, c) in p.categories.iter().enumerate() {
                assert!((c.bars[0].value - 100.0 * h[k] as f64 / all as f64).abs() < 1e-9, "{} bin {k}", p.title);
            }
        }
    }
}

//! io_uring zero-copy receive: bytes per data CQE (the data path keeps the
//! count, the smallest and the largest, no histogram) and the share of the
//! payload the kernel copied instead (its copy-fallback counters).

use super::bars::{WHISKERS, of_panels, titled};
use super::{Ctx, cell};
use crate::domain::RxMode;
use crate::report::chart::Plot;
use crate::report::doc::{Figure, Item, Table};
use crate::report::series::Metric;
use crate::results::schema::{RunResult, ZcrxInfo};

fn zcrx(r: &RunResult) -> Option<&ZcrxInfo> {
    r.receiver.rx.as_ref()?.zcrx.as_ref()
}

fn bytes(r: &RunResult) -> u64 {
    r.receiver.rx.as_ref().map_or(0, |x| x.bytes)
}

/// Mean payload bytes per data CQE (the path's bytes over its data CQEs).
pub fn per_cqe(r: &RunResult) -> Option<f64> {
    let z = zcrx(r)?;
    (z.data_cqes > 0).then(|| bytes(r) as f64 / z.data_cqes as f64)
}

/// Share of the payload the kernel copied, where it counts its copies.
pub fn copy_share(r: &RunResult) -> Option<f64> {
    let copied = zcrx(r)?.copy_bytes?;
    let all = bytes(r);
    (all > 0).then(|| copied as f64 / all as f64)
}

fn distinct(ctx: &Ctx, i: usize, f: impl Fn(&ZcrxInfo) -> String) -> String {
    let mut v: Vec<String> = Vec::new();
    for z in ctx.series[i].runs.iter().filter_map(|r| zcrx(&r.r)) {
        let x = f(z);
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v.join("; ")
}

pub fn cqe_bytes(ctx: &Ctx) -> Vec<Item> {
    let have: Vec<usize> =
        (0..ctx.series.len()).filter(|&i| ctx.series[i].runs.iter().any(|r| zcrx(&r.r).is_some())).collect();
    if have.is_empty() {
        let ran = ctx.series.iter().any(|s| s.runs.iter().any(|r| r.r.flow.mode == RxMode::Zcrx));
        let note = if ran {
            "The zcrx runs' result files hold no rx.zcrx record, so no bytes per CQE."
        } else {
            "No zcrx series in these results, so no bytes per CQE and no copy-fallback share."
        };
        return vec![Item::Absent {
            id: "zcrx-cqe-bytes".into(),
            title: "zcrx: bytes per CQE".into(),
            note: note.into(),
        }];
    }
    let mut t = Table::new(&[
        "series",
        "runs",
        "registration",
        "area",
        "buffer bytes granted",
        "data CQEs / GiB",
        "bytes per CQE: smallest",
        "mean",
        "largest",
        "CQEs per io_uring_enter",
        "copied by the kernel %",
        "copies counted by",
    ]);
    for &i in &have {
        let s = &ctx.series[i];
        let gib = |r: &RunResult| bytes(r) as f64 / (1u64 << 30) as f64;
        let cqes_per_enter = s.metric(|r| {
            let rx = r.receiver.rx.as_ref()?;
            (rx.calls > 0).then(|| rx.uring.as_ref().map(|u| u.cqes as f64 / rx.calls as f64)).flatten()
        });
        let smallest = s.metric(|r| zcrx(r).filter(|z| z.data_cqes > 0).map(|z| z.bytes_per_cqe_min as f64));
        let largest = s.metric(|r| zcrx(r).filter(|z| z.data_cqes > 0).map(|z| z.bytes_per_cqe_max as f64));
        t.rows.push(vec![
            ctx.labels[i].clone(),
            s.runs.len().to_string(),
            distinct(ctx, i, |z| format!("{} {}", z.registration, z.dev.as_deref().unwrap_or("")).trim().to_string()),
            distinct(ctx, i, |z| z.area.clone()),
            distinct(ctx, i, |z| z.rx_buf_len_granted.map_or("page size".into(), |b| b.to_string())),
            cell(&s.metric(|r| zcrx(r).filter(|_| gib(r) > 0.0).map(|z| z.data_cqes as f64 / gib(r))), 1.0, 0),
            smallest.spread.map_or("—".into(), |x| format!("{:.0}", x.min)),
            cell(&s.metric(per_cqe), 1.0, 0),
            largest.spread.map_or("—".into(), |x| format!("{:.0}", x.max)),
            cell(&cqes_per_enter, 1.0, 2),
            cell(&s.metric(copy_share), 100.0, 1),
            distinct(ctx, i, |z| z.copy_source.clone()),
        ]);
    }
    let mut drawn = Vec::new();
    let mean: Vec<Metric> = ctx.series.iter().map(|s| s.metric(per_cqe)).collect();
    let mut panels = titled(ctx, "mean bytes per data CQE", &mean, 1.0 / 1024.0, &mut drawn);
    let mut items = Vec::new();
    if !panels.is_empty() {
        items.push(Item::Figure(Box::new(Figure {
            id: "zcrx-cqe-bytes".into(),
            title: "zcrx: bytes per CQE".into(),
            caption: format!(
                "Payload per data completion: the receive path's bytes over its data CQEs, in KiB (the path keeps \
                 the smallest and largest, in the table, but no histogram). {WHISKERS}"
            ),
            plot: Plot::Bars(of_panels(ctx, "KiB per data CQE", std::mem::take(&mut panels), drawn)),
            table: None,
        })));
    }
    let copy: Vec<Metric> = ctx.series.iter().map(|s| s.metric(copy_share)).collect();
    let mut drawn = Vec::new();
    let panels = titled(ctx, "copied by the kernel", &copy, 100.0, &mut drawn);
    if panels.is_empty() {
        items.push(Item::Absent {
            id: "zcrx-copy".into(),
            title: "zcrx: copy-fallback share".into(),
            note: format!(
                "The kernel's copy-fallback counters are not in these results ({}): the share of the payload it \
                 copied is unknown, not 0.",
                have.iter().map(|&i| distinct(ctx, i, |z| z.copy_source.clone())).collect::<Vec<_>>().join("; ")
            ),
        });
    } else {
        items.push(Item::Figure(Box::new(Figure {
            id: "zcrx-copy".into(),
            title: "zcrx: copy-fallback share".into(),
            caption: format!(
                "Share of the received bytes the kernel copied into the area instead of placing them there (its \
                 zcrx copy counters). A registration without a device copies everything. {WHISKERS}"
            ),
            plot: Plot::Bars(of_panels(ctx, "% of bytes copied", panels, drawn)),
            table: None,
        })));
    }
    items.push(Item::Table { title: "zcrx receive per series".into(), table: t });
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::Run;
    use crate::report::series::group;
    use crate::report::test_data;
    use std::path::PathBuf;

    /// No zcrx run: one note. A zcrx record (filled into a real run, the data
    /// here has no zcrx run of a device): mean bytes per CQE and the copy share
    /// from its counters; unknown copies are a note, not 0 %.
    #[test]
    fn bytes_per_cqe_and_copy_share() {
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let base = group(vec![Run { path: PathBuf::from("b"), r: test_data("result-v2-netns.json") }], keys);
        let ctx = Ctx::new(&base, keys, crate::domain::DEFAULT_BASELINE);
        assert!(matches!(&cqe_bytes(&ctx)[..], [Item::Absent { .. }]));

        let mut r = test_data("result-v3-netns-power.json");
        r.flow.mode = RxMode::Zcrx;
        let rx = r.receiver.rx.as_mut().unwrap();
        rx.bytes = 64 << 20;
        rx.zcrx = Some(ZcrxInfo {
            registration: "nodev".into(),
            data_cqes: 1024,
            bytes_per_cqe_min: 4096,
            bytes_per_cqe_max: 65536,
            copy_bytes: Some(16 << 20),
            copy_source: "zcrx_stats".into(),
            ..Default::default()
        });
        let mut unknown = r.clone();
        unknown.timestamp += "x";
        unknown.receiver.rx.as_mut().unwrap().zcrx.as_mut().unwrap().copy_bytes = None;
        let series = group(vec![Run { path: PathBuf::from("z"), r }], keys);
        let ctx = Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE);
        let items = cqe_bytes(&ctx);
        let [Item::Figure(f), Item::Figure(c), Item::Table { table: t, .. }] = &items[..] else { panic!("layout") };
        let value = |f: &Figure| match &f.plot {
            Plot::Bars(b) => b.panels[0].categories[0].bars[0].value,
            _ => panic!("not bars"),
        };
        assert_eq!(value(f), 64.0, "64 MiB over 1024 CQEs is 64 KiB");
        assert_eq!(value(c), 25.0, "16 of 64 MiB copied");
        assert_eq!(t.rows[0][5], "16384", "1024 CQEs per 1/16 GiB");
        assert_eq!((t.rows[0][6].as_str(), t.rows[0][7].as_str(), t.rows[0][8].as_str()), ("4096", "65536", "65536"));
        assert_eq!(t.rows[0][10], "25.0");

        let series = group(vec![Run { path: PathBuf::from("u"), r: unknown }], keys);
        let ctx = Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE);
        let items = cqe_bytes(&ctx);
        assert!(matches!(&items[1], Item::Absent { id, .. } if id == "zcrx-copy"));
    }
}

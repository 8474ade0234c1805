//! summary.csv: one row per series, for pandas or a spreadsheet. The column
//! names are stable (README lists them with their meaning; a test holds the
//! two together). `_mean` is the trimmed mean; an empty cell is a value the
//! results do not have, never a zero.

use super::env_section;
use super::figures::power::host_power;
use super::figures::{Ctx, baseline_of, per_core};
use super::series::{Metric, Series, key_value, mtu};
use crate::domain::{GroupKey, name_of};
use crate::results::schema::{CoreUtil, Roi, RunResult};
use anyhow::Result;

/// Every column, in order.
pub const COLUMNS: &[&str] = &[
    "series",
    "label",
    "mode",
    "tx_mode",
    "cpus",
    "gro",
    "big_tcp",
    "topology",
    "mtu",
    "mss",
    "msg_size",
    "read_size",
    "runs",
    "kept",
    "gbps_mean",
    "gbps_min",
    "gbps_max",
    "gbps_stddev",
    "receiver_cores_mean",
    "receiver_cores_min",
    "receiver_cores_max",
    "gbps_per_core_mean",
    "gbps_per_core_min",
    "gbps_per_core_max",
    "cpu_per_gbit_mean",
    "app_busy_pct",
    "app_user_pct",
    "app_sys_pct",
    "app_softirq_pct",
    "app_irq_pct",
    "app_iowait_pct",
    "net_busy_pct",
    "net_user_pct",
    "net_sys_pct",
    "net_softirq_pct",
    "net_irq_pct",
    "net_iowait_pct",
    "sender_busy_pct",
    "sender_user_pct",
    "sender_sys_pct",
    "sender_softirq_pct",
    "sender_irq_pct",
    "sender_iowait_pct",
    "rx_zero_copy_pct",
    "tx_zero_copy_pct",
    "retransmits_mean",
    "receiver_w",
    "sender_w",
    "power_kind",
    "roi_cpu_receiver",
    "roi_power_receiver",
    "roi_cpu_total",
    "roi_power_total",
    "baseline_series",
    "gbps_ratio",
    "gbps_per_core_ratio",
    "kernel",
    "cpu_model",
    "zcbench",
    "env_group",
    "runs_env_differ",
    "first_file",
];

fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.6}").trim_end_matches('0').trim_end_matches('.').to_string())
}

/// One value of the first run, or "mixed" when the runs differ in it.
fn same(s: &Series, f: impl Fn(&RunResult) -> String) -> String {
    let first = f(s.first());
    if s.runs.iter().all(|r| f(&r.r) == first) { first } else { "mixed".into() }
}

fn role(s: &Series, get: fn(&RunResult) -> Option<CoreUtil>) -> Vec<String> {
    let parts: [fn(&CoreUtil) -> f64; 6] =
        [|u| u.busy, |u| u.user + u.nice, |u| u.system, |u| u.softirq, |u| u.irq, |u| u.iowait];
    parts.iter().map(|p| num(s.metric(|r| get(r).map(|u| p(&u) * 100.0)).spread.map(|x| x.trimmed_mean))).collect()
}

fn mean(m: &Metric) -> Option<f64> {
    m.spread.map(|s| s.trimmed_mean)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn row(ctx: &Ctx, i: usize, env_group: usize) -> Vec<String> {
    let s = &ctx.series[i];
    let gbps = s.metric(|r| Some(r.summary.gbps));
    let cores = s.metric(|r| Some(r.summary.receiver_cores.busy));
    let pc = s.metric(per_core);
    let g = gbps.spread;
    let mut v = vec![
        s.id.clone(),
        ctx.labels[i].clone(),
        same(s, |r| name_of(&r.flow.mode)),
        same(s, |r| name_of(&r.flow.tx_mode)),
        same(s, |r| r.receiver.layout.cpus.to_string()),
        same(s, |r| key_value(GroupKey::Gro, r)),
        same(s, |r| key_value(GroupKey::BigTcp, r)),
        same(s, |r| r.topology.clone()),
        same(s, |r| mtu(r).map_or(String::new(), |m| m.to_string())),
        same(s, |r| r.flow.mss.map_or(String::new(), |m| m.to_string())),
        same(s, |r| r.flow.msg_size.to_string()),
        same(s, |r| r.flow.read_size.to_string()),
        s.runs.len().to_string(),
        g.map_or(String::new(), |g| g.kept.to_string()),
        num(g.map(|g| g.trimmed_mean)),
        num(g.map(|g| g.min)),
        num(g.map(|g| g.max)),
        num(g.map(|g| g.stddev)),
        num(mean(&cores)),
        num(cores.spread.map(|c| c.min)),
        num(cores.spread.map(|c| c.max)),
        num(mean(&pc)),
        num(pc.spread.map(|c| c.min)),
        num(pc.spread.map(|c| c.max)),
        num(mean(&s.metric(|r| (r.summary.gbps > 0.0).then_some(r.summary.cpu_per_gbit)))),
    ];
    v.extend(role(s, |r| r.summary.app));
    v.extend(role(s, |r| r.summary.net));
    v.extend(role(s, |r| r.summary.sender));
    let rx_zc = s.metric(|r| r.receiver.rx.as_ref()?.zero_copy.as_ref().map(|z| z.zero_copy_share * 100.0));
    let tx_zc = s.metric(|r| {
        r.sender.as_ref().unwrap_or(&r.receiver).tx.as_ref()?.zero_copy.as_ref().map(|z| z.zero_copy_share * 100.0)
    });
    v.push(num(mean(&rx_zc)));
    v.push(num(mean(&tx_zc)));
    v.push(num(mean(&s.metric(|r| r.summary.retransmits.map(f64::from)))));
    v.extend(power(s));
    let b = baseline_of(ctx, s);
    v.push(b.map_or(String::new(), |b| b.id.clone()));
    v.push(num(b.and_then(|b| ratio(mean(&gbps), mean(&b.metric(|r| Some(r.summary.gbps)))))));
    v.push(num(b.and_then(|b| ratio(mean(&pc), mean(&b.metric(per_core))))));
    v.push(same(s, |r| r.receiver.host.kernel.clone()));
    v.push(same(s, |r| r.receiver.host.cpu_model.clone()));
    v.push(same(s, |r| format!("{} {}", r.zcbench.version, r.zcbench.git)));
    v.push(env_group.to_string());
    v.push(if super::env::within(s, ctx.keys).is_empty() { "no" } else { "yes" }.into());
    v.push(s.runs[0].path.display().to_string());
    v
}

/// receiver_w, sender_w, power_kind and the ROI columns.
fn power(s: &Series) -> Vec<String> {
    let w = |side: &'static str| num(mean(&s.metric(|r| host_power(r, side)?.mean_w)));
    let kind = same(s, |r| {
        let k = |side| host_power(r, side).map(|p| name_of(&p.kind));
        match (k("receiver"), k("sender")) {
            (Some(a), Some(b)) if a != b => format!("{a}/{b}"),
            (a, b) => a.or(b).unwrap_or_default(),
        }
    });
    let roi = |f: fn(&Roi) -> Option<f64>| num(mean(&s.metric(|r| r.summary.roi.as_ref().and_then(f))));
    vec![
        w("receiver"),
        w("sender"),
        kind,
        roi(|x| x.receiver.roi_cpu),
        roi(|x| x.receiver.roi_power),
        roi(|x| x.total.roi_cpu),
        roi(|x| x.total.roi_power),
    ]
}

pub fn summary(ctx: &Ctx) -> Result<String> {
    let (_, env_of_series) = env_section::groups(ctx);
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for (i, env) in env_of_series.iter().enumerate() {
        w.write_record(row(ctx, i, *env))?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("writing summary.csv: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README's column table is the contract: same names, same order.
    #[test]
    fn readme_documents_every_column_in_order() {
        let readme =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
        let from = readme.find("### summary.csv columns").unwrap();
        let documented: Vec<&str> = readme[from..]
            .lines()
            .skip_while(|l| !l.starts_with("| column"))
            .skip(2)
            .take_while(|l| l.starts_with("| `"))
            .map(|l| l.split('`').nth(1).unwrap())
            .collect();
        assert_eq!(documented, COLUMNS);
        assert_eq!(num(Some(12.5)), "12.5");
        assert_eq!(num(Some(3.0)), "3");
        assert_eq!(num(Some(0.0)), "0");
        assert_eq!(num(None), "");
    }
}

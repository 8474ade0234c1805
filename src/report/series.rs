//! Series: result files equal in every `--group-by` key are repeats of one
//! case. Each key's value is read from the result (mode, layout, and the GRO /
//! BIG TCP settings from `changes` or the devices as found); figures take a
//! series' trimmed mean and spread (`results::stats::spread`) of any value.

use super::load::Run;
use crate::domain::{GroupKey, RxMode, name_of};
use crate::results::schema::RunResult;
use crate::results::stats::{Spread, spread_of};

pub struct Series {
    /// Unique, file-name safe: used for figure names and CSV rows.
    pub id: String,
    /// The key values in `--group-by` order.
    pub key: Vec<(GroupKey, String)>,
    /// Runs in the order they ran (by timestamp), which the trimmed mean needs.
    pub runs: Vec<Run>,
}

/// A series' statistics of one value, over the runs that have it.
pub struct Metric {
    pub spread: Option<Spread>,
    /// Runs without the value (not counted as zero).
    pub missing: usize,
}

impl Series {
    /// The value of one key (empty when it is not a group key).
    pub fn get(&self, k: GroupKey) -> &str {
        self.key.iter().find(|(g, _)| *g == k).map_or("", |(_, v)| v.as_str())
    }

    /// The first run stands for the series where one run's facts are shown.
    pub fn first(&self) -> &RunResult {
        &self.runs[0].r
    }

    /// A figure over the series, trimmed by run position as the `--repeat`
    /// series file trims it (`stats::spread_of`), so the report and the series
    /// file agree when some runs lack the figure. In the report `spread.n` counts
    /// the runs that have a value; `missing` the others.
    pub fn metric(&self, f: impl Fn(&RunResult) -> Option<f64>) -> Metric {
        let values: Vec<Option<f64>> = self.runs.iter().map(|r| f(&r.r).filter(|v| v.is_finite())).collect();
        let missing = values.iter().filter(|v| v.is_none()).count();
        Metric { spread: spread_of(&values).map(|s| Spread { n: s.n - s.missing, missing: 0, ..s }), missing }
    }

    /// The colour key: the receive mode, with the transmit mode when it is not
    /// the one that goes with it ("mixed" when the series mixes modes).
    pub fn mode_label(&self) -> String {
        let r = self.first();
        let same = self.runs.iter().all(|x| x.r.flow.mode == r.flow.mode && x.r.flow.tx_mode == r.flow.tx_mode);
        if !same {
            return "mixed modes".into();
        }
        mode_label(r)
    }

    pub fn rx_mode(&self) -> Option<RxMode> {
        let m = self.first().flow.mode;
        self.runs.iter().all(|x| x.r.flow.mode == m).then_some(m)
    }
}

pub fn mode_label(r: &RunResult) -> String {
    let rx = name_of(&r.flow.mode);
    if crate::rx::default_tx(r.flow.mode) == Some(r.flow.tx_mode) {
        rx
    } else {
        format!("{rx}/{}", name_of(&r.flow.tx_mode))
    }
}

/// What zcbench did to receive offloads in this run, read from `changes`.
fn gro(r: &RunResult) -> String {
    let (mut hw, mut sw) = (None, None);
    for c in all_changes(r) {
        let rest = c.setting.split_once(' ').map_or("", |(_, rest)| rest);
        let on = c.read_back.trim() == "on";
        if rest == "feature rx-gro-hw" {
            hw = Some(on);
        } else if rest.starts_with("feature rx-gro ") || rest == "feature rx-gro" {
            sw = Some(on);
        }
    }
    match (hw, sw) {
        (Some(true), _) => "HW GRO",
        (_, Some(false)) => "no GRO",
        (_, Some(true)) => "SW GRO",
        (Some(false), None) => "HW GRO off",
        (None, None) => "GRO as found",
    }
    .into()
}

fn all_changes(r: &RunResult) -> impl Iterator<Item = &crate::results::schema::Change> {
    r.receiver.changes.iter().chain(r.sender.iter().flat_map(|s| s.changes.iter()))
}

/// BIG TCP: gro_max_size (receive) / gso_max_size (send) above 64 KiB, as
/// zcbench set them or, when it did not, as the devices had them.
fn big_tcp(r: &RunResult) -> String {
    const NORMAL: u32 = 65536;
    let (mut rx, mut tx) = (None::<u32>, None::<u32>);
    for c in all_changes(r) {
        let attr = c.setting.rsplit(' ').next().unwrap_or("");
        let v = c.read_back.trim().parse::<u32>().ok();
        match attr {
            "gro_max_size" | "gro_ipv4_max_size" => rx = rx.max(v),
            "gso_max_size" | "gso_ipv4_max_size" => tx = tx.max(v),
            _ => {}
        }
    }
    let devices = r.receiver.host.devices.iter().chain(r.sender.iter().flat_map(|s| s.host.devices.iter()));
    let (mut rx_found, mut tx_found) = (None::<u32>, None::<u32>);
    for l in devices.filter_map(|d| d.link.as_ref()) {
        rx_found = rx_found.max(l.gro_max_size.max(l.gro_ipv4_max_size));
        tx_found = tx_found.max(l.gso_max_size.max(l.gso_ipv4_max_size));
    }
    let set = rx.is_some() || tx.is_some();
    let (rx, tx) = if set { (rx, tx) } else { (rx_found, tx_found) };
    let big = |v: Option<u32>| v.filter(|v| *v > NORMAL);
    let how = if set { "" } else { " (found)" };
    match (big(rx), big(tx)) {
        (None, None) => "BIG TCP off".into(),
        (Some(a), Some(b)) if a == b => format!("BIG TCP {a}{how}"),
        (Some(a), Some(b)) => format!("BIG TCP rx {a} tx {b}{how}"),
        (Some(a), None) => format!("BIG TCP rx {a}{how}"),
        (None, Some(b)) => format!("BIG TCP tx {b}{how}"),
    }
}

/// MTU of the link the flow crossed: as zcbench set it, else the receiving device's.
pub fn mtu(r: &RunResult) -> Option<u32> {
    r.mtu.or_else(|| r.receiver.host.devices.iter().find_map(|d| d.link.as_ref().map(|l| l.mtu)))
}

/// Bytes as the command line takes them (64MiB, 512KiB, 4096).
pub fn size(b: u64) -> String {
    for (unit, n) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if b >= n && b.is_multiple_of(n) {
            return format!("{}{unit}", b / n);
        }
    }
    b.to_string()
}

/// A key's value for one run, as shown in labels.
pub fn key_value(k: GroupKey, r: &RunResult) -> String {
    match k {
        GroupKey::Mode => name_of(&r.flow.mode),
        GroupKey::Tx => format!("tx {}", name_of(&r.flow.tx_mode)),
        GroupKey::Cpus => match r.receiver.layout.cpus {
            1 => "1 CPU".into(),
            n => format!("{n} CPUs"),
        },
        GroupKey::Gro => gro(r),
        GroupKey::BigTcp => big_tcp(r),
        GroupKey::Topology => r.topology.clone(),
        GroupKey::Mtu => mtu(r).map_or("MTU ?".into(), |m| format!("MTU {m}")),
        GroupKey::Mss => r.flow.mss.map_or("MSS default".into(), |m| format!("MSS {m}")),
        GroupKey::MsgSize => format!("msg {}", size(r.flow.msg_size)),
        GroupKey::ReadSize => format!("read {}", size(r.flow.read_size)),
        GroupKey::TokenBatch => token_batch(r).map_or("no token batch".into(), |b| format!("token batch {b}")),
        GroupKey::Flows => match r.flow.flows {
            1 => "1 flow".into(),
            n => format!("{n} flows"),
        },
        GroupKey::Hosts => match &r.sender {
            Some(tx) => format!("{} ← {}", r.receiver.host.hostname, tx.host.hostname),
            None => r.receiver.host.hostname.clone(),
        },
    }
}

/// devmem's --token-batch, as the receive path recorded it.
pub fn token_batch(r: &RunResult) -> Option<u32> {
    r.receiver.rx.as_ref()?.devmem.as_ref().map(|d| d.token_batch)
}

/// Where a mode sorts: the order of `--mode`'s values.
fn mode_rank(m: RxMode) -> usize {
    crate::rx::all().position(|d| d.mode == m).unwrap_or(usize::MAX)
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Group runs into series by `keys`; series sort by mode, then the key values,
/// runs within a series by timestamp (then file name).
pub fn group(runs: Vec<Run>, keys: &[GroupKey]) -> Vec<Series> {
    let mut series: Vec<Series> = Vec::new();
    for run in runs {
        let key: Vec<(GroupKey, String)> = keys.iter().map(|k| (*k, key_value(*k, &run.r))).collect();
        match series.iter_mut().find(|s| s.key == key) {
            Some(s) => s.runs.push(run),
            None => series.push(Series { id: String::new(), key, runs: vec![run] }),
        }
    }
    for s in &mut series {
        s.runs.sort_by(|a, b| (&a.r.timestamp, &a.path).cmp(&(&b.r.timestamp, &b.path)));
    }
    series.sort_by(|a, b| {
        let rank = |s: &Series| s.rx_mode().map_or(usize::MAX, mode_rank);
        rank(a).cmp(&rank(b)).then_with(|| a.key.cmp(&b.key))
    });
    let mut used: Vec<String> = Vec::new();
    for s in &mut series {
        let base = slug(&s.key.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(" "));
        let base = if base.is_empty() { "all".to_string() } else { base };
        let mut id = base.clone();
        let mut n = 2;
        while used.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        used.push(id.clone());
        s.id = id;
    }
    series
}

/// The key values that differ between series (labels show only these), and
/// those all series share (said once).
pub fn varying_keys(series: &[Series], keys: &[GroupKey]) -> (Vec<GroupKey>, Vec<(GroupKey, String)>) {
    let mut varying = Vec::new();
    let mut common = Vec::new();
    for k in keys {
        let first = series.first().map_or("", |s| s.get(*k));
        if series.iter().all(|s| s.get(*k) == first) {
            common.push((*k, first.to_string()));
        } else {
            varying.push(*k);
        }
    }
    (varying, common)
}

/// A series' name from the keys that vary (its mode first).
pub fn label(s: &Series, varying: &[GroupKey]) -> String {
    let parts: Vec<&str> = varying.iter().map(|k| s.get(*k)).filter(|v| !v.is_empty()).collect();
    if parts.is_empty() { s.mode_label() } else { parts.join(" · ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::schema::Change;
    use std::path::{Path, PathBuf};

    fn real(name: &str) -> RunResult {
        crate::results::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
    }

    fn change(setting: &str, v: &str) -> Change {
        Change {
            netns: None,
            setting: setting.into(),
            old: "x".into(),
            new: v.into(),
            read_back: v.into(),
            changed: true,
        }
    }

    #[test]
    fn gro_and_big_tcp_come_from_the_changes_or_the_devices() {
        let mut r = real("result-v2-netns.json");
        assert_eq!((gro(&r), big_tcp(&r)), ("GRO as found".to_string(), "BIG TCP off".to_string()));
        r.receiver.changes.push(change("zcbr1 feature rx-gro (generic-receive-offload)", "on"));
        assert_eq!(gro(&r), "SW GRO");
        r.receiver.changes.push(change("eth0 feature rx-gro-hw", "on"));
        assert_eq!(gro(&r), "HW GRO");
        r.receiver.changes.push(change("zcbr1 gro_max_size", "185000"));
        assert_eq!(big_tcp(&r), "BIG TCP rx 185000");
        r.receiver.changes.push(change("zcbs1 gso_max_size", "185000"));
        assert_eq!(big_tcp(&r), "BIG TCP 185000");
        // Not set by zcbench but found on a device.
        let mut f = real("result-v2-mmap.json");
        f.receiver.host.devices[0].link.as_mut().unwrap().gro_max_size = Some(185000);
        assert_eq!(big_tcp(&f), "BIG TCP rx 185000 (found)");
    }

    /// Pairs of a lab: the same case measured on two pairs of machines is two
    /// series with `hosts` among the keys, one without it.
    #[test]
    fn hosts_key_tells_host_pairs_apart() {
        let mk = |rx: &str, tx: &str| {
            let mut r = real("result-v2-two-host.json");
            r.receiver.host.hostname = rx.into();
            r.sender.as_mut().unwrap().host.hostname = tx.into();
            Run { path: PathBuf::from(format!("{rx}-{tx}")), r }
        };
        let runs = || vec![mk("rx-a", "tx-a"), mk("rx-b", "tx-b"), mk("rx-a", "tx-a")];
        assert_eq!(group(runs(), &[GroupKey::Mode]).len(), 1);
        let s = group(runs(), &[GroupKey::Mode, GroupKey::Hosts]);
        assert_eq!(s.iter().map(|s| s.runs.len()).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(s[0].get(GroupKey::Hosts), "rx-a ← tx-a");
        let (varying, _) = varying_keys(&s, &[GroupKey::Mode, GroupKey::Hosts]);
        assert_eq!(label(&s[1], &varying), "rx-b ← tx-b");
        let local = real("result-v2-netns.json");
        assert_eq!(key_value(GroupKey::Hosts, &local), local.receiver.host.hostname);
    }

    #[test]
    fn repeats_group_into_series_in_run_order() {
        let mk = |name: &str, stamp: &str, cpus: u8| {
            let mut r = real(name);
            r.timestamp = stamp.into();
            r.receiver.layout.cpus = cpus;
            Run { path: PathBuf::from(format!("{name}-{stamp}")), r }
        };
        let runs = vec![
            mk("result-v2-mmap.json", "2026-01-01T00:00:03Z", 1),
            mk("result-v2-netns.json", "2026-01-01T00:00:02Z", 1),
            mk("result-v2-netns.json", "2026-01-01T00:00:01Z", 1),
            mk("result-v2-netns.json", "2026-01-01T00:00:04Z", 2),
        ];
        let keys = [GroupKey::Mode, GroupKey::Cpus];
        let s = group(runs, &keys);
        let ids: Vec<&str> = s.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["baseline-1-cpu", "baseline-2-cpus", "mmap-1-cpu"]);
        let stamps: Vec<&str> = s[0].runs.iter().map(|r| r.r.timestamp.as_str()).collect();
        assert_eq!(stamps, ["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"]);
        let (varying, common) = varying_keys(&s, &keys);
        assert_eq!(varying, keys);
        assert!(common.is_empty());
        assert_eq!(label(&s[1], &varying), "baseline · 2 CPUs");
        assert_eq!(s[2].mode_label(), "mmap");
        // A value some runs lack is left out, not counted as zero.
        let m = s[0].metric(|r| (r.timestamp.ends_with("1Z")).then_some(4.0));
        assert_eq!((m.missing, m.spread.unwrap().trimmed_mean), (1, 4.0));
        // Trimmed by position, as the series file is: of 5 runs the first (the
        // only one without a value) and the last are dropped.
        let five: Vec<Run> =
            (1..=5).map(|i| mk("result-v2-netns.json", &format!("2026-01-01T00:00:0{i}Z"), 1)).collect();
        let five = group(five, &keys).remove(0);
        let gbps = [f64::NAN, 10.0, 20.0, 30.0, 1000.0];
        let m = five.metric(|r| Some(gbps[r.timestamp.as_bytes()[18] as usize - b'1' as usize]));
        let sp = m.spread.unwrap();
        assert_eq!((m.missing, sp.n, sp.kept, sp.trimmed_mean), (1, 4, 3, 20.0));
        let by_file = crate::results::stats::spread_of(&[None, Some(10.0), Some(20.0), Some(30.0), Some(1000.0)]);
        assert_eq!(by_file.map(|s| s.trimmed_mean), Some(sp.trimmed_mean));
        assert_eq!(size(64 << 20), "64MiB");
        assert_eq!(size(4108), "4108");
    }
}

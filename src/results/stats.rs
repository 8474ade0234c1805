//! Figures derived from result data: the window summary of one run, the
//! return-on-investment figures, and the statistics a series of runs needs
//! (trimmed mean, min/max, spread).

use super::flows::fairness;
pub use super::schema::series::Spread;
use super::schema::{
    CoreUtil, Cores, FlowFigures, FlowsSummary, PowerSummary, Roi, RoiFigures, RunResult, Sample, Side, Summary,
};
use std::collections::BTreeMap;

impl Cores {
    pub fn sum<'a>(cores: impl IntoIterator<Item = &'a CoreUtil>) -> Cores {
        let mut c = Cores::default();
        for u in cores {
            c.busy += u.busy;
            c.user += u.user;
            c.nice += u.nice;
            c.system += u.system;
            c.irq += u.irq;
            c.softirq += u.softirq;
            c.iowait += u.iowait;
            c.steal += u.steal;
        }
        c
    }
}

/// How late a sample must come to count as a pause: the watch's blind time
/// (`run::watch::BLIND`) is the same length.
pub const PAUSE_S: u64 = 3;

/// Intervals of the measured window whose sample came at least [`PAUSE_S`]
/// late, as (end of the interval in seconds, seconds late): the host or VM
/// was paused, or the sampler's core starved, for about that long, and the
/// window's figures average over it. From the samples alone, so results
/// written before this check are judged the same way.
pub fn pauses(side: &Side) -> Vec<(f64, f64)> {
    let interval = side.sampler.interval_s;
    side.samples
        .iter()
        .filter(|s| !s.warmup)
        .map(|s| (s.t_s, s.dt_s - interval))
        .filter(|&(_, late)| late >= PAUSE_S as f64)
        .collect()
}

/// One line for a side whose window had pauses: "paused 16.5 s (at 17.0 s)".
pub fn describe_pauses(p: &[(f64, f64)]) -> Option<String> {
    if p.is_empty() {
        return None;
    }
    let total: f64 = p.iter().map(|x| x.1).sum();
    let at: Vec<String> = p.iter().map(|(t, late)| format!("{late:.1} s ending at {t:.1} s")).collect();
    Some(format!(
        "sampled {total:.1} s late in the measured window ({}): the host or VM was paused, or the sampler's core starved, and the figures average over that time",
        at.join(", ")
    ))
}

/// Bytes received and sent in the measured (non-warm-up) intervals.
pub fn window_bytes(samples: &[Sample]) -> (u64, u64) {
    samples.iter().filter(|s| !s.warmup).fold((0, 0), |(r, t), s| (r + s.rx_bytes, t + s.tx_bytes))
}

/// Gbit/s (10^9 bits per second) for `bytes` over `secs`; 0 for no time.
pub fn gbps(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 { bytes as f64 * 8.0 / secs / 1e9 } else { 0.0 }
}

/// The distinct cores among `cpus`, as utilisation records.
pub fn cores_of<'a>(util: &'a [CoreUtil], cpus: &[usize]) -> Vec<&'a CoreUtil> {
    let mut seen = Vec::new();
    for &c in cpus {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    seen.iter().filter_map(|&c| util.iter().find(|u| u.cpu == c)).collect()
}

/// The headline figures of a run: throughput over the measured window by the
/// receiver's clock, CPU of the app/net/sender cores from the window snapshots,
/// power of each source, and the ROI figures with exponents `n` and `m`.
pub fn summarize(receiver: &Side, sender: Option<&Side>, n: f64, m: f64) -> Summary {
    let (rx_bytes, local_tx) = window_bytes(&receiver.samples);
    let tx_bytes = match sender {
        Some(s) => window_bytes(&s.samples).1,
        None => local_tx,
    };
    let secs = receiver.window_s;
    let gbps = gbps(rx_bytes, secs);
    let find = |side: &Side, c: usize| side.window_cpu.iter().find(|u| u.cpu == c).copied();
    let l = &receiver.layout;
    // Every flow's cores (one flow: the app and net cores).
    let receiver_cores = Cores::sum(cores_of(&receiver.window_cpu, &l.receiver_cpus()));
    let sender_util = match sender {
        Some(s) => s.layout.sender_cpu.and_then(|c| find(s, c)),
        None => l.sender_cpu.and_then(|c| find(receiver, c)),
    };
    let sender_busy = match sender {
        Some(s) => Cores::sum(cores_of(&s.window_cpu, &s.layout.sender_cpus())).busy,
        None => Cores::sum(cores_of(&receiver.window_cpu, &l.sender_cpus())).busy,
    };
    let retransmits = sender.unwrap_or(receiver).samples.iter().rev().find_map(|s| s.retransmits());
    let mut power = power_summary("receiver", receiver);
    if let Some(s) = sender {
        power.extend(power_summary("sender", s));
    }
    let sender_busy = sender_util.map(|_| sender_busy);
    let roi = roi_of_run(receiver, sender, gbps, receiver_cores.busy, sender_busy, &power, n, m);
    Summary {
        measured_s: secs,
        rx_bytes,
        tx_bytes,
        gbps,
        app: find(receiver, l.app_cpu),
        net: find(receiver, l.net_cpu),
        sender: sender_util,
        receiver_cores,
        receiver_host: Cores::sum(&receiver.window_cpu),
        sender_host: sender.map(|s| Cores::sum(&s.window_cpu)),
        cpu_per_gbit: if gbps > 0.0 { receiver_cores.busy / gbps } else { 0.0 },
        sampler_pct_of_core: receiver.sampler.pct_of_core.max(sender.map_or(0.0, |s| s.sampler.pct_of_core)),
        retransmits,
        sampler_overhead_pct_of_core: receiver
            .sampler
            .overhead_pct_of_core
            .max(sender.map_or(0.0, |s| s.sampler.overhead_pct_of_core)),
        power,
        roi: Some(roi),
        flows: summarize_flows(receiver, sender),
    }
}

/// Each power source of `side` over the measured window: the interval-length
/// weighted mean of the intervals that have a reading. A missing reading is
/// left out (counted in `missing`), never taken as 0 W.
pub fn power_summary(role: &str, side: &Side) -> Vec<PowerSummary> {
    let window: Vec<&Sample> = side.samples.iter().filter(|s| !s.warmup).collect();
    side.power_sources
        .iter()
        .enumerate()
        .map(|(i, src)| {
            let (mut wsum, mut tsum, mut present, mut missing) = (0.0, 0.0, 0u32, 0u32);
            for s in &window {
                match s.power_w.get(i).copied().flatten() {
                    Some(w) => {
                        wsum += w * s.dt_s;
                        tsum += s.dt_s;
                        present += 1;
                    }
                    None => missing += 1,
                }
            }
            PowerSummary {
                side: role.into(),
                name: src.name.clone(),
                kind: src.kind,
                mean_w: (tsum > 0.0).then(|| wsum / tsum),
                present,
                missing,
                idle_w: src.idle_w,
            }
        })
        .collect()
}

/// The power figure that stands for one host in the ROI: its first wall source
/// with a reading, else its first source with a reading (kind recorded).
/// The power figure of a host (`role`: its side) the ROI uses: its first wall
/// source with a reading, else its first source with one.
pub fn host_power<'a>(power: &'a [PowerSummary], role: &str) -> Option<&'a PowerSummary> {
    let with = || power.iter().filter(|p| p.side == role && p.mean_w.is_some());
    with().find(|p| p.kind == super::schema::PowerKind::Wall).or_else(|| with().next())
}

/// The ROI figures of one party: T in Gbit/s, C in cores (busy time summed
/// over the counted cores), P in watts, P_idle in watts.
///
/// - `roi_cpu` = T^n / C, null when C is 0 (no CPU measured: undefined, not infinite);
/// - `roi_power` = T^n / P^m, null without a power reading;
/// - `roi_power_above_idle` = T^n / (P - P_idle)^m, null without an idle figure
///   or when P does not exceed it.
///
/// Worked example (README): T = 40, C = 1.6, P = 300, P_idle = 230, n = 2, m = 1
/// gives 1600 / 1.6 = 1000, 1600 / 300 = 5.333 and 1600 / 70 = 22.857.
pub fn roi(gbps: f64, cores: f64, watts: Option<f64>, idle_watts: Option<f64>, n: f64, m: f64) -> RoiFigures {
    let tn = gbps.powf(n);
    let positive = |v: f64| (v.is_finite() && v > 0.0).then_some(v);
    RoiFigures {
        gbps,
        cores,
        watts,
        power_source: None,
        power_kind: None,
        idle_watts,
        roi_cpu: positive(cores).map(|c| tn / c),
        roi_power: watts.and_then(positive).map(|p| tn / p.powf(m)),
        // P within rounding of P_idle does not exceed it (a mean of equal readings
        // is not always bit-equal to them).
        roi_power_above_idle: watts
            .zip(idle_watts)
            .filter(|(p, i)| p - i > 1e-9 * p.abs())
            .and_then(|(p, i)| positive(p - i))
            .map(|d| tn / d.powf(m)),
    }
}

/// Receiver, sender and total ROI of a run. On one host (local runs) the
/// host's power is not split between the two ends: only `total` has a power figure.
#[allow(clippy::too_many_arguments)]
fn roi_of_run(
    receiver: &Side,
    sender: Option<&Side>,
    gbps: f64,
    receiver_busy: f64,
    sender_busy: Option<f64>,
    power: &[PowerSummary],
    n: f64,
    m: f64,
) -> Roi {
    let with_source = |mut f: RoiFigures, p: Option<&PowerSummary>| {
        f.power_source = p.map(|p| format!("{}:{}", p.side, p.name));
        f.power_kind = p.map(|p| p.kind);
        f
    };
    let rp = host_power(power, "receiver");
    let l = &receiver.layout;
    match sender {
        Some(_) => {
            let sp = host_power(power, "sender");
            let r =
                with_source(roi(gbps, receiver_busy, rp.and_then(|p| p.mean_w), rp.and_then(|p| p.idle_w), n, m), rp);
            let sbusy = sender_busy.unwrap_or(0.0);
            let sf = with_source(roi(gbps, sbusy, sp.and_then(|p| p.mean_w), sp.and_then(|p| p.idle_w), n, m), sp);
            let sum = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a + b);
            let mut t =
                roi(gbps, receiver_busy + sbusy, sum(r.watts, sf.watts), sum(r.idle_watts, sf.idle_watts), n, m);
            if let (Some(a), Some(b)) = (&r.power_source, &sf.power_source) {
                t.power_source = Some(format!("{a} + {b}"));
                t.power_kind = r.power_kind.filter(|k| Some(*k) == sf.power_kind);
            }
            Roi { n, m, receiver: r, sender: Some(sf), total: t }
        }
        None => {
            let all: Vec<usize> = l.receiver_cpus().into_iter().chain(l.sender_cpus()).collect();
            let total_busy = Cores::sum(cores_of(&receiver.window_cpu, &all)).busy;
            let r = roi(gbps, receiver_busy, None, None, n, m);
            let t = with_source(roi(gbps, total_busy, rp.and_then(|p| p.mean_w), rp.and_then(|p| p.idle_w), n, m), rp);
            let sender = l.sender_cpu.map(|_| roi(gbps, sender_busy.unwrap_or(0.0), None, None, n, m));
            Roi { n, m, receiver: r, sender, total: t }
        }
    }
}

/// Each flow's window figures, the fairness over them and every core touched
/// (None for a single flow). `sender`: the sending host's side in a two-host run.
pub fn summarize_flows(receiver: &Side, sender: Option<&Side>) -> Option<FlowsSummary> {
    let n = receiver.samples.iter().map(|s| s.flows.len()).max().unwrap_or(0).max(receiver.flows.len());
    if n < 2 {
        return None;
    }
    let window: Vec<&Sample> = receiver.samples.iter().filter(|s| !s.warmup).collect();
    let tx_samples = sender.map_or(&receiver.samples, |s| &s.samples);
    let per_flow: Vec<FlowFigures> = (0..n)
        .map(|k| {
            let rx_bytes: u64 = window.iter().filter_map(|s| s.flows.get(k)).map(|f| f.rx_bytes).sum();
            let rx_side = receiver.flows.get(k);
            let tx_side = sender.map_or(rx_side, |s| s.flows.get(k));
            let ended =
                [rx_side, tx_side.filter(|_| sender.is_some())].into_iter().flatten().find_map(|f| f.ended.clone());
            FlowFigures {
                flow: k as u32 + 1,
                rx_bytes,
                gbps: gbps(rx_bytes, receiver.window_s),
                share: 0.0,
                rx_zero_copy_share: rx_side.and_then(|f| f.rx.as_ref()?.zero_copy.as_ref()).map(|z| z.zero_copy_share),
                tx_zero_copy_share: tx_side.and_then(|f| f.tx.as_ref()?.zero_copy.as_ref()).map(|z| z.zero_copy_share),
                retransmits: tx_samples.iter().rev().find_map(|s| s.flows.get(k)?.tcp_tx.map(|t| t.total_retrans)),
                ended,
            }
        })
        .collect();
    let total: u64 = per_flow.iter().map(|f| f.rx_bytes).sum();
    let per_flow: Vec<FlowFigures> = per_flow
        .into_iter()
        .map(|f| FlowFigures { share: if total > 0 { f.rx_bytes as f64 / total as f64 } else { 0.0 }, ..f })
        .collect();
    let l = &receiver.layout;
    let mut touched = l.receiver_cpus();
    if sender.is_none() {
        touched.extend(l.sender_cpus().into_iter().filter(|c| !touched.contains(c)).collect::<Vec<_>>());
    }
    let cores: Vec<CoreUtil> =
        touched.iter().filter_map(|&c| receiver.window_cpu.iter().find(|u| u.cpu == c).copied()).collect();
    Some(FlowsSummary {
        n: n as u32,
        fairness: fairness(&per_flow.iter().map(|f| f.gbps).collect::<Vec<_>>()),
        ended: per_flow.iter().filter(|f| f.ended.is_some()).count() as u32,
        per_flow,
        cores,
    })
}

/// The spread of `values` in run order; None for no values.
pub fn spread(values: &[f64]) -> Option<Spread> {
    let v: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
    spread_of(&v)
}

/// The spread of a figure over a series in run order, where a run may lack the
/// figure (None: e.g. no power reading). Runs are dropped by position — the
/// first is warm caches, the last may overlap teardown — not by value: with 3
/// or more runs the first and last run are left out of the mean whether or not
/// they have a value, and runs without a value are then skipped. None when no
/// run has a value. If trimming leaves no value, the mean is of all values.
pub fn spread_of(values: &[Option<f64>]) -> Option<Spread> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.is_empty() {
        return None;
    }
    let trimmed: Vec<f64> =
        if values.len() >= 3 { values[1..values.len() - 1].iter().flatten().copied().collect() } else { Vec::new() };
    let kept = if trimmed.is_empty() { &present } else { &trimmed };
    let mean = kept.iter().sum::<f64>() / kept.len() as f64;
    let stddev = if kept.len() > 1 {
        (kept.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (kept.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    Some(Spread {
        n: values.len(),
        missing: values.len() - present.len(),
        trimmed_mean: mean,
        kept: kept.len(),
        min: present.iter().copied().fold(f64::INFINITY, f64::min),
        max: present.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        stddev,
    })
}

/// The names of the headline figures, in `headline`'s order (the study CSV's columns).
pub const HEADLINE: &[&str] = &[
    "gbps",
    "receiver_cores",
    "app_busy",
    "net_busy",
    "sender_busy",
    "cpu_per_gbit",
    "retransmits",
    "receiver_w",
    "sender_w",
    "roi_cpu_receiver",
    "roi_cpu_sender",
    "roi_cpu_total",
    "roi_power_receiver",
    "roi_power_sender",
    "roi_power_total",
    "roi_power_total_above_idle",
    "sampler_overhead_pct_of_core",
];

/// The headline figures of a run by their stable names (series statistics,
/// study summaries and their CSV columns use these names).
pub fn headline(r: &RunResult) -> Vec<(&'static str, Option<f64>)> {
    let s = &r.summary;
    let roi = s.roi.as_ref();
    let f = |g: fn(&RoiFigures) -> Option<f64>, which: fn(&Roi) -> Option<&RoiFigures>| roi.and_then(which).and_then(g);
    let watts = |role: &str| host_power(&s.power, role).and_then(|p| p.mean_w);
    vec![
        ("gbps", Some(s.gbps)),
        ("receiver_cores", Some(s.receiver_cores.busy)),
        ("app_busy", s.app.map(|u| u.busy)),
        ("net_busy", s.net.map(|u| u.busy)),
        ("sender_busy", s.sender.map(|u| u.busy)),
        ("cpu_per_gbit", Some(s.cpu_per_gbit)),
        ("retransmits", s.retransmits.map(f64::from)),
        ("receiver_w", watts("receiver")),
        ("sender_w", watts("sender")),
        ("roi_cpu_receiver", f(|x| x.roi_cpu, |r| Some(&r.receiver))),
        ("roi_cpu_sender", f(|x| x.roi_cpu, |r| r.sender.as_ref())),
        ("roi_cpu_total", f(|x| x.roi_cpu, |r| Some(&r.total))),
        ("roi_power_receiver", f(|x| x.roi_power, |r| Some(&r.receiver))),
        ("roi_power_sender", f(|x| x.roi_power, |r| r.sender.as_ref())),
        ("roi_power_total", f(|x| x.roi_power, |r| Some(&r.total))),
        ("roi_power_total_above_idle", f(|x| x.roi_power_above_idle, |r| Some(&r.total))),
        ("sampler_overhead_pct_of_core", Some(s.sampler_overhead_pct_of_core)),
    ]
}

/// Every headline figure's spread over a series of runs (in run order);
/// figures no run has are left out.
pub fn series_figures(runs: &[RunResult]) -> BTreeMap<String, Spread> {
    let per_run: Vec<Vec<(&'static str, Option<f64>)>> = runs.iter().map(headline).collect();
    let Some(first) = per_run.first() else { return BTreeMap::new() };
    first
        .iter()
        .enumerate()
        .filter_map(|(i, (name, _))| {
            let v: Vec<Option<f64>> = per_run.iter().map(|h| h[i].1).collect();
            spread_of(&v).map(|s| (name.to_string(), s))
        })
        .collect()
}

/// A study's dead time in words: "0.52 s per run on average (max 0.61 s, 4.2 s
/// in all over 8 runs), 0.031 s between runs".
pub fn dead_time(d: &crate::results::schema::series::DeadTime) -> String {
    format!(
        "{:.2} s per run on average (max {:.2} s, {:.1} s in all over {} runs), {:.3} s between runs",
        d.mean_s, d.max_s, d.total_s, d.runs, d.between_runs_mean_s
    )
}

/// Per-interval throughput of the measured window: (min, max) Gbit/s.
pub fn interval_range(samples: &[Sample]) -> Option<(f64, f64)> {
    let v: Vec<f64> = samples.iter().filter(|s| !s.warmup).map(|s| s.rx_gbps).collect();
    spread(&v).map(|s| (s.min, s.max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(warmup: bool, rx: u64, gbps: f64) -> Sample {
        Sample {
            t_s: 0.0,
            dt_s: 1.0,
            warmup,
            rx_bytes: rx,
            tx_bytes: rx + 1,
            rx_gbps: gbps,
            cpu: vec![],
            tcp_rx: None,
            tcp_tx: None,
            power_w: vec![],
            flows: vec![],
        }
    }

    #[test]
    fn warmup_is_excluded() {
        assert_eq!(window_bytes(&[s(true, 100, 0.0), s(false, 10, 0.0), s(false, 20, 0.0)]), (30, 32));
        assert!((gbps(1_000_000_000, 8.0) - 1.0).abs() < 1e-12);
        assert_eq!(gbps(5, 0.0), 0.0);
        let r = interval_range(&[s(true, 0, 99.0), s(false, 0, 3.0), s(false, 0, 5.0)]).unwrap();
        assert_eq!(r, (3.0, 5.0));
        assert_eq!(interval_range(&[s(true, 0, 1.0)]), None);
    }

    #[test]
    fn a_late_sample_in_the_window_is_a_pause_and_one_in_the_warmup_is_not() {
        let real = crate::results::read(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/result-v4-vm73-lo-baseline.json"
        )))
        .unwrap();
        let p = pauses(&real.receiver);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!((p[0].0 - 16.27).abs() < 0.01 && (p[0].1 - 13.68).abs() < 0.01, "{p:?}");
        let mut side = real.receiver.clone();
        let interval = side.sampler.interval_s;
        side.samples = [(true, interval + 5.0), (false, interval + 2.9), (false, interval), (false, interval + 3.0)]
            .iter()
            .enumerate()
            .map(|(i, &(warmup, dt))| Sample { t_s: i as f64 * 10.0, dt_s: dt, ..s(warmup, 0, 0.0) })
            .collect();
        assert_eq!(pauses(&side), [(30.0, 3.0)], "only the window's, and only from PAUSE_S late");
        let line = describe_pauses(&pauses(&side)).unwrap();
        assert!(line.starts_with("sampled 3.0 s late in the measured window (3.0 s ending at 30.0 s)"), "{line}");
        assert_eq!(describe_pauses(&[]), None);
    }

    #[test]
    fn shared_core_counts_once() {
        let u = vec![
            CoreUtil { cpu: 0, busy: 0.5, user: 0.5, ..Default::default() },
            CoreUtil { cpu: 1, busy: 0.25, softirq: 0.25, ..Default::default() },
        ];
        assert_eq!(Cores::sum(cores_of(&u, &[1, 1])).busy, 0.25);
        let c = Cores::sum(cores_of(&u, &[0, 1]));
        assert_eq!((c.busy, c.user, c.softirq), (0.75, 0.5, 0.25));
    }

    #[test]
    fn trimmed_mean_drops_first_and_last_by_position() {
        // 5 runs: the middle three (20, 30, 40) by position, not the extremes by value.
        let sp = spread(&[100.0, 20.0, 30.0, 40.0, 1.0]).unwrap();
        assert_eq!((sp.n, sp.kept), (5, 3));
        assert!((sp.trimmed_mean - 30.0).abs() < 1e-12);
        assert_eq!((sp.min, sp.max), (1.0, 100.0));
        assert!((sp.stddev - 10.0).abs() < 1e-12, "{}", sp.stddev);
        // Fewer than 3: nothing is dropped.
        let two = spread(&[2.0, 4.0]).unwrap();
        assert_eq!((two.kept, two.trimmed_mean), (2, 3.0));
        let one = spread(&[7.0]).unwrap();
        assert_eq!((one.trimmed_mean, one.stddev, one.min, one.max), (7.0, 0.0, 7.0, 7.0));
        assert_eq!(spread(&[]), None);
        // Exactly 3: the middle one.
        assert_eq!(spread(&[1.0, 5.0, 9.0]).unwrap().trimmed_mean, 5.0);
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    /// The README's worked example, by hand: T = 40 Gbit/s, C = 1.6 cores,
    /// P = 300 W, idle 230 W, n = 2, m = 1.
    #[test]
    fn roi_matches_hand_computed_values() {
        let f = roi(40.0, 1.6, Some(300.0), Some(230.0), 2.0, 1.0);
        assert!(close(f.roi_cpu.unwrap(), 1000.0), "{f:?}");
        assert!(close(f.roi_power.unwrap(), 1600.0 / 300.0));
        assert!(close(f.roi_power_above_idle.unwrap(), 1600.0 / 70.0));
        // Other exponents: T^3 / P^2 = 64000 / 90000.
        let g = roi(40.0, 2.0, Some(300.0), None, 3.0, 2.0);
        assert!(close(g.roi_cpu.unwrap(), 32000.0) && close(g.roi_power.unwrap(), 64000.0 / 90000.0));
        assert_eq!(g.roi_power_above_idle, None, "no idle figure, no above-idle ROI");
        // Zero CPU: undefined, not infinite.
        let z = roi(10.0, 0.0, Some(100.0), None, 2.0, 1.0);
        assert_eq!(z.roi_cpu, None);
        assert!(close(z.roi_power.unwrap(), 1.0));
        // Missing power: no power ROI, the CPU one still stands.
        let m = roi(10.0, 2.0, None, Some(50.0), 2.0, 1.0);
        assert_eq!((m.roi_power, m.roi_power_above_idle), (None, None));
        assert!(close(m.roi_cpu.unwrap(), 50.0));
        // Power at or below idle: no above-idle figure.
        assert_eq!(roi(10.0, 1.0, Some(200.0), Some(230.0), 2.0, 1.0).roi_power_above_idle, None);
        // No throughput is a real 0, not a missing figure.
        assert_eq!(roi(0.0, 1.0, Some(100.0), None, 2.0, 1.0).roi_cpu, Some(0.0));
    }

    #[test]
    fn spread_with_missing_values_trims_by_position() {
        // 5 runs, the 3rd without a reading: kept = runs 2 and 4 (10, 30).
        let sp = spread_of(&[Some(100.0), Some(10.0), None, Some(30.0), Some(1.0)]).unwrap();
        assert_eq!((sp.n, sp.missing, sp.kept), (5, 1, 2));
        assert!(close(sp.trimmed_mean, 20.0));
        assert!(close(sp.stddev, 200f64.sqrt()), "{}", sp.stddev);
        assert_eq!((sp.min, sp.max), (1.0, 100.0));
        // The first run missing: it is still the one dropped.
        let sp = spread_of(&[None, Some(4.0), Some(6.0), Some(50.0)]).unwrap();
        assert_eq!((sp.kept, sp.trimmed_mean), (2, 5.0));
        // Only the trimmed runs have values: the mean of what there is.
        let sp = spread_of(&[Some(2.0), None, Some(4.0)]).unwrap();
        assert_eq!((sp.kept, sp.trimmed_mean, sp.missing), (2, 3.0, 1));
        // N < 3: nothing dropped; none present: no spread at all.
        assert_eq!(spread_of(&[None, Some(8.0)]).unwrap().trimmed_mean, 8.0);
        assert_eq!(spread_of(&[None, None, None]), None);
    }

    #[test]
    fn power_means_skip_missing_intervals_and_weight_by_length() {
        use crate::results::schema::{PowerKind, PowerSource};
        let mut side: Side = serde_json::from_str(include_str!("../../tests/data/result-v2-netns.json"))
            .map(|r: serde_json::Value| serde_json::from_value(r["receiver"].clone()).unwrap())
            .unwrap();
        side.power_sources = vec![PowerSource {
            name: "cmd".into(),
            kind: PowerKind::Wall,
            source: "t".into(),
            idle_w: Some(100.0),
            idle_from: None,
            errors: vec![],
            notes: vec![],
        }];
        side.samples = vec![s(true, 0, 0.0), s(false, 0, 0.0), s(false, 0, 0.0), s(false, 0, 0.0)];
        side.samples[0].power_w = vec![Some(999.0)]; // warm-up: not counted
        side.samples[1].power_w = vec![Some(200.0)];
        side.samples[2].power_w = vec![None]; // missing: not 0 W
        side.samples[3].power_w = vec![Some(300.0)];
        side.samples[3].dt_s = 3.0;
        let p = power_summary("receiver", &side);
        assert_eq!((p[0].present, p[0].missing), (2, 1));
        assert!(close(p[0].mean_w.unwrap(), (200.0 + 900.0) / 4.0));
        side.samples.iter_mut().for_each(|s| s.power_w = vec![None]);
        let p = power_summary("receiver", &side);
        assert_eq!((p[0].mean_w, p[0].present, p[0].missing), (None, 0, 3));
    }

    #[test]
    fn headline_names_are_the_documented_columns() {
        let r: RunResult = serde_json::from_str(include_str!("../../tests/data/result-v2-netns.json")).unwrap();
        let names: Vec<&str> = headline(&r).iter().map(|h| h.0).collect();
        assert_eq!(names, HEADLINE);
        let runs = vec![r.clone(), r.clone(), r];
        let f = series_figures(&runs);
        assert_eq!(f["gbps"].kept, 1);
        assert!(!f.contains_key("receiver_w"), "a figure no run has is left out");
    }
}

//! Figures derived from result data: the window summary of one run, and the
//! statistics a series of runs needs (trimmed mean, min/max, spread).

use super::schema::{CoreUtil, Cores, Sample, Side, Summary};

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
/// receiver's clock, CPU of the app/net/sender cores from the window snapshots.
pub fn summarize(receiver: &Side, sender: Option<&Side>) -> Summary {
    let (rx_bytes, local_tx) = window_bytes(&receiver.samples);
    let tx_bytes = match sender {
        Some(s) => window_bytes(&s.samples).1,
        None => local_tx,
    };
    let secs = receiver.window_s;
    let gbps = gbps(rx_bytes, secs);
    let find = |side: &Side, c: usize| side.window_cpu.iter().find(|u| u.cpu == c).copied();
    let l = &receiver.layout;
    let receiver_cores = Cores::sum(cores_of(&receiver.window_cpu, &[l.app_cpu, l.net_cpu]));
    let sender_util = match sender {
        Some(s) => s.layout.sender_cpu.and_then(|c| find(s, c)),
        None => l.sender_cpu.and_then(|c| find(receiver, c)),
    };
    let retransmits = sender.unwrap_or(receiver).samples.iter().rev().find_map(|s| s.tcp_tx.map(|t| t.total_retrans));
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
    }
}

/// How a series of repeats of one case comes out: the reference study's trimmed
/// mean (5 runs, drop first and last, mean of the middle 3) and the spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub n: usize,
    /// Mean without the first and last run when there are 3 or more, else the plain mean.
    pub trimmed_mean: f64,
    /// How many runs the trimmed mean is of.
    pub kept: usize,
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation of the kept runs (0 for one run).
    pub stddev: f64,
}

/// The spread of `values` in run order; None for no values. Runs are dropped
/// by position (the first is warm caches, the last may overlap teardown), not
/// by value.
pub fn spread(values: &[f64]) -> Option<Spread> {
    if values.is_empty() {
        return None;
    }
    let kept = if values.len() >= 3 { &values[1..values.len() - 1] } else { values };
    let mean = kept.iter().sum::<f64>() / kept.len() as f64;
    let stddev = if kept.len() > 1 {
        (kept.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (kept.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    Some(Spread {
        n: values.len(),
        trimmed_mean: mean,
        kept: kept.len(),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        stddev,
    })
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
}

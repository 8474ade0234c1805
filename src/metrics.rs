//! Summaries derived from samples and CPU snapshots.

use crate::sample::Sample;
use crate::sample::procstat::CoreUtil;
use serde::{Deserialize, Serialize};

/// Cores' worth of time per state, summed over a set of cores.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Cores {
    pub busy: f64,
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub irq: f64,
    pub softirq: f64,
    pub iowait: f64,
    pub steal: f64,
}

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

/// Sum of the measured (non-warm-up) intervals.
pub fn window_bytes(samples: &[Sample]) -> (u64, u64) {
    samples.iter().filter(|s| !s.warmup).fold((0, 0), |(r, t), s| (r + s.rx_bytes, t + s.tx_bytes))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(warmup: bool, rx: u64) -> Sample {
        Sample {
            t_s: 0.0,
            dt_s: 1.0,
            warmup,
            rx_bytes: rx,
            tx_bytes: rx + 1,
            rx_gbps: 0.0,
            cpu: vec![],
            tcp_rx: None,
            tcp_tx: None,
        }
    }

    #[test]
    fn warmup_is_excluded() {
        assert_eq!(window_bytes(&[s(true, 100), s(false, 10), s(false, 20)]), (30, 32));
        assert!((gbps(1_000_000_000, 8.0) - 1.0).abs() < 1e-12);
        assert_eq!(gbps(5, 0.0), 0.0);
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
}

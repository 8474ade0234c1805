//! What is read only at the measured window's two edges: cpuidle residency,
//! softirq counts, perf counters of the measured cores and the receiving
//! device's netdev statistics. Anything a host cannot give is recorded with
//! the reason, never as zeros.

use super::{cpuidle, softirqs};
use crate::results::schema::{
    CorePerf, CoreSoftirqs, CoreUtil, IdleResidency, NetdevBlock, NetdevStats, PagePoolStats, PerfCount, PerfCounters,
    QueueStats, Softirqs,
};
use crate::sys::netlink::NlSocket;
use crate::sys::netlink::netdev::{self, PoolCounters, QueueCounters};
use crate::sys::perf::{CORE_EVENTS, CoreCounter, Reading};
use std::collections::BTreeMap;
use std::path::Path;

const CPU_ROOT: &str = "/sys/devices/system/cpu";

/// The device whose netdev statistics are read, with a generic-netlink socket
/// opened in its namespace.
pub struct NetdevTarget {
    pub sock: NlSocket,
    pub name: String,
    pub ifindex: u32,
}

/// What the window probes look at.
pub struct WindowConfig {
    /// Measured cores and their roles ("app", "net", "sender"); perf counts these.
    pub cores: Vec<(usize, Vec<String>)>,
    pub perf: bool,
    pub netdev: Option<NetdevTarget>,
}

/// One edge of the window.
pub struct Edge {
    idle: Option<cpuidle::Snapshot>,
    softirqs: Result<Vec<(usize, u64, u64)>, String>,
    perf: Vec<Vec<Result<Reading, String>>>,
    qstats: Result<Vec<QueueCounters>, String>,
    pools: Result<Vec<PoolCounters>, String>,
}

pub struct Probes {
    cfg: WindowConfig,
    counters: Vec<Vec<CoreCounter>>,
}

/// The window's blocks for the result.
pub struct WindowBlocks {
    pub idle: IdleResidency,
    pub softirqs: Softirqs,
    pub perf: Option<PerfCounters>,
    pub netdev: Option<NetdevStats>,
}

impl Probes {
    /// Open the perf counters now (before the warm-up), so opening costs
    /// nothing inside the window.
    pub fn new(cfg: WindowConfig) -> Probes {
        let counters = if cfg.perf {
            cfg.cores.iter().map(|(c, _)| CORE_EVENTS.iter().map(|e| CoreCounter::open(e, *c)).collect()).collect()
        } else {
            Vec::new()
        };
        Probes { cfg, counters }
    }

    pub fn edge(&mut self) -> Edge {
        let cores: Vec<usize> = crate::sys::cpu::online_cpus().unwrap_or_default();
        let (qstats, pools) = match &mut self.cfg.netdev {
            Some(t) => (netdev::qstats(&mut t.sock, t.ifindex), netdev::page_pool_stats(&mut t.sock, t.ifindex)),
            None => (Err(String::new()), Err(String::new())),
        };
        Edge {
            idle: cpuidle::snapshot(Path::new(CPU_ROOT), &cores),
            softirqs: softirqs::read(),
            perf: self.counters.iter_mut().map(|cs| cs.iter_mut().map(CoreCounter::read).collect()).collect(),
            qstats,
            pools,
        }
    }

    /// The blocks from the window's start and end edges.
    pub fn blocks(&self, a: Edge, b: Edge, window_s: f64, cpu: &[CoreUtil]) -> WindowBlocks {
        let root = Path::new(CPU_ROOT);
        let driver = std::fs::read_to_string(root.join("cpuidle/current_driver")).ok().map(|s| s.trim().to_string());
        let idle = match (cpuidle::unavailable(root), &a.idle, &b.idle) {
            (None, Some(x), Some(y)) => cpuidle::residency(driver, x, y, window_s, cpu),
            (why, _, _) => IdleResidency {
                driver,
                unavailable: Some(why.unwrap_or_else(|| "the cores have no cpuidle states in sysfs".into())),
                cores: Vec::new(),
            },
        };
        let softirqs = match (a.softirqs, b.softirqs) {
            (Ok(x), Ok(y)) => Softirqs {
                unavailable: None,
                cores: x
                    .iter()
                    .zip(&y)
                    .map(|(s, e)| CoreSoftirqs {
                        cpu: s.0,
                        net_rx: e.1.saturating_sub(s.1),
                        net_tx: e.2.saturating_sub(s.2),
                    })
                    .collect(),
            },
            (Err(e), _) | (_, Err(e)) => Softirqs { unavailable: Some(e), cores: Vec::new() },
        };
        WindowBlocks {
            idle,
            softirqs,
            perf: self.perf(&a.perf, &b.perf),
            netdev: self.netdev(a.qstats, b.qstats, a.pools, b.pools),
        }
    }

    fn perf(&self, a: &[Vec<Result<Reading, String>>], b: &[Vec<Result<Reading, String>>]) -> Option<PerfCounters> {
        if !self.cfg.perf {
            return None;
        }
        let cores = self
            .cfg
            .cores
            .iter()
            .zip(a.iter().zip(b))
            .map(|((cpu, roles), (ra, rb))| CorePerf {
                cpu: *cpu,
                roles: roles.clone(),
                counters: CORE_EVENTS.iter().zip(ra.iter().zip(rb)).map(|(ev, (x, y))| count(ev, x, y)).collect(),
            })
            .collect();
        Some(PerfCounters { unavailable: None, cores })
    }

    fn netdev(
        &self,
        qa: Result<Vec<QueueCounters>, String>,
        qb: Result<Vec<QueueCounters>, String>,
        pa: Result<Vec<PoolCounters>, String>,
        pb: Result<Vec<PoolCounters>, String>,
    ) -> Option<NetdevStats> {
        let t = self.cfg.netdev.as_ref()?;
        let qstats = match (qa, qb) {
            (Ok(a), Ok(b)) => NetdevBlock {
                unavailable: None,
                items: b
                    .iter()
                    .filter_map(|e| {
                        let s = a.iter().find(|s| s.queue_type == e.queue_type && s.queue_id == e.queue_id)?;
                        Some(QueueStats {
                            queue_type: if e.queue_type == 0 { "rx".into() } else { "tx".into() },
                            queue_id: e.queue_id,
                            counters: diff(&s.counters, &e.counters),
                        })
                    })
                    .collect(),
            },
            (Err(e), _) | (_, Err(e)) => NetdevBlock { unavailable: Some(e), items: Vec::new() },
        };
        let page_pools = match (pa, pb) {
            (Ok(a), Ok(b)) => NetdevBlock {
                unavailable: None,
                items: b
                    .iter()
                    .map(|e| {
                        let empty = BTreeMap::new();
                        let s = a.iter().find(|s| s.id == e.id).map_or(&empty, |s| &s.counters);
                        PagePoolStats { id: e.id, counters: diff(s, &e.counters) }
                    })
                    .collect(),
            },
            (Err(e), _) | (_, Err(e)) => NetdevBlock { unavailable: Some(e), items: Vec::new() },
        };
        Some(NetdevStats { device: t.name.clone(), ifindex: t.ifindex, qstats, page_pools })
    }
}

fn diff(a: &BTreeMap<&'static str, u64>, b: &BTreeMap<&'static str, u64>) -> BTreeMap<String, u64> {
    b.iter().map(|(k, v)| (k.to_string(), v.saturating_sub(a.get(k).copied().unwrap_or(0)))).collect()
}

/// One event over the window, scaled when the kernel multiplexed it.
pub fn count(event: &str, a: &Result<Reading, String>, b: &Result<Reading, String>) -> PerfCount {
    match (a, b) {
        (Ok(x), Ok(y)) => {
            let enabled = y.enabled_ns.saturating_sub(x.enabled_ns);
            let running = y.running_ns.saturating_sub(x.running_ns);
            let delta = y.count.saturating_sub(x.count);
            if running == 0 {
                return PerfCount {
                    event: event.into(),
                    value: None,
                    running_share: Some(0.0),
                    unavailable: Some("the counter never ran in the window (all PMU slots taken?)".into()),
                };
            }
            let share = running as f64 / enabled.max(1) as f64;
            let value = if running < enabled { (delta as f64 / share).round() as u64 } else { delta };
            PerfCount { event: event.into(), value: Some(value), running_share: Some(share), unavailable: None }
        }
        (Err(e), _) | (_, Err(e)) => {
            PerfCount { event: event.into(), value: None, running_share: None, unavailable: Some(e.clone()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplexed_counts_are_scaled_and_failures_named() {
        let r = |count, enabled_ns, running_ns| Ok(Reading { count, enabled_ns, running_ns });
        let c = count("cycles", &r(100, 0, 0), &r(1100, 1000, 500));
        assert_eq!((c.value, c.running_share), (Some(2000), Some(0.5)));
        let c = count("cpu-clock", &r(0, 0, 0), &r(7, 10, 10));
        assert_eq!(c.value, Some(7));
        let c = count("cycles", &Err("cycles: no such counter".into()), &Err("x".into()));
        assert_eq!((c.value, c.unavailable.as_deref()), (None, Some("cycles: no such counter")));
    }
}

//! Figures over several flows (`--flows`): the totals of the data paths'
//! counters, each flow's window figures, Jain's fairness index, and the cores
//! every flow touched. A total is always the sum of the flows' figures.

use super::schema::{Layout, RxStats, Sample, SyscallStat, SyscallTimes, TxStats, UringInfo, ZeroCopy};

impl Layout {
    /// Every receiving core (app and net) of every flow, each once.
    pub fn receiver_cpus(&self) -> Vec<usize> {
        let mut v = vec![self.app_cpu, self.net_cpu];
        v.extend(self.flows.iter().flat_map(|f| [f.app_cpu, f.net_cpu]));
        distinct(v)
    }

    /// Every sending core of every flow, each once.
    pub fn sender_cpus(&self) -> Vec<usize> {
        distinct(self.sender_cpu.into_iter().chain(self.flows.iter().filter_map(|f| f.sender_cpu)).collect())
    }
}

fn distinct(v: Vec<usize>) -> Vec<usize> {
    let mut out = Vec::new();
    for c in v {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

impl Sample {
    /// The sending sockets' retransmits so far (TCP_INFO total_retrans), summed
    /// over flows; None when no sender was read.
    pub fn retransmits(&self) -> Option<u32> {
        if self.flows.is_empty() {
            return self.tcp_tx.map(|t| t.total_retrans);
        }
        let v: Vec<u32> = self.flows.iter().filter_map(|f| f.tcp_tx.map(|t| t.total_retrans)).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    }
}

/// Jain's fairness index, (sum x)^2 / (n * sum x^2); None for no flows or no traffic.
pub fn fairness(x: &[f64]) -> Option<f64> {
    let sq: f64 = x.iter().map(|v| v * v).sum();
    if x.is_empty() || sq <= 0.0 {
        return None;
    }
    let s: f64 = x.iter().sum();
    Some(s * s / (x.len() as f64 * sq))
}

fn zero_copy_sum<'a>(it: impl Iterator<Item = Option<&'a ZeroCopy>>) -> Option<ZeroCopy> {
    let all: Vec<&ZeroCopy> = it.flatten().collect();
    let first = all.first()?;
    let zc = all.iter().map(|z| z.zero_copy_bytes).sum();
    let copied = all.iter().map(|z| z.copied_bytes).sum();
    Some(ZeroCopy::new(zc, copied, &first.source))
}

fn uring_sum<'a>(it: impl Iterator<Item = Option<&'a UringInfo>>) -> Option<UringInfo> {
    let all: Vec<&UringInfo> = it.flatten().collect();
    all.first()?;
    Some(UringInfo {
        cqes: all.iter().map(|u| u.cqes).sum(),
        rearms: all.iter().map(|u| u.rearms).sum(),
        bundles: all.iter().any(|u| u.bundles),
        plain_ring_fallback: all.iter().any(|u| u.plain_ring_fallback),
        notifications: all.iter().map(|u| u.notifications).sum(),
    })
}

/// Syscall times of several threads as one table: counts and totals add,
/// min and max are over all, mean and stddev are those of all calls together
/// (pooled from each table's count, mean and stddev).
fn syscalls_sum<'a>(it: impl Iterator<Item = Option<&'a SyscallTimes>>) -> Option<SyscallTimes> {
    let all: Vec<&SyscallTimes> = it.flatten().collect();
    let first = all.first()?;
    let mut calls: Vec<SyscallStat> = Vec::new();
    // Per kind: the stats and, for pooling, sum of squares.
    let mut sq: Vec<f64> = Vec::new();
    for t in &all {
        for c in &t.calls {
            let n = c.calls as f64;
            let own_sq = c.stddev_ns.powi(2) * (n - 1.0).max(0.0) + n * c.mean_ns * c.mean_ns;
            match calls.iter().position(|x| x.syscall == c.syscall) {
                Some(i) => {
                    let x = &mut calls[i];
                    x.min_ns = x.min_ns.min(c.min_ns);
                    x.max_ns = x.max_ns.max(c.max_ns);
                    x.calls += c.calls;
                    x.errors += c.errors;
                    x.total_ns += c.total_ns;
                    sq[i] += own_sq;
                }
                None => {
                    calls.push(c.clone());
                    sq.push(own_sq);
                }
            }
        }
    }
    for (x, s) in calls.iter_mut().zip(&sq) {
        let n = x.calls as f64;
        x.mean_ns = if n > 0.0 { x.total_ns as f64 / n } else { 0.0 };
        x.stddev_ns = if n > 1.0 { ((s - n * x.mean_ns * x.mean_ns) / (n - 1.0)).max(0.0).sqrt() } else { 0.0 };
    }
    Some(SyscallTimes {
        clock: first.clock.clone(),
        clock_pair_ns: first.clock_pair_ns,
        overhead_s: all.iter().map(|t| t.overhead_s).sum(),
        calls,
    })
}

/// The receive counters of several flows as one: counts add, the zero-copy
/// proof adds its bytes. A mode's own block (devmem, zcrx) stays per flow.
pub fn rx_total(flows: &[&RxStats]) -> RxStats {
    RxStats {
        bytes: flows.iter().map(|s| s.bytes).sum(),
        calls: flows.iter().map(|s| s.calls).sum(),
        errors: flows.iter().map(|s| s.errors).sum(),
        polls: flows.iter().map(|s| s.polls).sum(),
        validated_bytes: flows.iter().map(|s| s.validated_bytes).sum(),
        zero_copy: zero_copy_sum(flows.iter().map(|s| s.zero_copy.as_ref())),
        uring: uring_sum(flows.iter().map(|s| s.uring.as_ref())),
        syscalls: syscalls_sum(flows.iter().map(|s| s.syscalls.as_ref())),
        devmem: None,
        zcrx: None,
    }
}

/// The transmit counters of several flows as one (see [`rx_total`]).
pub fn tx_total(flows: &[&TxStats]) -> TxStats {
    TxStats {
        bytes: flows.iter().map(|s| s.bytes).sum(),
        calls: flows.iter().map(|s| s.calls).sum(),
        errors: flows.iter().map(|s| s.errors).sum(),
        polls: flows.iter().map(|s| s.polls).sum(),
        zero_copy: zero_copy_sum(flows.iter().map(|s| s.zero_copy.as_ref())),
        completions: flows.iter().map(|s| s.completions).sum(),
        errqueue_reads: flows.iter().map(|s| s.errqueue_reads).sum(),
        unconfirmed_bytes: flows.iter().map(|s| s.unconfirmed_bytes).sum(),
        uring: uring_sum(flows.iter().map(|s| s.uring.as_ref())),
        syscalls: syscalls_sum(flows.iter().map(|s| s.syscalls.as_ref())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_index_is_one_for_equal_flows_and_one_over_n_for_one() {
        assert_eq!(fairness(&[2.0, 2.0, 2.0, 2.0]), Some(1.0));
        assert!((fairness(&[4.0, 0.0, 0.0, 0.0]).unwrap() - 0.25).abs() < 1e-12);
        // (1+2+3)^2 / (3 * (1+4+9)) = 36 / 42
        assert!((fairness(&[1.0, 2.0, 3.0]).unwrap() - 36.0 / 42.0).abs() < 1e-12);
        assert_eq!(fairness(&[]), None);
        assert_eq!(fairness(&[0.0, 0.0]), None);
    }

    #[test]
    fn pooled_syscall_times_equal_those_of_all_calls() {
        // Calls of 10, 20 (one thread) and 30, 40, 50 ns (another).
        let stat = |v: &[f64]| {
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            SyscallTimes {
                clock: "c".into(),
                clock_pair_ns: 1.0,
                overhead_s: 0.5,
                calls: vec![SyscallStat {
                    syscall: "recv".into(),
                    calls: v.len() as u64,
                    errors: 1,
                    total_ns: v.iter().sum::<f64>() as u64,
                    min_ns: v.iter().copied().fold(f64::MAX, f64::min) as u64,
                    mean_ns: mean,
                    max_ns: v.iter().copied().fold(0.0, f64::max) as u64,
                    stddev_ns: sd,
                }],
            }
        };
        let (a, b) = (stat(&[10.0, 20.0]), stat(&[30.0, 40.0, 50.0]));
        let all = stat(&[10.0, 20.0, 30.0, 40.0, 50.0]);
        let s = syscalls_sum([Some(&a), Some(&b)].into_iter()).unwrap();
        let (x, y) = (&s.calls[0], &all.calls[0]);
        assert_eq!((x.calls, x.errors, x.total_ns, x.min_ns, x.max_ns), (5, 2, 150, 10, 50));
        assert!((x.mean_ns - y.mean_ns).abs() < 1e-9 && (x.stddev_ns - y.stddev_ns).abs() < 1e-9, "{x:?} {y:?}");
        assert_eq!(s.overhead_s, 1.0);
    }

    #[test]
    fn totals_add_and_zero_copy_share_is_recomputed() {
        let a = RxStats { bytes: 100, calls: 3, zero_copy: Some(ZeroCopy::new(90, 10, "k")), ..Default::default() };
        let b = RxStats { bytes: 300, calls: 5, zero_copy: Some(ZeroCopy::new(300, 0, "k")), ..Default::default() };
        let t = rx_total(&[&a, &b]);
        assert_eq!((t.bytes, t.calls), (400, 8));
        assert_eq!(t.zero_copy.unwrap().zero_copy_share, 390.0 / 400.0);
    }
}

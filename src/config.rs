//! Turning command-line arguments into a checked run configuration. Everything
//! here is validated before zcbench touches the host.

use crate::cli::{FlowArgs, RxMode, TxMode};
use crate::error::{unsupported, usage};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const MAX_BUF: u64 = 1 << 30;
/// TCP_MIN_MSS and MAX_TCP_WINDOW: the range the kernel accepts for TCP_MAXSEG.
pub const MSS_RANGE: (u32, u32) = (88, 32767);

pub fn mode_name<T: clap::ValueEnum>(v: &T) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}

/// The flow, as both ends must agree on it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlowConfig {
    pub mode: RxMode,
    pub tx_mode: TxMode,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub interval_s: f64,
    pub msg_size: u64,
    pub read_size: u64,
    pub mss: Option<u32>,
    pub validate: bool,
    pub ipv6: bool,
    /// What zcbench decided on the user's behalf (e.g. the MSS for mmap).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Set when `--mode txrx-zc` chose the pair: "txrx-zc: rx X + tx Y".
    #[serde(default)]
    pub combined: Option<String>,
}

impl FlowConfig {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_s)
    }
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_s)
    }
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.interval_s)
    }

    /// sendfile repeats one file, so validation checks a pattern of that period.
    pub fn validation_period(&self) -> Option<u64> {
        (self.tx_mode == TxMode::Sendfile).then_some(self.msg_size)
    }

    /// Check every field (also used on what a remote client asks a server for).
    pub fn validate(&self) -> Result<()> {
        let d = self.duration_s;
        if d.is_nan() || d <= 0.0 {
            return Err(usage("--duration must be more than 0 (e.g. 10s)"));
        }
        if d > 86_400.0 {
            return Err(usage(format!("--duration {d}s is more than a day; pick a shorter run")));
        }
        if !(0.0..=3600.0).contains(&self.warmup_s) {
            return Err(usage("--warmup must be between 0 and 1h"));
        }
        if !(0.01..=3600.0).contains(&self.interval_s) {
            return Err(usage("--interval must be between 10ms and 1h"));
        }
        if (d + self.warmup_s) / self.interval_s > 1_000_000.0 {
            return Err(usage("--interval is so short that the run would take more than a million samples"));
        }
        for (name, v) in [("--msg-size", self.msg_size), ("--read-size", self.read_size)] {
            if v == 0 {
                return Err(usage(format!("{name} must be at least 1 byte")));
            }
            if v > MAX_BUF {
                return Err(usage(format!("{name} {v} is absurd: at most 1GiB")));
            }
        }
        if let Some(m) = self.mss
            && !(MSS_RANGE.0..=MSS_RANGE.1).contains(&m)
        {
            return Err(usage(format!(
                "--mss {m} is outside what the kernel accepts for TCP_MAXSEG ({}..={})",
                MSS_RANGE.0, MSS_RANGE.1
            )));
        }
        check_available(self.mode, self.tx_mode)
    }
}

/// The error for a mode the parser knows but this version cannot run yet.
pub fn not_available<T: clap::ValueEnum>(what: &str, mode: &T) -> anyhow::Error {
    unsupported(format!("{what} mode '{}' is not available yet in this zcbench version", mode_name(mode)))
}

/// Modes that this version can run, and that this kernel supports; the rest are
/// refused before anything on the host changes.
pub fn check_available(rx: RxMode, tx: TxMode) -> Result<()> {
    if matches!(rx, RxMode::Devmem | RxMode::Zcrx) {
        return Err(not_available("rx", &rx));
    }
    if tx == TxMode::Devmem {
        return Err(not_available("tx", &tx));
    }
    crate::sys::preflight::check(rx, tx)
}

/// The best zero-copy pair this host can run: receive with mmap (devmem and zcrx
/// need a capable NIC and are not in this version), transmit with SEND_ZC when
/// io_uring has it, else MSG_ZEROCOPY.
pub fn best_zero_copy_pair() -> (RxMode, TxMode) {
    let send_zc = crate::sys::uring::probe().map(|u| u.send_zc).unwrap_or(false);
    (RxMode::Mmap, if send_zc { TxMode::UringZc } else { TxMode::Zerocopy })
}

pub fn flow_from_args(a: &FlowArgs) -> Result<FlowConfig> {
    let (mode, tx_mode, combined) = if a.mode == RxMode::TxrxZc {
        let (rx, tx) = best_zero_copy_pair();
        let tx = a.tx_mode.unwrap_or(tx);
        (rx, tx, Some(format!("txrx-zc: rx {} + tx {}", mode_name(&rx), mode_name(&tx))))
    } else {
        (a.mode, a.tx_mode.unwrap_or(a.mode.default_tx()), None)
    };
    let mut f = FlowConfig {
        mode,
        tx_mode,
        duration_s: a.duration.as_secs_f64(),
        warmup_s: a.warmup.as_secs_f64(),
        interval_s: a.interval.as_secs_f64(),
        msg_size: a.msg_size,
        read_size: a.read_size,
        mss: a.mss,
        validate: a.validate,
        ipv6: a.ipv6,
        notes: combined.iter().cloned().collect(),
        combined,
    };
    f.validate()?;
    if f.mode == RxMode::Mmap && f.mss.is_none() {
        f.mss = Some(crate::rx::mmap::MMAP_MSS);
        f.notes.push(format!(
            "mmap: TCP_MAXSEG set to {} so each segment carries one 4 KiB page (timestamps take 12 bytes); --mss overrides",
            crate::rx::mmap::MMAP_MSS
        ));
    }
    Ok(f)
}

/// The MTU at which a segment of `mss` payload bytes plus timestamps fits exactly.
pub fn mtu_for_mss(mss: u32, ipv6: bool) -> u32 {
    mss + 20 + if ipv6 { 40 } else { 20 }
}

pub fn check_mtu(mtu: u32, ipv6: bool) -> Result<()> {
    let min = if ipv6 { 1280 } else { 68 };
    if !(min..=65535).contains(&mtu) {
        return Err(usage(format!("--mtu {mtu} is outside {min}..=65535")));
    }
    Ok(())
}

/// Which core does what, on one host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Layout {
    pub cpus: u8,
    pub app_cpu: usize,
    pub net_cpu: usize,
    /// The sending thread, when it runs on this host.
    pub sender_cpu: Option<usize>,
    /// The sampler thread (None: left to the scheduler, no core to spare).
    pub sampler_cpu: Option<usize>,
    /// The layout needs more cores than the host has, so measured threads share one.
    pub oversubscribed: bool,
    pub warnings: Vec<String>,
}

fn check_core(flag: &str, c: usize, online: &[usize]) -> Result<()> {
    if online.contains(&c) {
        return Ok(());
    }
    let list = online.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",");
    Err(usage(format!("{flag} {c}: this host has no core {c} (online cores: {list})")))
}

/// Place app, net, sender and sampler. `sender`: None when the sender is another
/// host, Some(choice) when it runs here.
pub fn resolve_layout(
    cpus: u8,
    app: Option<usize>,
    net: Option<usize>,
    sender: Option<Option<usize>>,
    online: &[usize],
) -> Result<Layout> {
    for (f, c) in [("--app-cpu", app), ("--net-cpu", net), ("--sender-cpu", sender.flatten())] {
        if let Some(c) = c {
            check_core(f, c, online)?;
        }
    }
    // Defaults take the highest-numbered cores first (core 0 usually carries housekeeping).
    let mut free: Vec<usize> = online.iter().rev().copied().collect();
    let take = |want: Option<usize>, free: &mut Vec<usize>| -> Option<usize> {
        match want {
            Some(c) => {
                free.retain(|&x| x != c);
                Some(c)
            }
            None if !free.is_empty() => Some(free.remove(0)),
            None => None,
        }
    };
    let (app_cpu, net_cpu) = match cpus {
        1 => {
            if let (Some(a), Some(n)) = (app, net)
                && a != n
            {
                return Err(usage(format!(
                    "--cpus 1 puts the app and its network processing on one core, but --app-cpu {a} and --net-cpu {n} differ (use --cpus 2)"
                )));
            }
            let c = take(app.or(net), &mut free).unwrap_or(online[0]);
            (c, c)
        }
        2 => {
            if app.is_some() && app == net {
                return Err(usage("--cpus 2 needs two different cores for --app-cpu and --net-cpu"));
            }
            let a = take(app, &mut free);
            let n = take(net, &mut free);
            match (a, n) {
                (Some(a), Some(n)) => (a, n),
                _ => return Err(usage("--cpus 2 needs two cores and this host has one")),
            }
        }
        other => return Err(usage(format!("--cpus {other}: only 1 or 2 are supported"))),
    };
    let mut warnings = Vec::new();
    let mut oversubscribed = false;
    let sender_cpu = match sender {
        None => None,
        Some(want) => {
            let s = take(want, &mut free).unwrap_or_else(|| {
                // No core left: share with the net core, which the sender disturbs least.
                oversubscribed = true;
                net_cpu
            });
            if s == app_cpu || s == net_cpu {
                oversubscribed = true;
            }
            Some(s)
        }
    };
    if oversubscribed {
        warnings.push(format!(
            "layout oversubscribes this {}-core host: sender on core {}, app on {}, net on {}; the sender's CPU competes with what is measured",
            online.len(),
            sender_cpu.unwrap_or(0),
            app_cpu,
            net_cpu
        ));
    }
    let sampler_cpu = free.first().copied();
    Ok(Layout { cpus, app_cpu, net_cpu, sender_cpu, sampler_cpu, oversubscribed, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ExitKind, exit_kind};

    #[test]
    fn one_cpu_on_two_cores_fits() {
        let l = resolve_layout(1, None, None, Some(None), &[0, 1]).unwrap();
        assert_eq!((l.app_cpu, l.net_cpu, l.sender_cpu), (1, 1, Some(0)));
        assert!(!l.oversubscribed);
        assert_eq!(l.sampler_cpu, None);
    }

    #[test]
    fn two_cpus_on_two_cores_oversubscribes_and_says_so() {
        let l = resolve_layout(2, None, None, Some(None), &[0, 1]).unwrap();
        assert_eq!((l.app_cpu, l.net_cpu), (1, 0));
        assert_eq!(l.sender_cpu, Some(0));
        assert!(l.oversubscribed);
        assert!(l.warnings[0].contains("oversubscribes"));
    }

    #[test]
    fn spare_core_goes_to_the_sampler() {
        let l = resolve_layout(2, None, None, Some(None), &[0, 1, 2, 3]).unwrap();
        assert_eq!((l.app_cpu, l.net_cpu, l.sender_cpu, l.sampler_cpu), (3, 2, Some(1), Some(0)));
    }

    #[test]
    fn bad_cores_are_usage_errors() {
        let e = resolve_layout(1, Some(7), None, None, &[0, 1]).unwrap_err();
        assert_eq!(exit_kind(&e), ExitKind::Usage);
        assert!(e.to_string().contains("no core 7"));
        assert!(resolve_layout(1, Some(0), Some(1), None, &[0, 1]).is_err());
        assert!(resolve_layout(2, Some(1), Some(1), None, &[0, 1]).is_err());
        assert!(resolve_layout(2, None, None, None, &[0]).is_err());
    }

    fn flow() -> FlowConfig {
        FlowConfig {
            mode: RxMode::Baseline,
            tx_mode: TxMode::Copy,
            duration_s: 1.0,
            warmup_s: 0.0,
            interval_s: 1.0,
            msg_size: 1,
            read_size: 1,
            mss: None,
            validate: false,
            ipv6: false,
            notes: vec![],
            combined: None,
        }
    }

    #[test]
    fn flow_limits() {
        assert!(flow().validate().is_ok());
        for bad in [
            FlowConfig { duration_s: 0.0, ..flow() },
            FlowConfig { msg_size: 0, ..flow() },
            FlowConfig { read_size: 1 << 40, ..flow() },
            FlowConfig { mss: Some(10), ..flow() },
            FlowConfig { interval_s: 0.001, ..flow() },
        ] {
            assert_eq!(exit_kind(&bad.validate().unwrap_err()), ExitKind::Usage, "{bad:?}");
        }
        let e = FlowConfig { mode: RxMode::Devmem, ..flow() }.validate().unwrap_err();
        assert_eq!(exit_kind(&e), ExitKind::Unsupported);
        assert!(e.to_string().contains("not available yet"));
    }
}

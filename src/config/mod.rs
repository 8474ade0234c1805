//! A checked description of what to run: the flow both ends agree on, the cores,
//! and the host and NIC settings asked for. Everything the user typed is checked
//! here, before the host is touched; what a mode needs, checks and decides is
//! asked of the mode registries (`rx::describe`, `tx::describe`).

pub mod layout;
pub mod measure;
pub mod study;
pub mod timing;

pub use layout::{CoresWanted, FlowCores, Layout, PerFlowCores, resolve_layout, spread_flows};
pub use measure::MeasureSpec;

use crate::domain::{DevmemOpts, RxMode, TestbedKind, TxMode, ZcrxOpts, name_of};
use crate::error::usage;
use crate::rx::Kind;
use crate::sys::mem::Backing;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;

pub const MAX_BUF: u64 = 1 << 30;
/// TCP_MIN_MSS and MAX_TCP_WINDOW: the range the kernel accepts for TCP_MAXSEG.
pub const MSS_RANGE: (u32, u32) = (88, 32767);

/// The flow as the user asked for it (before defaults are decided).
#[derive(Debug, Clone)]
pub struct FlowRequest {
    pub mode: RxMode,
    pub tx_mode: Option<TxMode>,
    pub duration: Duration,
    pub warmup: Duration,
    pub interval: Duration,
    pub msg_size: u64,
    pub read_size: u64,
    pub mss: Option<u32>,
    pub validate: bool,
    pub ipv6: bool,
    pub devmem: DevmemOpts,
    pub zcrx: ZcrxOpts,
    pub syscall_times: bool,
    pub flows: u32,
}

/// Most TCP connections one run opens (`--flows`).
pub const MAX_FLOWS: u32 = 64;

fn one_flow() -> u32 {
    1
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
    /// Names this run to other zcbench processes on the host (both ends of a
    /// two-host run share the client's), so they can tell who disturbs whom.
    #[serde(default)]
    pub run_id: String,
    /// devmem knobs (used by the devmem modes).
    #[serde(default)]
    pub devmem: DevmemOpts,
    /// io_uring zcrx knobs (used by `--mode zcrx`).
    #[serde(default)]
    pub zcrx: ZcrxOpts,
    /// Both data threads time their syscalls (`--syscall-times`).
    #[serde(default)]
    pub syscall_times: bool,
    /// TCP connections run at once, each with its own receiving and sending
    /// thread (`--flows`); every figure of the flow is per connection.
    #[serde(default = "one_flow")]
    pub flows: u32,
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

    /// How to build this flow's receive path.
    pub fn rx_params(&self, backing: Backing) -> crate::rx::Params {
        crate::rx::Params {
            mode: self.mode,
            read_size: self.read_size as usize,
            backing,
            devmem: self.devmem,
            zcrx: self.zcrx,
        }
    }

    /// How to build this flow's transmit path.
    pub fn tx_params(&self, backing: Backing) -> crate::tx::Params {
        crate::tx::Params { mode: self.tx_mode, msg_size: self.msg_size as usize, backing, devmem: self.devmem }
    }

    /// The period of the stream when the sender repeats one buffer (sendfile,
    /// devmem TX): validation checks a pattern of that period.
    pub fn validation_period(&self) -> Option<u64> {
        crate::tx::period(&self.tx_params(Backing::Pages))
    }

    /// Decide the defaults (the tx mode, a pair's modes, a mode's MSS), then
    /// check every field and ask the kernel whether it can run the modes.
    pub fn from_request(a: &FlowRequest) -> Result<FlowConfig> {
        let desc = crate::rx::describe(a.mode);
        let (mode, tx_mode, combined) = match &desc.kind {
            Kind::Pair(pick) => {
                if a.tx_mode == Some(TxMode::Copy) {
                    return Err(usage(format!(
                        "--mode {} is zero copy both ways; --tx-mode copy is not (for a zero-copy receiver \
                         with a copying sender, name the receive mode: e.g. --mode mmap --tx-mode copy)",
                        desc.name
                    )));
                }
                let (rx, tx) = pick();
                let tx = a.tx_mode.unwrap_or(tx);
                (rx, tx, Some(format!("{}: rx {} + tx {}", desc.name, name_of(&rx), name_of(&tx))))
            }
            Kind::Path(p) => (a.mode, a.tx_mode.unwrap_or(p.default_tx), None),
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
            run_id: crate::sys::running::new_run_id(),
            devmem: a.devmem,
            zcrx: a.zcrx,
            syscall_times: a.syscall_times,
            flows: a.flows,
        };
        f.validate()?;
        if let (None, Some((mss, why))) = (f.mss, crate::rx::path(f.mode).and_then(|p| p.mss)) {
            f.mss = Some(mss);
            f.notes.push(format!("{}: TCP_MAXSEG set to {mss} {why}; --mss overrides", name_of(&f.mode)));
        }
        Ok(f)
    }

    /// Check every field (also used on what a remote client asks a server for).
    pub fn validate(&self) -> Result<()> {
        timing::check_timing(self.duration_s, self.warmup_s, self.interval_s)?;
        if !(1..=MAX_FLOWS).contains(&self.flows) {
            return Err(usage(format!("--flows {}: 1 to {MAX_FLOWS} connections", self.flows)));
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
        // Each mode checks its own options; then what the kernel lacks is
        // refused before anything on the host changes.
        crate::rx::check_options(&self.rx_params(Backing::Pages))?;
        crate::tx::check_options(&self.tx_params(Backing::Pages))?;
        crate::rx::check_kernel(self.mode)?;
        crate::tx::check_kernel(self.tx_mode)
    }
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

/// `--hugepages`: a number of 2 MiB pages, or as many as the data buffers need
/// (the run works that out from its modes and sizes before planning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HugePages {
    Auto,
    Pages(u32),
}

/// Host and NIC settings asked for. `run::settings` checks each against the
/// device (nothing changes yet) and applies them through the undo journal.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub sysctl: Option<String>,
    pub hugepages: Option<HugePages>,
    /// `rx-gro-hw`: Some(true) on, Some(false) off.
    pub hw_gro: Option<bool>,
    pub sw_gro: Option<bool>,
    pub big_tcp: Option<u64>,
    pub big_tcp_rx: Option<u64>,
    pub big_tcp_tx: Option<u64>,
    pub header_split: Option<bool>,
    pub hds_thresh: Option<u32>,
    pub rx_ring: Option<u32>,
    pub tx_ring: Option<u32>,
    pub channels: Option<u32>,
    pub steer_queue: Option<u32>,
}

/// `zcbench run`: both ends on this host.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub flow: FlowConfig,
    /// --testbed ports: (receiving port, sending port).
    pub ports: Option<(String, String)>,
    pub cores: CoresWanted,
    /// Per-flow cores for `--flows` (`--app-cpus`, `--net-cpus`, `--sender-cpus`).
    pub flow_cores: PerFlowCores,
    pub sender_cpu: Option<usize>,
    pub testbed: TestbedKind,
    pub mtu: Option<u32>,
    pub port: u16,
    pub settings: Settings,
    pub measure: MeasureSpec,
}

/// `zcbench server`: the receiving host of a two-host run.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub listen: IpAddr,
    pub control_port: u16,
    pub port: u16,
    pub cores: CoresWanted,
    /// Per-flow receiving cores for a client's `--flows` (`--app-cpus`, `--net-cpus`).
    pub flow_cores: PerFlowCores,
    pub dev: Option<String>,
    pub mtu: Option<u32>,
    pub settings: Settings,
    pub max_duration: Duration,
    /// The largest receive buffer a client may make this server allocate.
    pub max_buffer: u64,
    pub once: bool,
    pub measure: MeasureSpec,
}

/// `zcbench client`: the sending host of a two-host run.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub server: String,
    pub control_port: u16,
    pub flow: FlowConfig,
    pub sender_cpu: Option<usize>,
    /// Per-flow sending cores for `--flows` (`--sender-cpus`).
    pub sender_cpus: Vec<usize>,
    pub dev: Option<String>,
    pub mtu: Option<u32>,
    pub settings: Settings,
    pub measure: MeasureSpec,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ExitKind, exit_kind};

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
            run_id: String::new(),
            devmem: DevmemOpts::default(),
            zcrx: ZcrxOpts::default(),
            syscall_times: false,
            flows: 1,
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
            FlowConfig { flows: 0, ..flow() },
            FlowConfig { flows: MAX_FLOWS + 1, ..flow() },
        ] {
            assert_eq!(exit_kind(&bad.validate().unwrap_err()), ExitKind::Usage, "{bad:?}");
        }
        for zcrx in [
            ZcrxOpts { rq_entries: 3, ..Default::default() },
            ZcrxOpts { rq_entries: 65536, ..Default::default() },
            ZcrxOpts { cq_entries: 2, ..Default::default() },
            ZcrxOpts { refill_batch: 8192, ..Default::default() },
            ZcrxOpts { rx_buf_len: Some(6000), ..Default::default() },
            ZcrxOpts { area_size: 1000, ..Default::default() },
        ] {
            let e = FlowConfig { zcrx, ..flow() }.validate().unwrap_err();
            assert_eq!(exit_kind(&e), ExitKind::Usage, "{zcrx:?}: {e}");
        }
    }
}

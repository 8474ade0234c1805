//! The result file, field by field: one JSON document per run. These types are
//! the file format and nothing else; the code that measures fills them, and a
//! field renamed here is a format change (bump [`SCHEMA_VERSION`] when a
//! field's meaning changes, and teach `results::read` the old one). The wire
//! protocol between two hosts reuses them.
//!
//! Tests read real result files of every version (tests/data) and write them
//! back unchanged.

mod blocks;
mod flows;
mod paths;
pub mod series;
mod zcrx;

pub use blocks::*;
pub use flows::*;
pub use paths::*;
pub use zcrx::*;

use crate::domain::{RxMode, TxMode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// 2: `changes` entries name a `setting` (was `path`) and say whether it `changed`.
/// 3: added (all optional when read): power sources and per-sample watts,
/// idle-state residency, softirqs, perf counters, netdev stats, syscall costs,
/// ROI, the series tag, the sampler's whole overhead, the receive side's zcrx
/// section; `interrupted` (the figures cover only what was measured before
/// Ctrl-C), `other_zcbench` (other zcbench runs measured on the host
/// meanwhile) and `output_lines_dropped`, left out of the file when false /
/// empty / 0. Version 2 files
/// read as version 3 with those absent (`results::read`).
/// 4: several flows at once (`--flows`): `flow.flows`, `layout.flows`,
/// `receiver.flows` / `sender.flows`, `samples[].flows` and `summary.flows`
/// (per-flow figures, fairness, every core touched), all absent for one flow;
/// a version 3 file reads as one flow and keeps `schema_version: 3`.
pub const SCHEMA_VERSION: u32 = 4;
/// The oldest version `results::read` still reads.
pub const OLDEST_READABLE: u32 = 1;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    pub schema_version: u32,
    pub zcbench: Build,
    /// RFC 3339, seconds.
    pub timestamp: String,
    /// "netns", "lo" or "two-host".
    pub topology: String,
    pub flow: Flow,
    /// MTU of the link the flow crossed, when zcbench set it.
    pub mtu: Option<u32>,
    pub receiver: Side,
    /// The sender's host when it is not the receiver's.
    pub sender: Option<Side>,
    pub summary: Summary,
    /// Stopped by Ctrl-C/SIGTERM before the window ended: the figures cover the
    /// `summary.measured_s` seconds measured until then.
    #[serde(default, skip_serializing_if = "is_false")]
    pub interrupted: bool,
    /// Other zcbench processes measuring on this host during the flow ("pid N
    /// (`command`)"): they shared its cores, so the figures are disturbed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_zcbench: Vec<String>,
    /// Lines zcbench dropped while this run ran, because stdout or stderr was
    /// not read fast enough (nothing measured waits for output). Absent: none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub output_lines_dropped: u64,
    /// Set when the run is one of a series (`--repeat`, a study case).
    #[serde(default)]
    pub series: Option<SeriesTag>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Build {
    pub version: String,
    /// `git describe` of the source the binary was built from.
    pub git: String,
}

/// The flow both ends ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Flow {
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
    /// What zcbench decided on the user's behalf.
    pub notes: Vec<String>,
    /// Set when `--mode txrx-zc` chose the pair.
    pub combined: Option<String>,
    /// The data threads timed their syscalls (`--syscall-times`).
    #[serde(default)]
    pub syscall_times: bool,
    /// Exponents of the ROI figures: T^n / C and T^n / P^m (`--roi-n`, `--roi-m`).
    #[serde(default = "default_roi_n")]
    pub roi_n: f64,
    #[serde(default = "default_roi_m")]
    pub roi_m: f64,
    /// TCP connections run at once (`--flows`); absent: 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub flows: u32,
}

fn one() -> u32 {
    1
}
fn is_one(n: &u32) -> bool {
    *n == 1
}

fn default_roi_n() -> f64 {
    2.0
}
fn default_roi_m() -> f64 {
    1.0
}

/// One host's view of the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Side {
    /// "receiver+sender" (local), "receiver" or "sender".
    pub role: String,
    pub host: Host,
    pub layout: Layout,
    /// How receive processing was steered to the net core.
    pub net_steering: Option<String>,
    /// Every setting changed for the run (all restored afterwards).
    pub changes: Vec<Change>,
    pub local_addr: Option<String>,
    pub peer_addr: Option<String>,
    /// TCP_MAXSEG read back from the connected socket.
    pub mss: Option<u32>,
    pub rx: Option<RxStats>,
    pub tx: Option<TxStats>,
    pub rx_thread: Option<ThreadUsage>,
    pub tx_thread: Option<ThreadUsage>,
    pub sampler: SamplerInfo,
    pub window_s: f64,
    /// Every core over the measured window.
    pub window_cpu: Vec<CoreUtil>,
    pub cut_short: bool,
    pub samples: Vec<Sample>,
    /// Wall-clock time (Unix seconds) of the timeline's zero: sample `i` covers
    /// `start_unix_s + t_s - dt_s ..= start_unix_s + t_s` (aligns `--power-log`).
    #[serde(default)]
    pub start_unix_s: Option<f64>,
    /// Power sources of this host; each sample's `power_w[i]` is source `i`.
    #[serde(default)]
    pub power_sources: Vec<PowerSource>,
    #[serde(default)]
    pub idle_states: Option<IdleResidency>,
    #[serde(default)]
    pub softirqs: Option<Softirqs>,
    #[serde(default)]
    pub perf: Option<PerfCounters>,
    #[serde(default)]
    pub netdev: Option<NetdevStats>,
    /// Each flow's ends, cores, counters and fate (`--flows` > 1; `rx`/`tx`
    /// above are then the sums over flows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<FlowSide>,
    /// The rx queue each connection of this host last received on, in the
    /// kernel's view (receiving side on a NIC only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ConnQueue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Host {
    pub hostname: String,
    pub kernel: String,
    pub kernel_version: String,
    pub arch: String,
    pub cpu_model: String,
    pub cores_online: Vec<usize>,
    pub user_hz: u64,
    /// Sysctls that change what one TCP flow can do, as the receiver's namespace sees them.
    pub sysctls: BTreeMap<String, String>,
    pub devices: Vec<Device>,
    #[serde(default)]
    pub idle: Idle,
}

/// How idle cores sleep (it decides what a wake-up IPI costs its sender).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Idle {
    pub driver: Option<String>,
    pub governor: Option<String>,
    /// cpuidle-haltpoll (KVM guests): how long an idle vCPU polls before halting.
    pub guest_halt_poll_ns: Option<u64>,
    /// Core 0's idle states by name.
    pub states: Vec<String>,
}

/// Which core did what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Layout {
    pub cpus: u8,
    pub app_cpu: usize,
    pub net_cpu: usize,
    pub sender_cpu: Option<usize>,
    pub sampler_cpu: Option<usize>,
    /// The layout needed more cores than the host has.
    pub oversubscribed: bool,
    pub warnings: Vec<String>,
    /// Each flow's cores (`--flows` > 1; flow 1's are the ones above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<FlowCores>,
}

/// One host setting as changed for the run (and restored afterwards).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Change {
    /// Network namespace the setting belongs to (None: the host's own).
    pub netns: Option<String>,
    pub setting: String,
    pub old: String,
    pub new: String,
    /// The value read back right after the change.
    pub read_back: String,
    /// False when the setting already had the value (nothing was written).
    pub changed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SamplerInfo {
    pub interval_s: f64,
    /// The sampler thread's own CPU time over its wall time.
    pub cpu_s: f64,
    pub wall_s: f64,
    pub pct_of_core: f64,
    pub pinned_to: Option<usize>,
    /// CPU time of the power pollers' threads and of the power commands they ran.
    #[serde(default)]
    pub power_cpu_s: f64,
    #[serde(default)]
    pub children_cpu_s: f64,
    /// Everything measuring cost on this host (sampler thread, power threads,
    /// power commands) as a share of one core over the sampler's wall time.
    #[serde(default)]
    pub overhead_pct_of_core: f64,
}

/// One sampling interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    /// End of the interval, seconds since the flow started.
    pub t_s: f64,
    pub dt_s: f64,
    /// True for intervals before the measured window.
    pub warmup: bool,
    /// Bytes received / sent during this interval.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_gbps: f64,
    /// Every core of the host, this interval.
    pub cpu: Vec<CoreUtil>,
    pub tcp_rx: Option<TcpInfo>,
    pub tcp_tx: Option<TcpInfo>,
    /// Mean watts of each of this side's power sources over the interval
    /// (`Side::power_sources` order); null: no reading (never 0 for "missing").
    #[serde(default)]
    pub power_w: Vec<Option<f64>>,
    /// Each flow this interval (`--flows` > 1): the byte counts above are their
    /// sums, taken at the same instant; `tcp_rx`/`tcp_tx` above are then absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<FlowSample>,
}

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

/// The headline figures, derived from the sides (`stats::summarize`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub measured_s: f64,
    /// Bytes received / sent in the measured window: the sum of the non-warm-up samples.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub gbps: f64,
    pub app: Option<CoreUtil>,
    pub net: Option<CoreUtil>,
    pub sender: Option<CoreUtil>,
    /// App and net cores together (one core when they are the same).
    pub receiver_cores: Cores,
    /// Every core of the receiving host (in local mode this includes the sender).
    pub receiver_host: Cores,
    pub sender_host: Option<Cores>,
    /// receiver_cores.busy per Gbit/s.
    pub cpu_per_gbit: f64,
    /// Largest sampler CPU share of one core, over both sides.
    pub sampler_pct_of_core: f64,
    pub retransmits: Option<u32>,
    /// Largest measuring overhead (`SamplerInfo::overhead_pct_of_core`) over both sides.
    #[serde(default)]
    pub sampler_overhead_pct_of_core: f64,
    /// Each power source over the window.
    #[serde(default)]
    pub power: Vec<PowerSummary>,
    #[serde(default)]
    pub roi: Option<Roi>,
    /// Per-flow figures, Jain's fairness index and every core touched
    /// (`--flows` > 1); the figures above are then totals over all flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows: Option<FlowsSummary>,
}

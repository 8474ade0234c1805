//! The result file's measurement blocks added in schema version 3: power
//! sources and their readings, idle-state residency, softirq counts, perf
//! counters, netdev statistics, syscall costs, return-on-investment figures and
//! the series tag. Part of the file format like `schema.rs` (re-exported there);
//! every field is documented in README.md and read by `zcbench report`.
//!
//! Convention: a block a host could not measure is present with `unavailable`
//! set to the reason; a figure that could not be measured is `null`, never 0.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a power figure measures (wall, package, dram, estimate).
pub use crate::domain::PowerKind;

/// One power source of one host, as the run used it. `Sample::power_w[i]` is
/// this side's source `i`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerSource {
    /// Short name: "cmd", "redfish", "ipmi", "rapl:package-0", "rapl:dram-0", "log".
    pub name: String,
    pub kind: PowerKind,
    /// Where the figure comes from: the command line, the URL, the sysfs file, the log file.
    pub source: String,
    /// Watts with the host idle, and where that figure came from
    /// ("--idle-power", "measured for 10 s before the flow").
    pub idle_w: Option<f64>,
    pub idle_from: Option<String>,
    /// Why readings are missing: each distinct message once, with how often it happened.
    pub errors: Vec<PowerError>,
    /// Facts a reader needs (e.g. a BMC that averages over a minute).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerError {
    pub message: String,
    pub count: u32,
}

/// Power of one source over the measured window (`Summary::power`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerSummary {
    /// "receiver" or "sender" (the side whose host it measured).
    pub side: String,
    pub name: String,
    pub kind: PowerKind,
    /// Mean watts over the window's intervals that have a reading, weighted by
    /// interval length; null when none has.
    pub mean_w: Option<f64>,
    /// Measured intervals with a reading, and without one.
    pub present: u32,
    pub missing: u32,
    pub idle_w: Option<f64>,
}

/// How long each core spent in each cpuidle state over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdleResidency {
    /// The cpuidle driver ("intel_idle", "acpi_idle", "haltpoll").
    pub driver: Option<String>,
    /// Why there is nothing to show (e.g. "no cpuidle driver: current_driver is 'none'").
    pub unavailable: Option<String>,
    pub cores: Vec<CoreIdle>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoreIdle {
    pub cpu: usize,
    /// Share of the window in iowait (from /proc/stat), shown next to the states.
    pub iowait: f64,
    pub states: Vec<IdleStateUse>,
}

/// One cpuidle state of one core over the window (sysfs `usage` and `time` deltas).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdleStateUse {
    /// The state's name in sysfs ("POLL", "C1", "C1E", "C6", "haltpoll").
    pub name: String,
    /// Times the core entered the state.
    pub usage: u64,
    /// Microseconds spent in it.
    pub time_us: u64,
    /// time_us over the window's length (0..=1).
    pub residency: f64,
}

/// /proc/softirqs over the measured window, per core.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Softirqs {
    pub unavailable: Option<String>,
    pub cores: Vec<CoreSoftirqs>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoreSoftirqs {
    pub cpu: usize,
    pub net_rx: u64,
    pub net_tx: u64,
}

/// perf counters per measured core over the window (system-wide on that core).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerfCounters {
    pub unavailable: Option<String>,
    pub cores: Vec<CorePerf>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorePerf {
    pub cpu: usize,
    /// What the core did: "app", "net", "sender".
    pub roles: Vec<String>,
    pub counters: Vec<PerfCount>,
}

/// One event: its count over the window, or why it could not be counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerfCount {
    /// perf's event name: "cpu-clock", "context-switches", "cpu-migrations",
    /// "page-faults", "cycles", "instructions", "cache-misses" (older results
    /// have no "cache-misses" entry).
    pub event: String,
    pub value: Option<u64>,
    /// The counter ran for only this share of the window (multiplexed); value is scaled.
    pub running_share: Option<f64>,
    pub unavailable: Option<String>,
}

/// netdev netlink statistics of the receiving device over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetdevStats {
    pub device: String,
    pub ifindex: u32,
    /// `qstats-get` per queue (scope queue); counter names as in the netdev spec
    /// ("rx-packets", "rx-bytes", "rx-alloc-fail", "tx-packets", ...).
    pub qstats: NetdevBlock<QueueStats>,
    /// `page-pool-stats-get` of the device's page pools.
    pub page_pools: NetdevBlock<PagePoolStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetdevBlock<T> {
    pub unavailable: Option<String>,
    pub items: Vec<T>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueStats {
    /// "rx" or "tx".
    pub queue_type: String,
    pub queue_id: u32,
    pub counters: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PagePoolStats {
    pub id: u64,
    pub counters: BTreeMap<String, u64>,
}

/// Syscall costs of one data thread (`--syscall-times`), like `perf trace -s`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyscallTimes {
    /// The clock read around each call.
    pub clock: String,
    /// What one pair of clock reads costs on this host (calibrated at start), and
    /// that cost times the timed calls: the timing's own overhead.
    pub clock_pair_ns: f64,
    pub overhead_s: f64,
    pub calls: Vec<SyscallStat>,
}

/// One syscall kind: counts and wall time per call, in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyscallStat {
    /// "recv", "recvmsg", "send", "sendmsg", "sendfile", "poll", "getsockopt",
    /// "setsockopt", "madvise", "io_uring_enter".
    pub syscall: String,
    pub calls: u64,
    pub errors: u64,
    pub total_ns: u64,
    pub min_ns: u64,
    pub mean_ns: f64,
    pub max_ns: u64,
    pub stddev_ns: f64,
}

/// Return on investment: T^n / C and T^n / P^m (`stats::roi`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roi {
    pub n: f64,
    pub m: f64,
    pub receiver: RoiFigures,
    /// Two-host runs: the sender's host.
    pub sender: Option<RoiFigures>,
    /// Receiver and sender together (cores counted once each).
    pub total: RoiFigures,
}

/// One party's throughput, cost and ROI. A figure that cannot be computed
/// (no CPU, no power reading) is null.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoiFigures {
    /// T: Gbit/s over the measured window.
    pub gbps: f64,
    /// C: cores' worth of busy time, summed over the counted cores.
    pub cores: f64,
    /// P: mean watts over the window, which source and kind gave it.
    pub watts: Option<f64>,
    pub power_source: Option<String>,
    pub power_kind: Option<PowerKind>,
    pub idle_watts: Option<f64>,
    /// T^n / C.
    pub roi_cpu: Option<f64>,
    /// T^n / P^m.
    pub roi_power: Option<f64>,
    /// T^n / (P - P_idle)^m.
    pub roi_power_above_idle: Option<f64>,
}

/// A run that belongs to a series (`--repeat N`, a study case).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesTag {
    /// The same for every run of the series (a study's case id).
    pub id: String,
    /// 1-based position in the series, and the series' length.
    pub index: u32,
    pub count: u32,
}

/// Which rx queue of a NIC a connection's packets arrive on, as the kernel
/// sees it: the socket's SO_INCOMING_NAPI_ID (the NAPI instance that
/// delivered its last packet) matched with the NAPI id netdev queue-get
/// lists for each rx queue. Read after the flow.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ConnQueue {
    /// "data" or "control".
    pub connection: String,
    pub device: String,
    pub napi_id: Option<u32>,
    pub rx_queue: Option<u32>,
    /// Why the queue could not be told (no NAPI id yet, no queue with it).
    pub unavailable: Option<String>,
}

/// One network device as the run found it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Device {
    pub name: String,
    pub netns: Option<String>,
    pub link: Option<Link>,
    pub driver: Option<Driver>,
    /// Receive offloads (kernel feature names, e.g. rx-gro-hw) as the run found them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub offloads: BTreeMap<String, bool>,
}

/// rtnetlink's view of a device.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Link {
    pub name: String,
    pub ifindex: u32,
    pub mtu: u32,
    pub min_mtu: Option<u32>,
    pub max_mtu: Option<u32>,
    pub gso_max_size: Option<u32>,
    pub gso_max_segs: Option<u32>,
    pub gro_max_size: Option<u32>,
    pub gso_ipv4_max_size: Option<u32>,
    pub gro_ipv4_max_size: Option<u32>,
    pub tso_max_size: Option<u32>,
    pub num_rx_queues: Option<u32>,
    pub num_tx_queues: Option<u32>,
}

/// `ethtool -i`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Driver {
    pub driver: String,
    pub version: String,
    pub firmware: String,
    pub bus_info: String,
}

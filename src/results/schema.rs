//! The result file, field by field: one JSON document per run. These types are
//! the file format and nothing else; the code that measures fills them, and a
//! field renamed here is a format change (bump [`SCHEMA_VERSION`] when a
//! field's meaning changes, and teach `results::read` the old one). The wire
//! protocol between two hosts reuses them.
//!
//! Tests read real result files of every version (tests/data) and write them
//! back unchanged.

mod blocks;
pub mod series;

pub use blocks::*;

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
pub const SCHEMA_VERSION: u32 = 3;
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

/// What a receive path counted about itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RxStats {
    pub bytes: u64,
    /// Receive syscalls, those that returned an error (EAGAIN included), and the
    /// poll() calls that waited for data.
    pub calls: u64,
    pub errors: u64,
    pub polls: u64,
    /// Bytes checked against the pattern (0 without --validate).
    pub validated_bytes: u64,
    pub zero_copy: Option<ZeroCopy>,
    pub uring: Option<UringInfo>,
    /// Time per syscall kind (`--syscall-times`).
    #[serde(default)]
    pub syscalls: Option<SyscallTimes>,
    /// devmem receive only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devmem: Option<DevmemRx>,
    /// io_uring zero-copy receive only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zcrx: Option<ZcrxInfo>,
}

/// devmem TCP receive: where the payload went, and what the token traffic cost.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DevmemRx {
    /// The dma-buf's exporter and size, e.g. "udmabuf, 65536 KiB of 4 KiB pages".
    pub dmabuf: String,
    pub dmabuf_size: u64,
    /// The device and rx queue bound, and the binding's dmabuf id.
    pub device: String,
    pub rx_queue: u32,
    pub binding_id: u32,
    /// netdev queue-get listed the binding on the queue after bind-rx.
    pub queue_confirmed: bool,
    /// Page pools of the device backed by this binding (netdev page-pool-get).
    pub page_pools: Option<u32>,
    /// Payload that stayed in the dma-buf (SCM_DEVMEM_DMABUF cmsgs).
    pub dmabuf_bytes: u64,
    /// Payload the kernel copied into the iov: from the skb's linear part
    /// (SCM_DEVMEM_LINEAR), and from ordinary skbs that arrived with no devmem
    /// cmsg at all (not steered to the bound queue, or the NIC did not place it).
    pub linear_bytes: u64,
    pub copied_bytes: u64,
    /// SCM_DEVMEM_DMABUF frags, and how they came: recvmsg calls that returned
    /// data, the mean frags per such call, and a histogram: entry 0 counts calls
    /// with no frag, entry k >= 1 calls with 2^(k-1) ..= 2^k - 1 frags.
    pub frags: u64,
    pub recvmsgs_with_data: u64,
    pub frags_per_recvmsg: f64,
    pub frags_per_recvmsg_log2: Vec<u64>,
    /// Frags whose dmabuf id was not this run's binding (0 unless the flow was
    /// steered to a queue bound by someone else).
    pub foreign_frags: u64,
    /// --token-batch, and the SO_DEVMEM_DONTNEED traffic: calls, tokens the
    /// kernel freed, tokens per call (mean, max), ranges per call (max), calls a
    /// return after every recvmsg would have made minus the calls made, calls
    /// repeated after a short free.
    pub token_batch: u32,
    pub dontneed_calls: u64,
    pub tokens_returned: u64,
    pub tokens_per_call: f64,
    pub max_tokens_per_call: u32,
    pub max_ranges_per_call: u32,
    pub dontneed_calls_avoided: i64,
    pub dontneed_retries: u64,
    /// Tokens the kernel did not know when handed back (should be 0), and tokens
    /// still held when the flow ended (a leak: the run fails if not 0).
    pub tokens_unknown: u64,
    pub tokens_leaked: u64,
}

/// What a transmit path counted about itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TxStats {
    pub bytes: u64,
    /// Send syscalls, those that returned an error (EAGAIN included), and the
    /// poll() calls that waited for room in the send buffer.
    pub calls: u64,
    pub errors: u64,
    pub polls: u64,
    pub zero_copy: Option<ZeroCopy>,
    /// Completion notifications received, error-queue reads made, and bytes whose
    /// completion had not arrived when the run ended.
    pub completions: u64,
    pub errqueue_reads: u64,
    pub unconfirmed_bytes: u64,
    pub uring: Option<UringInfo>,
    /// Time per syscall kind (`--syscall-times`).
    #[serde(default)]
    pub syscalls: Option<SyscallTimes>,
}

/// How much of the payload really avoided the copy, by the kernel's own account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ZeroCopy {
    pub zero_copy_bytes: u64,
    pub copied_bytes: u64,
    /// zero_copy_bytes / (zero_copy_bytes + copied_bytes).
    pub zero_copy_share: f64,
    /// What the kernel said, e.g. "TCP_ZEROCOPY_RECEIVE mapped vs recv_skip_hint".
    pub source: String,
}

impl ZeroCopy {
    pub fn new(zero_copy_bytes: u64, copied_bytes: u64, source: &str) -> Self {
        let total = zero_copy_bytes + copied_bytes;
        ZeroCopy {
            zero_copy_bytes,
            copied_bytes,
            zero_copy_share: if total > 0 { zero_copy_bytes as f64 / total as f64 } else { 0.0 },
            source: source.into(),
        }
    }
}

/// What an io_uring data path did besides its io_uring_enter calls (`calls`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UringInfo {
    pub cqes: u64,
    /// Multishot requests that ended and were armed again.
    pub rearms: u64,
    /// Receive bundles (several buffers per completion) were used.
    pub bundles: bool,
    /// The kernel refused SINGLE_ISSUER|DEFER_TASKRUN and a plain ring was used.
    pub plain_ring_fallback: bool,
    /// SEND_ZC notifications received.
    pub notifications: u64,
}

/// getrusage(RUSAGE_THREAD) of a data thread over the flow.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct ThreadUsage {
    pub user_s: f64,
    pub sys_s: f64,
    pub voluntary_switches: i64,
    pub involuntary_switches: i64,
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

/// Share of one core spent in each state over some window (each 0..=1; they sum to 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CoreUtil {
    pub cpu: usize,
    /// user + nice + system + irq + softirq + steal: the core was not available to others.
    pub busy: f64,
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub irq: f64,
    pub softirq: f64,
    pub iowait: f64,
    pub idle: f64,
    pub steal: f64,
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
}

/// The TCP_INFO fields a throughput study reads (rates in bit/s).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct TcpInfo {
    pub rtt_us: u32,
    pub rttvar_us: u32,
    pub min_rtt_us: u32,
    pub rcv_rtt_us: u32,
    pub snd_cwnd: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    pub pmtu: u32,
    pub rcv_space: u32,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    pub total_retrans: u32,
    pub bytes_retrans: u64,
    pub delivery_rate_bps: u64,
    pub pacing_rate_bps: u64,
    pub busy_time_us: u64,
    pub rwnd_limited_us: u64,
    pub sndbuf_limited_us: u64,
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
}

/// io_uring zero-copy receive: how the interface queue was set up, what the
/// kernel granted, and what the receive loop and the kernel counted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ZcrxInfo {
    /// "device": the NIC's rx queue feeds the area (zero copy where the NIC
    /// places payload); "nodev": `ZCRX_REG_NODEV`, no device, a copy path.
    pub registration: String,
    pub dev: Option<String>,
    pub ifindex: Option<u32>,
    pub queue: Option<u32>,
    /// netdev queue-get listed the io_uring provider on the queue after registration.
    pub queue_confirmed: Option<bool>,
    /// The queue no longer listed it after the ring was closed.
    pub queue_released: Option<bool>,
    /// What the kernel said it offers, and how it was asked.
    pub negotiation: ZcrxNegotiation,
    /// "anon", "hugepage" or "udmabuf", and what backs it.
    pub area: String,
    pub area_detail: String,
    pub area_bytes: u64,
    pub rx_buf_len_requested: Option<u32>,
    /// Buffer size the kernel granted, read back (7.0+); None: it has no such
    /// field and uses the page size.
    pub rx_buf_len_granted: Option<u32>,
    pub rq_entries: u32,
    pub cq_entries: u32,
    pub refill_batch: u32,
    /// IORING_ENTER_NO_IOWAIT was passed on every wait (`--no-iowait`).
    pub no_iowait: bool,
    pub data_cqes: u64,
    pub event_cqes: u64,
    /// Most CQEs one io_uring_enter round returned (the mean is rx.uring.cqes / rx.calls).
    pub cqes_per_enter_max: u64,
    /// Bytes per data CQE: smallest and largest (the mean is rx.bytes / data_cqes).
    pub bytes_per_cqe_min: u64,
    pub bytes_per_cqe_max: u64,
    /// Why the multishot receive was armed again: a CQE without F_MORE, -ENOSPC
    /// (CQ full), -ENOMEM (no free buffer for a copy), or after dropped CQEs.
    pub rearms_no_more: u64,
    pub rearms_cq_full: u64,
    pub rearms_no_buffer: u64,
    pub rearms_after_drop: u64,
    pub refill: ZcrxRefill,
    /// Rounds that found CQEs waiting on the kernel's overflow list
    /// (IORING_SQ_CQ_OVERFLOW), CQEs the kernel dropped (the CQ ring's overflow
    /// counter) and io_uring_enter calls that failed with -EBADR.
    pub cq_overflow_rounds: u64,
    pub cq_dropped: u64,
    pub ebadr: u64,
    /// The kernel's copy-fallback counters (`zcrx_stats`, 7.2+); None: unknown.
    pub copy_count: Option<u64>,
    pub copy_bytes: Option<u64>,
    /// Where the copy figures come from and what they leave out.
    pub copy_source: String,
    pub alloc_fail_events: u64,
    pub copy_events: u64,
}

/// The kernel's answer to IORING_REGISTER_QUERY (or why there was none).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ZcrxNegotiation {
    /// "zcrx" (the zcrx query answered), "opcodes" (only the opcodes query), "none".
    pub query: String,
    pub detail: String,
    pub register_flags: Option<u64>,
    pub area_flags: Option<u64>,
    pub ctrl_ops: u32,
    pub features: Option<u32>,
    pub nr_register_opcodes: Option<u32>,
}

/// The refill ring, as the receive loop used it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ZcrxRefill {
    /// Entries written (one per data CQE) and tail stores.
    pub returned: u64,
    pub publishes: u64,
    /// Times an entry found the ring full (it waited; nothing was overwritten).
    pub ring_full: u64,
    /// ZCRX_CTRL_FLUSH_RQ calls (ring full, or no device to take entries).
    pub flushes: u64,
    /// Entries published and not yet taken by the kernel, after each publish.
    pub occupancy_max: u32,
    pub occupancy_mean: f64,
    /// Buffers held when the flow ended (0: every buffer went back).
    pub held_at_end: u64,
}

//! What the data paths and the sampler count, as the result file holds it:
//! the receive and transmit counters with their zero-copy proof and mode
//! blocks, the data threads' CPU time, per-core utilisation and TCP_INFO.
//! Part of the file format like `schema.rs` (re-exported there).

use super::blocks::SyscallTimes;
use super::zcrx::ZcrxInfo;
use serde::{Deserialize, Serialize};

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

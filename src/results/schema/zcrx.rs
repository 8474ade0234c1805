//! The receive side's zcrx section (`rx.zcrx`, schema 3): how the interface
//! queue was set up, what the kernel granted and counted. Part of the file
//! format like `schema.rs` (re-exported there).

use serde::{Deserialize, Serialize};

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

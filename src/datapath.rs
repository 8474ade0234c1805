//! What the receive and transmit paths share: the context they run in, the
//! bound on every wait, and the preparation phase.
//!
//! A path has two phases. `prepare` runs before the flow starts, on the
//! orchestrating thread: it acquires what the path needs from the host and NIC
//! (a dma-buf, a queue binding, an io_uring interface queue), each held by a
//! guard the path owns, so it is always released — also when the process dies,
//! since the kernel ties a binding to the descriptor that made it. Host
//! settings a path needs (header split, steering) are the orchestration's
//! plan, made through the undo journal before `prepare`. `run` is the data loop on the pinned data thread: it allocates
//! nothing, formats nothing, and looks at the run's flags at least every
//! [`IO_POLL_MS`].

use crate::sample::{Counters, Flags};
use crate::sys::netlink::NetlinkError;
use crate::sys::netns::Dev;
use std::sync::atomic::Ordering;

/// Bound on how long the data path waits in poll() or io_uring_enter() before
/// looking at the flags again.
pub const IO_POLL_MS: i32 = 500;

/// What the data loop shares with the rest of the run.
pub struct DataCtx<'a> {
    pub counters: &'a Counters,
    pub flags: &'a Flags,
    pub validate: bool,
    /// The sender repeats one message of this size (see `pattern::check_stream`).
    pub period: Option<u64>,
}

impl DataCtx<'_> {
    /// The window is over or the run gave up: a sender stops sending.
    #[inline]
    pub fn stopped(&self) -> bool {
        self.flags.stop.load(Ordering::Relaxed) || self.aborted()
    }

    /// The run gave up (an error elsewhere, Ctrl-C).
    #[inline]
    pub fn aborted(&self) -> bool {
        self.flags.abort.load(Ordering::Relaxed)
    }
}

/// The kernel's refusal of a binding `what` ("bind-rx of a dma-buf to rx queue
/// 0") on `dev`, as an exit-3 error with its errno, extack and what that errno
/// means (`hint`); an error that did not come from the kernel passes through.
pub fn kernel_refusal(dev: &Dev, what: &str, e: anyhow::Error, hint: fn(i32) -> &'static str) -> anyhow::Error {
    let Some(nl) = e.chain().find_map(|c| c.downcast_ref::<NetlinkError>()) else { return e };
    crate::error::unsupported(format!("{}: {what} failed: {nl}; {}", dev.label(), hint(nl.errno)))
}

/// What a path may use while preparing, before the flow starts: devmem binds
/// dma-bufs to the devices here (each binding an owned guard the path drops
/// when the flow is over); the other paths need nothing from the host.
pub struct Prepare<'a> {
    /// The device the flow arrives on, when this process controls it.
    pub rx_dev: Option<&'a Dev>,
    /// The rx queue the flow is steered to (`--steer-queue`, or the one a
    /// zero-copy receive mode chose).
    pub rx_queue: Option<u32>,
    /// The device the flow leaves by, when this process controls it.
    pub tx_dev: Option<&'a Dev>,
}

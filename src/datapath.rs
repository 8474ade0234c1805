//! What the receive and transmit paths share: the context they run in, the
//! bound on every wait, and the preparation phase.
//!
//! A path has two phases. `prepare` runs before the flow starts, on the
//! orchestrating thread: it acquires what the path needs from the host and NIC
//! (a dma-buf, a queue binding, an io_uring interface queue), each change
//! through the undo journal or held by a guard the path owns, so it is always
//! released. `run` is the data loop on the pinned data thread: it allocates
//! nothing, formats nothing, and looks at the run's flags at least every
//! [`IO_POLL_MS`].

use crate::sample::{Counters, Flags};
use crate::sys::journal::Journal;
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

/// What a path may use while preparing, before the flow starts. (Today's paths
/// need nothing from the host; devmem and zcrx bind NIC queues here.)
#[allow(dead_code)]
pub struct Prepare<'a> {
    /// Every host change goes through it; undone when the run ends.
    pub journal: &'a mut Journal,
    /// The device the flow arrives on, when this process controls it.
    pub rx_dev: Option<&'a Dev>,
    /// The rx queue the flow is steered to (`--steer-queue`).
    pub rx_queue: Option<u32>,
}

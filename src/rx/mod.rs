//! Receive paths. Each mode is one file behind [`RxPath`]; the orchestration hands
//! it a connected socket and the shared counters and flags.

mod baseline;

use crate::cli::RxMode;

use crate::sample::{Counters, Flags};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::os::fd::RawFd;

/// What the data path shares with the rest of the run.
pub struct DataCtx<'a> {
    pub counters: &'a Counters,
    pub flags: &'a Flags,
    pub validate: bool,
}

/// What a receive path counted about itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RxStats {
    pub bytes: u64,
    /// Receive syscalls made, how many returned an error (EAGAIN included), and
    /// the poll() calls that waited for data.
    pub calls: u64,
    pub errors: u64,
    pub polls: u64,

    /// Bytes checked against the pattern (0 without --validate).
    pub validated_bytes: u64,
}

pub trait RxPath: Send {
    /// Receive until the peer closes the flow (or the run is aborted).
    fn run(&mut self, fd: RawFd, ctx: &DataCtx) -> Result<RxStats>;
}

/// Build the receive path for `mode`, allocating its buffers now (not on the data path).
pub fn make(mode: RxMode, read_size: usize) -> Result<Box<dyn RxPath>> {
    match mode {
        RxMode::Baseline => Ok(Box::new(baseline::Baseline::new(read_size)?)),
        other => Err(crate::config::not_available("rx", &other)),
    }
}

/// errno of the last failed call.
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

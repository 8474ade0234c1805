//! Receive paths. Each mode is one file behind [`RxPath`]; the orchestration hands
//! it a connected socket and the shared counters and flags.

mod baseline;
pub mod mmap;
mod uring;

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
    /// The sender repeats one message of this size (see `pattern::check_stream`).
    pub period: Option<u64>,
}

/// How much of the payload really avoided the copy, by the kernel's own account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ZeroCopyReport {
    pub zero_copy_bytes: u64,
    pub copied_bytes: u64,
    /// zero_copy_bytes / (zero_copy_bytes + copied_bytes).
    pub zero_copy_share: f64,
    /// What the kernel said, e.g. "TCP_ZEROCOPY_RECEIVE mapped vs recv_skip_hint".
    pub source: String,
}

impl ZeroCopyReport {
    pub fn new(zero_copy_bytes: u64, copied_bytes: u64, source: &str) -> Self {
        let total = zero_copy_bytes + copied_bytes;
        ZeroCopyReport {
            zero_copy_bytes,
            copied_bytes,
            zero_copy_share: if total > 0 { zero_copy_bytes as f64 / total as f64 } else { 0.0 },
            source: source.into(),
        }
    }
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
    /// Zero-copy modes only.
    pub zero_copy: Option<ZeroCopyReport>,
    /// io_uring modes only.
    pub uring: Option<UringInfo>,
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

pub trait RxPath: Send {
    /// Receive until the peer closes the flow (or the run is aborted).
    fn run(&mut self, fd: RawFd, ctx: &DataCtx) -> Result<RxStats>;
}

/// Build the receive path for `mode`, allocating its buffers now (not on the data path).
pub fn make(mode: RxMode, read_size: usize) -> Result<Box<dyn RxPath>> {
    match mode {
        RxMode::Baseline => Ok(Box::new(baseline::Baseline::new(read_size)?)),
        RxMode::Mmap => Ok(Box::new(mmap::Mmap::new(read_size)?)),
        RxMode::Uring => Ok(Box::new(uring::Uring::new(read_size)?)),

        other => Err(crate::config::not_available("rx", &other)),
    }
}

/// One recv() into `buf[..want]`, checked against the pattern when validating and
/// counted in `st`. Ok(None): the peer closed the flow; Ok(Some(0)): nothing queued
/// (EAGAIN/EINTR); Ok(Some(n)): n bytes.
pub(crate) fn recv_checked(fd: RawFd, buf: &mut [u8], st: &mut RxStats, ctx: &DataCtx) -> Result<Option<usize>> {
    // SAFETY: buf is a valid writable buffer of buf.len() bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    st.calls += 1;
    if n > 0 {
        let n = n as usize;
        if ctx.validate {
            crate::pattern::check_stream(&buf[..n], st.bytes, ctx.period)?;
            st.validated_bytes += n as u64;
        }
        st.bytes += n as u64;
        return Ok(Some(n));
    }
    if n == 0 {
        return Ok(None);
    }
    st.errors += 1;
    match errno() {
        libc::EAGAIN | libc::EINTR => Ok(Some(0)),
        e => Err(anyhow::anyhow!(std::io::Error::from_raw_os_error(e))
            .context(format!("recv failed after {} bytes", st.bytes))),
    }
}

/// errno of the last failed call.
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

//! Transmit paths, one file per mode behind [`TxPath`].

mod copy;
mod sendfile;
mod uring_zc;
mod zerocopy;

pub use zerocopy::enable as enable_zerocopy;

use crate::cli::TxMode;

use crate::rx::DataCtx;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::os::fd::RawFd;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TxStats {
    pub bytes: u64,
    /// Send syscalls, those that returned an error (EAGAIN included), and the
    /// poll() calls that waited for room in the send buffer.
    pub calls: u64,
    pub errors: u64,
    pub polls: u64,
    /// Zero-copy modes only: what the completions said.
    pub zero_copy: Option<crate::rx::ZeroCopyReport>,
    /// Completion notifications received, error-queue reads made, and bytes whose
    /// completion had not arrived when the run ended.
    pub completions: u64,
    pub errqueue_reads: u64,
    pub unconfirmed_bytes: u64,
    /// io_uring modes only.
    pub uring: Option<crate::rx::UringInfo>,
}

/// After a send-type call failed: count it; when the socket buffer is full, wait
/// for room and return Ok(true) to try again, or Ok(false) if the run is stopping;
/// any other error ends the flow, naming the call.
pub(crate) fn wait_for_room(fd: RawFd, st: &mut TxStats, stopped: bool, call: &str) -> Result<bool> {
    st.errors += 1;
    match crate::rx::errno() {
        libc::EAGAIN | libc::EINTR => {
            if stopped {
                return Ok(false);
            }
            crate::sys::sock::wait_ready(fd, libc::POLLOUT, crate::run::IO_POLL_MS);
            st.polls += 1;
            Ok(true)
        }
        e => Err(anyhow::anyhow!(std::io::Error::from_raw_os_error(e))
            .context(format!("{call} failed after {} bytes (receiver gone?)", st.bytes))),
    }
}

pub trait TxPath: Send {
    /// Send until `ctx.flags.stop` (or abort), then shut down the write side.
    fn run(&mut self, fd: RawFd, ctx: &DataCtx) -> Result<TxStats>;
}

pub fn make(mode: TxMode, msg_size: usize) -> Result<Box<dyn TxPath>> {
    match mode {
        TxMode::Copy => Ok(Box::new(copy::Copy::new(msg_size)?)),
        TxMode::Zerocopy => Ok(Box::new(zerocopy::ZeroCopy::new(msg_size)?)),
        TxMode::Sendfile => Ok(Box::new(sendfile::Sendfile::new(msg_size)?)),
        TxMode::UringZc => Ok(Box::new(uring_zc::UringZc::new(msg_size)?)),

        other => Err(crate::config::not_available("tx", &other)),
    }
}

//! What every transmit path is and is built from: the [`TxPath`] trait (two
//! phases: `prepare` before the flow, `run` on the data thread; see
//! `datapath`), its [`Params`], and the waiting and ending the senders share.

use crate::datapath::{DataCtx, IO_POLL_MS, Prepare, Sys, SyscallTimer};
use crate::domain::{DevmemOpts, TxMode};
use crate::results::schema::TxStats;
use crate::sys::mem::Backing;
use crate::sys::sock::{self, WRITABLE};
use anyhow::Result;
use std::os::fd::BorrowedFd;

pub trait TxPath: Send {
    /// Acquire what the path needs from the host and NIC before the flow starts.
    fn prepare(&mut self, _p: &mut Prepare<'_>) -> Result<()> {
        Ok(())
    }

    /// Send until `ctx.stopped()`, then shut down the write side.
    fn run(&mut self, sock: BorrowedFd<'_>, ctx: &DataCtx) -> Result<TxStats>;
}

/// How to build a transmit path.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub mode: TxMode,
    /// The application message: bytes per send call (`--msg-size`).
    pub msg_size: usize,
    pub backing: Backing,
    pub devmem: DevmemOpts,
}

/// After a send-type call failed with `e`: count it; when the socket buffer is
/// full, wait for room and return Ok(true) to try again, or Ok(false) if the run
/// is stopping; any other error ends the flow, naming the call.
pub fn wait_for_room(
    fd: BorrowedFd<'_>,
    e: std::io::Error,
    st: &mut TxStats,
    stopped: bool,
    call: &str,
    sc: &mut SyscallTimer,
) -> Result<bool> {
    st.errors += 1;
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => {
            if stopped {
                return Ok(false);
            }
            sc.time_unit(Sys::Poll, || sock::wait_ready(fd, WRITABLE, IO_POLL_MS));
            st.polls += 1;
            Ok(true)
        }
        _ => Err(anyhow::Error::new(e).context(format!("{call} failed after {} bytes (receiver gone?)", st.bytes))),
    }
}

/// End of the flow: the receiver reads EOF once everything sent has arrived.
pub fn finish(fd: BorrowedFd<'_>) -> Result<()> {
    use anyhow::Context;
    sock::shutdown_write(fd).context("shutting down the sending side of the flow")
}

//! Transmit paths, one file per mode behind [`TxPath`] (two phases: `prepare`
//! before the flow, `run` on the data thread; see `datapath`).

mod copy;
pub mod devmem;
mod sendfile;
mod uring_zc;
mod zerocopy;

use crate::datapath::{DataCtx, IO_POLL_MS, Prepare, Sys, SyscallTimer};
use crate::domain::{DevmemOpts, TxMode};
use crate::error::unsupported;
use crate::results::schema::TxStats;
use crate::sys::mem::Backing;
use crate::sys::sock::{self, WRITABLE};
use crate::sys::uring as sys_uring;
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

/// Build the transmit path, allocating and filling its buffers now.
pub fn build(p: &Params) -> Result<Box<dyn TxPath>> {
    match p.mode {
        TxMode::Copy => Ok(Box::new(copy::Copy::new(p)?)),
        TxMode::Zerocopy => Ok(Box::new(zerocopy::ZeroCopy::new(p)?)),
        TxMode::Sendfile => Ok(Box::new(sendfile::Sendfile::new(p)?)),
        TxMode::UringZc => Ok(Box::new(uring_zc::UringZc::new(p)?)),
        TxMode::Devmem => Ok(Box::new(devmem::new(p)?)),
    }
}

/// 2 MiB huge pages the data buffers of `p` take (`--hugepages auto`).
pub fn huge_pages(p: &Params) -> u32 {
    let maps = match p.mode {
        TxMode::Copy => copy::Copy::mappings(p),
        TxMode::Zerocopy => zerocopy::ZeroCopy::mappings(p),
        TxMode::UringZc => uring_zc::UringZc::mappings(p),
        TxMode::Devmem if p.devmem.dmabuf_hugepages => vec![p.devmem.dmabuf_size as usize],
        // sendfile sends from a memfd (page cache), not from these buffers.
        _ => Vec::new(),
    };
    maps.iter().map(|l| l.div_ceil(crate::sys::mem::HUGE_PAGE) as u32).sum()
}

/// Ask the kernel, before any host change, whether it has what `mode` needs.
pub fn check_kernel(mode: TxMode) -> Result<()> {
    match mode {
        TxMode::Zerocopy => zerocopy::check_kernel(),
        TxMode::Devmem => {
            zerocopy::check_kernel()?;
            crate::sys::netlink::netdev::kernel_has(crate::sys::netlink::netdev::CMD_BIND_TX, "bind-tx", "6.16")?;
            crate::sys::dmabuf::check_udmabuf()
        }
        TxMode::UringZc => {
            let u = sys_uring::probe().map_err(|e| unsupported(format!("io_uring is not usable here: {e:#}")))?;
            if !u.send_zc {
                return Err(unsupported("tx uring-zc: this kernel's io_uring has no SEND_ZC (needs 6.0+)"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// After a send-type call failed with `e`: count it; when the socket buffer is
/// full, wait for room and return Ok(true) to try again, or Ok(false) if the run
/// is stopping; any other error ends the flow, naming the call.
fn wait_for_room(
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
fn finish(fd: BorrowedFd<'_>) -> Result<()> {
    use anyhow::Context;
    sock::shutdown_write(fd).context("shutting down the sending side of the flow")
}

//! What every receive path is and is built from: the [`RxPath`] trait (two
//! phases: `prepare` before the flow, `run` on the data thread; see
//! `datapath`), its [`Params`], and the checked recv() the copying paths share.

use crate::datapath::{DataCtx, Prepare, Sys, SyscallTimer};
use crate::domain::{DevmemOpts, RxMode, ZcrxOpts};
use crate::results::schema::RxStats;
use crate::sys::mem::Backing;
use crate::sys::sock;
use anyhow::Result;
use std::os::fd::BorrowedFd;

pub trait RxPath: Send {
    /// Acquire what the path needs from the host and NIC before the flow starts.
    fn prepare(&mut self, _p: &mut Prepare<'_>) -> Result<()> {
        Ok(())
    }

    /// Receive until the peer closes the flow (or the run is aborted).
    fn run(&mut self, sock: BorrowedFd<'_>, ctx: &DataCtx) -> Result<RxStats>;
}

/// How to build a receive path.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub mode: RxMode,
    /// Bytes asked for per receive call (`--read-size`).
    pub read_size: usize,
    pub backing: Backing,
    pub devmem: DevmemOpts,
    pub zcrx: ZcrxOpts,
}

/// One recv() into `buf`, checked against the pattern when validating and
/// counted in `st`. Ok(None): the peer closed the flow; Ok(Some(0)): nothing
/// queued (EAGAIN/EINTR); Ok(Some(n)): n bytes.
pub fn recv_checked(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    st: &mut RxStats,
    ctx: &DataCtx,
    sc: &mut SyscallTimer,
) -> Result<Option<usize>> {
    st.calls += 1;
    match sc.time(Sys::Recv, || sock::recv(fd, buf)) {
        Ok(0) => Ok(None),
        Ok(n) => {
            if ctx.validate {
                crate::pattern::check_stream(&buf[..n], st.bytes, ctx.period)?;
                st.validated_bytes += n as u64;
            }
            st.bytes += n as u64;
            Ok(Some(n))
        }
        Err(e) => {
            st.errors += 1;
            match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => Ok(Some(0)),
                _ => Err(anyhow::Error::new(e).context(format!("recv failed after {} bytes", st.bytes))),
            }
        }
    }
}

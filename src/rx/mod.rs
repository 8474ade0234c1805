//! Receive paths, one file per mode behind [`RxPath`] (two phases: `prepare`
//! before the flow, `run` on the data thread; see `datapath`).

mod baseline;
mod devmem;
pub mod mmap;
mod uring;
pub mod zcrx;

use crate::datapath::{DataCtx, Prepare, Sys, SyscallTimer};
use crate::domain::{DevmemOpts, RxMode, ZcrxOpts, name_of};
use crate::error::{not_available, unsupported};
use crate::results::schema::RxStats;
use crate::sys::mem::Backing;
use crate::sys::{sock, uring as sys_uring};
use anyhow::{Context, Result};
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

/// Build the receive path, allocating its buffers now (not on the data path).
pub fn build(p: &Params) -> Result<Box<dyn RxPath>> {
    match p.mode {
        RxMode::Baseline => Ok(Box::new(baseline::Baseline::new(p)?)),
        RxMode::Mmap => Ok(Box::new(mmap::Mmap::new(p)?)),
        RxMode::Uring => Ok(Box::new(uring::Uring::new(p)?)),
        RxMode::Devmem => Ok(Box::new(devmem::Devmem::new(p)?)),
        RxMode::Zcrx => Ok(Box::new(zcrx::Zcrx::new(p)?)),
        other => Err(not_available("rx", &name_of(&other))),
    }
}

/// 2 MiB huge pages the data buffers of `p` take (`--hugepages auto`).
pub fn huge_pages(p: &Params) -> u32 {
    let maps = match p.mode {
        RxMode::Baseline => baseline::Baseline::mappings(p),
        RxMode::Uring => uring::Uring::mappings(p),
        // The dma-buf / area in 2 MiB pages when asked for.
        RxMode::Devmem if p.devmem.dmabuf_hugepages => vec![p.devmem.dmabuf_size as usize],
        RxMode::Zcrx if p.zcrx.area == crate::domain::ZcrxArea::Hugepage => vec![p.zcrx.area_size as usize],
        // mmap maps the socket's pages; its copy buffer is ordinary memory.
        _ => Vec::new(),
    };
    maps.iter().map(|l| l.div_ceil(crate::sys::mem::HUGE_PAGE) as u32).sum()
}

/// Ask the kernel, before any host change, whether it has what `mode` needs.
pub fn check_kernel(mode: RxMode) -> Result<()> {
    match mode {
        RxMode::Mmap => {
            let known = sock::tcpzc::kernel_has_zerocopy_receive().context("probing TCP_ZEROCOPY_RECEIVE")?;
            if !known {
                return Err(unsupported("rx mmap: this kernel has no TCP_ZEROCOPY_RECEIVE (needs 4.18+)"));
            }
        }
        RxMode::Devmem => {
            crate::sys::netlink::netdev::kernel_has(crate::sys::netlink::netdev::CMD_BIND_RX, "bind-rx", "6.12")?;
            crate::sys::dmabuf::check_udmabuf()?;
        }
        RxMode::Uring => {
            let u = sys_uring::probe().map_err(|e| unsupported(format!("io_uring is not usable here: {e:#}")))?;
            if !u.recv {
                return Err(unsupported("rx uring: this kernel's io_uring has no RECV (needs 5.6+)"));
            }
        }
        RxMode::Zcrx => {
            let u = sys_uring::probe().map_err(|e| unsupported(format!("io_uring is not usable here: {e:#}")))?;
            if !u.recv_zc {
                return Err(unsupported("rx zcrx: this kernel's io_uring has no RECV_ZC (needs 6.15+)"));
            }
            sys_uring::zcrx::ring_available().map_err(|e| unsupported(format!("rx zcrx: {e:#}")))?;
        }
        _ => {}
    }
    Ok(())
}

/// One recv() into `buf`, checked against the pattern when validating and
/// counted in `st`. Ok(None): the peer closed the flow; Ok(Some(0)): nothing
/// queued (EAGAIN/EINTR); Ok(Some(n)): n bytes.
fn recv_checked(
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

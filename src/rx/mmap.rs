//! TCP mmap receive (TCP_ZEROCOPY_RECEIVE): whole payload pages are mapped into a
//! window of the socket's mapping; what cannot be mapped (not page sized or not
//! page aligned, reported as `recv_skip_hint`) is read with recv(). Needs
//! page-sized payload per segment: zcbench sets TCP_MAXSEG 4108 (4096 + 12 bytes
//! of timestamps) for this mode unless told otherwise.

use super::{DataCtx, RxPath, RxStats, ZeroCopyReport, recv_checked};
use crate::error::unsupported;
use crate::pattern;
use crate::run::IO_POLL_MS;
use crate::sys::mem::PageBuf;
use crate::sys::sock::wait_ready;
use crate::sys::tcpzc::{self, SocketMap, TcpZerocopyReceive};
use anyhow::{Context, Result, anyhow, bail};

use std::os::fd::RawFd;
use std::sync::atomic::Ordering;

pub const PAGE: usize = 4096;
/// MSS that makes each segment carry exactly one page (timestamps take 12 bytes).
pub const MMAP_MSS: u32 = 4096 + 12;
/// Buffer for the bytes that cannot be mapped.
const COPYBUF: usize = 256 << 10;

pub struct Mmap {
    window: usize,
    copybuf: PageBuf,
}

impl Mmap {
    pub fn new(read_size: usize) -> Result<Self> {
        Ok(Mmap { window: read_size.div_ceil(PAGE).max(1) * PAGE, copybuf: PageBuf::new(COPYBUF)? })
    }
}

impl Mmap {
    /// Copy up to `want` bytes with recv(): see `recv_checked`.
    fn copy(&mut self, fd: RawFd, want: usize, st: &mut RxStats, ctx: &DataCtx) -> Result<Option<usize>> {
        let want = want.min(self.copybuf.len());
        recv_checked(fd, &mut self.copybuf[..want], st, ctx)
    }
}

impl RxPath for Mmap {
    fn run(&mut self, fd: RawFd, ctx: &DataCtx) -> Result<RxStats> {
        let map = SocketMap::new(fd, self.window).map_err(|e| {
            unsupported(format!(
                "mmap of the TCP socket failed: {e}; this kernel cannot do TCP zerocopy receive (needs 4.18+)"
            ))
        })?;
        // poll() then wakes only when a window's worth is queued (the kernel caps
        // it to what the receive buffer allows): fewer, larger mappings.
        let lowat = self.window.min(i32::MAX as usize) as libc::c_int;
        // SAFETY: int option on our socket; failure only costs batching.
        unsafe {
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVLOWAT, &lowat as *const _ as *const libc::c_void, 4)
        };
        let mut st = RxStats::default();
        let (mut mapped, mut copied) = (0u64, 0u64);
        loop {
            // Like the kernel's tcp_mmap: wait first; with SO_RCVLOWAT this returns
            // once a window's worth (or the end of the flow) is queued.
            wait_ready(fd, libc::POLLIN, IO_POLL_MS);
            st.polls += 1;
            if ctx.flags.abort.load(Ordering::Relaxed) {
                bail!("receive aborted after {} bytes", st.bytes);
            }
            let mut zc = TcpZerocopyReceive {
                address: map.addr as u64,
                length: (self.window - PAGE) as u32,
                ..Default::default()
            };
            st.calls += 1;
            let eof_or_empty = match tcpzc::receive(fd, &mut zc) {
                Ok(()) => {
                    if zc.err != 0 && zc.length == 0 {
                        bail!(
                            "TCP_ZEROCOPY_RECEIVE reports socket error: {}",
                            std::io::Error::from_raw_os_error(zc.err)
                        );
                    }
                    zc.length == 0 && zc.recv_skip_hint == 0
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
                    return Err(unsupported("TCP_ZEROCOPY_RECEIVE is not known to this kernel (needs 4.18+)"));
                }
                // EIO: the peer closed and nothing is left to map. The struct was not
                // written back: nothing below may read it as if it had been.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    zc.length = 0;
                    zc.recv_skip_hint = 0;
                    true
                }

                Err(e) => {
                    return Err(anyhow!(e).context(format!("TCP_ZEROCOPY_RECEIVE failed after {} bytes", st.bytes)));
                }
            };
            let n = zc.length as usize;
            if n > 0 {
                if ctx.validate {
                    pattern::check_stream(map.bytes(n), st.bytes, ctx.period)?;

                    st.validated_bytes += n as u64;
                }
                st.bytes += n as u64;
                mapped += n as u64;
                map.release(n).context("releasing mapped pages (madvise)")?;
                st.calls += 1;
            }
            // Bytes that cannot be mapped come next in the stream: copy them.
            if zc.recv_skip_hint > 0 {
                match self.copy(fd, zc.recv_skip_hint as usize, &mut st, ctx)? {
                    Some(k) => copied += k as u64,
                    None => break,
                }
            }
            if eof_or_empty {
                // Nothing mapped or skipped: either the end of the flow or an empty queue.
                match self.copy(fd, self.copybuf.len(), &mut st, ctx)? {
                    None => break,
                    Some(k) => copied += k as u64,
                }
            }
            ctx.counters.rx.0.store(st.bytes, Ordering::Relaxed);
        }
        ctx.flags.mark_rx_done();
        st.zero_copy =
            Some(ZeroCopyReport::new(mapped, copied, "TCP_ZEROCOPY_RECEIVE: bytes mapped vs bytes read with recv()"));
        Ok(st)
    }
}

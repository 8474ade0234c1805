//! TCP mmap receive (TCP_ZEROCOPY_RECEIVE): whole payload pages are mapped into a
//! window of the socket's mapping; what cannot be mapped (not page sized or not
//! page aligned, reported as `recv_skip_hint`) is read with recv(). Needs
//! page-sized payload per segment: zcbench sets TCP_MAXSEG 4108 (4096 + 12 bytes
//! of timestamps) for this mode unless told otherwise.

use super::desc::{Kind, PathDesc, Queue, RxModeDesc, no_options};
use super::path::{Params, RxPath, recv_checked};
use crate::datapath::{DataCtx, IO_POLL_MS, Sys, SyscallTimer};
use crate::domain::{RxMode, TxMode};
use crate::error::unsupported;
use crate::pattern;
use crate::results::schema::{RxStats, ZeroCopy};
use crate::sys::features::Feature;
use crate::sys::mem::{Backing, PageBuf};
use crate::sys::sock::tcpzc::SocketMap;
use crate::sys::sock::{self, READABLE, wait_ready};
use anyhow::{Context, Result, anyhow, bail};
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;

const PAGE: usize = 4096;
/// MSS that makes each segment carry exactly one page (timestamps take 12 bytes).
const MMAP_MSS: u32 = 4096 + 12;

pub const MODE: RxModeDesc = RxModeDesc {
    mode: RxMode::Mmap,
    name: "mmap",
    help: "TCP_ZEROCOPY_RECEIVE: payload pages mapped into the process",
    colour: (0xE6, 0x9F, 0x00),
    kind: Kind::Path(PathDesc {
        needs: &[Feature::TcpZerocopyReceive],
        queue: Queue::None,
        flows_on_nic: "",
        // A copying sender fills skbs from order-3 (compound) page frags, which
        // TCP_ZEROCOPY_RECEIVE cannot map on loopback/veth; MSG_ZEROCOPY's
        // fallback copy lands in order-0 pages, which it can.
        default_tx: TxMode::Zerocopy,
        mss: Some((MMAP_MSS, "so each segment carries one 4 KiB page (timestamps take 12 bytes)")),
        check_options: no_options,
        // It maps the socket's pages; its copy buffer is ordinary memory.
        huge_buffers: |_| Vec::new(),
        build: |p| Ok(Box::new(Mmap::new(p)?)),
    }),
};
/// Buffer for the bytes that cannot be mapped.
const COPYBUF: usize = 256 << 10;

pub struct Mmap {
    window: usize,
    copybuf: PageBuf,
    /// Bytes mapped and bytes read with recv().
    mapped: u64,
    copied: u64,
}

/// The run's context and this thread's syscall timer, passed down together.
type Cx<'a, 'b> = (&'a DataCtx<'b>, &'a mut SyscallTimer);

/// What one round of the loop found.
enum Round {
    More,
    End,
}

impl Mmap {
    pub fn new(p: &Params) -> Result<Self> {
        let window = p.read_size.div_ceil(PAGE).max(1) * PAGE;
        Ok(Mmap { window, copybuf: PageBuf::new(COPYBUF, Backing::Pages)?, mapped: 0, copied: 0 })
    }

    /// Copy up to `want` bytes with recv(); false at the end of the flow.
    fn copy(&mut self, fd: BorrowedFd<'_>, want: usize, st: &mut RxStats, cx: &mut Cx) -> Result<bool> {
        let want = want.min(self.copybuf.len());
        match recv_checked(fd, &mut self.copybuf[..want], st, cx.0, cx.1)? {
            Some(k) => {
                self.copied += k as u64;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Map what is queued (up to a window), then copy what could not be mapped.
    fn round(&mut self, map: &mut SocketMap, fd: BorrowedFd<'_>, st: &mut RxStats, cx: &mut Cx) -> Result<Round> {
        st.calls += 1;
        let ctx = cx.0;
        let (n, skip, eof_or_empty) = match cx.1.time(Sys::Getsockopt, || map.receive(fd, self.window - PAGE)) {
            Ok(r) => {
                if r.err != 0 && r.mapped == 0 {
                    bail!("TCP_ZEROCOPY_RECEIVE reports socket error: {}", std::io::Error::from_raw_os_error(r.err));
                }
                (r.mapped, r.skip_hint, r.mapped == 0 && r.skip_hint == 0)
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
                return Err(unsupported(format!(
                    "TCP_ZEROCOPY_RECEIVE is not known to this kernel ({})",
                    Feature::TcpZerocopyReceive.label()
                )));
            }
            // EIO: the peer closed and nothing is left to map.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => (0, 0, true),
            Err(e) => return Err(anyhow!(e).context(format!("TCP_ZEROCOPY_RECEIVE failed after {} bytes", st.bytes))),
        };
        if n > 0 {
            if ctx.validate {
                pattern::check_stream(map.mapped(), st.bytes, ctx.period)?;
                st.validated_bytes += n as u64;
            }
            st.bytes += n as u64;
            self.mapped += n as u64;
            cx.1.time(Sys::Madvise, || map.release()).context("releasing mapped pages (madvise)")?;
            st.calls += 1;
        }
        // Bytes that cannot be mapped come next in the stream: copy them.
        if skip > 0 && !self.copy(fd, skip, st, cx)? {
            return Ok(Round::End);
        }
        // Nothing mapped or skipped: either the end of the flow or an empty queue.
        if eof_or_empty && !self.copy(fd, self.copybuf.len(), st, cx)? {
            return Ok(Round::End);
        }
        Ok(Round::More)
    }
}

impl RxPath for Mmap {
    fn run(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<RxStats> {
        let mut map = SocketMap::new(fd, self.window).map_err(|e| {
            unsupported(format!(
                "mmap of the TCP socket failed: {e}; this kernel cannot do TCP zerocopy receive ({})",
                Feature::TcpZerocopyReceive.label()
            ))
        })?;
        // poll() then wakes only when a window's worth is queued: fewer, larger mappings.
        sock::set_rcvlowat(fd, self.window).context("setting SO_RCVLOWAT to one mapping window")?;
        let mut st = RxStats::default();
        let mut sc = SyscallTimer::new(ctx.syscall_times);
        loop {
            // Like the kernel's tcp_mmap: wait first; with SO_RCVLOWAT this returns
            // once a window's worth (or the end of the flow) is queued.
            sc.time_unit(Sys::Poll, || wait_ready(fd, READABLE, IO_POLL_MS));
            st.polls += 1;
            if ctx.aborted() {
                bail!("receive aborted after {} bytes", st.bytes);
            }
            let r = self.round(&mut map, fd, &mut st, &mut (ctx, &mut sc))?;
            ctx.counters.rx.0.store(st.bytes, Ordering::Relaxed);
            if let Round::End = r {
                break;
            }
        }
        ctx.flags.mark_rx_done();
        st.zero_copy = Some(ZeroCopy::new(
            self.mapped,
            self.copied,
            "TCP_ZEROCOPY_RECEIVE: bytes mapped vs bytes read with recv()",
        ));
        st.syscalls = sc.report();
        Ok(st)
    }
}

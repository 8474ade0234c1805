//! io_uring receive, copying: one multishot recv fed by a ring of provided
//! buffers, with bundles (several buffers per completion) where the kernel has
//! them. The non-zero-copy io_uring reference point for zcrx.

use super::desc::{Kind, PathDesc, Queue, RxModeDesc, no_options};
use super::path::{Params, RxPath};
use crate::datapath::{DataCtx, IO_POLL_MS, Sys, SyscallTimer};
use crate::domain::{RxMode, TxMode};
use crate::pattern;
use crate::results::schema::{RxStats, UringInfo};
use crate::sys::features::Feature;
use crate::sys::uring::bufring::{Completion, ProvidedBufs, RecvRing};
use anyhow::{Context, Result, bail};
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;

pub const MODE: RxModeDesc = RxModeDesc {
    mode: RxMode::Uring,
    name: "uring",
    help: "io_uring receive with provided buffers (copying)",
    colour: (0x00, 0x9E, 0x73),
    kind: Kind::Path(PathDesc {
        needs: &[Feature::UringRecv],
        queue: Queue::None,
        flows_on_nic: "",
        default_tx: TxMode::Copy,
        mss: None,
        check_options: no_options,
        huge_buffers: Uring::mappings,
        build: |p| Ok(Box::new(Uring::new(p)?)),
    }),
};

pub struct Uring {
    bufs: ProvidedBufs,
}

impl Uring {
    /// Buffers of up to 1 MiB (the read size, page rounded), 64 MiB in all: (count, length).
    fn sizes(p: &Params) -> (u16, usize) {
        let buf_len = p.read_size.clamp(4096, 1 << 20).div_ceil(4096) * 4096;
        let n = ((64usize << 20) / buf_len).clamp(8, 4096).next_power_of_two() as u16;
        (n, buf_len)
    }

    /// The data buffers `new` maps with `p.backing`, by length (one mapping).
    fn mappings(p: &Params) -> Vec<usize> {
        let (n, len) = Uring::sizes(p);
        vec![n as usize * len]
    }

    pub fn new(p: &Params) -> Result<Self> {
        let (n, buf_len) = Uring::sizes(p);
        Ok(Uring { bufs: ProvidedBufs::new(n, buf_len, p.backing)? })
    }
}

/// What one completion means for the loop.
fn consume(c: &Completion<'_>, st: &mut RxStats, ctx: &DataCtx) -> Result<(bool, bool)> {
    let (mut done, mut rearm) = (false, false);
    if c.result < 0 {
        st.errors += 1;
        match -c.result {
            // Ran out of buffers (they go back each round) or interrupted: re-arm.
            libc::ENOBUFS | libc::EINTR | libc::EAGAIN => {}
            e => bail!("io_uring recv failed after {} bytes: {}", st.bytes, std::io::Error::from_raw_os_error(e)),
        }
    } else if c.result == 0 {
        done = true;
    } else if c.missing_buffer() {
        bail!("io_uring recv completion without a buffer id");
    } else {
        for chunk in c.chunks() {
            if ctx.validate {
                pattern::check_stream(chunk, st.bytes, ctx.period)?;
                st.validated_bytes += chunk.len() as u64;
            }
            st.bytes += chunk.len() as u64;
        }
    }
    if !c.more && !done {
        rearm = true;
    }
    Ok((done, rearm))
}

impl RxPath for Uring {
    fn run(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<RxStats> {
        let mut ring = RecvRing::new(64, &mut self.bufs)?;
        ring.arm(fd)?;
        let mut info =
            UringInfo { bundles: ring.bundles, plain_ring_fallback: ring.plain_ring_fallback, ..Default::default() };
        let mut st = RxStats::default();
        let mut sc = SyscallTimer::new(ctx.syscall_times);
        let mut done = false;
        while !done {
            st.calls += 1;
            sc.time(Sys::IoUringEnter, || ring.submit_wait(IO_POLL_MS as u32)).context("io_uring_enter")?;
            let mut rearm = false;
            info.cqes += ring.drain(|c| {
                let (d, r) = consume(c, &mut st, ctx)?;
                done |= d;
                rearm |= r;
                Ok(())
            })?;
            ctx.counters.rx.0.store(st.bytes, Ordering::Relaxed);
            if rearm && !done {
                info.rearms += 1;
                ring.arm(fd)?;
            }
            if ctx.aborted() {
                bail!("receive aborted after {} bytes", st.bytes);
            }
        }
        ctx.flags.mark_rx_done();
        st.uring = Some(info);
        st.syscalls = sc.report();
        Ok(st)
    }
}

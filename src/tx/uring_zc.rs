//! io_uring SEND_ZC transmit from registered buffers. One send is in flight at a
//! time (two in flight on one stream socket could be reordered); each send's
//! buffer is reused only after its notification CQE, which — with
//! IORING_SEND_ZC_REPORT_USAGE — says whether the kernel copied after all.

use super::desc::{TxModeDesc, no_options, no_period};
use super::path::{Params, TxPath, finish};
use crate::datapath::{DataCtx, IO_POLL_MS, Sys, SyscallTimer};
use crate::error::unsupported;
use crate::pattern;
use crate::results::schema::{TxStats, UringInfo, ZeroCopy};
use crate::sys::features::Feature;
use crate::sys::mem::PageBuf;
use crate::sys::uring::sendzc::{SendCompletion, SendZcRing};
use anyhow::{Context, Result, anyhow, bail};
use std::collections::VecDeque;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

const RING_BYTES: usize = 64 << 20;

pub const MODE: TxModeDesc = TxModeDesc {
    name: "uring-zc",
    help: "io_uring SEND_ZC",
    needs: &[Feature::UringSendZc],
    check_options: no_options,
    period: no_period,
    huge_buffers: UringZc::mappings,
    build: |p| Ok(Box::new(UringZc::new(p)?)),
};

pub struct UringZc {
    bufs: Vec<PageBuf>,
}

impl UringZc {
    fn count(p: &Params) -> usize {
        (RING_BYTES / p.msg_size.max(1)).clamp(2, 16)
    }

    /// The data buffers `new` maps with `p.backing`, by length.
    fn mappings(p: &Params) -> Vec<usize> {
        vec![p.msg_size; UringZc::count(p)]
    }

    pub fn new(p: &Params) -> Result<Self> {
        let n = UringZc::count(p);
        let mut bufs = Vec::with_capacity(n);
        for _ in 0..n {
            let mut b = PageBuf::new(p.msg_size, p.backing)?;
            pattern::fill(&mut b, 0);
            bufs.push(b);
        }
        Ok(UringZc { bufs })
    }
}

/// What the completions said: bytes per pending notification, and the totals.
struct Account {
    /// Per buffer, bytes of each send whose notification is still owed.
    owed: Vec<VecDeque<u64>>,
    zero_copy_bytes: u64,
    copied_bytes: u64,
    info: UringInfo,
    sc: SyscallTimer,
}

impl Account {
    /// Take one completion; a send's own completion returns its result.
    fn take(&mut self, c: SendCompletion, st: &mut TxStats) -> Option<i32> {
        self.info.cqes += 1;
        if c.notif {
            self.info.notifications += 1;
            let bytes = self.owed[c.buf].pop_front().unwrap_or(0);
            if c.copied() {
                self.copied_bytes += bytes;
            } else {
                self.zero_copy_bytes += bytes;
            }
            return None;
        }
        // The notification follows its send's CQE, possibly in this same batch.
        if c.more {
            self.owed[c.buf].push_back(c.result.max(0) as u64);
        }
        if c.result < 0 {
            st.errors += 1;
        }
        Some(c.result)
    }
}

/// Wait for completions once and account them; returns a send's result if one
/// came. (The caller counts the io_uring_enter in `calls` while the flow runs.)
fn collect(ring: &mut SendZcRing<'_>, acct: &mut Account, st: &mut TxStats, wait_ms: u32) -> Result<Option<i32>> {
    acct.sc.time(Sys::IoUringEnter, || ring.submit_wait(wait_ms)).context("io_uring_enter")?;
    let mut sent = None;
    ring.drain(|c| {
        if let Some(r) = acct.take(c, st) {
            sent = Some(r);
        }
        Ok(())
    })?;
    Ok(sent)
}

/// Send all of buffer `b`, one SEND_ZC at a time.
fn send_buffer(
    ring: &mut SendZcRing<'_>,
    fd: BorrowedFd<'_>,
    b: usize,
    acct: &mut Account,
    st: &mut TxStats,
    ctx: &DataCtx,
) -> Result<()> {
    let len = ring.buf_len(b);
    let mut off = 0;
    while off < len {
        ring.push_send(fd, b, off, len - off)?;
        let res = loop {
            st.calls += 1;
            if let Some(res) = collect(ring, acct, st, IO_POLL_MS as u32)? {
                break res;
            }
            if ctx.aborted() {
                bail!("send aborted after {} bytes", st.bytes);
            }
        };
        match res {
            n if n >= 0 => {
                off += n as usize;
                st.bytes += n as u64;
                ctx.counters.tx.0.store(st.bytes, std::sync::atomic::Ordering::Relaxed);
            }
            e if -e == libc::EINTR || -e == libc::EAGAIN => {}
            e if -e == libc::EOPNOTSUPP => {
                return Err(unsupported(format!(
                    "io_uring SEND_ZC not supported on this socket ({})",
                    Feature::UringSendZc.label()
                )));
            }
            e => {
                return Err(anyhow!(std::io::Error::from_raw_os_error(-e))
                    .context(format!("io_uring SEND_ZC failed after {} bytes (receiver gone?)", st.bytes)));
            }
        }
    }
    Ok(())
}

impl TxPath for UringZc {
    fn run(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<TxStats> {
        let n = self.bufs.len();
        let mut ring = SendZcRing::new(32, &mut self.bufs)?;
        let mut st = TxStats::default();
        let mut acct = Account {
            owed: (0..n).map(|_| VecDeque::with_capacity(4)).collect(),
            zero_copy_bytes: 0,
            copied_bytes: 0,
            info: UringInfo { plain_ring_fallback: ring.plain_ring_fallback, ..Default::default() },
            sc: SyscallTimer::new(ctx.syscall_times),
        };
        let mut b = 0usize;
        'outer: while !ctx.stopped() {
            // Reuse a buffer only after every notification for it has come.
            while ring.busy(b) {
                st.calls += 1;
                collect(&mut ring, &mut acct, &mut st, IO_POLL_MS as u32)?;
                if ctx.stopped() && ring.busy(b) {
                    break 'outer;
                }
            }
            if ctx.validate
                && let Some(buf) = ring.buf_mut(b)
            {
                pattern::fill(buf, st.bytes);
            }
            send_buffer(&mut ring, fd, b, &mut acct, &mut st, ctx)?;
            b = (b + 1) % n;
        }
        finish(fd)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while ring.any_busy() && Instant::now() < deadline {
            collect(&mut ring, &mut acct, &mut st, 100)?;
        }
        st.unconfirmed_bytes = acct.owed.iter().flatten().sum();
        st.completions = acct.info.notifications;
        st.zero_copy = Some(ZeroCopy::new(
            acct.zero_copy_bytes,
            acct.copied_bytes,
            "io_uring SEND_ZC notifications (IORING_NOTIF_USAGE_ZC_COPIED marks copied)",
        ));
        st.uring = Some(acct.info);
        st.syscalls = acct.sc.report();
        Ok(st)
    }
}

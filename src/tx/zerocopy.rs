//! MSG_ZEROCOPY transmit: the kernel pins the user pages instead of copying them,
//! and says on the error queue when each send call's pages are free again — and
//! whether it had to copy after all (always, on loopback and veth, where the
//! receiver is local).

use super::desc::{TxModeDesc, no_options, no_period};
use super::path::{Params, TxPath, finish};
use crate::datapath::{DataCtx, IO_POLL_MS, Sys, SyscallTimer};
use crate::error::unsupported;
use crate::pattern;
use crate::results::schema::{TxStats, ZeroCopy};
use crate::sys::features::Feature;
use crate::sys::mem::PageBuf;
use crate::sys::sock::errqueue::{self, Completion};
use crate::sys::sock::{self, ERRQUEUE, WRITABLE, wait_ready};
use anyhow::{Result, anyhow, bail};
use std::collections::VecDeque;
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub const MODE: TxModeDesc = TxModeDesc {
    name: "zerocopy",
    help: "send(MSG_ZEROCOPY), completions from the error queue",
    needs: &[Feature::SoZerocopy],
    check_options: no_options,
    period: no_period,
    huge_buffers: MsgZerocopy::mappings,
    build: |p| Ok(Box::new(MsgZerocopy::new(p)?)),
};

/// Memory the buffer ring may take, and its bounds in buffers.
const RING_BYTES: usize = 64 << 20;
const MIN_BUFS: usize = 2;
const MAX_BUFS: usize = 16;

/// Send calls the kernel has not yet confirmed, oldest first. Call numbers are
/// consecutive, so a call's slot is `id - first id`. Notifications usually come in
/// order, but not always (a retransmitted or reordered skb can hold an earlier
/// call's pages longer), so each call is marked done on its own and the front is
/// popped once done.
#[derive(Default)]
pub struct Pending {
    /// (send call number, bytes, buffer index, done)
    calls: VecDeque<(u32, u64, usize, bool)>,
    pub zero_copy_bytes: u64,
    pub copied_bytes: u64,
    pub completions: u64,
}

impl Pending {
    pub fn push(&mut self, id: u32, bytes: u64, buf: usize) {
        self.calls.push_back((id, bytes, buf, false));
    }

    /// Apply one notification covering calls `lo..=hi`.
    pub fn complete(&mut self, c: Completion) -> Result<()> {
        self.completions += 1;
        let Some(&(first, ..)) = self.calls.front() else {
            bail!("MSG_ZEROCOPY completion for calls {}..={} with none pending", c.lo, c.hi)
        };
        let n = c.hi.wrapping_sub(c.lo).wrapping_add(1);
        for i in 0..n {
            let id = c.lo.wrapping_add(i);
            let idx = id.wrapping_sub(first) as usize;
            match self.calls.get_mut(idx) {
                Some(e) if e.0 == id && !e.3 => {
                    e.3 = true;
                    if c.copied {
                        self.copied_bytes += e.1;
                    } else {
                        self.zero_copy_bytes += e.1;
                    }
                }
                other => bail!("MSG_ZEROCOPY completion for call {id} that is not pending ({other:?})"),
            }
        }
        while self.calls.front().is_some_and(|e| e.3) {
            self.calls.pop_front();
        }
        Ok(())
    }

    pub fn uses(&self, buf: usize) -> bool {
        self.calls.iter().any(|e| e.2 == buf && !e.3)
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub fn unconfirmed_bytes(&self) -> u64 {
        self.calls.iter().filter(|e| !e.3).map(|e| e.1).sum()
    }
}

/// Where zero-copy sends take their payload from, chunk by chunk: user buffers
/// (MSG_ZEROCOPY) or a bound dma-buf (devmem TX). A chunk is reused only after
/// the kernel's completion for every send from it.
pub trait Source: Send {
    fn chunks(&self) -> usize;
    fn chunk_len(&self, c: usize) -> usize;
    /// Rewrite chunk `c` with the pattern for stream offset `at` (--validate).
    fn fill(&mut self, c: usize, at: u64) -> Result<()>;
    /// One send of chunk `c` from byte `off` to its end.
    fn send(&self, fd: BorrowedFd<'_>, c: usize, off: usize) -> std::io::Result<usize>;
    /// What the call is, for errors: "send(MSG_ZEROCOPY)".
    fn call(&self) -> &'static str;
    /// Where the result's zero-copy account comes from.
    fn report_source(&self) -> &'static str;
    /// Set the socket up (SO_ZEROCOPY and what else the source needs).
    fn prepare_socket(&self, fd: BorrowedFd<'_>) -> Result<()>;
    /// The syscall `send` makes, for `--syscall-times`.
    fn syscall(&self) -> Sys {
        Sys::Send
    }
}

/// User buffers for MSG_ZEROCOPY: 2–16 of them, 64 MiB in all.
pub struct UserBufs(Vec<PageBuf>);

impl Source for UserBufs {
    fn chunks(&self) -> usize {
        self.0.len()
    }
    fn chunk_len(&self, c: usize) -> usize {
        self.0[c].len()
    }
    fn fill(&mut self, c: usize, at: u64) -> Result<()> {
        pattern::fill(&mut self.0[c], at);
        Ok(())
    }
    fn send(&self, fd: BorrowedFd<'_>, c: usize, off: usize) -> std::io::Result<usize> {
        sock::send(fd, &self.0[c][off..], true)
    }
    fn call(&self) -> &'static str {
        "send(MSG_ZEROCOPY)"
    }
    fn report_source(&self) -> &'static str {
        "MSG_ZEROCOPY completions (SO_EE_CODE_ZEROCOPY_COPIED marks copied)"
    }
    fn prepare_socket(&self, fd: BorrowedFd<'_>) -> Result<()> {
        enable(fd)
    }
}

/// The zero-copy send engine over a [`Source`]: sends, error-queue
/// completions, chunk reuse, and the kernel's word on what it copied.
pub struct MsgZerocopy<S: Source> {
    pub(super) src: S,
    control: Vec<u8>,
    pending: Pending,
    next_id: u32,
    /// This run's syscall timer (made in `send_all`, off until then).
    sc: SyscallTimer,
}

/// Turn SO_ZEROCOPY on, or say precisely why not.
pub(super) fn enable(fd: BorrowedFd<'_>) -> Result<()> {
    sock::enable_zerocopy(fd).map_err(|e| {
        unsupported(format!(
            "setsockopt(SO_ZEROCOPY) failed: {e}; this kernel cannot do MSG_ZEROCOPY ({})",
            Feature::SoZerocopy.label()
        ))
    })
}

impl MsgZerocopy<UserBufs> {
    fn count(p: &Params) -> usize {
        (RING_BYTES / p.msg_size.max(1)).clamp(MIN_BUFS, MAX_BUFS)
    }

    /// The data buffers `new` maps with `p.backing`, by length.
    pub fn mappings(p: &Params) -> Vec<usize> {
        vec![p.msg_size; Self::count(p)]
    }

    pub fn new(p: &Params) -> Result<Self> {
        let n = Self::count(p);
        let mut bufs = Vec::with_capacity(n);
        for _ in 0..n {
            let mut b = PageBuf::new(p.msg_size, p.backing)?;
            pattern::fill(&mut b, 0);
            bufs.push(b);
        }
        Ok(MsgZerocopy::over(UserBufs(bufs)))
    }
}

impl<S: Source> MsgZerocopy<S> {
    pub(super) fn over(src: S) -> Self {
        MsgZerocopy {
            src,
            control: vec![0u8; 256],
            pending: Pending::default(),
            next_id: 0,
            sc: SyscallTimer::new(false),
        }
    }

    /// Apply every completion on the error queue.
    fn reap(&mut self, fd: BorrowedFd<'_>, st: &mut TxStats) -> Result<()> {
        loop {
            st.errqueue_reads += 1;
            let control = &mut self.control;
            match self.sc.time(Sys::Recvmsg, || errqueue::read_completion(fd, control)) {
                Ok(Some(c)) => self.pending.complete(c)?,
                Ok(None) => return Ok(()),
                Err(e) => return Err(anyhow!(e).context("reading zero-copy completions from the error queue")),
            }
        }
    }

    /// Wait until the kernel is done with every send from chunk `b`; false if
    /// the run stopped first.
    fn reclaim(&mut self, fd: BorrowedFd<'_>, b: usize, st: &mut TxStats, ctx: &DataCtx) -> Result<bool> {
        while self.pending.uses(b) {
            self.reap(fd, st)?;
            if self.pending.uses(b) {
                if ctx.stopped() {
                    return Ok(false);
                }
                self.sc.time_unit(Sys::Poll, || wait_ready(fd, ERRQUEUE, IO_POLL_MS));
                st.polls += 1;
            }
        }
        Ok(true)
    }

    /// Send all of chunk `b`; false if the run stopped first.
    fn send_chunk(&mut self, fd: BorrowedFd<'_>, b: usize, st: &mut TxStats, ctx: &DataCtx) -> Result<bool> {
        let len = self.src.chunk_len(b);
        let mut off = 0;
        while off < len {
            st.calls += 1;
            let (src, kind) = (&self.src, self.src.syscall());
            match self.sc.time(kind, || src.send(fd, b, off)) {
                Ok(n) => {
                    self.pending.push(self.next_id, n as u64, b);
                    self.next_id = self.next_id.wrapping_add(1);
                    off += n;
                    st.bytes += n as u64;
                    ctx.counters.tx.0.store(st.bytes, Ordering::Relaxed);
                }
                Err(e) => {
                    st.errors += 1;
                    match e.raw_os_error() {
                        // Socket buffer full, or optmem used up by pending notifications:
                        // collect completions, then wait for room or for a completion.
                        Some(libc::EAGAIN | libc::EINTR | libc::ENOBUFS) => {
                            self.reap(fd, st)?;
                            if ctx.stopped() {
                                return Ok(false);
                            }
                            self.sc.time_unit(Sys::Poll, || wait_ready(fd, WRITABLE | ERRQUEUE, IO_POLL_MS));
                            st.polls += 1;
                        }
                        _ => {
                            let call = self.src.call();
                            return Err(
                                anyhow!(e).context(format!("{call} failed after {} bytes (receiver gone?)", st.bytes))
                            );
                        }
                    }
                }
            }
        }
        Ok(true)
    }

    /// Collect the last completions so the copied share covers every byte.
    fn drain(&mut self, fd: BorrowedFd<'_>, st: &mut TxStats) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.pending.is_empty() && Instant::now() < deadline {
            self.reap(fd, st)?;
            if !self.pending.is_empty() {
                wait_ready(fd, ERRQUEUE, 100);
            }
        }
        let p = &self.pending;
        st.zero_copy = Some(ZeroCopy::new(p.zero_copy_bytes, p.copied_bytes, self.src.report_source()));
        st.completions = p.completions;
        st.unconfirmed_bytes = p.unconfirmed_bytes();
        Ok(())
    }

    /// The send loop: chunk after chunk, each reused only once the kernel is done with it.
    pub(super) fn send_all(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<TxStats> {
        self.src.prepare_socket(fd)?;
        self.sc = SyscallTimer::new(ctx.syscall_times);
        let mut st = TxStats::default();
        let mut b = 0usize;
        while !ctx.stopped() {
            if !self.reclaim(fd, b, &mut st, ctx)? {
                break;
            }
            if ctx.validate {
                self.src.fill(b, st.bytes)?;
            }
            if !self.send_chunk(fd, b, &mut st, ctx)? {
                break;
            }
            b = (b + 1) % self.src.chunks();
        }
        finish(fd)?;
        self.drain(fd, &mut st)?;
        st.syscalls = self.sc.report();
        Ok(st)
    }
}

impl TxPath for MsgZerocopy<UserBufs> {
    fn run(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<TxStats> {
        self.send_all(fd, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_account_bytes_in_order() {
        let mut p = Pending::default();
        for id in 0..5 {
            p.push(id, 100 + id as u64, (id % 2) as usize);
        }
        p.complete(Completion { lo: 0, hi: 1, copied: true }).unwrap();
        assert_eq!(p.copied_bytes, 201);
        assert!(p.uses(0) && p.uses(1));
        p.complete(Completion { lo: 2, hi: 4, copied: false }).unwrap();
        assert_eq!(p.zero_copy_bytes, 102 + 103 + 104);
        assert!(p.is_empty());
        assert!(p.complete(Completion { lo: 9, hi: 9, copied: false }).is_err());
    }

    #[test]
    fn out_of_order_completions_are_accepted_once() {
        let mut p = Pending::default();
        for id in 10..14 {
            p.push(id, 1, id as usize % 2);
        }
        p.complete(Completion { lo: 12, hi: 13, copied: false }).unwrap();
        assert!(!p.is_empty() && p.uses(0) && p.uses(1));
        assert_eq!(p.unconfirmed_bytes(), 2);
        assert!(p.complete(Completion { lo: 13, hi: 13, copied: false }).is_err(), "twice is a bug");
        p.complete(Completion { lo: 10, hi: 11, copied: true }).unwrap();
        assert!(p.is_empty());
        assert_eq!((p.zero_copy_bytes, p.copied_bytes), (2, 2));
    }

    #[test]
    fn ids_wrap_around() {
        let mut p = Pending::default();
        p.push(u32::MAX, 1, 0);
        p.push(0, 2, 1);
        p.complete(Completion { lo: u32::MAX, hi: 0, copied: false }).unwrap();
        assert_eq!(p.zero_copy_bytes, 3);
    }
}

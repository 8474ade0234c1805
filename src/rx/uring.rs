//! io_uring receive, copying: one multishot recv fed by a ring of provided
//! buffers, with bundles (several buffers per completion) where the kernel has
//! them. The non-zero-copy io_uring reference point for zcrx.

use super::{DataCtx, RxPath, RxStats};
use crate::error::unsupported;
use crate::pattern;
use crate::run::IO_POLL_MS;
use crate::sys::mem::PageBuf;
use crate::sys::uring::{data_ring, submit_wait};
use anyhow::{Context, Result, anyhow, bail};
use io_uring::types::{BufRingEntry, Fd};
use io_uring::{cqueue, opcode};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU16, Ordering};

const BGID: u16 = 0x7a;
const RECV: u64 = 1;

/// A provided-buffer ring. Buffers go back in the order they were used, so ring
/// slot `s` always holds buffer `s % n` and a bundle's buffers are consecutive ids.
pub struct BufRing {
    entries: PageBuf,
    data: PageBuf,
    pub n: u16,
    pub buf_len: usize,
    tail: u16,
}

impl BufRing {
    pub fn new(n: u16, buf_len: usize) -> Result<BufRing> {
        assert!(n.is_power_of_two());
        let entries = PageBuf::new(n as usize * std::mem::size_of::<BufRingEntry>())?;
        let data = PageBuf::new(n as usize * buf_len)?;
        let mut r = BufRing { entries, data, n, buf_len, tail: 0 };
        for bid in 0..n {
            r.push(bid);
        }
        r.publish();
        Ok(r)
    }

    fn entry(&mut self, slot: u16) -> &mut BufRingEntry {
        let idx = (slot & (self.n - 1)) as usize;
        // SAFETY: idx < n entries of the page-aligned entry array we own.
        unsafe { &mut *(self.entries.as_mut_ptr() as *mut BufRingEntry).add(idx) }
    }

    /// Queue buffer `bid` for the kernel (visible after `publish`).
    pub fn push(&mut self, bid: u16) {
        let addr = self.data.as_ptr() as u64 + bid as u64 * self.buf_len as u64;
        let len = self.buf_len as u32;
        let slot = self.tail;
        let e = self.entry(slot);
        e.set_addr(addr);
        e.set_len(len);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    pub fn publish(&mut self) {
        // SAFETY: the tail field lives in the first entry; the kernel reads it with acquire.
        let tail = unsafe { &*(BufRingEntry::tail(self.entries.as_ptr() as *const BufRingEntry) as *const AtomicU16) };
        tail.store(self.tail, Ordering::Release);
    }

    pub fn buf(&self, bid: u16) -> &[u8] {
        let off = bid as usize * self.buf_len;
        &self.data[off..off + self.buf_len]
    }

    pub fn entries_addr(&self) -> u64 {
        self.entries.as_ptr() as u64
    }
}

pub struct Uring {
    ring: BufRing,
}

impl Uring {
    pub fn new(read_size: usize) -> Result<Self> {
        // Buffers of up to 1 MiB (the read size, page rounded), 64 MiB in all.
        let buf_len = read_size.clamp(4096, 1 << 20).div_ceil(4096) * 4096;
        let n = ((64usize << 20) / buf_len).clamp(8, 4096).next_power_of_two() as u16;
        Ok(Uring { ring: BufRing::new(n, buf_len)? })
    }
}

impl RxPath for Uring {
    fn run(&mut self, fd: RawFd, ctx: &DataCtx) -> Result<RxStats> {
        let (mut uring, fallback) = data_ring(64)?;
        let bundle = uring.params().is_feature_recvsend_bundle();
        // SAFETY: the entry array lives in self.ring until after the ring is dropped.
        unsafe { uring.submitter().register_buf_ring_with_flags(self.ring.entries_addr(), self.ring.n, BGID, 0) }
            .map_err(|e| unsupported(format!("registering a provided-buffer ring failed: {e} (needs 5.19+)")))?;
        let arm = |uring: &mut io_uring::IoUring| -> Result<()> {
            let sqe = if bundle {
                opcode::RecvMultiBundle::new(Fd(fd), BGID).build()
            } else {
                opcode::RecvMulti::new(Fd(fd), BGID).build()
            }
            .user_data(RECV);
            // SAFETY: the buffers the kernel may write are the registered ring's, which outlive the ring.
            unsafe { uring.submission().push(&sqe) }.map_err(|_| anyhow!("io_uring submission queue full"))
        };
        arm(&mut uring)?;
        let mut st = RxStats {
            uring: Some(super::UringInfo { bundles: bundle, plain_ring_fallback: fallback, ..Default::default() }),
            ..Default::default()
        };
        let mut done = false;
        while !done {
            st.calls += 1;
            submit_wait(&uring, IO_POLL_MS as u32).context("io_uring_enter")?;
            let mut rearm = false;
            let mut returned = false;
            for cqe in uring.completion() {
                let info = st.uring.get_or_insert_with(Default::default);
                info.cqes += 1;
                let res = cqe.result();
                let more = cqueue::more(cqe.flags());
                if res < 0 {
                    st.errors += 1;
                    match -res {
                        // Ran out of buffers (we give them back each round) or interrupted: re-arm.
                        libc::ENOBUFS | libc::EINTR | libc::EAGAIN => {}
                        e => bail!(
                            "io_uring recv failed after {} bytes: {}",
                            st.bytes,
                            std::io::Error::from_raw_os_error(e)
                        ),
                    }
                } else if res == 0 {
                    done = true;
                } else {
                    let Some(mut bid) = cqueue::buffer_select(cqe.flags()) else {
                        bail!("io_uring recv completion without a buffer id")
                    };
                    let mut left = res as usize;
                    while left > 0 {
                        let n = left.min(self.ring.buf_len);
                        if ctx.validate {
                            pattern::check_stream(&self.ring.buf(bid)[..n], st.bytes, ctx.period)?;
                            st.validated_bytes += n as u64;
                        }
                        st.bytes += n as u64;
                        left -= n;
                        self.ring.push(bid);
                        bid = bid.wrapping_add(1) & (self.ring.n - 1);
                        returned = true;
                    }
                }
                if !more && !done {
                    rearm = true;
                }
            }
            if returned {
                self.ring.publish();
                ctx.counters.rx.0.store(st.bytes, Ordering::Relaxed);
            }
            if rearm {
                if let Some(i) = st.uring.as_mut() {
                    i.rearms += 1;
                }
                arm(&mut uring)?;
            }
            if ctx.flags.abort.load(Ordering::Relaxed) {
                bail!("receive aborted after {} bytes", st.bytes);
            }
        }
        ctx.flags.mark_rx_done();
        Ok(st)
    }
}

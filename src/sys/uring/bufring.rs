//! Multishot receive into a ring of provided buffers (IORING_REGISTER_PBUF_RING),
//! with bundles (several buffers per completion) where the kernel has them.
//!
//! Buffers go back in the order they were used, so ring slot `s` always holds
//! buffer `s % n` and a bundle's buffers are consecutive ids. A completion's
//! bytes are readable only inside [`RecvRing::drain`]'s callback; the buffers go
//! back to the kernel when it returns, so no slice of them can outlive their loan.

use super::{data_ring, submit_wait};
use crate::error::unsupported;
use crate::sys::mem::{Backing, PageBuf};
use anyhow::{Result, anyhow};
use io_uring::types::{BufRingEntry, Fd};
use io_uring::{IoUring, cqueue, opcode};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU16, Ordering};

const BGID: u16 = 0x7a;
const RECV: u64 = 1;

/// The memory of a provided-buffer ring: the entry array and the buffers.
/// Allocated before the flow starts; lent to a [`RecvRing`] on the data thread.
pub struct ProvidedBufs {
    entries: PageBuf,
    data: PageBuf,
    n: u16,
    buf_len: usize,
    tail: u16,
}

impl ProvidedBufs {
    /// `n` (a power of two) buffers of `buf_len` bytes.
    pub fn new(n: u16, buf_len: usize, backing: Backing) -> Result<ProvidedBufs> {
        if !n.is_power_of_two() {
            return Err(anyhow!("a provided-buffer ring needs a power-of-two count, not {n}"));
        }
        // The entry array is shared with the kernel: ordinary pages, page aligned.
        let entries = PageBuf::new(n as usize * std::mem::size_of::<BufRingEntry>(), Backing::Pages)?;
        let data = PageBuf::new(n as usize * buf_len, backing)?;
        Ok(ProvidedBufs { entries, data, n, buf_len, tail: 0 })
    }

    fn entry(&mut self, slot: u16) -> &mut BufRingEntry {
        let idx = (slot & (self.n - 1)) as usize;
        // SAFETY: idx < n entries of the page-aligned entry array we own.
        unsafe { &mut *(self.entries.as_mut_ptr() as *mut BufRingEntry).add(idx) }
    }

    /// Queue buffer `bid` for the kernel (visible after `publish`).
    fn push(&mut self, bid: u16) {
        let addr = self.data.as_ptr() as u64 + bid as u64 * self.buf_len as u64;
        let len = self.buf_len as u32;
        let slot = self.tail;
        let e = self.entry(slot);
        e.set_addr(addr);
        e.set_len(len);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&mut self) {
        // SAFETY: the tail field lives in the first entry; the kernel reads it with acquire.
        let tail = unsafe { &*(BufRingEntry::tail(self.entries.as_ptr() as *const BufRingEntry) as *const AtomicU16) };
        tail.store(self.tail, Ordering::Release);
    }

    fn buf(&self, bid: u16) -> &[u8] {
        let off = bid as usize * self.buf_len;
        &self.data[off..off + self.buf_len]
    }
}

/// One receive completion, as the data path sees it.
pub struct Completion<'a> {
    /// Bytes received (> 0), 0 at the end of the flow, or -errno.
    pub result: i32,
    /// The multishot request is still armed (IORING_CQE_F_MORE).
    pub more: bool,
    first: Option<u16>,
    bufs: &'a ProvidedBufs,
}

impl Completion<'_> {
    /// The received bytes, buffer by buffer (several for a bundle).
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let mut left = usize::try_from(self.result).unwrap_or(0);
        let mut bid = self.first.unwrap_or(0);
        let (n, len) = (self.bufs.n, self.bufs.buf_len);
        std::iter::from_fn(move || {
            if left == 0 || self.first.is_none() {
                return None;
            }
            let k = left.min(len);
            let chunk = &self.bufs.buf(bid)[..k];
            left -= k;
            bid = bid.wrapping_add(1) & (n - 1);
            Some(chunk)
        })
    }

    /// Data arrived but the kernel named no buffer: a kernel bug or a mismatch.
    pub fn missing_buffer(&self) -> bool {
        self.result > 0 && self.first.is_none()
    }

    fn buffers_used(&self) -> usize {
        usize::try_from(self.result).unwrap_or(0).div_ceil(self.bufs.buf_len)
    }
}

/// A ring with a multishot receive fed from [`ProvidedBufs`]. Create it on the
/// thread that uses it. It borrows the buffers for its whole life, so the kernel
/// never sees memory that is freed or lent elsewhere.
pub struct RecvRing<'b> {
    ring: IoUring,
    bufs: &'b mut ProvidedBufs,
    /// Receive bundles (several buffers per completion) are used.
    pub bundles: bool,
    /// The kernel refused SINGLE_ISSUER|DEFER_TASKRUN and a plain ring is used.
    pub plain_ring_fallback: bool,
}

impl<'b> RecvRing<'b> {
    pub fn new(entries: u32, bufs: &'b mut ProvidedBufs) -> Result<RecvRing<'b>> {
        let (ring, plain_ring_fallback) = data_ring(entries)?;
        bufs.tail = 0;
        for bid in 0..bufs.n {
            bufs.push(bid);
        }
        bufs.publish();
        // SAFETY: the entry array and the buffers it points at are borrowed for
        // the ring's whole life ('b), and the ring is dropped first.
        unsafe { ring.submitter().register_buf_ring_with_flags(bufs.entries.as_ptr() as u64, bufs.n, BGID, 0) }
            .map_err(|e| unsupported(format!("registering a provided-buffer ring failed: {e} (needs 5.19+)")))?;
        let bundles = ring.params().is_feature_recvsend_bundle();
        Ok(RecvRing { ring, bufs, bundles, plain_ring_fallback })
    }

    /// Arm (or re-arm) the multishot receive on `fd`.
    pub fn arm(&mut self, fd: BorrowedFd<'_>) -> Result<()> {
        let fd = Fd(fd.as_raw_fd());
        let sqe = if self.bundles {
            opcode::RecvMultiBundle::new(fd, BGID).build()
        } else {
            opcode::RecvMulti::new(fd, BGID).build()
        }
        .user_data(RECV);
        // SAFETY: the kernel writes only into the registered provided buffers,
        // which this ring borrows for its whole life.
        unsafe { self.ring.submission().push(&sqe) }.map_err(|_| anyhow!("io_uring submission queue full"))
    }

    pub fn submit_wait(&self, timeout_ms: u32) -> std::io::Result<()> {
        submit_wait(&self.ring, timeout_ms)
    }

    /// Hand each completion to `f`; the buffers of each go back to the kernel
    /// when `f` returns. Returns the number of completions.
    pub fn drain(&mut self, mut f: impl FnMut(&Completion<'_>) -> Result<()>) -> Result<u64> {
        let mut n = 0;
        let mut returned = false;
        let bufs = &mut *self.bufs;
        for cqe in self.ring.completion() {
            n += 1;
            let c = Completion {
                result: cqe.result(),
                more: cqueue::more(cqe.flags()),
                first: cqueue::buffer_select(cqe.flags()),
                bufs,
            };
            let r = f(&c);
            let (first, used) = (c.first, c.buffers_used());
            if let Some(first) = first {
                for k in 0..used {
                    bufs.push(first.wrapping_add(k as u16) & (bufs.n - 1));
                }
                returned |= used > 0;
            }
            r?;
        }
        if returned {
            bufs.publish();
        }
        Ok(n)
    }
}

//! io_uring SEND_ZC from registered buffers. The ring borrows the buffers for
//! its whole life and tracks, per buffer, the operations the kernel may still be
//! reading it for: the send itself until its completion, and the zero-copy
//! notification after that. A busy buffer cannot be borrowed for writing.

use super::{IORING_NOTIF_USAGE_ZC_COPIED, IORING_SEND_ZC_REPORT_USAGE, data_ring, submit_wait};
use crate::error::unsupported;
use crate::sys::mem::PageBuf;
use anyhow::{Result, anyhow, bail};
use io_uring::types::Fd;
use io_uring::{IoUring, cqueue, opcode};
use std::os::fd::{AsRawFd, BorrowedFd};

/// One SEND_ZC completion: the send's own, or its buffer notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendCompletion {
    /// The registered buffer the operation used.
    pub buf: usize,
    /// Send: bytes sent or -errno. Notification: the kernel's usage report.
    pub result: i32,
    /// This is the buffer notification (IORING_CQE_F_NOTIF), not the send.
    pub notif: bool,
    /// Send: a notification for it will follow (IORING_CQE_F_MORE).
    pub more: bool,
}

impl SendCompletion {
    /// Notification: the kernel copied the payload after all
    /// (IORING_NOTIF_USAGE_ZC_COPIED, with IORING_SEND_ZC_REPORT_USAGE).
    pub fn copied(&self) -> bool {
        self.notif && (self.result as u32 & IORING_NOTIF_USAGE_ZC_COPIED) != 0
    }
}

pub struct SendZcRing<'b> {
    ring: IoUring,
    bufs: &'b mut [PageBuf],
    /// Per buffer: operations (sends, then notifications) the kernel still owes.
    owed: Vec<u32>,
    /// The kernel refused SINGLE_ISSUER|DEFER_TASKRUN and a plain ring is used.
    pub plain_ring_fallback: bool,
}

impl<'b> SendZcRing<'b> {
    /// A ring on the calling thread with `bufs` registered as fixed buffers.
    pub fn new(entries: u32, bufs: &'b mut [PageBuf]) -> Result<SendZcRing<'b>> {
        if bufs.len() > usize::from(u16::MAX) {
            bail!("{} registered buffers are more than io_uring can index", bufs.len());
        }
        let (ring, plain_ring_fallback) = data_ring(entries)?;
        let iov: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec { iov_base: b.as_mut_ptr() as *mut libc::c_void, iov_len: b.len() })
            .collect();
        // SAFETY: the buffers are borrowed for the ring's whole life ('b).
        unsafe { ring.submitter().register_buffers(&iov) }
            .map_err(|e| unsupported(format!("registering io_uring buffers failed: {e} (RLIMIT_MEMLOCK?)")))?;
        let owed = vec![0; bufs.len()];
        Ok(SendZcRing { ring, bufs, owed, plain_ring_fallback })
    }

    pub fn buf_len(&self, i: usize) -> usize {
        self.bufs[i].len()
    }

    /// Whether the kernel may still read buffer `i`.
    pub fn busy(&self, i: usize) -> bool {
        self.owed[i] > 0
    }

    pub fn any_busy(&self) -> bool {
        self.owed.iter().any(|&n| n > 0)
    }

    /// Buffer `i` for writing; None while the kernel may still read it.
    pub fn buf_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        if self.busy(i) { None } else { Some(&mut self.bufs[i][..]) }
    }

    /// Queue SEND_ZC of `bufs[i][off..off + len]` on `fd` with MSG_WAITALL,
    /// asking the kernel to report whether it copied.
    pub fn push_send(&mut self, fd: BorrowedFd<'_>, i: usize, off: usize, len: usize) -> Result<()> {
        let b = &self.bufs[i];
        let len = u32::try_from(len.min(b.len().saturating_sub(off)))
            .map_err(|_| anyhow!("a {len}-byte SEND_ZC is larger than io_uring takes"))?;
        let ptr = b[off..].as_ptr();
        let sqe = opcode::SendZc::new(Fd(fd.as_raw_fd()), ptr, len)
            .buf_index(Some(i as u16))
            .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
            .zc_flags(IORING_SEND_ZC_REPORT_USAGE)
            .build()
            .user_data(i as u64);
        // SAFETY: the registered buffer is borrowed by the ring for its whole
        // life, and cannot be written (buf_mut) until its operations complete.
        unsafe { self.ring.submission().push(&sqe) }.map_err(|_| anyhow!("io_uring submission queue full"))?;
        self.owed[i] += 1;
        Ok(())
    }

    pub fn submit_wait(&self, timeout_ms: u32) -> std::io::Result<()> {
        submit_wait(&self.ring, timeout_ms)
    }

    /// Hand each completion to `f`, keeping the per-buffer accounting.
    pub fn drain(&mut self, mut f: impl FnMut(SendCompletion) -> Result<()>) -> Result<u64> {
        let mut n = 0;
        for cqe in self.ring.completion() {
            n += 1;
            let c = SendCompletion {
                buf: cqe.user_data() as usize,
                result: cqe.result(),
                notif: cqueue::notif(cqe.flags()),
                more: cqueue::more(cqe.flags()),
            };
            let Some(owed) = self.owed.get_mut(c.buf) else {
                bail!("io_uring completion for buffer {} of {}", c.buf, self.bufs.len());
            };
            // The send's completion ends its operation; with F_MORE a notification is still owed.
            *owed = owed.saturating_sub(1) + u32::from(!c.notif && c.more);
            f(c)?;
        }
        Ok(n)
    }
}

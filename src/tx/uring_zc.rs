//! io_uring SEND_ZC transmit from registered buffers. One send is in flight at a
//! time (two in flight on one stream socket could be reordered); each send's
//! buffer is reused only after its notification CQE, which — with
//! IORING_SEND_ZC_REPORT_USAGE — says whether the kernel copied after all.

use super::{TxPath, TxStats};
use crate::pattern;
use crate::run::IO_POLL_MS;
use crate::rx::{DataCtx, UringInfo, ZeroCopyReport};
use crate::sys::mem::PageBuf;
use crate::sys::uring::{IORING_NOTIF_USAGE_ZC_COPIED, IORING_SEND_ZC_REPORT_USAGE, data_ring, submit_wait};
use anyhow::{Context, Result, anyhow, bail};
use io_uring::types::Fd;
use io_uring::{cqueue, opcode};
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const RING_BYTES: usize = 64 << 20;

pub struct UringZc {
    bufs: Vec<PageBuf>,
}

impl UringZc {
    pub fn new(msg_size: usize) -> Result<Self> {
        let n = (RING_BYTES / msg_size.max(1)).clamp(2, 16);
        let mut bufs = Vec::with_capacity(n);
        for _ in 0..n {
            let mut b = PageBuf::new(msg_size)?;
            pattern::fill(&mut b, 0);
            bufs.push(b);
        }
        Ok(UringZc { bufs })
    }
}

/// Per-buffer bookkeeping: notifications still owed, and bytes of each pending send.
#[derive(Default, Clone)]
struct Slot {
    notifs_owed: u32,
    bytes_owed: Vec<u64>,
}

impl TxPath for UringZc {
    fn run(&mut self, fd: RawFd, ctx: &DataCtx) -> Result<TxStats> {
        let (mut uring, fallback) = data_ring(32)?;
        let iov: Vec<libc::iovec> = self
            .bufs
            .iter_mut()
            .map(|b| libc::iovec { iov_base: b.as_mut_ptr() as *mut libc::c_void, iov_len: b.len() })
            .collect();
        // SAFETY: the buffers live in self.bufs for as long as the ring.
        unsafe { uring.submitter().register_buffers(&iov) }.map_err(|e| {
            crate::error::unsupported(format!("registering io_uring buffers failed: {e} (RLIMIT_MEMLOCK?)"))
        })?;
        let mut st = TxStats::default();
        let mut info = UringInfo { plain_ring_fallback: fallback, ..Default::default() };
        let mut slots = vec![Slot::default(); self.bufs.len()];
        let (mut zc_bytes, mut copied_bytes) = (0u64, 0u64);
        let stopped = || ctx.flags.stop.load(Ordering::Relaxed) || ctx.flags.abort.load(Ordering::Relaxed);
        let mut b = 0usize;
        let mut in_flight: Option<(usize, usize, u64)> = None; // (buffer, offset, len)

        // Reap completions; returns bytes of a finished send, if any.
        let mut reap = |uring: &mut io_uring::IoUring,
                        slots: &mut [Slot],
                        info: &mut UringInfo,
                        st: &mut TxStats|
         -> Result<Option<(usize, i32)>> {
            let mut sent = None;
            for cqe in uring.completion() {
                info.cqes += 1;
                let buf = cqe.user_data() as usize;
                if cqueue::notif(cqe.flags()) {
                    info.notifications += 1;
                    let s = &mut slots[buf];
                    s.notifs_owed = s.notifs_owed.saturating_sub(1);
                    let bytes = if s.bytes_owed.is_empty() { 0 } else { s.bytes_owed.remove(0) };
                    if cqe.result() as u32 & IORING_NOTIF_USAGE_ZC_COPIED != 0 {
                        copied_bytes += bytes;
                    } else {
                        zc_bytes += bytes;
                    }
                } else {
                    // The notification follows its send's CQE, possibly in this same batch.
                    if cqueue::more(cqe.flags()) {
                        slots[buf].notifs_owed += 1;
                        slots[buf].bytes_owed.push(cqe.result().max(0) as u64);
                    }
                    if cqe.result() < 0 {
                        st.errors += 1;
                    }
                    sent = Some((buf, cqe.result()));
                }
            }
            Ok(sent)
        };

        'outer: loop {
            if in_flight.is_none() {
                if stopped() {
                    break;
                }
                // Reuse a buffer only after every notification for it has come.
                while slots[b].notifs_owed > 0 {
                    st.calls += 1;
                    submit_wait(&uring, IO_POLL_MS as u32).context("io_uring_enter")?;
                    reap(&mut uring, &mut slots, &mut info, &mut st)?;
                    if stopped() && slots[b].notifs_owed > 0 {
                        break 'outer;
                    }
                }
                if ctx.validate {
                    pattern::fill(&mut self.bufs[b], st.bytes);
                }
                in_flight = Some((b, 0, self.bufs[b].len() as u64));
                b = (b + 1) % self.bufs.len();
            }
            let Some((buf, off, len)) = in_flight else { continue };
            let ptr = self.bufs[buf][off..].as_ptr();
            let sqe = opcode::SendZc::new(Fd(fd), ptr, (len as usize - off) as u32)
                .buf_index(Some(buf as u16))
                .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
                .zc_flags(IORING_SEND_ZC_REPORT_USAGE)
                .build()
                .user_data(buf as u64);
            // SAFETY: the registered buffer stays untouched until its notification.
            unsafe { uring.submission().push(&sqe) }.map_err(|_| anyhow!("io_uring submission queue full"))?;
            let res = loop {
                st.calls += 1;
                submit_wait(&uring, IO_POLL_MS as u32).context("io_uring_enter")?;
                if let Some((_, res)) = reap(&mut uring, &mut slots, &mut info, &mut st)? {
                    break res;
                }
                if ctx.flags.abort.load(Ordering::Relaxed) {
                    bail!("send aborted after {} bytes", st.bytes);
                }
            };
            if res < 0 {
                match -res {
                    libc::EINTR | libc::EAGAIN => continue,
                    libc::EOPNOTSUPP => {
                        return Err(crate::error::unsupported(
                            "io_uring SEND_ZC not supported on this socket (needs 6.0+)",
                        ));
                    }
                    e => {
                        return Err(anyhow!(std::io::Error::from_raw_os_error(e))
                            .context(format!("io_uring SEND_ZC failed after {} bytes (receiver gone?)", st.bytes)));
                    }
                }
            }
            let n = res as u64;
            st.bytes += n;

            ctx.counters.tx.0.store(st.bytes, Ordering::Relaxed);
            let off = off + n as usize;
            in_flight = if (off as u64) < len { Some((buf, off, len)) } else { None };
        }
        // SAFETY: plain shutdown(2) on our socket.
        unsafe { libc::shutdown(fd, libc::SHUT_WR) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while slots.iter().any(|s| s.notifs_owed > 0) && Instant::now() < deadline {
            submit_wait(&uring, 100).context("io_uring_enter")?;
            reap(&mut uring, &mut slots, &mut info, &mut st)?;
        }
        st.unconfirmed_bytes = slots.iter().flat_map(|s| s.bytes_owed.iter()).sum();
        st.completions = info.notifications;
        st.zero_copy = Some(ZeroCopyReport::new(
            zc_bytes,
            copied_bytes,
            "io_uring SEND_ZC notifications (IORING_NOTIF_USAGE_ZC_COPIED marks copied)",
        ));
        st.uring = Some(info);
        Ok(st)
    }
}

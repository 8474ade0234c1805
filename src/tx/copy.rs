//! Copying transmit: send() of one pre-filled message buffer, over and over.

use super::{TxPath, TxStats, wait_for_room};
use crate::pattern;
use crate::rx::DataCtx;
use crate::sys::mem::PageBuf;

use anyhow::Result;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;

pub struct Copy {
    buf: PageBuf,
}

impl Copy {
    pub fn new(msg_size: usize) -> Result<Self> {
        let mut buf = PageBuf::new(msg_size)?;
        pattern::fill(&mut buf, 0);
        Ok(Copy { buf })
    }
}

impl TxPath for Copy {
    fn run(&mut self, fd: RawFd, ctx: &DataCtx) -> Result<TxStats> {
        let mut st = TxStats::default();
        let stopped = || ctx.flags.stop.load(Ordering::Relaxed) || ctx.flags.abort.load(Ordering::Relaxed);
        'outer: while !stopped() {
            if ctx.validate {
                // The pattern follows the stream position: refill for this message.
                pattern::fill(&mut self.buf, st.bytes);
            }
            let mut off = 0;
            while off < self.buf.len() {
                let rest = &self.buf[off..];
                // SAFETY: rest is a valid readable buffer.
                let n = unsafe { libc::send(fd, rest.as_ptr() as *const libc::c_void, rest.len(), libc::MSG_NOSIGNAL) };
                st.calls += 1;
                if n >= 0 {
                    off += n as usize;
                    st.bytes += n as u64;
                    ctx.counters.tx.0.store(st.bytes, Ordering::Relaxed);
                } else if !wait_for_room(fd, &mut st, stopped(), "send")? {
                    break 'outer;
                }
            }
        }
        // SAFETY: plain shutdown(2) on our socket.
        unsafe { libc::shutdown(fd, libc::SHUT_WR) };
        Ok(st)
    }
}

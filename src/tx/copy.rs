//! Copying transmit: send() of one pre-filled message buffer, over and over.

use super::{TxPath, TxStats};
use crate::pattern;
use crate::run::IO_POLL_MS;
use crate::rx::{DataCtx, errno};
use crate::sys::mem::PageBuf;
use crate::sys::sock::wait_ready;

use anyhow::{Result, anyhow};
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
                } else {
                    st.errors += 1;
                    match errno() {
                        // Send buffer full: look at the flags, then sleep until there is room.
                        libc::EAGAIN | libc::EINTR => {
                            if stopped() {
                                break 'outer;
                            }
                            wait_ready(fd, libc::POLLOUT, IO_POLL_MS);
                            st.polls += 1;
                        }
                        e => {
                            return Err(anyhow!(std::io::Error::from_raw_os_error(e))
                                .context(format!("send failed after {} bytes (receiver gone?)", st.bytes)));
                        }
                    }
                }
            }
        }
        // SAFETY: plain shutdown(2) on our socket.
        unsafe { libc::shutdown(fd, libc::SHUT_WR) };
        Ok(st)
    }
}

//! Baseline receive: recv() into one user buffer; the kernel copies every byte.

use super::{DataCtx, RxPath, RxStats, recv_checked};
use crate::run::IO_POLL_MS;
use crate::sys::mem::PageBuf;
use crate::sys::sock::wait_ready;

use anyhow::{Result, bail};
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;

pub struct Baseline {
    buf: PageBuf,
}

impl Baseline {
    pub fn new(read_size: usize) -> Result<Self> {
        Ok(Baseline { buf: PageBuf::new(read_size)? })
    }
}

impl RxPath for Baseline {
    fn run(&mut self, fd: RawFd, ctx: &DataCtx) -> Result<RxStats> {
        let mut st = RxStats::default();
        loop {
            match recv_checked(fd, &mut self.buf, &mut st, ctx)? {
                None => break,
                Some(0) => {
                    // Nothing queued: look at the flags, then sleep until data arrives.
                    if ctx.flags.abort.load(Ordering::Relaxed) {
                        bail!("receive aborted after {} bytes", st.bytes);
                    }
                    wait_ready(fd, libc::POLLIN, IO_POLL_MS);
                    st.polls += 1;
                }
                Some(_) => ctx.counters.rx.0.store(st.bytes, Ordering::Relaxed),
            }
        }
        ctx.flags.mark_rx_done();
        Ok(st)
    }
}

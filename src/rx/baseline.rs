//! Baseline receive: recv() into one user buffer; the kernel copies every byte.

use super::{DataCtx, RxPath, RxStats, errno};
use crate::pattern;
use crate::run::IO_POLL_MS;
use crate::sys::mem::PageBuf;
use crate::sys::sock::wait_ready;

use anyhow::{Result, anyhow, bail};
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
            // SAFETY: buf is a valid writable buffer of buf.len() bytes.
            let n = unsafe { libc::recv(fd, self.buf.as_mut_ptr() as *mut libc::c_void, self.buf.len(), 0) };
            st.calls += 1;
            if n > 0 {
                let n = n as usize;
                if ctx.validate {
                    pattern::check_stream(&self.buf[..n], st.bytes, ctx.period)?;

                    st.validated_bytes += n as u64;
                }
                st.bytes += n as u64;
                ctx.counters.rx.0.store(st.bytes, Ordering::Relaxed);
            } else if n == 0 {
                break;
            } else {
                st.errors += 1;
                match errno() {
                    // Nothing queued: look at the flags, then sleep until data arrives.
                    libc::EAGAIN | libc::EINTR => {
                        if ctx.flags.abort.load(Ordering::Relaxed) {
                            bail!("receive aborted after {} bytes", st.bytes);
                        }
                        wait_ready(fd, libc::POLLIN, IO_POLL_MS);
                        st.polls += 1;
                    }
                    e => {
                        return Err(anyhow!(std::io::Error::from_raw_os_error(e))
                            .context(format!("recv failed after {} bytes", st.bytes)));
                    }
                }
            }
        }
        ctx.flags.mark_rx_done();
        Ok(st)
    }
}

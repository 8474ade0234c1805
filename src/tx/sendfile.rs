//! sendfile() transmit from one tmpfs file (a memfd) holding one message: the
//! kernel sends page-cache pages without copying them through user space. The
//! file is sent over and over, so `--validate` checks a pattern with the message
//! as its period (`FlowConfig::validation_period`).

use super::{TxPath, TxStats, wait_for_room};
use crate::pattern;
use crate::rx::DataCtx;
use anyhow::{Context, Result};

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::Ordering;

pub struct Sendfile {
    file: File,
    len: u64,
}

impl Sendfile {
    pub fn new(msg_size: usize) -> Result<Self> {
        // SAFETY: memfd_create with a static NUL-terminated name.
        let fd = unsafe { libc::memfd_create(c"zcbench-sendfile".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("memfd_create for the sendfile source");
        }
        // SAFETY: fresh fd owned by nobody else.
        let mut file = unsafe { File::from_raw_fd(fd) };
        let mut buf = vec![0u8; msg_size];
        pattern::fill(&mut buf, 0);
        file.write_all(&buf).context("filling the sendfile source (tmpfs full?)")?;
        Ok(Sendfile { file, len: msg_size as u64 })
    }
}

impl TxPath for Sendfile {
    fn run(&mut self, fd: RawFd, ctx: &DataCtx) -> Result<TxStats> {
        let mut st = TxStats::default();
        let stopped = || ctx.flags.stop.load(Ordering::Relaxed) || ctx.flags.abort.load(Ordering::Relaxed);
        'outer: while !stopped() {
            let mut off: libc::off_t = 0;
            while (off as u64) < self.len {
                let want = (self.len - off as u64) as usize;
                // SAFETY: both fds are ours; off is a valid in/out offset.
                let n = unsafe { libc::sendfile(fd, self.file.as_raw_fd(), &mut off, want) };
                st.calls += 1;
                if n >= 0 {
                    st.bytes += n as u64;
                    ctx.counters.tx.0.store(st.bytes, Ordering::Relaxed);
                    continue;
                }
                if !wait_for_room(fd, &mut st, stopped(), "sendfile")? {
                    break 'outer;
                }
            }
        }
        // SAFETY: plain shutdown(2) on our socket.
        unsafe { libc::shutdown(fd, libc::SHUT_WR) };
        Ok(st)
    }
}

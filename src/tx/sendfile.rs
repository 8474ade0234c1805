//! sendfile() transmit from one tmpfs file (a memfd) holding one message: the
//! kernel sends page-cache pages without copying them through user space. The
//! file is sent over and over, so `--validate` checks a pattern with the message
//! as its period (`period` in its descriptor).

use super::desc::{TxModeDesc, no_options};
use super::path::{Params, TxPath, finish, wait_for_room};
use crate::datapath::{DataCtx, Sys, SyscallTimer};
use crate::pattern;
use crate::results::schema::TxStats;
use crate::sys::{mem, sock};
use anyhow::Result;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::Ordering;

pub const MODE: TxModeDesc = TxModeDesc {
    name: "sendfile",
    help: "sendfile() from a tmpfs file",
    needs: &[],
    check_options: no_options,
    period: |p| Some(p.msg_size as u64),
    // It sends from a memfd (page cache), not from user buffers.
    huge_buffers: |_| Vec::new(),
    build: |p| Ok(Box::new(Sendfile::new(p)?)),
};

pub struct Sendfile {
    file: File,
    len: u64,
}

impl Sendfile {
    pub fn new(p: &Params) -> Result<Self> {
        let mut buf = vec![0u8; p.msg_size];
        pattern::fill(&mut buf, 0);
        Ok(Sendfile { file: mem::memfd_with(c"zcbench-sendfile", &buf)?, len: p.msg_size as u64 })
    }
}

impl TxPath for Sendfile {
    fn run(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<TxStats> {
        let mut st = TxStats::default();
        let mut sc = SyscallTimer::new(ctx.syscall_times);
        'outer: while !ctx.stopped() {
            let mut off: i64 = 0;
            while (off as u64) < self.len {
                let want = (self.len - off as u64) as usize;
                st.calls += 1;
                match sc.time(Sys::Sendfile, || sock::sendfile(fd, self.file.as_fd(), &mut off, want)) {
                    Ok(n) => {
                        st.bytes += n as u64;
                        ctx.counters.tx.0.store(st.bytes, Ordering::Relaxed);
                    }
                    Err(e) => {
                        if !wait_for_room(fd, e, &mut st, ctx.stopped(), "sendfile", &mut sc)? {
                            break 'outer;
                        }
                    }
                }
            }
        }
        finish(fd)?;
        st.syscalls = sc.report();
        Ok(st)
    }
}

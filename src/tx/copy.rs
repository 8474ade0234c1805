//! Copying transmit: send() of one pre-filled message buffer, over and over.

use super::desc::{TxModeDesc, no_options, no_period};
use super::path::{Params, TxPath, finish, wait_for_room};
use crate::datapath::{DataCtx, Sys, SyscallTimer};
use crate::pattern;
use crate::results::schema::TxStats;
use crate::sys::mem::PageBuf;
use crate::sys::sock;
use anyhow::Result;
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;

pub const MODE: TxModeDesc = TxModeDesc {
    name: "copy",
    help: "send() from a user buffer (the kernel copies)",
    needs: &[],
    check_options: no_options,
    period: no_period,
    huge_buffers: |p| vec![p.msg_size],
    build: |p| Ok(Box::new(Copy::new(p)?)),
};

pub struct Copy {
    buf: PageBuf,
}

impl Copy {
    pub fn new(p: &Params) -> Result<Self> {
        let mut buf = PageBuf::new(p.msg_size, p.backing)?;
        pattern::fill(&mut buf, 0);
        Ok(Copy { buf })
    }
}

impl TxPath for Copy {
    fn run(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<TxStats> {
        let mut st = TxStats::default();
        let mut sc = SyscallTimer::new(ctx.syscall_times);
        'outer: while !ctx.stopped() {
            if ctx.validate {
                // The pattern follows the stream position: refill for this message.
                pattern::fill(&mut self.buf, st.bytes);
            }
            let mut off = 0;
            while off < self.buf.len() {
                st.calls += 1;
                match sc.time(Sys::Send, || sock::send(fd, &self.buf[off..], false)) {
                    Ok(n) => {
                        off += n;
                        st.bytes += n as u64;
                        ctx.counters.tx.0.store(st.bytes, Ordering::Relaxed);
                    }
                    Err(e) => {
                        if !wait_for_room(fd, e, &mut st, ctx.stopped(), "send", &mut sc)? {
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

//! Baseline receive: recv() into one user buffer; the kernel copies every byte.

use super::desc::{Kind, PathDesc, Queue, RxModeDesc, no_options};
use super::path::{Params, RxPath, recv_checked};
use crate::datapath::{DataCtx, IO_POLL_MS, Sys, SyscallTimer};
use crate::domain::{RxMode, TxMode};
use crate::results::schema::RxStats;
use crate::sys::mem::PageBuf;
use crate::sys::sock::{READABLE, wait_ready};
use anyhow::{Result, bail};
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;

pub const MODE: RxModeDesc = RxModeDesc {
    mode: RxMode::Baseline,
    name: "baseline",
    help: "recv() into a user buffer (the kernel copies)",
    colour: (0x00, 0x72, 0xB2),
    kind: Kind::Path(PathDesc {
        needs: &[],
        queue: Queue::None,
        flows_on_nic: "",
        default_tx: TxMode::Copy,
        mss: None,
        check_options: no_options,
        huge_buffers: |p| vec![p.read_size],
        build: |p| Ok(Box::new(Baseline::new(p)?)),
    }),
};

pub struct Baseline {
    buf: PageBuf,
}

impl Baseline {
    pub fn new(p: &Params) -> Result<Self> {
        Ok(Baseline { buf: PageBuf::new(p.read_size, p.backing)? })
    }
}

impl RxPath for Baseline {
    fn run(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<RxStats> {
        let mut st = RxStats::default();
        let mut sc = SyscallTimer::new(ctx.syscall_times);
        loop {
            match recv_checked(fd, &mut self.buf, &mut st, ctx, &mut sc)? {
                None => break,
                Some(0) => {
                    // Nothing queued: look at the flags, then sleep until data arrives.
                    if ctx.aborted() {
                        bail!("receive aborted after {} bytes", st.bytes);
                    }
                    sc.time_unit(Sys::Poll, || wait_ready(fd, READABLE, IO_POLL_MS));
                    st.polls += 1;
                }
                Some(_) => ctx.counters.rx.0.store(st.bytes, Ordering::Relaxed),
            }
        }
        ctx.flags.mark_rx_done();
        st.syscalls = sc.report();
        Ok(st)
    }
}

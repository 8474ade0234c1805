//! The zcrx receive loop on the data thread, and what it records.

use super::state::{Next, Receiver};
use crate::datapath::{DataCtx, IO_POLL_MS, Sys, SyscallTimer};
use crate::domain::ZcrxOpts;
use crate::pattern;
use crate::results::schema::{RxStats, UringInfo, ZcrxInfo, ZcrxRefill, ZeroCopy};
use crate::sys::netlink::netdev;
use crate::sys::netns;
use crate::sys::uring::zcrx::{Area, Wait, ZcrxRing};
use anyhow::{Result, bail};
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long the kernel may take to take the provider off the queue after the
/// ring is closed (it does so in a work item).
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// What the loop counts besides the receiver's own counts.
#[derive(Default)]
struct Loop {
    st: RxStats,
    uring: UringInfo,
    cqes_per_enter_max: u64,
    ebadr: u64,
    dropped: u64,
}

pub fn run(
    mut ring: ZcrxRing,
    params: &ZcrxOpts,
    info: ZcrxInfo,
    queue: Option<(Option<String>, u32, u32)>,
    fd: BorrowedFd<'_>,
    ctx: &DataCtx,
) -> Result<RxStats> {
    ring.enable()?;
    ring.arm(fd)?;
    let mut rx = Receiver::new(matches!(ring.area(), Area::DmaBuf(_)), info);
    let mut lp = Loop::default();
    let mut sc = SyscallTimer::new(ctx.syscall_times);
    let mut dropped_seen = ring.dropped();
    loop {
        lp.st.calls += 1;
        // -EBADR (CQEs dropped) comes back as Wait::Dropped: an error of the call.
        let t = sc.start();
        let waited = ring.wait(IO_POLL_MS as u32, params.no_iowait);
        sc.stop(Sys::IoUringEnter, t, !matches!(waited, Ok(Wait::Done)));
        if waited? == Wait::Dropped {
            lp.st.errors += 1;
            lp.ebadr += 1;
            rx.on_dropped();
        }
        let dropped = ring.dropped();
        if dropped != dropped_seen {
            lp.dropped += u64::from(dropped.wrapping_sub(dropped_seen));
            dropped_seen = dropped;
            rx.on_dropped();
        }
        let no_buffer = rx.counts.rearms_no_buffer;
        let n = drain(&mut ring, &mut rx, &mut lp, ctx)?;
        if rx.counts.rearms_no_buffer > no_buffer {
            let t = sc.start();
            let flushed = ring.flush();
            if !matches!(flushed, Ok(false)) {
                sc.stop(Sys::IoUringRegister, t, flushed.is_err());
            }
            flushed?;
        }
        lp.uring.cqes += n;
        lp.cqes_per_enter_max = lp.cqes_per_enter_max.max(n);
        ctx.counters.rx.0.store(lp.st.bytes, Ordering::Relaxed);
        match rx.next() {
            Next::Done => break,
            Next::Arm => {
                lp.uring.rearms += 1;
                ring.arm(fd)?;
            }
            Next::Cancel => ring.cancel()?,
            Next::Wait => {}
        }
        if ctx.aborted() {
            bail!("receive aborted after {} bytes", lp.st.bytes);
        }
    }
    ctx.flags.mark_rx_done();
    lp.st.syscalls = sc.report();
    finish(ring, rx, lp, queue)
}

/// One round of completions: count, validate, and (in the ring) give the
/// buffers back. Returns the number of CQEs.
fn drain(ring: &mut ZcrxRing, rx: &mut Receiver, lp: &mut Loop, ctx: &DataCtx) -> Result<u64> {
    let st = &mut lp.st;
    ring.drain(|c| {
        let len = rx.on(&c.kind)?;
        if len == 0 {
            return Ok(());
        }
        if ctx.validate {
            let mut pos = st.bytes;
            c.read(&mut |b| {
                pattern::check_stream(b, pos, ctx.period)?;
                pos += b.len() as u64;
                Ok(())
            })?;
            st.validated_bytes += u64::from(len);
        }
        st.bytes += u64::from(len);
        Ok(())
    })
}

/// Close the ring, check the queue is free again, and fill in the result.
fn finish(ring: ZcrxRing, rx: Receiver, lp: Loop, queue: Option<(Option<String>, u32, u32)>) -> Result<RxStats> {
    let Loop { mut st, uring, cqes_per_enter_max, ebadr, dropped } = lp;
    let c = ring.counters();
    let copy = ring.copy_stats();
    let held = ring.pending() as u64;
    drop(ring);
    let mut info = rx.counts;
    if let Some((ns, ifindex, q)) = queue {
        info.queue_released = Some(released(ns.as_deref(), ifindex, q));
    }
    st.errors += rx.errors;
    info.cqes_per_enter_max = cqes_per_enter_max;
    (info.cq_overflow_rounds, info.cq_dropped, info.ebadr) = (c.overflow_rounds, dropped, ebadr);
    info.refill = ZcrxRefill {
        returned: c.refill.pushed,
        publishes: c.refill.publishes,
        ring_full: c.refill.ring_full,
        flushes: c.flushes,
        occupancy_max: c.occupancy_max,
        occupancy_mean: if c.occupancy_samples > 0 { c.occupancy_sum as f64 / c.occupancy_samples as f64 } else { 0.0 },
        held_at_end: held,
    };
    (info.copy_count, info.copy_bytes) = (copy.map(|c| c.0), copy.map(|c| c.1));
    let nodev = info.registration == "nodev";
    info.copy_source = match (nodev, copy) {
        (true, _) => "ZCRX_REG_NODEV: no device, the kernel copies every byte".into(),
        (false, Some(_)) => {
            "kernel zcrx_stats (bytes copied from frags; the skb linear part is copied uncounted)".into()
        }
        (false, None) => "unknown: this kernel keeps no zcrx copy statistics (7.2+)".into(),
    };
    st.zero_copy = match (nodev, copy) {
        (true, _) => Some(ZeroCopy::new(0, st.bytes, &info.copy_source)),
        (false, Some((_, b))) => Some(ZeroCopy::new(st.bytes.saturating_sub(b), b.min(st.bytes), &info.copy_source)),
        (false, None) => None,
    };
    st.uring = Some(uring);
    st.zcrx = Some(info);
    Ok(st)
}

/// Whether queue-get stops listing the io_uring provider on the queue within
/// [`RELEASE_WAIT`] of the ring's close.
fn released(ns: Option<&str>, ifindex: u32, q: u32) -> bool {
    let t0 = Instant::now();
    loop {
        match netns::with_netns(ns, || netdev::rx_queue(ifindex, q)) {
            Ok(info) if !info.io_uring => return true,
            Err(_) => return false,
            Ok(_) if t0.elapsed() > RELEASE_WAIT => return false,
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

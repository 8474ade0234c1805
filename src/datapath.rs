//! What the receive and transmit paths share: the context they run in, the
//! bound on every wait, and the preparation phase.
//!
//! A path has two phases. `prepare` runs before the flow starts, on the
//! orchestrating thread: it acquires what the path needs from the host and NIC
//! (a dma-buf, a queue binding, an io_uring interface queue), each held by a
//! guard the path owns, so it is always released — also when the process dies,
//! since the kernel ties a binding to the descriptor that made it. Host
//! settings a path needs (header split, steering) are the orchestration's
//! plan, made through the undo journal before `prepare`. `run` is the data loop on the pinned data thread: it allocates
//! nothing, formats nothing, and looks at the run's flags at least every
//! [`IO_POLL_MS`]. Paths time their syscalls with a [`SyscallTimer`].

use crate::results::schema::{SyscallStat, SyscallTimes};
use crate::sample::{Counters, Flags};
use crate::sys::netlink::NetlinkError;
use crate::sys::netns::Dev;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Bound on how long the data path waits in poll() or io_uring_enter() before
/// looking at the flags again.
pub const IO_POLL_MS: i32 = 500;

/// What the data loop shares with the rest of the run.
pub struct DataCtx<'a> {
    /// This flow's counters.
    pub counters: &'a Counters,
    pub flags: &'a Flags,
    pub validate: bool,
    /// The sender repeats one message of this size (see `pattern::check_stream`).
    pub period: Option<u64>,
    /// Time each syscall (`--syscall-times`): paths make a [`SyscallTimer`] with it.
    pub syscall_times: bool,
}

impl DataCtx<'_> {
    /// The window is over or the run gave up: a sender stops sending.
    #[inline]
    pub fn stopped(&self) -> bool {
        self.flags.stop.load(Ordering::Relaxed) || self.aborted()
    }

    /// The run gave up (an error elsewhere, Ctrl-C), or this flow is over
    /// before the run (`--flows`: its other thread failed, or it stalled).
    #[inline]
    pub fn aborted(&self) -> bool {
        self.flags.abort.load(Ordering::Relaxed) || self.counters.gone.load(Ordering::Relaxed)
    }
}

/// The kernel's refusal of a binding `what` ("bind-rx of a dma-buf to rx queue
/// 0") on `dev`, as an exit-3 error with its errno, extack and what that errno
/// means (`hint`); an error that did not come from the kernel passes through.
pub fn kernel_refusal(dev: &Dev, what: &str, e: anyhow::Error, hint: fn(i32) -> &'static str) -> anyhow::Error {
    let Some(nl) = e.chain().find_map(|c| c.downcast_ref::<NetlinkError>()) else { return e };
    crate::error::unsupported(format!("{}: {what} failed: {nl}; {}", dev.label(), hint(nl.errno)))
}

/// What a path may use while preparing, before the flow starts: devmem binds
/// dma-bufs to the devices here (each binding an owned guard the path drops
/// when the flow is over); the other paths need nothing from the host.
pub struct Prepare<'a> {
    /// The device the flow arrives on, when this process controls it.
    pub rx_dev: Option<&'a Dev>,
    /// The rx queue the flow is steered to (`--steer-queue`, or the one a
    /// zero-copy receive mode chose).
    pub rx_queue: Option<u32>,
    /// The device the flow leaves by, when this process controls it.
    pub tx_dev: Option<&'a Dev>,
    /// What a path wants the user told before the run (the caller prints them).
    pub warnings: Vec<String>,
}

/// A syscall kind the data paths time (`--syscall-times`). Add kinds at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sys {
    Recv,
    Recvmsg,
    Send,
    Sendmsg,
    Sendfile,
    Poll,
    Getsockopt,
    Setsockopt,
    Madvise,
    IoUringEnter,
    IoUringRegister,
}

impl Sys {
    const ALL: [Sys; 11] = [
        Sys::Recv,
        Sys::Recvmsg,
        Sys::Send,
        Sys::Sendmsg,
        Sys::Sendfile,
        Sys::Poll,
        Sys::Getsockopt,
        Sys::Setsockopt,
        Sys::Madvise,
        Sys::IoUringEnter,
        Sys::IoUringRegister,
    ];

    /// The name in result files (and in `perf trace -s`).
    pub fn name(self) -> &'static str {
        match self {
            Sys::Recv => "recv",
            Sys::Recvmsg => "recvmsg",
            Sys::Send => "send",
            Sys::Sendmsg => "sendmsg",
            Sys::Sendfile => "sendfile",
            Sys::Poll => "poll",
            Sys::Getsockopt => "getsockopt",
            Sys::Setsockopt => "setsockopt",
            Sys::Madvise => "madvise",
            Sys::IoUringEnter => "io_uring_enter",
            Sys::IoUringRegister => "io_uring_register",
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    calls: u64,
    errors: u64,
    total_ns: u64,
    min_ns: u64,
    max_ns: u64,
    sum_sq: f64,
}

/// When a timed call started (nothing when timing is off).
#[derive(Debug, Clone, Copy)]
pub struct Started(Option<Instant>);

/// Wall time per syscall kind on one data thread, like `perf trace -s`:
/// calls, errors, total, min, mean, max, stddev. Allocation-free while the
/// flow runs (a fixed array per kind); when off, `start` and `stop` do
/// nothing but a branch. Clock: `Instant` (CLOCK_MONOTONIC through the vDSO).
///
/// ```ignore
/// let mut sc = SyscallTimer::new(ctx.syscall_times);
/// let r = sc.time(Sys::Recvmsg, || sock::recvmsg(fd, ...));   // Result: Err counts as an error
/// sc.time_unit(Sys::Poll, || wait_ready(fd, READABLE, IO_POLL_MS));
/// let t = sc.start(); /* any call */ sc.stop(Sys::Setsockopt, t, failed);
/// st.syscalls = sc.report();                                   // None when off
/// ```
pub struct SyscallTimer {
    acc: [Acc; Sys::ALL.len()],
    /// What one start/stop pair costs, measured when the timer is made.
    pair_ns: f64,
    on: bool,
}

impl SyscallTimer {
    pub fn new(on: bool) -> SyscallTimer {
        let mut t = SyscallTimer { acc: [Acc::default(); Sys::ALL.len()], pair_ns: 0.0, on };
        if on {
            t.pair_ns = calibrate();
        }
        t
    }

    #[inline]
    pub fn start(&self) -> Started {
        Started(if self.on { Some(Instant::now()) } else { None })
    }

    #[inline]
    pub fn stop(&mut self, kind: Sys, t: Started, failed: bool) {
        if let Some(t0) = t.0 {
            let ns = t0.elapsed().as_nanos() as u64;
            let a = &mut self.acc[kind as usize];
            if a.calls == 0 || ns < a.min_ns {
                a.min_ns = ns;
            }
            a.max_ns = a.max_ns.max(ns);
            a.calls += 1;
            a.errors += u64::from(failed);
            a.total_ns += ns;
            a.sum_sq += (ns as f64) * (ns as f64);
        }
    }

    /// Time one call that returns a Result (an Err counts as an error).
    #[inline]
    pub fn time<T, E>(&mut self, kind: Sys, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let t = self.start();
        let r = f();
        self.stop(kind, t, r.is_err());
        r
    }

    /// Time one call that cannot fail (e.g. a poll whose result is not used).
    #[inline]
    pub fn time_unit<T>(&mut self, kind: Sys, f: impl FnOnce() -> T) -> T {
        let t = self.start();
        let r = f();
        self.stop(kind, t, false);
        r
    }

    /// The table for the result (kinds never called are left out); None when off.
    pub fn report(&self) -> Option<SyscallTimes> {
        if !self.on {
            return None;
        }
        let calls: Vec<SyscallStat> = Sys::ALL
            .iter()
            .zip(&self.acc)
            .filter(|(_, a)| a.calls > 0)
            .map(|(k, a)| {
                let n = a.calls as f64;
                let mean = a.total_ns as f64 / n;
                let var = if a.calls > 1 { ((a.sum_sq - n * mean * mean) / (n - 1.0)).max(0.0) } else { 0.0 };
                SyscallStat {
                    syscall: k.name().into(),
                    calls: a.calls,
                    errors: a.errors,
                    total_ns: a.total_ns,
                    min_ns: a.min_ns,
                    mean_ns: mean,
                    max_ns: a.max_ns,
                    stddev_ns: var.sqrt(),
                }
            })
            .collect();
        let timed: u64 = self.acc.iter().map(|a| a.calls).sum();
        Some(SyscallTimes {
            clock: "CLOCK_MONOTONIC (std::time::Instant, vDSO)".into(),
            clock_pair_ns: self.pair_ns,
            overhead_s: self.pair_ns * timed as f64 / 1e9,
            calls,
        })
    }
}

/// The cost of one start/stop pair on this host: the cheapest of a few rounds
/// of 1000 (a round disturbed by an interrupt is not the clock's cost).
fn calibrate() -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let mut t = SyscallTimer { acc: [Acc::default(); Sys::ALL.len()], pair_ns: 0.0, on: true };
        let t0 = Instant::now();
        for _ in 0..1000 {
            let s = t.start();
            t.stop(Sys::Poll, s, false);
        }
        best = best.min(t0.elapsed().as_nanos() as f64 / 1000.0);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_counts_real_calls_and_stays_silent_when_off() {
        let mut sc = SyscallTimer::new(true);
        for i in 0..10 {
            let r: Result<(), ()> = sc.time(Sys::Recv, || {
                std::thread::sleep(std::time::Duration::from_micros(200));
                if i % 5 == 0 { Err(()) } else { Ok(()) }
            });
            let _ = r;
        }
        sc.time_unit(Sys::Poll, || ());
        let rep = sc.report().unwrap();
        assert_eq!(rep.calls.len(), 2, "{rep:?}");
        let recv = &rep.calls[0];
        assert_eq!((recv.syscall.as_str(), recv.calls, recv.errors), ("recv", 10, 2));
        assert!(recv.min_ns >= 200_000 && recv.max_ns >= recv.min_ns, "{recv:?}");
        assert!((recv.mean_ns - recv.total_ns as f64 / 10.0).abs() < 1e-6);
        assert!(rep.clock_pair_ns > 0.0 && rep.clock_pair_ns < 10_000.0, "{}", rep.clock_pair_ns);
        assert!((rep.overhead_s - rep.clock_pair_ns * 11.0 / 1e9).abs() < 1e-12);
        let mut off = SyscallTimer::new(false);
        let _: Result<(), ()> = off.time(Sys::Recv, || Ok(()));
        assert!(off.report().is_none());
    }
}

//! The orchestrating thread's watch over a running flow, so that every phase
//! has a bound and Ctrl-C always works. While the data threads and the sampler
//! run it sleeps, waking every second (and at once when one of them ends or a
//! signal arrives), and
//! - gives the flow up when nothing has moved for [`STALL`] — neither the data
//!   path's byte counters nor the kernel's own TCP counts (bytes received,
//!   bytes acked) — and says in which phase and what TCP_INFO showed;
//! - bounds the drain after the window (the sender has stopped; the receiver
//!   reads what is still in flight) by [`DRAIN_MAX`] — longer, up to
//!   [`DRAIN_CAP`], while bytes still move (a starved zero-copy area or a lossy
//!   link drains slowly, by retransmits) — or [`DRAIN_MAX_INTERRUPTED`] after a
//!   Ctrl-C;
//! - turns a second Ctrl-C into an abort;
//! - notes other zcbench processes measuring on this host meanwhile.

use crate::sample::{Counters, Flags};
use crate::sys::journal;
use crate::sys::running::{self, Measuring};
use crate::sys::sock::tcpinfo;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Nothing moved for this long: the flow is stalled.
pub const STALL: Duration = Duration::from_secs(5);
/// Longest drain after the measured window in which nothing has moved lately.
pub const DRAIN_MAX: Duration = Duration::from_secs(10);
/// Longest drain after the measured window, however it moves.
pub const DRAIN_CAP: Duration = Duration::from_secs(60);
/// Longest drain after a Ctrl-C (past it, the measurement is given up).
pub const DRAIN_MAX_INTERRUPTED: Duration = Duration::from_secs(3);
/// How often the watch looks when nothing wakes it.
pub const TICK: Duration = Duration::from_secs(1);

pub struct Watch<'a> {
    flags: &'a Flags,
    counters: &'a Counters,
    rx_fd: Option<RawFd>,
    tx_fd: Option<RawFd>,
    start: Instant,
    warmup: Duration,
    moved: [u64; 4],
    last_move: Instant,
    stopped_at: Option<Instant>,
    measuring: Option<Measuring>,
    /// Why the watch gave the flow up, when it did.
    pub gave_up: Option<String>,
    /// Other zcbench processes seen measuring on this host.
    pub others: Vec<String>,
}

impl<'a> Watch<'a> {
    pub fn new(
        flags: &'a Flags,
        counters: &'a Counters,
        fds: (Option<RawFd>, Option<RawFd>),
        warmup: Duration,
        run_id: &str,
    ) -> Self {
        let measuring = match running::start(&journal::state_dir(), run_id) {
            Ok(m) => Some(m),
            Err(e) => {
                crate::messages::warn(&format!("cannot tell other zcbench runs that this one measures: {e:#}"));
                None
            }
        };
        let now = Instant::now();
        Watch {
            flags,
            counters,
            rx_fd: fds.0,
            tx_fd: fds.1,
            start: now,
            warmup,
            moved: [0; 4],
            last_move: now,
            stopped_at: None,
            measuring,
            gave_up: None,
            others: Vec::new(),
        }
    }

    fn phase(&self) -> &'static str {
        if self.stopped_at.is_some() {
            "the drain after the measured window"
        } else if self.start.elapsed() < self.warmup {
            "the warm-up"
        } else {
            "the measured window"
        }
    }

    /// Bytes as the data path and the kernel count them.
    fn progress(&self) -> [u64; 4] {
        let tcp = |fd: Option<RawFd>| fd.and_then(tcpinfo::read_raw);
        [
            self.counters.rx.0.load(Ordering::Relaxed),
            self.counters.tx.0.load(Ordering::Relaxed),
            tcp(self.rx_fd).map_or(0, |t| t.bytes_received),
            tcp(self.tx_fd).map_or(0, |t| t.bytes_acked),
        ]
    }

    /// What TCP_INFO says about a flow that does not move.
    fn tcp_hint(&self) -> String {
        let mut parts = Vec::new();
        for (who, fd) in [("sender", self.tx_fd), ("receiver", self.rx_fd)] {
            if let Some(t) = fd.and_then(tcpinfo::read_raw) {
                parts.push(format!(
                    "{who} TCP_INFO: pmtu {}, mss {}, {} segments unacked, {} retransmits, rto {} ms",
                    t.pmtu,
                    if who == "sender" { t.snd_mss } else { t.rcv_mss },
                    t.unacked,
                    t.total_retrans,
                    t.rto / 1000
                ));
            }
        }
        if parts.is_empty() { String::new() } else { format!("; {}", parts.join("; ")) }
    }

    fn give_up(&mut self, why: String) {
        if self.gave_up.is_none() {
            self.gave_up = Some(why);
            self.flags.raise_abort();
        }
    }

    /// One look; called after every wake-up until every thread has ended.
    pub fn look(&mut self) {
        if crate::signals::abandoned() {
            self.flags.raise_abort();
        }
        if self.stopped_at.is_none() && self.flags.stop.load(Ordering::Relaxed) {
            self.stopped_at = Some(Instant::now());
        }
        self.note_others();
        let now = self.progress();
        if now != self.moved {
            self.moved = now;
            self.last_move = Instant::now();
        }
        let [rx, tx, ..] = now;
        if self.last_move.elapsed() >= STALL {
            let why = format!(
                "the flow stalled during {}: nothing moved for {} s (received {rx} bytes, sent {tx}){}",
                self.phase(),
                STALL.as_secs(),
                self.tcp_hint()
            );
            self.give_up(why);
        }
        let moving = self.last_move.elapsed() <= 2 * TICK;
        let limit = match (crate::signals::interrupted(), moving) {
            (true, _) => DRAIN_MAX_INTERRUPTED,
            (false, true) => DRAIN_CAP,
            (false, false) => DRAIN_MAX,
        };
        if let Some(t) = self.stopped_at
            && t.elapsed() >= limit
        {
            let why = format!(
                "the flow did not drain within {} s after the measured window (received {rx} bytes, sent {tx}){}",
                limit.as_secs(),
                self.tcp_hint()
            );
            self.give_up(why);
        }
    }

    fn note_others(&mut self) {
        let Some(m) = &self.measuring else { return };
        for o in m.others() {
            if !self.others.contains(&o) {
                crate::messages::warn(&format!(
                    "another zcbench is measuring on this host ({o}): both runs share its cores and memory, so neither measures this host alone"
                ));
                self.others.push(o);
            }
        }
    }
}

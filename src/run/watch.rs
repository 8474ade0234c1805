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
//! - with several flows, names a flow in which nothing has moved for [`STALL`]
//!   while others move, and ends it (the others go on); ends the run when
//!   every flow has ended;
//! - counts toward a stall only time in which it was looking: when it did not
//!   run for [`BLIND`] (the host or VM was paused, or this process starved),
//!   it says so and starts the stall clocks afresh, since a guest that stood
//!   still for a minute moved nothing without its flow being stalled;
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
/// The watch did not run for this long: it was blind in between (see
/// [`Watch::look`]), well past its [`TICK`] and short of [`STALL`].
pub const BLIND: Duration = Duration::from_secs(crate::results::stats::PAUSE_S);
/// How often the watch looks when nothing wakes it.
pub const TICK: Duration = Duration::from_secs(1);

pub struct Watch<'a> {
    flags: &'a Flags,
    counters: &'a [Counters],
    fds: Vec<(Option<RawFd>, Option<RawFd>)>,
    start: Instant,
    warmup: Duration,
    moved: [u64; 4],
    last_move: Instant,
    /// Per flow: what moved last and when, and why it was found stalled.
    flow_moved: Vec<([u64; 4], Instant)>,
    stalled: Vec<Option<String>>,
    stopped_at: Option<Instant>,
    /// When the watch last looked.
    last_look: Instant,
    measuring: Option<Measuring>,
    /// Why the watch gave the flow up, when it did.
    pub gave_up: Option<String>,
    /// Other zcbench processes seen measuring on this host.
    pub others: Vec<String>,
}

impl<'a> Watch<'a> {
    pub fn new(
        flags: &'a Flags,
        counters: &'a [Counters],
        fds: Vec<(Option<RawFd>, Option<RawFd>)>,
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
            flow_moved: vec![([0; 4], now); fds.len()],
            stalled: vec![None; fds.len()],
            fds,
            start: now,
            warmup,
            moved: [0; 4],
            last_move: now,
            stopped_at: None,
            last_look: now,
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

    /// Flow `k`'s bytes as the data path and the kernel count them.
    fn progress_of(&self, k: usize) -> [u64; 4] {
        let tcp = |fd: Option<RawFd>| fd.and_then(tcpinfo::read_raw);
        let (rx_fd, tx_fd) = self.fds[k];
        let c = &self.counters[k];
        [
            c.rx.0.load(Ordering::Relaxed),
            c.tx.0.load(Ordering::Relaxed),
            tcp(rx_fd).map_or(0, |t| t.bytes_received),
            tcp(tx_fd).map_or(0, |t| t.bytes_acked),
        ]
    }

    /// Why flow `k` was ended as stalled, when it was.
    pub fn stalled(&self, k: usize) -> Option<&str> {
        self.stalled.get(k)?.as_deref()
    }

    /// With several flows: a flow in which nothing moved for [`STALL`] while
    /// the run still moves is named and ended (its threads stop; the others go
    /// on). Returns the flows' progress summed.
    fn look_at_flows(&mut self) -> [u64; 4] {
        let mut sum = [0u64; 4];
        let n = self.fds.len();
        for k in 0..n {
            let now = self.progress_of(k);
            for (s, v) in sum.iter_mut().zip(now) {
                *s += v;
            }
            if now != self.flow_moved[k].0 {
                self.flow_moved[k] = (now, Instant::now());
            }
            let gone = self.counters[k].gone.load(Ordering::Relaxed);
            if n > 1 && !gone && self.stopped_at.is_none() && self.flow_moved[k].1.elapsed() >= STALL {
                let why = format!(
                    "nothing moved for {} s during {} (received {} bytes, sent {}){}",
                    STALL.as_secs(),
                    self.phase(),
                    now[0],
                    now[1],
                    self.tcp_hint(k)
                );
                crate::messages::warn(&format!("flow {} stalled: {why}; the other flows go on", k + 1));
                self.stalled[k] = Some(why);
                self.counters[k].gone.store(true, Ordering::Relaxed);
            }
        }
        // Every flow ended early: nothing is left to measure.
        if n > 1 && self.counters.iter().all(|c| c.gone.load(Ordering::Relaxed)) {
            self.flags.raise_abort();
        }
        sum
    }

    /// What TCP_INFO says about flow `k` when it does not move.
    fn tcp_hint(&self, k: usize) -> String {
        let mut parts = Vec::new();
        let (rx_fd, tx_fd) = self.fds[k];
        for (who, fd) in [("sender", tx_fd), ("receiver", rx_fd)] {
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
        let at = Instant::now();
        if let Some(blind) = blind_for(self.last_look, at) {
            crate::messages::warn(&format!(
                "zcbench's watch did not run for {:.1} s (the host or VM was paused, or this process's cores \
                 starved): nothing is concluded about that time, stall detection starts afresh; the intervals \
                 around it are suspect",
                blind.as_secs_f64()
            ));
            self.last_move = at;
            for f in &mut self.flow_moved {
                f.1 = at;
            }
        }
        self.last_look = at;
        let now = self.look_at_flows();
        if now != self.moved {
            self.moved = now;
            self.last_move = Instant::now();
        }
        let [rx, tx, ..] = now;
        let hint = if self.fds.len() == 1 { self.tcp_hint(0) } else { String::new() };
        if self.last_move.elapsed() >= STALL {
            let why = format!(
                "the flow stalled during {}: nothing moved for {} s (received {rx} bytes, sent {tx}){}",
                self.phase(),
                STALL.as_secs(),
                hint
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
                hint
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

/// How long the watch was blind, when the gap between its look at `last`
/// and its look at `now` reached [`BLIND`].
fn blind_for(last: Instant, now: Instant) -> Option<Duration> {
    let gap = now.saturating_duration_since(last);
    (gap >= BLIND).then_some(gap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_that_did_not_run_for_blind_or_more_says_so() {
        let t = Instant::now();
        assert_eq!(blind_for(t, t + TICK), None, "a look a tick later is a regular one");
        assert_eq!(blind_for(t, t + BLIND - Duration::from_millis(1)), None);
        assert_eq!(blind_for(t, t + Duration::from_secs(54)), Some(Duration::from_secs(54)));
        assert_eq!(blind_for(t + TICK, t), None, "a clock read out of order is no gap");
        assert!(TICK < BLIND && BLIND < STALL, "blindness is told apart from a stall");
    }
}

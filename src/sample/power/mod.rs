//! Power sources, sampled on the sampler's clock. Each reading is recorded with
//! its source's kind (wall, CPU package, DRAM, estimate) and name, so nobody
//! mistakes a package figure for wall power. A reading that fails is missing
//! (null in the result), never 0 W.
//!
//! Two kinds of meter:
//! - energy counters (RAPL) are cheap to read and give the energy used since
//!   the previous read: they are read on the sampler thread at every tick, so
//!   interval `i` gets exactly the energy of interval `i` over its length;
//! - instantaneous meters (a command, Redfish, IPMI) may take a while to
//!   answer: each runs on its own poller thread, asked for a reading at every
//!   tick; the reading that completes during interval `i` is interval `i`'s.
//!   If none completed (slower than `--interval`, or failed), it is missing.

pub mod cmd;
pub mod ipmi;
pub mod log;
pub mod rapl;
pub mod redfish;

use crate::results::schema::{PowerError, PowerSource};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One reading per source of a meter: watts, or why there is none.
pub type Readings = Vec<Result<f64, String>>;

/// Asked while a reading is under way: give it up now (the run is ending, or
/// Ctrl-C). A reading never holds up the end of a run or a signal.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn now(&self) -> bool {
        self.0.load(Ordering::Relaxed) || crate::signals::interrupted()
    }

    fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Something that gives watts for one or more sources each time it is read.
pub trait Meter: Send {
    /// The sources it reads (one for most meters, one per zone for RAPL).
    fn sources(&self) -> Vec<PowerSource>;
    /// One reading per source; a slow one gives up when `stop` says so.
    fn read(&mut self, stop: &Stop) -> Readings;
    /// An energy counter: cheap, and each read covers the time since the last.
    fn is_counter(&self) -> bool {
        false
    }
}

/// The first number in `text` as watts ("176", "176.5 W", "power: 176 Watts").
pub fn parse_watts(text: &str) -> Result<f64, String> {
    let num = text
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+'))
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .find_map(|t| t.parse::<f64>().ok());
    match num {
        Some(w) if w.is_finite() && w >= 0.0 => Ok(w),
        Some(w) => Err(format!("{w} is not a power in watts")),
        None => {
            let t: String = text.trim().chars().take(80).collect();
            Err(format!("printed no number of watts: '{t}'"))
        }
    }
}

struct Poller {
    trigger: Option<SyncSender<()>>,
    latest: Arc<Mutex<Option<Readings>>>,
    thread: Option<JoinHandle<f64>>,
    stop: Stop,
    width: usize,
}

/// How long the end of a run waits for a poller to give its reading up (a
/// command is killed within 20 ms; an HTTP request may not be stoppable).
const POLLER_GRACE: Duration = Duration::from_millis(300);

impl Poller {
    fn spawn(mut meter: Box<dyn Meter>, width: usize) -> std::io::Result<Poller> {
        let (tx, rx): (SyncSender<()>, Receiver<()>) = sync_channel(1);
        let latest = Arc::new(Mutex::new(None));
        let out = latest.clone();
        let stop = Stop::default();
        let asked = stop.clone();
        let thread = std::thread::Builder::new().name("zcb-power".into()).spawn(move || {
            let cpu0 = crate::sys::cpu::thread_cpu_time();
            while rx.recv().is_ok() {
                let r = meter.read(&asked);
                if let Ok(mut l) = out.lock() {
                    *l = Some(r);
                }
            }
            (crate::sys::cpu::thread_cpu_time() - cpu0).as_secs_f64()
        })?;
        Ok(Poller { trigger: Some(tx), latest, thread: Some(thread), stop, width })
    }

    fn ask(&self) {
        if let Some(t) = &self.trigger {
            // Full: a request is already queued, the poller takes it next;
            // disconnected: the poller is gone and readings go missing.
            let _ = t.try_send(());
        }
    }

    fn take(&self) -> Readings {
        match self.latest.lock().ok().and_then(|mut l| l.take()) {
            Some(r) => r,
            None => vec![
                Err("no reading completed within the interval (source slower than --interval?)".into());
                self.width
            ],
        }
    }

    /// Stop the thread; its CPU time. A reading still under way is given up;
    /// one that will not give up within `POLLER_GRACE` is left to end on its
    /// own (its thread is detached, its CPU time unknown: 0).
    fn stop(&mut self) -> f64 {
        self.trigger = None;
        self.stop.raise();
        let Some(t) = self.thread.take() else { return 0.0 };
        let t0 = Instant::now();
        while !t.is_finished() && t0.elapsed() < POLLER_GRACE {
            std::thread::sleep(Duration::from_millis(5));
        }
        if t.is_finished() { t.join().unwrap_or(0.0) } else { 0.0 }
    }
}

enum Slot {
    Counter(Box<dyn Meter>),
    Polled(Poller),
}

/// Every power source of one host for one run.
pub struct PowerSet {
    slots: Vec<Slot>,
    sources: Vec<PowerSource>,
    errors: Vec<Vec<PowerError>>,
}

impl PowerSet {
    pub fn empty() -> PowerSet {
        PowerSet { slots: Vec::new(), sources: Vec::new(), errors: Vec::new() }
    }

    /// Take the meters; instantaneous ones get their poller threads now.
    pub fn new(meters: Vec<Box<dyn Meter>>) -> anyhow::Result<PowerSet> {
        let mut set = PowerSet::empty();
        for m in meters {
            let src = m.sources();
            let slot = if m.is_counter() { Slot::Counter(m) } else { Slot::Polled(Poller::spawn(m, src.len())?) };
            set.errors.extend(src.iter().map(|_| Vec::new()));
            set.sources.extend(src);
            set.slots.push(slot);
        }
        Ok(set)
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    pub fn sources_mut(&mut self) -> &mut [PowerSource] {
        &mut self.sources
    }

    /// Take the idle figures of an earlier set of the same sources.
    pub fn copy_idle(&mut self, from: &[PowerSource]) {
        for (s, f) in self.sources.iter_mut().zip(from) {
            if f.idle_w.is_some() {
                s.idle_w = f.idle_w;
                s.idle_from = f.idle_from.clone();
            }
        }
    }

    /// At the start of the timeline: counters take their base reading and
    /// pollers are asked for the first interval's reading.
    pub fn start(&mut self) {
        for s in &mut self.slots {
            match s {
                Slot::Counter(m) => drop(m.read(&Stop::default())),
                Slot::Polled(p) => {
                    drop(p.take());
                    p.ask();
                }
            }
        }
    }

    /// At a tick: this interval's watts per source (None: missing), then ask
    /// for the next interval's.
    pub fn tick(&mut self, out: &mut Vec<Option<f64>>) {
        out.clear();
        let mut i = 0;
        for s in &mut self.slots {
            let readings = match s {
                Slot::Counter(m) => m.read(&Stop::default()),
                Slot::Polled(p) => {
                    let r = p.take();
                    p.ask();
                    r
                }
            };
            for r in readings {
                match r {
                    Ok(w) => out.push(Some(w)),
                    Err(e) => {
                        out.push(None);
                        if let Some(errs) = self.errors.get_mut(i) {
                            note_error(errs, e);
                        }
                    }
                }
                i += 1;
            }
        }
    }

    /// Poll every source for `dur` at `interval` with the host idle; the mean
    /// of each source's readings becomes its idle figure. Ctrl-C ends it at
    /// once (the caller sees `signals::interrupted`).
    pub fn measure_idle(&mut self, dur: Duration, interval: Duration) {
        let t0 = Instant::now();
        let mut sums = vec![(0.0, 0u32); self.sources.len()];
        let mut row = Vec::new();
        self.start();
        let _wake = crate::signals::wake_me();
        let mut next = interval;
        while next <= dur {
            while t0.elapsed() < next && !crate::signals::interrupted() {
                std::thread::park_timeout(next.saturating_sub(t0.elapsed()));
            }
            if crate::signals::interrupted() {
                return;
            }
            self.tick(&mut row);
            for (acc, w) in sums.iter_mut().zip(&row) {
                if let Some(w) = w {
                    acc.0 += w;
                    acc.1 += 1;
                }
            }
            next += interval;
        }
        for (src, (sum, n)) in self.sources.iter_mut().zip(sums) {
            if n > 0 {
                src.idle_w = Some(sum / f64::from(n));
                src.idle_from = Some(format!("measured for {:.0} s before the flow ({n} readings)", dur.as_secs_f64()));
            }
        }
        // Errors while idle are not the run's.
        self.errors.iter_mut().for_each(Vec::clear);
    }

    /// Stop the pollers. The sources (with their errors) and the pollers' CPU time.
    pub fn finish(mut self) -> (Vec<PowerSource>, f64) {
        let mut cpu = 0.0;
        for s in &mut self.slots {
            if let Slot::Polled(p) = s {
                cpu += p.stop();
            }
        }
        let mut sources = std::mem::take(&mut self.sources);
        for (s, e) in sources.iter_mut().zip(std::mem::take(&mut self.errors)) {
            s.errors = e;
        }
        (sources, cpu)
    }
}

impl Drop for PowerSet {
    fn drop(&mut self) {
        for s in &mut self.slots {
            if let Slot::Polled(p) = s {
                p.stop();
            }
        }
    }
}

/// Keep each distinct message once, with a count (at most 10 distinct).
fn note_error(errs: &mut Vec<PowerError>, msg: String) {
    if let Some(e) = errs.iter_mut().find(|e| e.message == msg) {
        e.count += 1;
    } else if errs.len() < 10 {
        errs.push(PowerError { message: msg, count: 1 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::schema::PowerKind;

    #[test]
    fn watts_are_the_first_number() {
        assert_eq!(parse_watts("176\n"), Ok(176.0));
        assert_eq!(parse_watts("power: 176.5 W"), Ok(176.5));
        assert_eq!(parse_watts("Instantaneous power reading:   230 Watts"), Ok(230.0));
        assert!(parse_watts("n/a").unwrap_err().contains("no number"));
        assert!(parse_watts("-5").is_err());
        assert!(parse_watts("").is_err());
    }

    /// A meter that answers from a script: a number, an error, or too slowly.
    struct Scripted(Vec<Result<f64, String>>, Duration);
    impl Meter for Scripted {
        fn sources(&self) -> Vec<PowerSource> {
            vec![PowerSource {
                name: "t".into(),
                kind: PowerKind::Estimate,
                source: "test".into(),
                idle_w: None,
                idle_from: None,
                errors: vec![],
                notes: vec![],
            }]
        }
        fn read(&mut self, _: &Stop) -> Readings {
            std::thread::sleep(self.1);
            vec![if self.0.is_empty() { Err("end".into()) } else { self.0.remove(0) }]
        }
    }

    #[test]
    fn failed_and_late_readings_are_missing_not_zero() {
        let m = Scripted(vec![Ok(100.0), Err("meter unplugged".into()), Ok(300.0)], Duration::from_millis(5));
        let mut set = PowerSet::new(vec![Box::new(m)]).unwrap();
        set.start();
        let mut rows = Vec::new();
        let mut row = Vec::new();
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(60));
            set.tick(&mut row);
            rows.push(row[0]);
        }
        assert_eq!(rows, vec![Some(100.0), None, Some(300.0)]);
        let slow = Scripted(vec![Ok(1.0)], Duration::from_millis(300));
        let mut set2 = PowerSet::new(vec![Box::new(slow)]).unwrap();
        set2.start();
        std::thread::sleep(Duration::from_millis(20));
        set2.tick(&mut row);
        assert_eq!(row, vec![None], "a reading still running is missing");
        let (src, _) = set.finish();
        assert_eq!(src[0].errors, vec![PowerError { message: "meter unplugged".into(), count: 1 }]);
        let (src2, cpu) = set2.finish();
        assert!(src2[0].errors[0].message.contains("slower than --interval"));
        assert!(cpu >= 0.0);
    }
}

//! SIGINT, SIGTERM, SIGHUP and SIGQUIT, counted on a thread of their own
//! (signal-hook's iterator, so nothing runs inside a signal handler); a closed
//! stdout (EPIPE where the default action of SIGPIPE would have killed the
//! process; Rust ignores SIGPIPE) counts the same. A dropped ssh session sends
//! SIGHUP, Ctrl-\ SIGQUIT: each used to end zcbench with the host changed.
//!
//! What a signal means depends on what the process is doing (`Doing`):
//! - a run (`run`, `client`, `server`): the first asks it to stop where it is
//!   and keep what was measured; the second gives the measurement up at once.
//!   Neither ends the process before every host change is undone: the run winds
//!   down through its normal path, which restores the journal. (SIGKILL does
//!   end it at once; the next zcbench start restores what it left.)
//! - a study: its run under way is told to stop (and restores its host).
//! - a report: it stops reading and writes nothing more; a second signal ends
//!   it at once.
//! - a restore: it finishes, since stopping half-way would leave settings
//!   changed.
//! - anything else (probe, sysctl show/diff, attach-power) changes nothing
//!   or writes atomically: it ends at once.

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::thread::Thread;

static COUNT: AtomicUsize = AtomicUsize::new(0);
static DOING: AtomicU8 = AtomicU8::new(Doing::Run as u8);
static OUTPUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Threads to wake as soon as a signal arrives (they otherwise sleep until
/// their next deadline).
static WAKE: Mutex<Vec<Thread>> = Mutex::new(Vec::new());

/// The error a stop request turns into where nothing is kept (a run
/// interrupted before its window, given up, a report stopped): exit 130.
#[derive(Debug)]
pub struct Interrupted;
impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}
impl std::error::Error for Interrupted {}

/// What this process is doing, for what a signal does and says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Doing {
    Run = 0,
    Study = 1,
    Report = 2,
    Restore = 3,
    /// Changes nothing (or writes one file atomically): ends at once.
    Look = 4,
}

impl Doing {
    fn get() -> Doing {
        match DOING.load(Ordering::Relaxed) {
            1 => Doing::Study,
            2 => Doing::Report,
            3 => Doing::Restore,
            4 => Doing::Look,
            _ => Doing::Run,
        }
    }

    /// What the process says as it exits 130.
    pub fn interrupted_message(self) -> &'static str {
        match self {
            Doing::Run => "host settings restored, testbed removed",
            Doing::Study => {
                "the run under way restored its host; finished runs are kept (run the study again to resume)"
            }
            Doing::Report => {
                "no report written (an earlier report in --out is as it was, or incomplete if writing had begun)"
            }
            Doing::Restore => "what was under way finished first",
            Doing::Look => "nothing was changed",
        }
    }
}

pub fn install(doing: Doing) -> anyhow::Result<()> {
    set_doing(doing);
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])?;
    std::thread::Builder::new().name("zcb-signals".into()).spawn(move || {
        for _ in signals.forever() {
            stop_requested(None);
        }
    })?;
    Ok(())
}

/// What the process is doing now.
pub fn doing() -> Doing {
    Doing::get()
}

/// The process moves on to `doing` (after restoring what a killed run left).
pub fn set_doing(doing: Doing) {
    DOING.store(doing as u8, Ordering::Relaxed);
}

/// Count one stop request (a signal, or `because` for another cause), say
/// what it does, and wake whoever waits for one.
fn stop_requested(because: Option<&str>) {
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    let doing = Doing::get();
    match because {
        Some(why) => crate::messages::warn(&format!("{why}: {}", message(doing, n))),
        None => crate::messages::warn(message(doing, n)),
    }
    if doing == Doing::Look || (doing == Doing::Report && n >= 2) {
        crate::messages::fail("interrupted", doing.interrupted_message());
        // What is queued gets a moment to reach a reader (stderr may be gone
        // too: a closed terminal), never more.
        crate::messages::finish(|| false, Some(std::time::Duration::from_millis(500)));
        std::process::exit(130);
    }
    if let Ok(w) = WAKE.lock() {
        w.iter().for_each(Thread::unpark);
    }
}

/// Signals (and other stop requests) received so far.
pub fn count() -> usize {
    COUNT.load(Ordering::Relaxed)
}

fn message(doing: Doing, n: usize) -> &'static str {
    match (doing, n) {
        (Doing::Run, 1) => {
            "stopping: what was measured is kept (Ctrl-C again to give it up); host settings are restored either way"
        }
        (Doing::Run, 2) => "giving up the measurement; restoring host settings",
        (Doing::Run, _) => {
            "still restoring host settings (SIGKILL would leave them for the next zcbench start to restore)"
        }
        (Doing::Study, 1) => {
            "stopping the study: the run under way is told to stop and restores its host; finished runs are kept"
        }
        (Doing::Study, _) => "still waiting for the run under way to restore its host",
        (Doing::Report, _) => "stopping the report: nothing more is read or written (again to end at once)",
        (Doing::Restore, _) => "finishing first: stopping half-way would leave host settings half changed",
        (Doing::Look, _) => "stopping",
    }
}

/// The stdout (or stderr) that progress goes to was closed by its reader:
/// treated as SIGTERM, once.
pub fn output_closed(which: &str) {
    if !OUTPUT_CLOSED.swap(true, Ordering::SeqCst) {
        stop_requested(Some(&format!("{which} was closed by its reader")));
    }
}

/// A stop was asked for (first Ctrl-C, SIGTERM, SIGHUP, SIGQUIT, a closed stdout).
pub fn interrupted() -> bool {
    COUNT.load(Ordering::Relaxed) >= 1
}

/// Asked twice: give the measurement up, wind down now.
pub fn abandoned() -> bool {
    COUNT.load(Ordering::Relaxed) >= 2
}

/// Wake the calling thread (from `park`) when a signal arrives, until the guard drops.
pub fn wake_me() -> WakeGuard {
    let me = std::thread::current();
    let id = me.id();
    if let Ok(mut w) = WAKE.lock() {
        w.push(me);
    }
    WakeGuard(id)
}

pub struct WakeGuard(std::thread::ThreadId);

impl Drop for WakeGuard {
    fn drop(&mut self) {
        if let Ok(mut w) = WAKE.lock()
            && let Some(i) = w.iter().position(|t| t.id() == self.0)
        {
            w.swap_remove(i);
        }
    }
}

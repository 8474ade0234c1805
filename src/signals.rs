//! SIGINT/SIGTERM, counted on a thread of their own (signal-hook's iterator, so
//! nothing runs inside a signal handler). The first asks the run to stop where
//! it is and keep what was measured; the second gives the measurement up at
//! once. Neither ends the process before every host change is undone: the run
//! winds down through its normal path, which restores the journal. (SIGKILL
//! does end it at once; the next zcbench start restores what it left.)

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::Thread;

static COUNT: AtomicUsize = AtomicUsize::new(0);
/// Threads to wake as soon as a signal arrives (they otherwise sleep until
/// their next deadline).
static WAKE: Mutex<Vec<Thread>> = Mutex::new(Vec::new());

pub fn install() -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("zcb-signals".into()).spawn(move || {
        for _ in signals.forever() {
            let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
            if let Ok(w) = WAKE.lock() {
                w.iter().for_each(Thread::unpark);
            }
            crate::messages::warn(message(n));
        }
    })?;
    Ok(())
}

fn message(n: usize) -> &'static str {
    match n {
        1 => "stopping: what was measured is kept (Ctrl-C again to give it up); host settings are restored either way",
        2 => "giving up the measurement; restoring host settings",
        _ => "still restoring host settings (SIGKILL would leave them for the next zcbench start to restore)",
    }
}

/// Signals received so far.
pub fn count() -> usize {
    COUNT.load(Ordering::Relaxed)
}

/// A stop was asked for (first Ctrl-C or SIGTERM).
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

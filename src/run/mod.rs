//! Orchestration: the local testbed run, the two-host server and client, and the
//! piece they share: driving the data threads and the sampler.

pub mod client;
pub mod instruments;
pub mod local;
pub mod proto;
pub mod series;
pub mod server;
pub mod settings;
pub mod side;
pub mod study;
pub mod testbed;
pub mod watch;

use crate::config::{FlowConfig, Layout};
use crate::datapath::DataCtx;
use crate::results::Interval;
use crate::results::schema::{RxStats, Sample, TxStats};
use crate::rx::RxPath;
use crate::sample::{self, Counters, Flags, Measure, SamplerConfig, SamplerOutput};
use crate::sys::cpu::{self, ThreadUsage};
use crate::sys::running;
use crate::tx::TxPath;
use anyhow::{Context, Result, anyhow};
use socket2::Socket;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use watch::Watch;

pub struct Driven {
    pub sampler: SamplerOutput,
    pub rx: Option<(RxStats, ThreadUsage)>,
    pub tx: Option<(TxStats, ThreadUsage)>,
    /// Stopped by Ctrl-C/SIGTERM in the window: the figures cover what was measured.
    pub interrupted: bool,
    /// Other zcbench processes that measured on this host during the flow.
    pub others: Vec<String>,
}

/// The error a Ctrl-C turns into when nothing measured is kept (it came before
/// the window, the flow did not wind down cleanly, or it came twice).
pub use crate::signals::Interrupted;

/// Stop between set-up steps once Ctrl-C was pressed (the journal and testbed
/// undo what was done so far).
pub fn stop_if_interrupted() -> Result<()> {
    if crate::signals::interrupted() { Err(anyhow!(Interrupted)) } else { Ok(()) }
}

/// Shown each interval while the flow runs (the terminal's interval lines).
pub type Progress<'a> = &'a mut (dyn FnMut(&Interval<'_>) + Send);

/// The interval view of a local sample: both ends' cores are in it.
pub fn local_interval<'a>(s: &'a Sample, layout: &'a crate::results::schema::Layout) -> Interval<'a> {
    let busy = |c: usize| s.cpu.iter().find(|u| u.cpu == c).map(|u| u.busy);
    Interval {
        rx: s,
        rx_layout: layout,
        sender_busy: layout.sender_cpu.and_then(busy),
        retransmits: s.tcp_tx.map(|t| t.total_retrans),
    }
}

/// Wakes the orchestrating thread when dropped (a thread ending, also by panic).
/// Counts a thread as ended and wakes the watcher, as the thread's body ends.
/// The count, not `is_finished`, is what the watcher waits on: a thread is
/// finished only some time after this runs, and a watcher that looked in
/// between used up the wake-up and slept a whole tick (a second) for nothing.
struct WakeOnExit<'a>(std::thread::Thread, &'a AtomicUsize);
impl Drop for WakeOnExit<'_> {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::Release);
        self.0.unpark();
    }
}

/// A data-path thread: pinned, timed with getrusage. When it fails it raises the
/// abort flag so the other threads stop too, and shuts its socket down so the
/// peer sees the end at once instead of waiting for a timeout.
fn data_thread<'s, 'e, T: Send + 's>(
    sc: &'s std::thread::Scope<'s, 'e>,
    name: &str,
    core: Option<usize>,
    ctx: &'s DataCtx<'s>,
    ended: &'s AtomicUsize,
    sock: &'s Socket,
    body: impl FnOnce(BorrowedFd<'_>, &DataCtx) -> Result<T> + Send + 's,
) -> std::io::Result<std::thread::ScopedJoinHandle<'s, Result<(T, ThreadUsage)>>> {
    let watcher = std::thread::current();
    std::thread::Builder::new().name(name.into()).spawn_scoped(sc, move || {
        let _wake = WakeOnExit(watcher, ended);
        let r = (|| {
            if let Some(c) = core {
                cpu::pin_current_thread(c)?;
            }
            let u0 = ThreadUsage::now();
            let st = body(sock.as_fd(), ctx)?;
            Ok((st, ThreadUsage::now().since(&u0)))
        })();
        if r.is_err() {
            ctx.flags.raise_abort();
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
        r
    })
}

type Joined<'s, T> = Option<std::io::Result<std::thread::ScopedJoinHandle<'s, Result<T>>>>;

/// Whether a thread was started (and so will count itself as ended).
fn started<T>(h: &Joined<'_, T>) -> bool {
    matches!(h, Some(Ok(_)))
}

fn join<T>(h: Joined<'_, T>, what: &str) -> Result<Option<T>> {
    match h {
        None => Ok(None),
        Some(h) => {
            let h = h.with_context(|| format!("starting the {what} thread"))?;
            h.join()
                .map_err(|_| anyhow!("the {what} thread panicked"))?
                .map(Some)
                .with_context(|| format!("{what} failed"))
        }
    }
}

/// What the sampler measures and when it ends.
pub struct Sampling {
    pub measure: Measure,
    /// End (with a last sample) when the receiver sees the end of the flow.
    pub end_on_rx_done: bool,
}

/// Run the receive path (app core), the transmit path (sender core) and the
/// sampler, each on its own thread, until the sampler's timeline ends and the
/// flow has drained; this thread watches over them (`watch`).
pub fn drive(
    flow: &FlowConfig,
    layout: &Layout,
    flags: &Flags,
    rx: Option<(&Socket, Box<dyn RxPath>)>,
    tx: Option<(&Socket, Box<dyn TxPath>)>,
    sampling: Sampling,
    on_sample: impl FnMut(&Sample) + Send,
) -> Result<Driven> {
    let counters = Counters::default();
    let ctx = DataCtx {
        counters: &counters,
        flags,
        validate: flow.validate,
        period: flow.validation_period(),
        syscall_times: flow.syscall_times,
    };
    let Sampling { measure, end_on_rx_done } = sampling;

    for s in rx.iter().map(|r| r.0).chain(tx.iter().map(|t| t.0)) {
        s.set_nonblocking(true).context("making the data socket non-blocking")?;
    }

    let scfg = SamplerConfig {
        warmup: flow.warmup(),
        duration: flow.duration(),
        interval: flow.interval(),
        cpu: layout.sampler_cpu,
        rx_fd: rx.as_ref().map(|r| r.0.as_raw_fd()),
        tx_fd: tx.as_ref().map(|t| t.0.as_raw_fd()),
        end_on_rx_done,
    };
    let run_id = if flow.run_id.is_empty() { running::new_run_id() } else { flow.run_id.clone() };
    let _wake = crate::signals::wake_me();
    let ended = AtomicUsize::new(0);
    std::thread::scope(|sc| {
        let ended = &ended;
        let mut watch = Watch::new(flags, &counters, (scfg.rx_fd, scfg.tx_fd), scfg.warmup, &run_id);
        let rx_h = rx.map(|(sock, mut path)| {
            data_thread(sc, "zcb-rx", Some(layout.app_cpu), &ctx, ended, sock, move |fd, ctx| path.run(fd, ctx))
        });
        let tx_h = tx.map(|(sock, mut path)| {
            data_thread(sc, "zcb-tx", layout.sender_cpu, &ctx, ended, sock, move |fd, ctx| path.run(fd, ctx))
        });
        let watcher = std::thread::current();
        let sampler_h = Some(std::thread::Builder::new().name("zcb-sampler".into()).spawn_scoped(sc, || {
            let _wake = WakeOnExit(watcher, ended);
            let r = sample::run(&scfg, measure, &counters, flags, on_sample);
            if r.is_err() {
                flags.raise_abort();
            }
            r
        }));
        let threads = [started(&rx_h), started(&tx_h), started(&sampler_h)].iter().filter(|s| **s).count();
        while ended.load(Ordering::Acquire) < threads {
            watch.look();
            std::thread::park_timeout(watch::TICK);
        }
        let sampled = join(sampler_h, "sampler");
        let tx_r = join(tx_h, "sender");
        let rx_r = join(rx_h, "receiver");
        settle(watch, sampled, rx_r, tx_r)
    })
}

/// What the threads' outcomes make of the run: the watch's reason first, then
/// Ctrl-C, then the receiver's error (it explains more than the sender's, which
/// usually just saw the peer go).
fn settle(
    watch: Watch,
    sampled: Result<Option<SamplerOutput>>,
    rx: Result<Option<(RxStats, ThreadUsage)>>,
    tx: Result<Option<(TxStats, ThreadUsage)>>,
) -> Result<Driven> {
    // After Ctrl-C a flow that would not wind down is given up as interrupted.
    if crate::signals::abandoned() || (crate::signals::interrupted() && watch.gave_up.is_some()) {
        return Err(anyhow!(Interrupted));
    }
    if let Some(why) = watch.gave_up {
        return Err(anyhow!(why));
    }
    let sampler = sampled?.ok_or_else(|| anyhow!("the sampler did not run"))?;
    let others = watch.others;
    if crate::signals::interrupted() {
        // Kept only when a window was measured and the flow wound down cleanly.
        return match (rx, tx) {
            (Ok(rx), Ok(tx)) if sampler.window_s > 0.0 => Ok(Driven { sampler, rx, tx, interrupted: true, others }),
            _ => Err(anyhow!(Interrupted)),
        };
    }
    let rx = rx?;
    let tx = tx?;
    Ok(Driven { sampler, rx, tx, interrupted: false, others })
}

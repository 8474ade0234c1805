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
    /// Each flow's threads' figures, in connection order.
    pub flows: Vec<FlowOutcome>,
    /// Stopped by Ctrl-C/SIGTERM in the window: the figures cover what was measured.
    pub interrupted: bool,
    /// Other zcbench processes that measured on this host during the flow.
    pub others: Vec<String>,
}

/// One flow's data threads: what they counted, and why the flow ended early
/// when it did (`--flows` > 1: the run goes on without it).
#[derive(Default)]
pub struct FlowOutcome {
    pub rx: Option<(RxStats, ThreadUsage)>,
    pub tx: Option<(TxStats, ThreadUsage)>,
    pub ended: Option<String>,
}

/// One flow's ends on this host: the receiving socket and path, the sending
/// socket and path, each where it runs here.
pub struct FlowEnds<'a> {
    pub rx: Option<(&'a Socket, Box<dyn RxPath>)>,
    pub tx: Option<(&'a Socket, Box<dyn TxPath>)>,
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
    Interval { rx: s, rx_layout: layout, sender_busy: layout.sender_cpu.and_then(busy), retransmits: s.retransmits() }
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
/// abort flag so the other threads stop too — or, one flow of several, marks
/// its flow gone so only that flow's other thread stops — and shuts its socket
/// down so the peer sees the end at once instead of waiting for a timeout.
fn data_thread<'s, 'e, T: Send + 's>(
    sc: &'s std::thread::Scope<'s, 'e>,
    (name, core, alone): (String, Option<usize>, bool),
    ctx: &'s DataCtx<'s>,
    ended: &'s AtomicUsize,
    sock: &'s Socket,
    body: impl FnOnce(BorrowedFd<'_>, &DataCtx) -> Result<T> + Send + 's,
) -> std::io::Result<std::thread::ScopedJoinHandle<'s, Result<(T, ThreadUsage)>>> {
    let watcher = std::thread::current();
    std::thread::Builder::new().name(name).spawn_scoped(sc, move || {
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
            if alone {
                ctx.flags.raise_abort();
            } else {
                ctx.counters.gone.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
        r
    })
}

type Joined<'s, T> = Option<std::io::Result<std::thread::ScopedJoinHandle<'s, Result<T>>>>;

/// What the data paths asked to be said before the run, each once (every flow
/// of a mode asks the same).
fn say_warnings(mut w: Vec<String>) {
    w.dedup();
    w.iter().for_each(|w| crate::messages::warn(w));
}

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

/// Run each flow's receive path (its app core) and transmit path (its sender
/// core) and the sampler, each on its own thread, until the sampler's timeline
/// ends and the flows have drained; this thread watches over them (`watch`).
pub fn drive(
    flow: &FlowConfig,
    layout: &Layout,
    flags: &Flags,
    ends: Vec<FlowEnds<'_>>,
    sampling: Sampling,
    on_sample: impl FnMut(&Sample) + Send,
) -> Result<Driven> {
    let counters: Vec<Counters> = ends.iter().map(|_| Counters::default()).collect();
    let ctxs: Vec<DataCtx> = counters
        .iter()
        .map(|c| DataCtx {
            counters: c,
            flags,
            validate: flow.validate,
            period: flow.validation_period(),
            syscall_times: flow.syscall_times,
        })
        .collect();
    let Sampling { measure, end_on_rx_done } = sampling;
    let mut fds = Vec::new();
    for e in &ends {
        for s in e.rx.iter().map(|r| r.0).chain(e.tx.iter().map(|t| t.0)) {
            s.set_nonblocking(true).context("making the data socket non-blocking")?;
        }
        fds.push((e.rx.as_ref().map(|r| r.0.as_raw_fd()), e.tx.as_ref().map(|t| t.0.as_raw_fd())));
    }
    let scfg = SamplerConfig {
        warmup: flow.warmup(),
        duration: flow.duration(),
        interval: flow.interval(),
        cpu: layout.sampler_cpu,
        fds,
        end_on_rx_done,
    };
    let run_id = if flow.run_id.is_empty() { running::new_run_id() } else { flow.run_id.clone() };
    let alone = ends.len() == 1;
    let _wake = crate::signals::wake_me();
    let ended = AtomicUsize::new(0);
    std::thread::scope(|sc| {
        let ended = &ended;
        let mut watch = Watch::new(flags, &counters, scfg.fds.clone(), scfg.warmup, &run_id);
        let mut handles = Vec::new();
        for (k, (e, ctx)) in ends.into_iter().zip(&ctxs).enumerate() {
            let cores = layout.flow(k);
            let tag = if alone { String::new() } else { format!("-{}", k + 1) };
            let rx = e.rx.map(|(sock, mut path)| {
                let t = (format!("zcb-rx{tag}"), Some(cores.app_cpu), alone);
                data_thread(sc, t, ctx, ended, sock, move |fd, ctx| path.run(fd, ctx))
            });
            let tx = e.tx.map(|(sock, mut path)| {
                let t = (format!("zcb-tx{tag}"), cores.sender_cpu, alone);
                data_thread(sc, t, ctx, ended, sock, move |fd, ctx| path.run(fd, ctx))
            });
            handles.push((rx, tx));
        }
        let watcher = std::thread::current();
        let sampler_h = Some(std::thread::Builder::new().name("zcb-sampler".into()).spawn_scoped(sc, || {
            let _wake = WakeOnExit(watcher, ended);
            let r = sample::run(&scfg, measure, &counters, flags, on_sample);
            if r.is_err() {
                flags.raise_abort();
            }
            r
        }));
        let threads = handles.iter().map(|(rx, tx)| started(rx) as usize + started(tx) as usize).sum::<usize>()
            + started(&sampler_h) as usize;
        while ended.load(Ordering::Acquire) < threads {
            watch.look();
            std::thread::park_timeout(watch::TICK);
        }
        let sampled = join(sampler_h, "sampler");
        let joined: Vec<Joined2> =
            handles.into_iter().map(|(rx, tx)| (join(rx, "receiver"), join(tx, "sender"))).collect();
        settle(watch, sampled, joined)
    })
}

type Joined2 = (Result<Option<(RxStats, ThreadUsage)>>, Result<Option<(TxStats, ThreadUsage)>>);

/// What the threads' outcomes make of the run: the watch's reason first, then
/// Ctrl-C, then the receiver's error (it explains more than the sender's, which
/// usually just saw the peer go). One flow of several that failed is named and
/// the run kept, unless every flow failed.
fn settle(watch: Watch, sampled: Result<Option<SamplerOutput>>, flows: Vec<Joined2>) -> Result<Driven> {
    // After Ctrl-C a flow that would not wind down is given up as interrupted.
    if crate::signals::abandoned() || (crate::signals::interrupted() && watch.gave_up.is_some()) {
        return Err(anyhow!(Interrupted));
    }
    if let Some(why) = &watch.gave_up {
        return Err(anyhow!(why.clone()));
    }
    let sampler = sampled?.ok_or_else(|| anyhow!("the sampler did not run"))?;
    let interrupted = crate::signals::interrupted();
    let n = flows.len();
    let mut out = Vec::new();
    let mut first_err = None;
    for (k, (rx, tx)) in flows.into_iter().enumerate() {
        let outcome = match (rx, tx) {
            // A flow the watch ended as stalled is named even when its threads
            // wound down without an error.
            (Ok(rx), Ok(tx)) => FlowOutcome { rx, tx, ended: watch.stalled(k).map(|s| format!("stalled: {s}")) },
            // One flow alone: its failure is the run's, as it always was (kept
            // only when a window was measured and it wound down cleanly).
            _ if n == 1 && interrupted => return Err(anyhow!(Interrupted)),
            (Err(e), _) | (Ok(_), Err(e)) if n == 1 => return Err(e),
            (rx, tx) => {
                let why = [rx.err(), tx.err()].into_iter().flatten().map(|e| format!("{e:#}")).collect::<Vec<_>>();
                let ended = match watch.stalled(k) {
                    Some(s) => format!("stalled: {s}"),
                    None => format!("died: {}", why.join("; ")),
                };
                FlowOutcome { rx: None, tx: None, ended: Some(ended) }
            }
        };
        if let Some(e) = &outcome.ended {
            first_err.get_or_insert_with(|| format!("flow {}: {e}", k + 1));
        }
        out.push(outcome);
    }
    if out.iter().all(|f| f.ended.is_some())
        && let Some(e) = first_err
    {
        return Err(anyhow!("every flow ended before the run did; {e}"));
    }
    if interrupted && sampler.window_s <= 0.0 {
        return Err(anyhow!(Interrupted));
    }
    let others = watch.others;
    Ok(Driven { sampler, flows: out, interrupted, others })
}

//! Orchestration: the local testbed run, the two-host server and client, and the
//! piece they share: driving the data threads and the sampler.

pub mod client;
pub mod local;
pub mod measure;
pub mod proto;
pub mod series;
pub mod server;
pub mod settings;
pub mod side;
pub mod study;
pub mod testbed;

use crate::config::{FlowConfig, Layout};
use crate::datapath::DataCtx;
use crate::results::schema::{RxStats, Sample, TxStats};
use crate::rx::RxPath;
use crate::sample::{self, Counters, Flags, Measure, SamplerConfig, SamplerOutput};
use crate::sys::cpu::{self, ThreadUsage};
use crate::tx::TxPath;
use anyhow::{Context, Result, anyhow};
use socket2::Socket;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

pub struct Driven {
    pub sampler: SamplerOutput,
    pub rx: Option<(RxStats, ThreadUsage)>,
    pub tx: Option<(TxStats, ThreadUsage)>,
}

/// The error a Ctrl-C turns into once the run has wound down cleanly.
#[derive(Debug)]
pub struct Interrupted;
impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}
impl std::error::Error for Interrupted {}

/// A data-path thread: pinned, timed with getrusage. When it fails it raises the
/// abort flag so the other threads stop too, and shuts its socket down so the
/// peer sees the end at once instead of waiting for a timeout.
fn data_thread<'s, 'e, T: Send + 's>(
    sc: &'s std::thread::Scope<'s, 'e>,
    name: &str,
    core: Option<usize>,
    ctx: &'s DataCtx<'s>,
    sock: &'s Socket,
    body: impl FnOnce(BorrowedFd<'_>, &DataCtx) -> Result<T> + Send + 's,
) -> std::io::Result<std::thread::ScopedJoinHandle<'s, Result<(T, ThreadUsage)>>> {
    std::thread::Builder::new().name(name.into()).spawn_scoped(sc, move || {
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
/// sampler, each on its own thread, until the sampler's timeline ends.
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
    std::thread::scope(|sc| {
        let rx_h = rx.map(|(sock, mut path)| {
            data_thread(sc, "zcb-rx", Some(layout.app_cpu), &ctx, sock, move |fd, ctx| path.run(fd, ctx))
        });
        let tx_h = tx.map(|(sock, mut path)| {
            data_thread(sc, "zcb-tx", layout.sender_cpu, &ctx, sock, move |fd, ctx| path.run(fd, ctx))
        });
        let sampled = std::thread::Builder::new()
            .name("zcb-sampler".into())
            .spawn_scoped(sc, || sample::run(&scfg, measure, &counters, flags, on_sample))
            .context("starting the sampler thread")?
            .join()
            .map_err(|_| anyhow!("the sampler thread panicked"))?;
        if sampled.is_err() {
            flags.raise_abort();
        }
        let tx_r = join(tx_h, "sender");
        let rx_r = join(rx_h, "receiver");
        let sampler = sampled?;
        // The receiver's error explains more than the sender's (which usually just saw the peer go).
        let rx = rx_r?;
        let tx = tx_r?;
        if crate::signals::interrupted() {
            return Err(anyhow!(Interrupted));
        }
        Ok(Driven { sampler, rx, tx })
    })
}

//! The sampler: its own thread, its own clock. It owns the run's timeline: it
//! takes a sample every interval, marks the start of the measured window at the
//! end of the warm-up, and tells the data path to stop when the window ends.

pub mod cpuidle;
pub mod power;
pub mod procstat;
pub mod softirqs;
pub mod window;

use crate::results::schema::{FlowSample, PowerSource, Sample, TcpInfo};
use crate::sys::cpu;
use crate::sys::sock::tcpinfo::{self, TcpInfoRaw};
use anyhow::Result;
use procstat::{CpuTicks, ProcStat};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A counter on its own cache line, so the receiving and sending threads never
/// share one.
#[repr(align(128))]
#[derive(Default)]
pub struct Padded(pub AtomicU64);

/// One flow's byte counters, written by its data threads (one writer each) and
/// read by the sampler, and whether the flow has ended early.
#[derive(Default)]
pub struct Counters {
    pub rx: Padded,
    pub tx: Padded,
    /// The flow is over before the run (its thread failed, or the watch found
    /// it stalled): its threads stop, the other flows go on.
    pub gone: AtomicBool,
}

/// Run-wide flags.
#[derive(Default)]
pub struct Flags {
    /// Sampler → data path: the window is over, stop sending.
    pub stop: AtomicBool,
    /// Anyone → everyone: give up now (error elsewhere, Ctrl-C).
    pub abort: AtomicBool,
    /// Receivers → sampler: how many flows the peer has closed.
    pub rx_done: AtomicUsize,
    /// The sampler thread, so events can wake it instead of it polling for them.
    pub sampler: std::sync::OnceLock<std::thread::Thread>,
}

impl Flags {
    /// Give up: every thread stops, and the sampler learns it at once.
    pub fn raise_abort(&self) {
        self.abort.store(true, Ordering::Relaxed);
        self.wake_sampler();
    }

    /// A receiver saw the end of its flow.
    pub fn mark_rx_done(&self) {
        self.rx_done.fetch_add(1, Ordering::Relaxed);
        self.wake_sampler();
    }

    fn wake_sampler(&self) {
        if let Some(t) = self.sampler.get() {
            t.unpark();
        }
    }
}

/// The TCP_INFO fields a result records (rates in bit/s; the kernel gives bytes/s).
pub fn tcp_info(r: &TcpInfoRaw) -> TcpInfo {
    TcpInfo {
        rtt_us: r.rtt,
        rttvar_us: r.rttvar,
        min_rtt_us: r.min_rtt,
        rcv_rtt_us: r.rcv_rtt,
        snd_cwnd: r.snd_cwnd,
        snd_mss: r.snd_mss,
        rcv_mss: r.rcv_mss,
        pmtu: r.pmtu,
        rcv_space: r.rcv_space,
        snd_wnd: r.snd_wnd,
        rcv_wnd: r.rcv_wnd,
        total_retrans: r.total_retrans,
        bytes_retrans: r.bytes_retrans,
        delivery_rate_bps: r.delivery_rate.saturating_mul(8),
        pacing_rate_bps: r.pacing_rate.saturating_mul(8),
        busy_time_us: r.busy_time,
        rwnd_limited_us: r.rwnd_limited,
        sndbuf_limited_us: r.sndbuf_limited,
    }
}

/// The timeline: tick times from the flow start. Warm-up ticks every interval up to
/// the warm-up end (always a tick), then every interval up to the end (always a tick).
pub fn ticks(warmup: Duration, duration: Duration, interval: Duration) -> Vec<Duration> {
    let mut v = Vec::new();
    let mut t = interval;
    while t < warmup {
        v.push(t);
        t += interval;
    }
    if !warmup.is_zero() {
        v.push(warmup);
    }
    let end = warmup + duration;
    let mut t = warmup + interval;
    while t < end {
        v.push(t);
        t += interval;
    }
    v.push(end);
    v
}

pub struct SamplerConfig {
    pub warmup: Duration,
    pub duration: Duration,
    pub interval: Duration,
    /// Core to run on (None: wherever the scheduler likes).
    pub cpu: Option<usize>,
    /// Each flow's receiving and sending socket, as far as they are on this host.
    pub fds: Vec<(Option<RawFd>, Option<RawFd>)>,
    /// Stop early (with a final sample) when the receivers see the end of every flow.
    pub end_on_rx_done: bool,
}

/// What is measured besides throughput and /proc/stat: power every interval,
/// and the window probes (idle states, softirqs, perf, netdev) at its edges.
pub struct Measure {
    pub power: power::PowerSet,
    pub window: window::WindowConfig,
}

impl Measure {
    /// No power source, no perf, no device: idle states and softirqs only.
    #[cfg(test)]
    pub fn basic() -> Measure {
        Measure {
            power: power::PowerSet::empty(),
            window: window::WindowConfig { cores: Vec::new(), perf: false, netdev: None },
        }
    }
}

/// What the sampler hands back.
pub struct SamplerOutput {
    pub samples: Vec<Sample>,
    /// /proc/stat at the start and end of the measured window.
    pub window_start: Vec<CpuTicks>,
    pub window_end: Vec<CpuTicks>,
    /// Seconds of the measured window, by the sampler's clock.
    pub window_s: f64,
    /// The sampler thread's own CPU time and the wall time it ran.
    pub own_cpu_s: f64,
    pub wall_s: f64,
    pub pinned_to: Option<usize>,
    /// Ended before the planned end (abort, Ctrl-C, or the flow closed early).
    pub cut_short: bool,
    /// Unix time of the timeline's zero.
    pub start_unix_s: f64,
    pub power_sources: Vec<PowerSource>,
    /// CPU time of the power pollers' threads and of the commands they ran.
    pub power_cpu_s: f64,
    pub children_cpu_s: f64,
    /// The window probes' blocks (None when the window never started).
    pub window: Option<window::WindowBlocks>,
}

/// Longest sleep between looks at the flags. Aborts, the end of the flow and
/// Ctrl-C wake it at once (`Flags`, `signals::wake_me`); this only bounds a
/// wake-up lost to a race. Measured: waking every 50 ms instead cost ~4%
/// throughput on a 2-core VM.
const SIGNAL_POLL: Duration = Duration::from_millis(500);

/// Run the sampler on the calling thread. `on_sample` sees each sample as it is
/// taken (the server streams them to its client).
pub fn run(
    cfg: &SamplerConfig,
    measure: Measure,
    counters: &[Counters],
    flags: &Flags,
    mut on_sample: impl FnMut(&Sample),
) -> Result<SamplerOutput> {
    let pinned_to = match cfg.cpu {
        Some(c) => cpu::pin_current_thread(c).ok().map(|_| c),
        None => None,
    };
    let cpu0 = cpu::thread_cpu_time();
    let children0 = crate::sys::proc::children_cpu_s();
    let _ = flags.sampler.set(std::thread::current());
    let _wake = crate::signals::wake_me();
    let Measure { mut power, window: wcfg } = measure;
    let mut probes = window::Probes::new(wcfg);
    let mut power_row = Vec::new();

    let schedule = ticks(cfg.warmup, cfg.duration, cfg.interval);
    let mut stat = ProcStat::open()?;
    let mut prev = Vec::new();
    stat.read(&mut prev)?;
    let mut now_ticks = prev.clone();
    let start = Instant::now();
    let start_unix_s =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    power.start();
    let mut edge_a = cfg.warmup.is_zero().then(|| probes.edge());
    let mut prev_t = Duration::ZERO;
    let n = counters.len();
    let mut prev_bytes = vec![(0u64, 0u64); n];
    let mut now_bytes = vec![(0u64, 0u64); n];
    let mut out = SamplerOutput {
        samples: Vec::with_capacity(schedule.len()),
        window_start: if cfg.warmup.is_zero() { prev.clone() } else { Vec::new() },
        window_end: Vec::new(),
        window_s: 0.0,
        own_cpu_s: 0.0,
        wall_s: 0.0,
        pinned_to,
        cut_short: false,
        start_unix_s,
        power_sources: Vec::new(),
        power_cpu_s: 0.0,
        children_cpu_s: 0.0,
        window: None,
    };
    let mut window_t0 = if cfg.warmup.is_zero() { Some(Duration::ZERO) } else { None };
    for &tick in &schedule {
        // Wait for the tick, watching for an early end.
        let mut early = false;
        loop {
            let el = start.elapsed();
            if el >= tick {
                break;
            }
            if flags.abort.load(Ordering::Relaxed)
                || crate::signals::interrupted()
                || (cfg.end_on_rx_done && flags.rx_done.load(Ordering::Relaxed) + ended(counters) >= n)
            {
                early = true;
                break;
            }
            std::thread::park_timeout((tick - el).min(SIGNAL_POLL));
        }
        let t = start.elapsed();
        // Every flow's counters at one instant; the totals are their sums.
        for (now, c) in now_bytes.iter_mut().zip(counters) {
            *now = (c.rx.0.load(Ordering::Relaxed), c.tx.0.load(Ordering::Relaxed));
        }
        stat.read(&mut now_ticks)?;
        power.tick(&mut power_row);
        let dt = (t - prev_t).as_secs_f64();
        let in_warmup = window_t0.is_none();
        let s = sample(
            cfg,
            (t, dt, in_warmup),
            (&prev_bytes, &now_bytes),
            procstat::utilisation(&prev, &now_ticks),
            &power_row,
        );
        on_sample(&s);
        out.samples.push(s);
        std::mem::swap(&mut prev, &mut now_ticks);
        prev_t = t;
        std::mem::swap(&mut prev_bytes, &mut now_bytes);
        if in_warmup && tick == cfg.warmup && !early {
            window_t0 = Some(t);
            out.window_start = prev.clone();
            edge_a = Some(probes.edge());
        }
        if early {
            out.cut_short = true;
            break;
        }
    }
    flags.stop.store(true, Ordering::Relaxed);
    if let Some(t0) = window_t0 {
        out.window_end = prev.clone();
        out.window_s = (prev_t - t0).as_secs_f64();
        if let Some(a) = edge_a {
            let b = probes.edge();
            let util = procstat::utilisation(&out.window_start, &out.window_end);
            out.window = Some(probes.blocks(a, b, out.window_s, &util));
        }
    }
    let (sources, power_cpu) = power.finish();
    out.power_sources = sources;
    out.power_cpu_s = power_cpu;
    out.children_cpu_s = crate::sys::proc::children_cpu_s() - children0;
    out.own_cpu_s = (cpu::thread_cpu_time() - cpu0).as_secs_f64();
    out.wall_s = start.elapsed().as_secs_f64();
    Ok(out)
}

/// Flows that ended before the run (they will not see the end of the flow).
fn ended(counters: &[Counters]) -> usize {
    counters.iter().filter(|c| c.gone.load(Ordering::Relaxed)).count()
}

/// A flow's (received, sent) byte counts.
type Bytes = (u64, u64);

/// One interval's sample from the flows' counters before and after it: per
/// flow when there are several (the top-level byte counts are their sums),
/// TCP_INFO of each socket.
fn sample(
    cfg: &SamplerConfig,
    (t, dt, warmup): (Duration, f64, bool),
    (before, after): (&[Bytes], &[Bytes]),
    cpu: Vec<crate::results::schema::CoreUtil>,
    power_w: &[Option<f64>],
) -> Sample {
    let rate = |b: u64| if dt > 0.0 { b as f64 * 8.0 / dt / 1e9 } else { 0.0 };
    let tcp = |fd: Option<RawFd>| fd.and_then(tcpinfo::read_raw).map(|r| tcp_info(&r));
    let flows: Vec<FlowSample> = before
        .iter()
        .zip(after)
        .zip(&cfg.fds)
        .map(|((b, a), (rx_fd, tx_fd))| FlowSample {
            rx_bytes: a.0 - b.0,
            tx_bytes: a.1 - b.1,
            rx_gbps: rate(a.0 - b.0),
            tcp_rx: tcp(*rx_fd),
            tcp_tx: tcp(*tx_fd),
        })
        .collect();
    let rx_bytes: u64 = flows.iter().map(|f| f.rx_bytes).sum();
    let tx_bytes: u64 = flows.iter().map(|f| f.tx_bytes).sum();
    let mut s = Sample {
        t_s: t.as_secs_f64(),
        dt_s: dt,
        warmup,
        rx_bytes,
        tx_bytes,
        rx_gbps: rate(rx_bytes),
        cpu,
        tcp_rx: None,
        tcp_tx: None,
        power_w: power_w.to_vec(),
        flows: Vec::new(),
    };
    if flows.len() == 1 {
        s.tcp_rx = flows[0].tcp_rx;
        s.tcp_tx = flows[0].tcp_tx;
    } else {
        s.flows = flows;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[Duration]) -> Vec<f64> {
        v.iter().map(|d| d.as_secs_f64()).collect()
    }

    #[test]
    fn timeline_has_window_edges() {
        let s = |x: f64| Duration::from_secs_f64(x);
        assert_eq!(secs(&ticks(s(2.0), s(3.0), s(1.0))), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(secs(&ticks(s(1.5), s(2.0), s(1.0))), vec![1.0, 1.5, 2.5, 3.5]);
        assert_eq!(secs(&ticks(s(0.0), s(2.5), s(1.0))), vec![1.0, 2.0, 2.5]);
    }

    #[test]
    fn samples_add_up_and_window_is_marked() {
        let flags = Flags::default();
        let cfg = SamplerConfig {
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(300),
            interval: Duration::from_millis(100),
            cpu: None,
            fds: vec![(None, None); 3],
            end_on_rx_done: false,
        };
        let counters = [Counters::default(), Counters::default(), Counters::default()];
        let (out, total) = std::thread::scope(|sc| {
            let h = sc.spawn(|| {
                let mut n = 0u64;
                while !flags.stop.load(Ordering::Relaxed) {
                    n += 1000;
                    for (k, c) in counters.iter().enumerate() {
                        c.rx.0.store(n * (k as u64 + 1), Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                n * 6
            });
            let out = run(&cfg, Measure::basic(), &counters, &flags, |_| {}).unwrap();
            (out, h.join().unwrap())
        });
        assert_eq!(out.samples.len(), 4);
        assert!(out.samples[0].warmup && !out.samples[1].warmup);
        let sum: u64 = out.samples.iter().map(|s| s.rx_bytes).sum();
        assert!(sum <= total && sum > 0);
        // Each interval's total is exactly the sum of its flows.
        for s in &out.samples {
            assert_eq!(s.flows.len(), 3);
            assert_eq!(s.rx_bytes, s.flows.iter().map(|f| f.rx_bytes).sum::<u64>());
        }
        assert!((out.window_s - 0.3).abs() < 0.05, "window {}", out.window_s);
        assert!(!out.window_start.is_empty() && !out.window_end.is_empty());
        assert!(!out.cut_short);
    }
}

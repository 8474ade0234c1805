//! `zcbench server`: the receiver of a two-host run. It runs one flow at a time,
//! applies only what its own command line allows (its layout, its --dev
//! pinning), streams its samples over the control connection, and keeps serving
//! after a client misbehaves.
//!
//! The control port cannot be held by slow or crowding clients: every
//! connection reads its hello on a thread of its own and must send it whole
//! within [`HELLO_DEADLINE`]; at most [`MAX_WAITING`] connections wait for
//! theirs, and one more, or one whose hello comes while a flow runs, is told
//! at once that the server is busy and to try again.

use super::proto::{self, Msg};
use super::settings::{self, Plan, Role};
use super::side::{self, SideFacts};
use super::{Sampling, instruments};
use crate::config::{FlowConfig, Layout, ServerSpec, resolve_layout};
use crate::datapath::Prepare;
use crate::domain::name_of;
use crate::error::usage;
use crate::messages::{note, warn};
use crate::results::schema::PowerSource;
use crate::rx::{self, Queue};
use crate::sample::Flags;
use crate::sys::journal::{ChangeRecord, Journal};
use crate::sys::mem::Backing;
use crate::sys::netlink::link::{self, LinkInfo};
use crate::sys::netns::Dev;
use crate::sys::{cpu, host, irq, netns, sock};
use anyhow::{Context, Result, anyhow, bail};
use socket2::Socket;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long either end waits for the other's next step during set-up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A client's hello must arrive whole within this.
pub const HELLO_DEADLINE: Duration = Duration::from_secs(5);
/// Connections waiting for their hello at once; more are told "busy".
pub const MAX_WAITING: usize = 16;
/// How often the accept loop looks at Ctrl-C and `--once`.
const ACCEPT_POLL: Duration = Duration::from_millis(200);

/// The flow being run: who asked, since when, for how long.
struct Busy {
    peer: SocketAddr,
    since: Instant,
    length: Duration,
}

/// What every connection of one server shares.
struct Serving<'a> {
    spec: &'a ServerSpec,
    layout: Layout,
    dev: Option<LinkInfo>,
    plan: Plan,
    /// The server's own settings, in force for its lifetime.
    held: Vec<ChangeRecord>,
    /// The one flow at a time.
    running: Mutex<Option<Busy>>,
    waiting: AtomicUsize,
    /// `--once`: the outcome of the run served.
    done: Mutex<Option<Result<()>>>,
    finished: AtomicBool,
    /// Cores for power commands, and the idle power measured at start.
    spare: Vec<usize>,
    idle: Vec<PowerSource>,
}

pub fn server(spec: &ServerSpec, progress: super::Progress) -> Result<()> {
    if spec.measure.power_log.is_some() {
        return Err(usage(
            "server --power-log: attach the receiver's meter log to the client's result instead (zcbench attach-power RESULT LOG --side receiver)",
        ));
    }
    let online = cpu::online_cpus()?;
    let layout = resolve_layout(spec.cores, None, &online)?;
    let spare = instruments::spare_cores(&layout, &online);
    // Power sources answer before anything changes; idle is measured once, now.
    let mut power = instruments::power_set(&spec.measure, &spare)?;
    let dev = spec.dev.as_deref().map(link::get_link).transpose()?;
    // The server's own settings hold for its lifetime (restored when it exits);
    // per-run pinning and steering have a journal of their own.
    let rx_dev = spec.dev.as_deref().map(|d| Dev::new(None, d));
    // `--hugepages auto`: enough for the largest buffers a client may ask for.
    let huge = rx::all()
        .map(|d| {
            rx::huge_pages(&rx::Params {
                mode: d.mode,
                read_size: spec.max_buffer as usize,
                backing: Backing::HugePages,
                devmem: Default::default(),
                zcrx: Default::default(),
            })
        })
        .max()
        .unwrap_or(1);
    let wanted = settings::size_hugepages(&spec.settings, huge);
    let plan = settings::plan(&wanted, spec.mtu, rx_dev.as_ref(), None, Role::Server)?;
    for n in &plan.notes {
        note(n);
    }
    let mut journal = Journal::for_run();
    settings::apply(&plan, &mut journal)?;
    let held = journal.records().to_vec();
    instruments::measure_idle(&mut power, &spec.measure, Duration::from_secs(1))?;
    let (idle, _) = power.finish();
    let listen = SocketAddr::new(spec.listen, spec.control_port);
    let control = sock::listen_backlog(&listen, None, 128)?;
    note(&format!("listening on {listen} (protocol v{})", proto::VERSION));
    let serving = Serving {
        spec,
        layout,
        dev,
        plan,
        held,
        running: Mutex::new(None),
        waiting: AtomicUsize::new(0),
        done: Mutex::new(None),
        finished: AtomicBool::new(false),
        spare,
        idle,
    };
    let progress = Mutex::new(progress);
    std::thread::scope(|sc| {
        while !crate::signals::interrupted() && !serving.finished.load(Ordering::Relaxed) {
            let Ok((conn, peer)) = sock::accept_timeout(&control, ACCEPT_POLL) else { continue };
            let conn: TcpStream = conn.into();
            if serving.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
                serving.waiting.fetch_sub(1, Ordering::SeqCst);
                refuse(conn, &format!("busy: {MAX_WAITING} connections are already waiting to send their hello"));
                continue;
            }
            let (serving, progress) = (&serving, &progress);
            let spawned = std::thread::Builder::new().name("zcb-control".into()).spawn_scoped(sc, move || {
                connection(serving, conn, peer, progress);
                serving.waiting.fetch_sub(1, Ordering::SeqCst);
            });
            if spawned.is_err() {
                serving.waiting.fetch_sub(1, Ordering::SeqCst);
            }
        }
    });
    if crate::signals::interrupted() {
        return Err(anyhow!(super::Interrupted));
    }
    serving.done.lock().map_err(|_| anyhow!("a control thread panicked"))?.take().unwrap_or(Ok(()))
}

/// Tell a connection it cannot be served now, without waiting for anything:
/// the answer is written, the write side shut, and whatever the client already
/// sent read away before closing (closing with unread data would reset the
/// connection and could lose the answer).
fn refuse(mut conn: TcpStream, why: &str) {
    let _ = conn.set_write_timeout(Some(Duration::from_millis(500)));
    let _ = proto::write_msg(&mut conn, &Msg::Error { message: format!("{why}; try again later"), exit: 1 });
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let _ = conn.set_nonblocking(true);
    let mut sink = [0u8; 4096];
    while matches!(std::io::Read::read(&mut conn, &mut sink), Ok(n) if n > 0) {}
}

/// One control connection: its hello, then its run or a "busy" answer.
fn connection(s: &Serving, mut conn: TcpStream, peer: SocketAddr, progress: &Mutex<super::Progress>) {
    let flow = match read_hello(&conn, s.spec) {
        Ok(f) => f,
        Err(e) => {
            let _ = conn.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = proto::write_msg(&mut conn, &Msg::error(&e));
            warn(&format!("client {peer}: {e:#}"));
            return;
        }
    };
    let Some(slot) = take_slot(s, peer, &flow) else {
        let why = busy_message(s);
        note(&format!("client {peer}: {why}"));
        refuse(conn, &why);
        return;
    };
    note(&format!("client {peer}"));
    let r = match progress.lock() {
        Ok(mut p) => serve_one(s, &mut conn, peer, &flow, &mut **p),
        Err(_) => Err(anyhow!("a previous run panicked")),
    };
    match &r {
        Ok(()) => note(&format!("client {peer}: run done")),
        Err(e) => {
            // Tell the client why (best effort), then serve the next one.
            let _ = proto::write_msg(&mut conn, &Msg::error(e));
            warn(&format!("client {peer}: {e:#}"));
        }
    }
    drop(slot);
    if s.spec.once || crate::signals::interrupted() {
        if let Ok(mut d) = s.done.lock() {
            *d = Some(r);
        }
        s.finished.store(true, Ordering::Relaxed);
    }
}

/// Frees the run slot when dropped.
struct Slot<'a>(&'a Mutex<Option<Busy>>);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.0.lock() {
            *r = None;
        }
    }
}

fn take_slot<'a>(s: &'a Serving, peer: SocketAddr, flow: &FlowConfig) -> Option<Slot<'a>> {
    let mut r = s.running.lock().ok()?;
    if r.is_some() || s.finished.load(Ordering::Relaxed) {
        return None;
    }
    *r = Some(Busy { peer, since: Instant::now(), length: flow.warmup() + flow.duration() });
    Some(Slot(&s.running))
}

fn busy_message(s: &Serving) -> String {
    match s.running.lock().ok().as_deref() {
        Some(Some(b)) => {
            let left = b.length.saturating_sub(b.since.elapsed()).as_secs();
            format!(
                "busy: running a flow for {} since {} s ago (about {left} s left)",
                b.peer.ip(),
                b.since.elapsed().as_secs()
            )
        }
        _ => "busy: this server is shutting down".into(),
    }
}

/// The client's hello: the flow it wants, checked against what this server allows.
fn read_hello(conn: &TcpStream, spec: &ServerSpec) -> Result<FlowConfig> {
    conn.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let flow = match proto::read_msg_within(conn, HELLO_DEADLINE).context("reading the client's hello")? {
        Msg::Hello { magic, flow, .. } => {
            if magic != proto::MAGIC {
                bail!("hello has magic '{magic}', not '{}'", proto::MAGIC);
            }
            // read_msg has already refused another protocol version.
            flow
        }
        other => bail!("expected a hello, got {}", other.kind()),
    };
    flow.validate()?;
    if flow.duration() + flow.warmup() > spec.max_duration {
        return Err(usage(format!(
            "the client asked for {:.0}s but this server allows at most {} (server --max-duration)",
            flow.duration_s + flow.warmup_s,
            humantime::format_duration(spec.max_duration)
        )));
    }
    if flow.read_size > spec.max_buffer {
        return Err(usage(format!(
            "the client asked for --read-size {} bytes but this server allocates at most {} bytes per buffer (server --max-buffer)",
            flow.read_size, spec.max_buffer
        )));
    }
    // One buffer per flow: --max-buffer bounds them together.
    if flow.read_size.saturating_mul(u64::from(flow.flows)) > spec.max_buffer {
        return Err(usage(format!(
            "the client asked for {} flows of --read-size {} bytes ({} bytes of buffers) but this server allocates at \
             most {} bytes for a run (server --max-buffer)",
            flow.flows,
            flow.read_size,
            flow.read_size.saturating_mul(u64::from(flow.flows)),
            spec.max_buffer
        )));
    }
    Ok(flow)
}

/// The address the data connection will arrive at: the listen address, or
/// when that is a wildcard, the first address of --dev in the flow's family
/// (None: not known before the connection).
fn data_dst(s: &Serving, flow: &FlowConfig, port: u16) -> Option<SocketAddr> {
    if !s.spec.listen.is_unspecified() {
        return Some(SocketAddr::new(s.spec.listen, port));
    }
    let dev = s.dev.as_ref()?;
    let ip = netns::configured_addresses(&dev.name)
        .ok()?
        .iter()
        .filter_map(|a| a.split('/').next()?.parse::<IpAddr>().ok())
        .find(|a| a.is_ipv6() == flow.ipv6)?;
    Some(SocketAddr::new(ip, port))
}

/// The settings one run needs besides the server's own: what a zero-copy
/// receive mode needs of --dev (header split, hds-thresh, a steered queue).
/// Returns the plan and the queue the path binds.
fn run_plan(s: &Serving, flow: &FlowConfig) -> Result<(Plan, Option<u32>)> {
    let mut plan = Plan { steer: s.plan.steer.clone(), ..Default::default() };
    let queue = rx::path(flow.mode).map_or(Queue::None, |p| p.queue);
    let nic = queue == Queue::Bound || (queue == Queue::BoundOnNic && s.spec.dev.is_some());
    super::local::check_flows_on_nic(flow, nic, false, s.spec.settings.steer_queue)?;
    if queue == Queue::None {
        return Ok((plan, None));
    }
    let mode = name_of(&flow.mode);
    let Some(dev) = &s.spec.dev else {
        if queue == Queue::BoundOnNic {
            // Runs without a device (zcrx: ZCRX_REG_NODEV, a copy path) where the kernel can.
            return Ok((plan, None));
        }
        return Err(usage(format!("--mode {mode} receives on a NIC queue: start the server with --dev NIC")));
    };
    let q = settings::zero_copy_rx(&mut plan, &s.spec.settings, &Dev::new(None, dev), &mode, flow.flows)?;
    for n in &plan.notes {
        note(n);
    }
    Ok((plan, q.first().copied()))
}

/// This run's layout: the server's cores, spread over the client's flows
/// (`--app-cpus`, `--net-cpus`, or the spreading rule). With a NIC (`--dev`)
/// its IRQs go to one core, so the flows must share their net core.
fn run_layout(s: &Serving, flow: &FlowConfig) -> Result<Layout> {
    let mut layout = s.layout.clone();
    let online = cpu::online_cpus()?;
    for n in crate::config::spread_flows(&mut layout, flow.flows as usize, &s.spec.flow_cores, &online)? {
        note(&n);
    }
    if s.dev.is_some() && layout.flows.iter().any(|f| f.net_cpu != layout.net_cpu) {
        return Err(crate::error::unsupported(format!(
            "--flows {}: this server pins its NIC's IRQs to one net core, and steering each flow to a queue of its \
             own needs an ntuple rule per flow, which zcbench does not make yet; start the server with one net core \
             for all flows (e.g. --net-cpus {})",
            flow.flows, layout.net_cpu
        )));
    }
    Ok(layout)
}

/// Steering known only once the data connection is up: the flow rule when the
/// destination was not known before (a 5-tuple now), and the net core's IRQs
/// or RPS.
fn steer_after(
    s: &Serving,
    journal: &mut Journal,
    plan: &Plan,
    known_dst: bool,
    rx_sock: &Socket,
    data_peer: SocketAddr,
    steering: &mut Vec<String>,
) -> Result<()> {
    if let (Some((d, q)), false) = (&plan.steer, known_dst) {
        let local = rx_sock.local_addr()?.as_socket().context("data socket has no IP address")?;
        steering.push(settings::steer_flows(journal, d, &[(q[0], local, Some(data_peer))])?);
    }
    if let Some(l) = &s.dev {
        steering.insert(0, irq::steer_to_core(journal, None, &l.name, s.layout.net_cpu)?);
    }
    Ok(())
}

/// The client's data connections (one per flow), from the control peer's
/// address, within the handshake timeout (Ctrl-C looked at meanwhile).
fn accept_flows(data: &Socket, peer: SocketAddr, n: u32) -> Result<Vec<(Socket, SocketAddr)>> {
    let until = Instant::now() + HANDSHAKE_TIMEOUT;
    (0..n)
        .map(|k| {
            accept_data(data, peer, until).with_context(|| format!("waiting for data connection {} of {n}", k + 1))
        })
        .collect()
}

fn accept_data(data: &Socket, peer: SocketAddr, until: Instant) -> Result<(Socket, SocketAddr)> {
    loop {
        super::stop_if_interrupted()?;
        if Instant::now() >= until {
            bail!(
                "the client's data connection did not arrive within {}",
                humantime::format_duration(HANDSHAKE_TIMEOUT)
            );
        }
        if let Ok((sock, from)) = sock::accept_timeout(data, ACCEPT_POLL) {
            if from.ip() != peer.ip() {
                bail!("data connection came from {from}, not from the control peer {peer}");
            }
            return Ok((sock, from));
        }
    }
}

/// Each flow's ends and the core its packets were processed on.
fn flow_facts(socks: &[(Socket, SocketAddr)]) -> Vec<side::FlowFacts> {
    socks
        .iter()
        .map(|(sock, from)| side::FlowFacts {
            local_addr: sock.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.to_string()),
            peer_addr: Some(from.to_string()),
            rx_queue: None,
            incoming_cpu: sock::incoming_cpu(sock),
        })
        .collect()
}

/// Each flow's receive path, built and prepared before the flow starts.
fn rx_paths(s: &Serving, flow: &FlowConfig, rx_queue: Option<u32>) -> Result<Vec<Box<dyn rx::RxPath>>> {
    let rx_dev = s.spec.dev.as_deref().map(|d| Dev::new(None, d));
    let mut paths =
        (0..flow.flows).map(|_| rx::build(&flow.rx_params(s.plan.backing()))).collect::<Result<Vec<_>>>()?;
    let mut p = Prepare { rx_dev: rx_dev.as_ref(), rx_queue, tx_dev: None, warnings: Vec::new() };
    for path in &mut paths {
        path.prepare(&mut p)?;
    }
    super::say_warnings(p.warnings);
    Ok(paths)
}

/// Which rx queue each connection used, by the kernel's account: each data
/// connection's should be its flow's bound queue, the control connection's
/// another.
fn connection_queues(
    rx_dev: Option<&Dev>,
    socks: &[(Socket, SocketAddr)],
    control: &TcpStream,
) -> Vec<crate::results::schema::ConnQueue> {
    let Some(d) = rx_dev else { return Vec::new() };
    let fds: Vec<_> = socks.iter().map(|(sock, _)| sock.as_fd()).collect();
    let mut c = side::flow_queues(d, &fds);
    c.push(side::conn_queue("control", d, control.as_fd()));
    c
}

fn serve_one(
    s: &Serving,
    conn: &mut TcpStream,
    peer: SocketAddr,
    flow: &FlowConfig,
    progress: super::Progress,
) -> Result<()> {
    let spec = s.spec;
    // Host changes for this run: only what this server's command line allows.
    let mut journal = Journal::for_run();
    let (plan, queue) = run_plan(s, flow)?;
    settings::apply(&plan, &mut journal)?;
    let layout = run_layout(s, flow)?;
    let backlog = (flow.flows as i32).max(16);
    let data = sock::listen_backlog(&SocketAddr::new(spec.listen, spec.port), flow.mss, backlog)?;
    let data_port = data.local_addr()?.as_socket().map(|a| a.port()).unwrap_or(0);
    // Steering and the path's resources go in before the first byte when the
    // destination is known; the sender's port is not, so the rule is a 3-tuple.
    let dst = data_dst(s, flow, data_port);
    let mut steering = Vec::new();
    if let (Some((d, q)), Some(dst)) = (&plan.steer, dst) {
        steering.push(settings::steer_flows(&mut journal, d, &[(q[0], dst, None)])?);
    }
    let paths = rx_paths(s, flow, queue.or(plan.steer.as_ref().and_then(|q| q.1.first().copied())))?;
    let ready = Msg::Ready { version: proto::VERSION, data_port, layout: layout.clone(), boot_id: host::boot_id() };
    proto::write_msg(conn, &ready)?;
    let socks = accept_flows(&data, peer, flow.flows)?;
    drop(data);
    let (rx_sock, data_peer) = (&socks[0].0, socks[0].1);
    steer_after(s, &mut journal, &plan, dst.is_some(), rx_sock, data_peer, &mut steering)?;
    let devs: Vec<(Option<&str>, &str)> = s.dev.iter().map(|l| (None, l.name.as_str())).collect();
    let facts = host::collect(None, &devs);

    let mut power = instruments::power_set(&spec.measure, &s.spare)?;
    power.copy_idle(&s.idle);
    let netdev = s.dev.as_ref().and_then(|l| instruments::netdev_target(None, &l.name));
    let sampling =
        Sampling { measure: instruments::measure(&spec.measure, power, &s.layout, netdev), end_on_rx_done: true };
    let flags = Flags::default();
    let mut stream = conn.try_clone()?;
    stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let shown = side::layout(&layout);
    let ends =
        socks.iter().zip(paths).map(|((sock, _), p)| super::FlowEnds { rx: Some((sock, p)), tx: None }).collect();
    let driven = super::drive(flow, &layout, &flags, ends, sampling, |smp| {
        progress(&super::local_interval(smp, &shown));
        if proto::write_msg(&mut stream, &Msg::Sample { sample: smp.clone() }).is_err() {
            // The client is gone: stop receiving.
            flags.raise_abort();
        }
    })?;
    if driven.interrupted {
        return Err(anyhow!(super::Interrupted));
    }
    let others = driven.others.clone();
    let rx_dev = spec.dev.as_deref().map(|d| Dev::new(None, d));
    let connections = connection_queues(rx_dev.as_ref(), &socks, conn);
    let facts = SideFacts {
        role: "receiver",
        host: facts,
        layout,
        net_steering: (!steering.is_empty()).then(|| steering.join("; ")),
        changes: s.held.iter().chain(journal.records()).cloned().collect(),
        local_addr: rx_sock.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.to_string()),
        peer_addr: Some(data_peer.to_string()),
        mss: sock::mss(rx_sock),
        flows: flow_facts(&socks),
    };
    let mut side = side::side(facts, driven, flow.interval_s);
    side.connections = connections;
    // The samples went to the client as they were taken.
    side.samples.clear();
    if let Some(e) = journal.restore().1.into_iter().next() {
        return Err(e.context("restoring this server's settings"));
    }
    proto::write_msg(conn, &Msg::Done { side: Box::new(side), others })?;
    conn.flush()?;
    Ok(())
}

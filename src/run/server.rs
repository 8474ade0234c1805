//! `zcbench server`: the receiver of a two-host run. It serves one client at a
//! time, applies only what its own command line allows (its layout, its --dev
//! pinning), streams its samples over the control connection, and keeps serving
//! after a client misbehaves.

use super::proto::{self, Msg};
use super::settings::{self, Plan, Role};
use super::side::{self, SideFacts};
use super::{Sampling, measure};
use crate::config::{FlowConfig, Layout, ServerSpec, resolve_layout};
use crate::datapath::Prepare;
use crate::domain::{RxMode, name_of};
use crate::error::usage;
use crate::results::schema::PowerSource;
use crate::rx;
use crate::sample::Flags;
use crate::sys::journal::{ChangeRecord, Journal};
use crate::sys::netlink::link::{self, LinkInfo};
use crate::sys::netns::Dev;
use crate::sys::{cpu, host, irq, netns, sock};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long either end waits for the other during set-up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn log(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("zcbench server: {msg}");
    }
}

/// What every run of one server shares.
struct Serving<'a> {
    spec: &'a ServerSpec,
    layout: Layout,
    dev: Option<LinkInfo>,
    plan: Plan,
    /// The server's own settings, in force for its lifetime.
    held: Vec<ChangeRecord>,
    /// Cores for power commands, and the idle power measured at start.
    spare: Vec<usize>,
    idle: Vec<PowerSource>,
}

pub fn server(spec: &ServerSpec) -> Result<()> {
    if spec.measure.power_log.is_some() {
        return Err(usage(
            "server --power-log: attach the receiver's meter log to the client's result instead (zcbench attach-power RESULT LOG --side receiver)",
        ));
    }
    let online = cpu::online_cpus()?;
    let layout = resolve_layout(spec.cores, None, &online)?;
    let spare = measure::spare_cores(&layout, &online);
    // Power sources answer before anything changes; idle is measured once, now.
    let mut power = measure::power_set(&spec.measure, &spare)?;
    let dev = spec.dev.as_deref().map(link::get_link).transpose()?;
    // The server's own settings hold for its lifetime (restored when it exits);
    // per-run pinning and steering have a journal of their own.
    let rx_dev = spec.dev.as_deref().map(|d| Dev::new(None, d));
    let plan = settings::plan(&spec.settings, spec.mtu, rx_dev.as_ref(), None, Role::Server)?;
    for n in &plan.notes {
        log(spec.quiet, n);
    }
    let mut journal = Journal::for_run();
    settings::apply(&plan, &mut journal)?;
    let held = journal.records().to_vec();
    measure::measure_idle(&mut power, &spec.measure, Duration::from_secs(1), spec.quiet)?;
    let (idle, _) = power.finish();
    let listen = SocketAddr::new(spec.listen, spec.control_port);
    let control = sock::listen(&listen, None)?;
    log(spec.quiet, &format!("listening on {listen} (protocol v{})", proto::VERSION));
    let serving = Serving { spec, layout, dev, plan, held, spare, idle };
    loop {
        if crate::signals::interrupted() {
            return Ok(());
        }
        let Ok((conn, peer)) = sock::accept_timeout(&control, Duration::from_millis(500)) else {
            continue;
        };
        let mut conn: TcpStream = conn.into();
        log(spec.quiet, &format!("client {peer}"));
        let r = serve_one(&serving, &mut conn, peer);
        match &r {
            Ok(()) => log(spec.quiet, &format!("client {peer}: run done")),
            Err(e) => {
                // Tell the client why (best effort), then serve the next one.
                let _ = proto::write_msg(&mut conn, &Msg::error(e));
                eprintln!("zcbench server: client {peer}: {e:#}");
            }
        }
        if spec.once || crate::signals::interrupted() {
            return r;
        }
    }
}

/// The client's hello: the flow it wants, checked against what this server allows.
fn read_hello(conn: &mut TcpStream, max: Duration) -> Result<FlowConfig> {
    conn.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    conn.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let flow = match proto::read_msg(conn).context("reading the client's hello")? {
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
    if flow.duration() + flow.warmup() > max {
        return Err(usage(format!(
            "the client asked for {:.0}s but this server allows at most {} (server --max-duration)",
            flow.duration_s + flow.warmup_s,
            humantime::format_duration(max)
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
    if !flow.mode.binds_a_queue() {
        return Ok((plan, None));
    }
    let mode = name_of(&flow.mode);
    let Some(dev) = &s.spec.dev else {
        if flow.mode == RxMode::Zcrx {
            // Registered without a device (ZCRX_REG_NODEV, a copy path) where the kernel can.
            return Ok((plan, None));
        }
        return Err(usage(format!("--mode {mode} receives on a NIC queue: start the server with --dev NIC")));
    };
    let q = settings::zero_copy_rx(&mut plan, &s.spec.settings, &Dev::new(None, dev), &mode)?;
    for n in &plan.notes {
        log(s.spec.quiet, n);
    }
    Ok((plan, Some(q)))
}

fn serve_one(s: &Serving, conn: &mut TcpStream, peer: SocketAddr) -> Result<()> {
    let spec = s.spec;
    let flow = read_hello(conn, spec.max_duration)?;
    // Host changes for this run: only what this server's command line allows.
    let mut journal = Journal::for_run();
    let (plan, queue) = run_plan(s, &flow)?;
    settings::apply(&plan, &mut journal)?;
    let mut rx_path = rx::build(&flow.rx_params(s.plan.backing()))?;
    let data = sock::listen(&SocketAddr::new(spec.listen, spec.port), flow.mss)?;
    let data_port = data.local_addr()?.as_socket().map(|a| a.port()).unwrap_or(0);
    // Steering and the path's resources go in before the first byte when the
    // destination is known; the sender's port is not, so the rule is a 3-tuple.
    let dst = data_dst(s, &flow, data_port);
    let mut steering = Vec::new();
    if let (Some((d, q)), Some(dst)) = (&plan.steer, dst) {
        steering.push(settings::steer(&mut journal, d, *q, dst, None)?);
    }
    let rx_dev = spec.dev.as_deref().map(|d| Dev::new(None, d));
    let rx_queue = queue.or(plan.steer.as_ref().map(|q| q.1));
    rx_path.prepare(&mut Prepare { rx_dev: rx_dev.as_ref(), rx_queue, tx_dev: None })?;
    proto::write_msg(conn, &Msg::Ready { version: proto::VERSION, data_port, layout: s.layout.clone() })?;
    let (rx_sock, data_peer) =
        sock::accept_timeout(&data, HANDSHAKE_TIMEOUT).context("waiting for the client's data connection")?;
    if data_peer.ip() != peer.ip() {
        bail!("data connection came from {data_peer}, not from the control peer {peer}");
    }
    drop(data);
    if let (Some((d, q)), None) = (&plan.steer, dst) {
        let local = rx_sock.local_addr()?.as_socket().context("data socket has no IP address")?;
        steering.push(settings::steer(&mut journal, d, *q, local, Some(data_peer))?);
    }
    if let Some(l) = &s.dev {
        steering.insert(0, irq::steer_to_core(&mut journal, None, &l.name, s.layout.net_cpu)?);
    }
    let devs: Vec<(Option<&str>, &str)> = s.dev.iter().map(|l| (None, l.name.as_str())).collect();
    let facts = host::collect(None, &devs);

    let mut power = measure::power_set(&spec.measure, &s.spare)?;
    power.copy_idle(&s.idle);
    let netdev = s.dev.as_ref().and_then(|l| measure::netdev_target(None, &l.name));
    let sampling =
        Sampling { measure: measure::measure(&spec.measure, power, &s.layout, netdev), end_on_rx_done: true };
    let flags = Flags::default();
    let mut stream = conn.try_clone()?;
    stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let driven = super::drive(&flow, &s.layout, &flags, Some((&rx_sock, rx_path)), None, sampling, |smp| {
        if proto::write_msg(&mut stream, &Msg::Sample { sample: smp.clone() }).is_err() {
            // The client is gone: stop receiving.
            flags.raise_abort();
        }
    })?;
    let facts = SideFacts {
        role: "receiver",
        host: facts,
        layout: s.layout.clone(),
        net_steering: (!steering.is_empty()).then(|| steering.join("; ")),
        changes: s.held.iter().chain(journal.records()).cloned().collect(),
        local_addr: rx_sock.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.to_string()),
        peer_addr: Some(data_peer.to_string()),
        mss: sock::mss(&rx_sock),
    };
    let mut side = side::side(facts, driven, flow.interval_s);
    // The samples went to the client as they were taken.
    side.samples.clear();
    if let Some(e) = journal.restore().1.into_iter().next() {
        return Err(e.context("restoring this server's settings"));
    }
    proto::write_msg(conn, &Msg::Done { side: Box::new(side) })?;
    conn.flush()?;
    Ok(())
}

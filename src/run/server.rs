//! `zcbench server`: the receiver of a two-host run. It serves one client at a
//! time, applies only what its own command line allows (its layout, its --dev
//! pinning), streams its samples over the control connection, and keeps serving
//! after a client misbehaves.

use super::proto::{self, Msg};
use super::settings::{self, Plan, Role};
use super::side::{self, SideFacts};
use crate::config::{FlowConfig, Layout, ServerSpec, resolve_layout};
use crate::datapath::Prepare;
use crate::error::usage;
use crate::rx;
use crate::sample::Flags;
use crate::sys::journal::{ChangeRecord, Journal};
use crate::sys::netlink::link::{self, LinkInfo};
use crate::sys::netns::Dev;
use crate::sys::{cpu, host, irq, sock};
use anyhow::{Context, Result, bail};
use socket2::Socket;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
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
}

pub fn server(spec: &ServerSpec) -> Result<()> {
    let layout = resolve_layout(spec.cores, None, &cpu::online_cpus()?)?;
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
    let listen = SocketAddr::new(spec.listen, spec.control_port);
    let control = sock::listen(&listen, None)?;
    log(spec.quiet, &format!("listening on {listen} (protocol v{})", proto::VERSION));
    let serving = Serving { spec, layout, dev, plan, held };
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

/// Pin receive processing for this run: the NIC's IRQs to the net core (RPS off),
/// or RPS for a virtual device; then the flow-steering rule when asked.
fn steer(s: &Serving, journal: &mut Journal, rx_sock: &Socket, peer: SocketAddr) -> Result<Option<String>> {
    let net = s.layout.net_cpu;
    let mut steering = match &s.dev {
        Some(l) => {
            let queues = link::rx_queue_count(None, &l.name)?;
            let last = queues.saturating_sub(1);
            if irq::nic_irqs(&l.name, l.ifindex)?.irqs.is_empty() {
                // A virtual device (veth, a bridge port): no IRQ to pin, RPS does it.
                irq::steer_rps(journal, None, &l.name, queues, net)?;
                Some(format!("RPS: {} rx-0..{last} -> core {net} (no IRQs: virtual device)", l.name))
            } else {
                let irqs = irq::pin_nic(journal, &l.name, l.ifindex, queues, net)?;
                Some(format!("IRQs {:?} of {} -> core {net} (from {}), RPS off", irqs.irqs, l.name, irqs.source))
            }
        }
        None => None,
    };
    if let Some((d, q)) = &s.plan.steer {
        let local = rx_sock.local_addr()?.as_socket().context("data socket has no IP address")?;
        let rule = settings::steer(journal, d, *q, local, peer)?;
        steering = Some(steering.map(|x| format!("{x}; {rule}")).unwrap_or(rule));
    }
    Ok(steering)
}

fn serve_one(s: &Serving, conn: &mut TcpStream, peer: SocketAddr) -> Result<()> {
    let spec = s.spec;
    let flow = read_hello(conn, spec.max_duration)?;
    let backing = s.plan.backing();
    let mut rx_path = rx::build(&rx::Params { mode: flow.mode, read_size: flow.read_size as usize, backing })?;
    // Host changes: only what this server's own command line asked for.
    let mut journal = Journal::for_run();
    let rx_dev = spec.dev.as_deref().map(|d| Dev::new(None, d));
    let rx_queue = s.plan.steer.as_ref().map(|q| q.1);
    rx_path.prepare(&mut Prepare { journal: &mut journal, rx_dev: rx_dev.as_ref(), rx_queue })?;
    let data = sock::listen(&SocketAddr::new(spec.listen, spec.port), flow.mss)?;
    let data_port = data.local_addr()?.as_socket().map(|a| a.port()).unwrap_or(0);
    proto::write_msg(conn, &Msg::Ready { version: proto::VERSION, data_port, layout: s.layout.clone() })?;
    let (rx_sock, data_peer) =
        sock::accept_timeout(&data, HANDSHAKE_TIMEOUT).context("waiting for the client's data connection")?;
    if data_peer.ip() != peer.ip() {
        bail!("data connection came from {data_peer}, not from the control peer {peer}");
    }
    drop(data);
    let steering = steer(s, &mut journal, &rx_sock, data_peer)?;
    let devs: Vec<(Option<&str>, &str)> = s.dev.iter().map(|l| (None, l.name.as_str())).collect();
    let facts = host::collect(None, &devs);

    let flags = Flags::default();
    let mut stream = conn.try_clone()?;
    stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let driven = super::drive(&flow, &s.layout, &flags, Some((&rx_sock, rx_path)), None, true, |smp| {
        if proto::write_msg(&mut stream, &Msg::Sample { sample: smp.clone() }).is_err() {
            // The client is gone: stop receiving.
            flags.raise_abort();
        }
    })?;
    let facts = SideFacts {
        role: "receiver",
        host: facts,
        layout: s.layout.clone(),
        net_steering: steering,
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

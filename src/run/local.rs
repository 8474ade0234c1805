//! `zcbench run`: both ends of the flow on this host.

use super::settings::{self, Plan, Role};
use super::side::{self, SideFacts};
use super::testbed::Testbed;
use super::{Sampling, instruments};
use crate::config::{FlowConfig, RunSpec, resolve_layout};
use crate::datapath::Prepare;
use crate::domain::{TestbedKind as Kind, name_of};
use crate::messages::{note, warn};
use crate::results::schema::{ConnQueue, RunResult};
use crate::rx::Queue;
use crate::sample::Flags;
use crate::sys::journal::Journal;
use crate::sys::netns::Dev;
use crate::sys::{cpu, host, netns, sock};
use crate::{rx, tx};
use anyhow::{Context, Result};
use socket2::Socket;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::Duration;

const HUGE: crate::sys::mem::Backing = crate::sys::mem::Backing::HugePages;

/// The testbed MTU: as asked, or (a mode that sets its MSS, over our own veth
/// pair) sized so each segment carries exactly that MSS.
fn testbed_mtu(spec: &RunSpec, flow: &mut FlowConfig) -> Option<u32> {
    let sets_mss = rx::path(flow.mode).is_some_and(|p| p.mss.is_some());
    if spec.mtu.is_some() || !sets_mss || spec.testbed != Kind::Netns {
        return spec.mtu;
    }
    let mss = flow.mss?;
    let m = crate::config::mtu_for_mss(mss, flow.ipv6);
    flow.notes.push(format!("{}: testbed veth MTU set to {m} to fit a {mss}-byte MSS", name_of(&flow.mode)));
    Some(m)
}

/// The flow's two sockets before the connection: the listener and the sender's
/// socket, bound, so both ends of the 5-tuple are known.
struct Ends {
    listener: Socket,
    tx_sock: Socket,
    rx_addr: SocketAddr,
    tx_addr: SocketAddr,
}

fn ends(tb: &Testbed, flow: &FlowConfig, port: u16) -> Result<Ends> {
    let addr = SocketAddr::new(tb.rx_addr, port);
    let listener = netns::with_netns(tb.rx_ns.as_deref(), || sock::listen(&addr, flow.mss))?;
    let rx_addr = listener.local_addr()?.as_socket().context("listener has no IP address")?;
    let from = SocketAddr::new(tb.tx_addr, 0);
    let tx_sock = netns::with_netns(tb.tx_ns.as_deref(), || sock::bound(&from, flow.mss))?;
    let tx_addr = tx_sock.local_addr()?.as_socket().context("sending socket has no IP address")?;
    Ok(Ends { listener, tx_sock, rx_addr, tx_addr })
}

/// Connect the ends: (receiving socket, sending socket).
fn connect(e: Ends) -> Result<(Socket, Socket)> {
    sock::connect_to(&e.tx_sock, &e.rx_addr, Duration::from_secs(5))?;
    let (rx_sock, _) = sock::accept_timeout(&e.listener, Duration::from_secs(5))?;
    Ok((rx_sock, e.tx_sock))
}

/// The testbed, with the host and NIC settings checked and applied, and the rx
/// queue a zero-copy receive mode binds (None for the others).
fn set_up(
    spec: &RunSpec,
    flow: &mut FlowConfig,
    mtu: Option<u32>,
    journal: &mut Journal,
) -> Result<(Testbed, Plan, Option<u32>)> {
    let tb = match (spec.testbed, &spec.ports) {
        (Kind::Netns, _) => Testbed::netns(flow.ipv6, journal)?,
        (Kind::Lo, _) => Testbed::lo(flow.ipv6)?,
        (Kind::Ports, Some((rx, tx))) => Testbed::ports(rx, tx, flow.ipv6, journal)?,
        (Kind::Ports, None) => anyhow::bail!("--testbed ports without its ports"),
    };
    let rx_dev = Dev::new(tb.rx_ns.as_deref(), &tb.rx_dev);
    let tx_dev = Dev::new(tb.tx_ns.as_deref(), &tb.tx_dev);
    super::stop_if_interrupted()?;
    // Checked against the devices before the first setting changes; --hugepages
    // reserves what the data buffers need.
    let huge = rx::huge_pages(&flow.rx_params(HUGE)) + tx::huge_pages(&flow.tx_params(HUGE));
    let wanted = settings::size_hugepages(&spec.settings, huge);
    let mut plan = settings::plan(&wanted, mtu, Some(&rx_dev), Some(&tx_dev), Role::Local)?;
    // A mode that binds a queue only where there is a NIC (zcrx) runs without a
    // device over lo or veth (a copy path): no NIC to prepare.
    let nic = match rx::path(flow.mode).map_or(Queue::None, |p| p.queue) {
        Queue::None => false,
        Queue::Bound => true,
        Queue::BoundOnNic => spec.testbed == Kind::Ports,
    };
    let queue = match nic {
        true => Some(settings::zero_copy_rx(&mut plan, &spec.settings, &rx_dev, &name_of(&flow.mode))?),
        false => None,
    };
    for n in &plan.notes {
        note(n);
    }
    settings::apply(&plan, journal)?;
    if plan.hugepages.is_some() {
        flow.notes.push("data buffers backed by 2 MiB huge pages (--hugepages)".into());
    }
    Ok((tb, plan, queue))
}

/// On NIC ports, the rx queue the flow arrived on by the kernel's account
/// (none on the other testbeds: they have no queues to tell apart).
fn data_queue(tb: &Testbed, rx_dev: &Dev, rx_sock: &Socket) -> Vec<ConnQueue> {
    match tb.kind {
        Kind::Ports => vec![side::conn_queue("data", rx_dev, rx_sock.as_fd())],
        _ => Vec::new(),
    }
}

pub fn run(spec: &RunSpec, progress: super::Progress) -> Result<RunResult> {
    let mut flow = spec.flow.clone();
    let mtu = testbed_mtu(spec, &mut flow);
    for n in &flow.notes {
        note(n);
    }
    let online = cpu::online_cpus()?;
    let layout = resolve_layout(spec.cores, Some(spec.sender_cpu), &online)?;
    for w in &layout.warnings {
        warn(w);
    }
    // Power sources give a first reading before anything on the host changes.
    let mut power = instruments::power_set(&spec.measure, &instruments::spare_cores(&layout, &online))?;
    for gone in netns::sweep_stale() {
        warn(&format!("removed namespace {gone} left behind by a process that no longer runs"));
    }
    // Every exit path below ends with the journal undoing every change, newest
    // first: settings inside the testbed's namespaces, ports sent home, the
    // namespaces deleted (a veth pair goes with them).
    let mut journal = Journal::for_run();
    let (tb, plan, queue) = set_up(spec, &mut flow, mtu, &mut journal)?;
    super::stop_if_interrupted()?;
    instruments::measure_idle(&mut power, &spec.measure, flow.interval())?;
    let backing = plan.backing();
    let mut rx_path = rx::build(&flow.rx_params(backing))?;
    let mut tx_path = tx::build(&flow.tx_params(backing))?;
    // Steering and the paths' host resources are in place before the first byte.
    let e = ends(&tb, &flow, spec.port)?;
    let mut steering = Vec::new();
    if let Some((dev, q)) = &plan.steer {
        steering.push(settings::steer(&mut journal, dev, *q, e.rx_addr, Some(e.tx_addr))?);
    }
    let rx_dev = Dev::new(tb.rx_ns.as_deref(), &tb.rx_dev);
    let tx_dev = Dev::new(tb.tx_ns.as_deref(), &tb.tx_dev);
    let rx_queue = queue.or(plan.steer.as_ref().map(|s| s.1));
    let mut p = Prepare { rx_dev: Some(&rx_dev), rx_queue, tx_dev: Some(&tx_dev), warnings: Vec::new() };
    rx_path.prepare(&mut p)?;
    tx_path.prepare(&mut p)?;
    p.warnings.iter().for_each(|w| warn(w));
    let (addr, peer) = (e.rx_addr, e.tx_addr);
    let (rx_sock, tx_sock) = connect(e)?;
    steering.insert(0, tb.steer(&mut journal, layout.net_cpu)?);
    let devs = [(tb.rx_ns.as_deref(), tb.rx_dev.as_str()), (tb.tx_ns.as_deref(), tb.tx_dev.as_str())];
    let facts = host::collect(tb.rx_ns.as_deref(), &devs[..if tb.rx_dev == tb.tx_dev { 1 } else { 2 }]);

    let netdev = instruments::netdev_target(tb.rx_ns.as_deref(), &tb.rx_dev);
    let sampling =
        Sampling { measure: instruments::measure(&spec.measure, power, &layout, netdev), end_on_rx_done: false };
    let flags = Flags::default();
    let shown = side::layout(&layout);
    let driven =
        super::drive(&flow, &layout, &flags, Some((&rx_sock, rx_path)), Some((&tx_sock, tx_path)), sampling, |s| {
            progress(&super::local_interval(s, &shown))
        })?;
    let (interrupted, others) = (driven.interrupted, driven.others.clone());
    let facts = SideFacts {
        role: "receiver+sender",
        host: facts,
        layout,
        net_steering: Some(steering.join("; ")),
        changes: journal.records().to_vec(),
        local_addr: Some(addr.to_string()),
        peer_addr: Some(peer.to_string()),
        mss: sock::mss(&rx_sock),
    };
    let mut side = side::side(facts, driven, flow.interval_s);
    side.connections = data_queue(&tb, &rx_dev, &rx_sock);
    instruments::attach_log(&mut side, &spec.measure);
    let topology = tb.name();
    // The journal tears the testbed down with everything else (see testbed.rs).
    let (_, errors) = journal.restore();
    if let Some(e) = errors.into_iter().next() {
        return Err(e.context("the run finished but a host setting could not be restored"));
    }
    let mut r = RunResult::new(topology, side::flow(&flow, &spec.measure), mtu, side, None);
    r.interrupted = interrupted;
    r.other_zcbench = others;
    Ok(r)
}

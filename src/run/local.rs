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

/// The flows' sockets before the connections: one listener and each flow's
/// sending socket, bound, so both ends of every 5-tuple are known.
struct Ends {
    listener: Socket,
    tx_socks: Vec<Socket>,
    rx_addr: SocketAddr,
    tx_addrs: Vec<SocketAddr>,
}

fn ends(tb: &Testbed, flow: &FlowConfig, port: u16) -> Result<Ends> {
    let addr = SocketAddr::new(tb.rx_addr, port);
    let backlog = (flow.flows as i32).max(16);
    let listener = netns::with_netns(tb.rx_ns.as_deref(), || sock::listen_backlog(&addr, flow.mss, backlog))?;
    let rx_addr = listener.local_addr()?.as_socket().context("listener has no IP address")?;
    let from = SocketAddr::new(tb.tx_addr, 0);
    let mut tx_socks = Vec::new();
    let mut tx_addrs = Vec::new();
    for _ in 0..flow.flows {
        let s = netns::with_netns(tb.tx_ns.as_deref(), || sock::bound(&from, flow.mss))?;
        tx_addrs.push(s.local_addr()?.as_socket().context("sending socket has no IP address")?);
        tx_socks.push(s);
    }
    Ok(Ends { listener, tx_socks, rx_addr, tx_addrs })
}

/// Connect each flow in turn: (receiving socket, sending socket) per flow.
/// `before(k)` runs before flow k connects (the testbed's queue steering).
fn connect(e: Ends, mut before: impl FnMut(usize) -> Result<()>) -> Result<Vec<(Socket, Socket)>> {
    let mut out = Vec::new();
    for (tx_sock, from) in e.tx_socks.into_iter().zip(e.tx_addrs) {
        before(out.len())?;
        sock::connect_to(&tx_sock, &e.rx_addr, Duration::from_secs(5))?;
        let (rx_sock, peer) = sock::accept_timeout(&e.listener, Duration::from_secs(5))?;
        if peer != from {
            anyhow::bail!("accepted a connection from {peer} while flow {} came from {from}", out.len() + 1);
        }
        out.push((rx_sock, tx_sock));
    }
    Ok(out)
}

/// Several flows need a queue (and a binding) per flow where a mode binds a
/// NIC queue, and a queue per flow where one is named. `per_flow_rules`: this
/// side knows each flow's 5-tuple before its first byte (the local testbed),
/// so it can steer flows one by one; a server learns the client's ports only
/// at accept, when the first segments have already landed on some queue.
pub(super) fn check_flows_on_nic(
    flow: &FlowConfig,
    nic: bool,
    per_flow_rules: bool,
    steer_queue: Option<u32>,
) -> Result<()> {
    if flow.flows < 2 {
        return Ok(());
    }
    if let Some(q) = steer_queue {
        return Err(crate::error::usage(format!(
            "--steer-queue {q} names one rx queue for one flow; --flows {} takes the last {} queues, one per flow: \
             drop --steer-queue",
            flow.flows, flow.flows
        )));
    }
    if nic && !per_flow_rules {
        return Err(crate::error::unsupported(format!(
            "--mode {} with --flows {} across two hosts: {}; the server learns the client's ports only when it \
             accepts, after the first segments have landed on some queue, so it cannot steer each flow to its own \
             bound queue yet: run --flows 1 across hosts, or several flows on the ports testbed (zcbench --testbed \
             ports)",
            name_of(&flow.mode),
            flow.flows,
            rx::path(flow.mode).map_or("a queue per flow", |p| p.flows_on_nic)
        )));
    }
    Ok(())
}

/// The testbed, with the host and NIC settings checked and applied, and the rx
/// queue each flow of a zero-copy receive mode binds (none for the others).
fn set_up(
    spec: &RunSpec,
    flow: &mut FlowConfig,
    mtu: Option<u32>,
    journal: &mut Journal,
) -> Result<(Testbed, Plan, Vec<u32>)> {
    let tb = match (spec.testbed, &spec.ports) {
        (Kind::Netns, _) => Testbed::netns(flow.ipv6, flow.flows as usize, journal)?,
        (Kind::Lo, _) => Testbed::lo(flow.ipv6)?,
        (Kind::Ports, Some((rx, tx))) => Testbed::ports(rx, tx, flow.ipv6, journal)?,
        (Kind::Ports, None) => anyhow::bail!("--testbed ports without its ports"),
    };
    let rx_dev = Dev::new(tb.rx_ns.as_deref(), &tb.rx_dev);
    let tx_dev = Dev::new(tb.tx_ns.as_deref(), &tb.tx_dev);
    super::stop_if_interrupted()?;
    // Checked against the devices before the first setting changes; --hugepages
    // reserves what the data buffers need.
    let per_flow = rx::huge_pages(&flow.rx_params(HUGE)) + tx::huge_pages(&flow.tx_params(HUGE));
    let huge = per_flow * flow.flows;
    let wanted = settings::size_hugepages(&spec.settings, huge);
    let mut plan = settings::plan(&wanted, mtu, Some(&rx_dev), Some(&tx_dev), Role::Local)?;
    // A mode that binds a queue only where there is a NIC (zcrx) runs without a
    // device over lo or veth (a copy path): no NIC to prepare.
    let nic = match rx::path(flow.mode).map_or(Queue::None, |p| p.queue) {
        Queue::None => false,
        Queue::Bound => true,
        Queue::BoundOnNic => spec.testbed == Kind::Ports,
    };
    check_flows_on_nic(flow, nic, true, spec.settings.steer_queue)?;
    let queues = match nic {
        true => settings::zero_copy_rx(&mut plan, &spec.settings, &rx_dev, &name_of(&flow.mode), flow.flows)?,
        false => Vec::new(),
    };
    for n in &plan.notes {
        note(n);
    }
    settings::apply(&plan, journal)?;
    if plan.hugepages.is_some() {
        flow.notes.push("data buffers backed by 2 MiB huge pages (--hugepages)".into());
    }
    Ok((tb, plan, queues))
}

/// The layout of every flow, with its warnings and notes said.
fn layout(spec: &RunSpec, online: &[usize]) -> Result<crate::config::Layout> {
    let mut layout = resolve_layout(spec.cores, Some(spec.sender_cpu), online)?;
    let shared = crate::config::spread_flows(&mut layout, spec.flow.flows as usize, &spec.flow_cores, online)?;
    for w in &layout.warnings {
        warn(w);
    }
    for n in shared {
        note(&n);
    }
    Ok(layout)
}

/// One flow's receive and transmit path.
type Paths = (Box<dyn rx::RxPath>, Box<dyn tx::TxPath>);

/// Each flow's receive and transmit path, built before the flow starts.
fn paths(flow: &FlowConfig, backing: crate::sys::mem::Backing) -> Result<Vec<Paths>> {
    (0..flow.flows).map(|_| Ok((rx::build(&flow.rx_params(backing))?, tx::build(&flow.tx_params(backing))?))).collect()
}

/// The host and its testbed devices.
fn host_facts(tb: &Testbed) -> host::HostFacts {
    let devs = [(tb.rx_ns.as_deref(), tb.rx_dev.as_str()), (tb.tx_ns.as_deref(), tb.tx_dev.as_str())];
    host::collect(tb.rx_ns.as_deref(), &devs[..if tb.rx_dev == tb.tx_dev { 1 } else { 2 }])
}

/// Each flow's ends, rx queue and the core its packets were processed on.
fn flow_facts(
    socks: &[(Socket, Socket)],
    addr: SocketAddr,
    peers: &[SocketAddr],
    queues: Vec<Option<u32>>,
) -> Vec<side::FlowFacts> {
    socks
        .iter()
        .zip(peers)
        .zip(queues)
        .map(|(((rx_sock, _), peer), rx_queue)| side::FlowFacts {
            local_addr: Some(addr.to_string()),
            peer_addr: Some(peer.to_string()),
            rx_queue,
            incoming_cpu: sock::incoming_cpu(rx_sock),
        })
        .collect()
}

/// On NIC ports, the rx queue each flow arrived on by the kernel's account
/// (none on the other testbeds: they have no queues to tell apart).
fn data_queues(tb: &Testbed, rx_dev: &Dev, socks: &[(Socket, Socket)]) -> Vec<ConnQueue> {
    if !matches!(tb.kind, Kind::Ports) {
        return Vec::new();
    }
    let fds: Vec<_> = socks.iter().map(|(rx_sock, _)| rx_sock.as_fd()).collect();
    side::flow_queues(rx_dev, &fds)
}

/// Each flow steered to its rx queue (the one its mode binds, or the one it
/// is steered to: journalled rules, said in `steering`), then each flow's
/// paths prepared on it. Returns each flow's queue (none where not steered).
fn steer_and_prepare(
    tb: &Testbed,
    plan: &Plan,
    bound: Vec<u32>,
    e: &Ends,
    paths: &mut [Paths],
    journal: &mut Journal,
    steering: &mut Vec<String>,
) -> Result<Vec<u32>> {
    let steered_to = match &plan.steer {
        Some((dev, qs)) => {
            let each: Vec<_> = qs.iter().zip(&e.tx_addrs).map(|(q, from)| (*q, e.rx_addr, Some(*from))).collect();
            steering.push(settings::steer_flows(journal, dev, &each)?);
            qs.clone()
        }
        None => bound,
    };
    let rx_dev = Dev::new(tb.rx_ns.as_deref(), &tb.rx_dev);
    let tx_dev = Dev::new(tb.tx_ns.as_deref(), &tb.tx_dev);
    let mut p = Prepare { rx_dev: Some(&rx_dev), rx_queue: None, tx_dev: Some(&tx_dev), warnings: Vec::new() };
    for (k, (rx_path, tx_path)) in paths.iter_mut().enumerate() {
        p.rx_queue = steered_to.get(k).copied();
        rx_path.prepare(&mut p)?;
        tx_path.prepare(&mut p)?;
    }
    super::say_warnings(p.warnings);
    Ok(steered_to)
}

pub fn run(spec: &RunSpec, progress: super::Progress) -> Result<RunResult> {
    let mut flow = spec.flow.clone();
    let mtu = testbed_mtu(spec, &mut flow);
    for n in &flow.notes {
        note(n);
    }
    let online = cpu::online_cpus()?;
    let layout = layout(spec, &online)?;
    // Power sources give a first reading before anything on the host changes.
    let mut power = instruments::power_set(&spec.measure, &instruments::spare_cores(&layout, &online))?;
    for gone in netns::sweep_stale() {
        warn(&format!("removed namespace {gone} left behind by a process that no longer runs"));
    }
    // Every exit path below ends with the journal undoing every change, newest
    // first: settings inside the testbed's namespaces, ports sent home, the
    // namespaces deleted (a veth pair goes with them).
    let mut journal = Journal::for_run();
    let (tb, plan, bound) = set_up(spec, &mut flow, mtu, &mut journal)?;
    super::stop_if_interrupted()?;
    instruments::measure_idle(&mut power, &spec.measure, flow.interval())?;
    let mut paths = paths(&flow, plan.backing())?;
    // Steering and the paths' host resources are in place before the first byte.
    let e = ends(&tb, &flow, spec.port)?;
    let mut steering = Vec::new();
    let steered_to = steer_and_prepare(&tb, &plan, bound, &e, &mut paths, &mut journal, &mut steering)?;
    let rx_dev = Dev::new(tb.rx_ns.as_deref(), &tb.rx_dev);
    let (addr, peers) = (e.rx_addr, e.tx_addrs.clone());
    let socks = connect(e, |k| tb.before_connect(&mut journal, k, &online))?;
    let flow_cores: Vec<_> = (0..socks.len()).map(|k| layout.flow(k)).collect();
    let (steered, mut queues) = tb.steer_flows(&mut journal, &flow_cores)?;
    steering.insert(0, steered);
    for (q, s) in queues.iter_mut().zip(&steered_to) {
        q.get_or_insert(*s);
    }
    let facts = host_facts(&tb);

    let netdev = instruments::netdev_target(tb.rx_ns.as_deref(), &tb.rx_dev);
    let sampling =
        Sampling { measure: instruments::measure(&spec.measure, power, &layout, netdev), end_on_rx_done: false };
    let flags = Flags::default();
    let shown = side::layout(&layout);
    let ends = socks
        .iter()
        .zip(paths)
        .map(|((rx, tx), (rx_path, tx_path))| super::FlowEnds { rx: Some((rx, rx_path)), tx: Some((tx, tx_path)) })
        .collect();
    let driven = super::drive(&flow, &layout, &flags, ends, sampling, |s| progress(&super::local_interval(s, &shown)))?;
    let (interrupted, others) = (driven.interrupted, driven.others.clone());
    let flows = flow_facts(&socks, addr, &peers, queues);
    let facts = SideFacts {
        role: "receiver+sender",
        host: facts,
        layout,
        net_steering: Some(steering.join("; ")),
        changes: journal.records().to_vec(),
        local_addr: Some(addr.to_string()),
        peer_addr: Some(peers[0].to_string()),
        mss: sock::mss(&socks[0].0),
        flows,
    };
    let mut side = side::side(facts, driven, flow.interval_s);
    side.connections = data_queues(&tb, &rx_dev, &socks);
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

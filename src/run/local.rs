//! `zcbench run`: both ends of the flow on this host.

use super::settings::{self, Plan, Role};
use super::side::{self, SideFacts};
use super::testbed::Testbed;
use crate::config::{FlowConfig, Layout, RunSpec, resolve_layout};
use crate::datapath::Prepare;
use crate::domain::{RxMode, Testbed as Kind};
use crate::results::schema::RunResult;
use crate::sample::Flags;
use crate::sys::journal::Journal;
use crate::sys::netns::Dev;
use crate::sys::{cpu, host, netns, sock};
use crate::{rx, tx};
use anyhow::{Context, Result};
use socket2::Socket;
use std::net::SocketAddr;
use std::time::Duration;

const HUGE: crate::sys::mem::Backing = crate::sys::mem::Backing::HugePages;

pub fn warn(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("zcbench: warning: {msg}");
    }
}

pub fn note(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("zcbench: {msg}");
    }
}

/// The testbed MTU: as asked, or (mmap over our own veth pair) sized so each
/// segment carries exactly one page.
fn testbed_mtu(spec: &RunSpec, flow: &mut FlowConfig) -> Option<u32> {
    if spec.mtu.is_some() || flow.mode != RxMode::Mmap || spec.testbed != Kind::Netns {
        return spec.mtu;
    }
    let mss = flow.mss?;
    let m = crate::config::mtu_for_mss(mss, flow.ipv6);
    flow.notes.push(format!("mmap: testbed veth MTU set to {m} to fit a {mss}-byte MSS"));
    Some(m)
}

/// The connected pair: (receiving socket, sending socket, receiver address, sender address).
fn connect(tb: &Testbed, flow: &FlowConfig, port: u16) -> Result<(Socket, Socket, SocketAddr, SocketAddr)> {
    let addr = SocketAddr::new(tb.rx_addr, port);
    let listener = netns::with_netns(tb.rx_ns.as_deref(), || sock::listen(&addr, flow.mss))?;
    let addr = listener.local_addr()?.as_socket().context("listener has no IP address")?;
    let tx_sock = netns::with_netns(tb.tx_ns.as_deref(), || sock::connect(&addr, flow.mss, Duration::from_secs(5)))?;
    let (rx_sock, peer) = sock::accept_timeout(&listener, Duration::from_secs(5))?;
    Ok((rx_sock, tx_sock, addr, peer))
}

/// Net core steering (RPS on the testbed) and, when asked, the flow-steering rule.
fn steer(tb: &Testbed, plan: &Plan, journal: &mut Journal, layout: &Layout, rx_sock: &Socket) -> Result<String> {
    let mut steering = tb.steer(journal, layout.net_cpu)?;
    if let Some((dev, q)) = &plan.steer {
        let local = rx_sock.local_addr()?.as_socket().context("receiving socket has no IP address")?;
        let peer = rx_sock.peer_addr()?.as_socket().context("receiving socket has no peer address")?;
        steering = format!("{steering}; {}", settings::steer(journal, dev, *q, local, peer)?);
    }
    Ok(steering)
}

pub fn run(spec: &RunSpec, progress: super::Progress) -> Result<RunResult> {
    let mut flow = spec.flow.clone();
    let mtu = testbed_mtu(spec, &mut flow);
    for n in &flow.notes {
        note(spec.quiet, n);
    }
    let layout = resolve_layout(spec.cores, Some(spec.sender_cpu), &cpu::online_cpus()?)?;
    for w in &layout.warnings {
        warn(spec.quiet, w);
    }
    for gone in netns::sweep_stale() {
        warn(spec.quiet, &format!("removed namespace {gone} left behind by a process that no longer runs"));
    }
    // Every exit path below drops the testbed (namespaces deleted) and then the
    // journal (every change undone, newest first; settings inside the deleted
    // namespaces went with them).
    let mut journal = Journal::for_run();
    let tb = match spec.testbed {
        Kind::Netns => Testbed::netns(flow.ipv6, &mut journal)?,
        Kind::Lo => Testbed::lo(flow.ipv6)?,
    };
    super::stop_if_interrupted()?;
    let rx_dev = Dev::new(tb.rx_ns.as_deref(), &tb.rx_dev);
    let tx_dev = Dev::new(tb.tx_ns.as_deref(), &tb.tx_dev);
    // Checked against the devices before the first setting changes.
    let huge = rx::huge_pages(&rx::Params { mode: flow.mode, read_size: flow.read_size as usize, backing: HUGE })
        + tx::huge_pages(&tx::Params { mode: flow.tx_mode, msg_size: flow.msg_size as usize, backing: HUGE });
    let wanted = settings::size_hugepages(&spec.settings, huge);
    let plan = settings::plan(&wanted, mtu, Some(&rx_dev), Some(&tx_dev), Role::Local)?;
    for n in &plan.notes {
        note(spec.quiet, n);
    }
    settings::apply(&plan, &mut journal)?;
    super::stop_if_interrupted()?;
    if plan.hugepages.is_some() {
        flow.notes.push("data buffers backed by 2 MiB huge pages (--hugepages)".into());
    }
    let backing = plan.backing();
    let mut rx_path = rx::build(&rx::Params { mode: flow.mode, read_size: flow.read_size as usize, backing })?;
    let mut tx_path = tx::build(&tx::Params { mode: flow.tx_mode, msg_size: flow.msg_size as usize, backing })?;
    {
        let rx_queue = plan.steer.as_ref().map(|s| s.1);
        let mut p = Prepare { journal: &mut journal, rx_dev: Some(&rx_dev), rx_queue };
        rx_path.prepare(&mut p)?;
        tx_path.prepare(&mut Prepare { rx_dev: None, rx_queue: None, ..p })?;
    }
    let (rx_sock, tx_sock, addr, peer) = connect(&tb, &flow, spec.port)?;
    let steering = steer(&tb, &plan, &mut journal, &layout, &rx_sock)?;
    let devs = [(tb.rx_ns.as_deref(), tb.rx_dev.as_str()), (tb.tx_ns.as_deref(), tb.tx_dev.as_str())];
    let facts = host::collect(tb.rx_ns.as_deref(), &devs[..if tb.rx_dev == tb.tx_dev { 1 } else { 2 }]);

    let flags = Flags::default();
    let shown = side::layout(&layout);
    let driven =
        super::drive(&flow, &layout, &flags, Some((&rx_sock, rx_path)), Some((&tx_sock, tx_path)), false, |s| {
            progress(&super::local_interval(s, &shown))
        })?;
    let (interrupted, others) = (driven.interrupted, driven.others.clone());
    let facts = SideFacts {
        role: "receiver+sender",
        host: facts,
        layout,
        net_steering: Some(steering),
        changes: journal.records().to_vec(),
        local_addr: Some(addr.to_string()),
        peer_addr: Some(peer.to_string()),
        mss: sock::mss(&rx_sock),
    };
    let side = side::side(facts, driven, flow.interval_s);
    let topology = tb.name();
    drop(tb);
    let (_, errors) = journal.restore();
    if let Some(e) = errors.into_iter().next() {
        return Err(e.context("the run finished but a host setting could not be restored"));
    }
    let mut r = RunResult::new(topology, side::flow(&flow), mtu, side, None);
    r.interrupted = interrupted;
    r.other_zcbench = others;
    Ok(r)
}

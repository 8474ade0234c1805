//! `zcbench run`: both ends of the flow on this host.

use super::testbed::Testbed;
use crate::cli::{RunArgs, RxMode, Testbed as Kind};

use super::settings::{self, Dev, Role};
use crate::config::{self, Layout};
use crate::results::{RunResult, Side};
use crate::sample::Flags;
use crate::sys::journal::Journal;
use crate::sys::{cpu, host, netns, sock};
use crate::{rx, tx};
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::time::Duration;

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

pub fn run(args: &RunArgs) -> Result<RunResult> {
    // Everything the user typed is checked before the host is touched.
    let mut flow = config::flow_from_args(&args.flow)?;
    if let Some(m) = args.mtu {
        config::check_mtu(m, flow.ipv6)?;
    }
    let mut mtu = args.mtu;
    if flow.mode == RxMode::Mmap
        && args.testbed == Kind::Netns
        && mtu.is_none()
        && let Some(mss) = flow.mss
    {
        // The veth pair is ours: size its MTU so segments really carry a page.
        let m = config::mtu_for_mss(mss, flow.ipv6);
        flow.notes.push(format!("mmap: testbed veth MTU set to {m} to fit a {mss}-byte MSS"));
        mtu = Some(m);
    }
    for n in &flow.notes {
        note(args.output.quiet, n);
    }
    let online = cpu::online_cpus()?;
    let layout: Layout = config::resolve_layout(
        args.layout.cpus,
        args.layout.app_cpu,
        args.layout.net_cpu,
        Some(args.sender_cpu),
        &online,
    )?;
    for w in &layout.warnings {
        warn(args.output.quiet, w);
    }
    for gone in netns::sweep_stale() {
        warn(args.output.quiet, &format!("removed namespace {gone} left behind by a process that no longer runs"));
    }
    // Every exit path below drops the testbed (namespaces deleted) and then the
    // journal (every change undone, newest first; settings inside the deleted
    // namespaces went with them).
    let mut journal = Journal::for_run();
    let tb = match args.testbed {
        Kind::Netns => Testbed::netns(flow.ipv6, &mut journal)?,
        Kind::Lo => Testbed::lo(flow.ipv6)?,
    };
    let rx_dev = Dev::new(tb.rx_ns.as_deref(), &tb.rx_dev);
    let tx_dev = Dev::new(tb.tx_ns.as_deref(), &tb.tx_dev);
    // Checked against the devices before the first setting changes.
    let plan = settings::plan(&args.settings, mtu, Some(&rx_dev), Some(&tx_dev), Role::Local)?;
    for n in &plan.notes {
        note(args.output.quiet, n);
    }
    settings::apply(&plan, &mut journal)?;
    if crate::sys::mem::hugepages_in_use() {
        flow.notes.push("data buffers backed by 2 MiB huge pages (--hugepages)".into());
    }
    let rx_path = rx::make(flow.mode, flow.read_size as usize)?;
    let tx_path = tx::make(flow.tx_mode, flow.msg_size as usize)?;

    let addr = SocketAddr::new(tb.rx_addr, args.port);
    let listener = netns::with_netns(tb.rx_ns.as_deref(), || sock::listen(&addr, flow.mss))?;
    let addr = listener.local_addr()?.as_socket().context("listener has no IP address")?;
    let tx_sock = netns::with_netns(tb.tx_ns.as_deref(), || sock::connect(&addr, flow.mss, Duration::from_secs(5)))?;
    let (rx_sock, peer) = sock::accept_timeout(&listener, Duration::from_secs(5))?;
    drop(listener);

    let mut steering = tb.steer(&mut journal, layout.net_cpu)?;
    if let Some((dev, q)) = &plan.steer {
        let local = rx_sock.local_addr()?.as_socket().context("receiving socket has no IP address")?;
        steering = format!("{steering}; {}", settings::steer(&mut journal, dev, *q, local, peer)?);
    }
    let facts = host::collect(
        tb.rx_ns.as_deref(),
        &[(tb.rx_ns.as_deref(), tb.rx_dev.as_str()), (tb.tx_ns.as_deref(), tb.tx_dev.as_str())]
            [..if tb.rx_dev == tb.tx_dev { 1 } else { 2 }],
    );

    let flags = Flags::default();
    let driven =
        super::drive(&flow, &layout, &flags, Some((&rx_sock, rx_path)), Some((&tx_sock, tx_path)), false, |_| {})?;

    let mut side = Side::from_sampler("receiver+sender", facts, layout, driven.sampler, flow.interval_s);
    side.net_steering = Some(steering);
    side.changes = journal.records().to_vec();
    side.local_addr = Some(addr.to_string());
    side.peer_addr = Some(peer.to_string());
    side.mss = sock::mss(&rx_sock);
    side.rx = driven.rx.as_ref().map(|r| r.0.clone());
    side.rx_thread = driven.rx.map(|r| r.1);
    side.tx = driven.tx.as_ref().map(|t| t.0.clone());
    side.tx_thread = driven.tx.map(|t| t.1);

    let topology = tb.name();
    drop(tb);
    let (_, errors) = journal.restore();
    if let Some(e) = errors.into_iter().next() {
        return Err(e.context("the run finished but a host setting could not be restored"));
    }
    Ok(RunResult::new(topology, flow, mtu, side, None))
}

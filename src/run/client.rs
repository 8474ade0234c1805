//! `zcbench client`: the sender of a two-host run. It asks a server for a flow,
//! sends it, collects the server's samples as they come, and writes the one
//! result file with both sides.

use super::proto::{self, Msg, remote_error};
use super::server::HANDSHAKE_TIMEOUT;
use super::settings::{self, Role};
use super::side::{self, SideFacts};
use super::{Sampling, measure};
use crate::config::{ClientSpec, CoresWanted, FlowConfig, Layout, resolve_layout};
use crate::datapath::Prepare;
use crate::error::usage;
use crate::results::schema::{RunResult, Sample, Side};
use crate::sample::Flags;
use crate::sys::journal::Journal;
use crate::sys::netlink::link;
use crate::sys::netns::Dev;
use crate::sys::{cpu, host, sock};
use crate::tx;
use anyhow::{Context, Result, anyhow, bail};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

/// How long the client waits for the next sample before declaring the server gone.
pub fn sample_timeout(flow: &FlowConfig) -> Duration {
    (flow.interval() * 3).max(Duration::from_secs(5))
}

/// The server's control address, of the flow's IP family when it has one.
fn server_addr(spec: &ClientSpec) -> Result<SocketAddr> {
    let target = (spec.server.as_str(), spec.control_port);
    let all: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| usage(format!("--server {}: cannot resolve: {e}", spec.server)))?
        .collect();
    all.iter()
        .find(|a| a.is_ipv6() == spec.flow.ipv6)
        .or(all.first())
        .copied()
        .ok_or_else(|| usage(format!("--server {}: no address", spec.server)))
}

/// Hello → Ready: the data port and the server's layout.
fn handshake(conn: &mut TcpStream, flow: &FlowConfig) -> Result<(u16, Layout)> {
    conn.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    conn.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let hello = Msg::Hello { magic: proto::MAGIC.into(), version: proto::VERSION, flow: flow.clone() };
    proto::write_msg(conn, &hello)?;
    // read_msg refuses a server of another protocol version, saying so.
    match proto::read_msg(conn).context("waiting for the server's answer")? {
        Msg::Ready { data_port, layout, .. } => Ok((data_port, layout)),
        Msg::Error { message, exit } => Err(remote_error(message, exit)),
        other => bail!("server answered with a {} instead of ready", other.kind()),
    }
}

/// The server's samples until its Done (or its error, or its silence), on the
/// control connection's own thread; any failure aborts the local flow.
fn read_server(mut conn: TcpStream, flow_timeout: Duration, flags: &Flags) -> Result<(Vec<Sample>, Side)> {
    let mut samples = Vec::new();
    let r = loop {
        match proto::read_msg(&mut conn) {
            Ok(Msg::Sample { sample }) => {
                samples.push(sample);
                let _ = conn.set_read_timeout(Some(flow_timeout));
            }
            Ok(Msg::Done { side }) => break Ok((std::mem::take(&mut samples), *side)),
            Ok(Msg::Error { message, exit }) => break Err(remote_error(message, exit)),
            Ok(other) => break Err(anyhow!("server sent an unexpected {} mid-run", other.kind())),
            Err(e) => {
                break Err(e.context("the server stopped answering mid-run (server process gone or host unreachable?)"));
            }
        };
    };
    if r.is_err() {
        flags.raise_abort();
    }
    r
}

pub fn client(spec: &ClientSpec) -> Result<RunResult> {
    let flow = &spec.flow;
    // The client hosts only the sender: it takes the app-core default for it
    // (app_cpu/net_cpu of this side's layout then name the sender's core too).
    let cores = CoresWanted { cpus: 1, app_cpu: spec.sender_cpu, net_cpu: None };
    let online = cpu::online_cpus()?;
    let mut layout = resolve_layout(cores, None, &online)?;
    layout.sender_cpu = Some(layout.app_cpu);
    let mut power = measure::power_set(&spec.measure, &measure::spare_cores(&layout, &online))?;
    let tx_dev = spec.dev.as_deref().map(|d| Dev::new(None, d));
    let plan = settings::plan(&spec.settings, spec.mtu, None, tx_dev.as_ref(), Role::Client)?;
    for n in plan.notes.iter().filter(|_| !spec.quiet) {
        eprintln!("zcbench: {n}");
    }
    if let Some(d) = &spec.dev {
        link::get_link(d)?;
    }
    let target = server_addr(spec)?;
    let mut conn = TcpStream::connect_timeout(&target, HANDSHAKE_TIMEOUT).with_context(|| {
        format!("connecting to the zcbench server at {target} (is `zcbench server` running there?)")
    })?;
    let (data_port, server_layout) = handshake(&mut conn, flow)?;
    let mut journal = Journal::for_run();
    settings::apply(&plan, &mut journal)?;
    measure::measure_idle(&mut power, &spec.measure, flow.interval(), spec.quiet)?;
    let mut tx_path = tx::build(&flow.tx_params(plan.backing()))?;
    tx_path.prepare(&mut Prepare { rx_dev: None, rx_queue: None, tx_dev: tx_dev.as_ref() })?;
    let dev_facts = spec.dev.as_deref().map(|d| host::device_facts(None, d)).transpose()?;
    let data_addr = SocketAddr::new(target.ip(), data_port);
    let tx_sock = sock::connect(&data_addr, flow.mss, HANDSHAKE_TIMEOUT)?;

    // The server's samples arrive on their own thread; silence or a broken
    // connection aborts the flow within sample_timeout().
    conn.set_read_timeout(Some(sample_timeout(flow) + flow.warmup()))?;
    let netdev = spec.dev.as_deref().and_then(|d| measure::netdev_target(None, d));
    let sampling = Sampling { measure: measure::measure(&spec.measure, power, &layout, netdev), end_on_rx_done: false };
    let flags = Flags::default();
    let (tx_ch, rx_ch) = mpsc::channel();
    let reader = conn.try_clone()?;
    let driven = std::thread::scope(|sc| {
        let flags = &flags;
        sc.spawn(move || {
            let _ = tx_ch.send(read_server(reader, sample_timeout(flow), flags));
        });
        super::drive(flow, &layout, flags, None, Some((&tx_sock, tx_path)), sampling, |_| {})
    });
    let remote = rx_ch.recv().map_err(|_| anyhow!("the control reader ended without a word"))?;
    // A local failure is the root cause when there is one (the server then only
    // saw the flow end early); otherwise a dead server explains a failed send.
    let ((rx_samples, mut server_side), d) = match (remote, driven) {
        (Err(remote), Err(local)) if local.downcast_ref::<super::Interrupted>().is_none() => {
            return Err(local.context(format!("and the server side: {remote:#}")));
        }
        (Err(e), _) | (Ok(_), Err(e)) => return Err(e),
        (Ok(r), Ok(d)) => (r, d),
    };
    let facts = SideFacts {
        role: "sender",
        host: host::HostFacts { devices: dev_facts.into_iter().collect(), ..host::collect(None, &[]) },
        layout,
        net_steering: None,
        changes: journal.records().to_vec(),
        local_addr: tx_sock.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.to_string()),
        peer_addr: Some(data_addr.to_string()),
        mss: sock::mss(&tx_sock),
    };
    let mut sender = side::side(facts, d, flow.interval_s);
    measure::attach_log(&mut sender, &spec.measure, spec.quiet)?;
    server_side.samples = rx_samples;
    server_side.layout = side::layout(&server_layout);
    Ok(RunResult::new("two-host", side::flow(flow, &spec.measure), None, server_side, Some(sender)))
}

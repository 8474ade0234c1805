//! `zcbench client`: the sender of a two-host run. It asks a server for a flow,
//! sends it, collects the server's samples as they come, and writes the one
//! result file with both sides.

use super::proto::{self, Msg, remote_error};
use super::server::HANDSHAKE_TIMEOUT;
use super::settings::{self, Plan, Role};
use super::side::{self, SideFacts};
use super::{Sampling, instruments};
use crate::config::{ClientSpec, CoresWanted, FlowConfig, Layout, resolve_layout};
use crate::datapath::Prepare;
use crate::error::usage;
use crate::messages::{note, warn};
use crate::results::Interval;
use crate::results::schema::{self, RunResult, Sample, Side};
use crate::sample::Flags;
use crate::sys::journal::Journal;
use crate::sys::mem::Backing;
use crate::sys::netlink::link;
use crate::sys::netns::Dev;
use crate::sys::{cpu, host, sock};
use crate::tx;
use anyhow::{Context, Result, anyhow, bail};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

/// How long the client waits for the next sample before declaring the server gone.
pub fn sample_timeout(flow: &FlowConfig) -> Duration {
    (flow.interval() * 3).max(Duration::from_secs(5))
}

/// The server's control address, of the flow's IP family: `-6` with a server
/// that has no IPv6 address is a usage error, not a silent IPv4 run.
fn server_addr(spec: &ClientSpec) -> Result<SocketAddr> {
    let target = (spec.server.as_str(), spec.control_port);
    let all: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| usage(format!("--server {}: cannot resolve: {e}", spec.server)))?
        .collect();
    if spec.flow.ipv6 {
        return all.iter().find(|a| a.is_ipv6()).copied().ok_or_else(|| {
            usage(format!("-6 asks for IPv6, but --server {} has no IPv6 address (give an IPv6 one)", spec.server))
        });
    }
    all.first().copied().ok_or_else(|| usage(format!("--server {}: no address", spec.server)))
}

/// What the server answered: where to connect, how it is laid out, which boot.
struct Ready {
    data_port: u16,
    layout: Layout,
    boot_id: Option<String>,
}

/// Hello → Ready (or the server's error, e.g. "busy").
fn handshake(conn: &mut TcpStream, flow: &FlowConfig) -> Result<Ready> {
    conn.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let hello = Msg::Hello { magic: proto::MAGIC.into(), version: proto::VERSION, flow: flow.clone() };
    proto::write_msg(conn, &hello)?;
    // read_msg refuses a server of another protocol version, saying so.
    match proto::read_msg_within(conn, HANDSHAKE_TIMEOUT).context("waiting for the server's answer")? {
        Msg::Ready { data_port, layout, boot_id, .. } => Ok(Ready { data_port, layout, boot_id }),
        Msg::Error { message, exit } => Err(remote_error(message, exit)),
        other => bail!("server answered with a {} instead of ready", other.kind()),
    }
}

/// When the server runs on this very host (two namespaces, one kernel), keep
/// the sender off its app and net cores when a core is left; say so when not.
fn share_host(layout: &mut Layout, server: &Layout, chosen: bool, online: &[usize]) {
    let busy = [server.app_cpu, server.net_cpu];
    let mine = layout.app_cpu;
    if !busy.contains(&mine) {
        return;
    }
    match online.iter().rev().find(|c| !busy.contains(c)) {
        Some(&free) if !chosen => {
            layout.app_cpu = free;
            layout.net_cpu = free;
            layout.sender_cpu = Some(free);
            layout.sampler_cpu = layout.sampler_cpu.filter(|c| *c != free && !busy.contains(c));
        }
        _ => {
            layout.oversubscribed = true;
            layout.warnings.push(format!(
                "the server runs on this same host (same boot id) and its app/net cores are {} and {}: the sender on core {mine} shares a core with the receiver, so the receiver's CPU figures include the sender's",
                server.app_cpu, server.net_cpu
            ));
        }
    }
}

/// Each flow's sending core (`--sender-cpus`, or free cores one per flow while
/// there are any, then shared): this side's app and net cores name it too.
fn senders(layout: &mut Layout, n: usize, list: &[usize], online: &[usize]) -> Result<()> {
    // Flow 0 starts from the layout's cores as they are now: share_host may
    // have moved them off the server's, after any per-flow list was made.
    layout.flows.clear();
    let sender = layout.sender_cpu.take();
    let want = crate::config::PerFlowCores { app: list.to_vec(), ..Default::default() };
    let shared = crate::config::spread_flows(layout, n, &want, online);
    layout.sender_cpu = sender;
    for f in &mut layout.flows {
        f.sender_cpu = Some(f.app_cpu);
    }
    shared?;
    let mut cores: Vec<usize> = layout.flows.iter().filter_map(|f| f.sender_cpu).collect();
    cores.dedup();
    for c in cores {
        let ks: Vec<String> =
            (0..n).filter(|&k| layout.flow(k).sender_cpu == Some(c)).map(|k| (k + 1).to_string()).collect();
        if ks.len() > 1 {
            note(&format!("core {c} sends for {} flows: {}", ks.len(), ks.join(",")));
        }
    }
    Ok(())
}

/// The sending core's busy share and the retransmits so far, of the latest local sample.
type SenderNow = (Option<f64>, Option<u32>);

/// The server's samples until its Done (or its error, or its silence), on the
/// control connection's own thread; any failure aborts the local flow. Each
/// sample is shown with the sender's figures of the latest local sample.
fn read_server(
    mut conn: TcpStream,
    flow_timeout: Duration,
    flags: &Flags,
    shown: (&schema::Layout, &Mutex<SenderNow>),
    progress: super::Progress,
) -> Result<Remote> {
    let mut samples = Vec::new();
    let r = loop {
        match proto::read_msg(&mut conn) {
            Ok(Msg::Sample { sample }) => {
                let (sender_busy, retransmits) = shown.1.lock().map(|g| *g).unwrap_or_default();
                progress(&Interval { rx: &sample, rx_layout: shown.0, sender_busy, retransmits });
                samples.push(sample);
                let _ = conn.set_read_timeout(Some(flow_timeout));
            }
            Ok(Msg::Done { side, others }) => break Ok((std::mem::take(&mut samples), *side, others)),
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

/// The sender's settings, checked against its --dev (nothing changes yet).
fn sender_plan(spec: &ClientSpec) -> Result<Plan> {
    let flow = &spec.flow;
    let tx_dev = spec.dev.as_deref().map(|d| Dev::new(None, d));
    let huge = tx::huge_pages(&flow.tx_params(Backing::HugePages));
    let wanted = settings::size_hugepages(&spec.settings, huge);
    let plan = settings::plan(&wanted, spec.mtu, None, tx_dev.as_ref(), Role::Client)?;
    for n in &plan.notes {
        note(n);
    }
    if let Some(d) = &spec.dev {
        link::get_link(d)?;
    }
    Ok(plan)
}

type Remote = (Vec<Sample>, Side, Vec<String>);

/// A local failure is the root cause when there is one (the server then only
/// saw the flow end early); otherwise a dead server explains a failed send.
fn combine(remote: Result<Remote>, local: Result<super::Driven>) -> Result<(Remote, super::Driven)> {
    match (remote, local) {
        (Err(remote), Err(local)) if local.downcast_ref::<super::Interrupted>().is_none() => {
            Err(local.context(format!("and the server side: {remote:#}")))
        }
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        (Ok(r), Ok(d)) => Ok((r, d)),
    }
}

/// Each flow's transmit path, built and prepared before the flow starts.
fn tx_paths(flow: &FlowConfig, plan: &Plan, tx_dev: Option<&Dev>) -> Result<Vec<Box<dyn tx::TxPath>>> {
    let mut paths = (0..flow.flows).map(|_| tx::build(&flow.tx_params(plan.backing()))).collect::<Result<Vec<_>>>()?;
    let mut p = Prepare { rx_dev: None, rx_queue: None, tx_dev, warnings: Vec::new() };
    for path in &mut paths {
        path.prepare(&mut p)?;
    }
    super::say_warnings(p.warnings);
    Ok(paths)
}

/// What the sending host contributes to the result besides its samples.
fn sender_facts(
    host: host::HostFacts,
    layout: Layout,
    socks: &[socket2::Socket],
    to: SocketAddr,
    journal: &Journal,
) -> SideFacts {
    let local = |s: &socket2::Socket| s.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.to_string());
    let flows = socks
        .iter()
        .map(|s| side::FlowFacts { local_addr: local(s), peer_addr: Some(to.to_string()), ..Default::default() })
        .collect();
    SideFacts {
        role: "sender",
        host,
        layout,
        net_steering: None,
        changes: journal.records().to_vec(),
        local_addr: socks.first().and_then(local),
        peer_addr: Some(to.to_string()),
        mss: socks.first().and_then(sock::mss),
        flows,
    }
}

/// One data connection per flow, in order.
fn connect_flows(flow: &FlowConfig, to: &SocketAddr) -> Result<Vec<socket2::Socket>> {
    (0..flow.flows)
        .map(|k| {
            sock::connect(to, flow.mss, HANDSHAKE_TIMEOUT)
                .with_context(|| format!("data connection {} of {}", k + 1, flow.flows))
        })
        .collect()
}

pub fn client(spec: &ClientSpec, progress: super::Progress) -> Result<RunResult> {
    let mut flow = spec.flow.clone();
    // The client hosts only the sender: it takes the app-core default for it
    // (app_cpu/net_cpu of this side's layout then name the sender's core too).
    let cores = CoresWanted { cpus: 1, app_cpu: spec.sender_cpu, net_cpu: None };
    let online = cpu::online_cpus()?;
    let mut layout = resolve_layout(cores, None, &online)?;
    layout.sender_cpu = Some(layout.app_cpu);
    let mut power = instruments::power_set(&spec.measure, &instruments::spare_cores(&layout, &online))?;
    let plan = sender_plan(spec)?;
    let tx_dev = spec.dev.as_deref().map(|d| Dev::new(None, d));
    let target = server_addr(spec)?;
    // A name may resolve to IPv6 without -6: the flow records what it runs over.
    flow.ipv6 = target.is_ipv6();
    let mut conn = TcpStream::connect_timeout(&target, HANDSHAKE_TIMEOUT).with_context(|| {
        format!("connecting to the zcbench server at {target} (is `zcbench server` running there?)")
    })?;
    let ready = handshake(&mut conn, &flow)?;
    if ready.boot_id.is_some() && ready.boot_id == host::boot_id() {
        share_host(&mut layout, &ready.layout, spec.sender_cpu.is_some(), &online);
    }
    senders(&mut layout, flow.flows as usize, &spec.sender_cpus, &online)?;
    for w in &layout.warnings {
        warn(w);
    }
    let mut journal = Journal::for_run();
    settings::apply(&plan, &mut journal)?;
    instruments::measure_idle(&mut power, &spec.measure, flow.interval())?;
    let paths = tx_paths(&flow, &plan, tx_dev.as_ref())?;
    let dev_facts = spec.dev.as_deref().map(|d| host::device_facts(None, d)).transpose()?;
    let data_addr = SocketAddr::new(target.ip(), ready.data_port);
    let socks = connect_flows(&flow, &data_addr)?;

    // The server's samples arrive on their own thread; silence or a broken
    // connection aborts the flow within sample_timeout().
    conn.set_read_timeout(Some(sample_timeout(&flow) + flow.warmup()))?;
    let netdev = spec.dev.as_deref().and_then(|d| instruments::netdev_target(None, d));
    let sampling =
        Sampling { measure: instruments::measure(&spec.measure, power, &layout, netdev), end_on_rx_done: false };
    let flags = Flags::default();
    let (tx_ch, rx_ch) = mpsc::channel();
    let reader = conn.try_clone()?;
    let server_layout = side::layout(&ready.layout);
    let latest = Mutex::new((None, None));
    let driven = std::thread::scope(|sc| {
        let (flags, flow, latest, server_layout) = (&flags, &flow, &latest, &server_layout);
        sc.spawn(move || {
            let r = read_server(reader, sample_timeout(flow), flags, (server_layout, latest), progress);
            let _ = tx_ch.send(r);
        });
        let ends = socks.iter().zip(paths).map(|(sock, p)| super::FlowEnds { rx: None, tx: Some((sock, p)) }).collect();
        super::drive(flow, &layout, flags, ends, sampling, |s| {
            let busy = layout.sender_cpu.and_then(|c| s.cpu.iter().find(|u| u.cpu == c)).map(|u| u.busy);
            if let Ok(mut g) = latest.lock() {
                *g = (busy, s.retransmits());
            }
        })
    });
    let remote = rx_ch.recv().map_err(|_| anyhow!("the control reader ended without a word"))?;
    let ((rx_samples, mut server_side, server_others), d) = combine(remote, driven)?;
    let (interrupted, mut others) = (d.interrupted, d.others.clone());
    others.extend(server_others.into_iter().filter(|o| !d.others.contains(o)));
    let host = host::HostFacts { devices: dev_facts.into_iter().collect(), ..host::collect(None, &[]) };
    let facts = sender_facts(host, layout, &socks, data_addr, &journal);
    let mut sender = side::side(facts, d, flow.interval_s);
    instruments::attach_log(&mut sender, &spec.measure);
    server_side.samples = rx_samples;
    server_side.layout = server_layout;
    let mut r = RunResult::new("two-host", side::flow(&flow, &spec.measure), None, server_side, Some(sender));
    r.interrupted = interrupted;
    r.other_zcbench = others;
    Ok(r)
}

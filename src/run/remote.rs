//! Two-host mode. The server is the receiver: it serves one client at a time,
//! applies only what its own command line allows (its layout, its --dev pinning),
//! streams its samples over the control connection, and keeps serving after a
//! client misbehaves. The client is the sender and writes the one result file.

use super::proto::{self, Msg};
use super::settings::{self, Dev, Role};
use crate::cli::{ClientArgs, ServerArgs};
use crate::config::{self, FlowConfig, Layout};
use crate::error::{Classified, usage};
use crate::results::{RunResult, Side};
use crate::sample::Flags;
use crate::sys::irq;
use crate::sys::journal::Journal;
use crate::sys::{cpu, host, link, sock};
use crate::{rx, tx};
use anyhow::{Context, Result, anyhow, bail};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

/// How long either end waits for the other during set-up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the client waits for the next sample before declaring the server gone.
pub fn sample_timeout(flow: &FlowConfig) -> Duration {
    (flow.interval() * 3).max(Duration::from_secs(5))
}

fn log(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("zcbench server: {msg}");
    }
}

pub fn server(args: &ServerArgs) -> Result<()> {
    let online = cpu::online_cpus()?;
    let layout = config::resolve_layout(args.layout.cpus, args.layout.app_cpu, args.layout.net_cpu, None, &online)?;
    let dev = match &args.dev {
        Some(d) => Some(link::get_link(d)?),
        None => None,
    };
    let ip: std::net::IpAddr =
        args.listen.parse().map_err(|_| usage(format!("--listen '{}' is not an IP address", args.listen)))?;
    // The server's own settings hold for its lifetime (restored when it exits);
    // per-run pinning and steering have a journal of their own.
    let rx_dev = args.dev.as_deref().map(|d| Dev::new(None, d));
    let plan = settings::plan(&args.settings, args.mtu, rx_dev.as_ref(), None, Role::Server)?;
    for n in &plan.notes {
        log(args.quiet, n);
    }
    let mut journal = Journal::for_run();
    settings::apply(&plan, &mut journal)?;
    let held = journal.records().to_vec();
    let control = sock::listen(&SocketAddr::new(ip, args.control_port), None)?;
    log(args.quiet, &format!("listening on {} (protocol v{})", SocketAddr::new(ip, args.control_port), proto::VERSION));
    loop {
        if crate::signals::interrupted() {
            return Ok(());
        }
        let (conn, peer) = match sock::accept_timeout(&control, Duration::from_millis(500)) {
            Ok(c) => c,
            Err(_) => continue,
        };
        let mut conn: TcpStream = conn.into();
        log(args.quiet, &format!("client {peer}"));
        let ctx = Serving { args, layout: &layout, dev: dev.as_ref(), plan: &plan, held: &held, ip };
        let r = serve_one(&ctx, &mut conn, peer);
        match &r {
            Ok(()) => log(args.quiet, &format!("client {peer}: run done")),
            Err(e) => {
                // Tell the client why (best effort), then serve the next one.
                let _ = proto::write_msg(&mut conn, &Msg::error(e));
                eprintln!("zcbench server: client {peer}: {e:#}");
            }
        }
        if args.once || crate::signals::interrupted() {
            return r;
        }
    }
}

/// What every run of one server shares.
struct Serving<'a> {
    args: &'a ServerArgs,
    layout: &'a Layout,
    dev: Option<&'a link::LinkInfo>,
    plan: &'a settings::Plan,
    /// The server's own settings, in force for its lifetime.
    held: &'a [crate::sys::journal::ChangeRecord],
    ip: std::net::IpAddr,
}

fn serve_one(ctx: &Serving, conn: &mut TcpStream, peer: SocketAddr) -> Result<()> {
    let Serving { args, layout, dev, plan, held, ip } = *ctx;
    conn.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    conn.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let flow = match proto::read_msg(conn).context("reading the client's hello")? {
        Msg::Hello { magic, version, flow } => {
            if magic != proto::MAGIC {
                bail!("hello has magic '{magic}', not '{}'", proto::MAGIC);
            }
            debug_assert_eq!(version, proto::VERSION, "read_msg checks the version");
            flow
        }
        other => bail!("expected a hello, got {}", kind(&other)),
    };
    flow.validate()?;
    if flow.duration() + flow.warmup() > args.max_duration {
        return Err(usage(format!(
            "the client asked for {:.0}s but this server allows at most {} (server --max-duration)",
            flow.duration_s + flow.warmup_s,
            humantime::format_duration(args.max_duration)
        )));
    }
    let rx_path = rx::make(flow.mode, flow.read_size as usize)?;
    let data = sock::listen(&SocketAddr::new(ip, args.port), flow.mss)?;
    let data_port = data.local_addr()?.as_socket().map(|a| a.port()).unwrap_or(0);
    proto::write_msg(conn, &Msg::Ready { version: proto::VERSION, data_port, layout: layout.clone() })?;
    let (rx_sock, data_peer) =
        sock::accept_timeout(&data, HANDSHAKE_TIMEOUT).context("waiting for the client's data connection")?;
    if data_peer.ip() != peer.ip() {
        bail!("data connection came from {data_peer}, not from the control peer {peer}");
    }
    drop(data);

    // Host changes: only what this server's own command line asked for.
    let mut changes = Journal::for_run();
    let mut steering = match dev {
        Some(l) => {
            let queues = link::rx_queue_count(None, &l.name)?;
            if irq::nic_irqs(&l.name, l.ifindex)?.irqs.is_empty() {
                // A virtual device (veth, a bridge port): no IRQ to pin, RPS does it.
                irq::steer_rps(&mut changes, None, &l.name, queues, layout.net_cpu)?;
                Some(format!(
                    "RPS: {} rx-0..{} -> core {} (no IRQs: virtual device)",
                    l.name,
                    queues.saturating_sub(1),
                    layout.net_cpu
                ))
            } else {
                let irqs = irq::pin_nic(&mut changes, &l.name, l.ifindex, queues, layout.net_cpu)?;
                Some(format!(
                    "IRQs {:?} of {} -> core {} (from {}), RPS off",
                    irqs.irqs, l.name, layout.net_cpu, irqs.source
                ))
            }
        }
        None => None,
    };
    if let Some((d, q)) = &plan.steer {
        let local = rx_sock.local_addr()?.as_socket().context("data socket has no IP address")?;
        let s = settings::steer(&mut changes, d, *q, local, data_peer)?;
        steering = Some(steering.map(|x| format!("{x}; {s}")).unwrap_or(s));
    }
    let devs: Vec<(Option<&str>, &str)> = dev.iter().map(|l| (None, l.name.as_str())).collect();
    let facts = host::collect(None, &devs);

    let flags = Flags::default();
    let mut stream = conn.try_clone()?;
    stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let driven = super::drive(&flow, layout, &flags, Some((&rx_sock, rx_path)), None, true, |s| {
        if proto::write_msg(&mut stream, &Msg::Sample { sample: s.clone() }).is_err() {
            // The client is gone: stop receiving.
            flags.raise_abort();
        }
    })?;
    let mut side = Side::from_sampler("receiver", facts, layout.clone(), driven.sampler, flow.interval_s);
    side.net_steering = steering;
    side.changes = held.iter().chain(changes.records()).cloned().collect();
    side.local_addr = rx_sock.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.to_string());
    side.peer_addr = Some(data_peer.to_string());
    side.mss = sock::mss(&rx_sock);
    side.rx = driven.rx.as_ref().map(|r| r.0.clone());
    side.rx_thread = driven.rx.map(|r| r.1);
    side.samples.clear();
    if let Some(e) = changes.restore().1.into_iter().next() {
        return Err(e.context("restoring this server's settings"));
    }
    proto::write_msg(conn, &Msg::Done { side: Box::new(side) })?;
    conn.flush()?;
    Ok(())
}

fn kind(m: &Msg) -> &'static str {
    match m {
        Msg::Hello { .. } => "hello",
        Msg::Ready { .. } => "ready",
        Msg::Sample { .. } => "sample",
        Msg::Done { .. } => "done",
        Msg::Error { .. } => "error",
    }
}

fn remote_error(message: String, exit: u8) -> anyhow::Error {
    anyhow::Error::new(Classified { kind: proto::exit_kind_of(exit), msg: format!("server: {message}") })
}

pub fn client(args: &ClientArgs) -> Result<RunResult> {
    let flow = config::flow_from_args(&args.flow)?;
    let online = cpu::online_cpus()?;
    // The client hosts only the sender: it takes the app-core default for it
    // (app_cpu/net_cpu of this side's layout then name the sender's core too).

    let mut layout = config::resolve_layout(1, args.sender_cpu, None, None, &online)?;
    layout.sender_cpu = Some(layout.app_cpu);
    let tx_dev = args.dev.as_deref().map(|d| Dev::new(None, d));
    let plan = settings::plan(&args.settings, args.mtu, None, tx_dev.as_ref(), Role::Client)?;
    if !args.output.quiet {
        for n in &plan.notes {
            eprintln!("zcbench: {n}");
        }
    }
    if let Some(d) = &args.dev {
        link::get_link(d)?;
    }

    let target = (args.server.as_str(), args.control_port)
        .to_socket_addrs()
        .map_err(|e| usage(format!("--server {}: cannot resolve: {e}", args.server)))?
        .find(|a| a.is_ipv6() == flow.ipv6)
        .or_else(|| (args.server.as_str(), args.control_port).to_socket_addrs().ok()?.next())
        .ok_or_else(|| usage(format!("--server {}: no address", args.server)))?;
    let mut conn = TcpStream::connect_timeout(&target, HANDSHAKE_TIMEOUT).with_context(|| {
        format!("connecting to the zcbench server at {target} (is `zcbench server` running there?)")
    })?;
    conn.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    conn.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    proto::write_msg(
        &mut conn,
        &Msg::Hello { magic: proto::MAGIC.into(), version: proto::VERSION, flow: flow.clone() },
    )?;
    let (data_port, server_layout) = match proto::read_msg(&mut conn).context("waiting for the server's answer")? {
        Msg::Ready { version, data_port, layout } => {
            if version != proto::VERSION {
                bail!(
                    "protocol version mismatch: server speaks v{version}, this client v{}; run the same zcbench version on both hosts",
                    proto::VERSION
                );
            }
            (data_port, layout)
        }
        Msg::Error { message, exit } => return Err(remote_error(message, exit)),
        other => bail!("server answered with a {} instead of ready", kind(&other)),
    };
    let mut journal = Journal::for_run();
    settings::apply(&plan, &mut journal)?;
    let tx_path = tx::make(flow.tx_mode, flow.msg_size as usize)?;
    let dev_facts = match &args.dev {
        Some(d) => vec![host::device_facts(None, d)?],
        None => Vec::new(),
    };
    let data_addr = SocketAddr::new(target.ip(), data_port);
    let tx_sock = sock::connect(&data_addr, flow.mss, HANDSHAKE_TIMEOUT)?;

    // The server's samples arrive on their own thread; silence or a broken
    // connection aborts the flow within sample_timeout().
    conn.set_read_timeout(Some(sample_timeout(&flow) + flow.warmup()))?;
    let flags = Flags::default();
    let (tx_ch, rx_ch) = mpsc::channel::<Result<(Vec<crate::sample::Sample>, Side)>>();
    let mut reader = conn.try_clone()?;
    let flow_timeout = sample_timeout(&flow);
    let driven = std::thread::scope(|sc| {
        let flags = &flags;
        sc.spawn(move || {
            let mut samples = Vec::new();
            let r = loop {
                match proto::read_msg(&mut reader) {
                    Ok(Msg::Sample { sample }) => {
                        samples.push(sample);
                        let _ = reader.set_read_timeout(Some(flow_timeout));
                    }
                    Ok(Msg::Done { side }) => break Ok((std::mem::take(&mut samples), *side)),
                    Ok(Msg::Error { message, exit }) => break Err(remote_error(message, exit)),
                    Ok(other) => break Err(anyhow!("server sent an unexpected {} mid-run", kind(&other))),
                    Err(e) => {
                        break Err(e.context(
                            "the server stopped answering mid-run (server process gone or host unreachable?)",
                        ));
                    }
                };
            };
            if r.is_err() {
                flags.raise_abort();
            }
            let _ = tx_ch.send(r);
        });
        super::drive(&flow, &layout, flags, None, Some((&tx_sock, tx_path)), false, |_| {})
    });
    let remote = rx_ch.recv().map_err(|_| anyhow!("the control reader ended without a word"))?;
    // A local failure is the root cause when there is one (the server then only
    // saw the flow end early); otherwise a dead server explains a failed send.
    let ((rx_samples, mut server_side), rside) = match (remote, driven) {
        (Err(remote), Err(local)) if local.downcast_ref::<super::Interrupted>().is_none() => {
            return Err(local.context(format!("and the server side: {remote:#}")));
        }
        (Err(e), _) => return Err(e),
        (Ok(_), Err(e)) => return Err(e),

        (Ok(r), Ok(d)) => {
            let facts = host::HostFacts { devices: dev_facts, ..host::collect(None, &[]) };
            let mut side = Side::from_sampler("sender", facts, layout.clone(), d.sampler, flow.interval_s);
            side.local_addr = tx_sock.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.to_string());
            side.peer_addr = Some(data_addr.to_string());
            side.mss = sock::mss(&tx_sock);
            side.changes = journal.records().to_vec();
            side.tx = d.tx.as_ref().map(|t| t.0.clone());
            side.tx_thread = d.tx.map(|t| t.1);
            (r, side)
        }
    };
    server_side.samples = rx_samples;
    server_side.layout = server_layout;

    Ok(RunResult::new("two-host", flow, None, server_side, Some(rside)))
}

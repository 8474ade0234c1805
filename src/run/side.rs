//! One builder of a result's `Side` for local and two-host runs, and the
//! conversions from what the run measured and found to the file's types.

use super::Driven;
use crate::config::{FlowConfig, Layout, MeasureSpec};
use crate::results::flows;
use crate::results::schema::{self, Side};
use crate::sample::{SamplerOutput, procstat};
use crate::sys::cpu::ThreadUsage;
use crate::sys::host::HostFacts;
use crate::sys::journal::ChangeRecord;
use crate::sys::netlink::{link, netdev};
use crate::sys::netns::{self, Dev};
use crate::sys::sock;
use std::os::fd::BorrowedFd;

/// What one host contributes to a result besides its sampler's output.
pub struct SideFacts {
    /// "receiver+sender", "receiver" or "sender".
    pub role: &'static str,
    pub host: HostFacts,
    pub layout: Layout,
    pub net_steering: Option<String>,
    pub changes: Vec<ChangeRecord>,
    pub local_addr: Option<String>,
    pub peer_addr: Option<String>,
    pub mss: Option<u32>,
    /// Each flow's ends (`--flows` > 1; one flow's are the ones above).
    pub flows: Vec<FlowFacts>,
}

/// One flow's ends and where its receive processing ran.
#[derive(Default, Clone)]
pub struct FlowFacts {
    pub local_addr: Option<String>,
    pub peer_addr: Option<String>,
    pub rx_queue: Option<u32>,
    pub incoming_cpu: Option<usize>,
}

/// The side's receive and transmit figures: one flow's own, or the sums over
/// flows with each flow's block.
type Figures = (
    Option<schema::RxStats>,
    Option<schema::TxStats>,
    Option<schema::ThreadUsage>,
    Option<schema::ThreadUsage>,
    Vec<schema::FlowSide>,
);

fn figures(flows: Vec<super::FlowOutcome>, facts: &[FlowFacts]) -> Figures {
    if flows.len() == 1 {
        let f = flows.into_iter().next().unwrap_or_default();
        let (rx_t, tx_t) = (f.rx.as_ref().map(|r| thread(&r.1)), f.tx.as_ref().map(|t| thread(&t.1)));
        return (f.rx.map(|r| r.0), f.tx.map(|t| t.0), rx_t, tx_t, Vec::new());
    }
    let per: Vec<schema::FlowSide> = flows
        .into_iter()
        .enumerate()
        .map(|(k, f)| {
            let fact = facts.get(k).cloned().unwrap_or_default();
            schema::FlowSide {
                flow: k as u32 + 1,
                local_addr: fact.local_addr,
                peer_addr: fact.peer_addr,
                rx_queue: fact.rx_queue,
                incoming_cpu: fact.incoming_cpu,
                rx_thread: f.rx.as_ref().map(|r| thread(&r.1)),
                tx_thread: f.tx.as_ref().map(|t| thread(&t.1)),
                rx: f.rx.map(|r| r.0),
                tx: f.tx.map(|t| t.0),
                ended: f.ended,
            }
        })
        .collect();
    let rxs: Vec<&schema::RxStats> = per.iter().filter_map(|f| f.rx.as_ref()).collect();
    let txs: Vec<&schema::TxStats> = per.iter().filter_map(|f| f.tx.as_ref()).collect();
    let sum_threads = |it: Vec<&schema::ThreadUsage>| {
        (!it.is_empty()).then(|| schema::ThreadUsage {
            user_s: it.iter().map(|u| u.user_s).sum(),
            sys_s: it.iter().map(|u| u.sys_s).sum(),
            voluntary_switches: it.iter().map(|u| u.voluntary_switches).sum(),
            involuntary_switches: it.iter().map(|u| u.involuntary_switches).sum(),
        })
    };
    let rx_t = sum_threads(per.iter().filter_map(|f| f.rx_thread.as_ref()).collect());
    let tx_t = sum_threads(per.iter().filter_map(|f| f.tx_thread.as_ref()).collect());
    let rx = (!rxs.is_empty()).then(|| flows::rx_total(&rxs));
    let tx = (!txs.is_empty()).then(|| flows::tx_total(&txs));
    (rx, tx, rx_t, tx_t, per)
}

/// The rx queue of `dev` that delivered the last packet of the socket `fd`, by
/// the kernel's own account: its SO_INCOMING_NAPI_ID matched with the NAPI id
/// netdev queue-get gives each rx queue.
pub fn conn_queue(connection: &str, dev: &Dev, fd: BorrowedFd<'_>) -> schema::ConnQueue {
    let mut c = schema::ConnQueue { connection: connection.into(), device: dev.name.clone(), ..Default::default() };
    let napi = match sock::incoming_napi_id(fd) {
        Ok(0) => {
            c.unavailable = Some(
                "SO_INCOMING_NAPI_ID is 0: no packet came through a NAPI instance (or the kernel keeps no NAPI ids: CONFIG_NET_RX_BUSY_POLL off)"
                    .into(),
            );
            return c;
        }
        Ok(n) => n,
        Err(e) => {
            c.unavailable = Some(format!("SO_INCOMING_NAPI_ID: {e}"));
            return c;
        }
    };
    c.napi_id = Some(napi);
    let queues = netns::with_netns(dev.ns(), || netdev::queues(link::get_link(&dev.name)?.ifindex));
    match queues.map(|qs| qs.into_iter().find(|q| q.rx && q.napi_id == Some(napi))) {
        Ok(Some(q)) => c.rx_queue = Some(q.id),
        Ok(None) => {
            c.unavailable = Some(format!("netdev queue-get lists no rx queue of {} with NAPI id {napi}", dev.name))
        }
        Err(e) => c.unavailable = Some(format!("netdev queue-get on {}: {e:#}", dev.name)),
    }
    c
}

/// [`conn_queue`] for each flow's receiving socket: "data" for one flow,
/// "flow K" for several.
pub fn flow_queues(dev: &Dev, fds: &[BorrowedFd<'_>]) -> Vec<schema::ConnQueue> {
    let name = |k: usize| if fds.len() == 1 { "data".to_string() } else { format!("flow {}", k + 1) };
    fds.iter().enumerate().map(|(k, fd)| conn_queue(&name(k), dev, *fd)).collect()
}

/// The side of a result this host measured.
pub fn side(facts: SideFacts, driven: Driven, interval_s: f64) -> Side {
    let Driven { sampler, flows, .. } = driven;
    let (rx, tx, rx_thread, tx_thread, flows) = figures(flows, &facts.flows);
    let SamplerOutput {
        samples,
        window_start,
        window_end,
        window_s,
        own_cpu_s,
        wall_s,
        pinned_to,
        cut_short,
        start_unix_s,
        power_sources,
        power_cpu_s,
        children_cpu_s,
        window,
    } = sampler;
    let pct = |s: f64| if wall_s > 0.0 { 100.0 * s / wall_s } else { 0.0 };
    let (idle_states, softirqs, perf, netdev) = match window {
        Some(w) => (Some(w.idle), Some(w.softirqs), w.perf, w.netdev),
        None => (None, None, None, None),
    };
    Side {
        role: facts.role.into(),
        host: host(facts.host),
        layout: layout(&facts.layout),
        net_steering: facts.net_steering,
        changes: facts.changes.iter().map(change).collect(),
        local_addr: facts.local_addr,
        peer_addr: facts.peer_addr,
        mss: facts.mss,
        rx_thread,
        rx,
        tx_thread,
        tx,
        sampler: schema::SamplerInfo {
            interval_s,
            cpu_s: own_cpu_s,
            wall_s,
            pct_of_core: pct(own_cpu_s),
            pinned_to,
            power_cpu_s,
            children_cpu_s,
            overhead_pct_of_core: pct(own_cpu_s + power_cpu_s + children_cpu_s),
        },
        window_s,
        window_cpu: procstat::utilisation(&window_start, &window_end),
        cut_short,
        samples,
        start_unix_s: Some(start_unix_s),
        power_sources,
        idle_states,
        softirqs,
        perf,
        netdev,
        flows,
        connections: Vec::new(),
    }
}

pub fn flow(f: &FlowConfig, m: &MeasureSpec) -> schema::Flow {
    schema::Flow {
        mode: f.mode,
        tx_mode: f.tx_mode,
        duration_s: f.duration_s,
        warmup_s: f.warmup_s,
        interval_s: f.interval_s,
        msg_size: f.msg_size,
        read_size: f.read_size,
        mss: f.mss,
        validate: f.validate,
        ipv6: f.ipv6,
        notes: f.notes.clone(),
        combined: f.combined.clone(),
        roi_n: m.roi_n,
        roi_m: m.roi_m,
        syscall_times: f.syscall_times,
        flows: f.flows,
    }
}

pub fn layout(l: &Layout) -> schema::Layout {
    schema::Layout {
        cpus: l.cpus,
        app_cpu: l.app_cpu,
        net_cpu: l.net_cpu,
        sender_cpu: l.sender_cpu,
        sampler_cpu: l.sampler_cpu,
        oversubscribed: l.oversubscribed,
        warnings: l.warnings.clone(),
        flows: match l.flows.len() {
            0 | 1 => Vec::new(),
            _ => l
                .flows
                .iter()
                .map(|f| schema::FlowCores { app_cpu: f.app_cpu, net_cpu: f.net_cpu, sender_cpu: f.sender_cpu })
                .collect(),
        },
    }
}

fn thread(u: &ThreadUsage) -> schema::ThreadUsage {
    schema::ThreadUsage {
        user_s: u.user_s,
        sys_s: u.sys_s,
        voluntary_switches: u.voluntary_switches,
        involuntary_switches: u.involuntary_switches,
    }
}

fn change(c: &ChangeRecord) -> schema::Change {
    schema::Change {
        netns: c.netns.clone(),
        setting: c.setting.clone(),
        old: c.old.clone(),
        new: c.new.clone(),
        read_back: c.read_back.clone(),
        changed: c.changed,
    }
}

pub fn host(h: HostFacts) -> schema::Host {
    schema::Host {
        hostname: h.hostname,
        kernel: h.kernel,
        kernel_version: h.kernel_version,
        arch: h.arch,
        cpu_model: h.cpu_model,
        cores_online: h.cores_online,
        user_hz: h.user_hz,
        sysctls: h.sysctls,
        devices: h
            .devices
            .into_iter()
            .map(|d| schema::Device {
                name: d.name,
                netns: d.netns,
                link: d.link.map(|l| schema::Link {
                    name: l.name,
                    ifindex: l.ifindex,
                    mtu: l.mtu,
                    min_mtu: l.min_mtu,
                    max_mtu: l.max_mtu,
                    gso_max_size: l.gso_max_size,
                    gso_max_segs: l.gso_max_segs,
                    gro_max_size: l.gro_max_size,
                    gso_ipv4_max_size: l.gso_ipv4_max_size,
                    gro_ipv4_max_size: l.gro_ipv4_max_size,
                    tso_max_size: l.tso_max_size,
                    num_rx_queues: l.num_rx_queues,
                    num_tx_queues: l.num_tx_queues,
                }),
                driver: d.driver.map(|v| schema::Driver {
                    driver: v.driver,
                    version: v.version,
                    firmware: v.firmware,
                    bus_info: v.bus_info,
                }),
                offloads: d.offloads,
            })
            .collect(),
        idle: schema::Idle {
            driver: h.idle.driver,
            governor: h.idle.governor,
            guest_halt_poll_ns: h.idle.guest_halt_poll_ns,
            states: h.idle.states,
        },
    }
}

//! `zcbench probe`: what this host can run, and why not.

mod check;
mod devmem;
mod modes;
mod zcrx;

use check::{Check, check};

use crate::sys::netlink::{self, NlSocket, link, netdev};
use crate::sys::{ethtool, perf, uring};
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub struct DeviceProbe {
    pub name: String,
    pub driver: Option<String>,
    pub firmware: Option<String>,
    pub rx_queues: Option<u32>,
    pub mtu: u32,
    pub header_split: String,
    pub hds_thresh: Option<u32>,
    pub zero_copy_rx_capable: bool,
    /// devmem TCP on this device (with `--dev` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devmem: Option<devmem::DevmemProbe>,
    /// io_uring zcrx on this device (with `--dev` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zcrx: Option<zcrx::ZcrxProbe>,
    /// Receive offloads zero-copy runs care about (with `--dev` only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub offloads: BTreeMap<String, bool>,
    /// Every queue as the kernel reports it: NAPI instance, memory provider,
    /// and the driver's per-queue counters (with `--dev` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueProbe>,
    /// Why the queues could not be listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queues_unavailable: Option<String>,
}

/// One queue of a device: netdev queue-get and qstats-get (scope queue).
#[derive(Debug, Clone, Serialize)]
pub struct QueueProbe {
    /// "rx" or "tx".
    pub kind: &'static str,
    pub id: u32,
    pub napi_id: Option<u32>,
    /// The memory provider bound to an rx queue: "devmem dma-buf N" or "io_uring zcrx".
    pub provider: Option<String>,
    /// qstats-get counters by their netdev spec names (none: the driver keeps none).
    pub counters: BTreeMap<&'static str, u64>,
}

/// The queues of `l`, their providers and counters.
fn queues(l: &link::LinkInfo) -> Result<Vec<QueueProbe>, String> {
    let qs = netdev::queues(l.ifindex).map_err(|e| format!("{e:#}"))?;
    let stats = NlSocket::open(libc::NETLINK_GENERIC)
        .map_err(|e| format!("{e:#}"))
        .and_then(|mut s| netdev::qstats(&mut s, l.ifindex))
        .unwrap_or_default();
    Ok(qs
        .into_iter()
        .map(|q| {
            let kind = if q.rx { "rx" } else { "tx" };
            let provider = match (q.dmabuf, q.io_uring) {
                (Some(id), _) => Some(format!("devmem dma-buf {id}")),
                (None, true) => Some("io_uring zcrx".to_string()),
                _ => None,
            };
            let counters = stats
                .iter()
                .find(|c| c.queue_id == q.id && (c.queue_type == 0) == q.rx)
                .map(|c| c.counters.clone())
                .unwrap_or_default();
            QueueProbe { kind, id: q.id, napi_id: q.napi_id, provider, counters }
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub struct Probe {
    pub kernel: String,
    /// Every receive and transmit mode and what this kernel lacks of its needs.
    pub modes: Vec<modes::ModeProbe>,
    pub checks: Vec<Check>,
    pub devices: Vec<DeviceProbe>,
}

fn hugepages() -> Check {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        meminfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let total = field("HugePages_Total:");
    let free = field("HugePages_Free:");
    let size = field("Hugepagesize:");
    check("hugepages", total != "0" && total != "?", format!("{total} pages of {size} kB, {free} free"))
}

fn perf_counters() -> Check {
    match perf::can_count_cycles() {
        Ok(()) => check("hardware perf counters", true, "cycles counter opens"),
        Err(e) => check("hardware perf counters", false, format!("perf_event_open(cycles): {e}")),
    }
}

fn power() -> Check {
    let mut found = Vec::new();
    if let Ok(d) = std::fs::read_dir("/sys/class/powercap") {
        found.extend(d.filter_map(|e| e.ok()).map(|e| format!("powercap/{}", e.file_name().to_string_lossy())));
    }
    if let Ok(d) = std::fs::read_dir("/sys/class/hwmon") {
        for e in d.filter_map(|e| e.ok()) {
            let has_power = std::fs::read_dir(e.path())
                .map(|f| f.filter_map(|x| x.ok()).any(|x| x.file_name().to_string_lossy().starts_with("power")))
                .unwrap_or(false);
            if has_power {
                found.push(format!("hwmon/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    if found.is_empty() {
        check("power sources", false, "no RAPL/powercap zone and no hwmon power sensor; an external meter is needed")
    } else {
        check("power sources", true, found.join(", "))
    }
}

fn device(name: &str, l: &link::LinkInfo, deep: bool) -> DeviceProbe {
    let drv = ethtool::driver_info(name).ok();
    let rings = ethtool::rings(name);
    let (split, thresh) = match &rings {
        Ok(Some(r)) => (r.tcp_data_split.describe().to_string(), r.hds_thresh),
        Ok(None) => ("not supported by driver (no ring ops)".into(), None),
        Err(e) => (format!("unknown: {e:#}"), None),
    };
    let qs = if deep { queues(l) } else { Ok(Vec::new()) };
    let capable = matches!(&rings, Ok(Some(r)) if matches!(r.tcp_data_split, ethtool::DataSplit::Enabled | ethtool::DataSplit::Disabled | ethtool::DataSplit::Unknown));
    DeviceProbe {
        name: name.into(),
        driver: drv.as_ref().map(|d| d.driver.clone()),
        firmware: drv.map(|d| d.firmware),
        rx_queues: l.num_rx_queues,
        mtu: l.mtu,
        header_split: split,
        hds_thresh: thresh,
        zero_copy_rx_capable: capable,
        devmem: deep.then(|| devmem::devmem(name, l, &rings)),
        zcrx: deep.then(|| zcrx::zcrx(name, l, &rings)),
        offloads: if deep { crate::sys::host::offloads(name) } else { BTreeMap::new() },
        queues: qs.clone().unwrap_or_default(),
        queues_unavailable: qs.err(),
    }
}

/// What this host can run; `dev`: only that device (default: every device but lo).
pub fn probe(dev: Option<&str>) -> Result<Probe> {
    let kernel = nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    let mut checks = Vec::new();
    if let Err(e) = uring::probe() {
        checks.push(check("io_uring", false, format!("{e:#}")));
    }
    zcrx::kernel_checks(&mut checks);
    match netlink::NlSocket::open(libc::NETLINK_GENERIC).and_then(|mut s| netdev::family(&mut s)) {
        Ok(Some(f)) => {
            let names = netdev::op_names(&f);
            checks.push(check("netdev netlink family", true, format!("ops: {}", names.join(", "))));
        }
        Ok(None) => checks.push(check(
            "netdev netlink family",
            false,
            format!("not in this kernel (Linux {}+)", netdev::FAMILY_SINCE),
        )),
        Err(e) => checks.push(check("netdev netlink family", false, format!("{e:#}"))),
    }
    checks.push(match crate::sys::ethtool::settable_ring_params() {
        Ok(v) => {
            let hds = v.contains(&"hds-thresh");
            check(
                "ethtool rings-set",
                true,
                format!("kernel accepts: {}{}", v.join(", "), if hds { "" } else { " (no hds-thresh: needs 6.13+)" }),
            )
        }
        Err(e) => check("ethtool rings-set", false, format!("{e:#}")),
    });
    checks.push(hugepages());
    checks.push(perf_counters());
    checks.push(power());
    let idle = crate::sys::host::idle_facts();
    let cpuidle = !idle.states.is_empty();
    checks.push(check(
        "cpuidle states",
        cpuidle,
        if cpuidle {
            format!(
                "driver {}, governor {}, states {}",
                idle.driver.as_deref().unwrap_or("?"),
                idle.governor.as_deref().unwrap_or("?"),
                idle.states.join(", ")
            )
        } else {
            "no cpuidle driver".into()
        },
    ));
    if let Some(ns) = idle.guest_halt_poll_ns {
        checks.push(check(
            "guest halt polling",
            ns > 0,
            if ns > 0 {
                format!("idle vCPUs poll up to {ns} ns before halting")
            } else {
                "off (guest_halt_poll_ns=0): every wake-up IPI to an idle vCPU costs its sender a host \
                 wake-up, which slows RPS/IPI-heavy layouts and penalises receivers that sleep often"
                    .into()
            },
        ));
    }

    let links = link::list_links()?;
    let devices = match dev {
        Some(d) => {
            let l = link::get_link(d)?;
            vec![device(d, &l, true)]
        }
        None => links.iter().filter(|l| l.name != "lo").map(|l| device(&l.name, l, false)).collect(),
    };
    Ok(Probe { kernel, modes: modes::modes(), checks, devices })
}

/// The queue table of `probe --dev`: NAPI ids, providers, packet counts.
fn queue_lines(d: &DeviceProbe) -> String {
    match (&d.queues_unavailable, d.queues.is_empty()) {
        (Some(e), _) => format!("\nqueues of {}: {e}\n", d.name),
        (None, true) => String::new(),
        (None, false) => {
            let mut o = format!(
                "\nqueues of {} (netdev queue-get, qstats-get):\n  queue         napi   packets        bytes  provider\n",
                d.name
            );
            for q in &d.queues {
                let c = |n: &str| q.counters.get(n).map_or("-".into(), |v| v.to_string());
                let (p, b) = if q.kind == "rx" { ("rx-packets", "rx-bytes") } else { ("tx-packets", "tx-bytes") };
                o += &format!(
                    "  {:>4}-{:<3} {:>10} {:>8} {:>12}  {}\n",
                    q.kind,
                    q.id,
                    q.napi_id.map_or("-".into(), |n| n.to_string()),
                    c(p),
                    c(b),
                    q.provider.as_deref().unwrap_or("")
                );
            }
            o
        }
    }
}

pub fn table(p: &Probe) -> String {
    let mut o = format!("kernel {}\n\n", p.kernel);
    o += &modes::table(&p.modes);
    o += "\n";
    for c in &p.checks {
        o += &format!("{:<4} {:<26} {}\n", if c.ok { "yes" } else { "no" }, c.what, c.detail);
    }
    o += "\ndevice          driver       rxq   mtu  header split\n";
    for d in &p.devices {
        o += &format!(
            "{:<15} {:<12} {:>4} {:>5}  {}\n",
            d.name,
            d.driver.as_deref().unwrap_or("?"),
            d.rx_queues.map_or("?".into(), |q| q.to_string()),
            d.mtu,
            d.header_split
        );
        if let Some(dm) = &d.devmem {
            o += &format!("\ndevmem TCP on {}:\n", d.name);
            for c in &dm.checks {
                o += &format!("  {:<4} {:<20} {}\n", if c.ok { "yes" } else { "no" }, c.what, c.detail);
            }
            o += &format!("  => {}\n", dm.verdict);
        }
        if let Some(z) = &d.zcrx {
            o += &format!("\nio_uring zcrx on {}:\n", d.name);
            for c in &z.checks {
                o += &format!("  {:<4} {:<20} {}\n", if c.ok { "yes" } else { "no" }, c.what, c.detail);
            }
            o += &format!("  => {}\n", z.verdict);
        }
        if !d.offloads.is_empty() {
            let f: Vec<String> =
                d.offloads.iter().map(|(k, on)| format!("{k} {}", if *on { "on" } else { "off" })).collect();
            o += &format!("\noffloads of {}: {}\n", d.name, f.join(", "));
        }
        o += &queue_lines(d);
    }
    o
}

//! `zcbench probe --dev IFACE`, devmem TCP: what this kernel and this device
//! offer, what zcbench would change for a run, and the exact failure a bind
//! would hit — found by asking the kernel for a bind-rx with a descriptor that is
//! not a dma-buf: the kernel checks the device first (no queue management, no
//! DMA device: refused there) and only then the descriptor, before it touches
//! any queue, so the rehearsal changes nothing.

use super::check::{Check, check};
use crate::sys::dmabuf;
use crate::sys::ethtool::{self, DataSplit, Rings};
use crate::sys::features::Feature;
use crate::sys::netlink::NetlinkError;
use crate::sys::netlink::link::LinkInfo;
use crate::sys::netlink::netdev;
use serde::Serialize;
use std::os::fd::AsFd;

#[derive(Debug, Serialize)]
pub struct DevmemProbe {
    pub checks: Vec<Check>,
    /// Whether a devmem run can start on this device, and if not, why.
    pub verdict: String,
}

fn kernel(f: Feature, what: &str) -> Check {
    match f.check() {
        Ok(()) => check(what, true, "the netdev family has it"),
        Err(why) => check(what, false, format!("{why} ({})", f.label())),
    }
}

fn udmabuf() -> Check {
    match dmabuf::udmabuf_unavailable(0) {
        Some(why) => check("/dev/udmabuf", false, why),
        None => {
            let limit = std::fs::read_to_string(dmabuf::UDMABUF_SIZE_LIMIT)
                .map(|s| format!("size_limit_mb {}", s.trim()))
                .unwrap_or_else(|_| "size limit not reported".into());
            check("/dev/udmabuf", true, format!("present, {limit}"))
        }
    }
}

pub(super) fn header_split(rings: &anyhow::Result<Option<Rings>>) -> [Check; 2] {
    let (split, hds) = match rings {
        Ok(Some(r)) => (r.tcp_data_split, r.hds_thresh),
        Ok(None) => (DataSplit::NotReported, None),
        Err(e) => return [check("header split", false, format!("{e:#}")), check("hds-thresh", false, "unknown")],
    };
    let s = match split {
        DataSplit::NotReported => check("header split", false, "the driver does not offer tcp-data-split"),
        DataSplit::Enabled => check("header split", true, "on"),
        _ => check("header split", true, "offered, off now (a devmem or zcrx run turns it on, then back)"),
    };
    let h = match hds {
        Some(0) => check("hds-thresh", true, "0"),
        Some(n) => check("hds-thresh", true, format!("{n} now (a devmem or zcrx run sets 0, then back)")),
        None => check("hds-thresh", true, "not reported (no threshold to set: kernel < 6.13 or driver)"),
    };
    [s, h]
}

pub(super) fn steering(dev: &str) -> Check {
    let queues = crate::sys::netlink::link::rx_queue_count(None, dev).unwrap_or(0);
    if queues <= 1 {
        return check("flow steering", true, format!("{queues} rx queue: every flow lands on it"));
    }
    let f = ethtool::features(dev);
    let ok = f.as_ref().is_ok_and(|f| f.is_active("rx-ntuple-filter") || f.can_change("rx-ntuple-filter"));
    let detail = if ok {
        format!("{queues} rx queues: an ntuple rule takes the flow to the last one, RSS spread over the others")
    } else {
        format!("{queues} rx queues and no ntuple filters: the flow cannot be kept on one queue")
    };
    check("flow steering", ok, detail)
}

/// What backs each rx queue now: a queue that already has a memory provider (a
/// devmem binding or a zcrx area someone holds) refuses another one (EEXIST).
pub(super) fn providers(l: &LinkInfo) -> Check {
    let what = "rx queue providers";
    match netdev::queues(l.ifindex) {
        Err(e) => check(what, false, format!("{e:#}")),
        Ok(qs) => {
            let taken: Vec<String> = qs
                .iter()
                .filter(|q| q.rx && (q.dmabuf.is_some() || q.io_uring))
                .map(|q| match q.dmabuf {
                    Some(id) => format!("rx-{} has dma-buf binding {id}", q.id),
                    None => format!("rx-{} has an io_uring zcrx area", q.id),
                })
                .collect();
            let n = qs.iter().filter(|q| q.rx).count();
            if taken.is_empty() {
                check(what, true, format!("none of the {n} rx queues has one"))
            } else {
                check(what, false, format!("{} (held by a process still running?)", taken.join(", ")))
            }
        }
    }
}

/// The bind-rx rehearsal with /dev/null as the "dma-buf".
fn rehearsal(l: &LinkInfo) -> Check {
    let what = "bind-rx rehearsal";
    let Ok(null) = std::fs::File::open("/dev/null") else {
        return check(what, false, "cannot open /dev/null for the rehearsal");
    };
    let e = match netdev::bind_rx(l.ifindex, null.as_fd(), &[0]) {
        Ok(_) => return check(what, true, "the kernel took /dev/null as a dma-buf (unexpected)"),
        Err(e) => e,
    };
    let Some(nl) = e.chain().find_map(|c| c.downcast_ref::<NetlinkError>()) else {
        return check(what, false, format!("{e:#}"));
    };
    match (nl.errno, &nl.extack) {
        (libc::EINVAL | libc::EBADF, None) => check(
            what,
            true,
            format!("the device passed the kernel's checks; only the test descriptor was refused ({nl})"),
        ),
        (libc::EPERM, _) => check(what, false, format!("{nl}: bind-rx needs CAP_NET_ADMIN (run as root)")),
        _ => check(what, false, format!("a bind would fail: {nl}")),
    }
}

/// Everything devmem needs of `dev` (in this namespace).
pub fn devmem(dev: &str, l: &LinkInfo, rings: &anyhow::Result<Option<Rings>>) -> DevmemProbe {
    let mut checks = vec![
        kernel(Feature::NetdevBindRx, "kernel bind-rx"),
        kernel(Feature::NetdevBindTx, "kernel bind-tx"),
        udmabuf(),
    ];
    checks.extend(header_split(rings));
    checks.push(steering(dev));
    checks.push(providers(l));
    checks.push(rehearsal(l));
    // devmem TX is optional for a devmem receive run.
    let missing: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok && c.what != "kernel bind-tx")
        .map(|c| format!("{}: {}", c.what, c.detail))
        .collect();
    let verdict = if missing.is_empty() {
        format!("devmem receive can run on {dev}")
    } else {
        format!("devmem cannot run on {dev}: {}", missing.join("; "))
    };
    DevmemProbe { checks, verdict }
}

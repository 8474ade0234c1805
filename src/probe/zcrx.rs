//! `zcbench probe`, io_uring zcrx: what the kernel offers (asked with
//! IORING_REGISTER_QUERY where it can be), and with `--dev IFACE` what the
//! device lacks — from a registration rehearsal that the kernel refuses after
//! its device checks and before it touches any queue (see `sys::uring::zcrx::rehearse`).

use super::check::{Check, check};
use super::devmem;
use crate::sys::ethtool::Rings;
use crate::sys::netlink::link::LinkInfo;
use crate::sys::uring::zcrx::query::{Negotiated, Support};
use crate::sys::uring::{self, zcrx};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ZcrxProbe {
    pub checks: Vec<Check>,
    /// Whether a zcrx run can start on this device, and if not, why.
    pub verdict: String,
}

fn ring() -> Check {
    match zcrx::ring_available() {
        Ok(()) => check("zcrx ring", true, "SINGLE_ISSUER|DEFER_TASKRUN|CQE32 ring created"),
        Err(e) => check("zcrx ring", false, format!("{e:#}")),
    }
}

/// The kernel's side (for the host checks).
pub fn kernel_checks(checks: &mut Vec<Check>) {
    checks.push(ring());
    let n = Negotiated::probe();
    checks.push(check("zcrx negotiation", n.zcrx.is_some(), n.describe()));
    let (ok, why) = match n.nodev() {
        Support::Yes => (true, "yes: --mode zcrx over lo and veth runs as a (labelled) copy path"),
        Support::No => (false, "no: --mode zcrx needs a NIC queue here"),
        Support::Unknown => (false, "unknown (the kernel cannot be asked; it needs 7.1+): a run tries it"),
    };
    checks.push(check("zcrx without a device", ok, why));
    let stats =
        if n.events() { "the kernel counts copy-fallback bytes" } else { "none (7.2+): copy-fallback bytes unknown" };
    checks.push(check("zcrx copy statistics", n.events(), stats));
    match uring::probe() {
        Ok(u) if u.no_iowait => {
            checks.push(check("io_uring NO_IOWAIT", true, "waits can stay out of iowait (--no-iowait)"))
        }
        Ok(_) => {
            checks.push(check("io_uring NO_IOWAIT", false, "no IORING_FEAT_NO_IOWAIT (6.15+): waits count as iowait"))
        }
        Err(e) => checks.push(check("io_uring NO_IOWAIT", false, format!("{e:#}"))),
    }
}

fn rehearsal(l: &LinkInfo) -> Check {
    let what = "zcrx rehearsal";
    let queue = l.num_rx_queues.unwrap_or(1).saturating_sub(1);
    match zcrx::rehearse(l.ifindex, queue, None) {
        Ok(libc::EINVAL) => check(
            what,
            true,
            format!(
                "rx queue {queue} passed the kernel's device checks (a DMA device); only the test area was refused"
            ),
        ),
        Ok(libc::EOPNOTSUPP) => {
            check(what, false, "EOPNOTSUPP: the device has no DMA device for memory providers (virtual device?)")
        }
        Ok(libc::EPERM) => check(what, false, "EPERM: zcrx registration needs CAP_NET_ADMIN (run as root)"),
        Ok(0) => check(what, true, "the kernel took a test registration (unexpected); it was closed at once"),
        Ok(e) => check(what, false, format!("a registration would fail: {}", std::io::Error::from_raw_os_error(e))),
        Err(e) => check(what, false, format!("{e:#}")),
    }
}

/// Everything zcrx needs of `dev` (in this namespace).
pub fn zcrx(dev: &str, l: &LinkInfo, rings: &anyhow::Result<Option<Rings>>) -> ZcrxProbe {
    let mut checks = vec![ring()];
    checks.extend(devmem::header_split(rings));
    checks.push(devmem::steering(dev));
    checks.push(rehearsal(l));
    checks.push(devmem::providers(l));
    let missing: Vec<String> = checks.iter().filter(|c| !c.ok).map(|c| format!("{}: {}", c.what, c.detail)).collect();
    let verdict = if missing.is_empty() {
        format!("zcrx receive can run on {dev}")
    } else {
        format!("zcrx cannot run on {dev}: {}", missing.join("; "))
    };
    ZcrxProbe { checks, verdict }
}

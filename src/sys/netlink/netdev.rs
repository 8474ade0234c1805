//! The netdev generic-netlink family (include/uapi/linux/netdev.h): NAPI
//! instances and their IRQs today; queues, page pools, statistics and the
//! devmem bindings as the data paths need them.

use super::{GenlFamily, MsgBuilder, NlSocket, attrs, get_u32};
use anyhow::Result;

pub const FAMILY: &str = "netdev";

/// Operation ids of the netdev family, by name.
pub const OPS: &[(u32, &str)] = &[
    (1, "dev-get"),
    (5, "page-pool-get"),
    (9, "page-pool-stats-get"),
    (10, "queue-get"),
    (11, "napi-get"),
    (12, "qstats-get"),
    (13, "bind-rx"),
    (14, "napi-set"),
    (15, "bind-tx"),
];
pub const CMD_NAPI_GET: u8 = 11;
pub const CMD_BIND_RX: u8 = 13;
pub const CMD_BIND_TX: u8 = 15;
const A_NAPI_IFINDEX: u16 = 1;
const A_NAPI_IRQ: u16 = 3;

/// The family as this kernel has it; None when the kernel has no netdev family.
pub fn family(sock: &mut NlSocket) -> Result<Option<GenlFamily>> {
    super::resolve_family(sock, FAMILY)
}

/// The names of the operations `f` offers ("opN" for ones not in [`OPS`]).
pub fn op_names(f: &GenlFamily) -> Vec<String> {
    f.ops
        .iter()
        .map(|op| OPS.iter().find(|(id, _)| id == op).map_or(format!("op{op}"), |(_, n)| n.to_string()))
        .collect()
}

/// IRQs of a device's NAPI instances (napi-get dump; kernel ≥ 6.9 and driver support).
pub fn napi_irqs(ifindex: u32) -> Result<Vec<u32>> {
    let mut sock = NlSocket::open(libc::NETLINK_GENERIC)?;
    let Some(fam) = family(&mut sock)? else {
        return Ok(Vec::new());
    };
    let mut m = MsgBuilder::genl(fam.id, CMD_NAPI_GET, 1, super::NLM_F_DUMP);
    m.attr_u32(A_NAPI_IFINDEX, ifindex);
    let mut irqs: Vec<u32> = sock
        .request(&mut m)?
        .iter()
        .filter_map(|r| attrs(r.payload.get(4..)?).find(|(t, _)| *t == A_NAPI_IRQ).and_then(|(_, p)| get_u32(p)))
        .collect();
    irqs.sort_unstable();
    irqs.dedup();
    Ok(irqs)
}

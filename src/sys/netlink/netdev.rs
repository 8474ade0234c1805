//! The netdev generic-netlink family (include/uapi/linux/netdev.h): NAPI
//! instances and their IRQs, queues and what backs them, page pools, and the
//! devmem bindings (bind-rx, bind-tx).

use super::{GenlFamily, MsgBuilder, NetlinkError, NlSocket, attrs, get_u32, get_uint};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, BorrowedFd};

pub const FAMILY: &str = "netdev";
/// The first Linux release with the netdev generic-netlink family.
pub const FAMILY_SINCE: &str = "6.5";

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

// Attribute numbers (include/uapi/linux/netdev.h; checked against the running
// kernel's policies in the tests).
const A_QUEUE_ID: u16 = 1;
const A_QUEUE_IFINDEX: u16 = 2;
const A_QUEUE_TYPE: u16 = 3;
const A_QUEUE_NAPI_ID: u16 = 4;
const A_QUEUE_DMABUF: u16 = 5;
const A_QUEUE_IO_URING: u16 = 6;
const A_IO_URING_RX_BUF_LEN: u16 = 1;
const A_DMABUF_IFINDEX: u16 = 1;
const A_DMABUF_QUEUES: u16 = 2;
const A_DMABUF_FD: u16 = 3;
const A_DMABUF_ID: u16 = 4;
const A_PAGE_POOL_ID: u16 = 1;
const A_PAGE_POOL_IFINDEX: u16 = 2;
const A_PAGE_POOL_NAPI_ID: u16 = 3;
const A_PAGE_POOL_INFLIGHT: u16 = 4;
const A_PAGE_POOL_INFLIGHT_MEM: u16 = 5;
const A_PAGE_POOL_DMABUF: u16 = 7;
const A_PAGE_POOL_IO_URING: u16 = 8;
pub const CMD_PAGE_POOL_GET: u8 = 5;
pub const CMD_QUEUE_GET: u8 = 10;
pub const QUEUE_TYPE_RX: u32 = 0;

fn genl_socket() -> Result<(NlSocket, u16)> {
    let mut sock = NlSocket::open(libc::NETLINK_GENERIC)?;
    let fam = family(&mut sock)?.ok_or_else(|| {
        crate::error::unsupported(format!("this kernel has no netdev netlink family (Linux {FAMILY_SINCE}+)"))
    })?;
    Ok((sock, fam.id))
}

/// A dma-buf bound to a device's queues (bind-rx) or for transmit (bind-tx). The
/// kernel ties the binding to the netlink socket that made it: it lasts exactly
/// as long as this value, and ends (the queues go back to ordinary pages) when
/// it is dropped — also when the process dies.
pub struct Binding {
    _sock: NlSocket,
    /// The binding's dmabuf id: what SCM_DEVMEM_DMABUF cmsgs and queue-get name.
    pub id: u32,
}

fn bind(cmd: u8, what: &str, body: impl FnOnce(&mut MsgBuilder)) -> Result<Binding> {
    let (mut sock, fam) = genl_socket()?;
    let mut m = MsgBuilder::genl(fam, cmd, 1, 0);
    body(&mut m);
    let replies = sock.request(&mut m).with_context(|| format!("netdev {what}"))?;
    let id = replies
        .iter()
        .find_map(|r| attrs(r.payload.get(4..)?).find(|(t, _)| *t == A_DMABUF_ID).and_then(|(_, p)| get_u32(p)))
        .ok_or_else(|| anyhow::anyhow!("netdev {what}: the kernel's reply has no dmabuf id"))?;
    Ok(Binding { _sock: sock, id })
}

/// bind-rx: give rx `queues` of device `ifindex` the dma-buf `fd` as their page
/// provider. Runs in the calling thread's network namespace.
pub fn bind_rx(ifindex: u32, fd: BorrowedFd<'_>, queues: &[u32]) -> Result<Binding> {
    bind(CMD_BIND_RX, "bind-rx", |m| {
        m.attr_u32(A_DMABUF_IFINDEX, ifindex).attr_u32(A_DMABUF_FD, fd.as_raw_fd() as u32);
        for q in queues {
            m.nest_start(A_DMABUF_QUEUES).attr_u32(A_QUEUE_ID, *q).attr_u32(A_QUEUE_TYPE, QUEUE_TYPE_RX).nest_end();
        }
    })
}

/// bind-tx: make the dma-buf `fd` a transmit source on device `ifindex`.
pub fn bind_tx(ifindex: u32, fd: BorrowedFd<'_>) -> Result<Binding> {
    bind(CMD_BIND_TX, "bind-tx", |m| {
        m.attr_u32(A_DMABUF_IFINDEX, ifindex).attr_u32(A_DMABUF_FD, fd.as_raw_fd() as u32);
    })
}

/// One queue as queue-get reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueInfo {
    pub id: u32,
    pub ifindex: u32,
    pub rx: bool,
    pub napi_id: Option<u32>,
    /// The devmem binding whose dma-buf backs the queue.
    pub dmabuf: Option<u32>,
    /// An io_uring zcrx area backs the queue: its buffer length.
    pub io_uring_rx_buf_len: Option<u64>,
    /// An io_uring provider backs the queue (with or without a reported length).
    pub io_uring: bool,
}

pub fn parse_queue(payload: &[u8]) -> QueueInfo {
    let mut q = QueueInfo::default();
    for (ty, p) in attrs(payload) {
        match ty {
            A_QUEUE_ID => q.id = get_u32(p).unwrap_or(0),
            A_QUEUE_IFINDEX => q.ifindex = get_u32(p).unwrap_or(0),
            A_QUEUE_TYPE => q.rx = get_u32(p) == Some(QUEUE_TYPE_RX),
            A_QUEUE_NAPI_ID => q.napi_id = get_u32(p),
            A_QUEUE_DMABUF => q.dmabuf = get_u32(p),
            A_QUEUE_IO_URING => {
                q.io_uring = true;
                q.io_uring_rx_buf_len =
                    attrs(p).find(|(t, _)| *t == A_IO_URING_RX_BUF_LEN).and_then(|(_, v)| get_uint(v));
            }
            _ => {}
        }
    }
    q
}

/// Every queue of device `ifindex` (queue-get dump).
pub fn queues(ifindex: u32) -> Result<Vec<QueueInfo>> {
    let (mut sock, fam) = genl_socket()?;
    let mut m = MsgBuilder::genl(fam, CMD_QUEUE_GET, 1, super::NLM_F_DUMP);
    m.attr_u32(A_QUEUE_IFINDEX, ifindex);
    let replies = sock.request(&mut m).context("netdev queue-get")?;
    Ok(replies.iter().filter_map(|r| r.payload.get(4..)).map(parse_queue).collect())
}

/// Rx queue `queue` of device `ifindex`.
pub fn rx_queue(ifindex: u32, queue: u32) -> Result<QueueInfo> {
    queues(ifindex)?
        .into_iter()
        .find(|q| q.rx && q.id == queue)
        .ok_or_else(|| anyhow::anyhow!("netdev queue-get: device {ifindex} has no rx queue {queue}"))
}

/// One page pool as page-pool-get reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PagePoolInfo {
    pub id: u64,
    pub ifindex: Option<u32>,
    pub napi_id: Option<u64>,
    pub inflight: Option<u64>,
    pub inflight_mem: Option<u64>,
    pub dmabuf: Option<u32>,
    pub io_uring: bool,
}

/// The page pools of device `ifindex` (page-pool-get dump, filtered here).
pub fn page_pools(ifindex: u32) -> Result<Vec<PagePoolInfo>> {
    let (mut sock, fam) = genl_socket()?;
    let mut m = MsgBuilder::genl(fam, CMD_PAGE_POOL_GET, 1, super::NLM_F_DUMP);
    let replies = sock.request(&mut m).context("netdev page-pool-get")?;
    let mut out = Vec::new();
    for r in &replies {
        let mut p = PagePoolInfo::default();
        for (ty, v) in attrs(r.payload.get(4..).unwrap_or_default()) {
            match ty {
                A_PAGE_POOL_ID => p.id = get_uint(v).unwrap_or(0),
                A_PAGE_POOL_IFINDEX => p.ifindex = get_u32(v),
                A_PAGE_POOL_NAPI_ID => p.napi_id = get_uint(v),
                A_PAGE_POOL_INFLIGHT => p.inflight = get_uint(v),
                A_PAGE_POOL_INFLIGHT_MEM => p.inflight_mem = get_uint(v),
                A_PAGE_POOL_DMABUF => p.dmabuf = get_u32(v),
                A_PAGE_POOL_IO_URING => p.io_uring = true,
                _ => {}
            }
        }
        if p.ifindex == Some(ifindex) {
            out.push(p);
        }
    }
    Ok(out)
}

// Statistics: qstats-get and page-pool-stats-get.
pub const CMD_PAGE_POOL_STATS_GET: u8 = 9;
pub const CMD_QSTATS_GET: u8 = 12;
const A_PAGE_POOL_STATS_INFO: u16 = 1;
const A_QSTATS_IFINDEX: u16 = 1;
const A_QSTATS_QUEUE_TYPE: u16 = 2;
const A_QSTATS_QUEUE_ID: u16 = 3;
const A_QSTATS_SCOPE: u16 = 4;
const QSTATS_SCOPE_QUEUE: u32 = 1;

/// Counter attributes of `qstats-get` replies (enum netdev_qstats, from 8 on),
/// by the names the netdev spec gives them.
pub const QSTATS_COUNTERS: &[(u16, &str)] = &[
    (8, "rx-packets"),
    (9, "rx-bytes"),
    (10, "tx-packets"),
    (11, "tx-bytes"),
    (12, "rx-alloc-fail"),
    (13, "rx-hw-drops"),
    (14, "rx-hw-drop-overruns"),
    (15, "rx-csum-complete"),
    (16, "rx-csum-unnecessary"),
    (17, "rx-csum-none"),
    (18, "rx-csum-bad"),
    (19, "rx-hw-gro-packets"),
    (20, "rx-hw-gro-bytes"),
    (21, "rx-hw-gro-wire-packets"),
    (22, "rx-hw-gro-wire-bytes"),
    (23, "rx-hw-drop-ratelimits"),
    (24, "tx-hw-drops"),
    (25, "tx-hw-drop-errors"),
    (26, "tx-csum-none"),
    (27, "tx-needs-csum"),
    (28, "tx-hw-gso-packets"),
    (29, "tx-hw-gso-bytes"),
    (30, "tx-hw-gso-wire-packets"),
    (31, "tx-hw-gso-wire-bytes"),
    (32, "tx-hw-drop-ratelimits"),
    (33, "tx-stop"),
    (34, "tx-wake"),
];

/// Counter attributes of `page-pool-stats-get` replies (enum netdev_page_pool_stats).
pub const PAGE_POOL_COUNTERS: &[(u16, &str)] = &[
    (8, "alloc-fast"),
    (9, "alloc-slow"),
    (10, "alloc-slow-high-order"),
    (11, "alloc-empty"),
    (12, "alloc-refill"),
    (13, "alloc-waive"),
    (14, "recycle-cached"),
    (15, "recycle-cache-full"),
    (16, "recycle-ring"),
    (17, "recycle-ring-full"),
    (18, "recycle-released-refcnt"),
];

/// One queue's counters from `qstats-get`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueCounters {
    /// 0 rx, 1 tx (enum netdev_queue_type).
    pub queue_type: u32,
    pub queue_id: u32,
    pub counters: BTreeMap<&'static str, u64>,
}

/// One page pool's counters from `page-pool-stats-get`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolCounters {
    pub id: u64,
    pub ifindex: u32,
    pub counters: BTreeMap<&'static str, u64>,
}

fn counters(payload: &[u8], names: &[(u16, &'static str)]) -> BTreeMap<&'static str, u64> {
    attrs(payload).filter_map(|(t, p)| Some((names.iter().find(|(n, _)| *n == t)?.1, get_uint(p)?))).collect()
}

/// Why an op cannot be used here: the kernel lacks it (older kernel, or built
/// without the option it depends on), or the family is missing.
fn op_missing(fam: Option<&GenlFamily>, op: u8, name: &str, since: &str) -> Option<String> {
    match fam {
        None => Some(format!("the kernel has no netdev generic-netlink family (Linux {FAMILY_SINCE}+)")),
        Some(f) if !f.ops.contains(&u32::from(op)) => {
            Some(format!("this kernel's netdev family has no {name} ({since})"))
        }
        Some(_) => None,
    }
}

/// Per-queue statistics of a device (`qstats-get`, scope queue). Err(reason)
/// when the kernel or driver does not give them.
pub fn qstats(sock: &mut NlSocket, ifindex: u32) -> Result<Vec<QueueCounters>, String> {
    let fam = family(sock).map_err(|e| format!("{e:#}"))?;
    if let Some(why) = op_missing(fam.as_ref(), CMD_QSTATS_GET, "qstats-get", "needs 6.10+") {
        return Err(why);
    }
    let id = fam.map(|f| f.id).unwrap_or_default();
    let mut m = MsgBuilder::genl(id, CMD_QSTATS_GET, 1, super::NLM_F_DUMP);
    m.attr_u32(A_QSTATS_IFINDEX, ifindex).attr_u32(A_QSTATS_SCOPE, QSTATS_SCOPE_QUEUE);
    let replies = sock.request(&mut m).map_err(|e| netlink_reason("qstats-get", &e))?;
    let queues: Vec<QueueCounters> = replies
        .iter()
        .filter_map(|r| {
            let body = r.payload.get(4..)?;
            let find = |a: u16| attrs(body).find(|(t, _)| *t == a).and_then(|(_, p)| get_u32(p));
            Some(QueueCounters {
                queue_type: find(A_QSTATS_QUEUE_TYPE)?,
                queue_id: find(A_QSTATS_QUEUE_ID)?,
                counters: counters(body, QSTATS_COUNTERS),
            })
        })
        .collect();
    if queues.is_empty() {
        return Err("the driver reports no per-queue statistics (no qstats support)".into());
    }
    Ok(queues)
}

/// Statistics of the page pools of a device (`page-pool-stats-get` dump,
/// filtered by ifindex). Err(reason) when there are none to give.
pub fn page_pool_stats(sock: &mut NlSocket, ifindex: u32) -> Result<Vec<PoolCounters>, String> {
    let fam = family(sock).map_err(|e| format!("{e:#}"))?;
    if let Some(why) = op_missing(
        fam.as_ref(),
        CMD_PAGE_POOL_STATS_GET,
        "page-pool-stats-get",
        "needs 6.8+ and CONFIG_PAGE_POOL_STATS",
    ) {
        return Err(why);
    }
    let id = fam.map(|f| f.id).unwrap_or_default();
    let mut m = MsgBuilder::genl(id, CMD_PAGE_POOL_STATS_GET, 1, super::NLM_F_DUMP);
    let replies = sock.request(&mut m).map_err(|e| netlink_reason("page-pool-stats-get", &e))?;
    let pools: Vec<PoolCounters> = replies
        .iter()
        .filter_map(|r| {
            let body = r.payload.get(4..)?;
            let info = attrs(body).find(|(t, _)| *t == A_PAGE_POOL_STATS_INFO)?.1;
            let in_info = |a: u16| attrs(info).find(|(t, _)| *t == a).map(|(_, p)| p);
            Some(PoolCounters {
                id: in_info(A_PAGE_POOL_ID).and_then(get_uint)?,
                ifindex: in_info(A_PAGE_POOL_IFINDEX).and_then(get_u32).unwrap_or(0),
                counters: counters(body, PAGE_POOL_COUNTERS),
            })
        })
        .filter(|p| p.ifindex == ifindex)
        .collect();
    if pools.is_empty() {
        return Err("the device has no page pools (its driver does not use them, or not in this mode)".into());
    }
    Ok(pools)
}

fn netlink_reason(op: &str, e: &anyhow::Error) -> String {
    match e.chain().find_map(|c| c.downcast_ref::<NetlinkError>()) {
        Some(n) if n.errno == libc::EOPNOTSUPP => format!("{op}: the driver does not support it"),
        Some(n) if n.errno == libc::EPERM => format!("{op}: not permitted ({n}); needs CAP_NET_ADMIN"),
        _ => format!("{op} failed: {e:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::netlink::{
        self, GENL_CMD_CAP_DUMP, NL_ATTR_TYPE_NESTED, NL_ATTR_TYPE_U32, NL_ATTR_TYPE_UINT, op_policy,
    };

    /// Our op and attribute numbers against the running kernel's own policy for
    /// each request we send.
    #[test]
    fn numbers_match_the_running_kernels_policies() {
        let mut sock = NlSocket::open(libc::NETLINK_GENERIC).unwrap();
        let Some(fam) = family(&mut sock).unwrap() else {
            eprintln!("SKIPPED: this kernel has no netdev family");
            return;
        };
        for (op, name) in [(CMD_BIND_RX, "bind-rx"), (CMD_BIND_TX, "bind-tx"), (CMD_QUEUE_GET, "queue-get")] {
            assert!(fam.ops.contains(&u32::from(op)), "{name} ({op}) missing: {:?}", fam.ops);
        }
        let rx = op_policy(&mut sock, fam.id, CMD_BIND_RX).unwrap();
        assert_eq!(rx.get(&A_DMABUF_IFINDEX), Some(&NL_ATTR_TYPE_U32), "{rx:?}");
        assert_eq!(rx.get(&A_DMABUF_FD), Some(&NL_ATTR_TYPE_U32), "{rx:?}");
        assert_eq!(rx.get(&A_DMABUF_QUEUES), Some(&NL_ATTR_TYPE_NESTED), "{rx:?}");
        let tx = op_policy(&mut sock, fam.id, CMD_BIND_TX).unwrap();
        assert_eq!(tx.get(&A_DMABUF_IFINDEX), Some(&NL_ATTR_TYPE_U32), "{tx:?}");
        assert_eq!(tx.get(&A_DMABUF_FD), Some(&NL_ATTR_TYPE_U32), "{tx:?}");
        assert!(!tx.contains_key(&A_DMABUF_QUEUES), "bind-tx takes no queues: {tx:?}");
        let q = op_policy(&mut sock, fam.id, CMD_QUEUE_GET).unwrap();
        for a in [A_QUEUE_ID, A_QUEUE_IFINDEX, A_QUEUE_TYPE] {
            assert_eq!(q.get(&a), Some(&NL_ATTR_TYPE_U32), "queue-get attr {a}: {q:?}");
        }
    }

    /// Loopback's queues, as the kernel lists them; and a bind of lo is refused
    /// by the kernel (no queue management), with its errno.
    #[test]
    fn loopback_queues_and_a_refused_bind() {
        let qs = queues(1).unwrap();
        assert!(qs.iter().any(|q| q.rx && q.id == 0 && q.dmabuf.is_none() && !q.io_uring), "{qs:?}");
        assert_eq!(rx_queue(1, 0).unwrap().ifindex, 1);
        assert!(rx_queue(1, 999).is_err());
        // Any fd will do: the kernel refuses lo before looking at the dma-buf.
        let f = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsFd;
        let e = bind_rx(1, f.as_fd(), &[0]).err().expect("lo cannot take a memory provider");
        let nl = e.chain().find_map(|c| c.downcast_ref::<super::super::NetlinkError>()).expect("a kernel error");
        assert!(matches!(nl.errno, libc::EOPNOTSUPP | libc::EBADF | libc::EINVAL | libc::EPERM), "{e:#}");
        let e = bind_tx(1, f.as_fd()).err().expect("lo cannot transmit from a dma-buf");
        assert!(format!("{e:#}").contains("bind-tx"), "{e:#}");
    }

    /// Our command and request-attribute numbers against the running kernel:
    /// the ops are dumpable, and their dump/do policies take the attributes
    /// we send with the types we encode.
    #[test]
    fn stats_ops_and_attributes_match_the_running_kernel() {
        let mut sock = NlSocket::open(libc::NETLINK_GENERIC).unwrap();
        let Some(fam) = family(&mut sock).unwrap() else {
            eprintln!("SKIPPED: this kernel has no netdev family");
            return;
        };
        let flags = |op: u8| fam.op_flags.iter().find(|(i, _)| *i == u32::from(op)).map(|(_, f)| *f);
        let q = flags(CMD_QSTATS_GET).expect("6.18 has qstats-get");
        assert!(q & GENL_CMD_CAP_DUMP != 0, "qstats-get {q:#x}");
        let pol = netlink::op_dump_policy(&mut sock, fam.id, CMD_QSTATS_GET).unwrap();
        assert_eq!(pol.get(&A_QSTATS_IFINDEX), Some(&NL_ATTR_TYPE_U32), "{pol:?}");
        assert_eq!(pol.get(&A_QSTATS_SCOPE), Some(&NL_ATTR_TYPE_UINT), "{pol:?}");
        match flags(CMD_PAGE_POOL_STATS_GET) {
            Some(f) => {
                assert!(f & GENL_CMD_CAP_DUMP != 0, "page-pool-stats-get {f:#x}");
                let pol = netlink::op_policy(&mut sock, fam.id, CMD_PAGE_POOL_STATS_GET).unwrap();
                assert_eq!(pol.get(&A_PAGE_POOL_STATS_INFO), Some(&NL_ATTR_TYPE_NESTED), "{pol:?}");
            }
            None => {
                let e = page_pool_stats(&mut sock, 1).unwrap_err();
                assert!(e.contains("CONFIG_PAGE_POOL_STATS"), "{e}");
            }
        }
    }

    /// Devices without queue statistics (loopback) are reported as such, not as zeros.
    #[test]
    fn loopback_has_no_queue_stats_and_says_so() {
        let mut sock = NlSocket::open(libc::NETLINK_GENERIC).unwrap();
        let e = qstats(&mut sock, 1).unwrap_err();
        assert!(e.contains("no per-queue statistics") || e.contains("does not support"), "{e}");
        let e = page_pool_stats(&mut sock, 1).unwrap_err();
        assert!(e.contains("page pools") || e.contains("CONFIG_PAGE_POOL_STATS"), "{e}");
    }

    #[test]
    fn counters_are_named_and_read_at_either_width() {
        let mut m = MsgBuilder::new(0, 0);
        m.attr_u32(A_QSTATS_QUEUE_ID, 3).attr(9, &(1u64 << 40).to_ne_bytes()).attr_u32(12, 7).attr_u32(99, 1);
        let b = m.finish(1).to_vec();
        let c = counters(&b[16..], QSTATS_COUNTERS);
        assert_eq!(c.get("rx-bytes"), Some(&(1u64 << 40)));
        assert_eq!(c.get("rx-alloc-fail"), Some(&7));
        assert_eq!(c.len(), 2, "ids and unknown attributes are not counters: {c:?}");
    }
}

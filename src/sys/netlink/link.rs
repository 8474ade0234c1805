//! Link facts over rtnetlink (RTM_GETLINK): MTU, GSO/GRO/TSO limits, queue counts.

use super::{MsgBuilder, NetlinkError, NlSocket, attrs, get_str, get_u32};
use crate::error::usage;
use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
// Numbers from include/uapi/linux/if_link.h (checked against `ip -d -j link` in tests).
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MTU: u16 = 4;
pub const IFLA_NUM_TX_QUEUES: u16 = 31;
pub const IFLA_NUM_RX_QUEUES: u16 = 32;
pub const IFLA_GSO_MAX_SEGS: u16 = 40;
pub const IFLA_GSO_MAX_SIZE: u16 = 41;
pub const IFLA_MIN_MTU: u16 = 50;
pub const IFLA_MAX_MTU: u16 = 51;
pub const IFLA_GRO_MAX_SIZE: u16 = 58;
pub const IFLA_TSO_MAX_SIZE: u16 = 59;
pub const IFLA_GSO_IPV4_MAX_SIZE: u16 = 63;
pub const IFLA_GRO_IPV4_MAX_SIZE: u16 = 64;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LinkInfo {
    pub name: String,
    pub ifindex: u32,
    pub mtu: u32,
    pub min_mtu: Option<u32>,
    pub max_mtu: Option<u32>,
    pub gso_max_size: Option<u32>,
    pub gso_max_segs: Option<u32>,
    pub gro_max_size: Option<u32>,
    pub gso_ipv4_max_size: Option<u32>,
    pub gro_ipv4_max_size: Option<u32>,
    pub tso_max_size: Option<u32>,
    pub num_rx_queues: Option<u32>,
    pub num_tx_queues: Option<u32>,
    /// IFF_UP: administratively up.
    pub admin_up: bool,
}

/// ifinfomsg: family, pad, type, index, flags, change.
fn ifinfomsg(index: i32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b
}

pub fn parse_link(payload: &[u8]) -> Option<LinkInfo> {
    let index = i32::from_ne_bytes(payload.get(4..8)?.try_into().ok()?);
    let flags = u32::from_ne_bytes(payload.get(8..12)?.try_into().ok()?);
    let mut l = LinkInfo { ifindex: index as u32, admin_up: flags & libc::IFF_UP as u32 != 0, ..Default::default() };
    for (ty, p) in attrs(payload.get(16..)?) {
        match ty {
            IFLA_IFNAME => l.name = get_str(p),
            IFLA_MTU => l.mtu = get_u32(p).unwrap_or(0),
            IFLA_MIN_MTU => l.min_mtu = get_u32(p),
            IFLA_MAX_MTU => l.max_mtu = get_u32(p),
            IFLA_GSO_MAX_SIZE => l.gso_max_size = get_u32(p),
            IFLA_GSO_MAX_SEGS => l.gso_max_segs = get_u32(p),
            IFLA_GRO_MAX_SIZE => l.gro_max_size = get_u32(p),
            IFLA_GSO_IPV4_MAX_SIZE => l.gso_ipv4_max_size = get_u32(p),
            IFLA_GRO_IPV4_MAX_SIZE => l.gro_ipv4_max_size = get_u32(p),
            IFLA_TSO_MAX_SIZE => l.tso_max_size = get_u32(p),
            IFLA_NUM_RX_QUEUES => l.num_rx_queues = get_u32(p),
            IFLA_NUM_TX_QUEUES => l.num_tx_queues = get_u32(p),
            _ => {}
        }
    }
    Some(l)
}

/// One link of the calling thread's network namespace, by name. A missing device
/// is a usage error that says so.
pub fn get_link(name: &str) -> Result<LinkInfo> {
    let mut sock = NlSocket::open(libc::NETLINK_ROUTE)?;
    let mut m = MsgBuilder::new(RTM_GETLINK, 0);
    m.raw(&ifinfomsg(0)).attr_str(IFLA_IFNAME, name);
    let replies = match sock.request(&mut m) {
        Ok(r) => r,
        Err(e) if e.downcast_ref::<NetlinkError>().is_some_and(|n| n.errno == libc::ENODEV) => {
            return Err(usage(format!("no network interface '{name}' on this host (see `ip link`)")));
        }
        Err(e) => return Err(e.context(format!("reading link {name} over rtnetlink"))),
    };
    replies
        .iter()
        .find(|m| m.ty == RTM_NEWLINK)
        .and_then(|m| parse_link(&m.payload))
        .ok_or_else(|| anyhow!("rtnetlink gave no link record for {name}"))
}

/// A link attribute zcbench sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkAttr {
    Mtu,
    GsoMaxSize,
    GroMaxSize,
    GsoIpv4MaxSize,
    GroIpv4MaxSize,
}

impl LinkAttr {
    pub fn ifla(self) -> u16 {
        match self {
            LinkAttr::Mtu => IFLA_MTU,
            LinkAttr::GsoMaxSize => IFLA_GSO_MAX_SIZE,
            LinkAttr::GroMaxSize => IFLA_GRO_MAX_SIZE,
            LinkAttr::GsoIpv4MaxSize => IFLA_GSO_IPV4_MAX_SIZE,
            LinkAttr::GroIpv4MaxSize => IFLA_GRO_IPV4_MAX_SIZE,
        }
    }
    /// The name `ip -d link` prints.
    pub fn name(self) -> &'static str {
        match self {
            LinkAttr::Mtu => "mtu",
            LinkAttr::GsoMaxSize => "gso_max_size",
            LinkAttr::GroMaxSize => "gro_max_size",
            LinkAttr::GsoIpv4MaxSize => "gso_ipv4_max_size",
            LinkAttr::GroIpv4MaxSize => "gro_ipv4_max_size",
        }
    }
    pub fn of(self, l: &LinkInfo) -> Option<u32> {
        match self {
            LinkAttr::Mtu => Some(l.mtu),
            LinkAttr::GsoMaxSize => l.gso_max_size,
            LinkAttr::GroMaxSize => l.gro_max_size,
            LinkAttr::GsoIpv4MaxSize => l.gso_ipv4_max_size,
            LinkAttr::GroIpv4MaxSize => l.gro_ipv4_max_size,
        }
    }
}

/// Set one u32 link attribute (RTM_NEWLINK on an existing ifindex, as `ip link
/// set` does) in the calling thread's network namespace.
pub fn set_link_u32(dev: &str, attr: LinkAttr, value: u32) -> Result<()> {
    let l = get_link(dev)?;
    let mut sock = NlSocket::open(libc::NETLINK_ROUTE)?;
    let mut m = MsgBuilder::new(RTM_NEWLINK, 0);
    m.raw(&ifinfomsg(l.ifindex as i32)).attr_u32(attr.ifla(), value);
    sock.request(&mut m).with_context(|| format!("{dev}: setting {} to {value} over rtnetlink", attr.name()))?;
    Ok(())
}

/// Every link of the calling thread's network namespace.
pub fn list_links() -> Result<Vec<LinkInfo>> {
    let mut sock = NlSocket::open(libc::NETLINK_ROUTE)?;
    let mut m = MsgBuilder::new(RTM_GETLINK, super::NLM_F_DUMP);
    m.raw(&ifinfomsg(0));
    let replies = sock.request(&mut m).context("listing links over rtnetlink")?;
    Ok(replies.iter().filter(|m| m.ty == RTM_NEWLINK).filter_map(|m| parse_link(&m.payload)).collect())
}

/// The driver-independent sysfs directory of a device in the current mount namespace.
pub fn sysfs_dir(dev: &str) -> std::path::PathBuf {
    std::path::Path::new("/sys/class/net").join(dev)
}

/// Number of rx queues in use, as sysfs shows them (`queues/rx-N`), in namespace
/// `ns` (None: this one). IFLA_NUM_RX_QUEUES is the allocated count, which can be
/// larger (veth allocates one per possible core).
pub fn rx_queue_count(ns: Option<&str>, dev: &str) -> Result<usize> {
    let dir = sysfs_dir(dev).join("queues");
    let place = crate::sys::netns::Place::named(ns)?;
    let names = crate::sys::netns::list_at(&place, &dir.to_string_lossy())?;
    Ok(names.iter().filter(|n| n.starts_with("rx-")).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_matches_iproute2() {
        let lo = get_link("lo").unwrap();
        assert_eq!(lo.name, "lo");
        assert_eq!(lo.ifindex, 1);
        let sys_mtu: u32 = std::fs::read_to_string("/sys/class/net/lo/mtu").unwrap().trim().parse().unwrap();
        assert_eq!(lo.mtu, sys_mtu);
        // Cross-check the attribute numbers with iproute2 when it can print JSON.
        if let Ok(out) = std::process::Command::new("ip").args(["-d", "-j", "link", "show", "lo"]).output() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let ip = &v[0];
            assert_eq!(ip["gso_max_size"].as_u64(), lo.gso_max_size.map(u64::from));
            assert_eq!(ip["gso_max_segs"].as_u64(), lo.gso_max_segs.map(u64::from));
            assert_eq!(ip["gro_max_size"].as_u64(), lo.gro_max_size.map(u64::from));
            if let Some(v) = ip["gso_ipv4_max_size"].as_u64() {
                assert_eq!(Some(v), lo.gso_ipv4_max_size.map(u64::from));
            }
            if let Some(v) = ip["tso_max_size"].as_u64() {
                assert_eq!(Some(v), lo.tso_max_size.map(u64::from));
            }
            assert_eq!(ip["num_rx_queues"].as_u64(), lo.num_rx_queues.map(u64::from));
            if let Some(v) = ip["max_mtu"].as_u64() {
                assert_eq!(Some(v), lo.max_mtu.map(u64::from));
            }
        }
    }

    #[test]
    fn attribute_numbers_match_the_uapi_header() {
        let n = |name: &'static str, v: u16| (name, u64::from(v), name);
        // The IPv4 BIG TCP attributes (6.3) are newer than some hosts' headers;
        // they are checked against `ip -d -j link` above where iproute2 prints them.
        crate::sys::uapi_check::assert_matches(
            &["linux/if_link.h"],
            &[
                n("IFLA_IFNAME", IFLA_IFNAME),
                n("IFLA_MTU", IFLA_MTU),
                n("IFLA_NUM_TX_QUEUES", IFLA_NUM_TX_QUEUES),
                n("IFLA_NUM_RX_QUEUES", IFLA_NUM_RX_QUEUES),
                n("IFLA_GSO_MAX_SEGS", IFLA_GSO_MAX_SEGS),
                n("IFLA_GSO_MAX_SIZE", IFLA_GSO_MAX_SIZE),
                n("IFLA_MIN_MTU", IFLA_MIN_MTU),
                n("IFLA_MAX_MTU", IFLA_MAX_MTU),
                n("IFLA_GRO_MAX_SIZE", IFLA_GRO_MAX_SIZE),
                n("IFLA_TSO_MAX_SIZE", IFLA_TSO_MAX_SIZE),
            ],
        );
    }

    #[test]
    fn missing_device_is_a_usage_error() {
        let e = get_link("nosuchdev0").unwrap_err();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Usage);
        assert!(e.to_string().contains("nosuchdev0"));
    }

    #[test]
    fn dump_contains_lo() {
        assert!(list_links().unwrap().iter().any(|l| l.name == "lo"));
        // lo is always up (ip link says UP in its flags).
        assert!(get_link("lo").unwrap().admin_up);
    }
}

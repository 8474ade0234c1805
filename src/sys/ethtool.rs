//! ethtool: the SIOCETHTOOL ioctl (driver info) and the ethtool generic-netlink
//! family (rings: header split, hds threshold).

use super::netlink::{self, MsgBuilder, NetlinkError, NlSocket, attrs, get_u8, get_u32};
use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GDRVINFO: u32 = 0x0000_0003;

/// struct ethtool_drvinfo from include/uapi/linux/ethtool.h (196 bytes).
#[repr(C)]
pub struct EthtoolDrvinfo {
    pub cmd: u32,
    pub driver: [u8; 32],
    pub version: [u8; 32],
    pub fw_version: [u8; 32],
    pub bus_info: [u8; 32],
    pub erom_version: [u8; 32],
    pub reserved2: [u8; 12],
    pub n_priv_flags: u32,
    pub n_stats: u32,
    pub testinfo_len: u32,
    pub eedump_len: u32,
    pub regdump_len: u32,
}

/// struct ifreq as SIOCETHTOOL uses it: name, then a pointer to the command struct.
#[repr(C)]
struct IfreqData {
    name: [u8; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DriverInfo {
    pub driver: String,
    pub version: String,
    pub firmware: String,
    pub bus_info: String,
}

fn cstr(b: &[u8]) -> String {
    netlink::get_str(b)
}

fn ioctl_socket() -> Result<OwnedFd> {
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error()).context("opening a socket for SIOCETHTOOL");
    }
    // SAFETY: fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Run one SIOCETHTOOL command whose struct starts with the u32 `cmd`.
pub fn ethtool_ioctl<T>(dev: &str, cmd: &mut T) -> io::Result<()> {
    if dev.len() >= libc::IFNAMSIZ {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    let sock = ioctl_socket().map_err(|e| io::Error::other(e.to_string()))?;
    let mut ifr = IfreqData { name: [0; libc::IFNAMSIZ], data: cmd as *mut T as *mut libc::c_void, _pad: [0; 16] };
    ifr.name[..dev.len()].copy_from_slice(dev.as_bytes());
    // SAFETY: ifr points at a valid ifreq whose data points at a live, correctly sized command struct.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL as _, &mut ifr) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Driver name, version, firmware and bus of a device (ETHTOOL_GDRVINFO), in the
/// calling thread's network namespace.
pub fn driver_info(dev: &str) -> Result<DriverInfo> {
    // SAFETY: all-zero is a valid ethtool_drvinfo.
    let mut d: EthtoolDrvinfo = unsafe { std::mem::zeroed() };
    d.cmd = ETHTOOL_GDRVINFO;
    ethtool_ioctl(dev, &mut d).with_context(|| format!("{dev}: ETHTOOL_GDRVINFO failed"))?;
    Ok(DriverInfo {
        driver: cstr(&d.driver),
        version: cstr(&d.version),
        firmware: cstr(&d.fw_version),
        bus_info: cstr(&d.bus_info),
    })
}

// include/uapi/linux/ethtool_netlink_generated.h
pub const ETHTOOL_GENL_NAME: &str = "ethtool";
pub const ETHTOOL_MSG_RINGS_GET: u8 = 15;
const ETHTOOL_A_HEADER_DEV_NAME: u16 = 2;
const ETHTOOL_A_RINGS_HEADER: u16 = 1;
const ETHTOOL_A_RINGS_RX_MAX: u16 = 2;
const ETHTOOL_A_RINGS_TX_MAX: u16 = 5;
const ETHTOOL_A_RINGS_RX: u16 = 6;
const ETHTOOL_A_RINGS_TX: u16 = 9;
const ETHTOOL_A_RINGS_TCP_DATA_SPLIT: u16 = 11;
const ETHTOOL_A_RINGS_HDS_THRESH: u16 = 17;
const ETHTOOL_A_RINGS_HDS_THRESH_MAX: u16 = 18;

/// Header split as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSplit {
    /// The driver reports nothing: it cannot split headers.
    NotReported,
    Unknown,
    Disabled,
    Enabled,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rings {
    pub rx: Option<u32>,
    pub rx_max: Option<u32>,
    pub tx: Option<u32>,
    pub tx_max: Option<u32>,
    pub tcp_data_split: DataSplit,
    pub hds_thresh: Option<u32>,
    pub hds_thresh_max: Option<u32>,
}

pub fn parse_rings(payload: &[u8]) -> Rings {
    let mut r = Rings {
        rx: None,
        rx_max: None,
        tx: None,
        tx_max: None,
        tcp_data_split: DataSplit::NotReported,
        hds_thresh: None,
        hds_thresh_max: None,
    };
    for (ty, p) in attrs(payload) {
        match ty {
            ETHTOOL_A_RINGS_RX => r.rx = get_u32(p),
            ETHTOOL_A_RINGS_RX_MAX => r.rx_max = get_u32(p),
            ETHTOOL_A_RINGS_TX => r.tx = get_u32(p),
            ETHTOOL_A_RINGS_TX_MAX => r.tx_max = get_u32(p),
            ETHTOOL_A_RINGS_TCP_DATA_SPLIT => {
                r.tcp_data_split = match get_u8(p) {
                    Some(1) => DataSplit::Disabled,
                    Some(2) => DataSplit::Enabled,
                    _ => DataSplit::Unknown,
                }
            }
            ETHTOOL_A_RINGS_HDS_THRESH => r.hds_thresh = get_u32(p),
            ETHTOOL_A_RINGS_HDS_THRESH_MAX => r.hds_thresh_max = get_u32(p),
            _ => {}
        }
    }
    r
}

/// Ring parameters over ethtool netlink. `Ok(None)` when the driver has no ring
/// operations (EOPNOTSUPP), which for zero-copy receive means "no header split".
pub fn rings(dev: &str) -> Result<Option<Rings>> {
    let mut sock = NlSocket::open(libc::NETLINK_GENERIC)?;
    let fam = netlink::resolve_family(&mut sock, ETHTOOL_GENL_NAME)?
        .ok_or_else(|| anyhow!("the kernel has no ethtool netlink family (CONFIG_ETHTOOL_NETLINK off)"))?;
    let mut m = MsgBuilder::genl(fam.id, ETHTOOL_MSG_RINGS_GET, 1, 0);
    m.nest_start(ETHTOOL_A_RINGS_HEADER).attr_str(ETHTOOL_A_HEADER_DEV_NAME, dev).nest_end();
    match sock.request(&mut m) {
        Ok(replies) => Ok(replies.first().map(|r| parse_rings(r.payload.get(4..).unwrap_or_default()))),
        Err(e) if e.downcast_ref::<NetlinkError>().is_some_and(|n| n.errno == libc::EOPNOTSUPP) => Ok(None),
        Err(e) => Err(e.context(format!("{dev}: ethtool rings-get failed"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drvinfo_layout_matches_uapi() {
        assert_eq!(std::mem::size_of::<EthtoolDrvinfo>(), 196);
        assert_eq!(std::mem::offset_of!(EthtoolDrvinfo, fw_version), 68);
        assert_eq!(std::mem::offset_of!(EthtoolDrvinfo, n_priv_flags), 176);
        assert_eq!(std::mem::size_of::<IfreqData>(), 40);
        assert_eq!(std::mem::offset_of!(IfreqData, data), 16);
    }

    #[test]
    fn loopback_driver_is_reported_or_refused_clearly() {
        // lo has no ethtool drvinfo op in some kernels; either way the answer is precise.
        match driver_info("lo") {
            Ok(d) => assert!(!d.driver.is_empty() || d.bus_info.is_empty()),
            Err(e) => assert!(e.to_string().contains("lo: ETHTOOL_GDRVINFO")),
        }
        let e = driver_info("nosuchdev0").unwrap_err();
        assert!(format!("{e:#}").contains("nosuchdev0"));
    }

    #[test]
    fn rings_parse_header_split_states() {
        let mut m = MsgBuilder::new(0, 0);
        m.attr_u32(ETHTOOL_A_RINGS_RX, 1024)
            .attr(ETHTOOL_A_RINGS_TCP_DATA_SPLIT, &[2])
            .attr_u32(ETHTOOL_A_RINGS_HDS_THRESH, 0);
        let b = m.finish(1).to_vec();
        let r = parse_rings(&b[16..]);
        assert_eq!(r.rx, Some(1024));
        assert_eq!(r.tcp_data_split, DataSplit::Enabled);
        assert_eq!(r.hds_thresh, Some(0));
        assert_eq!(parse_rings(&[]).tcp_data_split, DataSplit::NotReported);
    }
}

//! The SIOCETHTOOL ioctl: the commands ethtool netlink has no equivalent for
//! (driver info here; flow steering and RSS in `rxnfc`).

use crate::sys::netlink;
use anyhow::{Context, Result};
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

/// A command struct SIOCETHTOOL may be handed by reference: a `#[repr(C)]`
/// struct whose first u32 is the command and whose size is what the kernel reads
/// and writes for every command it is used with. Sealed: only the structs below,
/// each with a layout test, can be passed.
///
/// # Safety
/// An implementation promises that layout; a wrong one lets the kernel write past it.
pub unsafe trait EthtoolCmd: sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::EthtoolDrvinfo {}
}

// SAFETY: EthtoolDrvinfo is the 196-byte struct ethtool_drvinfo (layout test below).
unsafe impl EthtoolCmd for EthtoolDrvinfo {}

/// Run one SIOCETHTOOL command on a struct the kernel knows the size of.
pub fn ethtool_ioctl<T: EthtoolCmd>(dev: &str, cmd: &mut T) -> io::Result<()> {
    // SAFETY: `cmd` is a live, exclusively borrowed struct of the size its command expects (EthtoolCmd).
    unsafe { ethtool_ioctl_raw(dev, cmd as *mut T as *mut libc::c_void) }
}

/// SIOCETHTOOL with a raw pointer to the command struct.
///
/// # Safety
/// `data` must point at writable memory at least as large as the kernel reads
/// and writes for the command it starts with.
pub unsafe fn ethtool_ioctl_raw(dev: &str, data: *mut libc::c_void) -> io::Result<()> {
    if dev.len() >= libc::IFNAMSIZ {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    let sock = ioctl_socket().map_err(|e| io::Error::other(e.to_string()))?;
    let mut ifr = IfreqData { name: [0; libc::IFNAMSIZ], data, _pad: [0; 16] };
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
}

//! Flow steering (ntuple rules) and the RSS indirection table through the
//! SIOCETHTOOL ioctl: ethtool netlink has no set operation for either.
//!
//! The command structs are laid out by hand as bytes at the offsets of
//! include/uapi/linux/ethtool.h (64-bit layout: `struct ethtool_rxnfc` is 192
//! bytes with `rule_locs[]` after it); the unit tests pin every offset, and an
//! integration test compares them with the system's own header through a C
//! compiler.

use super::ioctl::ethtool_ioctl_raw;
use std::io;
use std::net::{IpAddr, SocketAddr};

pub const ETHTOOL_GRXRINGS: u32 = 0x2d;
pub const ETHTOOL_GRXCLSRLCNT: u32 = 0x2e;
pub const ETHTOOL_GRXCLSRULE: u32 = 0x2f;
pub const ETHTOOL_GRXCLSRLALL: u32 = 0x30;
pub const ETHTOOL_SRXCLSRLDEL: u32 = 0x31;
pub const ETHTOOL_SRXCLSRLINS: u32 = 0x32;
pub const ETHTOOL_GRXFHINDIR: u32 = 0x38;
pub const ETHTOOL_SRXFHINDIR: u32 = 0x39;
pub const TCP_V4_FLOW: u32 = 0x01;
pub const TCP_V6_FLOW: u32 = 0x05;
pub const RX_CLS_LOC_SPECIAL: u32 = 0x8000_0000;
pub const RX_CLS_LOC_ANY: u32 = 0xffff_ffff;

// struct ethtool_rxnfc
pub const RXNFC_SIZE: usize = 192;
pub const NFC_CMD: usize = 0;
pub const NFC_FLOW_TYPE: usize = 4;
pub const NFC_DATA: usize = 8;
pub const NFC_FS: usize = 16;
pub const NFC_RULE_CNT: usize = 184;
pub const NFC_RULE_LOCS: usize = 188;
// struct ethtool_rx_flow_spec, relative to its start
pub const FS_SIZE: usize = 168;
pub const FS_FLOW_TYPE: usize = 0;
pub const FS_H_U: usize = 4;
pub const FS_H_EXT: usize = 56;
pub const FS_M_U: usize = 76;
pub const FS_M_EXT: usize = 128;
pub const FS_RING_COOKIE: usize = 152;
pub const FS_LOCATION: usize = 160;
// struct ethtool_tcpip4_spec / ethtool_tcpip6_spec inside the 52-byte flow union
pub const IP4_SRC: usize = 0;
pub const IP4_DST: usize = 4;
pub const IP4_PSRC: usize = 8;
pub const IP4_PDST: usize = 10;
pub const IP6_SRC: usize = 0;
pub const IP6_DST: usize = 16;
pub const IP6_PSRC: usize = 32;
pub const IP6_PDST: usize = 34;
// struct ethtool_rxfh_indir
pub const INDIR_SIZE: usize = 4;
pub const INDIR_RING_INDEX: usize = 8;

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}
fn get_u32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(a)
}
fn get_u64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(a)
}

/// A TCP flow to steer to an rx queue: the 5-tuple when `src` is known, else the
/// 3-tuple (destination address, destination port, TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRule {
    pub src: Option<SocketAddr>,
    pub dst: SocketAddr,
    pub queue: u32,
}

impl FlowRule {
    pub fn describe(&self) -> String {
        match self.src {
            Some(s) => format!("tcp {s} -> {} to rx queue {}", self.dst, self.queue),
            None => format!("tcp * -> {} to rx queue {}", self.dst, self.queue),
        }
    }
}

/// `struct ethtool_rx_flow_spec` bytes for `rule` at `location`. Address and
/// port fields are big-endian; a mask of all ones means "match exactly".
pub fn encode_flow_spec(rule: &FlowRule, location: u32) -> [u8; FS_SIZE] {
    let mut fs = [0u8; FS_SIZE];
    let v6 = rule.dst.is_ipv6();
    put_u32(&mut fs, FS_FLOW_TYPE, if v6 { TCP_V6_FLOW } else { TCP_V4_FLOW });
    let (src_off, dst_off, psrc, pdst) =
        if v6 { (IP6_SRC, IP6_DST, IP6_PSRC, IP6_PDST) } else { (IP4_SRC, IP4_DST, IP4_PSRC, IP4_PDST) };
    let put_addr = |fs: &mut [u8; FS_SIZE], off: usize, ip: IpAddr| {
        let (h, m) = (FS_H_U + off, FS_M_U + off);
        match ip {
            IpAddr::V4(a) => {
                fs[h..h + 4].copy_from_slice(&a.octets());
                fs[m..m + 4].fill(0xff);
            }
            IpAddr::V6(a) => {
                fs[h..h + 16].copy_from_slice(&a.octets());
                fs[m..m + 16].fill(0xff);
            }
        }
    };
    put_addr(&mut fs, dst_off, rule.dst.ip());
    fs[FS_H_U + pdst..FS_H_U + pdst + 2].copy_from_slice(&rule.dst.port().to_be_bytes());
    fs[FS_M_U + pdst..FS_M_U + pdst + 2].fill(0xff);
    if let Some(src) = rule.src {
        put_addr(&mut fs, src_off, src.ip());
        fs[FS_H_U + psrc..FS_H_U + psrc + 2].copy_from_slice(&src.port().to_be_bytes());
        fs[FS_M_U + psrc..FS_M_U + psrc + 2].fill(0xff);
    }
    fs[FS_RING_COOKIE..FS_RING_COOKIE + 8].copy_from_slice(&u64::from(rule.queue).to_ne_bytes());
    put_u32(&mut fs, FS_LOCATION, location);
    fs
}

/// Two flow specs describe the same rule (location and extensions aside).
pub fn same_rule(a: &[u8], b: &[u8]) -> bool {
    a.len() >= FS_SIZE
        && b.len() >= FS_SIZE
        && a[FS_FLOW_TYPE..FS_H_EXT] == b[FS_FLOW_TYPE..FS_H_EXT]
        && a[FS_M_U..FS_M_EXT] == b[FS_M_U..FS_M_EXT]
        && a[FS_RING_COOKIE..FS_LOCATION] == b[FS_RING_COOKIE..FS_LOCATION]
}

/// A `struct ethtool_rxnfc` (plus `extra` u32 slots of `rule_locs`), 8-byte aligned.
pub fn rxnfc(cmd: u32, extra: usize) -> Vec<u64> {
    let mut v = vec![0u64; (RXNFC_SIZE + 4 * extra).div_ceil(8)];
    put_u32(bytes_mut(&mut v), NFC_CMD, cmd);
    v
}

pub fn bytes_mut(v: &mut [u64]) -> &mut [u8] {
    // SAFETY: u64 storage viewed as bytes; u8 has no alignment or validity requirements.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, v.len() * 8) }
}

fn ioctl(dev: &str, buf: &mut [u64]) -> io::Result<()> {
    // SAFETY: buf is at least as large as the command's struct plus the trailing
    // array the kernel was told about (rule_cnt / size), and lives across the call.
    unsafe { ethtool_ioctl_raw(dev, buf.as_mut_ptr() as *mut libc::c_void) }
}

/// Number of rx rings the device spreads flows over (ETHTOOL_GRXRINGS).
pub fn rx_rings(dev: &str) -> io::Result<u32> {
    let mut b = rxnfc(ETHTOOL_GRXRINGS, 0);
    ioctl(dev, &mut b)?;
    Ok(get_u64(bytes_mut(&mut b), NFC_DATA) as u32)
}

/// Rule table: (table size with the RX_CLS_LOC_SPECIAL flag as the driver gives
/// it, locations in use).
pub fn rule_table(dev: &str) -> io::Result<(u32, Vec<u32>)> {
    let mut b = rxnfc(ETHTOOL_GRXCLSRLCNT, 0);
    ioctl(dev, &mut b)?;
    let count = get_u32(bytes_mut(&mut b), NFC_RULE_CNT) as usize;
    let mut b = rxnfc(ETHTOOL_GRXCLSRLALL, count);
    put_u32(bytes_mut(&mut b), NFC_RULE_CNT, count as u32);
    ioctl(dev, &mut b)?;
    let bytes = bytes_mut(&mut b);
    let size = get_u64(bytes, NFC_DATA) as u32;
    let n = (get_u32(bytes, NFC_RULE_CNT) as usize).min(count);
    Ok((size, (0..n).map(|i| get_u32(bytes, NFC_RULE_LOCS + 4 * i)).collect()))
}

/// Where to insert a new rule: the driver's choice when it supports special
/// locations, else the highest free slot (as ethtool does).
pub fn pick_location(table_size: u32, used: &[u32]) -> Option<u32> {
    if table_size & RX_CLS_LOC_SPECIAL != 0 {
        return Some(RX_CLS_LOC_ANY);
    }
    (0..table_size).rev().find(|l| !used.contains(l))
}

pub fn get_rule(dev: &str, location: u32) -> io::Result<[u8; FS_SIZE]> {
    let mut b = rxnfc(ETHTOOL_GRXCLSRULE, 0);
    put_u32(bytes_mut(&mut b), NFC_FS + FS_LOCATION, location);
    ioctl(dev, &mut b)?;
    let mut fs = [0u8; FS_SIZE];
    fs.copy_from_slice(&bytes_mut(&mut b)[NFC_FS..NFC_FS + FS_SIZE]);
    Ok(fs)
}

/// Insert a rule; returns the location the driver put it at.
pub fn insert_rule(dev: &str, fs: &[u8; FS_SIZE]) -> io::Result<u32> {
    let mut b = rxnfc(ETHTOOL_SRXCLSRLINS, 0);
    let bytes = bytes_mut(&mut b);
    put_u32(bytes, NFC_FLOW_TYPE, get_u32(fs, FS_FLOW_TYPE));
    bytes[NFC_FS..NFC_FS + FS_SIZE].copy_from_slice(fs);
    ioctl(dev, &mut b)?;
    Ok(get_u32(bytes_mut(&mut b), NFC_FS + FS_LOCATION))
}

pub fn delete_rule(dev: &str, location: u32) -> io::Result<()> {
    let mut b = rxnfc(ETHTOOL_SRXCLSRLDEL, 0);
    put_u32(bytes_mut(&mut b), NFC_FS + FS_LOCATION, location);
    ioctl(dev, &mut b)
}

/// Locations of installed rules equal to `fs` (to undo a rule whose location the
/// driver chose).
pub fn find_rules(dev: &str, fs: &[u8]) -> io::Result<Vec<u32>> {
    let (_, used) = rule_table(dev)?;
    Ok(used.into_iter().filter(|l| get_rule(dev, *l).is_ok_and(|r| same_rule(&r, fs))).collect())
}

fn indir_buf(cmd: u32, size: usize) -> Vec<u64> {
    let mut v = vec![0u64; (INDIR_RING_INDEX + 4 * size).div_ceil(8)];
    let b = bytes_mut(&mut v);
    put_u32(b, 0, cmd);
    put_u32(b, INDIR_SIZE, size as u32);
    v
}

/// The RSS indirection table (ETHTOOL_GRXFHINDIR, asked twice: size, then table).
pub fn indir(dev: &str) -> io::Result<Vec<u32>> {
    let mut b = indir_buf(ETHTOOL_GRXFHINDIR, 0);
    ioctl(dev, &mut b)?;
    let size = get_u32(bytes_mut(&mut b), INDIR_SIZE) as usize;
    let mut b = indir_buf(ETHTOOL_GRXFHINDIR, size);
    ioctl(dev, &mut b)?;
    let bytes = bytes_mut(&mut b);
    Ok((0..size).map(|i| get_u32(bytes, INDIR_RING_INDEX + 4 * i)).collect())
}

/// Set the RSS indirection table; an empty table resets it to the driver default.
pub fn set_indir(dev: &str, table: &[u32]) -> io::Result<()> {
    let mut b = indir_buf(ETHTOOL_SRXFHINDIR, table.len());
    let bytes = bytes_mut(&mut b);
    for (i, q) in table.iter().enumerate() {
        put_u32(bytes, INDIR_RING_INDEX + 4 * i, *q);
    }
    ioctl(dev, &mut b)
}

/// The kernel's default table (ethtool_rxfh_indir_default): entry i -> i % rings.
pub fn default_indir(size: usize, rings: u32) -> Vec<u32> {
    (0..size).map(|i| i as u32 % rings.max(1)).collect()
}

/// A table of `size` entries spread round-robin over every ring but `exclude`.
pub fn spread_excluding(size: usize, rings: u32, exclude: &[u32]) -> Vec<u32> {
    let others: Vec<u32> = (0..rings).filter(|q| !exclude.contains(q)).collect();
    if others.is_empty() {
        return Vec::new();
    }
    (0..size).map(|i| others[i % others.len()]).collect()
}

/// Table as text for the journal ("default" or space-separated queues).
pub fn indir_to_text(t: &[u32]) -> String {
    if t.is_empty() { "default".into() } else { t.iter().map(u32::to_string).collect::<Vec<_>>().join(" ") }
}

pub fn indir_from_text(s: &str) -> Option<Vec<u32>> {
    if s.trim() == "default" {
        return Some(Vec::new());
    }
    s.split_whitespace().map(|x| x.parse().ok()).collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_tuple_v4_bytes_follow_uapi_layout() {
        let r = FlowRule {
            src: Some("198.18.0.2:40000".parse().unwrap()),
            dst: "198.18.0.1:5201".parse().unwrap(),
            queue: 3,
        };
        let fs = encode_flow_spec(&r, 7);
        assert_eq!(get_u32(&fs, FS_FLOW_TYPE), TCP_V4_FLOW);
        assert_eq!(&fs[FS_H_U..FS_H_U + 4], &[198, 18, 0, 2]);
        assert_eq!(&fs[FS_H_U + 4..FS_H_U + 8], &[198, 18, 0, 1]);
        assert_eq!(&fs[FS_H_U + 8..FS_H_U + 10], &40000u16.to_be_bytes());
        assert_eq!(&fs[FS_H_U + 10..FS_H_U + 12], &5201u16.to_be_bytes());
        assert_eq!(fs[FS_H_U + 12], 0, "tos not matched");
        assert!(fs[FS_M_U..FS_M_U + 12].iter().all(|b| *b == 0xff));
        assert!(fs[FS_M_U + 12..FS_M_EXT].iter().all(|b| *b == 0));
        assert!(fs[FS_H_EXT..FS_M_U].iter().all(|b| *b == 0), "no extension fields");
        assert_eq!(get_u64(&fs, FS_RING_COOKIE), 3);
        assert_eq!(get_u32(&fs, FS_LOCATION), 7);
    }

    #[test]
    fn three_tuple_v6_leaves_source_unmatched() {
        let r = FlowRule { src: None, dst: "[2001:2::1]:5201".parse().unwrap(), queue: 1 };
        let fs = encode_flow_spec(&r, RX_CLS_LOC_ANY);
        assert_eq!(get_u32(&fs, FS_FLOW_TYPE), TCP_V6_FLOW);
        assert!(fs[FS_M_U..FS_M_U + 16].iter().all(|b| *b == 0), "source address wildcarded");
        assert!(fs[FS_M_U + 16..FS_M_U + 32].iter().all(|b| *b == 0xff));
        assert_eq!(&fs[FS_H_U + 16..FS_H_U + 18], &[0x20, 0x01]);
        assert_eq!(&fs[FS_M_U + 32..FS_M_U + 34], &[0, 0], "source port wildcarded");
        assert_eq!(&fs[FS_H_U + 34..FS_H_U + 36], &5201u16.to_be_bytes());
        assert_eq!(get_u32(&fs, FS_LOCATION), RX_CLS_LOC_ANY);
        let other = encode_flow_spec(&r, 5);
        assert!(same_rule(&fs, &other), "location does not make a different rule");
        let moved = encode_flow_spec(&FlowRule { queue: 2, ..r }, 5);
        assert!(!same_rule(&fs, &moved));
    }

    #[test]
    fn rxnfc_buffers_are_sized_and_tagged() {
        let mut b = rxnfc(ETHTOOL_GRXCLSRLALL, 3);
        assert_eq!(b.len() * 8, 208, "192 + 3 u32 rule_locs, rounded up to 8");
        assert_eq!(get_u32(bytes_mut(&mut b), NFC_CMD), 0x30);
        let mut i = indir_buf(ETHTOOL_SRXFHINDIR, 5);
        let bytes = bytes_mut(&mut i);
        assert_eq!(get_u32(bytes, 0), 0x39);
        assert_eq!(get_u32(bytes, INDIR_SIZE), 5);
        assert!(bytes.len() >= INDIR_RING_INDEX + 20);
    }

    #[test]
    fn locations_and_tables() {
        assert_eq!(pick_location(RX_CLS_LOC_SPECIAL | 1024, &[]), Some(RX_CLS_LOC_ANY));
        assert_eq!(pick_location(4, &[3, 1]), Some(2));
        assert_eq!(pick_location(2, &[0, 1]), None);
        assert_eq!(spread_excluding(8, 4, &[1]), vec![0, 2, 3, 0, 2, 3, 0, 2]);
        assert_eq!(spread_excluding(4, 4, &[2, 3]), vec![0, 1, 0, 1]);
        assert!(spread_excluding(8, 1, &[0]).is_empty());
        assert_eq!(default_indir(5, 2), vec![0, 1, 0, 1, 0]);
        assert_eq!(indir_from_text(&indir_to_text(&[0, 2, 3])), Some(vec![0, 2, 3]));
        assert_eq!(indir_from_text("default"), Some(vec![]));
        assert_eq!(indir_from_text("1 x"), None);
        assert_eq!(unhex(&hex(&[0, 255, 16])), Some(vec![0, 255, 16]));
    }

    /// Every offset and command number against the system's <linux/ethtool.h>.
    #[test]
    fn offsets_match_the_system_uapi_header() {
        let o = |n: &'static str, v: usize, e: &'static str| (n, v as u64, e);
        crate::sys::uapi_check::assert_matches(
            &["linux/ethtool.h"],
            &[
                o("RXNFC_SIZE", RXNFC_SIZE, "sizeof(struct ethtool_rxnfc)"),
                o("NFC_FLOW_TYPE", NFC_FLOW_TYPE, "offsetof(struct ethtool_rxnfc, flow_type)"),
                o("NFC_DATA", NFC_DATA, "offsetof(struct ethtool_rxnfc, data)"),
                o("NFC_FS", NFC_FS, "offsetof(struct ethtool_rxnfc, fs)"),
                o("NFC_RULE_CNT", NFC_RULE_CNT, "offsetof(struct ethtool_rxnfc, rule_cnt)"),
                o("NFC_RULE_LOCS", NFC_RULE_LOCS, "offsetof(struct ethtool_rxnfc, rule_locs)"),
                o("FS_SIZE", FS_SIZE, "sizeof(struct ethtool_rx_flow_spec)"),
                o("FS_H_U", FS_H_U, "offsetof(struct ethtool_rx_flow_spec, h_u)"),
                o("FS_H_EXT", FS_H_EXT, "offsetof(struct ethtool_rx_flow_spec, h_ext)"),
                o("FS_M_U", FS_M_U, "offsetof(struct ethtool_rx_flow_spec, m_u)"),
                o("FS_M_EXT", FS_M_EXT, "offsetof(struct ethtool_rx_flow_spec, m_ext)"),
                o("FS_RING_COOKIE", FS_RING_COOKIE, "offsetof(struct ethtool_rx_flow_spec, ring_cookie)"),
                o("FS_LOCATION", FS_LOCATION, "offsetof(struct ethtool_rx_flow_spec, location)"),
                o("IP4_DST", IP4_DST, "offsetof(struct ethtool_tcpip4_spec, ip4dst)"),
                o("IP4_PSRC", IP4_PSRC, "offsetof(struct ethtool_tcpip4_spec, psrc)"),
                o("IP4_PDST", IP4_PDST, "offsetof(struct ethtool_tcpip4_spec, pdst)"),
                o("IP6_DST", IP6_DST, "offsetof(struct ethtool_tcpip6_spec, ip6dst)"),
                o("IP6_PSRC", IP6_PSRC, "offsetof(struct ethtool_tcpip6_spec, psrc)"),
                o("IP6_PDST", IP6_PDST, "offsetof(struct ethtool_tcpip6_spec, pdst)"),
                o("INDIR_SIZE", INDIR_SIZE, "offsetof(struct ethtool_rxfh_indir, size)"),
                o("INDIR_RING_INDEX", INDIR_RING_INDEX, "offsetof(struct ethtool_rxfh_indir, ring_index)"),
                o("SRXCLSRLINS", ETHTOOL_SRXCLSRLINS as usize, "ETHTOOL_SRXCLSRLINS"),
                o("SRXCLSRLDEL", ETHTOOL_SRXCLSRLDEL as usize, "ETHTOOL_SRXCLSRLDEL"),
                o("GRXCLSRLALL", ETHTOOL_GRXCLSRLALL as usize, "ETHTOOL_GRXCLSRLALL"),
                o("GRXCLSRLCNT", ETHTOOL_GRXCLSRLCNT as usize, "ETHTOOL_GRXCLSRLCNT"),
                o("GRXCLSRULE", ETHTOOL_GRXCLSRULE as usize, "ETHTOOL_GRXCLSRULE"),
                o("GRXRINGS", ETHTOOL_GRXRINGS as usize, "ETHTOOL_GRXRINGS"),
                o("GRXFHINDIR", ETHTOOL_GRXFHINDIR as usize, "ETHTOOL_GRXFHINDIR"),
                o("SRXFHINDIR", ETHTOOL_SRXFHINDIR as usize, "ETHTOOL_SRXFHINDIR"),
                o("TCP_V4_FLOW", TCP_V4_FLOW as usize, "TCP_V4_FLOW"),
                o("TCP_V6_FLOW", TCP_V6_FLOW as usize, "TCP_V6_FLOW"),
                o("RX_CLS_LOC_SPECIAL", RX_CLS_LOC_SPECIAL as usize, "RX_CLS_LOC_SPECIAL"),
                o("RX_CLS_LOC_ANY", RX_CLS_LOC_ANY as usize, "RX_CLS_LOC_ANY"),
            ],
        );
    }

    #[test]
    fn veth_and_lo_refuse_steering_with_eopnotsupp() {
        // lo has no rxnfc operations: the kernel, not us, says so.
        let e = rule_table("lo").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP));
        assert_eq!(indir("lo").unwrap_err().raw_os_error(), Some(libc::EOPNOTSUPP));
    }
}

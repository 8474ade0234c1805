//! ethtool: the ethtool generic-netlink family here (features such as GRO; rings:
//! sizes, header split, hds threshold; channels), the SIOCETHTOOL ioctl in
//! `ioctl` (driver info) and `rxnfc` (flow steering, RSS). Every operation runs
//! in the calling thread's network namespace.

pub mod ioctl;
pub mod rxnfc;

pub use ioctl::{DriverInfo, driver_info};

use crate::sys::netlink::{self, MsgBuilder, NetlinkError, NlSocket, attrs, get_u8, get_u32};
use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

// include/uapi/linux/ethtool_netlink_generated.h
pub const ETHTOOL_GENL_NAME: &str = "ethtool";
const ETHTOOL_MSG_FEATURES_GET: u8 = 11;
const ETHTOOL_MSG_FEATURES_SET: u8 = 12;
pub const ETHTOOL_MSG_RINGS_GET: u8 = 15;
const ETHTOOL_MSG_RINGS_SET: u8 = 16;
const ETHTOOL_MSG_CHANNELS_GET: u8 = 17;
const ETHTOOL_MSG_CHANNELS_SET: u8 = 18;
const ETHTOOL_A_HEADER_DEV_NAME: u16 = 2;
const ETHTOOL_A_RINGS_RX_MAX: u16 = 2;
const ETHTOOL_A_RINGS_TX_MAX: u16 = 5;
const ETHTOOL_A_RINGS_RX: u16 = 6;
const ETHTOOL_A_RINGS_TX: u16 = 9;
const ETHTOOL_A_RINGS_TCP_DATA_SPLIT: u16 = 11;
const ETHTOOL_A_RINGS_HDS_THRESH: u16 = 17;
const ETHTOOL_A_RINGS_HDS_THRESH_MAX: u16 = 18;

const ETHTOOL_A_FEATURES_HW: u16 = 2;
const ETHTOOL_A_FEATURES_WANTED: u16 = 3;
const ETHTOOL_A_FEATURES_ACTIVE: u16 = 4;
const ETHTOOL_A_FEATURES_NOCHANGE: u16 = 5;
const ETHTOOL_A_BITSET_NOMASK: u16 = 1;
const ETHTOOL_A_BITSET_BITS: u16 = 3;
const ETHTOOL_A_BITSET_BITS_BIT: u16 = 1;
const ETHTOOL_A_BITSET_BIT_NAME: u16 = 2;
const ETHTOOL_A_BITSET_BIT_VALUE: u16 = 3;
const ETHTOOL_A_CHANNELS_RX_MAX: u16 = 2;
const ETHTOOL_A_CHANNELS_TX_MAX: u16 = 3;
const ETHTOOL_A_CHANNELS_COMBINED_MAX: u16 = 5;
const ETHTOOL_A_CHANNELS_RX_COUNT: u16 = 6;
const ETHTOOL_A_CHANNELS_TX_COUNT: u16 = 7;
const ETHTOOL_A_CHANNELS_COMBINED_COUNT: u16 = 9;

fn family(sock: &mut NlSocket) -> Result<u16> {
    Ok(netlink::resolve_family(sock, ETHTOOL_GENL_NAME)?
        .ok_or_else(|| anyhow!("the kernel has no ethtool netlink family (CONFIG_ETHTOOL_NETLINK off)"))?
        .id)
}

/// One ethtool netlink request about `dev`, its header nested under attribute 1
/// (every ethtool message puts the header there). `body` adds the rest.
fn request(dev: &str, cmd: u8, body: impl FnOnce(&mut MsgBuilder)) -> Result<Vec<netlink::Msg>> {
    let mut sock = NlSocket::open(libc::NETLINK_GENERIC)?;
    let fam = family(&mut sock)?;
    let mut m = MsgBuilder::genl(fam, cmd, 1, 0);
    m.nest_start(1).attr_str(ETHTOOL_A_HEADER_DEV_NAME, dev).nest_end();
    body(&mut m);
    sock.request(&mut m)
}

/// True when a netlink error is the driver saying it has no such operation.
pub fn is_unsupported(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<NetlinkError>().is_some_and(|n| n.errno == libc::EOPNOTSUPP))
}

/// Feature bits by name (the names `ethtool -k` prints, e.g. `rx-gro-hw`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    /// Bits the driver lets the user change.
    pub changeable: Vec<String>,
    pub wanted: Vec<String>,
    pub active: Vec<String>,
    /// Bits that cannot change right now ([fixed] in `ethtool -k`).
    pub nochange: Vec<String>,
}

impl Features {
    pub fn is_active(&self, name: &str) -> bool {
        self.active.iter().any(|n| n == name)
    }
    pub fn can_change(&self, name: &str) -> bool {
        self.changeable.iter().any(|n| n == name) && !self.nochange.iter().any(|n| n == name)
    }
}

/// Names of the set bits of a non-compact bitset. In list form (NOMASK) every
/// listed bit is set; in value/mask form every bit of the mask is listed and
/// the VALUE flag marks the set ones.
pub fn bitset_names(payload: &[u8]) -> Vec<String> {
    let nomask = attrs(payload).any(|(t, _)| t == ETHTOOL_A_BITSET_NOMASK);
    let mut names = Vec::new();
    for (ty, p) in attrs(payload) {
        if ty != ETHTOOL_A_BITSET_BITS {
            continue;
        }
        for (bt, bit) in attrs(p) {
            if bt != ETHTOOL_A_BITSET_BITS_BIT {
                continue;
            }
            let set = nomask || attrs(bit).any(|(t, _)| t == ETHTOOL_A_BITSET_BIT_VALUE);
            if let Some((_, n)) = attrs(bit).find(|(t, _)| *t == ETHTOOL_A_BITSET_BIT_NAME)
                && set
            {
                names.push(netlink::get_str(n));
            }
        }
    }
    names
}

pub fn parse_features(payload: &[u8]) -> Features {
    let mut f = Features::default();
    for (ty, p) in attrs(payload) {
        match ty {
            ETHTOOL_A_FEATURES_HW => f.changeable = bitset_names(p),
            ETHTOOL_A_FEATURES_WANTED => f.wanted = bitset_names(p),
            ETHTOOL_A_FEATURES_ACTIVE => f.active = bitset_names(p),
            ETHTOOL_A_FEATURES_NOCHANGE => f.nochange = bitset_names(p),
            _ => {}
        }
    }
    f
}

/// The device's features (ethtool netlink features-get, names not compact bits).
pub fn features(dev: &str) -> Result<Features> {
    let replies =
        request(dev, ETHTOOL_MSG_FEATURES_GET, |_| {}).with_context(|| format!("{dev}: ethtool features-get"))?;
    let r = replies.first().ok_or_else(|| anyhow!("{dev}: ethtool features-get gave no reply"))?;
    Ok(parse_features(r.payload.get(4..).unwrap_or_default()))
}

/// The body of a features-set request turning one named feature on or off: a
/// non-compact bitset under WANTED with one bit (VALUE flag present = on).
pub fn encode_feature_set(m: &mut MsgBuilder, name: &str, on: bool) {
    m.nest_start(ETHTOOL_A_FEATURES_WANTED).nest_start(ETHTOOL_A_BITSET_BITS).nest_start(ETHTOOL_A_BITSET_BITS_BIT);
    m.attr_str(ETHTOOL_A_BITSET_BIT_NAME, name);
    if on {
        m.attr(ETHTOOL_A_BITSET_BIT_VALUE, &[]);
    }
    m.nest_end().nest_end().nest_end();
}

pub fn set_feature(dev: &str, name: &str, on: bool) -> Result<()> {
    request(dev, ETHTOOL_MSG_FEATURES_SET, |m| encode_feature_set(m, name, on))
        .with_context(|| format!("{dev}: ethtool features-set {name} {}", if on { "on" } else { "off" }))?;
    Ok(())
}

/// A ring parameter that can be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RingParam {
    Rx,
    Tx,
    TcpDataSplit,
    HdsThresh,
}

impl RingParam {
    pub fn name(self) -> &'static str {
        match self {
            RingParam::Rx => "rx ring",
            RingParam::Tx => "tx ring",
            RingParam::TcpDataSplit => "tcp-data-split (header split)",
            RingParam::HdsThresh => "hds-thresh",
        }
    }
}

/// Set one ring parameter; `value` is a count, or for header split "on"/"off".
pub fn set_ring(dev: &str, p: RingParam, value: &str) -> Result<()> {
    let n: u32 = match p {
        RingParam::TcpDataSplit => match value {
            "on" | "enabled" => 2,
            "off" | "disabled" => 1,
            "unknown" | "auto" => 0,
            v => anyhow::bail!("{dev}: header split value '{v}' is not on/off"),
        },
        _ => value.parse().with_context(|| format!("{dev}: {} value '{value}' is not a number", p.name()))?,
    };
    request(dev, ETHTOOL_MSG_RINGS_SET, |m| {
        match p {
            RingParam::Rx => m.attr_u32(ETHTOOL_A_RINGS_RX, n),
            RingParam::Tx => m.attr_u32(ETHTOOL_A_RINGS_TX, n),
            RingParam::TcpDataSplit => m.attr(ETHTOOL_A_RINGS_TCP_DATA_SPLIT, &[n as u8]),
            RingParam::HdsThresh => m.attr_u32(ETHTOOL_A_RINGS_HDS_THRESH, n),
        };
    })
    .with_context(|| format!("{dev}: ethtool rings-set {} {value}", p.name()))?;
    Ok(())
}

/// Which of the ring parameters zcbench sets this kernel's rings-set accepts
/// (from the operation's policy, so it holds whatever the driver).
pub fn settable_ring_params() -> Result<Vec<&'static str>> {
    let mut sock = NlSocket::open(libc::NETLINK_GENERIC)?;
    let fam = family(&mut sock)?;
    let pol = netlink::op_policy(&mut sock, fam, ETHTOOL_MSG_RINGS_SET)?;
    Ok([
        (ETHTOOL_A_RINGS_RX, "rx"),
        (ETHTOOL_A_RINGS_TX, "tx"),
        (ETHTOOL_A_RINGS_TCP_DATA_SPLIT, "tcp-data-split"),
        (ETHTOOL_A_RINGS_HDS_THRESH, "hds-thresh"),
    ]
    .into_iter()
    .filter(|(a, _)| pol.contains_key(a))
    .map(|(_, n)| n)
    .collect())
}

/// The current value of a ring parameter as [`set_ring`] takes it.
pub fn ring_value(r: &Rings, p: RingParam) -> Option<String> {
    match p {
        RingParam::Rx => r.rx.map(|v| v.to_string()),
        RingParam::Tx => r.tx.map(|v| v.to_string()),
        RingParam::TcpDataSplit => match r.tcp_data_split {
            DataSplit::NotReported => None,
            DataSplit::Unknown => Some("auto".into()),
            DataSplit::Disabled => Some("off".into()),
            DataSplit::Enabled => Some("on".into()),
        },
        RingParam::HdsThresh => r.hds_thresh.map(|v| v.to_string()),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    pub rx: u32,
    pub tx: u32,
    pub combined: u32,
    pub rx_max: u32,
    pub tx_max: u32,
    pub combined_max: u32,
}

/// Which channel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelKind {
    Rx,
    Tx,
    Combined,
}

impl Channels {
    pub fn get(&self, k: ChannelKind) -> u32 {
        match k {
            ChannelKind::Rx => self.rx,
            ChannelKind::Tx => self.tx,
            ChannelKind::Combined => self.combined,
        }
    }
    pub fn max(&self, k: ChannelKind) -> u32 {
        match k {
            ChannelKind::Rx => self.rx_max,
            ChannelKind::Tx => self.tx_max,
            ChannelKind::Combined => self.combined_max,
        }
    }
}

pub fn parse_channels(payload: &[u8]) -> Channels {
    let mut c = Channels::default();
    for (ty, p) in attrs(payload) {
        let v = get_u32(p).unwrap_or(0);
        match ty {
            ETHTOOL_A_CHANNELS_RX_MAX => c.rx_max = v,
            ETHTOOL_A_CHANNELS_TX_MAX => c.tx_max = v,
            ETHTOOL_A_CHANNELS_COMBINED_MAX => c.combined_max = v,
            ETHTOOL_A_CHANNELS_RX_COUNT => c.rx = v,
            ETHTOOL_A_CHANNELS_TX_COUNT => c.tx = v,
            ETHTOOL_A_CHANNELS_COMBINED_COUNT => c.combined = v,
            _ => {}
        }
    }
    c
}

/// A get request whose reply is parsed by `parse`; `Ok(None)` when the driver
/// has no such operation (EOPNOTSUPP).
fn get_optional<T>(dev: &str, cmd: u8, what: &str, parse: fn(&[u8]) -> T) -> Result<Option<T>> {
    match request(dev, cmd, |_| {}) {
        Ok(r) => Ok(r.first().map(|r| parse(r.payload.get(4..).unwrap_or_default()))),
        Err(e) if is_unsupported(&e) => Ok(None),
        Err(e) => Err(e.context(format!("{dev}: ethtool {what} failed"))),
    }
}

/// Channel counts, `Ok(None)` when the driver has no channel operations.
pub fn channels(dev: &str) -> Result<Option<Channels>> {
    get_optional(dev, ETHTOOL_MSG_CHANNELS_GET, "channels-get", parse_channels)
}

pub fn set_channels(dev: &str, k: ChannelKind, n: u32) -> Result<()> {
    let ty = match k {
        ChannelKind::Rx => ETHTOOL_A_CHANNELS_RX_COUNT,
        ChannelKind::Tx => ETHTOOL_A_CHANNELS_TX_COUNT,
        ChannelKind::Combined => ETHTOOL_A_CHANNELS_COMBINED_COUNT,
    };
    request(dev, ETHTOOL_MSG_CHANNELS_SET, |m| {
        m.attr_u32(ty, n);
    })
    .with_context(|| format!("{dev}: ethtool channels-set {k:?} {n}"))?;
    Ok(())
}

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

impl DataSplit {
    /// As a person would say it (`ethtool -g` prints "n/a", "unknown", "off", "on").
    pub fn describe(self) -> &'static str {
        match self {
            DataSplit::NotReported => "not reported by the driver (no header split)",
            DataSplit::Unknown => "unknown (the driver decides)",
            DataSplit::Disabled => "off",
            DataSplit::Enabled => "on",
        }
    }
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
    get_optional(dev, ETHTOOL_MSG_RINGS_GET, "rings-get", parse_rings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_set_request_is_a_one_bit_named_bitset() {
        let mut m = MsgBuilder::new(0, 0);
        encode_feature_set(&mut m, "rx-gro-hw", true);
        let b = m.finish(1).to_vec();
        let body = &b[16..];
        // WANTED(3) { BITS(3) { BIT(1) { NAME(2) "rx-gro-hw\0", VALUE(3) flag } } }
        let (ty, wanted) = attrs(body).next().unwrap();
        assert_eq!(ty, ETHTOOL_A_FEATURES_WANTED);
        assert_eq!(bitset_names(wanted), vec!["rx-gro-hw".to_string()]);
        let (_, bits) = attrs(wanted).next().unwrap();
        let (_, bit) = attrs(bits).next().unwrap();
        let inner: Vec<(u16, Vec<u8>)> = attrs(bit).map(|(t, p)| (t, p.to_vec())).collect();
        assert_eq!(inner[0], (ETHTOOL_A_BITSET_BIT_NAME, b"rx-gro-hw\0".to_vec()));
        assert_eq!(inner[1], (ETHTOOL_A_BITSET_BIT_VALUE, vec![]));
        let mut off = MsgBuilder::new(0, 0);
        encode_feature_set(&mut off, "rx-gro", false);
        let b = off.finish(1).to_vec();
        let (_, w) = attrs(&b[16..]).next().unwrap();
        let (_, bits) = attrs(w).next().unwrap();
        let (_, bit) = attrs(bits).next().unwrap();
        assert_eq!(attrs(bit).count(), 1, "off = name without the VALUE flag");
    }

    #[test]
    fn loopback_features_match_ethtool() {
        let f = features("lo").unwrap();
        // lo's HW GRO and ntuple filters are [fixed] off; TSO is on.
        assert!(!f.can_change("rx-gro-hw") && !f.is_active("rx-gro-hw"), "{f:?}");
        assert!(!f.can_change("rx-ntuple-filter"), "{f:?}");
        if let Ok(out) = std::process::Command::new("ethtool").args(["-k", "lo"]).output() {
            let text = String::from_utf8_lossy(&out.stdout);
            let on = text.lines().any(|l| l.starts_with("tcp-segmentation-offload: on"));
            assert_eq!(on, f.is_active("tx-tcp-segmentation"), "TSO as ethtool prints it");
        }
    }

    /// Our message numbers against the running kernel's ethtool family: each
    /// get must be a dumpable op, each set a do-only op that needs CAP_NET_ADMIN.
    #[test]
    fn message_numbers_match_the_running_kernel() {
        let mut sock = NlSocket::open(libc::NETLINK_GENERIC).unwrap();
        let fam = netlink::resolve_family(&mut sock, ETHTOOL_GENL_NAME).unwrap().unwrap();
        let flags = |id: u8| fam.op_flags.iter().find(|(i, _)| *i == u32::from(id)).map(|(_, f)| *f).unwrap();
        for get in [ETHTOOL_MSG_FEATURES_GET, ETHTOOL_MSG_RINGS_GET, ETHTOOL_MSG_CHANNELS_GET] {
            let f = flags(get);
            assert!(f & netlink::GENL_CMD_CAP_DUMP != 0 && f & netlink::GENL_UNS_ADMIN_PERM == 0, "op {get}: {f:#x}");
        }
        for set in [ETHTOOL_MSG_FEATURES_SET, ETHTOOL_MSG_RINGS_SET, ETHTOOL_MSG_CHANNELS_SET] {
            let f = flags(set);
            assert!(f & netlink::GENL_CMD_CAP_DO != 0, "op {set}: {f:#x}");
            assert!(f & netlink::GENL_CMD_CAP_DUMP == 0 && f & netlink::GENL_UNS_ADMIN_PERM != 0, "op {set}: {f:#x}");
        }
    }

    /// Every attribute we put in a set request is in the kernel's own policy for
    /// that request, with the type we encode it as.
    #[test]
    fn set_attributes_match_the_kernels_policies() {
        use netlink::{NL_ATTR_TYPE_U8 as U8, NL_ATTR_TYPE_U32 as U32};
        let mut sock = NlSocket::open(libc::NETLINK_GENERIC).unwrap();
        let fam = netlink::resolve_family(&mut sock, ETHTOOL_GENL_NAME).unwrap().unwrap().id;
        let rings = netlink::op_policy(&mut sock, fam, ETHTOOL_MSG_RINGS_SET).unwrap();
        for (attr, ty) in [
            (ETHTOOL_A_RINGS_RX, U32),
            (ETHTOOL_A_RINGS_TX, U32),
            (ETHTOOL_A_RINGS_TCP_DATA_SPLIT, U8),
            (ETHTOOL_A_RINGS_HDS_THRESH, U32),
        ] {
            assert_eq!(rings.get(&attr), Some(&ty), "rings-set attr {attr}: {rings:?}");
        }
        // Read-only attributes are not settable: the maxima are not in the set policy.
        assert!(!rings.contains_key(&ETHTOOL_A_RINGS_HDS_THRESH_MAX) && !rings.contains_key(&ETHTOOL_A_RINGS_RX_MAX));
        let ch = netlink::op_policy(&mut sock, fam, ETHTOOL_MSG_CHANNELS_SET).unwrap();
        for attr in [ETHTOOL_A_CHANNELS_RX_COUNT, ETHTOOL_A_CHANNELS_TX_COUNT, ETHTOOL_A_CHANNELS_COMBINED_COUNT] {
            assert_eq!(ch.get(&attr), Some(&U32), "channels-set attr {attr}: {ch:?}");
        }
        let feat = netlink::op_policy(&mut sock, fam, ETHTOOL_MSG_FEATURES_SET).unwrap();
        assert!(feat.contains_key(&ETHTOOL_A_FEATURES_WANTED), "{feat:?}");
        assert!(!feat.contains_key(&ETHTOOL_A_FEATURES_ACTIVE), "{feat:?}");
    }

    /// Numbers the system's (possibly older) <linux/ethtool_netlink.h> has.
    #[test]
    fn numbers_match_the_uapi_header() {
        let n = |name: &'static str, v: u16| (name, u64::from(v), name);
        crate::sys::uapi_check::assert_matches(
            &["linux/ethtool_netlink.h"],
            &[
                n("ETHTOOL_MSG_FEATURES_GET", ETHTOOL_MSG_FEATURES_GET.into()),
                n("ETHTOOL_MSG_FEATURES_SET", ETHTOOL_MSG_FEATURES_SET.into()),
                n("ETHTOOL_MSG_RINGS_GET", ETHTOOL_MSG_RINGS_GET.into()),
                n("ETHTOOL_MSG_RINGS_SET", ETHTOOL_MSG_RINGS_SET.into()),
                n("ETHTOOL_MSG_CHANNELS_GET", ETHTOOL_MSG_CHANNELS_GET.into()),
                n("ETHTOOL_MSG_CHANNELS_SET", ETHTOOL_MSG_CHANNELS_SET.into()),
                n("ETHTOOL_A_HEADER_DEV_NAME", ETHTOOL_A_HEADER_DEV_NAME),
                n("ETHTOOL_A_FEATURES_HW", ETHTOOL_A_FEATURES_HW),
                n("ETHTOOL_A_FEATURES_WANTED", ETHTOOL_A_FEATURES_WANTED),
                n("ETHTOOL_A_FEATURES_ACTIVE", ETHTOOL_A_FEATURES_ACTIVE),
                n("ETHTOOL_A_FEATURES_NOCHANGE", ETHTOOL_A_FEATURES_NOCHANGE),
                n("ETHTOOL_A_BITSET_NOMASK", ETHTOOL_A_BITSET_NOMASK),
                n("ETHTOOL_A_BITSET_BITS", ETHTOOL_A_BITSET_BITS),
                n("ETHTOOL_A_BITSET_BITS_BIT", ETHTOOL_A_BITSET_BITS_BIT),
                n("ETHTOOL_A_BITSET_BIT_NAME", ETHTOOL_A_BITSET_BIT_NAME),
                n("ETHTOOL_A_BITSET_BIT_VALUE", ETHTOOL_A_BITSET_BIT_VALUE),
                n("ETHTOOL_A_RINGS_RX_MAX", ETHTOOL_A_RINGS_RX_MAX),
                n("ETHTOOL_A_RINGS_TX_MAX", ETHTOOL_A_RINGS_TX_MAX),
                n("ETHTOOL_A_RINGS_RX", ETHTOOL_A_RINGS_RX),
                n("ETHTOOL_A_RINGS_TX", ETHTOOL_A_RINGS_TX),
                n("ETHTOOL_A_RINGS_TCP_DATA_SPLIT", ETHTOOL_A_RINGS_TCP_DATA_SPLIT),
                n("ETHTOOL_A_CHANNELS_RX_MAX", ETHTOOL_A_CHANNELS_RX_MAX),
                n("ETHTOOL_A_CHANNELS_TX_MAX", ETHTOOL_A_CHANNELS_TX_MAX),
                n("ETHTOOL_A_CHANNELS_COMBINED_MAX", ETHTOOL_A_CHANNELS_COMBINED_MAX),
                n("ETHTOOL_A_CHANNELS_RX_COUNT", ETHTOOL_A_CHANNELS_RX_COUNT),
                n("ETHTOOL_A_CHANNELS_TX_COUNT", ETHTOOL_A_CHANNELS_TX_COUNT),
                n("ETHTOOL_A_CHANNELS_COMBINED_COUNT", ETHTOOL_A_CHANNELS_COMBINED_COUNT),
            ],
        );
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

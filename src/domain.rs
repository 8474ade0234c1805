//! The project's vocabulary: receive and transmit modes, testbeds, on/off. A leaf
//! module every layer may use; it imports nothing from the crate. The `ValueEnum`
//! derives give the command line its names and help texts (the doc comments);
//! serde gives the result file and the wire protocol the same names.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// The name a mode or testbed has on the command line and in result files.
pub fn name_of<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnOff {
    On,
    Off,
}

/// Declares a mode enum together with `ALL`, its variants in declaration order,
/// from one list, so that `ALL` cannot miss a variant.
macro_rules! modes {
    ($(#[$m:meta])* pub enum $name:ident { $($v:ident,)* }) => {
        $(#[$m])*
        pub enum $name { $($v,)* }
        impl $name {
            /// Every variant, in the order `--help` and reports list them.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
        }
    };
}

modes! {
    /// Receive path. The names (kebab-case) are the command line's and the
    /// result file's; everything else about a mode — its help, what it needs,
    /// how it is built, how reports draw it — is its descriptor beside its code
    /// (`rx::describe`, which also gives clap the names and help).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum RxMode {
        Baseline,
        Mmap,
        Uring,
        Devmem,
        Zcrx,
        TxrxZc,
    }
}

modes! {
    /// Transmit path; its descriptors are `tx::describe`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum TxMode {
        Copy,
        Zerocopy,
        UringZc,
        Sendfile,
        Devmem,
    }
}

/// devmem TCP receive knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevmemOpts {
    /// Frag tokens gathered before they go back with SO_DEVMEM_DONTNEED
    /// (checked after each recvmsg; 1: after every recvmsg that produced frags).
    pub token_batch: u32,
    /// Size of the dma-buf bound to the rx queue, in bytes.
    pub dmabuf_size: u64,
    /// Back the dma-buf with 2 MiB huge pages (a hugetlb memfd).
    pub dmabuf_hugepages: bool,
}

impl DevmemOpts {
    /// The bounds of `--dmabuf-size` (the devmem modes on both ends use it).
    pub fn check_dmabuf_size(&self) -> Result<(), String> {
        if !(1 << 20..=1 << 36).contains(&self.dmabuf_size) {
            return Err(format!("--dmabuf-size {} must be between 1MiB and 64GiB", self.dmabuf_size));
        }
        Ok(())
    }
}

impl Default for DevmemOpts {
    fn default() -> Self {
        // The reference study's values: 512 tokens per return, a 64 MiB dma-buf per queue.
        DevmemOpts { token_batch: 512, dmabuf_size: 64 << 20, dmabuf_hugepages: false }
    }
}

/// What backs the zcrx area the kernel places payload in.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZcrxArea {
    /// Anonymous memory, 4 KiB pages.
    Anon,
    /// Anonymous memory from 2 MiB huge pages (reserve them with --hugepages).
    Hugepage,
    /// A udmabuf dma-buf (needs /dev/udmabuf; the kernel cannot copy into it).
    Udmabuf,
}

/// io_uring zero-copy receive knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZcrxOpts {
    pub area: ZcrxArea,
    /// Bytes of the area.
    pub area_size: u64,
    /// Rx buffer size asked of the kernel (7.0+); None: the page size.
    pub rx_buf_len: Option<u32>,
    /// Refill ring entries (a power of two).
    pub rq_entries: u32,
    /// Buffers returned per refill-ring tail store.
    pub refill_batch: u32,
    /// Completion queue entries (32 bytes each).
    pub cq_entries: u32,
    /// Wait with IORING_ENTER_NO_IOWAIT (not counted as iowait).
    pub no_iowait: bool,
}

impl Default for ZcrxOpts {
    fn default() -> Self {
        // The study's 64 MiB area; rings as the kernel's selftest sizes its refill ring.
        ZcrxOpts {
            area: ZcrxArea::Anon,
            area_size: 64 << 20,
            rx_buf_len: None,
            rq_entries: 4096,
            refill_batch: 64,
            cq_entries: 4096,
            no_iowait: false,
        }
    }
}

/// Where a local run puts its two ends (`--testbed`); the testbed itself, set
/// up, is `run::testbed::Testbed`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestbedKind {
    /// Two network namespaces joined by a veth pair (198.18.0.0/15 addresses).
    Netns,
    /// Loopback in the current namespace.
    Lo,
    /// Two NIC ports cabled to each other (`--dev`, `--peer-dev`), each moved into
    /// a namespace of its own for the run.
    Ports,
}

/// What `zcbench report --group-by` makes series of: result files equal in
/// every chosen key are repeats of one case.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupKey {
    /// Receive mode.
    Mode,
    /// Transmit mode.
    Tx,
    /// CPU layout: app and network processing on 1 or 2 cores.
    Cpus,
    /// Receiver GRO as zcbench set it (HW GRO, SW GRO, none) or "as found".
    Gro,
    /// BIG TCP (gro/gso_max_size above 64 KiB) as set or found.
    BigTcp,
    /// netns, lo, ports or two-host.
    Topology,
    /// MTU of the link the flow crossed.
    Mtu,
    /// TCP_MAXSEG asked for.
    Mss,
    /// Sender's message size.
    MsgSize,
    /// Receiver's read size.
    ReadSize,
    /// devmem: frag tokens handed back per SO_DEVMEM_DONTNEED batch.
    TokenBatch,
    /// The machines: the receiver's hostname, and the sender's in two-host runs
    /// (tells the host pairs of a lab apart).
    Hosts,
    /// TCP connections at once (`--flows`).
    Flows,
}

/// The receive mode `zcbench report` compares the others with when not told.
pub const DEFAULT_BASELINE: RxMode = RxMode::Baseline;

/// The series key `zcbench report` uses when not told.
pub const DEFAULT_GROUP_BY: &[GroupKey] =
    &[GroupKey::Mode, GroupKey::Tx, GroupKey::Cpus, GroupKey::Gro, GroupKey::BigTcp, GroupKey::Flows];
/// What a power figure measures. A CPU package figure is not wall power.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PowerKind {
    /// The whole machine at the wall (external meter, BMC chassis power).
    Wall,
    /// CPU package (RAPL package domain).
    Package,
    /// Memory (RAPL DRAM domain).
    Dram,
    /// A model's estimate.
    Estimate,
}

/// A power source named on the command line (`--power`, `--power-cmd`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PowerSpec {
    /// A command that prints watts, run every interval.
    Cmd(String),
    /// A BMC's Redfish service: base URL (https, or http when asked), and the
    /// resource path when given.
    Redfish { base: String, path: Option<String> },
    /// DCMI power reading through ipmitool: the local BMC, or a host over LAN.
    Ipmi { host: Option<String> },
    /// powercap RAPL energy counters under this directory.
    Rapl { root: String },
}

impl PowerSpec {
    /// Parse a `--power` value: `redfish://HOST[:PORT][/PATH]` (https),
    /// `redfish+http://…`, `ipmi`, `ipmi://HOST`, `rapl`.
    pub fn parse(s: &str) -> Result<PowerSpec, String> {
        let url = |rest: &str, scheme: &str| -> Result<PowerSpec, String> {
            let (host, path) = match rest.find('/') {
                Some(i) => (&rest[..i], Some(rest[i..].to_string()).filter(|p| p != "/")),
                None => (rest, None),
            };
            if host.is_empty() {
                return Err(format!("--power {s}: no host (e.g. redfish://bmc.example:443)"));
            }
            Ok(PowerSpec::Redfish { base: format!("{scheme}://{host}"), path })
        };
        if let Some(rest) = s.strip_prefix("redfish://") {
            url(rest, "https")
        } else if let Some(rest) = s.strip_prefix("redfish+http://") {
            url(rest, "http")
        } else if s == "ipmi" {
            Ok(PowerSpec::Ipmi { host: None })
        } else if let Some(host) = s.strip_prefix("ipmi://").filter(|h| !h.is_empty()) {
            Ok(PowerSpec::Ipmi { host: Some(host.trim_end_matches('/').to_string()) })
        } else if s == "rapl" {
            Ok(PowerSpec::Rapl { root: "/sys/class/powercap".into() })
        } else {
            Err(format!(
                "--power {s}: not a power source; use redfish://HOST[/PATH], redfish+http://HOST[/PATH], ipmi, ipmi://HOST or rapl (or --power-cmd 'CMD', --power-log FILE)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_sources_parse() {
        assert_eq!(
            PowerSpec::parse("redfish://bmc:8443/redfish/v1/Chassis/1/Power").unwrap(),
            PowerSpec::Redfish { base: "https://bmc:8443".into(), path: Some("/redfish/v1/Chassis/1/Power".into()) }
        );
        assert_eq!(
            PowerSpec::parse("redfish+http://127.0.0.1:8000").unwrap(),
            PowerSpec::Redfish { base: "http://127.0.0.1:8000".into(), path: None }
        );
        assert_eq!(PowerSpec::parse("ipmi").unwrap(), PowerSpec::Ipmi { host: None });
        assert_eq!(PowerSpec::parse("ipmi://bmc1").unwrap(), PowerSpec::Ipmi { host: Some("bmc1".into()) });
        assert!(matches!(PowerSpec::parse("rapl").unwrap(), PowerSpec::Rapl { .. }));
        for bad in ["redfish://", "watts", "ipmi://", "http://x"] {
            assert!(PowerSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn all_lists_every_mode_once_in_declaration_order() {
        assert_eq!(RxMode::ALL.first(), Some(&RxMode::Baseline));
        assert_eq!(RxMode::ALL.last(), Some(&RxMode::TxrxZc));
        assert_eq!(TxMode::ALL.len(), 5);
        for (i, m) in RxMode::ALL.iter().enumerate() {
            assert!(!RxMode::ALL[..i].contains(m));
        }
    }
}

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

/// Receive path.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RxMode {
    /// recv() into a user buffer (the kernel copies).
    Baseline,
    /// TCP_ZEROCOPY_RECEIVE: payload pages mapped into the process.
    Mmap,
    /// io_uring receive with provided buffers (copying).
    Uring,
    /// devmem TCP: payload lands in a dma-buf bound to an rx queue (needs a NIC with
    /// header split and queue management: --testbed ports or server --dev).
    Devmem,
    /// io_uring zero-copy receive (zcrx): payload placed by the NIC in an area
    /// registered with an io_uring (--testbed ports or server --dev); over lo and
    /// veth a copy path where the kernel has one (ZCRX_REG_NODEV, 7.1+).
    Zcrx,
    /// TX+RX zero copy: the best zero-copy receive and transmit pair this host has
    /// (named in the result).
    TxrxZc,
}

/// Transmit path.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxMode {
    /// send() from a user buffer (the kernel copies).
    Copy,
    /// send(MSG_ZEROCOPY), completions from the error queue.
    Zerocopy,
    /// io_uring SEND_ZC.
    UringZc,
    /// sendfile() from a tmpfs file.
    Sendfile,
    /// devmem TX: sendmsg from a dma-buf bound to the sending NIC (bind-tx; needs a
    /// NIC with netmem TX: --testbed ports, or `zcbench client --dev NIC`).
    Devmem,
}

impl RxMode {
    /// The payload lands in memory bound to a NIC rx queue: the receiving device
    /// needs header split, hds-thresh 0 and the flow steered to that queue.
    pub fn binds_a_queue(self) -> bool {
        matches!(self, RxMode::Devmem | RxMode::Zcrx)
    }

    /// The transmit mode that goes with this receive mode when `--tx-mode` is not given.
    pub fn default_tx(self) -> TxMode {
        match self {
            // devmem receive works with any sender; devmem TX (--tx-mode devmem)
            // needs its own dma-buf binding on the sending NIC.
            // A copying sender fills skbs from order-3 (compound) page frags, which
            // TCP_ZEROCOPY_RECEIVE cannot map on loopback/veth; MSG_ZEROCOPY's
            // fallback copy lands in order-0 pages, which it can.
            RxMode::Mmap => TxMode::Zerocopy,
            _ => TxMode::Copy,
        }
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

/// Where a local run puts its two ends.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Testbed {
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
}

/// The series key `zcbench report` uses when not told.
pub const DEFAULT_GROUP_BY: &[GroupKey] =
    &[GroupKey::Mode, GroupKey::Tx, GroupKey::Cpus, GroupKey::Gro, GroupKey::BigTcp];
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
    fn names_are_the_command_line_and_file_names() {
        assert_eq!(name_of(&RxMode::TxrxZc), "txrx-zc");
        assert_eq!(name_of(&TxMode::UringZc), "uring-zc");
        assert_eq!(serde_json::to_string(&TxMode::UringZc).unwrap(), "\"uring-zc\"");
        assert_eq!(RxMode::Mmap.default_tx(), TxMode::Zerocopy);
    }
}

//! Every kind of host setting zcbench changes, as one type: how to read its
//! current value and how to write one, in a given network namespace. The
//! journal records these before changing them and writes the old values back.

use crate::sys::ethtool::{self, ChannelKind, RingParam, rxnfc};
use crate::sys::netlink::link::{self, LinkAttr};
use crate::sys::netns::{self, Place};
use crate::sys::route;
use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Target {
    /// A file under /proc/sys or /sys: sysctls, RPS masks, IRQ affinity, hugepages.
    File { path: String },
    /// An rtnetlink link attribute (MTU, GSO/GRO max sizes). Writing an MTU
    /// also forgets the path MTUs learned at the old one (see `sys::route`).
    Link { dev: String, attr: LinkAttr },
    /// The static IPv6 addresses of a device (`ADDR/PREFIX ...`), which the
    /// kernel drops for good when its MTU goes below 1280: recorded before such
    /// an MTU change and added back after the MTU is.
    Ipv6Addrs { dev: String },
    /// An ethtool feature, by the name `ethtool -k` prints ("on"/"off").
    Feature { dev: String, feature: String },
    /// An ethtool ring parameter.
    Ring { dev: String, param: RingParam },
    /// An ethtool channel count.
    Channels { dev: String, which: ChannelKind },
    /// The RSS indirection table ("default" or the queue of each entry).
    RssIndir { dev: String },
    /// An ntuple rule zcbench inserted ("present"/"absent"); `spec` is the
    /// ethtool_rx_flow_spec in hex, `location` None when the driver chose it.
    Ntuple { dev: String, spec: String, location: Option<u32> },
    /// A network namespace zcbench created ("present"/"absent").
    Netns { name: String },
    /// A device of the initial namespace moved into namespace `ns` for a run
    /// ("moved"/"home"); `up`: it was administratively up before, so going home
    /// brings it up again (a move leaves a device down).
    PortNetns { dev: String, ns: String, up: bool },
}

impl Target {
    /// What `ethtool`/`ip`/`sysctl` users would call it.
    pub fn describe(&self) -> String {
        match self {
            Target::File { path } => match path.strip_prefix("/proc/sys/") {
                Some(k) => format!("sysctl {}", k.replace('/', ".")),
                None => path.clone(),
            },
            Target::Link { dev, attr } => format!("{dev} {}", attr.name()),
            Target::Ipv6Addrs { dev } => format!("{dev} IPv6 addresses"),
            Target::Feature { dev, feature } => {
                // The kernel's names for these differ from what `ethtool -k` prints.
                let alias = match feature.as_str() {
                    "rx-gro" => " (generic-receive-offload)",
                    "rx-ntuple-filter" => " (ntuple-filters)",
                    "rx-lro" => " (large-receive-offload)",
                    _ => "",
                };
                format!("{dev} feature {feature}{alias}")
            }
            Target::Ring { dev, param } => format!("{dev} {}", param.name()),
            Target::Channels { dev, which } => format!("{dev} {} channels", format!("{which:?}").to_lowercase()),
            Target::RssIndir { dev } => format!("{dev} RSS indirection table"),
            Target::Ntuple { dev, spec, location } => {
                let at = location.map(|l| format!(" at {l}")).unwrap_or_default();
                format!("{dev} ntuple rule{at} ({} bytes)", spec.len() / 2)
            }
            Target::Netns { name } => format!("network namespace {name}"),
            Target::PortNetns { dev, ns, .. } => format!("{dev} moved into network namespace {ns}"),
        }
    }
}

fn fs_bytes(dev: &str, spec: &str) -> Result<[u8; rxnfc::FS_SIZE]> {
    let b = rxnfc::unhex(spec).ok_or_else(|| anyhow!("{dev}: ntuple rule in the journal is not hex"))?;
    b.try_into().map_err(|_| anyhow!("{dev}: ntuple rule in the journal has the wrong size"))
}

/// Whether `t` belongs to one network namespace (a device, its sysfs files,
/// /proc/sys/net) rather than to the whole host (vm.*, IRQ affinity, huge
/// pages, the names under /run/netns).
pub fn netns_scoped(t: &Target) -> bool {
    match t {
        Target::File { path } => {
            ["/proc/sys/net/", "/sys/class/net/", "/sys/devices/virtual/net/"].iter().any(|p| path.starts_with(p))
        }
        // A port's move names its namespace itself and is made from (and
        // undone into) the host's initial namespace.
        Target::Netns { .. } | Target::PortNetns { .. } => false,
        _ => true,
    }
}

/// The device a target belongs to, when it is one.
fn device(t: &Target) -> Option<&str> {
    match t {
        Target::Link { dev, .. }
        | Target::Ipv6Addrs { dev }
        | Target::Feature { dev, .. }
        | Target::Ring { dev, .. }
        | Target::Channels { dev, .. }
        | Target::RssIndir { dev }
        | Target::Ntuple { dev, .. } => Some(dev),
        Target::File { .. } | Target::Netns { .. } | Target::PortNetns { .. } => None,
    }
}

/// Whether what `t` is part of still exists at `place`: the device, or the file
/// (a device's sysfs and /proc/sys/net/ipv4/conf/DEV files go with it). A
/// setting whose device is gone went with the device.
pub fn exists(place: &Place, t: &Target) -> Result<bool> {
    if let Target::File { path } = t {
        return netns::file_exists_at(place, path);
    }
    let Some(dev) = device(t) else { return Ok(true) };
    netns::with_place(place, || match link::get_link(dev) {
        Ok(_) => Ok(true),
        Err(e) if crate::error::exit_kind(&e) == crate::error::ExitKind::Usage => Ok(false),
        Err(e) => Err(e),
    })
}

/// The current value of `t` at `place`, in the form [`write`] takes.
pub fn read(place: &Place, t: &Target) -> Result<String> {
    if let Target::File { path } = t {
        return Ok(netns::read_at(place, path)?.trim().to_string());
    }
    if let Target::Netns { name } = t {
        return Ok(if netns::exists(name) { "present" } else { "absent" }.into());
    }
    if let Target::PortNetns { dev, ns, .. } = t {
        return Ok(if netns::device_in(ns, dev) { "moved" } else { "home" }.into());
    }
    netns::with_place(place, || match t {
        Target::Link { dev, attr } => {
            let l = link::get_link(dev)?;
            attr.of(&l).map(|v| v.to_string()).ok_or_else(|| anyhow!("{dev}: the kernel reports no {}", attr.name()))
        }
        Target::Ipv6Addrs { dev } => route::static_ipv6_addresses(dev),
        Target::Feature { dev, feature } => {
            Ok(if ethtool::features(dev)?.is_active(feature) { "on" } else { "off" }.into())
        }
        Target::Ring { dev, param } => {
            let r = ethtool::rings(dev)?.ok_or_else(|| anyhow!("{dev}: the driver has no ring parameters"))?;
            ethtool::ring_value(&r, *param).ok_or_else(|| anyhow!("{dev}: the driver reports no {}", param.name()))
        }
        Target::Channels { dev, which } => {
            let c = ethtool::channels(dev)?.ok_or_else(|| anyhow!("{dev}: the driver has no channel parameters"))?;
            Ok(c.get(*which).to_string())
        }
        Target::RssIndir { dev } => {
            let t = rxnfc::indir(dev).with_context(|| format!("{dev}: ETHTOOL_GRXFHINDIR"))?;
            let rings = rxnfc::rx_rings(dev).with_context(|| format!("{dev}: ETHTOOL_GRXRINGS"))?;
            Ok(if t == rxnfc::default_indir(t.len(), rings) { "default".into() } else { rxnfc::indir_to_text(&t) })
        }
        Target::Ntuple { dev, spec, location } => {
            let fs = fs_bytes(dev, spec)?;
            let present = match location {
                Some(l) => rxnfc::get_rule(dev, *l).is_ok_and(|r| rxnfc::same_rule(&r, &fs)),
                None => {
                    !rxnfc::find_rules(dev, &fs).with_context(|| format!("{dev}: listing ntuple rules"))?.is_empty()
                }
            };
            Ok(if present { "present" } else { "absent" }.into())
        }
        Target::File { .. } | Target::Netns { .. } | Target::PortNetns { .. } => unreachable!("handled above"),
    })
}

/// Write `value` to `t` at `place`.
pub fn write(place: &Place, t: &Target, value: &str) -> Result<()> {
    if let Target::File { path } = t {
        return netns::write_at(place, path, value);
    }
    if let Target::Netns { name } = t {
        return match value {
            "present" => netns::create(name),
            "absent" => netns::delete(name),
            v => bail!("network namespace {name}: '{v}' is not present/absent"),
        };
    }
    if let Target::PortNetns { dev, ns, up } = t {
        return match value {
            "moved" => netns::ip(&["link", "set", "dev", dev, "netns", ns]).map(drop),
            "home" => {
                if netns::device_in(ns, dev) {
                    netns::ip(&["-n", ns, "link", "set", "dev", dev, "netns", "1"])?;
                }
                // A deleted namespace sends a physical port home by itself, down.
                if *up {
                    netns::ip(&["link", "set", "dev", dev, "up"])?;
                }
                Ok(())
            }
            v => bail!("{dev}: '{v}' is not moved/home"),
        };
    }
    let num = |dev: &str| -> Result<u32> {
        value.trim().parse().map_err(|_| anyhow!("{dev}: '{value}' is not a number for {}", t.describe()))
    };
    netns::with_place(place, || match t {
        Target::Link { dev, attr } => {
            link::set_link_u32(dev, *attr, num(dev)?)?;
            // Raising it back leaves a path MTU learned below it locked in
            // the route cache for up to ten minutes.
            if *attr == LinkAttr::Mtu { route::forget_learned_mtus(dev) } else { Ok(()) }
        }
        Target::Ipv6Addrs { dev } => route::set_static_ipv6_addresses(dev, value),
        Target::Feature { dev, feature } => ethtool::set_feature(dev, feature, value == "on"),
        Target::Ring { dev, param } => ethtool::set_ring(dev, *param, value),
        Target::Channels { dev, which } => ethtool::set_channels(dev, *which, num(dev)?),
        Target::RssIndir { dev } => {
            let table =
                rxnfc::indir_from_text(value).ok_or_else(|| anyhow!("{dev}: '{value}' is not an indirection table"))?;
            rxnfc::set_indir(dev, &table).with_context(|| format!("{dev}: ETHTOOL_SRXFHINDIR"))
        }
        Target::Ntuple { dev, spec, location } => {
            let fs = fs_bytes(dev, spec)?;
            match value {
                "present" => {
                    rxnfc::insert_rule(dev, &fs).with_context(|| format!("{dev}: ETHTOOL_SRXCLSRLINS"))?;
                    Ok(())
                }
                "absent" => {
                    // Only ever delete a rule that is ours (same match, same queue).
                    let locs = match location {
                        Some(l) => vec![*l].into_iter().filter(|l| read_rule_is(dev, *l, &fs)).collect(),
                        None => rxnfc::find_rules(dev, &fs).with_context(|| format!("{dev}: listing ntuple rules"))?,
                    };
                    for l in locs {
                        rxnfc::delete_rule(dev, l).with_context(|| format!("{dev}: ETHTOOL_SRXCLSRLDEL {l}"))?;
                    }
                    Ok(())
                }
                v => bail!("{dev}: ntuple rule value '{v}' is not present/absent"),
            }
        }
        Target::File { .. } | Target::Netns { .. } | Target::PortNetns { .. } => unreachable!("handled above"),
    })
}

fn read_rule_is(dev: &str, location: u32, fs: &[u8]) -> bool {
    rxnfc::get_rule(dev, location).is_ok_and(|r| rxnfc::same_rule(&r, fs))
}

/// Values are equal as the kernel means them (whitespace-insensitive).
pub fn same_value(a: &str, b: &str) -> bool {
    crate::sys::sysctl::normalize(a) == crate::sys::sysctl::normalize(b)
}

/// Like [`same_value`], and CPU masks (`rps_cpus`, `smp_affinity`) compare as
/// masks: the kernel prints `00000002` or `2`, with commas every 32 bits.
pub fn same_value_of(t: &Target, a: &str, b: &str) -> bool {
    let is_mask = matches!(t, Target::File { path } if path.ends_with("rps_cpus") || path.ends_with("/smp_affinity"));
    if is_mask {
        let m = |s: &str| {
            let d: String = s.trim().chars().filter(|c| *c != ',').collect();
            let d = d.trim_start_matches('0').to_ascii_lowercase();
            d.chars().all(|c| c.is_ascii_hexdigit()).then_some(d)
        };
        if let (Some(x), Some(y)) = (m(a), m(b)) {
            return x == y;
        }
    }
    same_value(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_the_setting() {
        let t = Target::File { path: "/proc/sys/net/core/rmem_max".into() };
        assert_eq!(t.describe(), "sysctl net.core.rmem_max");
        let t = Target::Link { dev: "eth0".into(), attr: LinkAttr::GroMaxSize };
        assert_eq!(t.describe(), "eth0 gro_max_size");
        let t = Target::Channels { dev: "eth0".into(), which: ChannelKind::Combined };
        assert_eq!(t.describe(), "eth0 combined channels");
    }

    #[test]
    fn cpu_masks_compare_as_masks() {
        let rps = Target::File { path: "/sys/class/net/lo/queues/rx-0/rps_cpus".into() };
        assert!(same_value_of(&rps, "00000002", "2"));
        assert!(same_value_of(&rps, "00000000,00000000", "0"));
        assert!(!same_value_of(&rps, "00000002", "1"));
        let other = Target::File { path: "/proc/sys/net/core/somaxconn".into() };
        assert!(!same_value_of(&other, "010", "10"), "decimal values are not masks");
        assert!(same_value_of(&other, "4096\t87380", "4096 87380"));
    }

    #[test]
    fn targets_round_trip_through_json() {
        let ts = vec![
            Target::Feature { dev: "eth0".into(), feature: "rx-gro-hw".into() },
            Target::Ntuple { dev: "eth0".into(), spec: "00ff".into(), location: None },
            Target::Ring { dev: "eth0".into(), param: RingParam::TcpDataSplit },
        ];
        let s = serde_json::to_string(&ts).unwrap();
        assert!(s.contains("\"kind\":\"feature\""));
        assert_eq!(serde_json::from_str::<Vec<Target>>(&s).unwrap(), ts);
    }

    #[test]
    fn loopback_reads_like_iproute2_and_ethtool() {
        let mtu = read(&Place::Here, &Target::Link { dev: "lo".into(), attr: LinkAttr::Mtu }).unwrap();
        assert_eq!(mtu, std::fs::read_to_string("/sys/class/net/lo/mtu").unwrap().trim());
        // The kernel names SW GRO "rx-gro"; ethtool prints it as generic-receive-offload.
        let gro = read(&Place::Here, &Target::Feature { dev: "lo".into(), feature: "rx-gro".into() }).unwrap();
        assert!(gro == "on" || gro == "off");
        if let Ok(out) = std::process::Command::new("ethtool").args(["-k", "lo"]).output() {
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().find(|l| l.starts_with("generic-receive-offload:")).unwrap();
            assert!(line.contains(&format!(": {gro}")), "ethtool says '{line}', we read {gro}");
        }
    }
}

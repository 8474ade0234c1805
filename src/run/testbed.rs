//! The local testbed: two network namespaces joined by a veth pair (addresses from
//! the 198.18.0.0/15 benchmarking range, 2001:2::/48 for IPv6), or loopback.
//! Namespaces are named after this process and are deleted when the testbed is
//! dropped (also on error and Ctrl-C); ones left by a killed process are swept on
//! the next start.

use crate::domain::Testbed as Kind;
use crate::sys::irq;
use crate::sys::journal::{Journal, Target};
use crate::sys::netlink::link;
use crate::sys::netns;
use anyhow::{Context, Result};
use std::net::IpAddr;

pub struct Testbed {
    pub kind: Kind,
    pub rx_ns: Option<String>,
    pub tx_ns: Option<String>,
    pub rx_dev: String,
    pub tx_dev: String,
    pub rx_addr: IpAddr,
}

pub const RX_V4: &str = "198.18.0.1";
pub const TX_V4: &str = "198.18.0.2";
pub const RX_V6: &str = "2001:2::1";
pub const TX_V6: &str = "2001:2::2";

impl Testbed {
    /// Loopback in this namespace.
    pub fn lo(ipv6: bool) -> Result<Testbed> {
        let a: IpAddr = if ipv6 { "::1".parse()? } else { "127.0.0.1".parse()? };
        Ok(Testbed { kind: Kind::Lo, rx_ns: None, tx_ns: None, rx_dev: "lo".into(), tx_dev: "lo".into(), rx_addr: a })
    }

    /// Two fresh namespaces and a veth pair between them. The namespaces are
    /// journalled, so a killed run's are deleted by the next start.
    pub fn netns(ipv6: bool, journal: &mut Journal) -> Result<Testbed> {
        let pid = std::process::id();
        let (rx_ns, tx_ns) = (netns::name_for(pid, "rx"), netns::name_for(pid, "tx"));
        let (rx_dev, tx_dev) = (format!("zcbr{pid}"), format!("zcbs{pid}"));
        let (rx_ip, tx_ip, plen) = if ipv6 { (RX_V6, TX_V6, 64) } else { (RX_V4, TX_V4, 24) };
        // Built first, so a failure half-way still deletes what exists.
        let tb = Testbed {
            kind: Kind::Netns,
            rx_ns: Some(rx_ns.clone()),
            tx_ns: Some(tx_ns.clone()),
            rx_dev: rx_dev.clone(),
            tx_dev: tx_dev.clone(),
            rx_addr: rx_ip.parse()?,
        };
        for ns in [&rx_ns, &tx_ns] {
            journal.set(None, Target::Netns { name: ns.clone() }, "present")?;
        }
        netns::ip(&["link", "add", &rx_dev, "netns", &rx_ns, "type", "veth", "peer", "name", &tx_dev, "netns", &tx_ns])
            .context("creating the veth pair of the testbed")?;
        for (ns, dev, ip) in [(&rx_ns, &rx_dev, rx_ip), (&tx_ns, &tx_dev, tx_ip)] {
            let cidr = format!("{ip}/{plen}");
            let mut addr = vec!["-n", ns, "addr", "add", &cidr, "dev", dev];
            if ipv6 {
                addr.push("nodad");
            }
            netns::ip(&addr)?;
            netns::ip(&["-n", ns, "link", "set", "dev", "lo", "up"])?;
            netns::ip(&["-n", ns, "link", "set", "dev", dev, "up"])?;
        }
        Ok(tb)
    }

    /// Steer the receiving device's softirq to `cpu` with RPS. Returns a description.
    pub fn steer(&self, changes: &mut Journal, cpu: usize) -> Result<String> {
        let queues = link::rx_queue_count(self.rx_ns.as_deref(), &self.rx_dev)?;
        irq::steer_rps(changes, self.rx_ns.as_deref(), &self.rx_dev, queues, cpu)?;
        Ok(match &self.rx_ns {
            Some(ns) => {
                format!("RPS: {} rx-0..{} -> core {cpu} (namespace {ns})", self.rx_dev, queues.saturating_sub(1))
            }
            None => format!("RPS: {} rx-0..{} -> core {cpu}", self.rx_dev, queues.saturating_sub(1)),
        })
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Netns => "netns",
            Kind::Lo => "lo",
        }
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        for ns in [&self.rx_ns, &self.tx_ns].into_iter().flatten() {
            if let Err(e) = netns::delete(ns) {
                eprintln!("zcbench: warning: {e:#}");
            }
        }
    }
}

//! The local testbeds: two network namespaces joined by a veth pair, loopback,
//! or two NIC ports cabled to each other, each moved into a namespace of its own
//! (addresses from the 198.18.0.0/15 benchmarking range, 2001:2::/48 for IPv6).
//! Namespaces are named after this process. They, the port moves and every
//! setting made inside them are journalled, and the journal alone tears the
//! testbed down, newest first — settings inside the namespaces, ports home and
//! up, namespaces deleted — at the end of a run, on error, on Ctrl-C, and for a
//! killed run at the next start.

use crate::domain::TestbedKind as Kind;
use crate::error::usage;
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
    pub tx_addr: IpAddr,
}

pub const RX_V4: &str = "198.18.0.1";
pub const TX_V4: &str = "198.18.0.2";
pub const RX_V6: &str = "2001:2::1";
pub const TX_V6: &str = "2001:2::2";

fn addrs(ipv6: bool) -> (&'static str, &'static str, u8) {
    if ipv6 { (RX_V6, TX_V6, 64) } else { (RX_V4, TX_V4, 24) }
}

impl Testbed {
    /// Loopback in this namespace.
    pub fn lo(ipv6: bool) -> Result<Testbed> {
        let a: IpAddr = if ipv6 { "::1".parse()? } else { "127.0.0.1".parse()? };
        // Checked before anything changes: lo down, or IPv6 off on it (or at
        // boot), used to fail only when the flow's socket was bound.
        if let Err(e) = std::net::TcpListener::bind((a, 0)) {
            let hint = match (ipv6, e.raw_os_error()) {
                (true, Some(libc::EAFNOSUPPORT)) => "IPv6 is disabled on this host (ipv6.disable=1 at boot)",
                (true, _) => {
                    "lo has no ::1 here: IPv6 is off on it (net.ipv6.conf.lo.disable_ipv6 = 1, or \
                     net.ipv6.conf.all.disable_ipv6) or lo is down"
                }
                (false, _) => "lo has no 127.0.0.1 here: is lo up in this network namespace?",
            };
            return Err(crate::error::unsupported(format!(
                "--testbed lo{}: cannot use {a} ({e}): {hint}",
                if ipv6 { " -6" } else { "" }
            )));
        }
        Ok(Testbed {
            kind: Kind::Lo,
            rx_ns: None,
            tx_ns: None,
            rx_dev: "lo".into(),
            tx_dev: "lo".into(),
            rx_addr: a,
            tx_addr: a,
        })
    }

    /// This process's two namespaces, journalled (the journal deletes them).
    fn spaces(kind: Kind, devs: (String, String), ipv6: bool, journal: &mut Journal) -> Result<Testbed> {
        let pid = std::process::id();
        let (rx_ns, tx_ns) = (netns::name_for(pid, "rx"), netns::name_for(pid, "tx"));
        let (rx_ip, tx_ip, _) = addrs(ipv6);
        // Built first, so a failure half-way still deletes what exists.
        let tb = Testbed {
            kind,
            rx_ns: Some(rx_ns.clone()),
            tx_ns: Some(tx_ns.clone()),
            rx_dev: devs.0,
            tx_dev: devs.1,
            rx_addr: rx_ip.parse()?,
            tx_addr: tx_ip.parse()?,
        };
        for ns in [&rx_ns, &tx_ns] {
            journal.set(None, Target::Netns { name: ns.clone() }, "present")?;
        }
        Ok(tb)
    }

    /// Addresses on both ends, both ends and each namespace's lo up.
    fn address(&self, ipv6: bool) -> Result<()> {
        let (rx_ip, tx_ip, plen) = addrs(ipv6);
        for (ns, dev, ip) in [(&self.rx_ns, &self.rx_dev, rx_ip), (&self.tx_ns, &self.tx_dev, tx_ip)] {
            let ns = ns.as_deref().context("a namespace testbed without its namespaces")?;
            let cidr = format!("{ip}/{plen}");
            let mut addr = vec!["-n", ns, "addr", "add", &cidr, "dev", dev];
            if ipv6 {
                addr.push("nodad");
            }
            netns::ip(&addr)?;
            netns::ip(&["-n", ns, "link", "set", "dev", "lo", "up"])?;
            netns::ip(&["-n", ns, "link", "set", "dev", dev, "up"])?;
        }
        Ok(())
    }

    /// Two fresh namespaces and a veth pair between them.
    pub fn netns(ipv6: bool, journal: &mut Journal) -> Result<Testbed> {
        let pid = std::process::id();
        let tb = Self::spaces(Kind::Netns, (format!("zcbr{pid}"), format!("zcbs{pid}")), ipv6, journal)?;
        let (rx_ns, tx_ns) = (tb.rx_ns.as_deref().unwrap_or_default(), tb.tx_ns.as_deref().unwrap_or_default());
        netns::ip(&[
            "link", "add", &tb.rx_dev, "netns", rx_ns, "type", "veth", "peer", "name", &tb.tx_dev, "netns", tx_ns,
        ])
        .context("creating the veth pair of the testbed")?;
        tb.address(ipv6)?;
        Ok(tb)
    }

    /// Two ports of this namespace cabled to each other, `rx` receiving: each is
    /// moved into a namespace of its own for the run (journalled, so it goes home
    /// and comes back up afterwards, also after a crash). Ports that carry
    /// addresses are refused: moving a device flushes them.
    pub fn ports(rx: &str, tx: &str, ipv6: bool, journal: &mut Journal) -> Result<Testbed> {
        if rx == tx || rx == "lo" || tx == "lo" {
            return Err(usage(format!("--dev {rx} --peer-dev {tx}: two different ports cabled to each other")));
        }
        let mut up = [false; 2];
        for (i, dev) in [rx, tx].into_iter().enumerate() {
            let l = link::get_link(dev)?;
            up[i] = l.admin_up;
            let a = netns::configured_addresses(dev)?;
            if !a.is_empty() {
                return Err(usage(format!(
                    "{dev} carries addresses ({}) that moving it into a test namespace would flush; remove them or pick other ports",
                    a.join(", ")
                )));
            }
        }
        let tb = Self::spaces(Kind::Ports, (rx.to_string(), tx.to_string()), ipv6, journal)?;
        for ((dev, ns), up) in [(rx, &tb.rx_ns), (tx, &tb.tx_ns)].into_iter().zip(up) {
            let ns = ns.clone().context("a ports testbed without its namespaces")?;
            journal
                .set(None, Target::PortNetns { dev: dev.to_string(), ns, up }, "moved")
                .with_context(|| format!("moving {dev} into its test namespace"))?;
        }
        tb.address(ipv6)?;
        Ok(tb)
    }

    /// Steer the receiving device's processing to core `cpu`: RPS on veth and
    /// lo; on a port, its IRQs (or RPS when it has none, as netdevsim).
    pub fn steer(&self, changes: &mut Journal, cpu: usize) -> Result<String> {
        irq::steer_to_core(changes, self.rx_ns.as_deref(), &self.rx_dev, cpu)
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Netns => "netns",
            Kind::Lo => "lo",
            Kind::Ports => "ports",
        }
    }
}

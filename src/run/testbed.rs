//! The local testbeds: two network namespaces joined by a veth pair, loopback,
//! or two NIC ports cabled to each other, each moved into a namespace of its own
//! (addresses from the 198.18.0.0/15 benchmarking range, 2001:2::/48 for IPv6).
//! Namespaces are named after this process. They, the port moves and every
//! setting made inside them are journalled, and the journal alone tears the
//! testbed down, newest first — settings inside the namespaces, ports home and
//! up, namespaces deleted — at the end of a run, on error, on Ctrl-C, and for a
//! killed run at the next start.

use crate::config::FlowCores;
use crate::domain::TestbedKind as Kind;
use crate::error::usage;
use crate::sys::irq::{self, Xps};
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
    /// Flows steered each to its own rx queue (the veth testbed with `--flows` > 1).
    pub flow_queues: usize,
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
            flow_queues: 0,
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
            flow_queues: 0,
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

    /// Two fresh namespaces and a veth pair between them; for several flows,
    /// with a queue pair per flow on each end (see [`Testbed::steer_flows`]).
    pub fn netns(ipv6: bool, flows: usize, journal: &mut Journal) -> Result<Testbed> {
        let pid = std::process::id();
        let mut tb = Self::spaces(Kind::Netns, (format!("zcbr{pid}"), format!("zcbs{pid}")), ipv6, journal)?;
        if flows > 1 {
            tb.flow_queues = flows;
        }
        let (rx_ns, tx_ns) = (tb.rx_ns.as_deref().unwrap_or_default(), tb.tx_ns.as_deref().unwrap_or_default());
        // veth leaves an skb's tx queue index where the receive side reads
        // "rx queue + 1": tx-(k+1) arrives on rx-k (tx-0 too, as "none
        // recorded"). Flow k uses tx-(k+1), hence one queue more than flows.
        // One flow: the kernel's default queue count, as before --flows.
        let q = (flows + 1).to_string();
        let qs: &[&str] = if flows > 1 { &["numtxqueues", &q, "numrxqueues", &q] } else { &[] };
        let mut args = vec!["link", "add", &tb.rx_dev, "netns", rx_ns];
        args.extend(qs);
        args.extend(["type", "veth", "peer", "name", &tb.tx_dev, "netns", tx_ns]);
        args.extend(qs);
        netns::ip(&args).context("creating the veth pair of the testbed")?;
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

    /// Before flow `k` connects (veth testbed, several flows): its handshake
    /// goes out on tx-(k+1) of both ends, whichever core sends it, so each of
    /// its sockets records rx queue k as the one it receives on.
    pub fn before_connect(&self, ch: &mut Journal, k: usize, online: &[usize]) -> Result<()> {
        if self.flow_queues == 0 {
            return Ok(());
        }
        for (ns, dev) in [(&self.rx_ns, &self.rx_dev), (&self.tx_ns, &self.tx_dev)] {
            if k > 0 {
                irq::set_xps(ch, ns.as_deref(), dev, k, Xps::Cpus, &[])?;
            }
            irq::set_xps(ch, ns.as_deref(), dev, k + 1, Xps::Cpus, online)?;
        }
        Ok(())
    }

    /// Steer each flow's receive processing to its net core. On the veth
    /// testbed with several flows, flow k keeps to queue pair k both ways: each
    /// end sends on tx-(k+1) because its socket last received on rx-k (XPS by
    /// rx queue, which the kernel looks at before the sending core, so it holds
    /// whichever core transmits — the sender thread or a softirq), veth
    /// delivers tx-(k+1) to the other end's rx-k, and rx-k of the receiving end
    /// has RPS to flow k's net core. On lo (one rx queue) and on ports (IRQs,
    /// not steered per flow yet) all flows' processing goes to the net cores
    /// of all flows. Returns the description for the result and each flow's
    /// rx queue.
    pub fn steer_flows(&self, ch: &mut Journal, flows: &[FlowCores]) -> Result<(String, Vec<Option<u32>>)> {
        let nets: Vec<usize> = flows.iter().map(|f| f.net_cpu).collect();
        if self.flow_queues > 0 {
            for (ns, dev) in [(&self.rx_ns, &self.rx_dev), (&self.tx_ns, &self.tx_dev)] {
                irq::set_xps(ch, ns.as_deref(), dev, flows.len(), Xps::Cpus, &[])?;
                for k in 0..flows.len() {
                    irq::set_xps(ch, ns.as_deref(), dev, k + 1, Xps::RxQueues, &[k])?;
                }
            }
            let rps: Vec<(usize, usize)> = nets.iter().copied().enumerate().collect();
            irq::steer_rps_queues(ch, self.rx_ns.as_deref(), &self.rx_dev, &rps)?;
            let each: Vec<String> =
                nets.iter().enumerate().map(|(k, c)| format!("flow {}: rx-{k} -> core {c}", k + 1)).collect();
            let what = format!(
                "RPS per rx queue of {} ({}); each flow on its own queue pair both ways (XPS by rx queue)",
                self.rx_dev,
                each.join(", ")
            );
            return Ok((what, (0..flows.len() as u32).map(Some).collect()));
        }
        let mut all = nets.clone();
        all.sort_unstable();
        all.dedup();
        match (self.kind, all.len()) {
            (_, 1) => Ok((self.steer(ch, all[0])?, vec![None; flows.len()])),
            (Kind::Lo, _) => {
                let queues = link::rx_queue_count(self.rx_ns.as_deref(), &self.rx_dev)?;
                let mask = crate::sys::cpu::cpu_mask_hex(&all);
                for q in 0..queues.max(1) {
                    ch.set(None, Target::File { path: irq::rps_path(&self.rx_dev, q) }, &mask)?;
                }
                let what = format!(
                    "RPS: {} rx-* -> cores {all:?}, by each flow's hash (lo has one rx queue: flows are not steered one by one)",
                    self.rx_dev
                );
                Ok((what, vec![None; flows.len()]))
            }
            _ => Err(crate::error::unsupported(
                "flows on different net cores over NIC ports: steering each flow to a queue of its own needs an \
                 ntuple rule per flow, which zcbench does not make yet; give the flows one net core (e.g. --net-cpus 2)",
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Netns => "netns",
            Kind::Lo => "lo",
            Kind::Ports => "ports",
        }
    }
}

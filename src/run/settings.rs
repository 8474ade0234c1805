//! Host and NIC settings for a run: planned from the command line and checked
//! against the devices (nothing changes yet), then applied through the undo
//! journal. An unsupported setting is an exit-3 error naming the device, its
//! driver and the setting, raised before the first change.

use crate::config::{HugePages, Settings};
use crate::error::{unsupported, usage};
use crate::sys::ethtool::{self, ChannelKind, RingParam, rxnfc};
use crate::sys::journal::{Journal, Target};
use crate::sys::mem::{Backing, HugePool};
use crate::sys::netlink::link::{self, LinkAttr};
use crate::sys::netns::{self, Dev};
use crate::sys::route;
use crate::sys::sysctl::{self, Scope};
use anyhow::{Context, Result};
use std::net::SocketAddr;

/// The kernel's upper bound for gro_max_size (GRO_MAX_SIZE, 8 * 65535).
pub const GRO_MAX_SIZE: u32 = 8 * 65535;

/// Which process is planning: decides where a setting without its device goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Both ends on this host.
    Local,
    /// The receiver of a two-host run.
    Server,
    /// The sender of a two-host run.
    Client,
}

/// One checked setting, not applied yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub ns: Option<String>,
    pub target: Target,
    pub value: String,
    /// Where a profile asked for it ("FILE:LINE"): the kernel must store it as written.
    pub origin: Option<String>,
}

#[derive(Debug, Default)]
pub struct Plan {
    /// Changes in application order: sysctls, huge pages, NIC settings.
    pub wants: Vec<Want>,
    /// Huge pages asked for, and the pool they come from.
    pub hugepages: Option<(u32, HugePool)>,
    /// Changes written even when they already read as wanted (`Journal::set_forced`).
    pub forced: Vec<Want>,
    /// Flow steering to apply once the flows' addresses are known: the rx
    /// queue of each flow, in flow order, kept out of RSS.
    pub steer: Option<(Dev, Vec<u32>)>,
    /// Things worth telling the user (skipped keys, choices made).
    pub notes: Vec<String>,
}

fn missing_dev(role: Role, flag: &str, rx_side: bool) -> anyhow::Error {
    match (role, rx_side) {
        (Role::Client, true) => usage(format!("{flag} is a receiver setting: give it to `zcbench server`")),
        (Role::Server, false) => usage(format!("{flag} is a sender setting: give it to `zcbench client`")),
        _ => usage(format!("{flag} needs --dev (the network device it applies to)")),
    }
}

fn feature_want(dev: &Dev, feature: &str, alias: &str, on: bool) -> Result<Want> {
    let f = netns::with_netns(dev.ns(), || ethtool::features(&dev.name))?;
    let want = if on { "on" } else { "off" };
    // Already as asked: fine even when the driver would not let it change.
    if f.is_active(feature) != on && !f.can_change(feature) {
        return Err(unsupported(format!(
            "{}: cannot turn {alias} ({feature}) {want}: the driver does not let it change ([fixed] in `ethtool -k`)",
            dev.label()
        )));
    }
    Ok(Want {
        ns: dev.ns.clone(),
        target: Target::Feature { dev: dev.name.clone(), feature: feature.into() },
        value: want.into(),
        origin: None,
    })
}

fn link_want(dev: &Dev, l: &link::LinkInfo, attr: LinkAttr, value: u32) -> Result<Option<Want>> {
    let Some(_) = attr.of(l) else {
        return Ok(None);
    };
    let limit = match attr {
        LinkAttr::GsoMaxSize | LinkAttr::GsoIpv4MaxSize => l.tso_max_size,
        LinkAttr::GroMaxSize | LinkAttr::GroIpv4MaxSize => Some(GRO_MAX_SIZE),
        LinkAttr::Mtu => l.max_mtu.filter(|m| *m > 0),
    };
    if let Some(max) = limit
        && value > max
    {
        return Err(unsupported(format!("{}: {} {value} is above the device's limit {max}", dev.label(), attr.name())));
    }
    if attr == LinkAttr::Mtu
        && let Some(min) = l.min_mtu
        && value < min
    {
        return Err(unsupported(format!("{}: mtu {value} is below the device's minimum {min}", dev.label())));
    }
    Ok(Some(Want {
        ns: dev.ns.clone(),
        target: Target::Link { dev: dev.name.clone(), attr },
        value: value.to_string(),
        origin: None,
    }))
}

fn ring_want(dev: &Dev, rings: &Option<ethtool::Rings>, p: RingParam, value: String) -> Result<Want> {
    let Some(r) = rings else {
        return Err(unsupported(format!(
            "{}: has no ring parameters (`ethtool -g` unsupported), so {} cannot be set",
            dev.label(),
            p.name()
        )));
    };
    let (cur, max) = match p {
        RingParam::Rx => (r.rx, r.rx_max),
        RingParam::Tx => (r.tx, r.tx_max),
        RingParam::HdsThresh => (r.hds_thresh, r.hds_thresh_max),
        RingParam::TcpDataSplit => {
            if r.tcp_data_split == ethtool::DataSplit::NotReported {
                return Err(unsupported(format!("{}: does not support header split (tcp-data-split)", dev.label())));
            }
            (Some(0), None)
        }
    };
    if cur.is_none() {
        return Err(unsupported(format!("{}: the driver does not report {}", dev.label(), p.name())));
    }
    if let (Some(max), Ok(v)) = (max, value.parse::<u32>())
        && v > max
    {
        return Err(unsupported(format!("{}: {} {v} is above the driver's maximum {max}", dev.label(), p.name())));
    }
    Ok(Want { ns: dev.ns.clone(), target: Target::Ring { dev: dev.name.clone(), param: p }, value, origin: None })
}

fn channel_wants(dev: &Dev, n: u32) -> Result<Vec<Want>> {
    if n == 0 {
        return Err(usage("--channels 0: a device needs at least one channel"));
    }
    let Some(c) = netns::with_netns(dev.ns(), || ethtool::channels(&dev.name))? else {
        return Err(unsupported(format!("{}: has no channel parameters (`ethtool -l` unsupported)", dev.label())));
    };
    let kinds: &[ChannelKind] =
        if c.combined_max > 0 { &[ChannelKind::Combined] } else { &[ChannelKind::Rx, ChannelKind::Tx] };
    let mut v = Vec::new();
    for k in kinds {
        if c.max(*k) < n {
            return Err(unsupported(format!(
                "{}: --channels {n} is above the driver's maximum of {} {k:?} channels",
                dev.label(),
                c.max(*k)
            )));
        }
        v.push(Want {
            ns: dev.ns.clone(),
            target: Target::Channels { dev: dev.name.clone(), which: *k },
            value: n.to_string(),
            origin: None,
        });
    }
    Ok(v)
}

fn check_steering(dev: &Dev, queue: u32) -> Result<()> {
    let io = |what: &str, e: std::io::Error| {
        if e.raw_os_error() == Some(libc::EOPNOTSUPP) {
            unsupported(format!("{}: no flow steering / RSS control ({what}: {e})", dev.label()))
        } else {
            anyhow::anyhow!("{}: {what}: {e}", dev.label())
        }
    };
    netns::with_netns(dev.ns(), || {
        let rings = rxnfc::rx_rings(&dev.name).map_err(|e| io("ETHTOOL_GRXRINGS", e))?;
        if queue >= rings {
            return Err(unsupported(format!(
                "{}: --steer-queue {queue}: the device has {rings} rx queues",
                dev.label()
            )));
        }
        if rings < 2 {
            return Err(unsupported(format!("{}: one rx queue: RSS cannot be kept off it", dev.label())));
        }
        rxnfc::rule_table(&dev.name).map_err(|e| io("ETHTOOL_GRXCLSRLCNT", e))?;
        rxnfc::indir(&dev.name).map_err(|e| io("ETHTOOL_GRXFHINDIR", e))?;
        let f = ethtool::features(&dev.name)?;
        if !f.is_active(NTUPLE) && !f.can_change(NTUPLE) {
            return Err(unsupported(format!("{}: ntuple filters cannot be turned on", dev.label())));
        }
        Ok(())
    })
}

const NTUPLE: &str = "rx-ntuple-filter";

fn plan_sysctl(p: &mut Plan, name: &str, devs: &[&Dev]) -> Result<()> {
    let prof = sysctl::load(name)?;
    // Namespaces of the testbed (local run) get their own copy of per-namespace keys.
    let spaces: Vec<&str> = devs.iter().filter_map(|d| d.ns()).collect();
    let found = prof.resolve()?;
    p.notes.extend(found.skipped);
    for (e, path) in found.keys {
        let origin = prof.line_of(e);
        let scope = match spaces.first() {
            Some(ns) => netns::with_netns(Some(ns), || Ok(sysctl::scope_here(&path)))?,
            None => Scope::Host,
        };
        let targets: Vec<Option<String>> = match scope {
            Scope::PerNamespace => spaces.iter().map(|s| Some(s.to_string())).collect(),
            Scope::Host => vec![None],
        };
        // Set from this process's namespace: refused before any change when it
        // is read-only here (net.core.rmem_max in a namespace that is not the
        // host's initial one is a read-only view of the host's value).
        if scope == Scope::Host && !sysctl::writable_here(&path) {
            return Err(unsupported(format!(
                "sysctl {} ({origin}) is read-only in this network namespace: it belongs to the host's initial namespace; run zcbench there, or leave the key out of the profile",
                e.key
            )));
        }
        for ns in targets {
            let target = Target::File { path: path.clone() };
            p.wants.push(Want { ns, target, value: e.value.clone(), origin: Some(origin.clone()) });
        }
    }
    Ok(())
}

fn plan_hugepages(p: &mut Plan, n: u32, near: Option<&Dev>) -> Result<()> {
    // A device in another namespace has another sysfs: use the global pool.
    let pool = HugePool::near(near.filter(|d| d.ns.is_none()).map(|d| d.name.as_str()));
    let cur = pool.reserved().map_err(|e| unsupported(format!("{e:#}")))?;
    // Never shrink a reservation someone else made.
    if cur < n {
        let target = Target::File { path: pool.path.clone() };
        p.wants.push(Want { ns: None, target, value: n.to_string(), origin: None });
    }
    p.notes.push(format!("huge pages: {n} x 2 MiB on {} ({cur} reserved before)", pool.place));
    p.hugepages = Some((n, pool));
    Ok(())
}

/// Channels, ring sizes, header split and hds-thresh: ethtool rings and channels.
fn plan_rings(p: &mut Plan, a: &Settings, rx: Option<&Dev>, own: Option<&Dev>, role: Role) -> Result<()> {
    if a.channels.is_some() || a.rx_ring.is_some() || a.tx_ring.is_some() {
        let d = own.ok_or_else(|| missing_dev(role, "--channels/--rx-ring/--tx-ring", true))?;
        if let Some(n) = a.channels {
            p.wants.extend(channel_wants(d, n)?);
        }
        let rings = netns::with_netns(d.ns(), || ethtool::rings(&d.name))?;
        if let Some(n) = a.rx_ring {
            p.wants.push(ring_want(d, &rings, RingParam::Rx, n.to_string())?);
        }
        if let Some(n) = a.tx_ring {
            p.wants.push(ring_want(d, &rings, RingParam::Tx, n.to_string())?);
        }
    }
    if a.header_split.is_some() || a.hds_thresh.is_some() {
        let flag = if a.header_split.is_some() { "--header-split" } else { "--hds-thresh" };
        let d = rx.ok_or_else(|| missing_dev(role, flag, true))?;
        let rings = netns::with_netns(d.ns(), || ethtool::rings(&d.name))?;
        if let Some(on) = a.header_split {
            p.wants.push(ring_want(d, &rings, RingParam::TcpDataSplit, if on { "on" } else { "off" }.into())?);
        }
        if let Some(t) = a.hds_thresh {
            p.wants.push(ring_want(d, &rings, RingParam::HdsThresh, t.to_string())?);
        }
    }
    Ok(())
}

/// MTU and BIG TCP: rtnetlink link attributes.
fn plan_links(
    p: &mut Plan,
    a: &Settings,
    mtu: Option<u32>,
    ends: (Option<&Dev>, Option<&Dev>),
    role: Role,
) -> Result<()> {
    let (rx, tx) = ends;
    let mut devs: Vec<&Dev> = rx.into_iter().chain(tx).collect();
    devs.dedup();
    let size = |flag: &str, v: u64| -> Result<u32> {
        u32::try_from(v).ok().filter(|v| *v > 0).ok_or_else(|| usage(format!("{flag} {v}: must be 1..=4GiB")))
    };
    let both = |flag: &str| if devs.is_empty() { Err(missing_dev(role, flag, true)) } else { Ok(devs.clone()) };
    let mut attrs: Vec<(&Dev, LinkAttr, u32)> = Vec::new();
    if let Some(m) = mtu {
        attrs.extend(both("--mtu")?.into_iter().map(|d| (d, LinkAttr::Mtu, m)));
    }
    let gso = [LinkAttr::GsoMaxSize, LinkAttr::GsoIpv4MaxSize];
    let gro = [LinkAttr::GroMaxSize, LinkAttr::GroIpv4MaxSize];
    if let Some(v) = a.big_tcp {
        let v = size("--big-tcp", v)?;
        for d in both("--big-tcp")? {
            attrs.extend(gso.iter().chain(&gro).map(|at| (d, *at, v)));
        }
    }
    if let Some(v) = a.big_tcp_rx {
        let (v, d) = (size("--big-tcp-rx", v)?, rx.ok_or_else(|| missing_dev(role, "--big-tcp-rx", true))?);
        attrs.extend(gro.iter().map(|at| (d, *at, v)));
    }
    if let Some(v) = a.big_tcp_tx {
        let (v, d) = (size("--big-tcp-tx", v)?, tx.ok_or_else(|| missing_dev(role, "--big-tcp-tx", false))?);
        attrs.extend(gso.iter().map(|at| (d, *at, v)));
    }
    for (d, attr, v) in attrs {
        let l = netns::with_netns(d.ns(), || link::get_link(&d.name))?;
        let want = link_want(d, &l, attr, v)?;
        if attr == LinkAttr::Mtu && v < route::IPV6_MIN_MTU && want.is_some() {
            // The kernel drops a device's IPv6 addresses below this MTU and does
            // not add them back when it rises: journalled first, so they are
            // put back after the MTU is.
            let target = Target::Ipv6Addrs { dev: d.name.clone() };
            p.wants.push(Want { ns: d.ns.clone(), target, value: String::new(), origin: None });
        }
        match want {
            Some(w) => p.wants.push(w),
            None => p.notes.push(format!(
                "{}: the kernel has no {} (IPv4 BIG TCP needs Linux 6.3), left as is",
                d.name,
                attr.name()
            )),
        }
    }
    Ok(())
}

/// `a` with `--hugepages auto` made a count: the pages the data buffers need.
pub fn size_hugepages(a: &Settings, needed: u32) -> Settings {
    let mut a = a.clone();
    if a.hugepages == Some(HugePages::Auto) {
        a.hugepages = Some(HugePages::Pages(needed.max(1)));
    }
    a
}

/// Check every requested setting against the devices and build the plan.
/// `rx`/`tx`: the receiving and sending devices this process controls.
pub fn plan(a: &Settings, mtu: Option<u32>, rx: Option<&Dev>, tx: Option<&Dev>, role: Role) -> Result<Plan> {
    let mut p = Plan::default();
    let need_rx = |flag: &str| rx.ok_or_else(|| missing_dev(role, flag, true));
    let mut devs: Vec<&Dev> = rx.into_iter().chain(tx).collect();
    devs.dedup();
    if let Some(name) = &a.sysctl {
        plan_sysctl(&mut p, name, &devs)?;
    }
    match a.hugepages {
        Some(HugePages::Pages(n)) => plan_hugepages(&mut p, n, rx.or(tx))?,
        Some(HugePages::Auto) => anyhow::bail!("--hugepages auto was not sized before planning"),
        None => {}
    }
    plan_rings(&mut p, a, rx, rx.or(tx), role)?;
    if let Some(on) = a.hw_gro {
        let d = need_rx(if on { "--hw-gro" } else { "--no-hw-gro" })?;
        p.wants.push(feature_want(d, "rx-gro-hw", "HW GRO", on)?);
    }
    if let Some(on) = a.sw_gro {
        p.wants.push(feature_want(need_rx("--sw-gro")?, "rx-gro", "SW GRO (generic-receive-offload)", on)?);
    }
    plan_links(&mut p, a, mtu, (rx, tx), role)?;
    if let Some(q) = a.steer_queue {
        let d = need_rx("--steer-queue")?;
        check_steering(d, q)?;
        p.steer = Some((d.clone(), vec![q]));
    }
    Ok(p)
}

impl Plan {
    /// What the data buffers are backed with under this plan.
    pub fn backing(&self) -> Backing {
        if self.hugepages.is_some() { Backing::HugePages } else { Backing::Pages }
    }
}

/// Apply the plan's changes (not the steering) through `journal`.
pub fn apply(p: &Plan, journal: &mut Journal) -> Result<()> {
    for w in &p.wants {
        match (&w.origin, &w.target) {
            (Some(origin), Target::File { path }) => {
                journal.set_profile_entry(w.ns.as_deref(), path, &w.value, origin)?;
            }
            _ => {
                journal.set(w.ns.as_deref(), w.target.clone(), &w.value)?;
            }
        }
    }
    for w in &p.forced {
        journal.set_forced(w.ns.as_deref(), w.target.clone(), &w.value)?;
    }
    if let Some((n, pool)) = &p.hugepages {
        let got = pool.reserved()?;
        if got < *n {
            anyhow::bail!(
                "huge pages: asked for {n} x 2 MiB, the kernel reserved {got} ({}); memory too small or fragmented",
                pool.path
            );
        }
    }
    Ok(())
}

/// What a zero-copy receive mode (devmem, zcrx) needs of the receiving device,
/// checked now and added to `p` (applied with the rest of the plan): header split
/// on, hds-thresh 0 where the driver has it, and each of the `flows` flows on an
/// rx queue of its own — with several queues, an ntuple rule per flow to
/// `--steer-queue` (one flow) or to the last `flows` queues, and RSS kept off
/// them, so the control connection and other traffic land elsewhere. Returns
/// each flow's queue. A device that cannot is refused here, naming what it
/// lacks, before anything changes.
pub fn zero_copy_rx(p: &mut Plan, a: &Settings, dev: &Dev, mode: &str, flows: u32) -> Result<Vec<u32>> {
    if a.header_split == Some(false) {
        return Err(usage(format!("--mode {mode} needs header split: drop --header-split off")));
    }
    if a.hds_thresh.is_some_and(|t| t != 0) {
        return Err(usage(format!("--mode {mode} needs hds-thresh 0: drop --hds-thresh")));
    }
    let rings = netns::with_netns(dev.ns(), || ethtool::rings(&dev.name))?;
    if rings.as_ref().is_none_or(|r| r.tcp_data_split == ethtool::DataSplit::NotReported) {
        return Err(unsupported(format!(
            "{}: --mode {mode} needs header split (tcp-data-split), which this driver does not offer",
            dev.label()
        )));
    }
    // Written even when it reads "on": some drivers (netdevsim among them)
    // report "on" while configured "auto", and the kernel's check before a queue
    // takes a memory provider wants it configured on.
    let split = ring_want(dev, &rings, RingParam::TcpDataSplit, "on".into())?;
    p.wants.retain(|w| w.target != split.target);
    p.forced.push(split);
    if a.hds_thresh.is_none() && rings.as_ref().is_some_and(|r| r.hds_thresh.is_some_and(|t| t != 0)) {
        p.wants.push(ring_want(dev, &rings, RingParam::HdsThresh, "0".into())?);
    }
    let queues = link::rx_queue_count(dev.ns(), &dev.name)? as u32;
    let (chosen, how) = match (&p.steer, queues) {
        (Some((_, q)), _) => (q.clone(), format!("flow steered to rx queue {}", q[0])),
        (None, 0 | 1) if flows == 1 => (vec![0], "its one rx queue".to_string()),
        (None, n) if n > flows => {
            let chosen: Vec<u32> = (n - flows..n).collect();
            check_steering(dev, n - 1)?;
            p.steer = Some((dev.clone(), chosen.clone()));
            let how = match flows {
                1 => format!("flow steered to rx queue {}, RSS over the other {}", n - 1, n - 1),
                _ => format!(
                    "flows 1-{flows} steered to rx queues {} (one each), RSS over the other {}",
                    chosen.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
                    n - flows
                ),
            };
            (chosen, how)
        }
        (None, n) => {
            return Err(unsupported(format!(
                "{}: --mode {mode} --flows {flows} needs an rx queue per flow and one more for RSS (the control \
                 connection and other traffic); the device has {n}: raise its channels (ethtool -L) or run fewer flows",
                dev.label()
            )));
        }
    };
    p.notes.push(format!("{mode}: {}: header split on, hds-thresh 0, {how}", dev.name));
    Ok(chosen)
}

/// Steer each flow `(queue, local, peer)` — `peer -> local` — to its `queue`
/// of `dev`: ntuple filters on, RSS spread over the queues no flow has, then
/// a rule per flow (5-tuple; 3-tuple if the driver refuses that, or when the
/// peer is not known yet). Returns a description.
pub fn steer_flows(
    journal: &mut Journal,
    dev: &Dev,
    flows: &[(u32, SocketAddr, Option<SocketAddr>)],
) -> Result<String> {
    let ns = dev.ns();
    let label = dev.label();
    journal.set(ns, Target::Feature { dev: dev.name.clone(), feature: NTUPLE.into() }, "on")?;
    let (rings, size) = netns::with_netns(ns, || {
        let rings = rxnfc::rx_rings(&dev.name).with_context(|| format!("{label}: ETHTOOL_GRXRINGS"))?;
        Ok((rings, rxnfc::indir(&dev.name).with_context(|| format!("{label}: ETHTOOL_GRXFHINDIR"))?.len()))
    })?;
    let mut kept: Vec<u32> = flows.iter().map(|f| f.0).collect();
    kept.sort_unstable();
    kept.dedup();
    let table = rxnfc::spread_excluding(size, rings, &kept);
    journal.set(ns, Target::RssIndir { dev: dev.name.clone() }, &rxnfc::indir_to_text(&table))?;
    let mut rules = Vec::new();
    for &(queue, local, peer) in flows {
        rules.push(steer_rule(journal, dev, queue, local, peer)?);
    }
    Ok(format!(
        "{}: {}; RSS over the other {} queues",
        dev.name,
        rules.join(", "),
        rings.saturating_sub(kept.len() as u32)
    ))
}

/// One ntuple rule for `peer -> local` to `queue`: the 5-tuple first when the
/// sender's port is known, the 3-tuple (the receiving address and port)
/// otherwise or when the driver refuses that. Returns the rule described.
fn steer_rule(
    journal: &mut Journal,
    dev: &Dev,
    queue: u32,
    local: SocketAddr,
    peer: Option<SocketAddr>,
) -> Result<String> {
    let (ns, label) = (dev.ns(), dev.label());
    let mut last = None;
    let srcs: &[Option<SocketAddr>] = if peer.is_some() { &[peer, None] } else { &[None] };
    for &src in srcs {
        let rule = rxnfc::FlowRule { src, dst: local, queue };
        let (tsize, used) = netns::with_netns(ns, || {
            rxnfc::rule_table(&dev.name).with_context(|| format!("{label}: ETHTOOL_GRXCLSRLALL"))
        })?;
        let Some(loc) = rxnfc::pick_location(tsize, &used) else {
            return Err(unsupported(format!("{label}: the flow-steering table ({tsize} rules) is full")));
        };
        let fs = rxnfc::encode_flow_spec(&rule, loc);
        let location = (loc != rxnfc::RX_CLS_LOC_ANY).then_some(loc);
        let t = Target::Ntuple { dev: dev.name.clone(), spec: rxnfc::hex(&fs), location };
        match journal.set(ns, t, "present") {
            Ok(_) => return Ok(rule.describe()),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .map(|e| e.context(format!("{label}: inserting the flow-steering rule (5-tuple and 3-tuple)")))
        .unwrap_or_else(|| anyhow::anyhow!("{label}: no flow-steering rule inserted")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_without_their_device_say_where_they_belong() {
        let a = Settings { hw_gro: Some(true), ..Default::default() };
        let e = plan(&a, None, None, Some(&Dev::new(None, "lo")), Role::Client).unwrap_err();
        assert!(e.to_string().contains("receiver setting"), "{e}");
        let a = Settings { big_tcp_tx: Some(185_000), ..Default::default() };
        let e = plan(&a, None, Some(&Dev::new(None, "lo")), None, Role::Server).unwrap_err();
        assert!(e.to_string().contains("sender setting"), "{e}");
        let e = plan(&Settings::default(), Some(9000), None, None, Role::Server).unwrap_err();
        assert!(e.to_string().contains("needs --dev"), "{e}");
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Usage);
    }

    #[test]
    fn loopback_limits_are_checked_before_anything_changes() {
        let lo = Dev::new(None, "lo");
        let before = std::fs::read_to_string("/sys/class/net/lo/mtu").unwrap();
        // Above tso_max_size / GRO_MAX_SIZE: refused as unsupported, nothing planned.
        let a = Settings { big_tcp: Some(u64::from(GRO_MAX_SIZE) + 1), ..Default::default() };
        let e = plan(&a, None, Some(&lo), Some(&lo), Role::Local).unwrap_err();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Unsupported, "{e:#}");
        assert!(e.to_string().contains("lo (driver"), "{e}");
        // Steering on lo: the kernel has no rxnfc ops for it.
        let a = Settings { steer_queue: Some(0), ..Default::default() };
        let e = plan(&a, None, Some(&lo), Some(&lo), Role::Local).unwrap_err();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Unsupported, "{e:#}");
        let p = plan(
            &Settings { big_tcp: Some(131072), ..Default::default() },
            Some(9000),
            Some(&lo),
            Some(&lo),
            Role::Local,
        )
        .unwrap();
        assert!(p.wants.iter().any(|w| w.target == Target::Link { dev: "lo".into(), attr: LinkAttr::GroMaxSize }));
        assert_eq!(std::fs::read_to_string("/sys/class/net/lo/mtu").unwrap(), before, "planning changes nothing");
    }
}

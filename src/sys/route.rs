//! What the IP layer keeps about a device that a change of its MTU disturbs and
//! putting the MTU back does not repair: the path MTUs it learned (route cache
//! exceptions) and the IPv6 addresses a too-small MTU takes away.
//!
//! Both were seen on Linux 6.18: after `--mtu 68` on lo and the MTU put back,
//! `ip route show cache` kept `local 127.0.0.1 ... mtu lock 68` for ten minutes
//! (every loopback TCP connection ran with MSS 36), and `::1` was gone from lo
//! for good. Done with iproute2's `ip` and procfs, as a user would by hand.
//! Everything here acts on the calling thread's network namespace.

use crate::sys::netns;
use anyhow::{Context, Result};
use std::path::Path;

/// Below this MTU a device loses IPv6 (RFC 8200's minimum link MTU): the
/// kernel drops its addresses and does not add them back when it rises again.
pub const IPV6_MIN_MTU: u32 = 1280;

const IPV4_FLUSH: &str = "/proc/sys/net/ipv4/route/flush";
const IPV6_CONF: &str = "/proc/sys/net/ipv6";

/// Forget every path MTU learned in this namespace (IPv4; what `ip route flush
/// cache` does, and like it for the whole namespace: the kernel has no
/// per-device flush) and the IPv6 route cache entries through `dev` (`ip -6
/// route flush cache dev DEV`). Paths relearn their MTU on the next packet too big.
pub fn forget_learned_mtus(dev: &str) -> Result<()> {
    // Any write flushes; the kernel reads the value as a delay it ignores.
    std::fs::write(IPV4_FLUSH, "1")
        .with_context(|| format!("{dev}: writing {IPV4_FLUSH} to forget path MTUs learned at the old MTU"))?;
    if Path::new(IPV6_CONF).exists() {
        netns::ip(&["-6", "route", "flush", "cache", "dev", dev])
            .with_context(|| format!("{dev}: forgetting IPv6 path MTUs learned at the old MTU"))?;
    }
    Ok(())
}

/// The IPv6 addresses of `dev` that would not come back by themselves once
/// gone (not link-local, not from autoconfiguration or DHCP: those carry
/// "dynamic"), as `ADDR/PREFIX` separated by spaces ("" for none) — the form
/// the undo journal stores.
pub fn static_ipv6_addresses(dev: &str) -> Result<String> {
    if !Path::new(IPV6_CONF).exists() {
        return Ok(String::new());
    }
    let out = netns::ip(&["-6", "-o", "addr", "show", "dev", dev])?;
    let addrs: Vec<&str> = out
        .lines()
        .filter(|l| !l.contains(" scope link") && !l.contains(" dynamic"))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.by_ref().find(|x| *x == "inet6")?;
            w.next()
        })
        .collect();
    Ok(addrs.join(" "))
}

/// Make `want` (as [`static_ipv6_addresses`] gives it) the static IPv6
/// addresses of `dev`: those missing are added, others removed.
pub fn set_static_ipv6_addresses(dev: &str, want: &str) -> Result<()> {
    let have = static_ipv6_addresses(dev)?;
    let (have, want): (Vec<&str>, Vec<&str>) = (have.split_whitespace().collect(), want.split_whitespace().collect());
    for a in have.iter().filter(|a| !want.contains(a)) {
        netns::ip(&["-6", "addr", "del", a, "dev", dev]).with_context(|| format!("{dev}: removing {a}"))?;
    }
    for a in want.iter().filter(|a| !have.contains(a)) {
        netns::ip(&["-6", "addr", "add", a, "dev", dev]).with_context(|| {
            format!("{dev}: adding {a} back (the kernel took it away when the MTU went below {IPV6_MIN_MTU})")
        })?;
    }
    Ok(())
}

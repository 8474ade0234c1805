//! Steering receive processing to the net core: IRQ affinity for NIC queues, RPS
//! for veth and loopback. Every write goes through the undo [`Journal`].

use super::journal::Journal;
use super::journal::Target;
use super::netlink::{link, netdev};
use super::netns;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub fn rps_path(dev: &str, queue: usize) -> String {
    format!("/sys/class/net/{dev}/queues/rx-{queue}/rps_cpus")
}

/// Steer the softirq of every rx queue of `dev` to `cpu` with RPS.
pub fn steer_rps(ch: &mut Journal, ns: Option<&str>, dev: &str, rx_queues: usize, cpu: usize) -> Result<()> {
    let mask = super::cpu::cpu_mask_hex(&[cpu]);
    for q in 0..rx_queues.max(1) {
        ch.set(ns, Target::File { path: rps_path(dev, q) }, &mask)
            .with_context(|| format!("{dev}: steering rx-{q} to core {cpu} with RPS"))?;
    }
    Ok(())
}

/// Steer each listed rx queue of `dev` to its own core with RPS: (queue, core).
pub fn steer_rps_queues(ch: &mut Journal, ns: Option<&str>, dev: &str, queues: &[(usize, usize)]) -> Result<()> {
    for &(q, cpu) in queues {
        ch.set(ns, Target::File { path: rps_path(dev, q) }, &super::cpu::cpu_mask_hex(&[cpu]))
            .with_context(|| format!("{dev}: steering rx-{q} to core {cpu} with RPS"))?;
    }
    Ok(())
}

/// Which map of a tx queue XPS consults: the sending core, or the rx queue
/// the socket last received on (looked at first when the socket has one).
#[derive(Clone, Copy)]
pub enum Xps {
    Cpus,
    RxQueues,
}

/// Set tx queue `q` of `dev` to be used from the cores (`Xps::Cpus`) or by
/// sockets that last received on the rx queues (`Xps::RxQueues`) in `set`
/// (an empty set: never chosen that way).
pub fn set_xps(ch: &mut Journal, ns: Option<&str>, dev: &str, q: usize, map: Xps, set: &[usize]) -> Result<()> {
    let file = match map {
        Xps::Cpus => "xps_cpus",
        Xps::RxQueues => "xps_rxqs",
    };
    let mask = if set.is_empty() { "0".to_string() } else { super::cpu::cpu_mask_hex(set) };
    let path = format!("/sys/class/net/{dev}/queues/tx-{q}/{file}");
    ch.set(ns, Target::File { path }, &mask).with_context(|| format!("{dev}: setting {file} of tx-{q} to {set:?}"))?;
    Ok(())
}

/// Where a NIC's IRQ numbers came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NicIrqs {
    pub irqs: Vec<u32>,
    pub source: String,
}

/// IRQs of a NIC's NAPI instances from netdev netlink (kernel ≥ 6.9, driver support
/// needed), else the PCI function's MSI vectors, else /proc/interrupts lines that
/// name the device.
pub fn nic_irqs(dev: &str, ifindex: u32) -> Result<NicIrqs> {
    if let Ok(irqs) = netdev::napi_irqs(ifindex)
        && !irqs.is_empty()
    {
        return Ok(NicIrqs { irqs, source: "netdev netlink napi-get".into() });
    }
    let msi = format!("/sys/class/net/{dev}/device/msi_irqs");
    if let Ok(d) = std::fs::read_dir(&msi) {
        let mut irqs: Vec<u32> = d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
        irqs.sort_unstable();
        if !irqs.is_empty() {
            return Ok(NicIrqs { irqs, source: msi });
        }
    }
    let text = std::fs::read_to_string("/proc/interrupts").context("reading /proc/interrupts")?;
    let irqs = irqs_naming(&text, dev);
    Ok(NicIrqs { irqs, source: "/proc/interrupts".into() })
}

/// IRQ numbers of /proc/interrupts lines whose name mentions `dev`.
pub fn irqs_naming(proc_interrupts: &str, dev: &str) -> Vec<u32> {
    proc_interrupts
        .lines()
        .filter(|l| l.split_whitespace().last().is_some_and(|n| n == dev || n.starts_with(&format!("{dev}-"))))
        .filter_map(|l| l.split(':').next()?.trim().parse().ok())
        .collect()
}

/// Pin every IRQ of a NIC to `cpu` and turn RPS off on all its rx queues, so the
/// flow's receive processing runs on exactly that core. `ns`: the device's
/// namespace (IRQs are global; RPS masks are in the device's sysfs).
fn pin_nic(ch: &mut Journal, ns: Option<&str>, dev: &str, irqs: &NicIrqs, rx_queues: usize, cpu: usize) -> Result<()> {
    for irq in &irqs.irqs {
        ch.set(None, Target::File { path: format!("/proc/irq/{irq}/smp_affinity_list") }, &cpu.to_string())
            .with_context(|| format!("{dev}: pinning IRQ {irq} to core {cpu}"))?;
    }
    for q in 0..rx_queues {
        ch.set(ns, Target::File { path: rps_path(dev, q) }, "0")
            .with_context(|| format!("{dev}: turning RPS off on rx-{q}"))?;
    }
    Ok(())
}

/// Steer the receive processing of `dev` (in namespace `ns`) to core `cpu`: a
/// NIC's IRQs pinned there with RPS off; a device without IRQs (veth, lo,
/// netdevsim, a bridge port) gets RPS of all its rx queues to that core instead.
/// Every change goes through `ch`. Returns a description for the result.
pub fn steer_to_core(ch: &mut Journal, ns: Option<&str>, dev: &str, cpu: usize) -> Result<String> {
    let queues = link::rx_queue_count(ns, dev)?;
    let last = queues.saturating_sub(1);
    let irqs = netns::with_netns(ns, || {
        let l = link::get_link(dev)?;
        nic_irqs(dev, l.ifindex)
    })?;
    let inns = ns.map(|n| format!(" (namespace {n})")).unwrap_or_default();
    if irqs.irqs.is_empty() {
        steer_rps(ch, ns, dev, queues, cpu)?;
        return Ok(format!("RPS: {dev} rx-0..{last} -> core {cpu}{inns}"));
    }
    pin_nic(ch, ns, dev, &irqs, queues, cpu)?;
    Ok(format!("IRQs {:?} of {dev}{inns} -> core {cpu} (from {}), RPS off", irqs.irqs, irqs.source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_interrupts_lines_are_matched_by_device_name() {
        let text = "           CPU0       CPU1\n 24:  1  2  PCI-MSI 1-edge  eth0-rx-0\n 25:  1  2  PCI-MSI 2-edge  eth0-tx-0\n 26: 0 0 PCI-MSI 3-edge eth01\n 27: 0 0 PCI-MSI eth0\n";
        assert_eq!(irqs_naming(text, "eth0"), vec![24, 25, 27]);
    }
}

//! Host facts recorded with every result: kernel, CPU, network sysctls, devices.

use super::netlink::link;
use super::{ethtool, netns};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Sysctls that change what a single TCP flow can do.
pub const SYSCTLS: &[&str] = &[
    "net.core.rmem_max",
    "net.core.wmem_max",
    "net.core.rmem_default",
    "net.core.wmem_default",
    "net.core.optmem_max",
    "net.core.netdev_max_backlog",
    "net.core.busy_poll",
    "net.core.busy_read",
    "net.core.default_qdisc",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_mem",
    "net.ipv4.tcp_congestion_control",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_sack",
    "net.ipv4.tcp_window_scaling",
    "net.ipv4.tcp_moderate_rcvbuf",
    "net.ipv4.tcp_no_metrics_save",
    "net.ipv4.tcp_mtu_probing",
    "net.ipv4.tcp_notsent_lowat",
    "vm.max_map_count",
];

/// This boot of this host: two processes that read the same id share a kernel.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

/// Read sysctls as the calling thread's network namespace sees them.
pub fn read_sysctls() -> BTreeMap<String, String> {
    SYSCTLS
        .iter()
        .filter_map(|n| {
            let v = std::fs::read_to_string(super::sysctl::key_path(n)).ok()?;
            Some((n.to_string(), super::sysctl::normalize(&v)))
        })
        .collect()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeviceFacts {
    pub name: String,
    pub netns: Option<String>,
    pub link: Option<link::LinkInfo>,
    pub driver: Option<ethtool::DriverInfo>,
    /// The receive offloads a zero-copy run depends on, on or off as the run
    /// found them (ethtool features-get): empty when the driver gives none.
    pub offloads: BTreeMap<String, bool>,
}

/// Features worth recording with a device's facts (kernel feature names).
pub const RECORDED_FEATURES: &[&str] =
    &["rx-gro-hw", "rx-gro", "rx-lro", "rx-ntuple-filter", "rx-hashing", "tx-tcp-segmentation"];

/// The [`RECORDED_FEATURES`] of `dev` in this namespace, on or off (ethtool
/// features-get); empty when the driver answers none.
pub fn offloads(dev: &str) -> BTreeMap<String, bool> {
    ethtool::features(dev)
        .map(|f| RECORDED_FEATURES.iter().map(|n| (n.to_string(), f.is_active(n))).collect())
        .unwrap_or_default()
}

/// Facts of a device in namespace `ns` (None: this one).
pub fn device_facts(ns: Option<&str>, dev: &str) -> Result<DeviceFacts> {
    netns::with_netns(ns, || {
        Ok(DeviceFacts {
            name: dev.to_string(),
            netns: ns.map(str::to_string),
            link: Some(link::get_link(dev)?),
            driver: ethtool::driver_info(dev).ok(),
            offloads: offloads(dev),
        })
    })
}

/// How idle cores sleep: it decides what a wake-up IPI costs the core that sends
/// it (in a VM, waking a halted vCPU is a host wake-up, paid by the sender).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IdleFacts {
    pub driver: Option<String>,
    pub governor: Option<String>,
    /// cpuidle-haltpoll (KVM guests): how long an idle vCPU polls before halting.
    pub guest_halt_poll_ns: Option<u64>,
    /// The idle states of core 0 by name.
    pub states: Vec<String>,
}

fn read_trim(p: &str) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

pub fn idle_facts() -> IdleFacts {
    let states = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cpuidle")
        .map(|d| {
            let mut v: Vec<(String, String)> = d
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    Some((n, read_trim(&format!("{}/name", e.path().display()))?))
                })
                .collect();
            v.sort();
            v.into_iter().map(|(_, name)| name).collect()
        })
        .unwrap_or_default();
    IdleFacts {
        driver: read_trim("/sys/devices/system/cpu/cpuidle/current_driver"),
        governor: read_trim("/sys/devices/system/cpu/cpuidle/current_governor"),
        guest_halt_poll_ns: read_trim("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
            .and_then(|v| v.parse().ok()),
        states,
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel: String,
    pub kernel_version: String,
    pub arch: String,
    pub cpu_model: String,
    pub cores_online: Vec<usize>,
    pub user_hz: u64,
    pub sysctls: BTreeMap<String, String>,
    pub devices: Vec<DeviceFacts>,
    #[serde(default)]
    pub idle: IdleFacts,
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model") || l.starts_with("cpu model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub fn user_hz() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 { v as u64 } else { 100 }
}

/// Facts of this host; sysctls as seen from namespace `ns`; the given devices.
pub fn collect(ns: Option<&str>, devices: &[(Option<&str>, &str)]) -> HostFacts {
    let u = nix::sys::utsname::uname().ok();
    let s = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        u.as_ref().map(|u| f(u).to_string_lossy().into_owned()).unwrap_or_default()
    };
    HostFacts {
        hostname: s(|u| u.nodename()),
        kernel: s(|u| u.release()),
        kernel_version: s(|u| u.version()),
        arch: s(|u| u.machine()),
        cpu_model: cpu_model(),
        cores_online: super::cpu::online_cpus().unwrap_or_default(),
        user_hz: user_hz(),
        sysctls: netns::with_netns(ns, || Ok(read_sysctls())).unwrap_or_default(),
        devices: devices.iter().filter_map(|(ns, d)| device_facts(*ns, d).ok()).collect(),
        idle: idle_facts(),
    }
}

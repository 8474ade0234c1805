//! The result file: one JSON document per run, schema-versioned. Everything else
//! (tables, reports) is derived from it.

use crate::config::{FlowConfig, Layout};
use crate::metrics::{self, Cores};
use crate::rx::RxStats;
use crate::sample::procstat::{self, CoreUtil};
use crate::sample::{Sample, SamplerOutput};
use crate::sys::cpu::ThreadUsage;
use crate::sys::host::HostFacts;
use crate::sys::journal::ChangeRecord;
use crate::tx::TxStats;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// 2: `changes` entries name a `setting` (was `path`) and say whether it `changed`.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Build {
    pub version: String,
    pub git: String,
}

pub fn build() -> Build {
    Build { version: env!("CARGO_PKG_VERSION").into(), git: env!("ZCBENCH_GIT").into() }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SamplerInfo {
    pub interval_s: f64,
    /// The sampler thread's own CPU time over its wall time.
    pub cpu_s: f64,
    pub wall_s: f64,
    pub pct_of_core: f64,
    pub pinned_to: Option<usize>,
}

/// One host's view of the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Side {
    /// "receiver+sender" (local), "receiver" or "sender".
    pub role: String,
    pub host: HostFacts,
    pub layout: Layout,
    /// How receive processing was steered to the net core.
    pub net_steering: Option<String>,
    /// Every setting changed for the run (all restored afterwards).
    pub changes: Vec<ChangeRecord>,
    pub local_addr: Option<String>,
    pub peer_addr: Option<String>,
    /// TCP_MAXSEG read back from the connected socket.
    pub mss: Option<u32>,
    pub rx: Option<RxStats>,
    pub tx: Option<TxStats>,
    pub rx_thread: Option<ThreadUsage>,
    pub tx_thread: Option<ThreadUsage>,
    pub sampler: SamplerInfo,
    pub window_s: f64,
    /// Every core over the measured window.
    pub window_cpu: Vec<CoreUtil>,
    pub cut_short: bool,
    pub samples: Vec<Sample>,
}

impl Side {
    /// Fill the sampler-derived fields.
    pub fn from_sampler(role: &str, host: HostFacts, layout: Layout, out: SamplerOutput, interval_s: f64) -> Side {
        Side {
            role: role.into(),
            host,
            layout,
            net_steering: None,
            changes: Vec::new(),
            local_addr: None,
            peer_addr: None,
            mss: None,
            rx: None,
            tx: None,
            rx_thread: None,
            tx_thread: None,
            sampler: SamplerInfo {
                interval_s,
                cpu_s: out.own_cpu_s,
                wall_s: out.wall_s,
                pct_of_core: if out.wall_s > 0.0 { 100.0 * out.own_cpu_s / out.wall_s } else { 0.0 },
                pinned_to: out.pinned_to,
            },
            window_s: out.window_s,
            window_cpu: procstat::utilisation(&out.window_start, &out.window_end),
            cut_short: out.cut_short,
            samples: out.samples,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub measured_s: f64,
    /// Bytes received / sent in the measured window: the sum of the non-warm-up samples.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub gbps: f64,
    pub app: Option<CoreUtil>,
    pub net: Option<CoreUtil>,
    pub sender: Option<CoreUtil>,
    /// App and net cores together (one core when they are the same).
    pub receiver_cores: Cores,
    /// Every core of the receiving host (in local mode this includes the sender).
    pub receiver_host: Cores,
    pub sender_host: Option<Cores>,
    /// receiver_cores.busy per Gbit/s.
    pub cpu_per_gbit: f64,
    /// Largest sampler CPU share of one core, over both sides.
    pub sampler_pct_of_core: f64,
    pub retransmits: Option<u32>,
}

pub fn summarize(receiver: &Side, sender: Option<&Side>) -> Summary {
    let (rx_bytes, local_tx) = metrics::window_bytes(&receiver.samples);
    let tx_bytes = match sender {
        Some(s) => metrics::window_bytes(&s.samples).1,
        None => local_tx,
    };
    let secs = receiver.window_s;
    let gbps = metrics::gbps(rx_bytes, secs);
    let find = |side: &Side, c: usize| side.window_cpu.iter().find(|u| u.cpu == c).copied();
    let l = &receiver.layout;
    let receiver_cores = Cores::sum(metrics::cores_of(&receiver.window_cpu, &[l.app_cpu, l.net_cpu]));
    let sender_util = match sender {
        Some(s) => s.layout.sender_cpu.and_then(|c| find(s, c)),
        None => l.sender_cpu.and_then(|c| find(receiver, c)),
    };
    let retransmits = sender.unwrap_or(receiver).samples.iter().rev().find_map(|s| s.tcp_tx.map(|t| t.total_retrans));
    Summary {
        measured_s: secs,
        rx_bytes,
        tx_bytes,
        gbps,
        app: find(receiver, l.app_cpu),
        net: find(receiver, l.net_cpu),
        sender: sender_util,
        receiver_cores,
        receiver_host: Cores::sum(&receiver.window_cpu),
        sender_host: sender.map(|s| Cores::sum(&s.window_cpu)),
        cpu_per_gbit: if gbps > 0.0 { receiver_cores.busy / gbps } else { 0.0 },
        sampler_pct_of_core: receiver.sampler.pct_of_core.max(sender.map_or(0.0, |s| s.sampler.pct_of_core)),
        retransmits,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    pub schema_version: u32,
    pub zcbench: Build,
    pub timestamp: String,
    /// "netns", "lo" or "two-host".
    pub topology: String,
    pub flow: FlowConfig,
    /// MTU of the link the flow crossed, when zcbench set it.
    pub mtu: Option<u32>,
    pub receiver: Side,
    /// The sender's host when it is not the receiver's.
    pub sender: Option<Side>,
    pub summary: Summary,
}

impl RunResult {
    pub fn new(topology: &str, flow: FlowConfig, mtu: Option<u32>, receiver: Side, sender: Option<Side>) -> Self {
        let summary = summarize(&receiver, sender.as_ref());
        RunResult {
            schema_version: SCHEMA_VERSION,
            zcbench: build(),
            timestamp: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            topology: topology.into(),
            flow,
            mtu,
            receiver,
            sender,
            summary,
        }
    }

    /// Write to `dir/<timestamp>-<topology>-<mode>.json`; returns the path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating result directory {}", dir.display()))?;
        let stamp: String = self.timestamp.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let base = format!("{stamp}-{}-{}", self.topology, crate::config::mode_name(&self.flow.mode));
        let mut path = dir.join(format!("{base}.json"));
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = dir.join(format!("{base}-{n}.json"));
        }
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// The human table.
    pub fn table(&self) -> String {
        let s = &self.summary;
        let mut o = String::new();
        let pct = |v: f64| format!("{:5.1}", 100.0 * v);
        o += &format!(
            "zcbench {} ({}), {} rx={} tx={}, {:.1} s measured\n",
            self.zcbench.version,
            self.zcbench.git,
            self.topology,
            crate::config::mode_name(&self.flow.mode),
            crate::config::mode_name(&self.flow.tx_mode),
            s.measured_s
        );
        if let Some(c) = &self.flow.combined {
            o += &format!("{c}\n");
        }
        o += &format!("throughput   {:8.2} Gbit/s   ({} bytes)\n", s.gbps, s.rx_bytes);

        o += &format!("receiver CPU {:8.2} cores    ({:.3} cores per Gbit/s)\n", s.receiver_cores.busy, s.cpu_per_gbit);
        o += "\nrole      core   busy%  user%   sys%   irq%  soft%  iowt%  idle%\n";
        let l = &self.receiver.layout;
        let mut row = |role: &str, u: &Option<CoreUtil>| {
            if let Some(u) = u {
                o += &format!(
                    "{role:<9} {:>4}  {}  {}  {}  {}  {}  {}  {}\n",
                    u.cpu,
                    pct(u.busy),
                    pct(u.user + u.nice),
                    pct(u.system),
                    pct(u.irq),
                    pct(u.softirq),
                    pct(u.iowait),
                    pct(u.idle)
                );
            }
        };
        if l.app_cpu == l.net_cpu {
            row("app+net", &s.app);
        } else {
            row("app", &s.app);
            row("net", &s.net);
        }
        row("sender", &s.sender);
        o += &format!(
            "\nhost cores busy {:.2} (user {:.2}, sys {:.2}, softirq {:.2}, irq {:.2}, iowait {:.2})\n",
            s.receiver_host.busy,
            s.receiver_host.user + s.receiver_host.nice,
            s.receiver_host.system,
            s.receiver_host.softirq,
            s.receiver_host.irq,
            s.receiver_host.iowait
        );
        if let Some(r) = s.retransmits {
            o += &format!("retransmits {r}\n");
        }
        o += &format!("sampler {:.3}% of one core\n", s.sampler_pct_of_core);
        if let Some(st) = &self.receiver.net_steering {
            o += &format!("net steering: {st}\n");
        }
        for (dir, zc) in [
            ("rx", self.receiver.rx.as_ref().and_then(|r| r.zero_copy.as_ref())),
            ("tx", self.sender.as_ref().unwrap_or(&self.receiver).tx.as_ref().and_then(|t| t.zero_copy.as_ref())),
        ] {
            if let Some(z) = zc {
                o += &format!(
                    "{dir} zero copy {:5.1}% of bytes ({} zero-copy, {} copied; {})\n",
                    100.0 * z.zero_copy_share,
                    z.zero_copy_bytes,
                    z.copied_bytes,
                    z.source
                );
                if z.zero_copy_share < 0.9 {
                    o += &format!("warning: only {:.1}% of {dir} bytes avoided the copy\n", 100.0 * z.zero_copy_share);
                }
            }
        }
        if self.flow.validate {
            let v = self.receiver.rx.as_ref().map_or(0, |r| r.validated_bytes);
            o += &format!("validated {v} bytes: all matched\n");
        }
        o
    }
}

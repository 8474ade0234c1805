//! Several flows at once (`--flows`, schema 4): each flow's cores, ends,
//! counters and fate, its share of every interval, and the summary over flows.
//! Part of the file format like `schema.rs` (re-exported there); absent for a
//! single flow, so single-flow files read and write as before.

use super::paths::{CoreUtil, RxStats, TcpInfo, ThreadUsage, TxStats};
use serde::{Deserialize, Serialize};

/// The cores of one flow.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct FlowCores {
    pub app_cpu: usize,
    pub net_cpu: usize,
    pub sender_cpu: Option<usize>,
}

/// One flow as one host saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FlowSide {
    /// 1-based, in the order the connections were made.
    pub flow: u32,
    pub local_addr: Option<String>,
    pub peer_addr: Option<String>,
    /// The receiving device's rx queue this flow was steered to, when steered.
    pub rx_queue: Option<u32>,
    /// The core that processed the flow's last received packet
    /// (SO_INCOMING_CPU, read after the flow): its net core when steering held.
    pub incoming_cpu: Option<usize>,
    pub rx: Option<RxStats>,
    pub tx: Option<TxStats>,
    pub rx_thread: Option<ThreadUsage>,
    pub tx_thread: Option<ThreadUsage>,
    /// Why the flow ended before the run did ("died: ...", "stalled: ...");
    /// absent: it ran to the end. Its bytes until then are in the samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

/// One flow in one interval.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FlowSample {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_gbps: f64,
    pub tcp_rx: Option<TcpInfo>,
    pub tcp_tx: Option<TcpInfo>,
}

/// One flow's headline figures over the measured window.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FlowFigures {
    pub flow: u32,
    pub rx_bytes: u64,
    pub gbps: f64,
    /// This flow's part of the total throughput (0..=1).
    pub share: f64,
    /// Receive and transmit zero-copy shares by the kernel's account, when the
    /// modes have one (over the whole flow, as `rx.zero_copy`).
    pub rx_zero_copy_share: Option<f64>,
    pub tx_zero_copy_share: Option<f64>,
    /// The sender's TCP_INFO total_retrans at its last sample.
    pub retransmits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

/// What several flows did together.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FlowsSummary {
    pub n: u32,
    /// Jain's fairness index over the flows' window throughputs:
    /// (sum x)^2 / (n * sum x^2); 1 when all are equal, 1/n when one has it all.
    pub fairness: Option<f64>,
    pub per_flow: Vec<FlowFigures>,
    /// Every core any flow's thread or receive processing ran on (app, net and,
    /// on one host, sending cores), each once, over the window.
    pub cores: Vec<CoreUtil>,
    /// Flows that ended before the run did.
    pub ended: u32,
}

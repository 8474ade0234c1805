//! The terminal table's rows for several flows (`--flows`): each flow's
//! throughput and share, its cores and rx queue, its zero-copy shares and
//! retransmits, how it ended, the sum and Jain's fairness index.

use crate::results::schema::RunResult;

/// The flows' rows (empty for one flow).
pub fn flows_lines(r: &RunResult) -> String {
    let Some(f) = &r.summary.flows else { return String::new() };
    let mut o = format!(
        "flows         {} at once; Jain's fairness index {}; the totals above are the sums of the flows\n",
        f.n,
        f.fairness.map_or("-".into(), |j| format!("{j:.4}"))
    );
    o += &format!(
        "{:>6}  {:>8}  {:>6}  {:>14}  {:>4}  {:>4}  {:>6}  {:>5}  {:>8}  {:>6}  {:>6}  {:>5}\n",
        "flow",
        "Gbit/s",
        "share",
        "window bytes",
        "app",
        "net",
        "sender",
        "rx-q",
        "net seen",
        "rx zc%",
        "tx zc%",
        "retr"
    );
    let l = &r.receiver.layout;
    let dash = || "-".to_string();
    let sender_side = r.sender.as_ref();
    for x in &f.per_flow {
        let k = x.flow as usize - 1;
        let cores = l.flows.get(k);
        let rx_side = r.receiver.flows.get(k);
        let sender_cpu = match sender_side {
            Some(s) => s.layout.flows.get(k).and_then(|c| c.sender_cpu),
            None => cores.and_then(|c| c.sender_cpu),
        };
        let pct = |v: Option<f64>| v.map_or(dash(), |v| format!("{:.1}", 100.0 * v));
        let num = |v: Option<usize>| v.map_or(dash(), |v| v.to_string());
        o += &format!(
            "{:>6}  {:>8.2}  {:>5.1}%  {:>14}  {:>4}  {:>4}  {:>6}  {:>5}  {:>8}  {:>6}  {:>6}  {:>5}\n",
            x.flow,
            x.gbps,
            100.0 * x.share,
            x.rx_bytes,
            num(cores.map(|c| c.app_cpu)),
            num(cores.map(|c| c.net_cpu)),
            num(sender_cpu),
            rx_side.and_then(|s| s.rx_queue).map_or(dash(), |q| q.to_string()),
            num(rx_side.and_then(|s| s.incoming_cpu)),
            pct(x.rx_zero_copy_share),
            pct(x.tx_zero_copy_share),
            x.retransmits.map_or(dash(), |v| v.to_string()),
        );
    }
    let sum_bytes: u64 = f.per_flow.iter().map(|x| x.rx_bytes).sum();
    let sum_gbps: f64 = f.per_flow.iter().map(|x| x.gbps).sum();
    o += &format!("{:>6}  {sum_gbps:>8.2}  {:>5.1}%  {sum_bytes:>14}\n", "sum", 100.0);
    for x in f.per_flow.iter().filter(|x| x.ended.is_some()) {
        o += &format!(
            "warning: flow {} ended before the run did ({}): its figures cover it until then; the other flows' are whole\n",
            x.flow,
            x.ended.as_deref().unwrap_or_default()
        );
    }
    o + "\n"
}

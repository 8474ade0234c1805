//! The terminal tables: one run (with the measurements of schema 3: power,
//! ROI, syscall costs), a series' statistics, and the interval lines.

use crate::domain::name_of;
use crate::results::Interval;
use crate::results::schema::series::SeriesResult;
use crate::results::schema::{CoreUtil, RunResult, SyscallTimes};
use crate::results::stats::interval_range;

/// The roles of each distinct core, in the order app, net, sender: a core that
/// does two jobs is one row ("net+sender"), so nothing is counted twice and a
/// shared core is named as such.
fn core_roles(r: &RunResult) -> Vec<(usize, String, Option<CoreUtil>)> {
    let s = &r.summary;
    let l = &r.receiver.layout;
    let mut rows: Vec<(usize, String, Option<CoreUtil>)> = Vec::new();
    let mut add = |cpu: usize, role: &str, u: Option<CoreUtil>| match rows.iter_mut().find(|x| x.0 == cpu) {
        Some(x) => x.1 = format!("{}+{role}", x.1),
        None => rows.push((cpu, role.to_string(), u)),
    };
    add(l.app_cpu, "app", s.app);
    add(l.net_cpu, "net", s.net);
    // The sender shares a row only when it runs on the receiver's host.
    if r.sender.is_none()
        && let Some(c) = l.sender_cpu
    {
        add(c, "sender", s.sender);
    }
    // More flows: every core any of them touched, each once.
    let util = |c: usize| s.flows.as_ref().and_then(|f| f.cores.iter().find(|u| u.cpu == c).copied());
    for f in l.flows.iter().skip(1) {
        let sender = f.sender_cpu.filter(|_| r.sender.is_none());
        for (c, role) in [(Some(f.app_cpu), "app"), (Some(f.net_cpu), "net"), (sender, "sender")] {
            let Some(c) = c else { continue };
            match rows.iter_mut().find(|x| x.0 == c) {
                Some(x) if x.1.split('+').any(|p| p == role) => {}
                Some(x) => x.1 = format!("{}+{role}", x.1),
                None => rows.push((c, role.to_string(), util(c))),
            }
        }
    }
    rows
}

/// Whether the receiver was on the sender's host (loopback, veth, or two
/// namespaces of one host), where the kernel copies zero-copy sends on delivery.
fn local_delivery(r: &RunResult) -> bool {
    match &r.sender {
        None => true,
        Some(tx) => tx.host.hostname == r.receiver.host.hostname && tx.host.kernel == r.receiver.host.kernel,
    }
}

fn head(r: &RunResult) -> String {
    let s = &r.summary;
    let mut o = format!(
        "zcbench {} ({}), {} rx={} tx={}\n",
        r.zcbench.version,
        r.zcbench.git,
        r.topology,
        name_of(&r.flow.mode),
        name_of(&r.flow.tx_mode)
    );
    if let Some(c) = &r.flow.combined {
        o += &format!("{c}\n");
    }
    if r.interrupted {
        o += &format!(
            "INTERRUPTED   Ctrl-C after {:.1} s of the {} s window: the figures cover that part only\n",
            s.measured_s, r.flow.duration_s
        );
    }
    for other in &r.other_zcbench {
        o += &format!(
            "warning: another zcbench measured on this host meanwhile ({other}): these figures are disturbed\n"
        );
    }
    o += &format!("window        {:.1} s measured, after a {} s warm-up\n", s.measured_s, r.flow.warmup_s);
    o += &format!("throughput   {:8.2} Gbit/s   {} bytes received in the window\n", s.gbps, s.rx_bytes);
    if let Some((lo, hi)) = interval_range(&r.receiver.samples) {
        o += &format!("per interval {lo:8.2} .. {hi:.2} Gbit/s\n");
    }
    // The data path counts the whole flow; the window is part of it. A flow
    // that ended early took its path's counters with it.
    let ended = s.flows.as_ref().map_or(0, |f| f.ended);
    if ended > 0 {
        o += &format!(
            "whole flow    the data paths' counters cover the {} flows that ran to the end\n",
            s.flows.as_ref().map_or(0, |f| f.n) - ended
        );
    } else if let Some(rx) = &r.receiver.rx {
        let warm: u64 = r.receiver.samples.iter().filter(|x| x.warmup).map(|x| x.rx_bytes).sum();
        let after = rx.bytes.saturating_sub(warm + s.rx_bytes);
        o += &format!(
            "whole flow    {} bytes received = {warm} in the warm-up + {} in the window + {after} after it (draining)\n",
            rx.bytes, s.rx_bytes
        );
    }
    o
}

fn cpu_lines(r: &RunResult) -> String {
    let s = &r.summary;
    let l = &r.receiver.layout;
    let rows = core_roles(r);
    let mut o = String::new();
    let shared: Vec<&(usize, String, Option<CoreUtil>)> =
        rows.iter().filter(|x| x.1.contains("sender") && x.1 != "sender").collect();
    if shared.is_empty() {
        o += &format!("receiver CPU {:8.2} cores    {:.3} cores per Gbit/s\n", s.receiver_cores.busy, s.cpu_per_gbit);
    } else {
        // The sender's time cannot be told apart from the receiver's on a shared core.
        let own: Vec<String> = rows
            .iter()
            .filter(|x| !x.1.contains("sender"))
            .map(|x| format!("{} core {}: {:.2}", x.1, x.0, x.2.map_or(0.0, |u| u.busy)))
            .collect();
        o += &format!(
            "receiver CPU  not separable: core {} runs the sender too ({}-core host, --cpus {}), so its busy time is not the receiver's alone{}\n",
            shared.iter().map(|x| x.0.to_string()).collect::<Vec<_>>().join(","),
            r.receiver.host.cores_online.len(),
            l.cpus,
            if own.is_empty() { String::new() } else { format!("; {}", own.join(", ")) }
        );
    }
    let pct = |v: f64| format!("{:5.1}", 100.0 * v);
    o += &format!("\n{:<12} core   busy%  user%   sys%   irq%  soft%  iowt%  idle%\n", "role");
    let mut line = |role: &str, u: &CoreUtil| {
        o += &format!(
            "{role:<12} {:>4}  {}  {}  {}  {}  {}  {}  {}\n",
            u.cpu,
            pct(u.busy),
            pct(u.user + u.nice),
            pct(u.system),
            pct(u.irq),
            pct(u.softirq),
            pct(u.iowait),
            pct(u.idle)
        );
    };
    for (_, role, u) in &rows {
        if let Some(u) = u {
            line(role, u);
        }
    }
    if r.sender.is_some()
        && let Some(u) = &s.sender
    {
        line("sender host", u);
    }
    if !shared.is_empty() {
        o += "(a core with two roles shows them both; its time is theirs together)\n";
    }
    let uring = matches!(name_of(&r.flow.mode).as_str(), "uring" | "zcrx") || name_of(&r.flow.tx_mode) == "uring-zc";
    let iowait = s.app.iter().chain(&s.net).chain(&s.sender).any(|u| u.iowait > 0.005);
    if uring && iowait {
        o += "note: iowt% is idle time of a core whose thread waited in io_uring_enter(2) for completions, which io_uring accounts as iowait: the core was idle, nothing waited on a disk\n";
    }
    o
}

/// The human table of one result, as `zcbench run` prints it.
pub fn table(r: &RunResult) -> String {
    let s = &r.summary;
    let mut o = head(r);
    o += &super::table_flows::flows_lines(r);
    o += &cpu_lines(r);
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
    if let Some(st) = &r.receiver.net_steering {
        o += &format!("net steering: {st}\n");
    }
    for d in r.receiver.host.devices.iter().filter(|d| !d.offloads.is_empty()) {
        let f: Vec<String> =
            d.offloads.iter().map(|(k, on)| format!("{k} {}", if *on { "on" } else { "off" })).collect();
        o += &format!("{} offloads: {}\n", d.name, f.join(", "));
    }
    for c in &r.receiver.connections {
        let at = match (c.rx_queue, c.napi_id, &c.unavailable) {
            (Some(q), Some(n), _) => format!("rx queue {q} (NAPI {n})"),
            (_, _, Some(why)) => format!("rx queue unknown: {why}"),
            _ => "rx queue unknown".into(),
        };
        o += &format!("{} connection on {}: {at}\n", c.connection, c.device);
    }
    for w in r.sender.iter().flat_map(|x| &x.layout.warnings) {
        o += &format!("warning: {w}\n");
    }
    for (dir, zc) in [
        ("rx", r.receiver.rx.as_ref().and_then(|r| r.zero_copy.as_ref())),
        ("tx", r.sender.as_ref().unwrap_or(&r.receiver).tx.as_ref().and_then(|t| t.zero_copy.as_ref())),
    ] {
        let Some(z) = zc else { continue };
        o += &format!(
            "{dir} zero copy {:5.1}% of the whole flow's bytes ({} zero-copy, {} copied; {})\n",
            100.0 * z.zero_copy_share,
            z.zero_copy_bytes,
            z.copied_bytes,
            z.source
        );
        if z.zero_copy_share >= 0.9 {
            continue;
        }
        if dir == "tx" && local_delivery(r) {
            o += "note: the kernel copies zero-copy sends when the receiver is on the same host (loopback, veth): expected here, not a fault\n";
        } else {
            o += &format!("warning: only {:.1}% of {dir} bytes avoided the copy\n", 100.0 * z.zero_copy_share);
        }
    }
    if let Some(z) = r.receiver.rx.as_ref().and_then(|r| r.zcrx.as_ref()) {
        o += &zcrx_lines(z, r.receiver.rx.as_ref().map_or(0, |r| r.calls));
    }
    if r.flow.validate {
        let v = r.receiver.rx.as_ref().map_or(0, |r| r.validated_bytes);
        o += &format!("validated {v} bytes (the whole flow): all matched\n");
    }
    o += &measurement_lines(r);
    o
}

fn zcrx_lines(z: &crate::results::schema::ZcrxInfo, enters: u64) -> String {
    let mut o = match z.registration.as_str() {
        "nodev" => "zcrx: ZCRX_REG_NODEV, no device: a COPY path (the kernel copied every byte)\n".to_string(),
        _ => format!(
            "zcrx: {} rx queue {} ({}), area {} {} KiB, {}-byte buffers\n",
            z.dev.as_deref().unwrap_or("?"),
            z.queue.map_or("?".into(), |q| q.to_string()),
            if z.queue_confirmed == Some(true) { "queue-get confirmed" } else { "not confirmed" },
            z.area,
            z.area_bytes >> 10,
            z.rx_buf_len_granted.unwrap_or(4096)
        ),
    };
    let mean = |n: u64, d: u64| if d > 0 { n as f64 / d as f64 } else { 0.0 };
    o += &format!(
        "zcrx: {} data CQEs, {:.1} per io_uring_enter (max {}); re-arms: {} no F_MORE, {} CQ full, {} no buffer, {} after drops\n",
        z.data_cqes,
        mean(z.data_cqes + z.event_cqes, enters),
        z.cqes_per_enter_max,
        z.rearms_no_more,
        z.rearms_cq_full,
        z.rearms_no_buffer,
        z.rearms_after_drop
    );
    o += &format!(
        "zcrx: refill {} returned, {} publishes, ring full {}x, {} flushes, occupancy max {} of {}; CQ overflow rounds {}, dropped CQEs {}\n",
        z.refill.returned,
        z.refill.publishes,
        z.refill.ring_full,
        z.refill.flushes,
        z.refill.occupancy_max,
        z.rq_entries,
        z.cq_overflow_rounds,
        z.cq_dropped
    );
    if z.copy_bytes.is_none() && z.registration != "nodev" {
        o += "zcrx: copy-fallback bytes unknown (the kernel keeps no zcrx copy statistics before 7.2)\n";
    }
    o
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.prec$}"))
}

/// Power per source, ROI, and the syscall tables of the data threads.
fn measurement_lines(r: &RunResult) -> String {
    let s = &r.summary;
    let mut o = String::new();
    for p in &s.power {
        o += &format!(
            "power {:<8} {:<16} {:>9} W mean ({}; {} intervals read, {} missing{})\n",
            p.side,
            p.name,
            opt(p.mean_w, 1),
            crate::domain::name_of(&p.kind),
            p.present,
            p.missing,
            p.idle_w.map_or(String::new(), |i| format!("; idle {i:.1} W"))
        );
    }
    if let Some(roi) = &s.roi {
        o += &format!("ROI (n={}, m={})   T^n/C      T^n/P^m   above idle\n", roi.n, roi.m);
        let mut row = |who: &str, f: &crate::results::schema::RoiFigures| {
            o += &format!(
                "  {who:<9} {:>12} {:>10} {:>12}\n",
                opt(f.roi_cpu, 2),
                opt(f.roi_power, 3),
                opt(f.roi_power_above_idle, 3)
            );
        };
        row("receiver", &roi.receiver);
        if let Some(sf) = &roi.sender {
            row("sender", sf);
        }
        row("total", &roi.total);
    }
    let rx = r.receiver.rx.as_ref().and_then(|x| x.syscalls.as_ref());
    let tx = r.sender.as_ref().unwrap_or(&r.receiver).tx.as_ref().and_then(|x| x.syscalls.as_ref());
    for (who, t) in [("receiver", rx), ("sender", tx)] {
        if let Some(t) = t {
            o += &syscall_table(who, t);
        }
    }
    o += &format!("measuring overhead {:.3}% of one core\n", s.sampler_overhead_pct_of_core);
    o
}

/// A `perf trace -s`-like table.
pub fn syscall_table(who: &str, t: &SyscallTimes) -> String {
    let mut o = format!(
        "{who} syscalls ({}; timing cost {:.0} ns a call, {:.3} s in all)\n   syscall            calls   errors   total ms    min us    avg us    max us\n",
        t.clock, t.clock_pair_ns, t.overhead_s
    );
    for c in &t.calls {
        o += &format!(
            "   {:<16} {:>8} {:>8} {:>10.1} {:>9.1} {:>9.1} {:>9.1}\n",
            c.syscall,
            c.calls,
            c.errors,
            c.total_ns as f64 / 1e6,
            c.min_ns as f64 / 1e3,
            c.mean_ns / 1e3,
            c.max_ns as f64 / 1e3
        );
    }
    o
}

/// The statistics of a series, figure by figure.
pub fn series_table(s: &SeriesResult) -> String {
    let mut o = format!("series of {} runs: trimmed mean (first and last dropped when 3 or more)\n", s.runs.len());
    o += "   figure                         mean         min         max      stddev   kept/n\n";
    for (name, sp) in &s.figures {
        o += &format!(
            "   {name:<28} {:>10.3} {:>11.3} {:>11.3} {:>11.3}   {}/{}{}\n",
            sp.trimmed_mean,
            sp.min,
            sp.max,
            sp.stddev,
            sp.kept,
            sp.n,
            if sp.missing > 0 { format!(" ({} missing)", sp.missing) } else { String::new() }
        );
    }
    o
}

/// The interval lines shown while a flow runs: a header, then one line per
/// sample (Gbit/s, the app / net / sending cores' busy share, retransmits in
/// the interval). Keeps what it needs across lines (header shown, last
/// retransmit count).
#[derive(Default)]
pub struct IntervalLines {
    last_t: Option<f64>,
    last_retrans: Option<u32>,
    /// `--per-flow`: a line per flow before each total (`[SUM]`).
    per_flow: bool,
    last_flow_retrans: Vec<Option<u32>>,
}

/// Retransmits in an interval from the running count before and now.
fn retrans_delta(now: Option<u32>, before: Option<u32>) -> String {
    match (now, before) {
        (Some(now), Some(before)) => now.saturating_sub(before).to_string(),
        (Some(now), None) => now.to_string(),
        (None, _) => "-".into(),
    }
}

impl IntervalLines {
    pub fn new(per_flow: bool) -> Self {
        IntervalLines { per_flow, ..Default::default() }
    }

    /// `--per-flow`: one line per flow (iperf3's `[  k]`), before the `[SUM]` line.
    fn flow_lines(&mut self, s: &crate::results::schema::Sample, span: &str) -> String {
        let mut o = String::new();
        self.last_flow_retrans.resize(s.flows.len(), None);
        for (k, f) in s.flows.iter().enumerate() {
            let now = f.tcp_tx.map(|t| t.total_retrans);
            let retr = retrans_delta(now, self.last_flow_retrans[k]);
            self.last_flow_retrans[k] = now.or(self.last_flow_retrans[k]);
            o += &format!("[{:>3}] {span:<15}  {:>8.2}  {retr:>5}\n", k + 1, f.rx_gbps);
        }
        o
    }

    /// The text for one interval (with the header before the first one).
    pub fn line(&mut self, i: &Interval<'_>) -> String {
        let s = i.rx;
        let l = i.rx_layout;
        let shared = l.app_cpu == l.net_cpu;
        let mut o = String::new();
        // A new flow (a server's next client): a new header.
        let many = !s.flows.is_empty();
        if self.last_t.is_none_or(|t| s.t_s < t) {
            let cores = if shared { format!("{:>8}", "app+net%") } else { format!("{:>6}  {:>6}", "app%", "net%") };
            let tag = if many { "[SUM] " } else { "" };
            if many && self.per_flow {
                o += &format!("[flow] {:<15}  {:>8}  {:>5}\n", "interval s", "Gbit/s", "retr");
            }
            o += &format!(
                "{tag}{:<15}  {:>8}  {cores}  {:>7}  {:>5}{}\n",
                "interval s",
                "Gbit/s",
                "sender%",
                "retr",
                if many { format!("   ({} flows; flow 1's cores)", s.flows.len()) } else { String::new() }
            );
            self.last_retrans = None;
            self.last_flow_retrans.clear();
        }
        self.last_t = Some(s.t_s);
        let busy =
            |c: usize| s.cpu.iter().find(|u| u.cpu == c).map_or("-".into(), |u| format!("{:.1}", 100.0 * u.busy));
        let cores = if shared {
            format!("{:>8}", busy(l.app_cpu))
        } else {
            format!("{:>6}  {:>6}", busy(l.app_cpu), busy(l.net_cpu))
        };
        let sender = i.sender_busy.map_or("-".into(), |b| format!("{:.1}", 100.0 * b));
        let retr = retrans_delta(i.retransmits, self.last_retrans);
        self.last_retrans = i.retransmits.or(self.last_retrans);
        let t0 = s.t_s - s.dt_s;
        let span = format!("{t0:6.2}-{:.2}", s.t_s);
        if many && self.per_flow {
            o += &self.flow_lines(s, &span);
        }
        o += &format!(
            "{}{span:<15}  {:>8.2}  {cores}  {sender:>7}  {retr:>5}{}\n",
            if many { "[SUM] " } else { "" },
            s.rx_gbps,
            if s.warmup { "  (warm-up)" } else { "" }
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn data(name: &str) -> RunResult {
        crate::results::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
    }

    /// The window's bytes, the warm-up's and the drain's add up to what the
    /// data path counted; the zero-copy and validation counts say they cover
    /// the whole flow.
    #[test]
    fn byte_counts_of_different_windows_are_labelled_and_reconcile() {
        let r = data("result-v2-mmap.json");
        let t = table(&r);
        let rx = r.receiver.rx.as_ref().unwrap().bytes;
        let line = t.lines().find(|l| l.starts_with("whole flow")).unwrap();
        let nums: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        assert_eq!(nums[0], rx, "{line}");
        assert_eq!(nums[1] + nums[2] + nums[3], rx, "{line}");
        assert_eq!(nums[2], r.summary.rx_bytes);
        assert!(t.contains("in the window") && t.contains("of the whole flow's bytes"), "{t}");
    }

    #[test]
    fn a_core_shared_with_the_sender_is_not_shown_as_receiver_cpu() {
        let mut r = data("result-v2-netns.json");
        // --cpus 2 on a 2-core host: app 1, net 0, sender 0.
        r.receiver.layout.cpus = 2;
        r.receiver.layout.net_cpu = 0;
        r.summary = crate::results::stats::summarize(&r.receiver, None, 2.0, 1.0);
        let t = table(&r);
        assert!(t.contains("receiver CPU  not separable: core 0 runs the sender too"), "{t}");
        assert!(t.lines().any(|l| l.starts_with("net+sender      0")), "{t}");
        assert!(t.lines().any(|l| l.starts_with("app             1")), "{t}");
        assert!(!t.contains("cores per Gbit/s"), "{t}");
        // --cpus 1 on the same host: nothing shared, the usual figure.
        let t = table(&data("result-v2-netns.json"));
        assert!(t.contains("cores per Gbit/s") && t.contains("app+net"), "{t}");
    }

    #[test]
    fn expected_copies_are_a_note_and_uring_iowait_is_explained() {
        let mut r = data("result-v2-uring.json");
        let t = table(&r);
        if t.contains("tx zero copy") {
            assert!(t.contains("note: the kernel copies zero-copy sends") && !t.contains("warning: only"), "{t}");
        }
        r.summary.app.as_mut().unwrap().iowait = 0.2;
        assert!(table(&r).contains("io_uring accounts as iowait"));
        let mut b = data("result-v2-netns.json");
        b.summary.app.as_mut().unwrap().iowait = 0.2;
        assert!(!table(&b).contains("io_uring accounts"), "no io_uring, no io_uring note");
    }

    #[test]
    fn interrupted_and_disturbed_runs_say_so_first() {
        let mut r = data("result-v2-netns.json");
        r.interrupted = true;
        r.other_zcbench = vec!["pid 7 (`zcbench`)".into()];
        let t = table(&r);
        assert!(t.lines().nth(1).unwrap().starts_with("INTERRUPTED"), "{t}");
        assert!(t.contains("another zcbench measured on this host meanwhile (pid 7"), "{t}");
    }

    #[test]
    fn interval_lines_have_a_header_and_count_retransmits_per_interval() {
        let r = data("result-v2-netns.json");
        let l = &r.receiver.layout;
        // A warm-up interval and two measured ones, 1 s each, from the file's one sample.
        let mut samples = vec![r.receiver.samples[0].clone(); 3];
        for (i, s) in samples.iter_mut().enumerate() {
            (s.t_s, s.dt_s, s.warmup) = (i as f64 + 1.0, 1.0, i == 0);
        }
        let mut lines = IntervalLines::default();
        let mut text = String::new();
        for (i, s) in samples.iter().enumerate() {
            let iv = Interval { rx: s, rx_layout: l, sender_busy: Some(0.5), retransmits: Some(10 * i as u32) };
            text += &lines.line(&iv);
        }
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 4, "a header and three intervals: {text}");
        assert!(rows[0].contains("Gbit/s") && rows[0].contains("app+net%") && rows[0].contains("retr"), "{text}");
        assert!(rows[1].ends_with("(warm-up)") && rows[1].starts_with("  0.00-1.00"), "{text}");
        assert!(rows[2].trim_end().ends_with("10") && rows[3].trim_end().ends_with("10"), "per interval: {text}");
        assert!(rows[2].contains("50.0"), "sender busy: {text}");
    }
}

//! The terminal table of one run.

use crate::domain::name_of;
use crate::results::schema::{CoreUtil, RunResult};
use crate::results::stats::interval_range;

/// The human table of one result, as `zcbench run` prints it.
pub fn table(r: &RunResult) -> String {
    let s = &r.summary;
    let mut o = String::new();
    let pct = |v: f64| format!("{:5.1}", 100.0 * v);
    o += &format!(
        "zcbench {} ({}), {} rx={} tx={}, {:.1} s measured\n",
        r.zcbench.version,
        r.zcbench.git,
        r.topology,
        name_of(&r.flow.mode),
        name_of(&r.flow.tx_mode),
        s.measured_s
    );
    if let Some(c) = &r.flow.combined {
        o += &format!("{c}\n");
    }
    o += &format!("throughput   {:8.2} Gbit/s   ({} bytes)\n", s.gbps, s.rx_bytes);
    if let Some((lo, hi)) = interval_range(&r.receiver.samples) {
        o += &format!("per interval {lo:8.2} .. {hi:.2} Gbit/s\n");
    }

    o += &format!("receiver CPU {:8.2} cores    ({:.3} cores per Gbit/s)\n", s.receiver_cores.busy, s.cpu_per_gbit);
    o += "\nrole      core   busy%  user%   sys%   irq%  soft%  iowt%  idle%\n";
    let l = &r.receiver.layout;
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
    if let Some(st) = &r.receiver.net_steering {
        o += &format!("net steering: {st}\n");
    }
    for (dir, zc) in [
        ("rx", r.receiver.rx.as_ref().and_then(|r| r.zero_copy.as_ref())),
        ("tx", r.sender.as_ref().unwrap_or(&r.receiver).tx.as_ref().and_then(|t| t.zero_copy.as_ref())),
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
    if let Some(z) = r.receiver.rx.as_ref().and_then(|r| r.zcrx.as_ref()) {
        o += &zcrx_lines(z, r.receiver.rx.as_ref().map_or(0, |r| r.calls));
    }
    if r.flow.validate {
        let v = r.receiver.rx.as_ref().map_or(0, |r| r.validated_bytes);
        o += &format!("validated {v} bytes: all matched\n");
    }
    o += &super::measure::lines(r);
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
pub use super::measure::series_table;

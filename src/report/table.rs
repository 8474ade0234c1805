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
    if r.flow.validate {
        let v = r.receiver.rx.as_ref().map_or(0, |r| r.validated_bytes);
        o += &format!("validated {v} bytes: all matched\n");
    }
    o += &super::measure::lines(r);
    o
}

pub use super::measure::series_table;

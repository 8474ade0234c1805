//! Values no run can have. A result file is data from outside: one edited by
//! hand or written by something else may parse and still hold a throughput of
//! -5 Gbit/s, a topology zcbench never ran, or a power of -inf watts. Such a
//! file is refused when read (a report skips it, naming why) rather than drawn.

use super::schema::{Cores, RunResult, Side};

/// The testbeds a result can come from (`RunResult::topology`).
pub const TOPOLOGIES: &[&str] = &["netns", "lo", "ports", "two-host"];

/// The first impossible value of `r`, named by its place in the file.
pub fn check(r: &RunResult) -> Result<(), String> {
    if !TOPOLOGIES.contains(&r.topology.as_str()) {
        return Err(format!("topology '{}' is not one zcbench runs ({})", r.topology, TOPOLOGIES.join(", ")));
    }
    let f = &r.flow;
    positive("flow.duration_s", f.duration_s)?;
    positive("flow.interval_s", f.interval_s)?;
    at_least_0("flow.warmup_s", f.warmup_s)?;
    let s = &r.summary;
    at_least_0("summary.measured_s", s.measured_s)?;
    at_least_0("summary.gbps", s.gbps)?;
    at_least_0("summary.cpu_per_gbit", s.cpu_per_gbit)?;
    cores("summary.receiver_cores", &s.receiver_cores)?;
    cores("summary.receiver_host", &s.receiver_host)?;
    if let Some(c) = &s.sender_host {
        cores("summary.sender_host", c)?;
    }
    for (i, p) in s.power.iter().enumerate() {
        for (k, v) in [("mean_w", p.mean_w), ("idle_w", p.idle_w)] {
            if let Some(v) = v {
                at_least_0(&format!("summary.power[{i}].{k}"), v)?;
            }
        }
    }
    side("receiver", &r.receiver)?;
    if let Some(snd) = &r.sender {
        side("sender", snd)?;
    }
    Ok(())
}

fn side(name: &str, s: &Side) -> Result<(), String> {
    at_least_0(&format!("{name}.window_s"), s.window_s)?;
    for (i, x) in s.samples.iter().enumerate() {
        let at = |k: &str| format!("{name}.samples[{i}].{k}");
        at_least_0(&at("t_s"), x.t_s)?;
        at_least_0(&at("dt_s"), x.dt_s)?;
        at_least_0(&at("rx_gbps"), x.rx_gbps)?;
        for w in x.power_w.iter().flatten() {
            at_least_0(&at("power_w"), *w)?;
        }
    }
    Ok(())
}

fn cores(at: &str, c: &Cores) -> Result<(), String> {
    for (k, v) in [
        ("busy", c.busy),
        ("user", c.user),
        ("nice", c.nice),
        ("system", c.system),
        ("irq", c.irq),
        ("softirq", c.softirq),
        ("iowait", c.iowait),
        ("steal", c.steal),
    ] {
        at_least_0(&format!("{at}.{k}"), v)?;
    }
    Ok(())
}

fn at_least_0(at: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 { Ok(()) } else { Err(format!("{at} is {v}; it is a number of 0 or more")) }
}

fn positive(at: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v > 0.0 { Ok(()) } else { Err(format!("{at} is {v}; it is a number more than 0")) }
}

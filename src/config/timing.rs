//! Bounds on every duration of a run (window, warm-up, interval, samples), and
//! how a duration is shown to a person.

use crate::error::usage;
use anyhow::Result;
use std::time::Duration;

/// The longest measured window, warm-up and sampling interval (a day, an
/// hour, an hour), and the most samples a run may take.
pub const MAX_DURATION_S: f64 = 86_400.0;
pub const MAX_WARMUP_S: f64 = 3600.0;
pub const INTERVAL_RANGE_S: (f64, f64) = (0.01, 3600.0);
pub const MAX_SAMPLES: f64 = 1_000_000.0;

/// A duration as a person reads it: "1ns", "2m 30s", and in seconds past a
/// day ("3600000s", not "1month 11days 5h 26m 24s").
pub fn shown(d: Duration) -> String {
    if d.as_secs() > 86_400 { format!("{}s", d.as_secs()) } else { humantime::format_duration(d).to_string() }
}

/// The flow's timeline makes sense: a window of at least one whole interval,
/// every length within its bound (seconds; also what a client asks a server).
pub fn check_timing(d: f64, warmup: f64, interval: f64) -> Result<()> {
    let show = |s: f64| shown(Duration::try_from_secs_f64(s).unwrap_or_default());
    if !(d.is_finite() && d > 0.0) {
        return Err(usage("--duration must be more than 0 (e.g. 10s)"));
    }
    if d > MAX_DURATION_S {
        return Err(usage(format!("--duration {} is more than a day; pick a shorter run", show(d))));
    }
    if !(warmup.is_finite() && (0.0..=MAX_WARMUP_S).contains(&warmup)) {
        return Err(usage("--warmup must be between 0 and 1h"));
    }
    if !(interval.is_finite() && (INTERVAL_RANGE_S.0..=INTERVAL_RANGE_S.1).contains(&interval)) {
        return Err(usage("--interval must be between 10ms and 1h"));
    }
    if d < interval {
        return Err(usage(format!(
            "--duration {} is shorter than one --interval ({}): the window would not hold one whole sample; \
             lengthen --duration or shorten --interval (10ms at least)",
            show(d),
            show(interval)
        )));
    }
    if (d + warmup) / interval > MAX_SAMPLES {
        return Err(usage("--interval is so short that the run would take more than a million samples"));
    }
    Ok(())
}

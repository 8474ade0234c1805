//! What is measured besides the flow: power sources and idle power, perf
//! counters, the ROI exponents and how often the run is repeated.

use crate::domain::{PowerKind, PowerSpec};
use crate::error::usage;
use anyhow::Result;
use std::path::PathBuf;
use std::time::Duration;

/// The longest a power reading may take, and an idle measurement.
pub const MAX_POWER_TIMEOUT: Duration = Duration::from_secs(60);
pub const MAX_MEASURE_IDLE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct MeasureSpec {
    /// `--power` sources and `--power-cmd` (as `PowerSpec::Cmd`).
    pub power: Vec<PowerSpec>,
    /// The kind of `--power-cmd` and `--power-log` figures.
    pub power_kind: PowerKind,
    pub power_log: Option<PathBuf>,
    /// Longest a power reading may take.
    pub power_timeout: Duration,
    pub power_insecure: bool,
    pub idle_power: Option<f64>,
    pub measure_idle: Option<Duration>,
    pub perf: bool,
    pub roi_n: f64,
    pub roi_m: f64,
    pub repeat: u32,
}

impl Default for MeasureSpec {
    fn default() -> Self {
        MeasureSpec {
            power: Vec::new(),
            power_kind: PowerKind::Wall,
            power_log: None,
            power_timeout: Duration::from_secs(2),
            power_insecure: false,
            idle_power: None,
            measure_idle: None,
            perf: true,
            roi_n: 2.0,
            roi_m: 1.0,
            repeat: 1,
        }
    }
}

impl MeasureSpec {
    pub fn check(&self, interval: Duration) -> Result<()> {
        if let Some(w) = self.idle_power
            && !(w.is_finite() && w >= 0.0)
        {
            return Err(usage(format!("--idle-power {w}: must be a number of watts, 0 or more")));
        }
        for (flag, v) in [("--roi-n", self.roi_n), ("--roi-m", self.roi_m)] {
            if !(v.is_finite() && (0.0..=10.0).contains(&v)) {
                return Err(usage(format!("{flag} {v}: must be between 0 and 10")));
            }
        }
        if self.repeat == 0 || self.repeat > 1000 {
            return Err(usage(format!("--repeat {}: must be between 1 and 1000", self.repeat)));
        }
        if self.power_timeout.is_zero() || self.power_timeout > MAX_POWER_TIMEOUT {
            return Err(usage(format!(
                "--power-timeout {}: must be more than 0 and at most {} (a reading that takes longer \
                 is no reading of its interval; a slow meter gives missing intervals, not a stalled run)",
                super::timing::shown(self.power_timeout),
                super::timing::shown(MAX_POWER_TIMEOUT)
            )));
        }
        if let Some(d) = self.measure_idle {
            if d < interval {
                return Err(usage(format!(
                    "--measure-idle {}: shorter than one --interval; nothing would be read",
                    humantime::format_duration(d)
                )));
            }
            if d > MAX_MEASURE_IDLE {
                return Err(usage(format!(
                    "--measure-idle {}: more than {}; the host's idle power settles in minutes \
                     (or give it with --idle-power WATTS)",
                    super::timing::shown(d),
                    super::timing::shown(MAX_MEASURE_IDLE)
                )));
            }
        }
        if let Some(p) = &self.power_log
            && !p.is_file()
        {
            let what = if p.exists() { "not a regular file" } else { "no such file" };
            return Err(usage(format!("--power-log {}: {what} (the meter's CSV log)", p.display())));
        }
        Ok(())
    }
}

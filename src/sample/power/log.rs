//! `--power-log FILE`: a meter's log written elsewhere (CSV: a timestamp and
//! watts per line; the timestamp in Unix seconds or RFC 3339), aligned to the
//! run's window afterwards: each interval gets the mean of the readings whose
//! time falls inside it, and is missing when none does. `zcbench attach-power`
//! does the same for an existing result file.

use crate::results::schema::PowerKind;
use crate::results::schema::{PowerSource, Side};
use anyhow::{Context, Result, bail};
use std::path::Path;

/// (Unix seconds, watts) of every data line; a header line is skipped.
pub fn parse(text: &str) -> Result<Vec<(f64, f64)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split([',', ';', '\t']).map(str::trim);
        let (Some(t), Some(w)) = (f.next(), f.next()) else {
            return Err(format!("line {}: expected 'timestamp,watts', got '{line}'", n + 1));
        };
        let time = match t.parse::<f64>() {
            Ok(s) => s,
            Err(_) => match humantime::parse_rfc3339_weak(t) {
                Ok(st) => st.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
                Err(_) if n == 0 => continue, // a header
                Err(_) => return Err(format!("line {}: '{t}' is neither Unix seconds nor an RFC 3339 time", n + 1)),
            },
        };
        let watts = w.parse::<f64>().map_err(|_| format!("line {}: '{w}' is not a number of watts", n + 1))?;
        out.push((time, watts));
    }
    Ok(out)
}

/// Add the log as a power source of `side`: per sample, the mean of the
/// readings inside its interval, or null. Returns (intervals with a reading,
/// intervals without).
pub fn attach(side: &mut Side, path: &Path, kind: PowerKind) -> Result<(usize, usize)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the power log {}", path.display()))?;
    let readings = parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let Some(start) = side.start_unix_s else {
        bail!(
            "this result has no start time (written before schema version 3): its samples cannot be aligned to a log"
        );
    };
    let n = side.power_sources.len();
    let (mut with, mut without) = (0, 0);
    for s in &mut side.samples {
        let (t0, t1) = (start + s.t_s - s.dt_s, start + s.t_s);
        let inside: Vec<f64> = readings.iter().filter(|(t, _)| *t > t0 && *t <= t1).map(|r| r.1).collect();
        s.power_w.resize(n, None);
        let v = (!inside.is_empty()).then(|| inside.iter().sum::<f64>() / inside.len() as f64);
        if !s.warmup {
            if v.is_some() { with += 1 } else { without += 1 }
        }
        s.power_w.push(v);
    }
    let (first, last) = readings.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), r| (a.min(r.0), b.max(r.0)));
    side.power_sources.push(PowerSource {
        name: "log".into(),
        kind,
        source: path.display().to_string(),
        idle_w: None,
        idle_from: None,
        errors: vec![],
        notes: vec![format!(
            "{} readings from {first:.1} to {last:.1} (Unix s) aligned to the sampling intervals afterwards",
            readings.len()
        )],
    });
    Ok((with, without))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_parse_in_both_time_forms() {
        let t = "time,watts\n1700000000.5, 230\n2023-11-14T22:13:21Z;240.5\n\n# note\n";
        let r = parse(t).unwrap();
        assert_eq!(r, vec![(1_700_000_000.5, 230.0), (1_700_000_001.0, 240.5)]);
        assert!(parse("1700000000,abc").unwrap_err().contains("not a number"));
        assert!(parse("x,1\ny,2").unwrap_err().contains("line 2"));
    }
}

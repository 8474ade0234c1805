//! `--power-log FILE`: a meter's log written elsewhere (CSV: a timestamp and
//! watts per line; the timestamp in Unix seconds or RFC 3339), aligned to the
//! run's window afterwards: each interval gets the mean of the readings whose
//! time falls inside it, and is missing when none does. `zcbench attach-power`
//! does the same for an existing result file.
//!
//! The log is read line by line with a bound on each line, and only readings
//! inside the run's timeline are kept, so a huge or binary file costs time,
//! never memory. What is in it before the run is checked then (a bad line is
//! a usage error before any host change); a log that goes bad during the run
//! leaves the result intact, with the source marked failing.

use crate::results::schema::PowerKind;
use crate::results::schema::{PowerError, PowerSource, Side};
use anyhow::{Result, bail};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The longest line a meter's CSV log may have.
const MAX_LINE: usize = 4096;

/// One line of a log: a reading, or a line that holds none (blank, comment,
/// the header), or why it is not a log line.
fn line_reading(n: usize, line: &str) -> Result<Option<(f64, f64)>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut f = line.split([',', ';', '\t']).map(str::trim);
    let (Some(t), Some(w)) = (f.next(), f.next()) else {
        let shown: String = line.chars().take(60).collect();
        return Err(format!("line {n}: expected 'timestamp,watts', got '{shown}'"));
    };
    let time = match t.parse::<f64>() {
        Ok(s) if s.is_finite() => s,
        Ok(_) => return Err(format!("line {n}: '{t}' is not a time")),
        Err(_) => match humantime::parse_rfc3339_weak(t) {
            Ok(st) => st.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            Err(_) if n == 1 => return Ok(None), // a header
            Err(_) => return Err(format!("line {n}: '{t}' is neither Unix seconds nor an RFC 3339 time")),
        },
    };
    match w.parse::<f64>() {
        Ok(watts) if watts.is_finite() && watts >= 0.0 => Ok(Some((time, watts))),
        _ => Err(format!("line {n}: '{w}' is not a number of watts (0 or more)")),
    }
}

/// Every reading of `text`.
#[cfg(test)]
fn parse(text: &str) -> Result<Vec<(f64, f64)>, String> {
    let mut out = Vec::new();
    scan(text.as_bytes(), |r| out.push(r))?;
    Ok(out)
}

/// Read a log line by line (each at most `MAX_LINE` bytes of UTF-8 text) and
/// hand each reading to `each`; the number of readings, or the first bad line.
fn scan(src: impl Read, mut each: impl FnMut((f64, f64))) -> Result<usize, String> {
    let mut r = BufReader::new(src);
    let mut buf = Vec::new();
    let (mut n, mut count) = (0, 0);
    loop {
        buf.clear();
        let got = r.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf).map_err(|e| e.to_string())?;
        if got == 0 {
            return Ok(count);
        }
        n += 1;
        if buf.len() > MAX_LINE {
            return Err(format!("line {n} is longer than {MAX_LINE} bytes: not a meter's CSV log"));
        }
        let line = std::str::from_utf8(&buf)
            .ok()
            .filter(|l| !l.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n')))
            .ok_or_else(|| format!("line {n} is not text: not a meter's CSV log"))?;
        if let Some(reading) = line_reading(n, line)? {
            count += 1;
            each(reading);
        }
    }
}

fn open(path: &Path) -> Result<std::fs::File, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match f.metadata() {
        Ok(m) if m.is_file() => Ok(f),
        Ok(_) => Err(format!("{}: not a regular file (the meter's CSV log)", path.display())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Before the run: the log is a readable regular file and every line already
/// in it is a log line (the meter may add more while the run goes on).
pub fn check(path: &Path) -> Result<(), String> {
    scan(open(path)?, |_| {}).map(|_| ()).map_err(|e| format!("{}: {e}", path.display()))
}

/// The readings that fall inside `from..=to` (Unix seconds), and how many the log holds.
fn readings_between(path: &Path, from: f64, to: f64) -> Result<(Vec<(f64, f64)>, usize), String> {
    let mut kept = Vec::new();
    let all = scan(open(path)?, |r| {
        if r.0 > from && r.0 <= to {
            kept.push(r);
        }
    })
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((kept, all))
}

/// Add the log as a power source of `side`: per sample, the mean of the
/// readings inside its interval, or null. Returns (intervals with a reading,
/// intervals without). On an error `side` is left as it was.
pub fn attach(side: &mut Side, path: &Path, kind: PowerKind) -> Result<(usize, usize)> {
    let Some(start) = side.start_unix_s else {
        bail!(
            "this result has no start time (written before schema version 3): its samples cannot be aligned to a log"
        );
    };
    let (from, to) = side
        .samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| (a.min(start + s.t_s - s.dt_s), b.max(start + s.t_s)));
    let (readings, all) = readings_between(path, from, to).map_err(anyhow::Error::msg)?;
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
    let mut src = source(path, kind);
    src.notes.push(format!(
        "{} of its {all} readings fall inside the run's timeline; aligned to the sampling intervals afterwards",
        readings.len()
    ));
    side.power_sources.push(src);
    Ok((with, without))
}

/// The log could not be read after the run: it becomes a source with no
/// reading and its error, so the result keeps the measurement and says why
/// this source has nothing.
pub fn mark_failed(side: &mut Side, path: &Path, kind: PowerKind, why: &str) {
    let n = side.power_sources.len();
    for s in &mut side.samples {
        s.power_w.resize(n, None);
        s.power_w.push(None);
    }
    let mut src = source(path, kind);
    src.errors.push(PowerError { message: why.to_string(), count: 1 });
    side.power_sources.push(src);
}

fn source(path: &Path, kind: PowerKind) -> PowerSource {
    PowerSource {
        name: "log".into(),
        kind,
        source: path.display().to_string(),
        idle_w: None,
        idle_from: None,
        errors: vec![],
        notes: vec![],
    }
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
        for bad in ["1700000000,NaN", "1700000000,-5", "1700000000,inf", "inf,5"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lines_that_are_not_a_log_are_named() {
        assert!(parse("garbage\n1700000000,5").unwrap_err().contains("line 1: expected 'timestamp,watts'"));
        assert!(parse("1700000000,5\n\u{fffd}\u{0}\n").is_err());
        let binary: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        assert_eq!(scan(&binary[..], |_| {}).unwrap_err(), "line 1 is not text: not a meter's CSV log");
        let long = format!("1700000000,{}\n", "1".repeat(MAX_LINE));
        assert!(parse(&long).unwrap_err().contains("longer than 4096 bytes"));
    }
}

//! The command line's value parsers: durations, sizes, counts, `--cpus`,
//! `--hugepages`, each with a plain message for what it refuses.

use crate::config::HugePages;
use std::time::Duration;

/// A duration: with a unit (10s, 2m, 500ms) or a bare number of seconds (10,
/// 0.5), as `iperf3 -t` and `netperf -l` take it.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!("'{s}' is negative; a duration is 0 or more (e.g. 10, 0.5, 10s, 2m, 500ms)"));
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| format!("'{s}' is not a duration of seconds"));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("'{s}' is not a duration like 10 (seconds), 0.5, 10s, 2m, 500ms: {e}"))
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    if s.trim().starts_with('-') {
        return Err(format!("'{s}' is negative; a size is 1 or more bytes (e.g. 64MiB, 512KiB, 4096)"));
    }
    parse_size::Config::new()
        .with_binary()
        .parse_size(s)
        .map_err(|e| format!("'{s}' is not a size like 64MiB, 512KiB, 4096: {e}"))
}

/// A whole number (a count, a core, a port), with a plain message for a negative one.
pub fn parse_count<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    if s.trim().starts_with('-') {
        return Err(format!("'{s}' is negative; give a whole number of 0 or more"));
    }
    s.trim().parse().map_err(|_| format!("'{s}' is not a whole number in range"))
}

/// A list of cores as given (clap takes a `Vec` field for repeated values, not one list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

/// A list of cores (`--app-cpus 2,3` or `4-7`, as taskset -c takes them).
pub fn parse_cpu_list(s: &str) -> Result<CpuList, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (parse_count(a)?, parse_count(b)?);
                if a > b || b - a > 4096 {
                    return Err(format!("'{part}' is not a range of cores like 4-7"));
                }
                out.extend(a..=b);
            }
            None => out.push(parse_count(part)?),
        }
    }
    Ok(CpuList(out))
}

/// `--cpus`: 1 or 2.
pub fn parse_cpus(s: &str) -> Result<u8, String> {
    match parse_count::<u8>(s)? {
        n @ 1..=2 => Ok(n),
        n => Err(format!("{n}: only 1 (app and its network processing on one core) or 2 (separate cores)")),
    }
}

/// `--hugepages`: a number of 2 MiB pages, or `auto`.
pub fn parse_hugepages(s: &str) -> Result<HugePages, String> {
    if s.trim() == "auto" {
        return Ok(HugePages::Auto);
    }
    match parse_count::<u32>(s)? {
        0 => Err("0 pages back nothing: ask for at least 1, or `auto` to size them from the data buffers".into()),
        n => Ok(HugePages::Pages(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_without_a_unit_are_seconds_and_negatives_are_explained() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("-1").unwrap_err().contains("negative"));
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
        assert!(parse_count::<u32>("-5").unwrap_err().contains("negative"));
        assert!(parse_size("-5").unwrap_err().contains("negative"));
        assert_eq!(parse_hugepages("auto"), Ok(HugePages::Auto));
        assert!(parse_hugepages("0").unwrap_err().contains("at least 1"));
    }
}

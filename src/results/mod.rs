//! Results: the versioned file format (`schema`), the figures derived from it
//! (`stats`), and reading and writing result files. Everything else — the
//! terminal table, reports — is derived from these files.

pub mod schema;
pub mod stats;

use crate::domain::name_of;
use crate::error::usage;
use anyhow::{Context, Result};
use schema::{Build, Flow, OLDEST_READABLE, RunResult, SCHEMA_VERSION, SeriesResult, Side};
use std::path::{Path, PathBuf};

pub fn build() -> Build {
    Build { version: env!("CARGO_PKG_VERSION").into(), git: env!("ZCBENCH_GIT").into() }
}

impl RunResult {
    /// A result stamped now, with its summary derived from the sides.
    pub fn new(topology: &str, flow: Flow, mtu: Option<u32>, receiver: Side, sender: Option<Side>) -> Self {
        let summary = stats::summarize(&receiver, sender.as_ref(), flow.roi_n, flow.roi_m);
        RunResult {
            schema_version: SCHEMA_VERSION,
            zcbench: build(),
            timestamp: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            topology: topology.into(),
            flow,
            mtu,
            receiver,
            sender,
            summary,
            series: None,
        }
    }

    /// The summary again, from the sides (after power readings were attached).
    pub fn resummarize(&mut self) {
        self.summary = stats::summarize(&self.receiver, self.sender.as_ref(), self.flow.roi_n, self.flow.roi_m);
    }

    /// The file name this result is written under: `<timestamp>-<topology>-<mode>`.
    pub fn file_stem(&self) -> String {
        let stamp: String = self.timestamp.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        format!("{stamp}-{}-{}", self.topology, name_of(&self.flow.mode))
    }
}

/// Write `r` to `dir/<stem>.json` (`-2`, `-3`… when taken); returns the path.
pub fn write(r: &RunResult, dir: &Path) -> Result<PathBuf> {
    write_json(r, dir, &r.file_stem())
}

/// Write a series file (`--repeat`) as `dir/<first run's stem>-series.json`.
pub fn write_series(s: &SeriesResult, dir: &Path) -> Result<PathBuf> {
    let stem = s.runs.first().map(|r| r.file_stem()).unwrap_or_else(|| "empty".into());
    write_json(s, dir, &format!("{stem}-series"))
}

fn write_json(v: &impl serde::Serialize, dir: &Path, base: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating result directory {}", dir.display()))?;
    let mut path = dir.join(format!("{base}.json"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("{base}-{n}.json"));
    }
    write_file(v, &path)?;
    Ok(path)
}

/// Write `v` as pretty JSON to exactly `path`, atomically (a temporary file
/// renamed over it), so a reader never sees half a file.
pub fn write_file(v: &impl serde::Serialize, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

fn read_versioned(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let version = v.get("schema_version").and_then(|x| x.as_u64()).unwrap_or(0);
    if !(u64::from(OLDEST_READABLE)..=u64::from(SCHEMA_VERSION)).contains(&version) {
        return Err(usage(format!(
            "{}: result schema version {version}; this zcbench reads versions {OLDEST_READABLE} to {SCHEMA_VERSION}",
            path.display()
        )));
    }
    Ok(v)
}

/// Read a run's result file of any schema version this zcbench has written
/// (2 and 3). A version 2 file reads with the version 3 blocks absent and keeps
/// `schema_version: 2`, so nobody mistakes it for a newer measurement.
pub fn read(path: &Path) -> Result<RunResult> {
    let v = read_versioned(path)?;
    if v.get("kind").is_some() {
        return Err(usage(format!("{}: a {} file, not a single run's result", path.display(), v["kind"])));
    }
    serde_json::from_value(v).with_context(|| format!("{}: not a zcbench result", path.display()))
}

/// Read a series file (`--repeat`).
#[allow(dead_code)]
pub fn read_series(path: &Path) -> Result<SeriesResult> {
    let v = read_versioned(path)?;
    serde_json::from_value(v).with_context(|| format!("{}: not a zcbench series file", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
    }

    /// `b` has every field of `a` with the same value (it may have more).
    fn assert_subset(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in a {
                    let w = b.get(k).unwrap_or_else(|| panic!("{at}.{k} lost"));
                    assert_subset(v, w, &format!("{at}.{k}"));
                }
            }
            (serde_json::Value::Array(a), serde_json::Value::Array(b)) => {
                assert_eq!(a.len(), b.len(), "{at}: length changed");
                for (i, (v, w)) in a.iter().zip(b).enumerate() {
                    assert_subset(v, w, &format!("{at}[{i}]"));
                }
            }
            _ => assert_eq!(a, b, "{at} changed"),
        }
    }

    /// Real version 2 files written by earlier builds still read: every field
    /// they had keeps its value, and their summary is what the statistics
    /// derive from the sides.
    #[test]
    fn real_v2_files_read_with_nothing_lost() {
        for f in ["result-v2-netns.json", "result-v2-mmap.json", "result-v2-uring.json", "result-v2-two-host.json"] {
            let text = std::fs::read_to_string(data(f)).unwrap();
            let original: serde_json::Value = serde_json::from_str(&text).unwrap();
            let r = read(&data(f)).unwrap();
            assert_eq!(r.schema_version, 2);
            assert!(r.summary.roi.is_none() && r.receiver.power_sources.is_empty(), "{f}");
            let again = serde_json::to_value(&r).unwrap();
            assert_subset(&original, &again, f);
            let s = stats::summarize(&r.receiver, r.sender.as_ref(), 2.0, 1.0);
            let old_fields = serde_json::to_value(&r.summary).unwrap();
            assert_subset(&original["summary"], &serde_json::to_value(&s).unwrap(), f);
            assert_subset(&original["summary"], &old_fields, f);
        }
    }

    /// Real version 3 files round-trip unchanged: no field lost, renamed or added.
    #[test]
    fn real_v3_files_round_trip_unchanged() {
        let files: Vec<PathBuf> = std::fs::read_dir(data(""))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("result-v3"))
            .collect();
        assert!(!files.is_empty(), "tests/data has no version 3 result");
        for f in files {
            let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            let r = read(&f).unwrap();
            assert_eq!(r.schema_version, SCHEMA_VERSION);
            assert_eq!(serde_json::to_value(&r).unwrap(), original, "{} changed on a round trip", f.display());
            let s = stats::summarize(&r.receiver, r.sender.as_ref(), r.flow.roi_n, r.flow.roi_m);
            assert_eq!(s, r.summary, "{}", f.display());
        }
    }

    #[test]
    fn unknown_versions_are_refused_clearly() {
        let dir = std::env::temp_dir().join(format!("zcbench-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.json");
        std::fs::write(&p, r#"{"schema_version": 99}"#).unwrap();
        let e = read(&p).unwrap_err();
        assert!(e.to_string().contains("schema version 99"), "{e}");
        std::fs::write(&p, "not json").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("not JSON"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Results: the versioned file format (`schema`), the figures derived from it
//! (`stats`), and reading and writing result files. Everything else — the
//! terminal table, reports — is derived from these files.

pub mod schema;
pub mod stats;

use crate::domain::name_of;
use crate::error::usage;
use anyhow::{Context, Result};
use schema::{Build, Flow, OLDEST_READABLE, RunResult, SCHEMA_VERSION, Side};
use std::path::{Path, PathBuf};

/// One interval as the terminal shows it while a flow runs (not stored).
pub struct Interval<'a> {
    /// The receiver's sample, and which of its cores are the app and net cores.
    pub rx: &'a schema::Sample,
    pub rx_layout: &'a schema::Layout,
    /// The sending core's busy share over the interval, when known.
    pub sender_busy: Option<f64>,
    /// The sending socket's retransmits so far (TCP_INFO total_retrans).
    pub retransmits: Option<u32>,
}

pub fn build() -> Build {
    Build { version: env!("CARGO_PKG_VERSION").into(), git: env!("ZCBENCH_GIT").into() }
}

impl RunResult {
    /// A result stamped now, with its summary derived from the sides.
    pub fn new(topology: &str, flow: Flow, mtu: Option<u32>, receiver: Side, sender: Option<Side>) -> Self {
        let summary = stats::summarize(&receiver, sender.as_ref());
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
            interrupted: false,
            other_zcbench: Vec::new(),
        }
    }

    /// The file name this result is written under: `<timestamp>-<topology>-<mode>`.
    pub fn file_stem(&self) -> String {
        let stamp: String = self.timestamp.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        format!("{stamp}-{}-{}", self.topology, name_of(&self.flow.mode))
    }
}

/// Check, before anything else happens, that result files can be written to
/// `dir` (created if missing): a usage error naming it otherwise, so no
/// measurement is made only to be lost.
pub fn check_dir(dir: &Path) -> Result<()> {
    let shown = dir.display();
    if dir.exists() && !dir.is_dir() {
        return Err(usage(format!("--out {shown} is a file; it must be a directory for the result files")));
    }
    std::fs::create_dir_all(dir).map_err(|e| usage(format!("--out {shown}: cannot create the directory: {e}")))?;
    let probe = dir.join(format!(".zcbench-write-test-{}", std::process::id()));
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"));
    let _ = std::fs::remove_file(&probe);
    r.map_err(|e| usage(format!("--out {shown}: cannot write result files there: {e}")))
}

/// Where a result goes when its `--out` directory failed after all.
pub fn fallback_dir() -> PathBuf {
    std::env::temp_dir().join("zcbench-results")
}

/// Write `r` to `dir/<stem>.json` (`-2`, `-3`… when taken); returns the path.
pub fn write(r: &RunResult, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating result directory {}", dir.display()))?;
    let base = r.file_stem();
    let mut path = dir.join(format!("{base}.json"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("{base}-{n}.json"));
    }
    let text = serde_json::to_string_pretty(r)?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Read a result file of a schema version this zcbench knows (every version
/// since [`OLDEST_READABLE`]; a version 2 file is a version 3 one that was not
/// interrupted and saw no other zcbench). (Used by tests today; the report
/// command reads result files with it.)
#[allow(dead_code)]
pub fn read(path: &Path) -> Result<RunResult> {
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
    serde_json::from_value(v).with_context(|| format!("{}: not a zcbench result", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
    }

    /// Real files written by earlier builds read into the schema and write back
    /// to the same JSON: no field lost, renamed or added.
    #[test]
    fn real_result_files_round_trip_unchanged() {
        for f in ["result-v2-netns.json", "result-v2-mmap.json", "result-v2-uring.json", "result-v2-two-host.json"] {
            let text = std::fs::read_to_string(data(f)).unwrap();
            let original: serde_json::Value = serde_json::from_str(&text).unwrap();
            let r = read(&data(f)).unwrap();
            let again = serde_json::to_value(&r).unwrap();
            assert_eq!(again, original, "{f} changed on a round trip");
            // The stored summary is what the statistics derive from the sides.
            assert_eq!(stats::summarize(&r.receiver, r.sender.as_ref()), r.summary, "{f}");
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

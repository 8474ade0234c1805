//! Results: the versioned file format (`schema`), the figures derived from it
//! (`stats`), and reading and writing result files. Everything else — the
//! terminal table, reports — is derived from these files.

pub mod flows;
mod sane;
pub mod schema;
pub mod stats;
mod upgrade;

use crate::domain::name_of;
use crate::error::usage;
use anyhow::{Context, Result};
use schema::series::SeriesResult;
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
            interrupted: false,
            other_zcbench: Vec::new(),
            output_lines_dropped: 0,
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

/// Read a run's result file of any schema version zcbench has written; older
/// versions are upgraded (`upgrade`), newer ones refused (exit 2) with what to
/// do. A version 2 file reads with the version 3 blocks absent and keeps
/// `schema_version: 2`, so nobody mistakes it for a newer measurement.
pub fn read(path: &Path) -> Result<RunResult> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("{}", path.display()))
}

/// `schema_version` and `kind` of a JSON document, without building the rest of it.
#[derive(serde::Deserialize)]
struct Head {
    schema_version: Option<u64>,
    kind: Option<String>,
}

/// The document's head, its version checked.
fn head(text: &str) -> Result<(u64, Option<String>)> {
    let head: Head = serde_json::from_str(text).context("not JSON")?;
    let version = head.schema_version.ok_or_else(|| usage("no schema_version: not a zcbench result file"))?;
    check_version(version)?;
    Ok((version, head.kind))
}

/// A schema version this build can read (older ones are upgraded), or a usage
/// error saying what to do.
pub fn check_version(version: u64) -> Result<()> {
    if version > u64::from(SCHEMA_VERSION) {
        return Err(usage(format!(
            "result schema version {version} was written by a newer zcbench; this one reads versions \
             {OLDEST_READABLE} to {SCHEMA_VERSION}: use a zcbench at least as new as the one that wrote it"
        )));
    }
    if version < u64::from(OLDEST_READABLE) {
        return Err(usage(format!("result schema version {version} is not one zcbench ever wrote")));
    }
    Ok(())
}

/// A result document as text (see [`read`]).
pub fn parse(text: &str) -> Result<RunResult> {
    match head(text)? {
        (_, Some(kind)) => Err(usage(format!("a {kind} file, not a single run's result"))),
        (version, None) => parse_as(version, text),
    }
}

/// A run's result document whose `schema_version` the caller has already read.
/// Values no run can have are refused (`sane`).
pub fn parse_as(version: u64, text: &str) -> Result<RunResult> {
    check_version(version)?;
    let r: RunResult = if version >= 2 {
        serde_json::from_str(text).context("not a zcbench result of its schema version")?
    } else {
        let v: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
        let v = upgrade::upgrade(version as u32, v)
            .map_err(|e| usage(format!("not a zcbench result of schema version {version}: {e}")))?;
        serde_json::from_value(v)
            .with_context(|| format!("not a zcbench result of schema version {version} (after upgrading it)"))?
    };
    sane::check(&r).map_err(|e| usage(format!("not a result zcbench could have written: {e}")))?;
    Ok(r)
}

/// A series document (`--repeat`) as text.
pub fn parse_series(text: &str) -> Result<SeriesResult> {
    match head(text)? {
        (_, Some(kind)) if kind == "series" => {
            let s: SeriesResult = serde_json::from_str(text).context("not a zcbench series file")?;
            for (i, r) in s.runs.iter().enumerate() {
                sane::check(r)
                    .map_err(|e| usage(format!("run {} is not a result zcbench could have written: {e}", i + 1)))?;
            }
            Ok(s)
        }
        (_, kind) => {
            Err(usage(format!("a {} file, not a series file", kind.as_deref().unwrap_or("single run's result"))))
        }
    }
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
        for f in [
            "result-v2-netns.json",
            "result-v2-mmap.json",
            "result-v2-uring.json",
            "result-v2-two-host.json",
            "result-v2-devmem-batch512.json",
            "result-v2-devmem-batch1.json",
        ] {
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

    /// Real version 3 and 4 files round-trip unchanged: no field lost, renamed
    /// or added (a version 3 file has one flow and no per-flow blocks; it keeps
    /// its version).
    #[test]
    fn real_v3_and_v4_files_round_trip_unchanged() {
        let files: Vec<(PathBuf, u32)> = std::fs::read_dir(data(""))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                let v = ["result-v3", "result-v4"].iter().position(|pre| name.starts_with(pre))? as u32 + 3;
                Some((p, v))
            })
            .collect();
        for v in [3, SCHEMA_VERSION] {
            assert!(files.iter().any(|f| f.1 == v), "tests/data has no version {v} result");
        }
        for (f, version) in files {
            let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            let r = read(&f).unwrap();
            assert_eq!(r.schema_version, version);
            assert_eq!(r.flow.flows == 1, r.summary.flows.is_none(), "{}", f.display());
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
        let e = format!("{:#}", read(&p).unwrap_err());
        assert!(e.contains("r.json") && e.contains("schema version 99") && e.contains("newer zcbench"), "{e}");
        assert_eq!(crate::error::exit_kind(&read(&p).unwrap_err()).code(), 2);
        std::fs::write(&p, "not json").unwrap();
        assert!(format!("{:#}", read(&p).unwrap_err()).contains("not JSON"));
        std::fs::write(&p, r#"{"zcbench": {}}"#).unwrap();
        assert!(format!("{:#}", read(&p).unwrap_err()).contains("no schema_version"));
        std::fs::write(&p, r#"{"schema_version": 0}"#).unwrap();
        assert!(format!("{:#}", read(&p).unwrap_err()).contains("not one zcbench ever wrote"));
        // A v1 document without the parts every v1 file had.
        std::fs::write(&p, r#"{"schema_version": 1}"#).unwrap();
        assert!(format!("{:#}", read(&p).unwrap_err()).contains("schema version 1: no 'flow'"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The v2 document an upgraded v1 file must equal: `path` renamed to
    /// `setting` with `changed: true`, counters the first builds lacked as 0,
    /// notes and combined added — written out here by hand, not by the upgrade.
    fn expected_v2(mut v1: serde_json::Value) -> serde_json::Value {
        v1["schema_version"] = 2.into();
        let flow = v1["flow"].as_object_mut().unwrap();
        flow.entry("notes").or_insert(serde_json::json!([]));
        flow.entry("combined").or_insert(serde_json::Value::Null);
        for c in v1["receiver"]["changes"].as_array_mut().unwrap() {
            let path = c.as_object_mut().unwrap().remove("path").unwrap();
            c["setting"] = path;
            c["changed"] = true.into();
        }
        for (k, keys) in
            [("rx", &["polls"][..]), ("tx", &["polls", "completions", "errqueue_reads", "unconfirmed_bytes"])]
        {
            let o = v1["receiver"][k].as_object_mut().unwrap();
            for key in keys {
                o.entry(*key).or_insert(0.into());
            }
        }
        // Fields v2 added as optional read as absent.
        for d in v1["receiver"]["host"]["devices"].as_array_mut().unwrap() {
            if let Some(l) = d["link"].as_object_mut() {
                l.entry("min_mtu").or_insert(serde_json::Value::Null);
                l.entry("max_mtu").or_insert(serde_json::Value::Null);
            }
        }
        v1["receiver"]["host"]["idle"] =
            serde_json::json!({"driver": null, "governor": null, "guest_halt_poll_ns": null, "states": []});
        for k in ["zero_copy", "uring"] {
            for side in ["rx", "tx"] {
                v1["receiver"][side].as_object_mut().unwrap().entry(k).or_insert(serde_json::Value::Null);
            }
        }
        v1
    }

    /// Real v1 files (the last v1 build over netns and lo with mmap, and the
    /// first build that wrote results) read as v2 with nothing else changed.
    #[test]
    fn version_1_files_are_upgraded_on_read() {
        for f in ["result-v1-netns.json", "result-v1-mmap.json", "result-v1-first-build-lo.json"] {
            let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data(f)).unwrap()).unwrap();
            assert_eq!(original["schema_version"], 1, "{f}");
            let r = read(&data(f)).unwrap();
            assert_eq!(r.schema_version, 2);
            let c = &r.receiver.changes[0];
            assert_eq!(c.setting, original["receiver"]["changes"][0]["path"].as_str().unwrap(), "{f}");
            assert!(c.changed);
            // Every field of the v2 document, with its value; what the file format
            // gained in version 3 is absent or at its default.
            assert_subset(&expected_v2(original), &serde_json::to_value(&r).unwrap(), f);
            // The summary derives from the sides as it did then (ROI came with version 3).
            let mut s = stats::summarize(&r.receiver, r.sender.as_ref(), r.flow.roi_n, r.flow.roi_m);
            assert!(s.roi.take().is_some() && r.summary.roi.is_none(), "{f}");
            assert_eq!(s, r.summary, "{f}");
        }
        let first = read(&data("result-v1-first-build-lo.json")).unwrap();
        assert_eq!((first.receiver.rx.as_ref().unwrap().polls, first.flow.notes.len()), (0, 0));
        let mmap = read(&data("result-v1-mmap.json")).unwrap();
        assert!(mmap.receiver.rx.unwrap().zero_copy.unwrap().zero_copy_share > 0.9);
    }
}

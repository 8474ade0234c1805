//! Finding and reading the result files a report is made of, within bounds:
//! each directory is walked once (by device and inode, so a symlink loop ends),
//! at most `MAX_DEPTH` levels deep and `MAX_FILES` files; only regular files
//! are read, each at most `MAX_FILE` bytes and all together `MAX_TOTAL`. A
//! file that is not a readable result is skipped and named, never fatal to the
//! rest; one of a newer schema version is an error (leaving it out would
//! change the comparison silently).

use crate::error::usage;
use crate::results::schema::series::StudySummary;
use crate::results::{self, schema::RunResult, schema::SCHEMA_VERSION};
use anyhow::{Context, Result, anyhow};
use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Directory levels searched below an input directory.
pub const MAX_DEPTH: usize = 32;
/// `*.json` files a report looks at.
pub const MAX_FILES: usize = 100_000;
/// The largest file read as a result: a day of 1 s samples on a 32-core host
/// takes about 200 MiB.
pub const MAX_FILE: u64 = 256 << 20;
/// All files together.
pub const MAX_TOTAL: u64 = 8 << 30;

/// One result file as read (older schema versions already upgraded).
pub struct Run {
    pub path: PathBuf,
    pub r: RunResult,
}

/// What was read, and the files that were skipped with why: JSON that is not
/// a result (other tools' files, study summaries this build cannot read),
/// files that are not regular or too large, results that do not parse or hold
/// impossible values. A study's `summary.json` is kept for the page's lead
/// (its runs are result files of their own).
pub struct Loaded {
    pub runs: Vec<Run>,
    pub studies: Vec<(PathBuf, StudySummary)>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// What one file holds.
enum Got {
    Runs(Vec<RunResult>),
    Study(Box<StudySummary>),
}

/// A candidate file and its size (from the walk; checked again when read).
struct Found {
    path: PathBuf,
    size: u64,
}

/// The walk over the inputs: directories seen (device, inode), files found.
struct Walk<'a> {
    skip: &'a Path,
    seen: HashSet<(u64, u64)>,
    files: Vec<Found>,
    skipped: Vec<(PathBuf, String)>,
    total: u64,
}

impl Walk<'_> {
    fn interrupted() -> Result<()> {
        if crate::signals::interrupted() { Err(anyhow!(crate::signals::Interrupted)) } else { Ok(()) }
    }

    fn add(&mut self, path: PathBuf, meta: &std::fs::Metadata) -> Result<()> {
        if !meta.is_file() {
            self.skipped.push((path, "not a regular file".into()));
            return Ok(());
        }
        if meta.len() > MAX_FILE {
            let why = format!(
                "{} MiB, more than the {} MiB a result file can be: not read",
                meta.len() >> 20,
                MAX_FILE >> 20
            );
            self.skipped.push((path, why));
            return Ok(());
        }
        if self.files.len() >= MAX_FILES {
            return Err(usage(format!(
                "more than {MAX_FILES} JSON files under the inputs (at {}): name fewer files or directories",
                path.display()
            )));
        }
        self.total += meta.len();
        if self.total > MAX_TOTAL {
            return Err(usage(format!(
                "the inputs hold more than {} GiB of JSON (at {}): name fewer files or directories",
                MAX_TOTAL >> 30,
                path.display()
            )));
        }
        self.files.push(Found { path, size: meta.len() });
        Ok(())
    }

    /// Every `*.json` under `dir`, sorted, recursively; each directory once,
    /// the report's own output directory left out.
    fn dir(&mut self, dir: &Path, depth: usize) -> Result<()> {
        Self::interrupted()?;
        let meta = std::fs::metadata(dir).with_context(|| format!("reading directory {}", dir.display()))?;
        if !self.seen.insert((meta.dev(), meta.ino())) || same_path(dir, self.skip) {
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(usage(format!(
                "{} is more than {MAX_DEPTH} directories deep below its input: name a directory nearer the results",
                dir.display()
            )));
        }
        let entries = std::fs::read_dir(dir).with_context(|| format!("reading directory {}", dir.display()))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            // Symlinks are followed (a results directory may link to others);
            // a dangling one is skipped.
            let Ok(m) = std::fs::metadata(&p) else { continue };
            if m.is_dir() {
                self.dir(&p, depth + 1)?;
            } else if p.extension().is_some_and(|x| x == "json") {
                self.add(p, &m)?;
            }
        }
        Ok(())
    }
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What a JSON file is, from its head (one pass over the text, building
/// nothing else): a run's result (its schema version), a series file
/// (`--repeat`: its runs are read from it), a study summary (its runs are
/// files of their own), not zcbench's, or not JSON at all.
enum Head {
    Run(u64),
    Series(u64),
    Study,
    Other,
    Invalid(String),
}

fn head(text: &str) -> Head {
    #[derive(serde::Deserialize)]
    struct H {
        schema_version: Option<u64>,
        zcbench: Option<serde::de::IgnoredAny>,
        kind: Option<String>,
    }
    let h = match serde_json::from_str::<H>(text) {
        Ok(h) => h,
        Err(e) if e.is_data() => return Head::Other,
        Err(e) => {
            let hint = if ["NaN", "Infinity"].iter().any(|t| text.contains(t)) {
                " (NaN and Infinity are not JSON numbers; zcbench writes null for a figure it lacks)"
            } else {
                ""
            };
            return Head::Invalid(format!("not valid JSON: {e}{hint}"));
        }
    };
    match (h.zcbench.and(h.schema_version), h.kind.as_deref()) {
        (None, _) => Head::Other,
        (Some(v), None) => Head::Run(v),
        (Some(v), Some("series")) => Head::Series(v),
        (Some(_), Some("study")) => Head::Study,
        (Some(_), Some(_)) => Head::Other,
    }
}

/// Read every result among `inputs` (files, or directories searched for
/// `*.json`), several files at a time.
pub fn load(inputs: &[PathBuf], out_dir: &Path) -> Result<Loaded> {
    let mut w = Walk { skip: out_dir, seen: HashSet::new(), files: Vec::new(), skipped: Vec::new(), total: 0 };
    for i in inputs {
        match std::fs::metadata(i) {
            Ok(m) if m.is_dir() => w.dir(i, 0)?,
            Ok(m) => w.add(i.clone(), &m)?,
            Err(_) => return Err(usage(format!("{}: no such result file or directory", i.display()))),
        }
    }
    let mut files = w.files;
    let mut skipped = w.skipped;
    let mut seen = HashSet::new();
    files.retain(|f| seen.insert(f.path.clone()));
    let read = read_all(&files);
    Walk::interrupted()?;
    let mut runs = Vec::new();
    let mut studies = Vec::new();
    for (f, got) in files.into_iter().zip(read) {
        match got {
            Ok(Got::Study(s)) => studies.push((f.path, *s)),
            Ok(Got::Runs(rs)) if rs.len() == 1 => runs.extend(rs.into_iter().map(|r| Run { path: f.path.clone(), r })),
            // A series file's runs, each named by its place in the file.
            Ok(Got::Runs(rs)) => runs.extend(
                rs.into_iter()
                    .enumerate()
                    .map(|(i, r)| Run { path: PathBuf::from(format!("{}#{}", f.path.display(), i + 1)), r }),
            ),
            Err(Not::Skip(why)) => skipped.push((f.path, why)),
            Err(Not::Fatal(e)) => return Err(e),
        }
    }
    if runs.is_empty() {
        let what: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        let studies = studies.iter().map(|(p, _)| {
            (p, "a study summary; its runs are result files of their own: name the study directory".to_string())
        });
        let why: String = studies
            .chain(skipped.iter().map(|(p, w)| (p, w.clone())))
            .take(5)
            .map(|(p, why)| format!("\n  {}: {why}", p.display()))
            .collect();
        return Err(usage(format!(
            "no zcbench result files in {}: run `zcbench` first, or name result files or directories{why}",
            what.join(", ")
        )));
    }
    Ok(Loaded { runs, studies, skipped })
}

/// Why a file gives no runs: skipped (named at the end), or an error that
/// ends the report.
enum Not {
    Skip(String),
    Fatal(anyhow::Error),
}

/// A file's text: a regular file (checked on the open file, so it cannot be
/// swapped for a device after the walk) of at most `MAX_FILE` bytes of UTF-8.
fn text_of(f: &Found) -> std::result::Result<String, String> {
    let file = std::fs::File::open(&f.path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::with_capacity(f.size.min(MAX_FILE) as usize);
    file.take(MAX_FILE + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!("grew past the {} MiB a result file can be while being read", MAX_FILE >> 20));
    }
    String::from_utf8(bytes).map_err(|_| "not text (a result file is UTF-8 JSON)".into())
}

/// One file: its runs, or why it has none to report. A result of a newer
/// schema is an error: leaving it out would change the comparison silently.
fn read_one(f: &Found) -> std::result::Result<Got, Not> {
    let text = text_of(f).map_err(Not::Skip)?;
    let version = |v: u64| match v > u64::from(SCHEMA_VERSION) {
        true => Err(Not::Fatal(results::check_version(v).err().unwrap_or_else(|| anyhow!("newer schema")))),
        false => Ok(()),
    };
    let at = |e: anyhow::Error| Not::Skip(format!("{e:#}"));
    match head(&text) {
        Head::Invalid(why) => Err(Not::Skip(why)),
        Head::Other => Err(Not::Skip("not a zcbench result (no schema_version and zcbench fields)".into())),
        Head::Study => serde_json::from_str::<StudySummary>(&text).map(|s| Got::Study(Box::new(s))).map_err(|e| {
            Not::Skip(format!("a study summary this zcbench cannot read ({e}); its runs are read from their own files"))
        }),
        Head::Run(v) => {
            version(v)?;
            results::parse_as(v, &text).map(|r| Got::Runs(vec![r])).map_err(at)
        }
        Head::Series(v) => {
            version(v)?;
            results::parse_series(&text).map(|s| Got::Runs(s.runs)).map_err(at)
        }
    }
    .map_err(|n| match n {
        Not::Fatal(e) => Not::Fatal(e.context(f.path.display().to_string())),
        skip => skip,
    })
}

/// Read and parse the files on as many threads as there are cores (parsing
/// dominates a report over many files); Ctrl-C stops it between files.
fn read_all(files: &[Found]) -> Vec<std::result::Result<Got, Not>> {
    let one = |f: &Found| {
        if crate::signals::interrupted() {
            return Err(Not::Skip("interrupted".into()));
        }
        read_one(f)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| (part.len(), s.spawn(move || part.iter().map(one).collect::<Vec<_>>())))
            .collect();
        let panicked = || Not::Fatal(anyhow!("a reader thread panicked"));
        handles
            .into_iter()
            .flat_map(|(n, h)| h.join().unwrap_or_else(|_| (0..n).map(|_| Err(panicked())).collect()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::schema::series::SeriesResult;

    /// A directory with a single run's result, a `--repeat 3` series file (made
    /// of real results) and a study summary: the series' three runs are read
    /// from it, each named by its place; the summary is skipped with its reason.
    #[test]
    fn series_files_give_their_runs_and_study_summaries_are_skipped() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let one = results::read(&data.join("result-v3-netns-power.json")).unwrap();
        let dir = std::env::temp_dir().join(format!("zcbench-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut runs = vec![one.clone(), one.clone(), one.clone()];
        for (i, r) in runs.iter_mut().enumerate() {
            r.summary.gbps = 10.0 + i as f64;
        }
        let series = SeriesResult {
            schema_version: one.schema_version,
            kind: "series".into(),
            zcbench: one.zcbench.clone(),
            timestamp: one.timestamp.clone(),
            id: "x".into(),
            figures: Default::default(),
            runs,
        };
        results::write_file(&series, &dir.join("s-series.json")).unwrap();
        results::write_file(&one, &dir.join("a.json")).unwrap();
        let study = serde_json::json!({"schema_version": 3, "kind": "study", "zcbench": one.zcbench, "cases": []});
        std::fs::write(dir.join("summary.json"), study.to_string()).unwrap();
        let l = load(std::slice::from_ref(&dir), &dir.join("report")).unwrap();
        let names: Vec<String> =
            l.runs.iter().map(|r| r.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.json", "s-series.json#1", "s-series.json#2", "s-series.json#3"]);
        assert_eq!(l.runs[3].r.summary.gbps, 12.0);
        assert_eq!(l.skipped.len(), 1);
        assert!(l.skipped[0].1.contains("study summary"), "{:?}", l.skipped);
        // Named on the command line, a study summary is an error that says what it is.
        let e = load(&[dir.join("summary.json")], &dir.join("report")).err().unwrap();
        assert!(format!("{e:#}").contains("study summary"), "{e:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

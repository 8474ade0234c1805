//! Finding and reading the result files a report is made of.

use crate::error::usage;
use crate::results::{self, schema::RunResult};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// One result file as read (older schema versions already upgraded).
pub struct Run {
    pub path: PathBuf,
    pub r: RunResult,
}

/// What was read, and the JSON files in the searched directories that are not
/// results (study summaries, other tools' files), which are skipped.
pub struct Loaded {
    pub runs: Vec<Run>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// Every `*.json` under `dir`, sorted, recursively; the report's own output
/// directory (`skip`) is left out.
fn json_files(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading directory {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            if !same_path(&p, skip) {
                json_files(&p, skip, out)?;
            }
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    Ok(())
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
/// files of their own), or not zcbench's.
enum Head {
    Run(u64),
    Series,
    Study,
    Other,
}

fn head(text: &str) -> Head {
    #[derive(serde::Deserialize)]
    struct H {
        schema_version: Option<u64>,
        zcbench: Option<serde::de::IgnoredAny>,
        kind: Option<String>,
    }
    let Ok(h) = serde_json::from_str::<H>(text) else { return Head::Other };
    match (h.zcbench.and(h.schema_version), h.kind.as_deref()) {
        (None, _) => Head::Other,
        (Some(v), None) => Head::Run(v),
        (Some(_), Some("series")) => Head::Series,
        (Some(_), Some("study")) => Head::Study,
        (Some(_), Some(_)) => Head::Other,
    }
}

/// Read every result among `inputs` (files, or directories searched for
/// `*.json`), several files at a time.
pub fn load(inputs: &[PathBuf], out_dir: &Path) -> Result<Loaded> {
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    for i in inputs {
        if i.is_dir() {
            let mut v = Vec::new();
            json_files(i, out_dir, &mut v)?;
            files.extend(v.into_iter().map(|p| (p, false)));
        } else if i.exists() {
            files.push((i.clone(), true));
        } else {
            return Err(usage(format!("{}: no such result file or directory", i.display())));
        }
    }
    files.dedup_by(|a, b| a.0 == b.0);
    let read = read_all(&files);
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for ((path, named), got) in files.into_iter().zip(read) {
        match got {
            Ok(Read::Runs(rs)) if rs.len() == 1 => runs.extend(rs.into_iter().map(|r| Run { path: path.clone(), r })),
            // A series file's runs, each named by its place in the file.
            Ok(Read::Runs(rs)) => runs.extend(
                rs.into_iter()
                    .enumerate()
                    .map(|(i, r)| Run { path: PathBuf::from(format!("{}#{}", path.display(), i + 1)), r }),
            ),
            Ok(Read::Not(why)) if !named => skipped.push((path, why.to_string())),
            Ok(Read::Not(why)) => return Err(usage(format!("{}: {why}", path.display()))),
            Err(e) => return Err(e),
        }
    }
    if runs.is_empty() {
        let what: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        return Err(usage(format!(
            "no zcbench result files in {}: run `zcbench` first, or name result files or directories",
            what.join(", ")
        )));
    }
    Ok(Loaded { runs, skipped })
}

/// One file as read: its runs, or why it holds none to report.
enum Read {
    Runs(Vec<RunResult>),
    Not(&'static str),
}

/// Read and parse the files on as many threads as there are cores (parsing
/// dominates a report over many files). `Read::Not`: JSON that is not a result
/// (a file named on the command line must be one; in a directory, another
/// tool's JSON is skipped). A result of a newer schema is an error either way:
/// leaving it out would change the comparison silently.
fn read_all(files: &[(PathBuf, bool)]) -> Vec<Result<Read>> {
    let one = |path: &Path| -> Result<Read> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let at = || path.display().to_string();
        Ok(match head(&text) {
            Head::Other => Read::Not("not a zcbench result (no schema_version and zcbench fields)"),
            Head::Study => Read::Not("a study summary (its runs are result files of their own)"),
            Head::Run(v) => Read::Runs(vec![results::parse_as(v, &text).with_context(at)?]),
            Head::Series => Read::Runs(results::parse_series(&text).with_context(at)?.runs),
        })
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|(p, _)| one(p)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| vec![Err(anyhow::anyhow!("a reader thread panicked"))]))
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

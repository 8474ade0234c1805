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

/// The schema version of a zcbench result, None for any other JSON document
/// (one pass over the text, building nothing else).
fn result_version(text: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Head {
        schema_version: Option<u64>,
        zcbench: Option<serde::de::IgnoredAny>,
    }
    let h = serde_json::from_str::<Head>(text).ok()?;
    h.zcbench.and(h.schema_version)
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
            Ok(Some(r)) => runs.push(Run { path, r }),
            Ok(None) if !named => {
                skipped.push((path, "not a zcbench result (no schema_version and zcbench fields)".to_string()))
            }
            Ok(None) => {
                return Err(usage(format!(
                    "{}: not a zcbench result file (no schema_version and zcbench fields)",
                    path.display()
                )));
            }
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

/// Read and parse the files on as many threads as there are cores (parsing
/// dominates a report over many files). `Ok(None)`: JSON that is not a result
/// (a file named on the command line must be one; in a directory, another
/// tool's JSON is skipped). A result of a newer schema is an error either way:
/// leaving it out would change the comparison silently.
fn read_all(files: &[(PathBuf, bool)]) -> Vec<Result<Option<RunResult>>> {
    let one = |path: &Path| -> Result<Option<RunResult>> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        match result_version(&text) {
            None => Ok(None),
            Some(v) => results::parse_as(v, &text).with_context(|| path.display().to_string()).map(Some),
        }
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

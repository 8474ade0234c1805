//! The study directory: `runs/<case>/run-<k>.json` (a finished run, moved
//! into place only after its process exited 0), `run-<k>.meta.json` (its wall
//! and dead time), `run-<k>.log` (its stderr), `skipped.json` (why the host
//! cannot run the case), `.partial-<k>/` (a run in progress: removed and redone
//! on resume), and `summary.json` / `summary.csv`.

use crate::config::study::Case;
use crate::error::usage;
use crate::results;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Timing of one finished run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct RunMeta {
    pub wall_s: f64,
    pub planned_s: f64,
    pub dead_s: f64,
    /// The runner's gap before this run started (None: first of an invocation).
    pub gap_s: Option<f64>,
}

/// Why a case was skipped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Skip {
    pub exit_code: i32,
    pub reason: String,
}

pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    /// Open (or start) a study directory; refuse one that holds another study.
    pub fn open(dir: &Path, fingerprint: &str) -> Result<Store> {
        std::fs::create_dir_all(dir.join("runs")).with_context(|| format!("creating {}", dir.display()))?;
        let stamp = dir.join("study.fingerprint");
        match std::fs::read_to_string(&stamp) {
            Ok(f) if f.trim() != fingerprint => {
                return Err(usage(format!(
                    "{} holds a study with another matrix (fingerprint {} ≠ {fingerprint}); choose another --out",
                    dir.display(),
                    f.trim()
                )));
            }
            Ok(_) => {}
            Err(_) => std::fs::write(&stamp, fingerprint).with_context(|| format!("writing {}", stamp.display()))?,
        }
        Ok(Store { dir: dir.to_path_buf() })
    }

    pub fn case_dir(&self, c: &Case) -> PathBuf {
        self.dir.join("runs").join(c.slug())
    }

    pub fn run_file(&self, c: &Case, k: u32) -> PathBuf {
        self.case_dir(c).join(format!("run-{k}.json"))
    }

    pub fn partial(&self, c: &Case, k: u32) -> PathBuf {
        self.case_dir(c).join(format!(".partial-{k}"))
    }

    pub fn log(&self, c: &Case, k: u32) -> PathBuf {
        self.case_dir(c).join(format!("run-{k}.log"))
    }

    fn meta_file(&self, c: &Case, k: u32) -> PathBuf {
        self.case_dir(c).join(format!("run-{k}.meta.json"))
    }

    pub fn done(&self, c: &Case, k: u32) -> bool {
        self.run_file(c, k).is_file()
    }

    pub fn meta(&self, c: &Case, k: u32) -> Option<RunMeta> {
        serde_json::from_str(&std::fs::read_to_string(self.meta_file(c, k)).ok()?).ok()
    }

    pub fn skip(&self, c: &Case) -> Option<Skip> {
        serde_json::from_str(&std::fs::read_to_string(self.case_dir(c).join("skipped.json")).ok()?).ok()
    }

    pub fn set_skip(&self, c: &Case, s: Option<&Skip>) -> Result<()> {
        let p = self.case_dir(c).join("skipped.json");
        match s {
            Some(s) => results::write_file(s, &p),
            None => {
                let _ = std::fs::remove_file(&p);
                Ok(())
            }
        }
    }

    /// A fresh, empty directory for run `k` of case `c` (a half-finished one is removed).
    pub fn fresh_partial(&self, c: &Case, k: u32) -> Result<PathBuf> {
        let p = self.partial(c, k);
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("removing the half-finished run {}", p.display()))?;
        }
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(p)
    }

    /// Move the run's result into place (meta first: a result without meta
    /// cannot exist, a meta without a result is simply redone).
    pub fn commit(&self, c: &Case, k: u32, meta: &RunMeta) -> Result<PathBuf> {
        let part = self.partial(c, k);
        let json: Vec<PathBuf> = std::fs::read_dir(&part)
            .with_context(|| format!("reading {}", part.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        let [file] = json.as_slice() else {
            anyhow::bail!("run {k} of {} exited 0 but left {} result files in {}", c.id, json.len(), part.display());
        };
        results::write_file(meta, &self.meta_file(c, k))?;
        let dest = self.run_file(c, k);
        std::fs::rename(file, &dest).with_context(|| format!("moving {} to {}", file.display(), dest.display()))?;
        std::fs::remove_dir_all(&part).with_context(|| format!("removing {}", part.display()))?;
        Ok(dest)
    }

    /// Path relative to the study directory, for the summary.
    pub fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.dir).unwrap_or(p).display().to_string()
    }
}

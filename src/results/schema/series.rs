//! The files around single runs: a series (`--repeat N`: every run and the
//! statistics of each headline figure) and a study's summary (every case of
//! the matrix, its runs or why it was skipped). Part of the file format.

use super::{Build, RunResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a series of repeats of one figure comes out: the reference study's
/// trimmed mean (5 runs, drop first and last, mean of the middle 3) and the
/// spread (`stats::spread`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Runs in the series, and how many of them had no value for this figure.
    pub n: usize,
    pub missing: usize,
    /// Mean without the first and last run when there are 3 or more, else the
    /// plain mean (over the runs that have a value).
    pub trimmed_mean: f64,
    /// How many values the trimmed mean is of.
    pub kept: usize,
    /// Over every run that has a value (trimmed ones included).
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation of the kept values (0 for one value).
    pub stddev: f64,
}

/// `--repeat N`: one file holding each run and the statistics of every
/// headline figure (`stats::HEADLINE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesResult {
    pub schema_version: u32,
    /// Always "series" (a run file has no `kind`).
    pub kind: String,
    pub zcbench: Build,
    pub timestamp: String,
    pub id: String,
    /// Figure name → its spread; figures no run has are left out.
    pub figures: BTreeMap<String, Spread>,
    pub runs: Vec<RunResult>,
}

/// `zcbench study`: `summary.json` of a study directory (`summary.csv` has one
/// row per case with the same figures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySummary {
    pub schema_version: u32,
    /// Always "study".
    pub kind: String,
    pub zcbench: Build,
    pub name: String,
    /// The profile file the study was run from, and a fingerprint of the matrix
    /// it describes (FNV-1a of the case list, hex), so a resumed study knows it
    /// runs the same cases.
    pub profile: String,
    pub fingerprint: String,
    pub updated: String,
    /// Runs per case the study asks for (absent in summaries of older builds).
    #[serde(default)]
    pub repeat: Option<u32>,
    pub cases: Vec<CaseSummary>,
    pub dead_time: DeadTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// Stable id from the axis values, e.g. "mode=baseline,cpus=1".
    pub id: String,
    /// Axis name → value name.
    pub axes: BTreeMap<String, String>,
    /// The zcbench arguments of this case (receiver side: `server_args`).
    pub args: Vec<String>,
    pub server_args: Vec<String>,
    /// "done", "skipped" (the host cannot run it: exit 2 or 3), "failed" (exit 1
    /// or a crash; redone on resume) or "pending" (not reached yet).
    pub status: String,
    /// Why it was skipped or failed: zcbench's own message.
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    pub runs: Vec<RunRecord>,
    /// The headline figures over the case's runs.
    pub figures: BTreeMap<String, Spread>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub index: u32,
    /// Relative to the study directory.
    pub file: String,
    /// Wall time of the run's process, the planned warm-up + window, and the
    /// difference: set-up and tear-down ("dead time").
    pub wall_s: f64,
    pub planned_s: f64,
    pub dead_s: f64,
}

/// Time the study spent outside measured flows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeadTime {
    pub runs: u32,
    /// Per run: set-up + tear-down inside the run's process.
    pub mean_s: f64,
    pub max_s: f64,
    pub total_s: f64,
    /// Between runs: the runner's own gap from one run's exit to the next one's start.
    pub between_runs_mean_s: f64,
}

//! `--repeat N`: the same case N times, one series file holding each run and
//! the statistics of every headline figure (trimmed mean: first and last run
//! dropped when N ≥ 3; min, max, stddev).

use crate::messages::note;
use crate::results::schema::series::SeriesResult;
use crate::results::schema::{RunResult, SCHEMA_VERSION, SeriesTag};
use crate::results::{self, stats};
use anyhow::Result;

/// Run `one` `n` times, tagging each run; stop at the first failure.
pub fn repeat(n: u32, mut one: impl FnMut() -> Result<RunResult>) -> Result<SeriesResult> {
    let mut runs: Vec<RunResult> = Vec::with_capacity(n as usize);
    let mut id = String::new();
    for i in 1..=n {
        let mut r = one()?;
        if i == 1 {
            id = r.file_stem();
        }
        r.series = Some(SeriesTag { id: id.clone(), index: i, count: n });
        note(&format!("run {i}/{n}: {:.3} Gbit/s", r.summary.gbps));
        runs.push(r);
    }
    Ok(series(id, runs))
}

/// The series file of `runs` (in run order).
pub fn series(id: String, runs: Vec<RunResult>) -> SeriesResult {
    SeriesResult {
        schema_version: SCHEMA_VERSION,
        kind: "series".into(),
        zcbench: results::build(),
        timestamp: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        id,
        figures: stats::series_figures(&runs),
        runs,
    }
}

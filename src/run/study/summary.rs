//! The study's summary: `summary.json` (schema type `StudySummary`) and
//! `summary.csv` (one row per case: its status and reason, its axes, and
//! every headline figure's trimmed mean, min, max and stddev).

use super::store::Store;
use crate::config::study::{Case, StudySpec};
use crate::results::schema::SCHEMA_VERSION;
use crate::results::schema::series::{CaseSummary, DeadTime, RunRecord, StudySummary};
use crate::results::{self, stats};
use anyhow::Result;
use std::collections::BTreeMap;

/// What this invocation learned about a case (failures are not stored on disk:
/// a failed case is run again on resume).
#[derive(Debug, Clone, Default)]
pub struct Failure {
    pub exit_code: Option<i32>,
    pub reason: String,
}

fn case_summary(store: &Store, spec: &StudySpec, c: &Case, failed: Option<&Failure>) -> CaseSummary {
    let mut runs = Vec::new();
    let mut results_ = Vec::new();
    for k in 1..=spec.repeat {
        if !store.done(c, k) {
            continue;
        }
        let f = store.run_file(c, k);
        if let Ok(r) = results::read(&f) {
            results_.push(r);
        }
        let m = store.meta(c, k);
        runs.push(RunRecord {
            index: k,
            file: store.rel(&f),
            wall_s: m.map_or(0.0, |m| m.wall_s),
            planned_s: m.map_or(0.0, |m| m.planned_s),
            dead_s: m.map_or(0.0, |m| m.dead_s),
        });
    }
    let skip = store.skip(c);
    let (status, reason, exit_code) = match (&skip, failed) {
        (Some(s), _) => ("skipped", Some(s.reason.clone()), Some(s.exit_code)),
        (None, Some(f)) => ("failed", Some(f.reason.clone()), f.exit_code),
        (None, None) if runs.len() as u32 == spec.repeat => ("done", None, Some(0)),
        (None, None) => ("pending", None, None),
    };
    CaseSummary {
        id: c.id.clone(),
        axes: c.axes.clone(),
        args: c.args.clone(),
        server_args: c.server_args.clone(),
        status: status.into(),
        reason,
        exit_code,
        runs,
        figures: stats::series_figures(&results_),
    }
}

fn dead_time(store: &Store, spec: &StudySpec, cases: &[Case]) -> DeadTime {
    let metas: Vec<_> = cases.iter().flat_map(|c| (1..=spec.repeat).filter_map(move |k| store.meta(c, k))).collect();
    let n = metas.len();
    let gaps: Vec<f64> = metas.iter().filter_map(|m| m.gap_s).collect();
    let total: f64 = metas.iter().map(|m| m.dead_s).sum();
    DeadTime {
        runs: n as u32,
        mean_s: if n > 0 { total / n as f64 } else { 0.0 },
        max_s: metas.iter().map(|m| m.dead_s).fold(0.0, f64::max),
        total_s: total,
        between_runs_mean_s: if gaps.is_empty() { 0.0 } else { gaps.iter().sum::<f64>() / gaps.len() as f64 },
    }
}

/// The summary now, written to summary.json and summary.csv.
pub fn write(
    store: &Store,
    spec: &StudySpec,
    cases: &[Case],
    failed: &BTreeMap<String, Failure>,
) -> Result<StudySummary> {
    let s = StudySummary {
        schema_version: SCHEMA_VERSION,
        kind: "study".into(),
        zcbench: results::build(),
        name: spec.file.study.name.clone(),
        profile: spec.profile.display().to_string(),
        fingerprint: spec.file.fingerprint()?,
        updated: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        repeat: Some(spec.repeat),
        cases: cases.iter().map(|c| case_summary(store, spec, c, failed.get(&c.id))).collect(),
        dead_time: dead_time(store, spec, cases),
    };
    results::write_file(&s, &store.dir.join("summary.json"))?;
    let csv = csv(&s, &spec.file.axis.iter().map(|a| a.name.clone()).collect::<Vec<_>>());
    std::fs::write(store.dir.join("summary.csv"), csv)?;
    Ok(s)
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// One row per case; figure columns `<name>`, `<name>_min`, `<name>_max`,
/// `<name>_stddev` for every `stats::HEADLINE` name (empty when absent).
pub fn csv(s: &StudySummary, axes: &[String]) -> String {
    let mut head: Vec<String> = ["case", "status", "reason", "exit_code", "runs"].map(String::from).to_vec();
    head.extend(axes.iter().cloned());
    for f in stats::HEADLINE {
        head.extend([f.to_string(), format!("{f}_min"), format!("{f}_max"), format!("{f}_stddev")]);
    }
    let mut o = head.join(",") + "\n";
    for c in &s.cases {
        let mut row = vec![
            field(&c.id),
            c.status.clone(),
            field(c.reason.as_deref().unwrap_or("")),
            c.exit_code.map_or(String::new(), |e| e.to_string()),
            c.runs.len().to_string(),
        ];
        row.extend(axes.iter().map(|a| field(c.axes.get(a).map_or("", String::as_str))));
        for f in stats::HEADLINE {
            match c.figures.get(*f) {
                Some(sp) => row.extend([sp.trimmed_mean, sp.min, sp.max, sp.stddev].map(|v| format!("{v}"))),
                None => row.extend(std::iter::repeat_n(String::new(), 4)),
            }
        }
        o += &(row.join(",") + "\n");
    }
    o
}

/// The terminal table at the end of a study.
pub fn table(s: &StudySummary) -> String {
    let mut o = format!("study {}: {} cases\n", s.name, s.cases.len());
    o += "   case                                          status      Gbit/s   T^2/C total   reason\n";
    for c in &s.cases {
        let fig = |n: &str| c.figures.get(n).map_or("-".to_string(), |f| format!("{:.2}", f.trimmed_mean));
        o += &format!(
            "   {:<45} {:<8} {:>9} {:>13}   {}\n",
            c.id,
            c.status,
            fig("gbps"),
            fig("roi_cpu_total"),
            c.reason.as_deref().unwrap_or("")
        );
    }
    o += &format!("dead time: {}\n", stats::dead_time(&s.dead_time));
    o
}

//! `zcbench study FILE.toml`: every case of a study matrix, each run as a
//! child zcbench process (its exit code and message decide done / skipped /
//! failed; a killed study kills its run too), one result file per run, a
//! summary after every run, a progress bar with an ETA. Run again on the same
//! directory, it resumes: finished runs are kept, a half-finished one is
//! redone, skipped cases stay skipped (with their reason) unless
//! `--retry-skipped`.

mod child;
mod store;
mod summary;

use super::Interrupted;
use crate::config::study::{Case, StudySpec};
use crate::messages;
use anyhow::{Result, anyhow};
use child::Ended;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use store::{RunMeta, Skip, Store};
use summary::Failure;

fn dur(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The command line of run `k` of `c` (the client's, in a two-host study).
fn argv(spec: &StudySpec, c: &Case, k: u32, out: &std::path::Path) -> Result<Vec<String>> {
    let exe = std::env::current_exe().map_err(|e| anyhow!("finding this zcbench binary: {e}"))?;
    let h = &spec.file.study;
    let mut a = vec![exe.display().to_string()];
    match &h.server {
        Some(server) => a.extend(["client".into(), "--server".into(), server.clone()]),
        None => a.push("run".into()),
    }
    a.extend(h.args.iter().cloned());
    a.extend(c.args.iter().cloned());
    for (flag, d) in [("--duration", spec.duration), ("--warmup", spec.warmup), ("--interval", spec.interval)] {
        a.extend([flag.to_string(), dur(d)]);
    }
    a.extend(["--out".into(), out.display().to_string(), "--quiet".into()]);
    a.extend(["--series-tag".into(), format!("{}:{k}:{}", c.id, spec.repeat)]);
    Ok(a)
}

fn server_argv(spec: &StudySpec, c: &Case) -> Option<Vec<String>> {
    let h = &spec.file.study;
    let mut a = h.server_cmd.clone()?;
    a.extend(h.server_args.iter().cloned());
    a.extend(c.server_args.iter().cloned());
    a.push("--once".into());
    Some(a)
}

/// One run: its process (and server), then its result moved into place.
fn run_one(spec: &StudySpec, store: &Store, c: &Case, k: u32, gap: Option<f64>) -> Result<(Ended, Option<RunMeta>)> {
    let part = store.fresh_partial(c, k)?;
    let server = match server_argv(spec, c) {
        Some(a) => match child::Server::start(&a) {
            Ok(s) => Some(s),
            Err(e) => return Ok((Ended::Failed(None, format!("{e:#}")), None)),
        },
        None => None,
    };
    let (mut ended, wall) = child::run(&argv(spec, c, k, &part)?, &store.log(c, k))?;
    if let Some(s) = server {
        let said = s.finish();
        if let Ended::Failed(code, why) = &ended {
            ended = Ended::Failed(*code, format!("{why} (server: {})", child::reason(&said)));
        }
    }
    if !matches!(ended, Ended::Done) {
        let _ = std::fs::remove_dir_all(&part);
        return Ok((ended, None));
    }
    let planned = (spec.warmup + spec.duration).as_secs_f64();
    let wall_s = wall.as_secs_f64();
    let meta = RunMeta { wall_s, planned_s: planned, dead_s: (wall_s - planned).max(0.0), gap_s: gap };
    store.commit(c, k, &meta)?;
    Ok((ended, Some(meta)))
}

struct Progress {
    bar: ProgressBar,
    planned_s: f64,
    /// Set-up and tear-down seen so far: (sum, runs).
    dead: std::cell::Cell<(f64, u32)>,
}

impl Progress {
    fn new(total: u64, spec: &StudySpec) -> Progress {
        // indicatif draws the bar itself, on a terminal only.
        let bar = if messages::quiet() { ProgressBar::hidden() } else { ProgressBar::new(total) };
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let planned_s = (spec.warmup + spec.duration).as_secs_f64();
        Progress { bar, planned_s, dead: std::cell::Cell::new((0.0, 0)) }
    }

    /// ETA from what is left and what a run has really cost so far.
    fn show(&self, what: &str) {
        let left = self.bar.length().unwrap_or(0).saturating_sub(self.bar.position()) as f64;
        let (d, n) = self.dead.get();
        let per_run = self.planned_s + if n > 0 { d / f64::from(n) } else { 1.0 };
        self.bar.set_message(format!("ETA {}  {what}", dur(Duration::from_secs((left * per_run) as u64))));
    }

    fn line(&self, msg: String) {
        if self.bar.is_hidden() { messages::note(&msg) } else { self.bar.println(msg) }
    }
}

pub fn study(spec: &StudySpec) -> Result<()> {
    let cases = spec.file.cases()?;
    if spec.dry_run {
        let h = &spec.file.study;
        let mut o = format!("study {}: {}\n", h.name, h.description.trim());
        for c in &cases {
            o += &format!(
                "{}  {}{}\n",
                c.id,
                c.args.join(" "),
                if c.server_args.is_empty() {
                    String::new()
                } else {
                    format!("  [server: {}]", c.server_args.join(" "))
                }
            );
        }
        o += &format!("{} cases × {} runs\n", cases.len(), spec.repeat);
        messages::data(o);
        return Ok(());
    }
    let store = Store::open(&spec.out, &spec.file.fingerprint()?)?;
    let mut failed: BTreeMap<String, Failure> = BTreeMap::new();
    let p = Progress::new(cases.len() as u64 * u64::from(spec.repeat), spec);
    let mut last_exit: Option<Instant> = None;
    for c in &cases {
        if run_case(spec, &store, c, &p, &mut failed, &mut last_exit)? {
            summary::write(&store, spec, &cases, &failed)?;
            p.bar.abandon();
            return Err(anyhow!(Interrupted));
        }
        summary::write(&store, spec, &cases, &failed)?;
    }
    p.bar.finish_and_clear();
    let s = summary::write(&store, spec, &cases, &failed)?;
    messages::table(summary::table(&s));
    messages::table(format!("study: {}\n", store.dir.display()));
    match failed.len() {
        0 => Ok(()),
        n => Err(anyhow!(
            "{n} case(s) failed; their logs are in {}/runs (run the study again to retry them)",
            store.dir.display()
        )),
    }
}

/// Every run of one case that is not done yet. True when the study was interrupted.
fn run_case(
    spec: &StudySpec,
    store: &Store,
    c: &Case,
    p: &Progress,
    failed: &mut BTreeMap<String, Failure>,
    last_exit: &mut Option<Instant>,
) -> Result<bool> {
    if spec.retry_skipped {
        store.set_skip(c, None)?;
    }
    if let Some(s) = store.skip(c) {
        p.bar.inc(u64::from(spec.repeat));
        p.line(format!("{}: skipped earlier: {}", c.id, s.reason));
        return Ok(false);
    }
    for k in 1..=spec.repeat {
        if store.done(c, k) {
            p.bar.inc(1);
            continue;
        }
        p.show(&format!("{} run {k}/{}", c.id, spec.repeat));
        let gap = last_exit.map(|t| t.elapsed().as_secs_f64());
        let (ended, meta) = run_one(spec, store, c, k, gap)?;
        *last_exit = Some(Instant::now());
        match ended {
            Ended::Done => {
                let m = meta.unwrap_or(RunMeta { wall_s: 0.0, planned_s: 0.0, dead_s: 0.0, gap_s: None });
                let (d, n) = p.dead.get();
                p.dead.set((d + m.dead_s, n + 1));
                p.line(format!(
                    "{} run {k}/{}: done in {:.1} s ({:.2} s set-up and tear-down)",
                    c.id, spec.repeat, m.wall_s, m.dead_s
                ));
                p.bar.inc(1);
            }
            Ended::Skipped(code, reason) => {
                p.line(format!("{}: skipped (exit {code}): {reason}", c.id));
                store.set_skip(c, Some(&Skip { exit_code: code, reason }))?;
                p.bar.inc(u64::from(spec.repeat - k + 1));
                return Ok(false);
            }
            Ended::Failed(code, reason) => {
                p.line(format!("{} run {k}: FAILED: {reason}", c.id));
                failed.insert(c.id.clone(), Failure { exit_code: code, reason });
                p.bar.inc(u64::from(spec.repeat - k + 1));
                return Ok(false);
            }
            Ended::Interrupted => return Ok(true),
        }
    }
    Ok(false)
}

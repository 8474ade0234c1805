//! zcbench: which Linux TCP data path moves the most data per core.
//!
//! Layers, each importing only from those below it (tests/architecture.rs
//! checks this; docs/design.md draws it):
//! `cli` → `config` → `run` (and `probe`, `admin`, `report`) → `rx`/`tx`
//! (sharing `datapath`) → `sample` → `results` → `sys`; `domain`, `error`,
//! `pattern`, `signals` and `messages` (everything zcbench prints) are leaves
//! anyone may use. Only `sys` may hold `unsafe` code.
#![deny(unsafe_code)]

mod admin;
mod cli;
mod config;
mod datapath;
mod domain;
mod error;
mod messages;
mod pattern;
mod probe;
mod report;
mod results;
mod run;
mod rx;
mod sample;
mod signals;
#[allow(unsafe_code)]
mod sys;
mod tx;

use clap::Parser;
use cli::{Cli, Command, OutputArgs, SeriesArgs, SysctlCommand};
use error::{ExitKind, exit_kind};
use results::schema::RunResult;
use std::process::ExitCode;
use std::time::Duration;

/// How the command line asked zcbench to speak; `messages` applies it.
fn rules(cli: &Cli) -> messages::Rules {
    use messages::Rules;
    let out = |o: &OutputArgs| Rules { quiet: o.quiet, json: o.json || o.json_stream, stream: o.json_stream };
    match &cli.command {
        None => out(&cli.run.output),
        Some(Command::Run(a)) => out(&a.output),
        Some(Command::Client(a)) => out(&a.output),
        // The server's stdout carries nothing: its interval lines go to stderr with its log.
        Some(Command::Server(a)) => Rules { quiet: a.quiet, json: true, stream: false },
        Some(Command::Study(a)) => Rules { quiet: a.quiet, json: false, stream: false },
        Some(Command::Report(a)) => Rules { quiet: a.quiet, json: false, stream: false },
        Some(Command::Probe(a)) => Rules { quiet: false, json: a.json, stream: false },
        Some(Command::Sysctl(_) | Command::Restore | Command::AttachPower(_)) => Rules::default(),
    }
}

/// The interval lines while a flow runs (`messages` decides where they go).
fn progress(per_flow: bool) -> impl FnMut(&results::Interval<'_>) + Send + use<> {
    let mut lines = report::table::IntervalLines::new(per_flow);
    move |i| {
        messages::stream(|| results::stream::interval(i));
        messages::interval(|| lines.line(i))
    }
}

/// Write the result and show it. A result is never lost: when its directory
/// fails after all, it goes to a fallback directory, and failing that to stdout.
fn emit(out: &OutputArgs, r: &RunResult) -> anyhow::Result<()> {
    // Ctrl-C twice gives the measurement up, even when it is ready.
    if signals::abandoned() {
        return Err(anyhow::anyhow!(run::Interrupted));
    }
    let (path, failed) = match results::write(r, &out.out) {
        Ok(p) => (Some(p), None),
        Err(e) => match results::write(r, &results::fallback_dir()) {
            Ok(p) => (Some(p), Some(e)),
            Err(e2) => (None, Some(e.context(format!("and the fallback failed too: {e2:#}")))),
        },
    };
    if messages::streaming() {
        messages::data(results::stream::end(r)?);
    } else if messages::json() || path.is_none() {
        messages::data(format!("{}\n", serde_json::to_string_pretty(r)?));
    } else {
        messages::table(report::table::table(r));
    }
    if let Some(p) = &path {
        messages::table(format!("result: {}\n", p.display()));
    }
    if let Some(e) = failed {
        let went = match &path {
            Some(p) => format!("it was written to {} instead", p.display()),
            None => "it was printed on stdout instead".into(),
        };
        return Err(e.context(format!("writing the result to {} failed; {went}", out.out.display())));
    }
    if r.interrupted {
        messages::warn(&format!(
            "interrupted after {:.1} s of the {} s window: the result holds what was measured (marked interrupted)",
            r.summary.measured_s, r.flow.duration_s
        ));
        return Err(anyhow::anyhow!(run::Interrupted));
    }
    Ok(())
}

/// One run, or a series of `--repeat` runs written as one series file.
fn run_and_emit(
    out: &OutputArgs,
    s: &SeriesArgs,
    mut run: impl FnMut() -> anyhow::Result<RunResult>,
) -> anyhow::Result<()> {
    // Each result records the lines of output dropped while it ran.
    let mut one = || {
        let before = messages::dropped();
        let mut r = run()?;
        r.output_lines_dropped = messages::dropped() - before;
        for side in std::iter::once(&r.receiver).chain(r.sender.iter()) {
            if let Some(p) = results::stats::describe_pauses(&results::stats::pauses(side)) {
                messages::warn(&format!("the {} was {p}", side.role));
            }
        }
        Ok(r)
    };
    if s.repeat <= 1 {
        let mut r = one()?;
        r.series = s.series_tag.as_deref().map(run::instruments::series_tag).transpose()?;
        return emit(out, &r);
    }
    let series = run::series::repeat(s.repeat, one)?;
    let path = results::write_series(&series, &out.out)?;
    if messages::streaming() {
        messages::data(results::stream::end(&series)?);
    } else if messages::json() {
        messages::data(format!("{}\n", serde_json::to_string_pretty(&series)?));
    } else {
        if let Some(last) = series.runs.last() {
            messages::table(report::table::table(last));
        }
        messages::table(report::table::series_table(&series));
        messages::table(format!("series: {}\n", path.display()));
    }
    Ok(())
}

/// A command, checked.
enum Job {
    Run(config::RunSpec, OutputArgs, SeriesArgs),
    Client(config::ClientSpec, OutputArgs, SeriesArgs),
    Server(config::ServerSpec),
    Study(config::study::StudySpec),
    Other(Command),
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    // Everything typed is checked before the host is touched, the result
    // directory included: a result that could not be written would be lost.
    let job = match cli.command {
        None => Job::Run(cli.run.to_config()?, cli.run.output, cli.run.series),
        Some(Command::Run(a)) => Job::Run(a.to_config()?, a.output, a.series),
        Some(Command::Client(a)) => Job::Client(a.to_config()?, a.output, a.series),
        Some(Command::Server(a)) => Job::Server(a.to_config()?),
        Some(Command::Study(a)) => Job::Study(a.to_config()?),
        Some(other) => Job::Other(other),
    };
    if let Job::Run(_, out, _) | Job::Client(_, out, _) = &job {
        results::check_dir(&out.out)?;
    }
    let doing = match &job {
        Job::Run(..) | Job::Client(..) | Job::Server(..) => signals::Doing::Run,
        Job::Study(_) => signals::Doing::Study,
        Job::Other(Command::Report(_)) => signals::Doing::Report,
        Job::Other(Command::Restore | Command::Sysctl(SysctlCommand::Apply { .. } | SysctlCommand::Restore)) => {
            signals::Doing::Restore
        }
        Job::Other(_) => signals::Doing::Look,
    };
    // A run that was killed or crashed left its changes in the journal: put the
    // host back before doing anything else, and finish that whatever signal comes.
    // (`report` only reads result files and may run as any user.)
    if !matches!(job, Job::Other(Command::Restore | Command::Report(_))) {
        signals::install(signals::Doing::Restore)?;
        admin::recover(false)?;
        signals::set_doing(doing);
        run::stop_if_interrupted()?;
    } else {
        signals::install(doing)?;
    }
    match job {
        Job::Run(spec, out, series) => {
            run_and_emit(&out, &series, || run::local::run(&spec, &mut progress(out.per_flow)))
        }
        Job::Client(spec, out, series) => {
            run_and_emit(&out, &series, || run::client::client(&spec, &mut progress(out.per_flow)))
        }
        Job::Server(spec) => run::server::server(&spec, &mut progress(false)),
        Job::Other(Command::Restore) => admin::restore(),
        Job::Other(Command::Sysctl(c)) => match c {
            SysctlCommand::Show { profile } => admin::sysctl_show(profile.as_deref()),
            SysctlCommand::Diff { profile } => admin::sysctl_diff(&profile),
            SysctlCommand::Apply { profile } => admin::sysctl_apply(&profile),
            SysctlCommand::Restore => admin::sysctl_restore(),
        },
        Job::Study(a) => run::study::study(&a),
        Job::Other(Command::AttachPower(a)) => run::instruments::attach_power(&a.result, &a.log, a.kind, &a.side),
        Job::Other(Command::Report(a)) => report::run(&report::Options {
            inputs: a.inputs,
            out: a.out,
            group_by: a.group_by,
            baseline: a.baseline,
            title: a.title,
            strict: a.strict,
        }),
        Job::Other(Command::Probe(a)) => {
            let p = probe::probe(a.dev.as_deref())?;
            if messages::json() {
                messages::data(format!("{}\n", serde_json::to_string_pretty(&p)?));
            } else {
                messages::table(probe::table(&p));
            }
            Ok(())
        }
        Job::Other(Command::Run(_) | Command::Client(_) | Command::Server(_) | Command::Study(_)) => {
            unreachable!("made jobs above")
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    messages::init(rules(&cli));
    // A reader that closes the stream a run's lines go to stops the run as
    // SIGTERM would (the result is kept on disk).
    messages::when_closed(signals::output_closed);
    let code = match real_main(cli) {
        Ok(()) => 0,
        Err(e) if e.downcast_ref::<run::Interrupted>().is_some() => {
            messages::fail("interrupted", signals::doing().interrupted_message());
            130
        }
        Err(e) => {
            let kind = exit_kind(&e);
            let prefix = match kind {
                ExitKind::Usage => "usage error",
                ExitKind::Unsupported => "not supported on this host",
                ExitKind::Failed => "error",
            };
            messages::fail(prefix, &format!("{e:#}"));
            kind.code() as u8
        }
    };
    let dropped = messages::dropped();
    if dropped > 0 {
        messages::warn(&format!(
            "{dropped} lines of output were dropped: stdout or stderr was not read fast enough (nothing measured waits for output; the result file holds every figure)"
        ));
    }
    // What is queued goes out before the process ends, however slowly it is
    // read, unless a signal comes; once a signal has ended the run, a reader
    // that takes nothing gets 200 ms.
    let seen = signals::count();
    let limit = (seen > 0).then_some(Duration::from_millis(200));
    if !messages::finish(|| signals::count() > seen, limit) && code == 0 {
        return ExitCode::from(130);
    }
    ExitCode::from(code)
}

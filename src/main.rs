//! zcbench: which Linux TCP data path moves the most data per core.
//!
//! Layers, each importing only from those below it (tests/architecture.rs
//! checks this; docs/design.md draws it):
//! `cli` → `config` → `run` (and `probe`, `admin`, `report`) → `rx`/`tx`
//! (sharing `datapath`) → `sample` → `results` → `sys`; `domain`, `error`,
//! `pattern` and `signals` are leaves anyone may use. Only `sys` may hold
//! `unsafe` code.
#![deny(unsafe_code)]

mod admin;
mod cli;
mod config;
mod datapath;
mod domain;
mod error;
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
use std::io::Write;
use std::process::ExitCode;

/// The interval lines while a flow runs: on stdout, or on stderr when stdout
/// carries the JSON result; none with --quiet. A reader that closes the
/// stream stops the run as SIGTERM would (the result is kept on disk).
fn progress(out: &OutputArgs) -> impl FnMut(&results::Interval<'_>) + Send + use<> {
    let mut lines = report::table::IntervalLines::default();
    let (quiet, json) = (out.quiet, out.json);
    move |i| {
        if quiet {
            return;
        }
        let text = lines.line(i);
        let (written, which) = if json {
            (std::io::stderr().write_all(text.as_bytes()), "stderr")
        } else {
            let mut o = std::io::stdout().lock();
            (o.write_all(text.as_bytes()).and_then(|()| o.flush()), "stdout")
        };
        if written.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
            signals::output_closed(which);
        }
    }
}

/// Text on stdout; a reader that went away is no reason to fail (or panic,
/// as `print!` would) once the result is on disk.
fn show(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|()| o.flush());
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
    if out.json || path.is_none() {
        show(&format!("{}\n", serde_json::to_string_pretty(r)?));
    } else if !out.quiet {
        show(&report::table::table(r));
    }
    if let Some(p) = &path
        && !out.json
        && !out.quiet
    {
        show(&format!("result: {}\n", p.display()));
    }
    if let Some(e) = failed {
        let went = match &path {
            Some(p) => format!("it was written to {} instead", p.display()),
            None => "it was printed on stdout instead".into(),
        };
        return Err(e.context(format!("writing the result to {} failed; {went}", out.out.display())));
    }
    if r.interrupted {
        eprintln!(
            "zcbench: interrupted after {:.1} s of the {} s window: the result holds what was measured (marked interrupted)",
            r.summary.measured_s, r.flow.duration_s
        );
        return Err(anyhow::anyhow!(run::Interrupted));
    }
    Ok(())
}

/// One run, or a series of `--repeat` runs written as one series file.
fn run_and_emit(
    out: &OutputArgs,
    s: &SeriesArgs,
    mut one: impl FnMut() -> anyhow::Result<RunResult>,
) -> anyhow::Result<()> {
    if s.repeat <= 1 {
        let mut r = one()?;
        r.series = s.series_tag.as_deref().map(run::measure::series_tag).transpose()?;
        return emit(out, &r);
    }
    let series = run::series::repeat(s.repeat, out.quiet, one)?;
    let path = results::write_series(&series, &out.out)?;
    if out.json {
        show(&format!("{}\n", serde_json::to_string_pretty(&series)?));
    } else if !out.quiet {
        if let Some(last) = series.runs.last() {
            show(&report::table::table(last));
        }
        show(&report::table::series_table(&series));
        show(&format!("series: {}\n", path.display()));
    }
    Ok(())
}

/// A command, checked.
enum Job {
    Run(config::RunSpec, OutputArgs, SeriesArgs),
    Client(config::ClientSpec, OutputArgs, SeriesArgs),
    Server(config::ServerSpec, bool),
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
        Some(Command::Server(a)) => Job::Server(a.to_config()?, a.quiet),
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
        Job::Run(spec, out, series) => run_and_emit(&out, &series, || run::local::run(&spec, &mut progress(&out))),
        Job::Client(spec, out, series) => {
            run_and_emit(&out, &series, || run::client::client(&spec, &mut progress(&out)))
        }
        Job::Server(spec, quiet) => {
            // The server's interval lines go to stderr with its log.
            let shown = OutputArgs { out: Default::default(), json: true, quiet };
            run::server::server(&spec, &mut progress(&shown))
        }
        Job::Other(Command::Restore) => admin::restore(),
        Job::Other(Command::Sysctl(c)) => match c {
            SysctlCommand::Show { profile } => admin::sysctl_show(profile.as_deref()),
            SysctlCommand::Diff { profile } => admin::sysctl_diff(&profile),
            SysctlCommand::Apply { profile } => admin::sysctl_apply(&profile),
            SysctlCommand::Restore => admin::sysctl_restore(),
        },
        Job::Study(a) => run::study::study(&a),
        Job::Other(Command::AttachPower(a)) => run::measure::attach_power(&a.result, &a.log, a.kind, &a.side),
        Job::Other(Command::Report(a)) => report::run(&report::Options {
            inputs: a.inputs,
            out: a.out,
            group_by: a.group_by,
            baseline: a.baseline,
            title: a.title,
            quiet: a.quiet,
            strict: a.strict,
        }),
        Job::Other(Command::Probe(a)) => {
            let p = probe::probe(a.dev.as_deref())?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                print!("{}", probe::table(&p));
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
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<run::Interrupted>().is_some() => {
            let _ = writeln!(std::io::stderr(), "zcbench: {}", signals::doing().interrupted_message());
            ExitCode::from(130)
        }
        Err(e) => {
            let kind = exit_kind(&e);
            let prefix = match kind {
                ExitKind::Usage => "usage error",
                ExitKind::Unsupported => "not supported on this host",
                ExitKind::Failed => "error",
            };
            eprintln!("zcbench: {prefix}: {e:#}");
            ExitCode::from(kind.code() as u8)
        }
    }
}

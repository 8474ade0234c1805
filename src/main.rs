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
use std::process::ExitCode;

fn emit(out: &OutputArgs, r: &RunResult) -> anyhow::Result<()> {
    let path = results::write(r, &out.out)?;
    if out.json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else if !out.quiet {
        print!("{}", report::table::table(r));
        println!("result: {}", path.display());
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
        println!("{}", serde_json::to_string_pretty(&series)?);
    } else if !out.quiet {
        if let Some(last) = series.runs.last() {
            print!("{}", report::table::table(last));
        }
        print!("{}", report::table::series_table(&series));
        println!("series: {}", path.display());
    }
    Ok(())
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    signals::install()?;
    // A run that was killed or crashed left its changes in the journal: put the
    // host back before doing anything else.
    // (`report` only reads result files and may run as any user.)
    if !matches!(cli.command, Some(Command::Restore | Command::Report(_))) {
        admin::recover(false)?;
    }
    match cli.command {
        Some(Command::Restore) => admin::restore(),
        Some(Command::Sysctl(c)) => match c {
            SysctlCommand::Show { profile } => admin::sysctl_show(profile.as_deref()),
            SysctlCommand::Diff { profile } => admin::sysctl_diff(&profile),
            SysctlCommand::Apply { profile } => admin::sysctl_apply(&profile),
            SysctlCommand::Restore => admin::sysctl_restore(),
        },
        None => {
            let spec = cli.run.to_config()?;
            run_and_emit(&cli.run.output, &cli.run.series, || run::local::run(&spec))
        }
        Some(Command::Run(a)) => {
            let spec = a.to_config()?;
            run_and_emit(&a.output, &a.series, || run::local::run(&spec))
        }
        Some(Command::Client(a)) => {
            let spec = a.to_config()?;
            run_and_emit(&a.output, &a.series, || run::client::client(&spec))
        }
        Some(Command::Study(a)) => run::study::study(&a.to_config()?),
        Some(Command::AttachPower(a)) => run::measure::attach_power(&a.result, &a.log, a.kind, &a.side),
        Some(Command::Server(a)) => run::server::server(&a.to_config()?),
        Some(Command::Report(a)) => report::run(&report::Options {
            inputs: a.inputs,
            out: a.out,
            group_by: a.group_by,
            baseline: a.baseline,
            title: a.title,
            quiet: a.quiet,
        }),
        Some(Command::Probe(a)) => {
            let p = probe::probe(a.dev.as_deref())?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                print!("{}", probe::table(&p));
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<run::Interrupted>().is_some() => {
            eprintln!("zcbench: interrupted; host settings restored, testbed removed");
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

mod admin;
mod cli;
mod config;
mod error;
mod metrics;
mod pattern;
mod probe;
mod results;
mod run;
mod rx;
mod sample;
mod signals;
mod sys;
mod tx;

use clap::Parser;
use cli::{Cli, Command, OutputArgs};
use error::{ExitKind, exit_kind};
use std::process::ExitCode;

fn emit(out: &OutputArgs, r: &results::RunResult) -> anyhow::Result<()> {
    let path = r.write(&out.out)?;
    if out.json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else if !out.quiet {
        print!("{}", r.table());
        println!("result: {}", path.display());
    }
    Ok(())
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    signals::install()?;
    // A run that was killed or crashed left its changes in the journal: put the
    // host back before doing anything else.
    if !matches!(cli.command, Some(Command::Restore)) {
        admin::recover(false)?;
    }
    match cli.command {
        Some(Command::Restore) => admin::restore(),
        Some(Command::Sysctl(c)) => admin::sysctl(&c),
        None => emit(&cli.run.output, &run::local::run(&cli.run)?),
        Some(Command::Run(a)) => emit(&a.output, &run::local::run(&a)?),
        Some(Command::Client(a)) => emit(&a.output, &run::remote::client(&a)?),
        Some(Command::Server(a)) => run::remote::server(&a),
        Some(Command::Probe(a)) => {
            let p = probe::probe(&a)?;
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

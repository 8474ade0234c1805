//! `zcbench study`'s command line.

use super::parse::parse_duration;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct StudyArgs {
    /// The study file (TOML; see profiles/).
    pub profile: PathBuf,
    /// Study directory (default: results/study-NAME). An existing one is resumed:
    /// finished runs are kept, a half-finished one is redone.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override the file's duration of every run.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Override the file's warm-up.
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Override the file's sampling interval.
    #[arg(long, value_parser = parse_duration)]
    pub interval: Option<Duration>,
    /// Override the file's repeats per case.
    #[arg(long)]
    pub repeat: Option<u32>,
    /// Try cases recorded as skipped again (after changing the host).
    #[arg(long)]
    pub retry_skipped: bool,
    /// List the cases and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress bar or per-run lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run the cases as clients of a `zcbench server` already listening on HOST
    /// (started by hand or by deploy/ansible/), instead of the file's server and
    /// server_cmd. That server keeps its own settings: a study whose cases set
    /// receiver settings (server_args) is refused.
    #[arg(long, value_name = "HOST")]
    pub server: Option<String>,
    /// Arguments added to every run's command line after the file's (e.g. `--
    /// --sender-cpu 3 --dev eth0`); they are part of the study's fingerprint.
    #[arg(last = true, value_name = "RUN ARGS")]
    pub run_args: Vec<String>,
}

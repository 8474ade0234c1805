//! Command-line definitions (clap derive). `to_config` maps what was parsed onto
//! the checked run description of `config`, which does the checking.

mod parse;
mod study;
mod to_config;

pub use study::StudyArgs;

use crate::config::HugePages;
use crate::domain::{
    DEFAULT_BASELINE, DEFAULT_GROUP_BY, DevmemOpts, GroupKey, OnOff, PowerKind, RxMode, TestbedKind, TxMode, ZcrxArea,
};
use clap::{Args, Parser, Subcommand};
use parse::{CpuList, parse_count, parse_cpu_list, parse_cpus, parse_duration, parse_hugepages, parse_size};
use std::path::PathBuf;
use std::time::Duration;

/// Examples: each command on a line of its own, its description under it, all
/// short enough not to wrap on an 80-column terminal; paragraphs are single
/// lines that clap wraps to the terminal (a test renders this at 80 columns).
const AFTER_HELP: &str = "\
Examples:
  zcbench
      baseline flow over a veth pair between two namespaces, 10 s
  zcbench --testbed lo --cpus 2 --duration 30
      over loopback, app and network processing on separate cores, 30 s
  zcbench server --dev eth0
      receiver host: serve runs on the control port
  zcbench client --server 198.18.0.1
      sender host: run one flow against that server
  zcbench probe --dev eth0
      what this host can run, and why not
  zcbench --testbed ports --dev eth2 --peer-dev eth3 --mode devmem --validate
      devmem TCP over two NIC ports cabled together
  zcbench --testbed ports --dev eth2 --peer-dev eth3 --mode zcrx --no-iowait
      io_uring zero-copy receive over them, waits not counted as iowait
  zcbench --sysctl study --mtu 4148 --big-tcp 185000 --sw-gro on
      host and NIC settings for one run, restored afterwards
  zcbench sysctl diff study
      this host's sysctls next to a profile's
  zcbench restore
      undo whatever a killed zcbench left changed
  zcbench report results/ --out report/study
      HTML, Markdown, SVG/PNG figures and CSV comparing the runs
  zcbench --power-cmd 'meter-read' --repeat 5
      wall power every interval; 5 runs, trimmed mean
  zcbench study profiles/local-short.toml
      every case of a study matrix, resumable

Durations are seconds when they have no unit (10, 0.5), or take one (500ms, 2m).

Every host change is journalled in /var/lib/zcbench (or $ZCBENCH_STATE_DIR) before it is made; a killed run's changes are restored by the next zcbench command, each in the network namespace it was made in.

Exit codes: 0 ok, 1 run failed, 2 usage error, 3 not supported on this host, 130 interrupted (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT or a closed stdout; host settings restored; a result is kept when part of the window was measured).";

#[derive(Parser, Debug)]
#[command(
    name = "zcbench",
    version,
    about = "Which Linux TCP receive/transmit path moves the most data per core: one long flow, pinned, sampled, written as JSON.",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `zcbench [OPTIONS]` is `zcbench run [OPTIONS]`.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one flow with both ends on this host (the default command).
    Run(RunArgs),
    /// Receiver host of a two-host run: serve flows on the control port.
    Server(ServerArgs),
    /// Sender host of a two-host run: negotiate with a server, send one flow, write the result.
    Client(ClientArgs),
    /// Show what this host can run (kernel, io_uring, netdev netlink, NICs, counters, power).
    Probe(ProbeArgs),
    /// sysctl profiles: list, compare with this host, apply until restored.
    #[command(subcommand)]
    Sysctl(SysctlCommand),
    /// Undo every host change zcbench left behind (crashed or killed runs, `sysctl apply`).
    Restore,
    /// Compare result files: an HTML page, Markdown, SVG/PNG figures and a CSV of the series.
    Report(ReportArgs),
    /// Run every case of a study file (profiles/*.toml): one result per run,
    /// a summary (JSON + CSV), resumable after an interruption.
    Study(StudyArgs),
    /// Add a meter's CSV log (timestamp,watts) to an existing result as a power source.
    AttachPower(AttachPowerArgs),
}

/// `zcbench report`: reads result files only; changes nothing on the host.
#[derive(Args, Debug, Clone)]
#[command(after_help = "\
Result files equal in every --group-by key are repeats of one case (a series): each
figure shows a series' trimmed mean (the first and last run dropped when there are 3
or more) with whiskers from its lowest to its highest run. Result files of every
schema version zcbench has written are read; newer ones are refused. A file that
is no usable result (another tool's JSON, not a regular file, over 256 MiB, values
no run can have) is skipped and named (--strict: exit 1). Directories are searched
once each (symlink loops end), at most 32 levels deep and 100 000 files.

Writes DIR/index.html (one self-contained page, no scripts, no fetches), DIR/report.md
(PNG figures), DIR/figures/*.svg and *.png, and DIR/summary.csv (one row per series;
columns listed in the README), and prints a comparison table.")]
pub struct ReportArgs {
    /// Result files, or directories searched (recursively) for *.json result files.
    #[arg(value_name = "RESULTS|DIR", default_value = "results")]
    pub inputs: Vec<PathBuf>,
    /// Report directory (created; an earlier report in it is replaced).
    #[arg(long, value_name = "DIR", default_value = "report/latest")]
    pub out: PathBuf,
    /// Keys that make result files repeats of one case.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = DEFAULT_GROUP_BY.to_vec())]
    pub group_by: Vec<GroupKey>,
    /// Receive mode every other series is compared with (as ratios), among series
    /// equal in the other keys.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = DEFAULT_BASELINE)]
    pub baseline: RxMode,
    /// Title of the page.
    #[arg(long)]
    pub title: Option<String>,
    /// Print nothing but errors and warnings.
    #[arg(long, short)]
    pub quiet: bool,
    /// Exit 1 when any input file was skipped (it is named either way).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Args, Debug, Clone)]
pub struct AttachPowerArgs {
    /// The result file to add the power source to (rewritten in place).
    pub result: PathBuf,
    /// The meter's log: CSV lines of a timestamp (Unix seconds or RFC 3339) and watts.
    pub log: PathBuf,
    /// What the log measured.
    #[arg(long, value_enum, default_value_t = PowerKind::Wall)]
    pub kind: PowerKind,
    /// Which host the log measured (two-host results).
    #[arg(long, value_parser = ["receiver", "sender"], default_value = "receiver")]
    pub side: String,
}

/// Power, idle power and counters: what is measured besides the flow.
#[derive(Args, Debug, Clone)]
pub struct PowerArgs {
    /// Power source, repeatable: redfish://HOST[:PORT][/PATH] (https; redfish+http:// for
    /// plain http), ipmi (local BMC) or ipmi://HOST, rapl (powercap package/DRAM).
    /// Redfish credentials: $ZCBENCH_REDFISH_USER/$ZCBENCH_REDFISH_PASSWORD;
    /// IPMI over LAN: $IPMI_USER/$IPMI_PASSWORD.
    #[arg(long, value_name = "SOURCE")]
    pub power: Vec<String>,
    /// A command printing watts, run every interval off the measured cores (sh -c).
    #[arg(long, value_name = "CMD")]
    pub power_cmd: Option<String>,
    /// What --power-cmd and --power-log measure.
    #[arg(long, value_enum, default_value_t = PowerKind::Wall)]
    pub power_kind: PowerKind,
    /// A meter's CSV log (timestamp,watts), aligned to the run's intervals afterwards.
    #[arg(long, value_name = "FILE")]
    pub power_log: Option<PathBuf>,
    /// Longest one power reading may take (at most 1m); the command and
    /// whatever it started are killed then, and the reading is missing.
    #[arg(long, value_parser = parse_duration, default_value = "2s", allow_negative_numbers = true)]
    pub power_timeout: Duration,
    /// Do not verify the Redfish BMC's TLS certificate.
    #[arg(long)]
    pub power_insecure: bool,
    /// The host's idle power in watts (for ROI above idle).
    #[arg(long, value_name = "WATTS", allow_hyphen_values = true)]
    pub idle_power: Option<f64>,
    /// Measure idle power for this long before the flow (e.g. 10s; at most 1h).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", allow_negative_numbers = true)]
    pub measure_idle: Option<Duration>,
    /// Do not open perf counters on the measured cores.
    #[arg(long)]
    pub no_perf: bool,
}

/// How results are figured and repeated.
#[derive(Args, Debug, Clone)]
pub struct SeriesArgs {
    /// Exponent of throughput in the ROI figures T^n/C and T^n/P^m.
    #[arg(long, default_value_t = 2.0, allow_hyphen_values = true)]
    pub roi_n: f64,
    /// Exponent of power in T^n/P^m.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    pub roi_m: f64,
    /// Run the same case N times; the series file holds each run and the
    /// trimmed mean (first and last dropped when N >= 3), min, max, stddev.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Set by `zcbench study`: this run's series (ID:INDEX:COUNT).
    #[arg(long, hide = true)]
    pub series_tag: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SysctlCommand {
    /// List the profiles, or print one.
    Show {
        /// A profile name, or the path of a sysctl.d file.
        profile: Option<String>,
    },
    /// This host's current values next to a profile's.
    Diff { profile: String },
    /// Apply a profile and keep it (journalled) until `zcbench sysctl restore`.
    Apply { profile: String },
    /// Put back every value `zcbench sysctl apply` changed.
    Restore,
}

/// Host and NIC settings for a run. Each is checked against the device first
/// (an unsupported one changes nothing and exits 3), applied through the undo
/// journal, recorded with its read-back value, and restored afterwards.
#[derive(Args, Debug, Clone, Default)]
pub struct SettingsArgs {
    /// sysctl profile for the run: a name from `zcbench sysctl show` or a sysctl.d file.
    #[arg(long, value_name = "PROFILE")]
    pub sysctl: Option<String>,
    /// Reserve at least N 2 MiB huge pages (on the NIC's NUMA node when known) and
    /// back the data buffers with them; `auto`: as many as the data buffers need.
    #[arg(long, value_name = "N|auto", value_parser = parse_hugepages, allow_negative_numbers = true)]
    pub hugepages: Option<HugePages>,
    /// Turn hardware GRO on (`rx-gro-hw`) on the receiving NIC.
    #[arg(long, conflicts_with = "no_hw_gro")]
    pub hw_gro: bool,
    /// Turn hardware GRO off on the receiving NIC.
    #[arg(long)]
    pub no_hw_gro: bool,
    /// Software GRO (`generic-receive-offload`) on the receiving device.
    #[arg(long, value_enum, value_name = "on|off")]
    pub sw_gro: Option<OnOff>,
    /// BIG TCP on both sides: gso_max_size and gro_max_size (IPv6 and IPv4 limits), e.g. 185000.
    #[arg(long, value_parser = parse_size, value_name = "SIZE", allow_negative_numbers = true)]
    pub big_tcp: Option<u64>,
    /// BIG TCP on the receiver only: gro_max_size and gro_ipv4_max_size.
    #[arg(long, value_parser = parse_size, value_name = "SIZE", allow_negative_numbers = true)]
    pub big_tcp_rx: Option<u64>,
    /// BIG TCP on the sender only: gso_max_size and gso_ipv4_max_size.
    #[arg(long, value_parser = parse_size, value_name = "SIZE", allow_negative_numbers = true)]
    pub big_tcp_tx: Option<u64>,
    /// Header split (`tcp-data-split`) on the receiving NIC.
    #[arg(long, value_enum, value_name = "on|off")]
    pub header_split: Option<OnOff>,
    /// Header-data split threshold on the receiving NIC (0 for devmem / zcrx).
    #[arg(long, value_name = "BYTES", value_parser = parse_count::<u32>, allow_negative_numbers = true)]
    pub hds_thresh: Option<u32>,
    /// Rx ring size of the receiving NIC.
    #[arg(long, value_name = "N", value_parser = parse_count::<u32>, allow_negative_numbers = true)]
    pub rx_ring: Option<u32>,
    /// Tx ring size of the receiving NIC.
    #[arg(long, value_name = "N", value_parser = parse_count::<u32>, allow_negative_numbers = true)]
    pub tx_ring: Option<u32>,
    /// Channel (queue) count of the receiving NIC: combined channels, or rx and tx
    /// when the driver has separate ones.
    #[arg(long, value_name = "N", value_parser = parse_count::<u32>, allow_negative_numbers = true)]
    pub channels: Option<u32>,
    /// Steer the flow to this rx queue with an ntuple rule (5-tuple, else
    /// 3-tuple) and spread RSS over the other queues.
    #[arg(long, value_name = "QUEUE", value_parser = parse_count::<u32>, allow_negative_numbers = true)]
    pub steer_queue: Option<u32>,
}

/// What the flow does: shared by `run` and `client`.
#[derive(Args, Debug, Clone)]
pub struct FlowArgs {
    /// Receive path.
    #[arg(long, value_enum, default_value_t = RxMode::Baseline)]
    pub mode: RxMode,
    /// Transmit path (default: the one that goes with --mode).
    #[arg(long, value_enum)]
    pub tx_mode: Option<TxMode>,
    /// Measured time, after the warm-up (seconds: 10, 0.5; or 10s, 2m, 500ms).
    #[arg(long, value_parser = parse_duration, default_value = "10s", allow_negative_numbers = true)]
    pub duration: Duration,
    /// Time before the measured window starts (sampled, not counted).
    #[arg(long, value_parser = parse_duration, default_value = "2s", allow_negative_numbers = true)]
    pub warmup: Duration,
    /// Sampling interval.
    #[arg(long, value_parser = parse_duration, default_value = "1s", allow_negative_numbers = true)]
    pub interval: Duration,
    /// Sender's application message: bytes per send call.
    #[arg(long, value_parser = parse_size, default_value = "64MiB", allow_negative_numbers = true)]
    pub msg_size: u64,
    /// Receiver's buffer: bytes asked for per receive call.
    #[arg(long, value_parser = parse_size, default_value = "64MiB", allow_negative_numbers = true)]
    pub read_size: u64,
    /// TCP_MAXSEG on both sockets (bytes of payload per segment).
    #[arg(long, value_parser = parse_count::<u32>, allow_negative_numbers = true)]
    pub mss: Option<u32>,
    /// Check every received byte against a position-derived pattern (costs CPU; recorded in the result).
    #[arg(long)]
    pub validate: bool,
    /// Use IPv6.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// devmem: frag tokens gathered before they go back with SO_DEVMEM_DONTNEED
    /// (coalesced into ranges; 1 = after every recvmsg).
    #[arg(long, default_value_t = DevmemOpts::default().token_batch, value_name = "N")]
    pub token_batch: u32,
    /// devmem: size of the dma-buf bound to the rx queue, one per flow with
    /// --flows (udmabuf; more than the module's size_limit_mb needs that raised).
    #[arg(long, value_parser = parse_size, default_value = "64MiB", value_name = "SIZE")]
    pub dmabuf_size: u64,
    /// devmem: back the dma-buf with 2 MiB huge pages (reserve them with --hugepages).
    #[arg(long)]
    pub dmabuf_hugepages: bool,
    /// Time every syscall of the data threads (calls, errors, total/min/mean/max ns
    /// per kind, like `perf trace -s`); its own cost is recorded too.
    #[arg(long)]
    pub syscall_times: bool,
    /// TCP connections at once (like iperf3 -P), each with its own receiving and
    /// sending thread, rx queue and cores (see --app-cpus); figures per flow and
    /// in total, with Jain's fairness index.
    #[arg(long, default_value_t = 1, value_parser = parse_count::<u32>, allow_negative_numbers = true, value_name = "N")]
    pub flows: u32,
    #[command(flatten)]
    pub zcrx: ZcrxArgs,
}

/// io_uring zero-copy receive (`--mode zcrx`).
#[derive(Args, Debug, Clone)]
pub struct ZcrxArgs {
    /// zcrx: memory the kernel places payload in.
    #[arg(long, value_enum, default_value_t = ZcrxArea::Anon, value_name = "KIND")]
    pub zcrx_area: ZcrxArea,
    /// zcrx: size of that area.
    #[arg(long, value_parser = parse_size, default_value = "64MiB", value_name = "SIZE")]
    pub area_size: u64,
    /// zcrx: rx buffer size to ask the kernel for (a power of two >= 4096; 7.0+);
    /// the granted size is read back and recorded [default: the page size].
    #[arg(long, value_parser = parse_size, value_name = "BYTES")]
    pub rx_buf_len: Option<u64>,
    /// zcrx: refill ring entries (a power of two, at most 32768).
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub rq_entries: u32,
    /// zcrx: buffers returned per refill-ring tail store.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub refill_batch: u32,
    /// zcrx: completion queue entries (32 bytes each; a power of two).
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub cq_entries: u32,
    /// zcrx: wait in io_uring_enter without being counted as iowait
    /// (IORING_ENTER_NO_IOWAIT; 6.15+).
    #[arg(long)]
    pub no_iowait: bool,
}

/// Where things run on the local host.
#[derive(Args, Debug, Clone)]
pub struct LayoutArgs {
    /// 1: app thread and its network processing share one core; 2: separate cores.
    #[arg(long, default_value_t = 1, value_parser = parse_cpus, allow_negative_numbers = true)]
    pub cpus: u8,
    /// Core of the receiving app thread.
    #[arg(long, value_parser = parse_count::<usize>, allow_negative_numbers = true)]
    pub app_cpu: Option<usize>,
    /// Core of the receive network processing (IRQ/NAPI/softirq, or RPS on veth/lo).
    #[arg(long, value_parser = parse_count::<usize>, allow_negative_numbers = true)]
    pub net_cpu: Option<usize>,
    /// --flows: each flow's app core (flow k takes entry k modulo the list: 2,3 or 4-7)
    /// [default: flow 1 as --app-cpu, each further flow on free cores while a whole set is free, then shared].
    #[arg(long, value_parser = parse_cpu_list, value_name = "LIST", conflicts_with = "app_cpu")]
    pub app_cpus: Option<CpuList>,
    /// --flows: each flow's net core (rx queue k's RPS, as --app-cpus).
    #[arg(long, value_parser = parse_cpu_list, value_name = "LIST", conflicts_with = "net_cpu")]
    pub net_cpus: Option<CpuList>,
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Directory for the JSON result (one file per run).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Print the JSON result on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors and warnings.
    #[arg(long, short)]
    pub quiet: bool,
    /// --flows: an interval line per flow before each total ([SUM], as iperf3 -P); the
    /// result table always has a row per flow, the JSON both.
    #[arg(long)]
    pub per_flow: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub flow: FlowArgs,
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// Core of the sending thread.
    #[arg(long, value_parser = parse_count::<usize>, allow_negative_numbers = true)]
    pub sender_cpu: Option<usize>,
    /// --flows: each flow's sending core (as --app-cpus).
    #[arg(long, value_parser = parse_cpu_list, value_name = "LIST", conflicts_with = "sender_cpu")]
    pub sender_cpus: Option<CpuList>,
    /// Local testbed: two namespaces joined by veth, loopback, or two NIC ports
    /// cabled to each other (--dev receives, --peer-dev sends).
    #[arg(long, value_enum, default_value_t = TestbedKind::Netns)]
    pub testbed: TestbedKind,
    /// --testbed ports: the receiving port (moved into a namespace for the run).
    #[arg(long, requires = "peer_dev")]
    pub dev: Option<String>,
    /// --testbed ports: the sending port, cabled to --dev.
    #[arg(long, requires = "dev")]
    pub peer_dev: Option<String>,
    /// MTU of the testbed link (both veth ends, lo, or both ports), restored afterwards
    /// with the path MTUs learned meanwhile forgotten (and IPv6 addresses dropped below 1280 put back).
    #[arg(long)]
    pub mtu: Option<u32>,
    /// Data port (0: any free port).
    #[arg(long, default_value_t = 0, value_parser = parse_count::<u16>, allow_negative_numbers = true)]
    pub port: u16,
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub power: PowerArgs,
    #[command(flatten)]
    pub series: SeriesArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub const DEFAULT_CONTROL_PORT: u16 = 5301;

#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Address to listen on for control connections.
    #[arg(long, default_value = "0.0.0.0")]
    pub listen: String,
    /// Control port.
    #[arg(long, default_value_t = DEFAULT_CONTROL_PORT, value_parser = parse_count::<u16>, allow_negative_numbers = true)]
    pub control_port: u16,
    /// Data port (0: any free port, told to the client).
    #[arg(long, default_value_t = 0, value_parser = parse_count::<u16>, allow_negative_numbers = true)]
    pub port: u16,
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// NIC that receives the flow: its IRQs are pinned to the net core and RPS turned off.
    /// Without it the server changes no network setting.
    #[arg(long)]
    pub dev: Option<String>,
    /// MTU of --dev while the server runs.
    #[arg(long, value_parser = parse_count::<u32>, allow_negative_numbers = true)]
    pub mtu: Option<u32>,
    /// Receiver settings, applied when the server starts and restored when it exits
    /// (a client cannot ask for any of them).
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Longest run (warm-up + duration) a client may ask for.
    #[arg(long, value_parser = parse_duration, default_value = "1h", allow_negative_numbers = true)]
    pub max_duration: Duration,
    /// Largest receive buffers this server allocates for a run: a client's --read-size times its --flows.
    #[arg(long, value_parser = parse_size, default_value = "128MiB", allow_negative_numbers = true)]
    pub max_buffer: u64,
    /// Serve one run, then exit with its status.
    #[arg(long)]
    pub once: bool,
    /// This host's power and counters, measured for every run it serves.
    #[command(flatten)]
    pub power: PowerArgs,
    /// Print nothing but errors and warnings.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// The server host (name or address).
    #[arg(long)]
    pub server: String,
    /// The server's control port.
    #[arg(long, default_value_t = DEFAULT_CONTROL_PORT, value_parser = parse_count::<u16>, allow_negative_numbers = true)]
    pub control_port: u16,
    #[command(flatten)]
    pub flow: FlowArgs,
    /// Core of the sending thread.
    #[arg(long, value_parser = parse_count::<usize>, allow_negative_numbers = true)]
    pub sender_cpu: Option<usize>,
    /// --flows: each flow's sending core (as --app-cpus).
    #[arg(long, value_parser = parse_cpu_list, value_name = "LIST", conflicts_with = "sender_cpu")]
    pub sender_cpus: Option<CpuList>,
    /// This host's NIC: for the host facts in the result, and where sender settings apply.
    #[arg(long)]
    pub dev: Option<String>,
    /// MTU of --dev for the run.
    #[arg(long, value_parser = parse_count::<u32>, allow_negative_numbers = true)]
    pub mtu: Option<u32>,
    /// Sender settings (--sysctl, --hugepages, --big-tcp/--big-tcp-tx, rings, channels) for --dev.
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub power: PowerArgs,
    #[command(flatten)]
    pub series: SeriesArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ProbeArgs {
    /// Only this network device (default: every device but lo).
    #[arg(long)]
    pub dev: Option<String>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// On an 80-column terminal no help line wraps mid-example: every example
    /// command is on one line of its own, and no line is wider than 80.
    #[test]
    fn help_examples_do_not_wrap_at_80_columns() {
        let help = Cli::command().term_width(80).render_long_help().to_string();
        for l in help.lines() {
            assert!(l.chars().count() <= 80, "wider than 80: '{l}'");
        }
        let examples: Vec<&str> = AFTER_HELP.lines().filter(|l| l.starts_with("  zcbench")).collect();
        assert!(examples.len() >= 8);
        for e in examples {
            assert!(help.lines().any(|l| l == e), "example broken across lines: '{e}'");
        }
        assert!(help.lines().any(|l| l.starts_with("Exit codes: 0 ok")));
    }

    #[test]
    fn a_negative_duration_is_explained_not_taken_for_an_option() {
        let e = Cli::try_parse_from(["zcbench", "--duration", "-1"]).unwrap_err().to_string();
        assert!(e.contains("negative") && !e.contains("unexpected argument"), "{e}");
    }
}

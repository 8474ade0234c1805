//! From what was parsed to `config`'s run description: field mapping only; the
//! checks and decisions are `config`'s.

use super::{
    ClientArgs, FlowArgs, LayoutArgs, PowerArgs, RunArgs, SeriesArgs, ServerArgs, SettingsArgs, StudyArgs, ZcrxArgs,
};
use crate::config::study::{StudyFile, StudySpec};
use crate::config::{
    self, ClientSpec, CoresWanted, FlowConfig, FlowRequest, MeasureSpec, PerFlowCores, RunSpec, ServerSpec, Settings,
};
use crate::domain::{DevmemOpts, OnOff, PowerSpec, TestbedKind, ZcrxOpts};
use crate::error::usage;
use anyhow::Result;

impl FlowArgs {
    pub fn to_config(&self) -> Result<FlowConfig> {
        FlowConfig::from_request(&FlowRequest {
            mode: self.mode,
            tx_mode: self.tx_mode,
            duration: self.duration,
            warmup: self.warmup,
            interval: self.interval,
            msg_size: self.msg_size,
            read_size: self.read_size,
            mss: self.mss,
            validate: self.validate,
            ipv6: self.ipv6,
            devmem: DevmemOpts {
                token_batch: self.token_batch,
                dmabuf_size: self.dmabuf_size,
                dmabuf_hugepages: self.dmabuf_hugepages,
            },
            syscall_times: self.syscall_times,
            zcrx: self.zcrx.to_config()?,
            flows: self.flows,
        })
    }
}

impl ZcrxArgs {
    fn to_config(&self) -> Result<ZcrxOpts> {
        let rx_buf_len = self
            .rx_buf_len
            .map(|b| u32::try_from(b).map_err(|_| usage(format!("--rx-buf-len {b} is more than 4GiB"))))
            .transpose()?;
        Ok(ZcrxOpts {
            area: self.zcrx_area,
            area_size: self.area_size,
            rx_buf_len,
            rq_entries: self.rq_entries,
            refill_batch: self.refill_batch,
            cq_entries: self.cq_entries,
            no_iowait: self.no_iowait,
        })
    }
}

impl PowerArgs {
    /// The measurement spec (series fields at their defaults), checked.
    pub fn to_config(&self, flow_interval: std::time::Duration) -> Result<MeasureSpec> {
        let mut power = self.power.iter().map(|s| PowerSpec::parse(s).map_err(usage)).collect::<Result<Vec<_>>>()?;
        if let Some(c) = &self.power_cmd {
            if c.trim().is_empty() {
                return Err(usage("--power-cmd is empty: give a command that prints watts"));
            }
            power.insert(0, PowerSpec::Cmd(c.clone()));
        }
        let m = MeasureSpec {
            power,
            power_kind: self.power_kind,
            power_log: self.power_log.clone(),
            power_timeout: self.power_timeout,
            power_insecure: self.power_insecure,
            idle_power: self.idle_power,
            measure_idle: self.measure_idle,
            perf: !self.no_perf,
            ..MeasureSpec::default()
        };
        m.check(flow_interval)?;
        Ok(m)
    }
}

fn measure(p: &PowerArgs, s: &SeriesArgs, flow: &FlowConfig) -> Result<MeasureSpec> {
    let m = MeasureSpec { roi_n: s.roi_n, roi_m: s.roi_m, repeat: s.repeat, ..p.to_config(flow.interval())? };
    m.check(flow.interval())?;
    Ok(m)
}

impl LayoutArgs {
    pub fn cores(&self) -> CoresWanted {
        CoresWanted { cpus: self.cpus, app_cpu: self.app_cpu, net_cpu: self.net_cpu }
    }

    /// The per-flow lists (`--app-cpus`, `--net-cpus`) and the senders'.
    fn flow_cores(&self, sender: &Option<super::parse::CpuList>) -> PerFlowCores {
        let list = |l: &Option<super::parse::CpuList>| l.as_ref().map(|l| l.0.clone()).unwrap_or_default();
        PerFlowCores { app: list(&self.app_cpus), net: list(&self.net_cpus), sender: list(sender) }
    }
}

impl SettingsArgs {
    pub fn to_config(&self) -> Settings {
        let hw_gro = match (self.hw_gro, self.no_hw_gro) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        Settings {
            sysctl: self.sysctl.clone(),
            hugepages: self.hugepages,
            hw_gro,
            sw_gro: self.sw_gro.map(|v| v == OnOff::On),
            big_tcp: self.big_tcp,
            big_tcp_rx: self.big_tcp_rx,
            big_tcp_tx: self.big_tcp_tx,
            header_split: self.header_split.map(|v| v == OnOff::On),
            hds_thresh: self.hds_thresh,
            rx_ring: self.rx_ring,
            tx_ring: self.tx_ring,
            channels: self.channels,
            steer_queue: self.steer_queue,
        }
    }
}

fn mtu(m: Option<u32>, ipv6: bool) -> Result<Option<u32>> {
    if let Some(m) = m {
        config::check_mtu(m, ipv6)?;
    }
    Ok(m)
}

impl RunArgs {
    pub fn to_config(&self) -> Result<RunSpec> {
        let ports = match (self.testbed, &self.dev, &self.peer_dev) {
            (TestbedKind::Ports, Some(a), Some(b)) => Some((a.clone(), b.clone())),
            (TestbedKind::Ports, ..) => {
                return Err(usage("--testbed ports needs --dev (receiving port) and --peer-dev (sending port)"));
            }
            (_, None, None) => None,
            (t, ..) => {
                return Err(usage(format!(
                    "--dev/--peer-dev name the ports of --testbed ports, not of --testbed {}",
                    crate::domain::name_of(&t)
                )));
            }
        };
        let flow = self.flow.to_config()?;
        let measure = measure(&self.power, &self.series, &flow)?;
        Ok(RunSpec {
            ports,
            mtu: mtu(self.mtu, flow.ipv6)?,
            flow,
            cores: self.layout.cores(),
            flow_cores: self.layout.flow_cores(&self.sender_cpus),
            sender_cpu: self.sender_cpu,
            testbed: self.testbed,
            port: self.port,
            settings: self.settings.to_config(),
            measure,
        })
    }
}

impl ServerArgs {
    pub fn to_config(&self) -> Result<ServerSpec> {
        let listen =
            self.listen.parse().map_err(|_| usage(format!("--listen '{}' is not an IP address", self.listen)))?;
        if self.max_duration.is_zero() {
            return Err(usage("--max-duration 0 would refuse every run: give the longest run to allow (e.g. 1h)"));
        }
        let longest = config::timing::MAX_DURATION_S + config::timing::MAX_WARMUP_S;
        if self.max_duration.as_secs_f64() > longest {
            return Err(usage(format!(
                "--max-duration {}: more than the longest run a client can ask for ({}: a day's --duration and an \
                 hour's --warmup)",
                config::timing::shown(self.max_duration),
                config::timing::shown(std::time::Duration::from_secs_f64(longest))
            )));
        }
        if self.max_buffer == 0 || self.max_buffer > config::MAX_BUF {
            return Err(usage(format!("--max-buffer {} must be 1 byte to 1GiB", self.max_buffer)));
        }
        Ok(ServerSpec {
            listen,
            control_port: self.control_port,
            port: self.port,
            cores: self.layout.cores(),
            flow_cores: self.layout.flow_cores(&None),
            dev: self.dev.clone(),
            mtu: self.mtu,
            settings: self.settings.to_config(),
            max_duration: self.max_duration,
            max_buffer: self.max_buffer,
            once: self.once,
            measure: self.power.to_config(std::time::Duration::from_secs(1))?,
        })
    }
}

impl ClientArgs {
    pub fn to_config(&self) -> Result<ClientSpec> {
        let flow = self.flow.to_config()?;
        let measure = measure(&self.power, &self.series, &flow)?;
        Ok(ClientSpec {
            server: self.server.clone(),
            control_port: self.control_port,
            mtu: mtu(self.mtu, flow.ipv6)?,
            flow,
            sender_cpu: self.sender_cpu,
            sender_cpus: self.sender_cpus.as_ref().map(|l| l.0.clone()).unwrap_or_default(),
            dev: self.dev.clone(),
            settings: self.settings.to_config(),
            measure,
        })
    }
}

impl StudyArgs {
    pub fn to_config(&self) -> Result<StudySpec> {
        let mut file = StudyFile::load(&self.profile)?;
        if let Some(host) = &self.server {
            file.against_server(host).map_err(|e| usage(format!("{}: {e}", self.profile.display())))?;
        }
        file.study.args.extend(self.run_args.iter().cloned());
        let h = &file.study;
        let dur = |name: &str, over: Option<std::time::Duration>, v: Option<&String>, default: &str| match over {
            Some(d) => Ok(d),
            None => super::parse::parse_duration(v.map_or(default, String::as_str))
                .map_err(|e| usage(format!("{}: {name}: {e}", self.profile.display()))),
        };
        let duration = dur("duration", self.duration, Some(&h.duration), "10s")?;
        let warmup = dur("warmup", self.warmup, h.warmup.as_ref(), "2s")?;
        let interval = dur("interval", self.interval, h.interval.as_ref(), "1s")?;
        config::timing::check_timing(duration.as_secs_f64(), warmup.as_secs_f64(), interval.as_secs_f64())
            .map_err(|e| usage(format!("{}: {e}", self.profile.display())))?;
        let repeat = self.repeat.unwrap_or(h.repeat);
        if repeat == 0 {
            return Err(usage("--repeat must be at least 1"));
        }
        let out =
            self.out.clone().unwrap_or_else(|| std::path::PathBuf::from("results").join(format!("study-{}", h.name)));
        Ok(StudySpec {
            profile: self.profile.clone(),
            file,
            out,
            duration,
            warmup,
            interval,
            repeat,
            retry_skipped: self.retry_skipped,
            dry_run: self.dry_run,
        })
    }
}

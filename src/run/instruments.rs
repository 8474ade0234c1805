//! The instruments of a run, what it measures besides the flow: the power
//! sources (and the idle figure), the window probes (perf on the measured
//! cores, netdev statistics of the device the flow uses), and after the run a
//! meter's log (also `zcbench attach-power`).

use crate::config::{Layout, MeasureSpec};
use crate::domain::PowerSpec;
use crate::error::usage;
use crate::messages::{note, warn};
use crate::results::schema::{SeriesTag, Side};
use crate::sample::Measure;
use crate::sample::power::{self, Meter, PowerSet};
use crate::sample::window::{NetdevTarget, WindowConfig};
use crate::sys::netlink::{NlSocket, link};
use crate::sys::netns;
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// Cores nobody measured runs on: where power commands go. Empty: any core.
pub fn spare_cores(layout: &Layout, online: &[usize]) -> Vec<usize> {
    let busy = measured_cores(layout);
    online.iter().copied().filter(|c| !busy.iter().any(|(b, _)| b == c)).collect()
}

fn meter(spec: &PowerSpec, m: &MeasureSpec, cpus: &[usize]) -> Result<Box<dyn Meter>> {
    Ok(match spec {
        PowerSpec::Cmd(c) => Box::new(power::cmd::Cmd::open(c, m.power_kind, cpus, m.power_timeout)?),
        PowerSpec::Redfish { base, path } => {
            Box::new(power::redfish::Redfish::open(base, path.as_deref(), m.power_insecure, m.power_timeout)?)
        }
        PowerSpec::Ipmi { host } => Box::new(power::ipmi::Ipmi::open(host.as_deref(), m.power_timeout)?),
        PowerSpec::Rapl { root } => Box::new(power::rapl::Rapl::open(Path::new(root))?),
    })
}

/// Open every power source (each must give a first reading, else the run is
/// refused before any host change) and set the idle figure of `--idle-power`.
pub fn power_set(m: &MeasureSpec, cpus: &[usize]) -> Result<PowerSet> {
    if let Some(p) = &m.power_log {
        power::log::check(p).map_err(|e| usage(format!("--power-log {e}")))?;
    }
    let meters = m.power.iter().map(|s| meter(s, m, cpus)).collect::<Result<Vec<_>>>();
    // A reading given up for Ctrl-C is no fault of the source.
    super::stop_if_interrupted()?;
    let mut set = PowerSet::new(meters?)?;
    if m.measure_idle.is_some() && set.is_empty() {
        return Err(usage("--measure-idle needs a power source (--power, --power-cmd)"));
    }
    if let Some(w) = m.idle_power {
        // The host's idle wall power: it belongs to its wall sources (or, with
        // none, to the first source, whatever its kind).
        let wall = set.sources_mut().iter().any(|s| s.kind == crate::domain::PowerKind::Wall);
        for (i, s) in set.sources_mut().iter_mut().enumerate() {
            if (wall && s.kind == crate::domain::PowerKind::Wall) || (!wall && i == 0) {
                s.idle_w = Some(w);
                s.idle_from = Some("--idle-power".into());
            }
        }
    }
    Ok(set)
}

/// `--measure-idle`: read the sources with the host set up but idle (no flow yet).
pub fn measure_idle(set: &mut PowerSet, m: &MeasureSpec, interval: Duration) -> Result<()> {
    if let Some(d) = m.measure_idle {
        note(&format!("measuring idle power for {:.0} s before the flow", d.as_secs_f64()));
        set.measure_idle(d, interval);
    }
    super::stop_if_interrupted()
}

/// The device's netdev statistics target: a socket in its namespace.
pub fn netdev_target(ns: Option<&str>, dev: &str) -> Option<NetdevTarget> {
    netns::with_netns(ns, || {
        let l = link::get_link(dev)?;
        Ok(NetdevTarget { sock: NlSocket::open(libc::NETLINK_GENERIC)?, name: dev.to_string(), ifindex: l.ifindex })
    })
    .ok()
}

/// The measured cores with their roles (of every flow, each role once), for perf.
pub fn measured_cores(layout: &Layout) -> Vec<(usize, Vec<String>)> {
    let mut out: Vec<(usize, Vec<String>)> = Vec::new();
    for k in 0..layout.flows.len().max(1) {
        let f = layout.flow(k);
        for (role, c) in [("app", Some(f.app_cpu)), ("net", Some(f.net_cpu)), ("sender", f.sender_cpu)] {
            let Some(c) = c else { continue };
            match out.iter_mut().find(|(x, _)| *x == c) {
                Some((_, r)) if r.iter().any(|x| x == role) => {}
                Some((_, r)) => r.push(role.into()),
                None => out.push((c, vec![role.into()])),
            }
        }
    }
    out
}

/// Everything the sampler measures for this run.
pub fn measure(m: &MeasureSpec, power: PowerSet, layout: &Layout, netdev: Option<NetdevTarget>) -> Measure {
    Measure { power, window: WindowConfig { cores: measured_cores(layout), perf: m.perf, netdev } }
}

/// After the run: the meter's log, aligned to the samples. A log that cannot
/// be read now costs the result nothing: the source is kept, marked failing.
pub fn attach_log(side: &mut Side, m: &MeasureSpec) {
    if let Some(p) = &m.power_log {
        let (with, without) = match power::log::attach(side, p, m.power_kind) {
            Ok(n) => n,
            Err(e) => {
                let why = format!("{e:#}");
                warn(&format!("--power-log: {why}; the result is kept with this power source marked failing"));
                power::log::mark_failed(side, p, m.power_kind, &why);
                return;
            }
        };
        if with == 0 {
            warn(&format!("--power-log {}: no reading falls inside the measured window", p.display()));
        } else if without > 0 {
            note(&format!("--power-log: {without} measured intervals have no reading (left empty, not 0 W)"));
        }
    }
}

/// `zcbench attach-power RESULT LOG`: the log becomes a power source of one
/// side, the summary (power, ROI) is derived again, the file rewritten.
pub fn attach_power(result: &Path, log: &Path, kind: crate::domain::PowerKind, side: &str) -> Result<()> {
    let mut r = crate::results::read(result)?;
    let s = match side {
        "sender" => r.sender.as_mut().ok_or_else(|| {
            usage(format!("{}: no sender side (a local run's one host is the receiver side)", result.display()))
        })?,
        _ => &mut r.receiver,
    };
    let (with, without) = power::log::attach(s, log, kind)?;
    if with == 0 {
        return Err(usage(format!(
            "{}: no reading of {} falls inside the run's measured window; nothing attached",
            result.display(),
            log.display()
        )));
    }
    r.resummarize();
    crate::results::write_file(&r, result)?;
    crate::messages::table(format!(
        "{}: {side} power from {} ({with} intervals read, {without} missing)\n",
        result.display(),
        log.display()
    ));
    Ok(())
}

/// `--series-tag ID:INDEX:COUNT` (set by the study runner).
pub fn series_tag(s: &str) -> Result<SeriesTag> {
    let mut it = s.rsplitn(3, ':');
    let (count, index, id) = (it.next(), it.next(), it.next());
    match (id, index.and_then(|i| i.parse().ok()), count.and_then(|c| c.parse().ok())) {
        (Some(id), Some(index), Some(count)) if index >= 1 && index <= count => {
            Ok(SeriesTag { id: id.to_string(), index, count })
        }
        _ => Err(usage(format!("--series-tag '{s}': expected ID:INDEX:COUNT"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(app: usize, net: usize, sender: Option<usize>) -> Layout {
        Layout {
            cpus: 1,
            app_cpu: app,
            net_cpu: net,
            sender_cpu: sender,
            sampler_cpu: None,
            oversubscribed: false,
            warnings: vec![],
            flows: vec![],
        }
    }

    #[test]
    fn roles_and_spare_cores() {
        let l = layout(1, 1, Some(0));
        assert_eq!(measured_cores(&l), vec![(1, vec!["app".into(), "net".into()]), (0, vec!["sender".into()])]);
        assert_eq!(spare_cores(&l, &[0, 1, 2, 3]), vec![2, 3]);
        assert!(spare_cores(&l, &[0, 1]).is_empty());
        let t = series_tag("mode=baseline,cpus=1:2:5").unwrap();
        assert_eq!((t.id.as_str(), t.index, t.count), ("mode=baseline,cpus=1", 2, 5));
        assert!(series_tag("x:6:5").is_err() && series_tag("x").is_err());
    }
}

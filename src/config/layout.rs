//! Which core does what on one host: the app thread, its network processing, the
//! sender (when it runs here) and the sampler.

use crate::error::usage;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// The cores asked for on the command line (`--cpus`, `--app-cpu`, `--net-cpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoresWanted {
    pub cpus: u8,
    pub app_cpu: Option<usize>,
    pub net_cpu: Option<usize>,
}

/// Which core does what, on one host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Layout {
    pub cpus: u8,
    pub app_cpu: usize,
    pub net_cpu: usize,
    /// The sending thread, when it runs on this host.
    pub sender_cpu: Option<usize>,
    /// The sampler thread (None: left to the scheduler, no core to spare).
    pub sampler_cpu: Option<usize>,
    /// The layout needs more cores than the host has, so measured threads share one.
    pub oversubscribed: bool,
    pub warnings: Vec<String>,
}

fn check_core(flag: &str, c: usize, online: &[usize]) -> Result<()> {
    if online.contains(&c) {
        return Ok(());
    }
    let list = online.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",");
    Err(usage(format!("{flag} {c}: this host has no core {c} (online cores: {list})")))
}

/// Place app, net, sender and sampler. `sender`: None when the sender is another
/// host, Some(choice) when it runs here.
pub fn resolve_layout(want: CoresWanted, sender: Option<Option<usize>>, online: &[usize]) -> Result<Layout> {
    let CoresWanted { cpus, app_cpu: app, net_cpu: net } = want;
    for (f, c) in [("--app-cpu", app), ("--net-cpu", net), ("--sender-cpu", sender.flatten())] {
        if let Some(c) = c {
            check_core(f, c, online)?;
        }
    }
    // Defaults take the highest-numbered cores first (core 0 usually carries housekeeping).
    let mut free: Vec<usize> = online.iter().rev().copied().collect();
    let take = |want: Option<usize>, free: &mut Vec<usize>| -> Option<usize> {
        match want {
            Some(c) => {
                free.retain(|&x| x != c);
                Some(c)
            }
            None if !free.is_empty() => Some(free.remove(0)),
            None => None,
        }
    };
    let (app_cpu, net_cpu) = match cpus {
        1 => {
            if let (Some(a), Some(n)) = (app, net)
                && a != n
            {
                return Err(usage(format!(
                    "--cpus 1 puts the app and its network processing on one core, but --app-cpu {a} and --net-cpu {n} differ (use --cpus 2)"
                )));
            }
            let c = take(app.or(net), &mut free).unwrap_or(online[0]);
            (c, c)
        }
        2 => {
            if app.is_some() && app == net {
                return Err(usage("--cpus 2 needs two different cores for --app-cpu and --net-cpu"));
            }
            let a = take(app, &mut free);
            let n = take(net, &mut free);
            match (a, n) {
                (Some(a), Some(n)) => (a, n),
                _ => return Err(usage("--cpus 2 needs two cores and this host has one")),
            }
        }
        other => return Err(usage(format!("--cpus {other}: only 1 or 2 are supported"))),
    };
    let mut warnings = Vec::new();
    let mut oversubscribed = false;
    let sender_cpu = match sender {
        None => None,
        Some(want) => {
            let s = take(want, &mut free).unwrap_or_else(|| {
                // No core left: share with the net core, which the sender disturbs least.
                oversubscribed = true;
                net_cpu
            });
            if s == app_cpu || s == net_cpu {
                oversubscribed = true;
            }
            Some(s)
        }
    };
    if oversubscribed {
        warnings.push(format!(
            "layout oversubscribes this {}-core host: sender on core {}, app on {}, net on {}; the sender's CPU competes with what is measured",
            online.len(),
            sender_cpu.unwrap_or(0),
            app_cpu,
            net_cpu
        ));
    }
    let sampler_cpu = free.first().copied();
    Ok(Layout { cpus, app_cpu, net_cpu, sender_cpu, sampler_cpu, oversubscribed, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ExitKind, exit_kind};

    fn w(cpus: u8, app_cpu: Option<usize>, net_cpu: Option<usize>) -> CoresWanted {
        CoresWanted { cpus, app_cpu, net_cpu }
    }

    #[test]
    fn one_cpu_on_two_cores_fits() {
        let l = resolve_layout(w(1, None, None), Some(None), &[0, 1]).unwrap();
        assert_eq!((l.app_cpu, l.net_cpu, l.sender_cpu), (1, 1, Some(0)));
        assert!(!l.oversubscribed);
        assert_eq!(l.sampler_cpu, None);
    }

    #[test]
    fn two_cpus_on_two_cores_oversubscribes_and_says_so() {
        let l = resolve_layout(w(2, None, None), Some(None), &[0, 1]).unwrap();
        assert_eq!((l.app_cpu, l.net_cpu), (1, 0));
        assert_eq!(l.sender_cpu, Some(0));
        assert!(l.oversubscribed);
        assert!(l.warnings[0].contains("oversubscribes"));
    }

    #[test]
    fn spare_core_goes_to_the_sampler() {
        let l = resolve_layout(w(2, None, None), Some(None), &[0, 1, 2, 3]).unwrap();
        assert_eq!((l.app_cpu, l.net_cpu, l.sender_cpu, l.sampler_cpu), (3, 2, Some(1), Some(0)));
    }

    #[test]
    fn bad_cores_are_usage_errors() {
        let e = resolve_layout(w(1, Some(7), None), None, &[0, 1]).unwrap_err();
        assert_eq!(exit_kind(&e), ExitKind::Usage);
        assert!(e.to_string().contains("no core 7"));
        assert!(resolve_layout(w(1, Some(0), Some(1)), None, &[0, 1]).is_err());
        assert!(resolve_layout(w(2, Some(1), Some(1)), None, &[0, 1]).is_err());
        assert!(resolve_layout(w(2, None, None), None, &[0]).is_err());
    }
}

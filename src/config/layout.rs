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
    /// Each flow's cores (`--flows`): flow 0 has the cores above; more flows
    /// follow `--app-cpus`/`--net-cpus`/`--sender-cpus` or the spreading rule.
    #[serde(default)]
    pub flows: Vec<FlowCores>,
}

/// The cores of one flow.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlowCores {
    pub app_cpu: usize,
    pub net_cpu: usize,
    pub sender_cpu: Option<usize>,
}

/// Per-flow core lists from the command line (`--app-cpus 2,3`): flow k takes
/// entry k modulo the list's length; an empty list leaves the role to the
/// spreading rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerFlowCores {
    pub app: Vec<usize>,
    pub net: Vec<usize>,
    pub sender: Vec<usize>,
}

impl Layout {
    /// Flow `k`'s cores (the layout's own for a single flow).
    pub fn flow(&self, k: usize) -> FlowCores {
        self.flows.get(k).copied().unwrap_or(FlowCores {
            app_cpu: self.app_cpu,
            net_cpu: self.net_cpu,
            sender_cpu: self.sender_cpu,
        })
    }
}

/// Give each of `n` flows its cores. Lists name them (`--app-cpus`, flow k
/// takes entry k mod length); otherwise the spreading rule: flow 0 keeps the
/// layout's cores, and each further flow takes cores nobody uses yet
/// (highest-numbered first, the sampler's core left alone) as long as a whole
/// set is free — an app core (and a net core with `--cpus 2`) and, when the
/// sender runs here, a sending core — and shares flow (k mod m)'s cores once
/// they run out (m: the flows that got their own). Cores shared between flows
/// are said in a note.
pub fn spread_flows(layout: &mut Layout, n: usize, want: &PerFlowCores, online: &[usize]) -> Result<Vec<String>> {
    for (flag, list) in [("--app-cpus", &want.app), ("--net-cpus", &want.net), ("--sender-cpus", &want.sender)] {
        for &c in list {
            check_core(flag, c, online)?;
        }
    }
    if layout.cpus == 1 && !want.net.is_empty() && want.net != want.app {
        return Err(usage(
            "--cpus 1 puts each flow's app and network processing on one core: --net-cpus must be left out or equal --app-cpus (use --cpus 2)",
        ));
    }
    let base = layout.flow(0);
    let local_sender = base.sender_cpu.is_some();
    let mut used: Vec<usize> = [base.app_cpu, base.net_cpu].into_iter().chain(base.sender_cpu).collect();
    used.extend(layout.sampler_cpu);
    let mut free: Vec<usize> = online.iter().rev().copied().filter(|c| !used.contains(c)).collect();
    let per_flow = layout.cpus as usize + usize::from(local_sender);
    let mut spread = vec![base];
    for _ in 1..n {
        if free.len() < per_flow {
            break;
        }
        let app = free.remove(0);
        let net = if layout.cpus == 1 { app } else { free.remove(0) };
        let sender = local_sender.then(|| free.remove(0));
        spread.push(FlowCores { app_cpu: app, net_cpu: net, sender_cpu: sender });
    }
    let m = spread.len();
    let pick = |list: &[usize], k: usize, default: usize| if list.is_empty() { default } else { list[k % list.len()] };
    let flows: Vec<FlowCores> = (0..n)
        .map(|k| {
            let d = spread[k % m];
            let app_cpu = pick(&want.app, k, d.app_cpu);
            let net_cpu = if layout.cpus == 1 { app_cpu } else { pick(&want.net, k, d.net_cpu) };
            let sender_cpu = d.sender_cpu.map(|s| pick(&want.sender, k, s));
            FlowCores { app_cpu, net_cpu, sender_cpu }
        })
        .collect();
    if layout.cpus == 2 && flows.iter().any(|f| f.app_cpu == f.net_cpu) {
        return Err(usage("--cpus 2 needs each flow's app and net cores to differ (check --app-cpus and --net-cpus)"));
    }
    // Flow 1's cores are the layout's own (what one flow would have used).
    let first = flows[0];
    (layout.app_cpu, layout.net_cpu) = (first.app_cpu, first.net_cpu);
    layout.sender_cpu = first.sender_cpu;
    layout.flows = flows;
    Ok(sharing(&layout.flows))
}

/// A role's name and the core a flow gives it (`usize::MAX`: none).
type Role = (&'static str, fn(&FlowCores) -> usize);

/// Notes naming every core that more than one flow uses, and for what.
fn sharing(flows: &[FlowCores]) -> Vec<String> {
    let cores: std::collections::BTreeSet<usize> =
        flows.iter().flat_map(|f| [f.app_cpu, f.net_cpu].into_iter().chain(f.sender_cpu)).collect();
    let mut out = Vec::new();
    for c in cores {
        let mut roles: Vec<String> = Vec::new();
        let roles_of: [Role; 3] =
            [("app", |f| f.app_cpu), ("net", |f| f.net_cpu), ("sender", |f| f.sender_cpu.unwrap_or(usize::MAX))];
        for (role, core_of) in roles_of {
            let ks: Vec<String> =
                flows.iter().enumerate().filter(|(_, f)| core_of(f) == c).map(|(k, _)| (k + 1).to_string()).collect();
            if !ks.is_empty() {
                roles.push(format!("{role} of flow{} {}", if ks.len() > 1 { "s" } else { "" }, ks.join(",")));
            }
        }
        let users = flows.iter().filter(|f| f.app_cpu == c || f.net_cpu == c || f.sender_cpu == Some(c)).count();
        if users > 1 {
            out.push(format!("core {c} is shared by {users} flows: {}", roles.join("; ")));
        }
    }
    out
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
    let flows = vec![FlowCores { app_cpu, net_cpu, sender_cpu }];
    Ok(Layout { cpus, app_cpu, net_cpu, sender_cpu, sampler_cpu, oversubscribed, warnings, flows })
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
    fn flows_spread_over_free_cores_then_share() {
        let mut l = resolve_layout(w(1, None, None), Some(None), &[0, 1, 2, 3, 4, 5]).unwrap();
        // Flow 0: app+net 5, sender 4, sampler 3; flow 1 gets 2 and 1; then none is left.
        let notes = spread_flows(&mut l, 3, &PerFlowCores::default(), &[0, 1, 2, 3, 4, 5]).unwrap();
        let got: Vec<(usize, usize, Option<usize>)> =
            l.flows.iter().map(|f| (f.app_cpu, f.net_cpu, f.sender_cpu)).collect();
        assert_eq!(got, vec![(5, 5, Some(4)), (2, 2, Some(1)), (5, 5, Some(4))]);
        assert!(
            notes.iter().any(|n| n.starts_with("core 5 is shared by 2 flows: app of flows 1,3; net of flows 1,3")),
            "{notes:?}"
        );
    }

    #[test]
    fn flow_lists_name_cores_round_robin() {
        let mut l = resolve_layout(w(2, None, None), Some(None), &[0, 1, 2, 3]).unwrap();
        let want = PerFlowCores { app: vec![3, 2], net: vec![1], sender: vec![0] };
        spread_flows(&mut l, 4, &want, &[0, 1, 2, 3]).unwrap();
        assert_eq!(l.flow(3), FlowCores { app_cpu: 2, net_cpu: 1, sender_cpu: Some(0) });
        let bad = PerFlowCores { app: vec![1], net: vec![1], sender: vec![] };
        assert!(spread_flows(&mut l, 2, &bad, &[0, 1, 2, 3]).is_err());
        let mut one = resolve_layout(w(1, None, None), Some(None), &[0, 1]).unwrap();
        let e = spread_flows(&mut one, 2, &PerFlowCores { app: vec![1], net: vec![0], sender: vec![] }, &[0, 1]);
        assert!(e.unwrap_err().to_string().contains("--cpus 1"));
        assert!(spread_flows(&mut one, 2, &PerFlowCores { app: vec![9], ..Default::default() }, &[0, 1]).is_err());
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

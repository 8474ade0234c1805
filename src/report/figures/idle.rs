//! Idle-state residency: for each series, the measured cores (app, net, the
//! sender's) and the share of the window each spent in each cpuidle state
//! (names as the host's sysfs gives them), with iowait beside them.

use super::{Ctx, cell, measured_cores as cores};
use crate::report::doc::{Item, Table};
use crate::report::series::Series;
use crate::results::schema::{CoreIdle, RunResult};

/// A role's idle record in one run, and the window it covers.
fn core_idle<'a>(r: &'a RunResult, role: &str) -> Option<(&'a CoreIdle, f64)> {
    let (_, side, cpu) = cores(r).into_iter().find(|(n, _, _)| *n == role)?;
    let c = side.idle_states.as_ref()?.cores.iter().find(|c| c.cpu == cpu)?;
    Some((c, side.window_s))
}

/// State names of a series' measured cores, in the order the host lists them.
fn state_names(s: &Series) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in &s.runs {
        for (role, _, _) in cores(&r.r) {
            for st in core_idle(&r.r, role).into_iter().flat_map(|(c, _)| c.states.iter()) {
                if !names.contains(&st.name) {
                    names.push(st.name.clone());
                }
            }
        }
    }
    names
}

fn table(ctx: &Ctx, i: usize) -> Option<Item> {
    let s = &ctx.series[i];
    let names = state_names(s);
    if names.is_empty() {
        return None;
    }
    let mut headers = vec!["role".to_string(), "core".to_string()];
    headers.extend(names.iter().map(|n| format!("{n} %")));
    headers.extend(["iowait %".to_string(), "idle entries / s".to_string()]);
    let mut t = Table { headers, rows: Vec::new() };
    let driver = s.first().receiver.idle_states.as_ref().and_then(|d| d.driver.clone()).unwrap_or_default();
    for (role, _, cpu) in cores(s.first()) {
        let mut row = vec![role.to_string(), cpu.to_string()];
        for n in &names {
            let m = s.metric(|r| core_idle(r, role)?.0.states.iter().find(|x| x.name == *n).map(|x| x.residency));
            row.push(cell(&m, 100.0, 1));
        }
        row.push(cell(&s.metric(|r| core_idle(r, role).map(|(c, _)| c.iowait)), 100.0, 1));
        let entries =
            |(c, w): (&CoreIdle, f64)| (w > 0.0).then(|| c.states.iter().map(|x| x.usage).sum::<u64>() as f64 / w);
        row.push(cell(&s.metric(|r| core_idle(r, role).and_then(entries)), 1.0, 0));
        t.rows.push(row);
    }
    Some(Item::Table {
        title: format!(
            "Idle-state residency, {} ({}; cpuidle driver {driver}): % of the measured window in each state",
            ctx.labels[i],
            super::runs(s.runs.len())
        ),
        table: t,
    })
}

pub fn residency(ctx: &Ctx) -> Vec<Item> {
    let (mut items, without) = super::per_series(ctx, table);
    if items.is_empty() {
        return vec![Item::Absent {
            id: "idle".into(),
            title: "Idle-state residency".into(),
            note: format!(
                "No per-core idle-state residency in these results ({}). iowait per core is in the CPU figure.",
                super::reasons(
                    ctx,
                    |s| s.idle_states.as_ref().map(|i| i.unavailable.clone()),
                    "no measured core listed"
                )
            ),
        }];
    }
    if !without.is_empty() {
        items.push(Item::Note(format!("No idle-state residency recorded for: {}.", without.join(", "))));
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::Run;
    use crate::report::series::group;
    use crate::report::test_data;
    use crate::results::schema::{IdleResidency, IdleStateUse};
    use std::path::PathBuf;

    /// The real v3 run's host has no cpuidle driver: the note carries its reason.
    #[test]
    fn no_driver_gives_the_hosts_reason() {
        let runs = vec![Run { path: PathBuf::from("a"), r: test_data("result-v3-netns-power.json") }];
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let series = group(runs, keys);
        let ctx = Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE);
        let items = residency(&ctx);
        let [Item::Absent { note, .. }] = &items[..] else { panic!("not one note") };
        assert!(note.contains("no cpuidle driver is active"), "{note}");
    }

    /// Residency per role and state, as the records say; iowait beside them.
    #[test]
    fn residency_per_role_and_state() {
        let mut r = test_data("result-v3-netns-power.json");
        let st = |name: &str, usage, residency| IdleStateUse { name: name.into(), usage, time_us: 0, residency };
        r.receiver.idle_states = Some(IdleResidency {
            driver: Some("haltpoll".into()),
            unavailable: None,
            cores: vec![
                CoreIdle { cpu: 0, iowait: 0.0, states: vec![st("POLL", 10, 0.01), st("haltpoll", 100, 0.5)] },
                CoreIdle { cpu: 1, iowait: 0.25, states: vec![st("POLL", 4, 0.02), st("haltpoll", 0, 0.0)] },
            ],
        });
        let w = r.receiver.window_s;
        let runs = vec![Run { path: PathBuf::from("a"), r }];
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let series = group(runs, keys);
        let ctx = Ctx::new(&series, keys, crate::domain::DEFAULT_BASELINE);
        let items = residency(&ctx);
        let [Item::Table { table: t, .. }] = &items[..] else { panic!("not one table") };
        assert_eq!(t.headers[2..], ["POLL %", "haltpoll %", "iowait %", "idle entries / s"]);
        // The run's layout: app and net on core 1, the sender on core 0.
        assert_eq!(t.rows[0][..5], ["app+net", "1", "2.0", "0.0", "25.0"]);
        assert_eq!(t.rows[1][..4], ["sender", "0", "1.0", "50.0"]);
        assert_eq!(t.rows[1][5], format!("{:.0}", 110.0 / w));
    }
}

//! cpuidle residency per core: each state's `usage` and `time` from sysfs at
//! the window's edges; the deltas over the window (names as sysfs has them:
//! POLL, C1, C1E, C6, haltpoll…).

use crate::results::schema::{CoreIdle, CoreUtil, IdleResidency, IdleStateUse};
use std::path::Path;

/// (name, usage, time in µs) of one state.
pub type State = (String, u64, u64);

/// The states of each core: (cpu, states in sysfs order).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot(pub Vec<(usize, Vec<State>)>);

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

/// Why `root` (normally /sys/devices/system/cpu) has no idle states to read.
pub fn unavailable(root: &Path) -> Option<String> {
    match read(&root.join("cpuidle/current_driver")) {
        None => Some(format!("{} has no cpuidle (CONFIG_CPU_IDLE off?)", root.display())),
        Some(d) if d == "none" => Some(
            "no cpuidle driver is active (current_driver is 'none'): idle cores halt without per-state accounting"
                .into(),
        ),
        Some(_) => None,
    }
}

/// The states of `cores` under `root`; None when there is nothing to read.
pub fn snapshot(root: &Path, cores: &[usize]) -> Option<Snapshot> {
    let mut out: Vec<(usize, Vec<State>)> = Vec::new();
    for &c in cores {
        let dir = root.join(format!("cpu{c}/cpuidle"));
        let mut states: Vec<(usize, String, u64, u64)> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n: usize = e.file_name().to_string_lossy().strip_prefix("state")?.parse().ok()?;
                let p = e.path();
                Some((
                    n,
                    read(&p.join("name"))?,
                    read(&p.join("usage"))?.parse().ok()?,
                    read(&p.join("time"))?.parse().ok()?,
                ))
            })
            .collect();
        states.sort();
        out.push((c, states.into_iter().map(|(_, n, u, t)| (n, u, t)).collect()));
    }
    (!out.iter().all(|(_, s)| s.is_empty())).then_some(Snapshot(out))
}

/// Residency over the window from two snapshots; iowait from the window's /proc/stat.
pub fn residency(driver: Option<String>, a: &Snapshot, b: &Snapshot, window_s: f64, cpu: &[CoreUtil]) -> IdleResidency {
    let cores =
        a.0.iter()
            .zip(&b.0)
            .map(|((c, s0), (_, s1))| CoreIdle {
                cpu: *c,
                iowait: cpu.iter().find(|u| u.cpu == *c).map_or(0.0, |u| u.iowait),
                states: s0
                    .iter()
                    .zip(s1)
                    .map(|((name, u0, t0), (_, u1, t1))| {
                        let time_us = t1.saturating_sub(*t0);
                        IdleStateUse {
                            name: name.clone(),
                            usage: u1.saturating_sub(*u0),
                            time_us,
                            residency: if window_s > 0.0 { time_us as f64 / 1e6 / window_s } else { 0.0 },
                        }
                    })
                    .collect(),
            })
            .collect();
    IdleResidency { driver, unavailable: None, cores }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residency_from_a_sysfs_shaped_directory() {
        let root = std::env::temp_dir().join(format!("zcbench-cpuidle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let state = |cpu: usize, i: usize, name: &str, usage: u64, time: u64| {
            let d = root.join(format!("cpu{cpu}/cpuidle/state{i}"));
            std::fs::create_dir_all(&d).unwrap();
            for (f, v) in [("name", name.to_string()), ("usage", usage.to_string()), ("time", time.to_string())] {
                std::fs::write(d.join(f), format!("{v}\n")).unwrap();
            }
        };
        std::fs::create_dir_all(root.join("cpuidle")).unwrap();
        std::fs::write(root.join("cpuidle/current_driver"), "intel_idle\n").unwrap();
        state(1, 0, "POLL", 10, 100);
        state(1, 1, "C1", 5, 1_000);
        let a = snapshot(&root, &[1]).unwrap();
        state(1, 0, "POLL", 30, 200_100);
        state(1, 1, "C1", 9, 501_000);
        let b = snapshot(&root, &[1]).unwrap();
        let util = [CoreUtil { cpu: 1, iowait: 0.25, ..Default::default() }];
        let r = residency(Some("intel_idle".into()), &a, &b, 2.0, &util);
        let c = &r.cores[0];
        assert_eq!((c.cpu, c.iowait), (1, 0.25));
        assert_eq!((c.states[0].name.as_str(), c.states[0].usage, c.states[0].time_us), ("POLL", 20, 200_000));
        assert!((c.states[0].residency - 0.1).abs() < 1e-12 && (c.states[1].residency - 0.25).abs() < 1e-12);
        assert_eq!(unavailable(&root), None);
        std::fs::write(root.join("cpuidle/current_driver"), "none\n").unwrap();
        assert!(unavailable(&root).unwrap().contains("'none'"));
        let _ = std::fs::remove_dir_all(&root);
    }
}

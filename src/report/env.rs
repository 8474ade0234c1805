//! The environment a run measured in (hosts, build, settings, flow parameters
//! that are not group keys), and where compared series or the runs of one
//! series differ in it: those differences are printed as warnings, because a
//! ratio between runs on different kernels or MTUs is not a ratio between
//! data paths.

use super::series::{Series, mtu, size, token_batch};
use crate::domain::GroupKey;
use crate::results::schema::{Host, RunResult, Side};

/// Named facts, in display order. Names are stable; values are as shown.
#[derive(Clone, PartialEq)]
pub struct Env(pub Vec<(String, String)>);

impl Env {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

fn host_facts(out: &mut Vec<(String, String)>, who: &str, h: &Host) {
    out.push((format!("{who} kernel"), format!("{} {}", h.kernel, h.kernel_version)));
    out.push((format!("{who} CPU"), format!("{} ({} cores online)", h.cpu_model, h.cores_online.len())));
    let nics: Vec<String> = h
        .devices
        .iter()
        .map(|d| match &d.driver {
            Some(dr) if !dr.firmware.is_empty() => format!("{} {} (firmware {})", dr.driver, dr.version, dr.firmware),
            Some(dr) => format!("{} {}", dr.driver, dr.version),
            None => format!("{} (no driver info)", if d.netns.is_some() { "device" } else { d.name.as_str() }),
        })
        .collect();
    out.push((format!("{who} NIC driver"), if nics.is_empty() { "none recorded".into() } else { nics.join(", ") }));
    let idle = &h.idle;
    let poll = idle.guest_halt_poll_ns.map(|n| format!(", guest halt poll {n} ns")).unwrap_or_default();
    out.push((
        format!("{who} idle"),
        format!(
            "{} / {}{poll}",
            idle.driver.as_deref().unwrap_or("no cpuidle driver"),
            idle.governor.as_deref().unwrap_or("no governor")
        ),
    ));
}

/// The sysctls zcbench set for the run (a profile, `--sysctl`), as read back:
/// known for every run, even for keys the host facts do not record.
fn sysctls_set(side: &Side) -> String {
    let mut v: Vec<String> = side
        .changes
        .iter()
        .filter_map(|c| {
            let key = c.setting.strip_prefix("sysctl ").map(str::to_string);
            let key = key.or_else(|| c.setting.strip_prefix("/proc/sys/").map(|p| p.replace('/', ".")))?;
            Some(format!("{key}={}", c.read_back))
        })
        .collect();
    v.sort();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// Settings zcbench applied that no group key or sysctl covers (rings,
/// channels, header split, huge pages, steering), without device names, which
/// change from run to run on a testbed.
fn other_settings(side: &Side) -> String {
    let devs: Vec<&str> = side.host.devices.iter().map(|d| d.name.as_str()).collect();
    let mut v: Vec<String> = side
        .changes
        .iter()
        .filter(|c| c.changed)
        .map(|c| {
            let s = match c.setting.split_once(' ') {
                Some((dev, rest)) if devs.contains(&dev) => rest.to_string(),
                _ => c.setting.clone(),
            };
            (s, c)
        })
        .filter(|(s, _)| {
            !(s.starts_with("sysctl ")
                || s.starts_with("/proc/sys/")
                || s.starts_with("network namespace")
                || s.ends_with("rps_cpus")
                || s.ends_with("xps_cpus")
                || s.ends_with("xps_rxqs")
                || s.contains("smp_affinity")
                || s.contains("rx-gro")
                || s.contains("_max_size")
                || s == "mtu")
        })
        .map(|(s, c)| format!("{s}={}", c.read_back))
        .collect();
    v.sort();
    v.dedup();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// What the run's power figures measure and where they come from, and the ROI
/// exponents: a wall figure beside a package one, or T² beside T³, is no
/// comparison. Not recorded (no fact) when the run has none.
fn power_facts(e: &mut Vec<(String, String)>, r: &RunResult) {
    let sides = std::iter::once(&r.receiver).chain(r.sender.iter());
    let (mut kinds, mut sources) = (Vec::new(), Vec::new());
    for side in sides {
        for p in &side.power_sources {
            kinds.push(format!("{} {}", side.role, crate::domain::name_of(&p.kind)));
            sources.push(format!("{} {}", side.role, p.name));
        }
    }
    if !kinds.is_empty() {
        e.push(("power kind".into(), kinds.join(", ")));
        e.push(("power source".into(), sources.join(", ")));
    }
    if let Some(roi) = &r.summary.roi {
        e.push(("ROI exponents".into(), format!("n = {}, m = {}", roi.n, roi.m)));
    }
}

/// The environment of one run. Facts that are group keys are left out (they
/// differ between series on purpose).
pub fn env_of(r: &RunResult, keys: &[GroupKey]) -> Env {
    let mut e = Vec::new();
    let sender_host = r.sender.as_ref().map(|s| &s.host);
    host_facts(&mut e, "receiver", &r.receiver.host);
    if let Some(h) = sender_host {
        host_facts(&mut e, "sender", h);
    }
    e.push(("zcbench".into(), format!("{} ({})", r.zcbench.version, r.zcbench.git)));
    let flow = &r.flow;
    let keyed: [(GroupKey, &str, String); 6] = [
        (GroupKey::Topology, "topology", r.topology.clone()),
        (GroupKey::Mtu, "MTU", mtu(r).map_or("unknown".into(), |m| m.to_string())),
        (GroupKey::Mss, "MSS asked for", flow.mss.map_or("default".into(), |m| m.to_string())),
        (GroupKey::MsgSize, "message size", size(flow.msg_size)),
        (GroupKey::ReadSize, "read size", size(flow.read_size)),
        (GroupKey::Cpus, "CPU layout", format!("{} CPU(s)", r.receiver.layout.cpus)),
    ];
    for (k, name, v) in keyed {
        if !keys.contains(&k) {
            e.push((name.into(), v));
        }
    }
    if let Some(b) = token_batch(r).filter(|_| !keys.contains(&GroupKey::TokenBatch)) {
        e.push(("devmem token batch".into(), b.to_string()));
    }
    e.push((
        "measured / warm-up / interval".into(),
        format!("{} s / {} s / {} s", flow.duration_s, flow.warmup_s, flow.interval_s),
    ));
    e.push(("validate, IPv6".into(), format!("{}, {}", flow.validate, flow.ipv6)));
    power_facts(&mut e, r);
    e.push(("other settings applied".into(), other_settings(&r.receiver)));
    e.push(("sysctls set for the run".into(), sysctls_set(&r.receiver)));
    // As the host facts recorded them, after zcbench's own settings were applied.
    e.extend(r.receiver.host.sysctls.iter().map(|(k, v)| (format!("sysctl {k}"), v.clone())));
    Env(e)
}

/// One fact that differs, with each value and the series that have it.
pub struct Difference {
    pub fact: String,
    pub values: Vec<(String, Vec<String>)>,
}

/// Facts that differ among `envs` (each tagged with who has it, e.g. a series
/// label or a file name). A fact some did not record (older zcbench builds
/// recorded fewer sysctls) is no difference: nothing is known to differ.
pub fn differences(envs: &[(String, Env)]) -> Vec<Difference> {
    let mut facts: Vec<&str> = Vec::new();
    for (_, e) in envs {
        for (n, _) in &e.0 {
            if !facts.contains(&n.as_str()) {
                facts.push(n);
            }
        }
    }
    let mut out = Vec::new();
    for f in facts {
        let mut values: Vec<(String, Vec<String>)> = Vec::new();
        for (who, e) in envs {
            let Some(v) = e.get(f).map(str::to_string) else { continue };
            match values.iter_mut().find(|(x, _)| *x == v) {
                Some((_, whos)) => whos.push(who.clone()),
                None => values.push((v, vec![who.clone()])),
            }
        }
        if values.len() > 1 {
            out.push(Difference { fact: f.to_string(), values });
        }
    }
    out
}

/// Differences between the runs of one series (its repeats should be alike).
pub fn within(s: &Series, keys: &[GroupKey]) -> Vec<Difference> {
    let envs: Vec<(String, Env)> = s
        .runs
        .iter()
        .map(|r| (r.path.file_name().map_or(String::new(), |f| f.to_string_lossy().into_owned()), env_of(&r.r, keys)))
        .collect();
    differences(&envs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn real(name: &str) -> RunResult {
        crate::results::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
    }

    #[test]
    fn differences_name_the_fact_and_who_has_which_value() {
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let a = real("result-v2-netns.json");
        let mut b = a.clone();
        assert!(differences(&[("a".into(), env_of(&a, keys)), ("b".into(), env_of(&b, keys))]).is_empty());
        b.receiver.host.kernel = "7.0.0".into();
        b.receiver.host.sysctls.insert("net.core.rmem_max".into(), "1".into());
        let d = differences(&[("a".into(), env_of(&a, keys)), ("b".into(), env_of(&b, keys))]);
        let facts: Vec<&str> = d.iter().map(|d| d.fact.as_str()).collect();
        assert_eq!(facts, ["receiver kernel", "sysctl net.core.rmem_max"]);
        assert_eq!(d[1].values[0], ("4194304".to_string(), vec!["a".to_string()]));
        assert_eq!(d[1].values[1], ("1".to_string(), vec!["b".to_string()]));
        // A sysctl the run set is a fact even when the host facts do not record it.
        let mut c = a.clone();
        c.receiver.changes.push(crate::results::schema::Change {
            netns: None,
            setting: "sysctl net.core.high_order_alloc_disable".into(),
            old: "0".into(),
            new: "1".into(),
            read_back: "1".into(),
            changed: true,
        });
        assert_eq!(env_of(&c, keys).get("sysctls set for the run"), Some("net.core.high_order_alloc_disable=1"));
        assert_eq!(env_of(&a, keys).get("sysctls set for the run"), Some("none"));
        let d = differences(&[("a".into(), env_of(&a, keys)), ("c".into(), env_of(&c, keys))]);
        assert_eq!(d.len(), 1, "{:?}", d.iter().map(|d| &d.fact).collect::<Vec<_>>());
        assert_eq!(env_of(&a, keys).get("other settings applied"), Some("none"));
        // A fact one run did not record is not a difference.
        let mut d = a.clone();
        d.receiver.host.sysctls.remove("net.core.rmem_max");
        assert!(differences(&[("a".into(), env_of(&a, keys)), ("d".into(), env_of(&d, keys))]).is_empty());
        // A group key is no environment difference.
        assert!(env_of(&a, keys).get("CPU layout").is_none());
        assert!(env_of(&a, &[GroupKey::Mode]).get("CPU layout").is_some());
    }

    /// A package figure beside a wall one, or other ROI exponents, is a
    /// difference; a run without power is none.
    #[test]
    fn power_kind_and_roi_exponents_are_facts() {
        let keys = crate::domain::DEFAULT_GROUP_BY;
        let a = real("result-v3-netns-power.json");
        assert_eq!(env_of(&a, keys).get("power kind"), Some("receiver+sender wall"));
        assert_eq!(env_of(&a, keys).get("ROI exponents"), Some("n = 2, m = 1"));
        let mut b = a.clone();
        b.receiver.power_sources[0].kind = crate::domain::PowerKind::Package;
        b.summary.roi.as_mut().unwrap().n = 3.0;
        let d = differences(&[("a".into(), env_of(&a, keys)), ("b".into(), env_of(&b, keys))]);
        let facts: Vec<&str> = d.iter().map(|d| d.fact.as_str()).collect();
        assert_eq!(facts, ["power kind", "ROI exponents"]);
        let none = real("result-v2-netns.json");
        assert!(env_of(&none, keys).get("power kind").is_none());
    }
}

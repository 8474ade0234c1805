//! `zcbench probe`: every mode of the registries (`rx::describe`,
//! `tx::describe`), what it needs of the kernel (with the first release that
//! has it) and whether this kernel has it. A mode that binds a NIC queue also
//! needs a capable device: `probe --dev IFACE` checks that.

use crate::domain::name_of;
use crate::rx::{self, Kind, Queue};
use crate::sys::features::Feature;
use crate::tx;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Need {
    pub what: &'static str,
    /// The first Linux release that has it.
    pub since: &'static str,
    pub ok: bool,
    /// What this kernel answered when it lacks it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ModeProbe {
    /// "rx" (`--mode`) or "tx" (`--tx-mode`).
    pub kind: &'static str,
    pub name: &'static str,
    pub help: &'static str,
    pub needs: Vec<Need>,
    /// What it needs of the receiving device besides the kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<&'static str>,
    /// A pair of other modes: what it picks here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picks: Option<String>,
    /// This kernel has everything it needs.
    pub ok: bool,
}

fn needs(features: &[Feature], answers: &[(Feature, Result<(), String>)]) -> Vec<Need> {
    features
        .iter()
        .map(|f| {
            let answer = answers.iter().find(|(g, _)| g == f).map(|(_, a)| a.clone()).unwrap_or(Ok(()));
            Need { what: f.what(), since: f.since(), ok: answer.is_ok(), missing: answer.err() }
        })
        .collect()
}

fn device(q: Queue) -> Option<&'static str> {
    match q {
        Queue::None => None,
        Queue::Bound => Some("a NIC rx queue with header split (--testbed ports, server --dev)"),
        Queue::BoundOnNic => Some("a NIC rx queue with header split; without one a copy path where the kernel has it"),
    }
}

/// Every mode, each feature asked of the kernel once.
pub fn modes() -> Vec<ModeProbe> {
    let answers: Vec<(Feature, Result<(), String>)> = Feature::ALL.iter().map(|f| (*f, f.check())).collect();
    let mut out = Vec::new();
    for d in rx::all() {
        let m = match &d.kind {
            Kind::Path(p) => {
                let needs = needs(p.needs, &answers);
                let ok = needs.iter().all(|n| n.ok);
                ModeProbe { kind: "rx", name: d.name, help: d.help, needs, device: device(p.queue), picks: None, ok }
            }
            Kind::Pair(pick) => {
                let (r, t) = pick();
                let picks = Some(format!("rx {} + tx {}", name_of(&r), name_of(&t)));
                ModeProbe { kind: "rx", name: d.name, help: d.help, needs: Vec::new(), device: None, picks, ok: true }
            }
        };
        out.push(m);
    }
    for d in tx::all() {
        let needs = needs(d.needs, &answers);
        let ok = needs.iter().all(|n| n.ok);
        out.push(ModeProbe { kind: "tx", name: d.name, help: d.help, needs, device: None, picks: None, ok });
    }
    out
}

/// The terminal lines of `modes`.
pub fn table(modes: &[ModeProbe]) -> String {
    let mut o = String::new();
    for m in modes {
        let flag = if m.kind == "rx" { "--mode" } else { "--tx-mode" };
        let mut what: Vec<String> = m
            .needs
            .iter()
            .map(|n| match &n.missing {
                None => format!("{} {}+", n.what, n.since),
                Some(why) => format!("{} {}+: {why}", n.what, n.since),
            })
            .collect();
        what.extend(m.picks.iter().map(|p| format!("picks {p}")));
        what.extend(m.device.map(|d| format!("needs {d}")));
        let what = if what.is_empty() { "nothing special".to_string() } else { what.join("; ") };
        o += &format!("{:<4} {:<10} {:<9} {}\n", if m.ok { "yes" } else { "no" }, flag, m.name, what);
    }
    o
}

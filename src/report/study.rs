//! A study's own account, which a report over its directory leads with: the
//! matrix (cases × repeats), how far it got, the cases the host could not run
//! with zcbench's reasons, and the dead time — all from the study's
//! `summary.json`, before the comparison of its runs.

use super::doc::{Item, Section, Table};
use crate::results::schema::series::StudySummary;
use crate::results::stats;
use std::path::{Path, PathBuf};

/// How many cases have each status, in a fixed order: "8 done, 4 skipped".
fn statuses(s: &StudySummary) -> String {
    let mut names: Vec<&str> = vec!["done", "skipped", "failed", "pending"];
    for c in &s.cases {
        if !names.contains(&c.status.as_str()) {
            names.push(&c.status);
        }
    }
    let count = |st: &str| s.cases.iter().filter(|c| c.status == st).count();
    let parts: Vec<String> = names.iter().filter(|st| count(st) > 0).map(|st| format!("{} {st}", count(st))).collect();
    parts.join(", ")
}

/// "12 cases × 3 repeats"; a summary of an older build does not say how many
/// repeats were asked for: the most runs any case has.
fn matrix(s: &StudySummary) -> String {
    let cases = if s.cases.len() == 1 { "1 case".to_string() } else { format!("{} cases", s.cases.len()) };
    match s.repeat {
        Some(r) => format!("{cases} × {r} {}", if r == 1 { "repeat" } else { "repeats" }),
        None => {
            let most = s.cases.iter().map(|c| c.runs.len()).max().unwrap_or(0);
            format!("{cases}, up to {most} runs each (this summary does not say how many were asked for)")
        }
    }
}

fn one(path: &Path, s: &StudySummary) -> Vec<Item> {
    let runs: usize = s.cases.iter().map(|c| c.runs.len()).sum();
    let mut items = vec![Item::Note(format!(
        "Study {} ({}; profile {}): {}; {}; {runs} runs measured. Dead time: {}. Summary updated {}.",
        s.name,
        path.display(),
        s.profile,
        matrix(s),
        statuses(s),
        stats::dead_time(&s.dead_time),
        s.updated
    ))];
    let not_run: Vec<_> = s.cases.iter().filter(|c| c.status != "done").collect();
    if !not_run.is_empty() {
        let mut t = Table::new(&["case", "status", "exit code", "reason"]);
        t.rows = not_run
            .iter()
            .map(|c| {
                vec![
                    c.id.clone(),
                    c.status.clone(),
                    c.exit_code.map_or("—".into(), |e| e.to_string()),
                    c.reason.clone().unwrap_or_else(|| "—".into()),
                ]
            })
            .collect();
        items
            .push(Item::Table { title: format!("Cases of {} not measured, with zcbench's reasons", s.name), table: t });
    }
    let mut t = Table::new(&["case", "status", "runs", "Gbit/s", "receiver cores", "dead time per run, s"]);
    for c in &s.cases {
        let fig = |n: &str| c.figures.get(n).map_or("—".into(), |f| format!("{:.2}", f.trimmed_mean));
        let dead = if c.runs.is_empty() {
            "—".into()
        } else {
            format!("{:.2}", c.runs.iter().map(|r| r.dead_s).sum::<f64>() / c.runs.len() as f64)
        };
        t.rows.push(vec![
            c.id.clone(),
            c.status.clone(),
            c.runs.len().to_string(),
            fig("gbps"),
            fig("receiver_cores"),
            dead,
        ]);
    }
    items.push(Item::Table {
        title: format!("Cases of {} (trimmed means, as the study computed them)", s.name),
        table: t,
    });
    items
}

/// The lead section: one account per study among the inputs; None without one.
pub fn section(studies: &[(PathBuf, StudySummary)]) -> Option<Section> {
    if studies.is_empty() {
        return None;
    }
    let title = if studies.len() == 1 { format!("Study {}", studies[0].1.name) } else { "Studies".into() };
    Some(Section { id: "study".into(), title, items: studies.iter().flat_map(|(p, s)| one(p, s)).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A summary as `zcbench study` writes it (the integration test checks a
    /// real one): matrix, statuses, reasons and dead time in the lead.
    #[test]
    fn the_lead_says_matrix_skips_and_dead_time() {
        let s: StudySummary = serde_json::from_value(serde_json::json!({
            "schema_version": 4, "kind": "study", "zcbench": {"version": "0.1.0", "git": "x"},
            "name": "short", "profile": "p.toml", "fingerprint": "f", "updated": "2026-01-01T00:00:00Z",
            "repeat": 2,
            "cases": [
                {"id": "mode=baseline", "axes": {}, "args": [], "server_args": [], "status": "done",
                 "reason": null, "exit_code": 0, "figures": {},
                 "runs": [{"index": 1, "file": "a", "wall_s": 2.5, "planned_s": 2.0, "dead_s": 0.5},
                          {"index": 2, "file": "b", "wall_s": 2.7, "planned_s": 2.0, "dead_s": 0.7}]},
                {"id": "mode=devmem", "axes": {}, "args": [], "server_args": [], "status": "skipped",
                 "reason": "not supported on this host: no udmabuf", "exit_code": 3, "figures": {}, "runs": []}
            ],
            "dead_time": {"runs": 2, "mean_s": 0.6, "max_s": 0.7, "total_s": 1.2, "between_runs_mean_s": 0.05}
        }))
        .unwrap();
        let sec = section(&[(PathBuf::from("st/summary.json"), s.clone())]).unwrap();
        let Item::Note(lead) = &sec.items[0] else { panic!("no lead") };
        assert!(lead.contains("2 cases × 2 repeats; 1 done, 1 skipped; 2 runs measured"), "{lead}");
        assert!(lead.contains("0.60 s per run on average (max 0.70 s"), "{lead}");
        let Item::Table { table: t, .. } = &sec.items[1] else { panic!("no skipped table") };
        assert_eq!(t.rows, [["mode=devmem", "skipped", "3", "not supported on this host: no udmabuf"]]);
        let Item::Table { table: t, .. } = &sec.items[2] else { panic!("no case table") };
        assert_eq!(t.rows[0][5], "0.60");
        let old = StudySummary { repeat: None, ..s };
        assert!(matrix(&old).starts_with("2 cases, up to 2 runs each"), "{}", matrix(&old));
        assert!(section(&[]).is_none());
    }
}

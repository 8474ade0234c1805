//! Docs that cannot go stale silently: every mode of the registries (as
//! `zcbench probe --json` lists them) is in `--help` with its descriptor's
//! help, in the README's mode tables with the kernel needs the descriptor
//! names, and in docs/design.md's table with the file that describes it; and
//! no help text says a mode that runs is "not available".

mod common;
use common::*;
use std::path::Path;

struct Mode {
    kind: String,
    name: String,
    help: String,
    /// The README's "kernel needs" cell as the registry has it.
    needs: String,
}

fn registry() -> Vec<Mode> {
    let o = zcbench(&["probe", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    p["modes"]
        .as_array()
        .expect("probe lists the modes")
        .iter()
        .map(|m| {
            let needs: Vec<String> = m["needs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| format!("{} {}+", s(&n["what"]), s(&n["since"])))
                .collect();
            let needs = match (m["picks"].is_string(), needs.is_empty()) {
                (true, _) => "its pair's".to_string(),
                (false, true) => "—".to_string(),
                (false, false) => needs.join(", "),
            };
            Mode { kind: s(&m["kind"]), name: s(&m["name"]), help: s(&m["help"]), needs }
        })
        .collect()
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `--help`'s possible values of `option`: (name, help), in order.
fn help_values(help: &str, option: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = help.lines().collect();
    let start = lines.iter().position(|l| l.trim_start().starts_with(option)).expect(option);
    let mut out: Vec<(String, String)> = Vec::new();
    for l in lines[start + 1..].iter().map(|l| l.trim()) {
        if l.starts_with("--") || l.starts_with("[default") {
            break;
        }
        if let Some(v) = l.strip_prefix("- ").and_then(|v| v.split_once(':')) {
            out.push((v.0.trim().to_string(), v.1.to_string()));
        } else if let (Some(last), false) = (out.last_mut(), l.is_empty()) {
            last.1 += &format!(" {l}");
        }
    }
    out.into_iter().map(|(n, h)| (n, squash(&h))).collect()
}

/// The rows of the README table whose header starts with `head`: (name, needs cell).
fn readme_rows(readme: &str, head: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut lines = readme.lines().skip_while(|l| !l.starts_with(head));
    assert!(lines.next().is_some(), "README has no table headed {head}");
    for l in lines.skip(1).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = l.split(" | ").collect();
        let name = cells[0].trim_start_matches("| ").trim_matches('`');
        rows.push((name.to_string(), cells.get(1).unwrap_or(&"").trim().to_string()));
    }
    rows
}

#[test]
fn every_mode_is_in_help_readme_and_design_notes_as_the_registry_says() {
    let modes = registry();
    assert!(modes.iter().any(|m| m.kind == "rx") && modes.iter().any(|m| m.kind == "tx"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let help = String::from_utf8(zcbench(&["run", "--help"]).stdout).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let design = std::fs::read_to_string(root.join("docs/design.md")).unwrap();
    let mut stale = Vec::new();
    for (kind, option, head) in
        [("rx", "--mode <MODE>", "| `--mode` (receive)"), ("tx", "--tx-mode <TX_MODE>", "| `--tx-mode` (transmit)")]
    {
        let want: Vec<&Mode> = modes.iter().filter(|m| m.kind == kind).collect();
        let shown = help_values(&help, option);
        let rows = readme_rows(&readme, head);
        for (name, text) in &shown {
            match want.iter().find(|m| &m.name == name) {
                None => stale.push(format!("--help lists {option} {name}, which the registry does not have")),
                Some(m) if *text != squash(&m.help) => {
                    stale.push(format!("--help says {option} {name}: '{text}', its descriptor '{}'", m.help))
                }
                Some(_) if text.to_lowercase().contains("not available") => {
                    stale.push(format!("--help says {option} {name} is not available, but it runs"))
                }
                Some(_) => {}
            }
        }
        for (name, _) in rows.iter().filter(|(n, _)| !want.iter().any(|m| &m.name == n)) {
            stale.push(format!("README's table {head} has a row for {name}, which the registry does not have"));
        }
        for m in &want {
            if !shown.iter().any(|(n, _)| *n == m.name) {
                stale.push(format!("--help does not list {option} {}", m.name));
            }
            match rows.iter().find(|(n, _)| *n == m.name) {
                None => stale.push(format!("README's table {head} has no row for {}", m.name)),
                Some((_, needs)) if *needs != m.needs => stale.push(format!(
                    "README's table {head}: {} needs '{needs}', the registry says '{}'",
                    m.name, m.needs
                )),
                Some(_) => {}
            }
            // The design notes' table: the mode and the file its descriptor is in.
            let row = design.lines().find_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let at = cells.iter().position(|c| *c == format!("`{}`", m.name))?;
                let ok = (kind == "rx" && at == 1) || (kind == "tx" && at == 3);
                ok.then(|| cells[at + 1].to_string())
            });
            match row {
                None => stale.push(format!("docs/design.md's mode table has no {kind} row for {}", m.name)),
                Some(file) => {
                    let code = std::fs::read_to_string(root.join("src").join(&file)).unwrap_or_default();
                    if !code.contains(&format!("name: \"{}\",", m.name)) {
                        stale.push(format!(
                            "docs/design.md: {kind} {} is described in src/{file}? it is not there",
                            m.name
                        ));
                    }
                }
            }
        }
    }
    assert!(stale.is_empty(), "docs out of step with the mode registry:\n{}", stale.join("\n"));
}

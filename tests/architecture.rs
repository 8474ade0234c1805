//! The shape of the code, checked: which top-level module may import which
//! (layers only import downward), `unsafe` only under `src/sys/`, and the size
//! limits that keep orchestration and data paths readable. The table of allowed
//! edges is the one in docs/design.md; change both together.
//!
//! The checker reads the sources as text (comments and string literals removed),
//! so it needs no dependency and runs in milliseconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level module → the top-level modules it may import. `main` may import anything.
const ALLOWED: &[(&str, &[&str])] = &[
    ("cli", &["config", "domain", "error"]),
    ("config", &["rx", "tx", "sys", "domain", "error"]),
    ("run", &["config", "rx", "tx", "datapath", "sample", "results", "sys", "domain", "error", "signals"]),
    ("admin", &["sys", "domain", "error"]),
    ("probe", &["config", "rx", "tx", "sys", "domain", "error"]),
    ("report", &["results", "domain", "error", "signals"]),
    ("rx", &["datapath", "sample", "results", "sys", "domain", "error", "pattern"]),
    ("tx", &["datapath", "sample", "results", "sys", "domain", "error", "pattern"]),
    ("datapath", &["sample", "results", "sys", "domain", "error"]),
    ("sample", &["results", "sys", "error", "signals"]),
    ("results", &["domain", "error"]),
    ("sys", &["error"]),
    ("domain", &[]),
    ("error", &[]),
    ("pattern", &[]),
    ("signals", &[]),
];

/// The only top-level module allowed to hold `unsafe` code.
const UNSAFE_HOME: &str = "sys";
const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;
/// Layers whose functions must stay short: orchestration and the data paths.
const SHORT_FN_LAYERS: &[&str] = &["run", "rx", "tx"];

/// Source text with comments, string and char literals blanked out (newlines
/// kept, so line numbers still match).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&b, i) {
            // Raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match b.get(j) {
                    None => break,
                    Some('"') if (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    _ => j += 1,
                }
            }
            out.extend(b[i..j.min(b.len())].iter().map(|&c| blank(c)));
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), or a lifetime ('a) left alone.
            let lit_end = if next == Some('\\') {
                (i + 2..b.len()).find(|&k| b[k] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match lit_end {
                Some(e) => {
                    for _ in i..=e {
                        out.push(' ');
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Which top-level module a file under `src/` belongs to ("main" for main.rs).
fn layer_of(rel: &Path) -> String {
    let first = rel.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// What `super` names from a file: the crate root for `src/x.rs` and
/// `src/x/mod.rs`, the file's own top-level module deeper down.
fn super_is_root(rel: &Path) -> bool {
    let n = rel.components().count();
    n == 1 || (n == 2 && rel.file_name().is_some_and(|f| f == "mod.rs"))
}

/// The top-level modules a file imports: every `crate::X` (and `crate::{X, ..}`),
/// and `super::X` where super is the crate root. (line, module) pairs.
fn imports(rel: &Path, code: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        for (prefix, counts) in [("crate::", true), ("super::", super_is_root(rel))] {
            if !counts {
                continue;
            }
            let mut from = 0;
            while let Some(p) = line[from..].find(prefix) {
                let at = from + p;
                from = at + prefix.len();
                if at > 0 && line[..at].chars().last().is_some_and(|c| is_ident(c) || c == ':') {
                    continue;
                }
                let rest = &line[from..];
                if let Some(group) = rest.strip_prefix('{') {
                    // `crate::{a, b::c}`: first segment of each item (on this line).
                    let body = group.split('}').next().unwrap_or("");
                    for item in body.split(',') {
                        let name: String = item.trim().chars().take_while(|c| is_ident(*c)).collect();
                        if !name.is_empty() {
                            out.push((n + 1, name));
                        }
                    }
                } else {
                    let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
                    if !name.is_empty() {
                        out.push((n + 1, name));
                    }
                }
            }
        }
    }
    out
}

/// Lines that use `unsafe` as a keyword.
fn unsafe_lines(code: &str) -> Vec<usize> {
    code.lines()
        .enumerate()
        .filter(|(_, l)| {
            l.match_indices("unsafe").any(|(i, _)| {
                let before = l[..i].chars().last();
                let after = l[i + 6..].chars().next();
                !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
            })
        })
        .map(|(n, _)| n + 1)
        .collect()
}

/// Functions longer than `max` lines: (line of `fn`, name, length).
fn long_functions(code: &str, max: usize) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let Some(pos) = t.find("fn ") else { continue };
        let head = &t[..pos];
        let is_decl = head.split_whitespace().all(|w| {
            matches!(w, "pub" | "pub(crate)" | "pub(super)" | "const" | "async" | "unsafe" | "extern")
                || w.starts_with("pub(")
        });
        if !is_decl {
            continue;
        }
        let name: String = t[pos + 3..].chars().take_while(|c| is_ident(*c)).collect();
        // Find the body's opening brace (or a `;` for a declaration without one).
        let mut depth = 0i32;
        let mut opened = false;
        let mut end = None;
        'scan: for (j, line) in lines.iter().enumerate().skip(i) {
            for ch in line.chars() {
                match ch {
                    ';' if !opened && depth == 0 => break 'scan,
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => {
                        depth -= 1;
                        if opened && depth == 0 {
                            end = Some(j);
                            break 'scan;
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(e) = end {
            let len = e - i + 1;
            if len > max {
                out.push((i + 1, name, len));
            }
        }
    }
    out
}

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let p = e.path();
        if p.is_dir() {
            v.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            v.push(p);
        }
    }
    v.sort();
    v
}

/// Every rule broken by the tree under `src`, one line each.
fn violations(src: &Path) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut bad = Vec::new();
    for file in sources(src) {
        let rel = file.strip_prefix(src).unwrap().to_path_buf();
        let text = std::fs::read_to_string(&file).unwrap();
        let code = strip(&text);
        let layer = layer_of(&rel);
        let shown = format!("src/{}", rel.display());
        if layer != "main" {
            let Some(ok) = allowed.get(layer.as_str()) else {
                bad.push(format!("{shown}: module '{layer}' is not in the layer table (tests/architecture.rs)"));
                continue;
            };
            for (line, m) in imports(&rel, &code) {
                if m != layer && !ok.contains(&m.as_str()) && allowed.contains_key(m.as_str()) {
                    bad.push(format!("{shown}:{line}: '{layer}' imports '{m}', which is not below it"));
                }
            }
        }
        if layer != UNSAFE_HOME && layer != "main" {
            for line in unsafe_lines(&code) {
                bad.push(format!("{shown}:{line}: unsafe outside src/{UNSAFE_HOME}/"));
            }
        }
        let n = text.lines().count();
        if n > MAX_FILE_LINES {
            bad.push(format!("{shown}: {n} lines (limit {MAX_FILE_LINES}): split it"));
        }
        if SHORT_FN_LAYERS.contains(&layer.as_str()) {
            for (line, name, len) in long_functions(&code, MAX_FN_LINES) {
                bad.push(format!("{shown}:{line}: fn {name} has {len} lines (limit {MAX_FN_LINES})"));
            }
        }
    }
    bad
}

#[test]
fn layers_import_only_downward_and_unsafe_stays_in_sys() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(bad.is_empty(), "architecture rules broken:\n{}", bad.join("\n"));
}

#[test]
fn main_denies_unsafe_code_and_only_sys_is_allowed_it() {
    let main = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/main.rs")).unwrap();
    assert!(main.contains("#![deny(unsafe_code)]"), "the crate root must deny unsafe_code");
    let allows: Vec<&str> = main.lines().filter(|l| l.contains("allow(unsafe_code)")).collect();
    assert_eq!(allows.len(), 1, "exactly one module may allow unsafe: {allows:?}");
    let next = main.lines().skip_while(|l| !l.contains("allow(unsafe_code)")).nth(1).unwrap_or("");
    assert!(next.trim() == "mod sys;", "the allowed module must be sys, found '{next}'");
}

/// The checker itself: a tree with an upward import, unsafe outside sys, and a
/// long function must be caught; comments and strings must not count.
#[test]
fn the_checker_catches_what_it_is_for() {
    let dir = std::env::temp_dir().join(format!("zcbench-arch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["sys", "rx", "run"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let long_body = "    let x = 1;\n".repeat(MAX_FN_LINES + 1);
    let files = [
        ("main.rs", "#![deny(unsafe_code)]\nmod rx;\n".to_string()),
        // sys importing the data path: upward.
        ("sys/mod.rs", "use crate::rx::Thing;\nfn ok() { unsafe { libc::close(0) }; }\n".into()),
        // rx: fine import, one in a comment and one in a string (not counted), one upward in a group.
        (
            "rx/mod.rs",
            "use crate::sys::sock;\n// crate::run::x\nconst S: &str = \"crate::run::y\";\nuse crate::{sample, run::drive};\nfn f() { let c = 'x'; unsafe { g() } }\n"
                .into(),
        ),
        ("run/mod.rs", format!("use super::rx;\npub fn long() {{\n{long_body}}}\n")),
    ];
    for (p, t) in &files {
        std::fs::write(dir.join(p), t).unwrap();
    }
    let v = violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let has = |s: &str| v.iter().any(|x| x.contains(s));
    assert!(has("src/sys/mod.rs:1: 'sys' imports 'rx'"), "{v:#?}");
    assert!(has("src/rx/mod.rs:4: 'rx' imports 'run'"), "{v:#?}");
    assert!(has("src/rx/mod.rs:5: unsafe outside"), "{v:#?}");
    assert!(has("fn long has"), "{v:#?}");
    assert!(!has("src/rx/mod.rs:2") && !has("src/rx/mod.rs:3"), "comments and strings counted: {v:#?}");
    assert!(!has("src/sys/mod.rs:2"), "unsafe in sys is allowed: {v:#?}");
    assert!(!has("'run' imports 'rx'"), "run may import rx: {v:#?}");
    assert_eq!(v.len(), 4, "{v:#?}");
}

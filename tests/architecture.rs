//! The shape of the code, checked: which top-level module may import which
//! (layers only import downward), no import cycle between any two files
//! (inside a folder too: a folder's `mod.rs` and its files are files like any
//! other), `unsafe` only under `src/sys/`, and the size limits that keep
//! orchestration and data paths readable. The table of allowed edges is the
//! one in docs/design.md; change both together.
//!
//! The checker reads the sources as text (comments and string literals removed),
//! so it needs no dependency and runs in milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → the top-level modules it may import. `main` may import anything.
const ALLOWED: &[(&str, &[&str])] = &[
    ("cli", &["config", "domain", "error"]),
    ("config", &["rx", "tx", "sys", "domain", "error"]),
    ("run", &["config", "rx", "tx", "datapath", "sample", "results", "sys", "domain", "error", "signals", "messages"]),
    ("admin", &["sys", "domain", "error", "messages"]),
    ("probe", &["config", "rx", "tx", "sys", "domain", "error"]),
    // rx, tx: their mode registries (order, colour, default pairs), nothing else.
    ("report", &["rx", "tx", "results", "domain", "error", "messages", "signals"]),
    ("rx", &["datapath", "sample", "results", "sys", "domain", "error", "pattern"]),
    ("tx", &["datapath", "sample", "results", "sys", "domain", "error", "pattern"]),
    ("datapath", &["sample", "results", "sys", "domain", "error"]),
    ("sample", &["results", "sys", "error", "signals"]),
    ("results", &["domain", "error"]),
    ("sys", &["error", "messages"]),
    ("domain", &[]),
    ("error", &[]),
    ("pattern", &[]),
    ("signals", &["messages"]),
    // Everything zcbench prints; the data paths and the sampler print nothing.
    ("messages", &[]),
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

/// A file's module path: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`, `main.rs` the root.
fn module_of(rel: &Path) -> Vec<String> {
    let mut m: Vec<String> = rel.iter().map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    if m.last().is_some_and(|l| l == "mod" || l == "main") {
        m.pop();
    }
    m
}

/// Code as tokens: identifiers and single punctuation characters (`::` as one),
/// each with its line. Works on stripped code (no comments or literals).
fn tokens(code: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let b: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if is_ident(c) {
                let start = i;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                out.push((n + 1, b[start..i].iter().collect()));
                continue;
            }
            if c == ':' && b.get(i + 1) == Some(&':') {
                out.push((n + 1, "::".into()));
                i += 2;
                continue;
            }
            if !c.is_whitespace() {
                out.push((n + 1, c.to_string()));
            }
            i += 1;
        }
    }
    out
}

/// The paths of a `use` tree (its tokens, without `use` and `;`): each as
/// segments, with the name it is known by in this file when it is a module.
fn use_paths(t: &[&str]) -> Vec<(Vec<String>, String)> {
    fn walk(t: &[&str], prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
        // Split `t` at top-level commas.
        let (mut depth, mut start) = (0, 0);
        for i in 0..=t.len() {
            let at_end = i == t.len();
            if !at_end {
                match t[i] {
                    "{" => depth += 1,
                    "}" => depth -= 1,
                    _ => {}
                }
            }
            if at_end || (t[i] == "," && depth == 0) {
                item(&t[start..i], prefix, out);
                start = i + 1;
            }
        }
    }
    fn item(t: &[&str], prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
        let mut path = prefix.to_vec();
        let mut i = 0;
        while i < t.len() {
            match t[i] {
                "::" => {}
                "{" => {
                    let end = t.iter().rposition(|x| *x == "}").unwrap_or(t.len());
                    return walk(&t[i + 1..end], &path, out);
                }
                "as" => {
                    let alias = t.get(i + 1).copied().unwrap_or("_").to_string();
                    out.push((path, alias));
                    return;
                }
                "self" if i > 0 || !prefix.is_empty() => {}
                s => path.push(s.to_string()),
            }
            i += 1;
        }
        if let Some(last) = path.last().cloned() {
            out.push((path, last));
        }
    }
    let mut out = Vec::new();
    walk(t, &[], &mut out);
    out
}

/// The absolute path `segs` names from module `here`, when it is one of the
/// crate's (through `crate`, `self`, `super`, a child module or an alias).
fn absolute(
    here: &[String],
    aliases: &BTreeMap<String, Vec<String>>,
    modules: &BTreeSet<Vec<String>>,
    segs: &[String],
) -> Option<Vec<String>> {
    let first = segs.first()?;
    let mut base = match first.as_str() {
        "crate" => Vec::new(),
        "self" | "super" => here.to_vec(),
        _ => {
            let child: Vec<String> = here.iter().chain([first]).cloned().collect();
            if modules.contains(&child) {
                here.to_vec()
            } else {
                return aliases.get(first).map(|a| a.iter().chain(&segs[1..]).cloned().collect());
            }
        }
    };
    let mut rest = &segs[usize::from(first == "crate" || first == "self")..];
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    Some(base.into_iter().chain(rest.iter().cloned()).collect())
}

/// Every module path a file names outside `#[cfg(test)]` code, made absolute
/// (line, path). `modules` are the crate's modules, inline ones included.
fn references(file: &[String], code: &str, modules: &BTreeSet<Vec<String>>) -> Vec<(usize, Vec<String>)> {
    let toks = tokens(code);
    let t: Vec<&str> = toks.iter().map(|(_, s)| s.as_str()).collect();
    // Open scopes: (brace depth at opening, inline module name, test-only).
    let mut scopes: Vec<(usize, Option<String>, bool)> = Vec::new();
    let (mut depth, mut cfg_test) = (0usize, false);
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let here: Vec<String> = file.iter().cloned().chain(scopes.iter().filter_map(|s| s.1.clone())).collect();
        let in_test = scopes.iter().any(|s| s.2);
        let absolute = |segs: &[String]| absolute(&here, &aliases, modules, segs);
        match t[i] {
            "#" if t[i..].starts_with(&["#", "[", "cfg", "(", "test", ")", "]"]) => {
                cfg_test = true;
                i += 7;
                continue;
            }
            "mod" if t.get(i + 2) == Some(&"{") => {
                scopes.push((depth, Some(t[i + 1].to_string()), cfg_test));
                depth += 1;
                cfg_test = false;
                i += 3;
                continue;
            }
            "{" => {
                scopes.push((depth, None, cfg_test));
                depth += 1;
                cfg_test = false;
            }
            "}" => {
                depth = depth.saturating_sub(1);
                while scopes.last().is_some_and(|s| s.0 >= depth) {
                    scopes.pop();
                }
            }
            ";" => cfg_test = false,
            "use" => {
                let end = t[i..].iter().position(|x| *x == ";").map_or(t.len(), |e| i + e);
                if !(cfg_test || in_test) {
                    let found: Vec<_> =
                        use_paths(&t[i + 1..end]).into_iter().filter_map(|(p, n)| Some((absolute(&p)?, n))).collect();
                    for (a, name) in found {
                        if modules.contains(&a) {
                            aliases.insert(name, a.clone());
                        }
                        out.push((toks[i].0, a));
                    }
                }
                cfg_test = false;
                i = end + 1;
                continue;
            }
            // A path in code (`crate::x::f()`, `child::T`), from its first segment.
            s if !in_test
                && is_ident(s.chars().next().unwrap_or(' '))
                && t.get(i + 1) == Some(&"::")
                && (i == 0 || t[i - 1] != "::") =>
            {
                let mut segs = vec![s.to_string()];
                let mut j = i + 1;
                while t.get(j) == Some(&"::") && t.get(j + 1).is_some_and(|x| is_ident(x.chars().next().unwrap_or(' ')))
                {
                    segs.push(t[j + 1].to_string());
                    j += 2;
                }
                if let Some(a) = absolute(&segs) {
                    out.push((toks[i].0, a));
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Import cycles between files: one line per cycle, each file with the line
/// of its import of the next.
fn cycles(src: &Path) -> Vec<String> {
    let files: Vec<(PathBuf, Vec<String>, String)> = sources(src)
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(src).unwrap().to_path_buf();
            let m = module_of(&rel);
            (rel, m, strip(&std::fs::read_to_string(&f).unwrap()))
        })
        .collect();
    let by_module: BTreeMap<Vec<String>, usize> = files.iter().enumerate().map(|(i, f)| (f.1.clone(), i)).collect();
    let mut modules: BTreeSet<Vec<String>> = by_module.keys().cloned().collect();
    for (_, m, code) in &files {
        let t = tokens(code);
        for w in t.windows(3).filter(|w| w[0].1 == "mod" && w[2].1 == "{") {
            modules.insert(m.iter().cloned().chain([w[1].1.clone()]).collect());
        }
    }
    // Edges: file → file, with the line of the first reference.
    let mut edges: Vec<BTreeMap<usize, usize>> = vec![BTreeMap::new(); files.len()];
    for (i, (_, m, code)) in files.iter().enumerate() {
        for (line, path) in references(m, code, &modules) {
            let target = (0..=path.len()).rev().find_map(|k| by_module.get(&path[..k]));
            if let Some(&j) = target.filter(|&&j| j != i) {
                edges[i].entry(j).or_insert(line);
            }
        }
    }
    // A cycle through each file that reaches itself (breadth first: the shortest).
    let mut seen: BTreeSet<BTreeSet<usize>> = BTreeSet::new();
    let mut out = Vec::new();
    for start in 0..files.len() {
        let mut prev: BTreeMap<usize, usize> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut closed = None;
        while let Some(v) = queue.pop_front() {
            for &w in edges[v].keys() {
                if w == start {
                    closed = Some(v);
                    break;
                }
                if let std::collections::btree_map::Entry::Vacant(e) = prev.entry(w) {
                    e.insert(v);
                    queue.push_back(w);
                }
            }
            if closed.is_some() {
                break;
            }
        }
        let Some(mut v) = closed else { continue };
        let mut ring = vec![v];
        while v != start {
            v = prev[&v];
            ring.push(v);
        }
        ring.reverse();
        if seen.insert(ring.iter().copied().collect()) {
            let hops: Vec<String> = ring
                .iter()
                .enumerate()
                .map(|(k, &f)| {
                    let next = ring[(k + 1) % ring.len()];
                    format!("src/{}:{}", files[f].0.display(), edges[f][&next])
                })
                .collect();
            out.push(format!("import cycle: {} → back to the first", hops.join(" → ")));
        }
    }
    out
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
        // Unit tests live in the `tests` module of the file they test: inline,
        // or where Rust looks for `mod tests;` (`x.rs` → `x/tests.rs`).
        if code.contains("#[path") {
            bad.push(format!("{shown}: #[path] attribute: put the module where Rust looks for it"));
        }
        if rel.file_name().is_some_and(|f| f.to_string_lossy().ends_with("_tests.rs")) {
            bad.push(format!("{shown}: a tests file beside its file: make it the `tests` module (x.rs → x/tests.rs)"));
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
    bad.extend(cycles(src));
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
        // Two files of one folder that import each other: a cycle.
        ("run/a.rs", "use super::b::B;\npub struct A;\n".into()),
        ("run/b.rs", "pub struct B;\nfn f() -> super::a::A {\n    super::a::A\n}\n".into()),
        // Only test code and an inline module's `super` point back: no cycle.
        ("run/c.rs", "pub struct C;\nmod inner {\n    use super::C;\n}\n#[cfg(test)]\nmod tests {\n    use crate::run::d::D;\n}\n".into()),
        ("run/d.rs", "use super::c::C;\npub struct D;\n".into()),
        // Tests placed beside their file under another name.
        ("rx/cmsg_tests.rs", "#[path = \"y.rs\"]\nmod y;\n".into()),
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
    assert!(has("import cycle: src/run/a.rs:1 → src/run/b.rs:2 → back to the first"), "{v:#?}");
    assert!(!has("src/run/c.rs") && !has("src/run/d.rs"), "test code and inline modules counted: {v:#?}");
    // The upward imports above close two cycles of their own.
    assert!(has("import cycle: src/sys/mod.rs:1 → src/rx/mod.rs:1"), "{v:#?}");
    assert!(has("import cycle: src/run/mod.rs:1 → src/rx/mod.rs:4"), "{v:#?}");
    assert!(has("src/rx/cmsg_tests.rs: #[path]") && has("src/rx/cmsg_tests.rs: a tests file beside"), "{v:#?}");
    assert_eq!(v.len(), 9, "{v:#?}");
}

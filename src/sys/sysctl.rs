//! sysctl profiles in sysctl.d(5) syntax, the keys they name, and where each key
//! lives (one per network namespace, or host-wide).
//!
//! The profiles shipped in `sysctl/` are built into the binary; a path to any
//! other file in the same syntax works too.

use crate::error::usage;
use anyhow::{Context, Result};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Profiles shipped with zcbench: (name, text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("study", include_str!("../../sysctl/study.conf")),
    ("mmap-copy-sender", include_str!("../../sysctl/mmap-copy-sender.conf")),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as written (dots or slashes).
    pub key: String,
    pub value: String,
    /// `-key = value`: skip the key when this kernel does not have it.
    pub ignore_missing: bool,
    /// Line number in the profile (from 1).
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// Where it came from: "built in" or the file path.
    pub source: String,
    /// The first comment line, if any.
    pub description: String,
    pub entries: Vec<Entry>,
}

/// Parse sysctl.d text: `key = value` lines; `#` and `;` start comments; a leading
/// `-` on the key means "ignore if missing". Globs are not supported.
pub fn parse(name: &str, source: &str, text: &str) -> Result<Profile> {
    let mut entries = Vec::new();
    let mut description = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#').or_else(|| line.strip_prefix(';')) {
            // The leading comment block describes the profile.
            if entries.is_empty() {
                description = format!("{description} {}", c.trim()).trim().to_string();
            }
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(usage(format!("{source}:{}: '{line}' is not `key = value`", i + 1)));
        };
        let (key, ignore_missing) = match k.trim().strip_prefix('-') {
            Some(k) => (k.trim().to_string(), true),
            None => (k.trim().to_string(), false),
        };
        if key.is_empty() || key.contains(['*', '?', '[', ' ']) {
            return Err(usage(format!("{source}:{}: key '{key}' is empty or a glob (not supported)", i + 1)));
        }
        if let Err(why) = check_key(&key) {
            return Err(usage(format!("{source}:{}: key '{key}' {why}", i + 1)));
        }
        entries.push(Entry { key, value: v.trim().to_string(), ignore_missing, line: i + 1 });
    }
    if entries.is_empty() {
        return Err(usage(format!("{source}: profile '{name}' sets nothing")));
    }
    // Its first sentence is enough for a listing.
    if let Some(i) = description.find(". ") {
        description.truncate(i + 1);
    }
    Ok(Profile { name: name.to_string(), source: source.to_string(), description, entries })
}

/// A profile's entries as found on this kernel.
pub struct Resolved<'a> {
    /// Each entry with its /proc/sys path.
    pub keys: Vec<(&'a Entry, String)>,
    /// Notes on keys marked '-' that this kernel does not have.
    pub skipped: Vec<String>,
}

impl Profile {
    /// Where an entry was written: "FILE:LINE", or the built-in profile and line.
    pub fn line_of(&self, e: &Entry) -> String {
        if self.source == "built in" {
            format!("built-in profile {}, line {}", self.name, e.line)
        } else {
            format!("{}:{}", self.source, e.line)
        }
    }

    /// Each entry with its /proc/sys path on this kernel. A missing key is an
    /// unsupported error, or, when marked '-', skipped with a note.
    pub fn resolve(&self) -> Result<Resolved<'_>> {
        let (mut found, mut notes) = (Vec::new(), Vec::new());
        for e in &self.entries {
            let path = key_path(&e.key);
            if std::fs::metadata(&path).is_ok() {
                // No symlink may lead out of /proc/sys, and a key names a file.
                let real = std::fs::canonicalize(&path).unwrap_or_default();
                if !real.starts_with("/proc/sys/") || !real.is_file() {
                    return Err(usage(format!(
                        "{}:{}: key '{}' does not name a sysctl file under /proc/sys ({} is {})",
                        self.source,
                        e.line,
                        e.key,
                        path,
                        if real.is_dir() { "a directory".to_string() } else { real.display().to_string() }
                    )));
                }
                // The journal reads the old value before it writes: a key it
                // cannot read (vm.drop_caches is 0200) could not be put back.
                if std::fs::metadata(&real).is_ok_and(|m| m.permissions().mode() & 0o444 == 0) {
                    return Err(usage(format!(
                        "{}: key '{}' is write-only ({} has no read permission): zcbench could not read its \
                         value to put it back afterwards; leave it out of the profile",
                        self.line_of(e),
                        e.key,
                        path
                    )));
                }
                found.push((e, path));
            } else if e.ignore_missing {
                notes.push(format!("sysctl {}: not on this kernel, skipped (marked '-')", e.key));
            } else {
                return Err(crate::error::unsupported(format!("sysctl {}: no {path} on this kernel", e.key)));
            }
        }
        Ok(Resolved { keys: found, skipped: notes })
    }
}

/// The largest profile file read.
const PROFILE_MAX: u64 = 1 << 20;

/// A built-in profile by name, or a profile file by path.
pub fn load(name_or_path: &str) -> Result<Profile> {
    if let Some((n, t)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(n, "built in", t);
    }
    let p = Path::new(name_or_path);
    if p.exists() && !p.is_file() {
        return Err(usage(format!(
            "sysctl profile {}: not a regular file (a profile is a sysctl.d text file of `key = value` lines)",
            p.display()
        )));
    }
    if p.is_file() {
        let mut text = String::new();
        std::fs::File::open(p)
            .and_then(|f| f.take(PROFILE_MAX + 1).read_to_string(&mut text))
            .with_context(|| format!("reading sysctl profile {} (a sysctl.d text file)", p.display()))?;
        if text.len() as u64 > PROFILE_MAX {
            return Err(usage(format!(
                "sysctl profile {}: more than {} KiB; a sysctl.d profile is a short text file",
                p.display(),
                PROFILE_MAX >> 10
            )));
        }
        let name = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        return parse(&name, &p.display().to_string(), &text);
    }
    Err(usage(format!(
        "no sysctl profile '{name_or_path}': built in are {}; or give the path of a sysctl.d file",
        BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    )))
}

/// The /proc/sys path of a key, by sysctl.d(5)'s rule: when the first separator
/// is '/', the rest is taken literally; when it is '.', dots and slashes swap (so
/// `net.ipv4.conf.eth0/1.rp_filter` is `net/ipv4/conf/eth0.1/rp_filter`).
pub fn key_path(key: &str) -> String {
    let first_sep = key.find(['.', '/']).map(|i| key.as_bytes()[i]);
    let rel: String = match first_sep {
        Some(b'/') => key.to_string(),
        _ => key
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
    };
    format!("/proc/sys/{}", rel.trim_start_matches('/'))
}

/// Why a key cannot name a file under /proc/sys: an absolute path, or an
/// empty, `.` or `..` component (which would climb out of /proc/sys).
fn check_key(key: &str) -> std::result::Result<(), String> {
    if key.starts_with('/') {
        return Err("is an absolute path; a key names a file under /proc/sys (e.g. net.core.rmem_max)".into());
    }
    if key.chars().any(|c| c.is_control()) {
        return Err("holds a control character".into());
    }
    let rel = key_path(key);
    let rel = rel.trim_start_matches("/proc/sys/");
    if rel.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err("has an empty, '.' or '..' part: a key names a file under /proc/sys, it cannot leave it".into());
    }
    Ok(())
}

/// Whether the kernel stored `written` as written: the same fields, equal as
/// text or as numbers (it prints `0x10` back as `16`). Writing fewer fields than
/// a key has (`tcp_rmem = 1 2`) leaves the rest as they were: not as written.
pub fn stored_as_written(written: &str, read_back: &str) -> bool {
    let num = |s: &str| match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => i128::from_str_radix(h, 16).ok(),
        None => s.parse::<i128>().ok(),
    };
    let (w, r): (Vec<&str>, Vec<&str>) = (written.split_whitespace().collect(), read_back.split_whitespace().collect());
    w.len() == r.len() && w.iter().zip(&r).all(|(a, b)| a == b || num(a).is_some_and(|x| Some(x) == num(b)))
}

/// Whether this thread's namespace may write `path` (a read-only view of the
/// host's value in a child namespace may not; root's access() asks the same
/// permission check the write would meet).
pub fn writable_here(path: &str) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// Compare values the way the kernel prints them (tabs vs spaces do not matter).
pub fn normalize(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where a network sysctl lives, seen from inside a (non-initial) namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Each network namespace has its own writable copy (e.g. net.ipv4.tcp_rmem).
    PerNamespace,
    /// One value for the host: absent or read-only inside other namespaces (e.g.
    /// vm.*, and net.core.rmem_max, which other namespaces see read-only).
    Host,
}

/// The scope of `path` as seen from the calling thread's network namespace,
/// which must not be the initial one.
pub fn scope_here(path: &str) -> Scope {
    if path.starts_with("/proc/sys/net/") && nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok() {
        Scope::PerNamespace
    } else {
        Scope::Host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse_and_study_has_the_reference_values() {
        for (n, _) in BUILTIN {
            load(n).unwrap();
        }
        let p = load("study").unwrap();
        let get = |k: &str| p.entries.iter().find(|e| e.key == k).map(|e| e.value.clone());
        assert_eq!(get("net.core.rmem_max").as_deref(), Some("536870912"));
        assert_eq!(get("net.ipv4.tcp_wmem").as_deref(), Some("4096 87380 536870912"));
        assert_eq!(get("vm.max_map_count").as_deref(), Some("524240"));
        assert_eq!(p.entries.len(), 8);
        assert!(!p.description.is_empty());
    }

    #[test]
    fn sysctl_d_syntax() {
        let p = parse(
            "t",
            "t.conf",
            "# about this\n; and that. More\n\nnet.core.somaxconn=4096\n# not this\n -net.x.y = 1 2\tthree \n",
        )
        .unwrap();
        assert_eq!(p.description, "about this and that.");
        assert_eq!(
            p.entries[0],
            Entry { key: "net.core.somaxconn".into(), value: "4096".into(), ignore_missing: false, line: 4 }
        );
        assert_eq!(
            p.entries[1],
            Entry { key: "net.x.y".into(), value: "1 2\tthree".into(), ignore_missing: true, line: 6 }
        );
        assert!(parse("t", "t.conf", "no equals sign\n").is_err());
        assert!(parse("t", "t.conf", "net.ipv4.conf.*.rp_filter = 1\n").is_err());
        assert!(parse("t", "t.conf", "# only comments\n").is_err());
        let e = load("nosuchprofile").unwrap_err();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Usage);
        assert!(e.to_string().contains("study"));
    }

    #[test]
    fn key_paths_follow_sysctl_d_rules() {
        assert_eq!(key_path("net.core.rmem_max"), "/proc/sys/net/core/rmem_max");
        assert_eq!(key_path("net/core/rmem_max"), "/proc/sys/net/core/rmem_max");
        assert_eq!(key_path("net.ipv4.conf.eth0/1.rp_filter"), "/proc/sys/net/ipv4/conf/eth0.1/rp_filter");
        assert_eq!(key_path("net/ipv4/conf/eth0.1/rp_filter"), "/proc/sys/net/ipv4/conf/eth0.1/rp_filter");
        assert_eq!(normalize("4096\t87380  6291456\n"), "4096 87380 6291456");
    }

    #[test]
    fn keys_cannot_leave_proc_sys() {
        for (key, why) in [
            ("net/../vm/max_map_count", "'..'"),
            ("net/../../../tmp/x", "'..'"),
            ("/proc/sys/vm/max_map_count", "absolute"),
            ("net..core.rmem_max", "empty"),
            ("net/./core/rmem_max", "'.'"),
        ] {
            let e = parse("t", "t.conf", &format!("# x\n{key} = 1\n")).unwrap_err();
            assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Usage, "{key}");
            assert!(e.to_string().starts_with("t.conf:2: key") && e.to_string().contains(why), "{key}: {e}");
        }
        // A directory is no key, even spelled correctly.
        let p = parse("t", "t.conf", "net.core = 1\n").unwrap();
        let e = p.resolve().err().unwrap();
        assert!(e.to_string().contains("t.conf:1") && e.to_string().contains("a directory"), "{e}");
    }

    #[test]
    fn values_compare_as_the_kernel_stores_them() {
        assert!(stored_as_written("4096 87380 6291456", "4096\t87380\t6291456"));
        assert!(stored_as_written("0x10", "16"));
        assert!(!stored_as_written("1 2", "1\t2\t6291456"), "a half-applied triple");
        assert!(!stored_as_written("5", "6"));
        assert!(stored_as_written("bbr", "bbr"));
    }
}

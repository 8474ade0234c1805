//! Test helper: ask the system's C headers for constants and struct offsets, so
//! hand-written kernel interfaces are checked against the kernel's uapi rather
//! than against a copy of it.
//!
//! Interfaces newer than the installed headers (io_uring zcrx, 7.x) are checked
//! against [`newer_uapi`]: `ZCBENCH_UAPI_INCLUDE`, a newer kernel's
//! `include/uapi` tree (scripts/test points it at the testbed VM kernel's).
//! Those checks opt in with the `_in` functions; the others keep the installed
//! headers, because a source tree's uapi is not sanitized for user space
//! (byteorder's `__force`) and cannot stand in for them everywhere.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The newer uapi tree named by `ZCBENCH_UAPI_INCLUDE`, if any.
pub fn newer_uapi() -> Option<PathBuf> {
    std::env::var_os("ZCBENCH_UAPI_INCLUDE").map(PathBuf::from)
}

/// Compile and run a C program that prints each `(name, C expression)` as an
/// integer, with `includes` included (`extra` searched before the system's
/// headers). None (and a SKIPPED line) without a C compiler; scripts/test
/// installs one.
pub fn c_values_in(extra: Option<&Path>, includes: &[&str], exprs: &[(&str, &str)]) -> Option<HashMap<String, u64>> {
    let cc = compiler(includes)?;
    let dir = std::env::temp_dir().join(format!(
        "zcbench-uapi-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).ok()?;
    let mut src = String::from("#include <stdio.h>\n#include <stddef.h>\n");
    for i in includes {
        src.push_str(&format!("#include <{i}>\n"));
    }
    src.push_str("int main(void) {\n");
    for (name, e) in exprs {
        src.push_str(&format!("  printf(\"%s %llu\\n\", \"{name}\", (unsigned long long)({e}));\n"));
    }
    src.push_str("  return 0;\n}\n");
    let c = dir.join("v.c");
    let exe = dir.join("v");
    std::fs::write(&c, src).ok()?;
    let out = cc_command(cc, extra).arg(&c).arg("-o").arg(&exe).output().ok()?;
    assert!(out.status.success(), "{cc} failed: {}", String::from_utf8_lossy(&out.stderr));
    let out = std::process::Command::new(&exe).output().ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' ').and_then(|(n, v)| Some((n.to_string(), v.parse().ok()?))))
            .collect(),
    )
}

fn compiler(includes: &[&str]) -> Option<&'static str> {
    let cc = ["cc", "gcc"].into_iter().find(|c| std::process::Command::new(c).arg("--version").output().is_ok());
    if cc.is_none() {
        eprintln!("SKIPPED: no C compiler to read {includes:?} with (scripts/test installs gcc)");
    }
    cc
}

fn cc_command(cc: &str, dir: Option<&Path>) -> std::process::Command {
    let mut c = std::process::Command::new(cc);
    if let Some(dir) = dir {
        c.arg("-I").arg(dir);
    }
    c
}

/// Whether `header` exists for the compiler, `dir` searched first. None
/// without a compiler.
pub fn has_header_in(dir: Option<&Path>, header: &str) -> Option<bool> {
    let cc = compiler(&[header])?;
    let out = cc_command(cc, dir)
        .args(["-E", "-x", "c", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take()?.write_all(format!("#include <{header}>\n").as_bytes()).ok()?;
            child.wait().ok()
        })?;
    Some(out.success())
}

/// Assert that every `(name, ours, C expression)` equals the header's value.
pub fn assert_matches(includes: &[&str], items: &[(&str, u64, &str)]) {
    assert_matches_in(None, includes, items)
}

/// [`assert_matches`] with `dir` searched before the system's headers.
pub fn assert_matches_in(dir: Option<&Path>, includes: &[&str], items: &[(&str, u64, &str)]) {
    let exprs: Vec<(&str, &str)> = items.iter().map(|(n, _, e)| (*n, *e)).collect();
    let Some(got) = c_values_in(dir, includes, &exprs) else { return };
    for (name, ours, _) in items {
        assert_eq!(got.get(*name), Some(ours), "{name}: ours vs {includes:?}");
    }
}

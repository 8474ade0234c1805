//! `zcbench study` end to end: the shipped short local study with short
//! durations, killed half-way and resumed without redoing finished runs; and
//! a two-host study driving `zcbench server` between two namespaces.

mod common;
use common::*;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn profile(name: &str) -> String {
    format!("{}/profiles/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("runs"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .flat_map(|c| std::fs::read_dir(c.path()).unwrap().filter_map(|e| e.ok()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.retain(|p| {
        p.file_name().unwrap().to_string_lossy().starts_with("run-")
            && p.extension().is_some_and(|x| x == "json")
            && !p.to_string_lossy().ends_with(".meta.json")
    });
    v.sort();
    v
}

fn partials(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("runs"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .flat_map(|c| std::fs::read_dir(c.path()).unwrap().filter_map(|e| e.ok()))
                .filter(|e| e.file_name().to_string_lossy().starts_with(".partial-"))
                .count()
        })
        .unwrap_or(0)
}

/// Processes whose command line mentions `needle` (the study's runs).
fn procs_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

const SHORT: &[&str] = &["--duration", "1s", "--warmup", "0s", "--interval", "500ms", "--repeat", "1"];

#[test]
fn local_study_runs_end_to_end_and_resumes_after_being_killed_half_way() {
    need_netns!();
    let before = snapshot();
    let dir = tmpdir("study");
    let out = dir.join("s");
    let prof = profile("local-short.toml");
    let args: Vec<&str> = [&["study", prof.as_str(), "--out", out.to_str().unwrap()], SHORT].concat();

    // Phase 1: killed (SIGKILL, no chance to clean up) once 3 runs are done and a 4th is under way.
    let mut first =
        Command::new(bin()).args(&args).arg("--quiet").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t0 = Instant::now();
    while !(run_files(&out).len() >= 3 && partials(&out) == 1) {
        assert!(t0.elapsed() < Duration::from_secs(90), "the study made no progress");
        assert!(first.try_wait().unwrap().is_none(), "the study ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // Its run got SIGTERM from the kernel (parent death), restored the host and exited.
    let t1 = Instant::now();
    while !procs_with(out.to_str().unwrap()).is_empty() {
        assert!(t1.elapsed() < Duration::from_secs(20), "the killed study's run is still running");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(snapshot(), before, "the killed run left host settings behind");
    let kept: Vec<(PathBuf, u64, i64)> = run_files(&out)
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p).unwrap();
            (p, m.ino(), m.mtime_nsec())
        })
        .collect();
    assert!(kept.len() >= 3 && partials(&out) == 1, "a half-finished run is left: {kept:?}");

    // Phase 2: resumed.
    let o = Command::new(bin()).args(&args).output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for (p, ino, mtime) in &kept {
        let m = std::fs::metadata(p).unwrap();
        assert_eq!((m.ino(), m.mtime_nsec()), (*ino, *mtime), "{} was redone", p.display());
    }
    assert_eq!(partials(&out), 0, "the half-finished run was not cleaned up");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let cases = s["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 12, "every case of the matrix is listed");
    let done: Vec<&Value> = cases.iter().filter(|c| c["status"] == "done").collect();
    let skipped: Vec<&Value> = cases.iter().filter(|c| c["status"] == "skipped").collect();
    assert_eq!((done.len(), skipped.len()), (8, 4), "{s}");
    assert_eq!(t.matches("done in").count(), 8 - kept.len(), "only the runs not finished before were run: {t}");
    for c in &done {
        assert!(c["figures"]["roi_cpu_total"]["trimmed_mean"].as_f64().unwrap() > 0.0, "{c}");
        assert_eq!(c["runs"].as_array().unwrap().len(), 1);
    }
    for c in &skipped {
        assert!(["devmem", "zcrx"].contains(&c["axes"]["mode"].as_str().unwrap()), "{c}");
        assert_eq!(c["exit_code"], 3);
        // zcbench's own message, e.g. "not supported on this host: /dev/udmabuf does not exist: ...".
        assert!(c["reason"].as_str().unwrap().starts_with("not supported on this host: "), "{c}");
    }
    // Every run file is a real result of its case.
    for f in run_files(&out) {
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(r["schema_version"], 4);
        assert!(r["series"]["id"].as_str().unwrap().starts_with("mode="), "{}", f.display());
    }
    // Dead time is measured and reported.
    let d = &s["dead_time"];
    assert_eq!(d["runs"].as_u64(), Some(8));
    assert!(d["mean_s"].as_f64().unwrap() > 0.0 && d["between_runs_mean_s"].as_f64().unwrap() >= 0.0, "{d}");
    assert!(t.contains("dead time:"), "{t}");
    // The CSV: a header and one row per case, with the documented columns.
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 13);
    assert!(
        lines[0].starts_with("case,status,reason,exit_code,runs,mode,cpus,gbps,gbps_min,gbps_max,gbps_stddev"),
        "{}",
        lines[0]
    );
    assert!(lines.iter().any(|l| l.contains(",skipped,") && l.contains("not supported on this host")));
    assert_eq!(snapshot(), before);

    // A third time: nothing left to do.
    let o = Command::new(bin()).args(&args).output().unwrap();
    assert!(o.status.success() && !text(&o).contains("done in"), "{}", text(&o));
    // Another matrix in the same directory is refused, naming the problem.
    let other = dir.join("other.toml");
    std::fs::write(&other, std::fs::read_to_string(&prof).unwrap().replace("values = [1, 2]", "values = [1]")).unwrap();
    let o = zcbench(&["study", other.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("another matrix"), "{}", text(&o));
}

#[test]
fn two_host_study_drives_a_server_per_run() {
    need_netns!();
    let ns = NsPair::new("st", 40);
    let dir = tmpdir("study2");
    let prof = dir.join("two.toml");
    std::fs::write(
        &prof,
        format!(
            r#"[study]
name = "two"
duration = "1s"
warmup = "0s"
interval = "500ms"
repeat = 1
server = "{a_ip}"
server_cmd = ["ip", "netns", "exec", "{a}", "{bin}", "server", "--listen", "{a_ip}"]

[[axis]]
name = "mode"
flag = "--mode"
values = ["baseline", "uring"]

[[axis]]
name = "cpus"
flag = "--cpus"
server = true
values = [1]
"#,
            a = ns.a,
            a_ip = ns.a_ip,
            bin = bin()
        ),
    )
    .unwrap();
    let out = dir.join("s");
    let o = NsPair::cmd(&ns.b, &["study", prof.to_str().unwrap(), "--out", out.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(s["cases"].as_array().unwrap().iter().all(|c| c["status"] == "done"), "{s}");
    for f in run_files(&out) {
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(r["topology"], "two-host");
        assert_eq!(r["receiver"]["layout"]["cpus"], 1);
        assert!(r["summary"]["roi"]["sender"]["roi_cpu"].as_f64().unwrap() > 0.0, "{}", r["summary"]["roi"]);
    }
}

//! How long `zcbench report` takes over a large study: 1 000 result files (or
//! the count given), each a 100 s run sampled every second (the reference
//! study's length), made from a real schema 3 result file (power command, idle
//! power, syscall times: the power, ROI and syscall figures are drawn) by
//! varying mode, CPU layout, GRO and BIG TCP settings, timestamps and
//! throughput. Prints the time of each of three reports and their median.
//!
//!     cargo bench --bench report [-- FILES] [--keep]    (--keep: leave the files and reports)
//!
//! Reads and writes only files (no flows, no host changes).

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const MODES: [(&str, &str); 4] =
    [("baseline", "copy"), ("mmap", "zerocopy"), ("uring", "copy"), ("txrx-zc", "uring-zc")];
const GRO: [Option<(&str, &str)>; 3] =
    [None, Some(("feature rx-gro (generic-receive-offload)", "on")), Some(("feature rx-gro-hw", "on"))];

/// Result file `i` of `n`: a case from the matrix, a repeat of it, with its
/// throughput and CPU scaled so series differ.
fn make(base: &Value, i: usize) -> Value {
    let mut r = base.clone();
    let (mode, tx) = MODES[i % 4];
    let cpus = 1 + (i / 4) % 2;
    let gro = GRO[(i / 8) % 3];
    let big = (i / 24) % 2 == 1;
    r["flow"]["mode"] = json!(mode);
    r["flow"]["tx_mode"] = json!(tx);
    r["flow"]["duration_s"] = json!(100.0);
    r["receiver"]["layout"]["cpus"] = json!(cpus);
    r["timestamp"] = json!(format!("2026-01-01T{:02}:{:02}:{:02}Z", i / 3600, (i / 60) % 60, i % 60));
    let changes = r["receiver"]["changes"].as_array_mut().unwrap();
    let change = |setting: &str, v: &str| json!({"netns": null, "setting": format!("eth0 {setting}"), "old": "off", "new": v, "read_back": v, "changed": true});
    if let Some((setting, v)) = gro {
        changes.push(change(setting, v));
    }
    if big {
        changes.push(change("gro_max_size", "185000"));
    }
    let scale = 1.0 + (i % 7) as f64 * 0.01 + (i % 4) as f64 * 0.2;
    let sample = r["receiver"]["samples"][0].clone();
    let mut samples = Vec::new();
    for t in 0..102 {
        let mut s = sample.clone();
        s["t_s"] = json!(t as f64 + 1.0);
        s["warmup"] = json!(t < 2);
        s["rx_gbps"] = json!(sample["rx_gbps"].as_f64().unwrap() * scale * (1.0 + (t % 5) as f64 * 0.002));
        samples.push(s);
    }
    r["receiver"]["samples"] = json!(samples);
    let g = r["summary"]["gbps"].as_f64().unwrap() * scale;
    r["summary"]["gbps"] = json!(g);
    r
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tests/data/result-v3-netns-power.json")).unwrap())
            .unwrap();
    let dir = std::env::temp_dir().join(format!("zcbench-bench-report-{}", std::process::id()));
    let results = dir.join("results");
    std::fs::create_dir_all(&results).unwrap();
    let mut bytes = 0;
    for i in 0..n {
        let text = serde_json::to_string_pretty(&make(&base, i)).unwrap();
        bytes += text.len();
        std::fs::write(results.join(format!("r{i:05}.json")), text).unwrap();
    }
    println!("{n} result files, {:.1} MB, in {}", bytes as f64 / 1e6, results.display());
    let mut times = Vec::new();
    for k in 0..3 {
        let out = dir.join(format!("report-{k}"));
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_zcbench"))
            .args(["report", results.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"])
            .output()
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let figures = std::fs::read_dir(out.join("figures")).unwrap().count();
        println!("report {}: {secs:.2} s ({figures} figure files)", k + 1);
        times.push(secs);
    }
    times.sort_by(f64::total_cmp);
    println!("median: {:.2} s for {n} files", times[1]);
    if std::env::args().any(|a| a == "--keep") {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Power sources against real producers: a command whose output changes every
//! interval, a real Redfish server (sushy-tools' sushy-static) whose resource
//! the test rewrites to script a power trace, a meter log, this VM's missing
//! RAPL; and what measuring costs.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn power_w(r: &Value, i: usize) -> Vec<Option<f64>> {
    r["receiver"]["samples"].as_array().unwrap().iter().map(|s| s["power_w"][i].as_f64()).collect()
}

fn run_lo(tag: &str, extra: &[&str]) -> (std::process::Output, std::path::PathBuf) {
    let out = tmpdir(tag);
    let mut args = vec!["--testbed", "lo", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    (zcbench(&args), out)
}

/// A command printing 100, 200, 300 … (one more each call), failing on its
/// 4th call: every interval gets the next value, the failed one is missing.
#[test]
fn power_cmd_reads_every_interval_and_a_failure_is_missing_not_zero() {
    need_netns!();
    let dir = tmpdir("pcmd");
    let n = dir.join("n");
    let script = format!(
        "n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; [ $n -eq 4 ] && exit 1; echo \"$((100*n)) W\"",
        n.display()
    );
    let (o, out) =
        run_lo("pcmd-out", &["--duration", "4s", "--warmup", "1s", "--power-cmd", &script, "--syscall-times"]);
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    let w = power_w(&r, 0);
    // Call 1 was the check before the run; each interval then gets the next
    // call's value: rising by 100, none 0, and the failed 4th call (400 W)
    // leaves its interval empty.
    let read: Vec<f64> = w.iter().flatten().copied().collect();
    assert!(read.len() >= 3 && read.windows(2).all(|p| p[1] >= p[0] + 100.0), "{w:?}");
    assert!(read.iter().all(|v| *v >= 200.0 && v % 100.0 == 0.0 && *v != 400.0), "{w:?}");
    let gap = w.iter().position(Option::is_none).expect("the failed call's interval is missing");
    assert!(
        w[..gap].iter().flatten().all(|v| *v <= 300.0) && w[gap + 1..].iter().flatten().all(|v| *v >= 500.0),
        "{w:?}"
    );
    let src = &r["receiver"]["power_sources"][0];
    assert_eq!((src["name"].as_str(), src["kind"].as_str()), (Some("cmd"), Some("wall")));
    assert!(src["errors"][0]["message"].as_str().unwrap().contains("exit status: 1"), "{src}");
    let p = &r["summary"]["power"][0];
    assert_eq!(p["missing"].as_u64(), Some(w[1..].iter().filter(|x| x.is_none()).count() as u64));
    // The mean is of the window's readings only (interval-weighted), not of a 0.
    let samples = r["receiver"]["samples"].as_array().unwrap();
    let (mut ws, mut ts) = (0.0, 0.0);
    for s in samples.iter().filter(|s| !s["warmup"].as_bool().unwrap()) {
        if let Some(v) = s["power_w"][0].as_f64() {
            ws += v * s["dt_s"].as_f64().unwrap();
            ts += s["dt_s"].as_f64().unwrap();
        }
    }
    assert!((p["mean_w"].as_f64().unwrap() - ws / ts).abs() < 1e-9);
    // Local run: only the total has a power ROI, from this source.
    let roi = &r["summary"]["roi"];
    assert!(roi["receiver"]["roi_power"].is_null() && roi["total"]["roi_power"].as_f64().unwrap() > 0.0);
    assert_eq!(roi["total"]["power_source"], "receiver:cmd");
    // --syscall-times: both threads' tables, recv and send among them.
    let names = |side: &str| -> Vec<String> {
        r["receiver"][side]["syscalls"]["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["syscall"].as_str().unwrap().into())
            .collect()
    };
    assert!(names("rx").contains(&"recv".to_string()) && names("tx").contains(&"send".to_string()));
}

#[test]
fn idle_power_is_measured_before_the_flow_and_used_above_idle() {
    need_netns!();
    let (o, out) = run_lo(
        "pidle",
        &[
            "--duration",
            "2s",
            "--warmup",
            "0s",
            "--interval",
            "500ms",
            "--power-cmd",
            "echo 80",
            "--measure-idle",
            "1s",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    let src = &r["receiver"]["power_sources"][0];
    assert_eq!(src["idle_w"].as_f64(), Some(80.0));
    assert!(src["idle_from"].as_str().unwrap().starts_with("measured for 1 s"), "{src}");
    // P equals idle: no above-idle ROI (it would divide by zero).
    assert!(r["summary"]["roi"]["total"]["roi_power_above_idle"].is_null());
}

/// Where sushy-static is, installing it if needed; None (with SKIPPED) only
/// when the install is impossible here.
fn sushy_static() -> Option<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let o = std::process::Command::new(format!("{root}/scripts/redfish-venv")).output().unwrap();
    if o.status.success() {
        return Some(String::from_utf8_lossy(&o.stdout).trim().to_string());
    }
    eprintln!("SKIPPED: cannot install sushy-tools: {}", String::from_utf8_lossy(&o.stderr).trim());
    None
}

fn write_atomic(p: &Path, text: &str) {
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, p).unwrap();
}

/// A Redfish mockup: service root, one chassis, its Power resource.
fn mockup(dir: &Path) -> std::path::PathBuf {
    let put = |rel: &str, v: Value| {
        let d = dir.join(rel);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("index.json"), v.to_string()).unwrap();
    };
    put("", serde_json::json!({"@odata.id": "/redfish/v1", "Chassis": {"@odata.id": "/redfish/v1/Chassis"}}));
    put("Chassis", serde_json::json!({"Members": [{"@odata.id": "/redfish/v1/Chassis/1"}]}));
    put("Chassis/1", serde_json::json!({"Id": "1", "Power": {"@odata.id": "/redfish/v1/Chassis/1/Power"}}));
    put(
        "Chassis/1/Power",
        serde_json::json!({"PowerControl": [{"PowerConsumedWatts": 200, "PowerMetrics": {"IntervalInMin": 1}}]}),
    );
    dir.join("Chassis/1/Power/index.json")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn redfish_power_from_a_real_redfish_server_follows_a_scripted_trace() {
    need_netns!();
    let Some(sushy) = sushy_static() else { return };
    let dir = tmpdir("redfish");
    let mock = dir.join("mock");
    let power = mockup(&mock);
    let port = free_port();
    let mut server = std::process::Command::new(&sushy)
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-m", mock.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it serves.
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "sushy-static did not start");
    // The trace: 210, 220, … every 250 ms; from 1.5 s to 2.75 s the resource is gone (HTTP 404).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (stop2, p2) = (stop.clone(), power.clone());
    let writer = std::thread::spawn(move || {
        let mut i = 0u32;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(250));
            i += 1;
            if (6..11).contains(&i) {
                let _ = std::fs::remove_file(&p2);
            } else {
                let w = 200 + 10 * i;
                write_atomic(&p2, &serde_json::json!({"PowerControl": [{"PowerConsumedWatts": w, "PowerMetrics": {"IntervalInMin": 1}}]}).to_string());
            }
        }
    });
    let url = format!("redfish+http://127.0.0.1:{port}");
    let (o, out) = run_lo(
        "redfish-out",
        &["--duration", "4s", "--warmup", "0s", "--interval", "500ms", "--power", &url, "--power-timeout", "400ms"],
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    let src = &r["receiver"]["power_sources"][0];
    assert_eq!(src["kind"], "wall");
    assert_eq!(src["source"].as_str().unwrap(), format!("http://127.0.0.1:{port}/redfish/v1/Chassis/1/Power"));
    assert!(src["notes"].to_string().contains("averaged over 1 min"), "{src}");
    let w = power_w(&r, 0);
    let read: Vec<f64> = w.iter().flatten().copied().collect();
    assert!(read.iter().all(|v| *v >= 200.0 && (*v as u32).is_multiple_of(10)), "only values of the trace: {w:?}");
    let mut distinct = read.clone();
    distinct.dedup();
    assert!(distinct.len() >= 3 && distinct.windows(2).all(|p| p[0] < p[1]), "the trace rises: {w:?}");
    assert!(w.iter().any(Option::is_none), "the 404 gap is missing, not 0 W: {w:?}");
    assert!(src["errors"].to_string().contains("HTTP 404"), "{src}");
}

#[test]
fn rapl_on_this_host_says_why_not_before_changing_anything() {
    need_netns!();
    let before = snapshot();
    let (o, _) = run_lo("rapl", &["--duration", "1s", "--power", "rapl"]);
    let t = text(&o);
    if std::path::Path::new("/sys/class/powercap/intel-rapl:0").exists() {
        assert!(o.status.success(), "{t}");
        return;
    }
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("no RAPL zone under /sys/class/powercap"), "{t}");
    let vm = std::fs::read_to_string("/proc/cpuinfo").unwrap().contains(" hypervisor");
    if vm {
        assert!(t.contains("virtual machine"), "{t}");
    }
    assert_eq!(snapshot(), before);
}

/// A meter's log aligned afterwards: at run time (--power-log) and onto an
/// existing result (attach-power).
#[test]
fn meter_logs_align_to_the_window() {
    need_netns!();
    let dir = tmpdir("plog");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    // Readings every 100 ms for the next 30 s: 300 W + the tenth of a second.
    let mut csv = String::from("time,watts\n");
    for i in 0..300 {
        csv += &format!("{:.3},{}\n", now + f64::from(i) * 0.1, 300 + i % 10);
    }
    let log = dir.join("meter.csv");
    std::fs::write(&log, &csv).unwrap();
    let (o, out) = run_lo("plog-out", &["--duration", "2s", "--warmup", "1s", "--power-log", log.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    let w = power_w(&r, 0);
    assert!(w.iter().all(|x| x.is_some_and(|v| (300.0..=309.0).contains(&v))), "{w:?}");
    assert_eq!(r["receiver"]["power_sources"][0]["name"], "log");
    // The same log attached to the file afterwards gives a second, equal source.
    let f = std::fs::read_dir(&out).unwrap().next().unwrap().unwrap().path();
    let a = zcbench(&["attach-power", f.to_str().unwrap(), log.to_str().unwrap(), "--kind", "wall"]);
    assert!(a.status.success(), "{}", text(&a));
    let r2: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    assert_eq!(power_w(&r2, 1), w);
    assert_eq!(r2["summary"]["power"].as_array().unwrap().len(), 2);
    // A log from another time does not fit: refused, the file unchanged.
    std::fs::write(dir.join("old.csv"), "1000,5\n1001,5\n").unwrap();
    let b = zcbench(&["attach-power", f.to_str().unwrap(), dir.join("old.csv").to_str().unwrap()]);
    assert_eq!(b.status.code(), Some(2), "{}", text(&b));
    assert!(text(&b).contains("no reading"), "{}", text(&b));
}

/// Every sampler on (power command, perf, idle states, softirqs, netdev), at
/// 1 s: what measuring costs stays under 1% of one core, and says so.
#[test]
fn measuring_with_every_sampler_costs_under_one_percent_of_a_core() {
    need_netns!();
    let out = tmpdir("overhead");
    let o = zcbench(&["--duration", "4s", "--warmup", "1s", "--power-cmd", "echo 100", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    let s = &r["receiver"]["sampler"];
    let pct = s["overhead_pct_of_core"].as_f64().unwrap();
    assert!(pct > 0.0 && pct < 1.0, "measuring used {pct}% of a core: {s}");
    assert!(s["children_cpu_s"].as_f64().unwrap() > 0.0, "the power command's CPU is counted: {s}");
    assert_eq!(r["summary"]["sampler_overhead_pct_of_core"].as_f64(), Some(pct));
    let perf = &r["receiver"]["perf"]["cores"][0];
    assert!(perf["counters"][0]["value"].as_u64().unwrap() > 0, "{perf}");
    assert!(r["receiver"]["softirqs"]["cores"].as_array().unwrap().iter().any(|c| c["net_rx"].as_u64().unwrap() > 0));
    assert!(
        !r["receiver"]["netdev"]["qstats"]["unavailable"].is_null()
            || !r["receiver"]["netdev"]["qstats"]["items"].as_array().unwrap().is_empty()
    );
    let idle = &r["receiver"]["idle_states"];
    assert!(idle["unavailable"].is_string() || !idle["cores"].as_array().unwrap().is_empty(), "{idle}");
}

#[test]
fn repeat_writes_one_series_file_with_each_run_and_the_trimmed_mean() {
    need_netns!();
    let (o, out) = run_lo("repeat", &["--duration", "1s", "--warmup", "0s", "--repeat", "3"]);
    assert!(o.status.success(), "{}", text(&o));
    let s = only_result(&out);
    assert_eq!((s["kind"].as_str(), s["schema_version"].as_u64()), (Some("series"), Some(4)));
    let runs = s["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r["series"]["index"].as_u64(), Some(i as u64 + 1));
        assert_eq!(r["series"]["id"], runs[0]["series"]["id"]);
    }
    let g = &s["figures"]["gbps"];
    assert_eq!((g["n"].as_u64(), g["kept"].as_u64()), (Some(3), Some(1)));
    assert_eq!(g["trimmed_mean"], runs[1]["summary"]["gbps"], "the middle run of three");
    assert!(text(&o).contains("trimmed mean"));
}

//! Host and NIC settings through the undo journal: applied, recorded, and put
//! back exactly on every way a run can end, including SIGKILL.

mod common;
use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn lo_gro() -> String {
    let o = Command::new("ethtool").args(["-k", "lo"]).output().expect("ethtool (scripts/test installs it)");
    let t = String::from_utf8_lossy(&o.stdout).into_owned();
    let on = t.lines().any(|l| l.starts_with("generic-receive-offload: on"));
    if on { "on".into() } else { "off".into() }
}

/// Settings a lo run changes: MTU, BIG TCP, SW GRO flipped, the study sysctls, RPS.
fn lo_args(duration: &str, out: &str, gro_flip: &str) -> Vec<String> {
    [
        "--testbed",
        "lo",
        "--cpus",
        "2",
        "--mtu",
        "4148",
        "--big-tcp",
        "185000",
        "--sw-gro",
        gro_flip,
        "--sysctl",
        "study",
        "--duration",
        duration,
        "--warmup",
        "500ms",
        "--out",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn flip(v: &str) -> &'static str {
    if v == "on" { "off" } else { "on" }
}

fn spawn(args: &[String]) -> Child {
    Command::new(bin()).args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Wait until lo shows the run's settings (MTU 4148 and the study rmem_max).
fn wait_applied(child: &mut Child) {
    let t0 = Instant::now();
    loop {
        let mtu = std::fs::read_to_string("/sys/class/net/lo/mtu").unwrap();
        let rmem = std::fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap();
        if mtu.trim() == "4148" && rmem.trim() == "536870912" {
            // The last settings (RPS) follow right after the socket set-up.
            std::thread::sleep(Duration::from_millis(700));
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "zcbench ended before its settings showed");
        assert!(t0.elapsed() < Duration::from_secs(20), "settings never showed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> (i32, String) {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (st.code().unwrap_or(-1), err);
        }
        assert!(t0.elapsed() < limit, "zcbench did not exit within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn normal_end_records_every_setting_and_restores_it() {
    need_netns!();
    let before = snapshot();
    let gro = lo_gro();
    let out = tmpdir("set-normal");
    let o = zcbench(&lo_args("2s", out.to_str().unwrap(), flip(&gro)).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    assert_unchanged(&before, "a normal run");
    let r = only_result(&out);
    let ch = r["receiver"]["changes"].as_array().unwrap();
    let find = |s: &str| ch.iter().find(|c| c["setting"] == s).unwrap_or_else(|| panic!("no {s} in {ch:?}")).clone();
    assert_eq!(find("lo mtu")["read_back"], "4148");
    assert_eq!(find("lo gso_max_size")["read_back"], "185000");
    assert_eq!(find("lo gro_ipv4_max_size")["read_back"], "185000");
    assert_eq!(find("lo feature rx-gro (generic-receive-offload)")["read_back"], flip(&gro));
    assert_eq!(find("sysctl net.ipv4.tcp_rmem")["read_back"], "4096\t87380\t536870912");
    let vm = find("sysctl vm.max_map_count");
    assert_eq!(vm["read_back"], "524240");
    assert_eq!(Some(vm["old"].as_str().unwrap()), before.get("/proc/sys/vm/max_map_count"));
    // The result's device facts were taken with the settings in place.
    assert_eq!(r["receiver"]["host"]["devices"][0]["link"]["mtu"], 4148);
    assert_eq!(r["receiver"]["host"]["devices"][0]["link"]["gro_max_size"], 185000);
}

#[test]
fn run_error_after_changes_restores_them() {
    need_netns!();
    let before = snapshot();
    // The data port is taken: listen() fails after every setting was applied.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = tmpdir("set-error");
    let mut args = lo_args("2s", out.to_str().unwrap(), flip(&lo_gro()));
    args.extend(["--port".to_string(), port]);
    let o = zcbench(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).to_lowercase().contains("address already in use"), "{}", text(&o));
    drop(busy);
    assert_unchanged(&before, "a failed run");
}

#[test]
fn sigint_or_sigterm_mid_run_restores_then_exits_130() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("set-int");
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let mut child = spawn(&lo_args("30s", out.to_str().unwrap(), flip(&lo_gro())));
        wait_applied(&mut child);
        assert_ne!(snapshot().diff(&before).len(), 0, "the run changed nothing to restore");
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(child.id() as i32, sig) };
        let (code, err) = wait_exit(&mut child, Duration::from_secs(5));
        assert_eq!(code, 130, "signal {sig}: {err}");
        assert_unchanged(&before, &format!("signal {sig}"));
    }
}

#[test]
fn sigkill_mid_run_is_restored_by_the_next_start() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("set-kill");
    for testbed in ["lo", "netns"] {
        let mut args = lo_args("30s", out.to_str().unwrap(), flip(&lo_gro()));
        if testbed == "netns" {
            // The veth testbed: namespaces (and the host-wide sysctls) outlive a SIGKILL.
            args = ["--sysctl", "study", "--mtu", "4148", "--sw-gro", "on", "--duration", "30s", "--out"]
                .iter()
                .map(|s| s.to_string())
                .chain([out.display().to_string()])
                .collect();
        }
        let mut child = spawn(&args);
        if testbed == "lo" {
            wait_applied(&mut child);
        } else {
            let t0 = Instant::now();
            while std::fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap().trim() != "536870912" {
                assert!(t0.elapsed() < Duration::from_secs(20));
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_millis(1500));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let left = snapshot();
        assert!(!left.diff(&before).is_empty(), "{testbed}: SIGKILL left nothing to restore?");
        assert_ne!(left.get("journal files"), Some(""), "{testbed}: no journal left by the killed run");
        // Any zcbench command restores first.
        let o = zcbench(&["sysctl", "show"]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("ended without undoing"), "{}", text(&o));
        assert_unchanged(&before, &format!("SIGKILL on {testbed} + the next start"));
    }
}

#[test]
fn veth_testbed_applies_mtu_big_tcp_sw_gro_and_channels() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("set-veth");
    let o = zcbench(&[
        "--mtu",
        "4148",
        "--big-tcp",
        "185000",
        "--sw-gro",
        "on",
        "--channels",
        "1",
        "--duration",
        "2s",
        "--warmup",
        "500ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_unchanged(&before, "a veth run with NIC settings");
    let r = only_result(&out);
    check_sums(&r);
    let ch = r["receiver"]["changes"].as_array().unwrap();
    let get = |suffix: &str, rx: bool| {
        ch.iter()
            .find(|c| {
                let s = c["setting"].as_str().unwrap();
                s.ends_with(suffix) && s.starts_with(if rx { "zcbr" } else { "zcbs" })
            })
            .unwrap_or_else(|| panic!("no {suffix} in {ch:?}"))
            .clone()
    };
    for rx in [true, false] {
        assert_eq!(get(" mtu", rx)["read_back"], "4148");
        assert_eq!(get(" gso_max_size", rx)["read_back"], "185000");
        assert_eq!(get(" gro_max_size", rx)["read_back"], "185000");
    }
    let gro = get("feature rx-gro (generic-receive-offload)", true);
    assert_eq!(
        (gro["old"].as_str(), gro["read_back"].as_str()),
        (Some("off"), Some("on")),
        "veth GRO is off by default"
    );
    assert!(!get(" mtu", true)["netns"].is_null(), "journalled against its namespace");
    for d in r["receiver"]["host"]["devices"].as_array().unwrap() {
        assert_eq!(d["link"]["mtu"], 4148);
        assert_eq!(d["link"]["gso_max_size"], 185000);
    }
}

#[test]
fn veth_refuses_what_it_cannot_do_before_any_change() {
    need_netns!();
    let before = snapshot();
    for args in [
        vec!["--header-split", "on"],
        vec!["--hw-gro"],
        vec!["--hds-thresh", "0"],
        vec!["--rx-ring", "1024"],
        vec!["--steer-queue", "0"],
        vec!["--channels", "64"],
    ] {
        // Profile and MTU come first on the command line and still must not be applied.
        let all = [&["--sysctl", "study", "--mtu", "4148", "--duration", "2s"][..], &args].concat();
        let o = zcbench(&all);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {t}");
        assert!(t.contains("zcbr") && t.contains("driver veth"), "{args:?} must name device and driver: {t}");
        assert_unchanged(&before, &format!("refused {args:?}"));
    }
}

#[test]
fn sysctl_show_diff_apply_and_both_restores() {
    need_netns!();
    let before = snapshot();
    let o = zcbench(&["sysctl", "show"]);
    assert!(o.status.success());
    assert!(text(&o).contains("study") && text(&o).contains("mmap-copy-sender"), "{}", text(&o));
    let o = zcbench(&["sysctl", "show", "study"]);
    assert!(text(&o).contains("net.ipv4.tcp_rmem = 4096 87380 536870912"), "{}", text(&o));

    let o = zcbench(&["sysctl", "diff", "study"]);
    let t = text(&o);
    let line = t.lines().find(|l| l.starts_with("net.core.rmem_max")).unwrap_or_else(|| panic!("{t}"));
    let cur = before.get("/proc/sys/net/core/rmem_max").unwrap();
    assert!(line.contains(cur) && line.contains("536870912"), "current and profile side by side: {line}");
    assert!(line.ends_with(if cur == "536870912" { "same" } else { "differs" }), "{line}");

    for restore in [&["sysctl", "restore"][..], &["restore"][..]] {
        let o = zcbench(&["sysctl", "apply", "study"]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(std::fs::read_to_string("/proc/sys/vm/max_map_count").unwrap().trim(), "524240");
        // Held across other commands (a normal start does not undo it)...
        let o = zcbench(&["sysctl", "diff", "study"]);
        assert!(text(&o).contains("0 of 8 keys differ"), "{}", text(&o));
        // ...until asked.
        let o = zcbench(restore);
        assert!(o.status.success(), "{restore:?}: {}", text(&o));
        assert_unchanged(&before, &format!("sysctl apply + {restore:?}"));
    }
    let o = zcbench(&["sysctl", "restore"]);
    assert!(text(&o).contains("nothing to restore"), "{}", text(&o));
    let o = zcbench(&["sysctl", "diff", "nosuchprofile"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn hugepages_back_the_buffers_and_are_given_back() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("set-huge");
    let base = ["--testbed", "lo", "--duration", "1s", "--warmup", "200ms", "--out", out.to_str().unwrap()];
    // 64 MiB send + 64 MiB receive buffers need 64 huge pages: one page is too few,
    // and the mapping (MAP_HUGETLB) says so.
    let o = zcbench(&[&base[..], &["--hugepages", "1"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("huge pages"), "{}", text(&o));
    assert_unchanged(&before, "a run refused for too few huge pages");
    let o = zcbench(&[&base[..], &["--hugepages", "80"]].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert_unchanged(&before, "a huge-page run");
    let r = only_result(&out);
    let c = r["receiver"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["setting"].as_str().unwrap().ends_with("nr_hugepages"));
    let before_n: u32 = before.get("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages").unwrap().parse().unwrap();
    if before_n < 80 {
        assert_eq!(c.unwrap()["read_back"], "80");
    }
    assert!(r["flow"]["notes"].to_string().contains("huge pages"), "{}", r["flow"]["notes"]);
}

#[test]
fn a_second_zcbench_cannot_change_what_a_running_one_holds() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("set-two");
    let mut first = spawn(&lo_args("20s", out.to_str().unwrap(), flip(&lo_gro())));
    wait_applied(&mut first);
    // The second run wants lo's RPS too (its net core): refused while the first holds it.
    let o = zcbench(&["--testbed", "lo", "--cpus", "2", "--duration", "1s", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("another zcbench") && text(&o).contains("rps_cpus"), "{}", text(&o));
    // `restore` leaves a live run's changes alone and says so.
    let o = zcbench(&["restore"]);
    assert!(text(&o).contains("still running"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string("/sys/class/net/lo/mtu").unwrap().trim(), "4148", "first run untouched");
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(first.id() as i32, libc::SIGINT) };
    let (code, err) = wait_exit(&mut first, Duration::from_secs(5));
    assert_eq!(code, 130, "{err}");
    assert_unchanged(&before, "two runs, one refused");
}

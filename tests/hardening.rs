//! What a hostile first use found: sysctl keys outside /proc/sys, flows that
//! never end, Ctrl-C that did not work, results lost to a bad --out, inputs
//! accepted that should not be, and two runs disturbing each other unseen.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn profile(tag: &str, body: &str) -> String {
    let p = tmpdir(&format!("{tag}-profile")).join("p.conf");
    std::fs::write(&p, format!("# test profile\n{body}\n")).unwrap();
    p.display().to_string()
}

#[test]
fn sysctl_keys_cannot_leave_proc_sys_and_half_applied_values_are_refused() {
    need_netns!();
    let before = snapshot();
    let victim = tmpdir("escape").join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    let climb = format!("net/../../..{}", victim.display());
    let out = tmpdir("escape-out");
    for (body, why) in [
        ("net/../vm/max_map_count = 70000".to_string(), "'..'"),
        (format!("{climb} = overwritten"), "'..'"),
        ("/proc/sys/vm/max_map_count = 70000".to_string(), "absolute"),
    ] {
        let prof = profile("escape", &body);
        for args in [
            vec!["--testbed", "lo", "--duration", "1", "--sysctl", &prof, "--out", out.to_str().unwrap()],
            vec!["sysctl", "apply", &prof],
        ] {
            let o = zcbench(&args);
            let t = text(&o);
            assert_eq!(o.status.code(), Some(2), "{body} {args:?}: {t}");
            assert!(t.contains(&format!("{prof}:2: key")) && t.contains(why), "names the line: {t}");
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
            assert_unchanged(&before, &format!("{body} via {args:?}"));
        }
    }
    // A value the kernel does not take is the profile line's fault, however the
    // kernel says so: some kernels store "1 2" as "1 2 <old third>", others refuse
    // the write (EINVAL); every kernel refuses letters. Either way: exit 2 naming
    // FILE:LINE, nothing half-applied.
    for (name, body) in [("half", "net.ipv4.tcp_rmem = 1 2"), ("letters", "net.ipv4.tcp_rmem = x y z")] {
        let prof = profile(name, body);
        for args in [
            vec!["--testbed", "lo", "--duration", "1", "--sysctl", &prof, "--out", out.to_str().unwrap()],
            vec!["sysctl", "apply", &prof],
        ] {
            let o = zcbench(&args);
            let t = text(&o);
            assert_eq!(o.status.code(), Some(2), "{body} via {args:?}: {t}");
            assert!(t.contains(&format!("{prof}:2")), "names the line: {t}");
            assert!(
                t.contains("the kernel stores '") || t.contains("the kernel refuses this value"),
                "says the kernel did not take it: {t}"
            );
            assert_unchanged(&before, &format!("{body} via {args:?}"));
        }
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "no result for a refused run");
}

#[test]
fn a_flow_that_cannot_move_ends_by_itself_with_a_clear_error() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("mtu68");
    let child = spawn(&["--mtu", "68", "--duration", "1s", "--warmup", "0s", "--out", out.to_str().unwrap()]);
    let (code, t, took) = wait_for(child, Duration::from_secs(30));
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("the flow stalled") && t.contains("nothing moved for 5 s") && t.contains("pmtu 68"), "{t}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_unchanged(&before, "a stalled flow");
}

#[test]
fn a_low_mtu_leaves_no_learned_path_mtu_and_no_lost_address_behind() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("lo-mtu68");
    let o = zcbench(&[
        "--testbed",
        "lo",
        "--mtu",
        "68",
        "--duration",
        "1",
        "--warmup",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let t = text(&o);
    // Over lo at MTU 68 the flow crawls; a kernel may also stall it (exit 1).
    assert!(matches!(o.status.code(), Some(0 | 1)), "{t}");
    for fam in ["-4", "-6"] {
        let left = learned_mtus(fam, "lo");
        assert!(left.is_empty(), "`ip {fam} route show cache table all dev lo` after the run: {left:?}");
    }
    // What a user would see next: a new loopback connection gets the full MSS
    // again (with MTU 68 locked in the route cache it was 36).
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let mss = nix::sys::socket::getsockopt(&c, nix::sys::socket::sockopt::TcpMaxSeg).unwrap();
    let mtu: u32 = std::fs::read_to_string("/sys/class/net/lo/mtu").unwrap().trim().parse().unwrap();
    assert!(mss > 1000 && mss <= mtu, "MSS {mss} on a new loopback connection, lo's MTU {mtu}");
    assert_unchanged(&before, "a run at MTU 68 on lo");
}

#[test]
fn sigint_at_any_moment_ends_a_stalled_run_with_the_host_restored() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("mtu68-int");
    for ms in [30, 200, 600, 1200, 2500, 4500] {
        let child = spawn(&["--mtu", "68", "--duration", "1s", "--warmup", "0s", "--out", out.to_str().unwrap()]);
        std::thread::sleep(Duration::from_millis(ms));
        signal(&child, libc::SIGINT);
        let t0 = Instant::now();
        let (code, t, _) = wait_for(child, Duration::from_secs(15));
        assert!(t0.elapsed() < Duration::from_secs(5), "SIGINT at {ms} ms took {:?}: {t}", t0.elapsed());
        assert_eq!(code, Some(130), "SIGINT at {ms} ms: {t}");
        assert_unchanged(&before, &format!("SIGINT at {ms} ms"));
    }
}

#[test]
fn a_second_ctrl_c_right_after_the_first_still_restores_the_host() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("double-int");
    let args = ["--testbed", "lo", "--cpus", "2", "--mtu", "4148", "--sysctl", "study", "--duration", "30"];
    for ms in [300, 1500, 3000] {
        let child = spawn(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
        std::thread::sleep(Duration::from_millis(ms));
        signal(&child, libc::SIGINT);
        std::thread::sleep(Duration::from_millis(10));
        signal(&child, libc::SIGINT);
        let (code, t, _) = wait_for(child, Duration::from_secs(10));
        assert_eq!(code, Some(130), "two SIGINTs at {ms} ms: {t}");
        assert_unchanged(&before, &format!("two SIGINTs 10 ms apart at {ms} ms"));
    }
    // Given up before its result was made, a run writes nothing; one whose
    // result was already made when the second came keeps it, marked.
    for f in std::fs::read_dir(&out).unwrap() {
        let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap();
        assert_eq!(r["interrupted"], true);
    }
}

#[test]
fn ctrl_c_keeps_what_was_measured_as_a_result_marked_interrupted() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("keep-int");
    let child = spawn(&["--testbed", "lo", "--duration", "30", "--warmup", "0.5", "--out", out.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(2800));
    signal(&child, libc::SIGINT);
    let (code, t, _) = wait_for(child, Duration::from_secs(10));
    assert_eq!(code, Some(130), "{t}");
    assert!(t.contains("INTERRUPTED") && t.contains("the result holds what was measured"), "{t}");
    let r = only_result(&out);
    assert_eq!(r["interrupted"], true);
    assert_eq!(r["schema_version"], 4);
    let measured = r["summary"]["measured_s"].as_f64().unwrap();
    assert!((1.0..3.0).contains(&measured), "measured {measured} s");
    check_sums(&r);
    assert_unchanged(&before, "an interrupted run");
}

#[test]
fn unwritable_out_is_refused_before_anything_changes_and_a_result_is_never_lost() {
    need_netns!();
    let before = snapshot();
    let file = tmpdir("out-file").join("a-file");
    std::fs::write(&file, "x").unwrap();
    for out in [file.to_str().unwrap(), "/proc/zcbench-results"] {
        let t0 = Instant::now();
        let o = zcbench(&["--sysctl", "study", "--duration", "1", "--out", out]);
        assert_eq!(o.status.code(), Some(2), "--out {out}: {}", text(&o));
        assert!(text(&o).contains(&format!("--out {out}")), "{}", text(&o));
        assert!(t0.elapsed() < Duration::from_secs(3), "refused before the run, not after it");
        assert_unchanged(&before, &format!("--out {out}"));
    }
    // A read-only mount, in a mount namespace of its own.
    let ro = tmpdir("out-ro");
    let script = format!("mount -t tmpfs -o ro none {0} && exec {1} --duration 1 --out {0}", ro.display(), bin());
    let o = Command::new("unshare").args(["-m", "--propagation", "private", "sh", "-c", &script]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("Read-only file system"), "{}", text(&o));
    // The directory goes away mid-run: the result goes to the fallback, and --json still prints it.
    let gone = tmpdir("out-gone");
    let child =
        spawn(&["--testbed", "lo", "--duration", "2", "--warmup", "0", "--json", "--out", gone.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(800));
    std::fs::remove_dir_all(&gone).unwrap();
    std::fs::write(&gone, "now a file").unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("the JSON result on stdout");
    assert_eq!(json["topology"], "lo");
    let fallback = err.split("written to ").nth(1).and_then(|s| s.split(" instead").next()).expect(&err);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fallback).unwrap()).unwrap();
    assert_eq!(saved, json, "the fallback file holds the result");
    let _ = std::fs::remove_file(fallback);
    let _ = std::fs::remove_file(&gone);
    assert_unchanged(&before, "--out removed mid-run");
}

#[test]
fn inputs_that_make_no_sense_are_refused_with_a_proper_message() {
    need_netns!();
    let before = snapshot();
    let cases: &[(&[&str], &str)] = &[
        (&["--duration", "-1"], "negative"),
        (&["--mss", "-5"], "negative"),
        (&["--hugepages", "0"], "at least 1"),
        (&["--hugepages", "-3"], "negative"),
        (&["server", "--max-duration", "0s", "--once"], "--max-duration 0"),
        (&["server", "--max-buffer", "0", "--once"], "--max-buffer 0"),
        (&["client", "-6", "--server", "127.0.0.1"], "-6 asks for IPv6"),
    ];
    for (args, msg) in cases {
        let o = zcbench(args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(msg) && !t.contains("unexpected argument"), "{args:?} should say '{msg}': {t}");
        assert_unchanged(&before, &format!("{args:?}"));
    }
}

#[test]
fn durations_without_a_unit_are_seconds_and_intervals_are_shown_as_they_come() {
    need_netns!();
    let out = tmpdir("units");
    let o = zcbench(&["--testbed", "lo", "--duration", "2", "--warmup", "0.5", "--out", out.to_str().unwrap()]);
    let t = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    assert_eq!((r["flow"]["duration_s"].as_f64(), r["flow"]["warmup_s"].as_f64()), (Some(2.0), Some(0.5)));
    // A header and one line per interval (one warm-up, two measured), before the table.
    let lines: Vec<&str> = t.lines().take_while(|l| !l.starts_with("zcbench ")).collect();
    assert_eq!(lines.len(), 4, "{t}");
    assert!(lines[0].contains("Gbit/s") && lines[1].ends_with("(warm-up)"), "{t}");
    let o = zcbench(&["--testbed", "lo", "--duration", "1", "--quiet", "--out", out.to_str().unwrap()]);
    assert!(o.status.success() && o.stdout.is_empty(), "--quiet prints nothing: {}", text(&o));
}

#[test]
fn two_runs_at_once_both_say_they_disturbed_each_other() {
    need_netns!();
    let before = snapshot();
    let (a, b) = (tmpdir("two-a"), tmpdir("two-b"));
    let first = spawn(&["--duration", "3", "--warmup", "0.5", "--out", a.to_str().unwrap()]);
    let second = spawn(&["--duration", "3", "--warmup", "0.5", "--out", b.to_str().unwrap()]);
    for (child, dir) in [(first, &a), (second, &b)] {
        let (code, t, _) = wait_for(child, Duration::from_secs(30));
        assert_eq!(code, Some(0), "{t}");
        assert!(t.contains("another zcbench is measuring on this host"), "on screen: {t}");
        let r = only_result(dir);
        let others = r["other_zcbench"].as_array().unwrap_or_else(|| panic!("not in the result: {r}"));
        assert!(others[0].as_str().unwrap().starts_with("pid "), "{others:?}");
    }
    // Alone, nothing is said.
    let c = tmpdir("two-c");
    let o = zcbench(&["--testbed", "lo", "--duration", "1", "--out", c.to_str().unwrap()]);
    assert!(!text(&o).contains("another zcbench") && only_result(&c).get("other_zcbench").is_none());
    assert_unchanged(&before, "two runs at once");
}

#[test]
fn hugepages_auto_reserves_what_the_buffers_need() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("huge-auto");
    let o = zcbench(&["--testbed", "lo", "--hugepages", "auto", "--duration", "1", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    // 64 MiB receive buffer + 64 MiB message: 64 pages of 2 MiB.
    assert!(text(&o).contains("huge pages: 64 x 2 MiB"), "{}", text(&o));
    let had: u32 = before.get("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages").unwrap().parse().unwrap();
    if had < 64 {
        let c = r["receiver"]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["setting"].as_str().unwrap().ends_with("nr_hugepages"))
            .cloned();
        assert_eq!(c.unwrap()["read_back"], "64");
    }
    assert_unchanged(&before, "--hugepages auto");
}

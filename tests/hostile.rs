//! A second hostile first use: power commands that hang or leave children,
//! power logs that would have thrown a run away, durations without bounds,
//! report inputs without bounds (/dev/zero, huge files, symlink loops),
//! Markdown that carried HTML, nonsense accepted, unclear messages, and
//! signals (SIGHUP, SIGQUIT, a closed stdout) that left the host changed.
//!
//! Each test was shown failing on the build before these fixes:
//! `ZCBENCH_TEST_BIN=/path/to/old/zcbench cargo test --release --test hostile`.

mod common;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Processes `sleep TAG` (TAG a number no other process uses), killed when
/// dropped: a failing test leaves none of what its zcbench started.
struct Sleeps(String);

impl Sleeps {
    fn new(n: u32) -> Sleeps {
        Sleeps(format!("{}.{}{n}", 300 + n, std::process::id()))
    }

    fn running(&self) -> Vec<i32> {
        let want = format!("sleep\0{}\0", self.0);
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == want.as_bytes()))
            .collect()
    }

    /// None left running, after a moment for the kernel to reap them.
    fn assert_none(&self, what: &str) {
        let t0 = Instant::now();
        while !self.running().is_empty() && t0.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(self.running(), Vec::<i32>::new(), "{what}: `sleep {}` left running", self.0);
    }
}

impl Drop for Sleeps {
    fn drop(&mut self) {
        for p in self.running() {
            // SAFETY: a `sleep` with this test's own argument, started by the zcbench it ran.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }
}

fn lo_args<'a>(out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["--testbed", "lo", "--out", out.to_str().unwrap()];
    a.extend_from_slice(extra);
    a
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// 25.1: a power command whose background child keeps its stdout open: the
/// reading has a hard deadline, Ctrl-C is honoured, nothing is left running.
#[test]
fn a_power_command_that_keeps_its_output_open_cannot_hold_the_run_or_ctrl_c() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("pcmd-open");
    let sleeps = Sleeps::new(1);
    let cmd = format!("sleep {} & echo 7", sleeps.0);
    // Ctrl-C 1 s in (during the check before the run): exit 130 within 2 s.
    let child = spawn(&lo_args(&out, &["--duration", "3", "--warmup", "0.3", "--power-cmd", &cmd]));
    std::thread::sleep(Duration::from_secs(1));
    signal(&child, libc::SIGINT);
    let t0 = Instant::now();
    let (code, t, _) = wait_for(child, Duration::from_secs(20));
    let took = t0.elapsed();
    assert_eq!(code, Some(130), "{t}");
    assert!(took < Duration::from_secs(2), "exit {took:?} after SIGINT: {t}");
    sleeps.assert_none("Ctrl-C during the check");
    assert_unchanged(&before, "Ctrl-C during a hanging power command");
    // Without Ctrl-C the check gives up at --power-timeout (2 s): refused, nothing run.
    let (code, t, took) =
        wait_for(spawn(&lo_args(&out, &["--duration", "3", "--power-cmd", &cmd])), Duration::from_secs(20));
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("output stayed open past the 2000 ms timeout"), "{t}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    sleeps.assert_none("refused at the check");
    assert_eq!(files_in(&out), 0, "{t}");
    // One that turns bad after the check: the run ends on time, its readings missing.
    let n = out.join("calls");
    let cmd = format!("[ -e {0} ] && sleep {1} & touch {0}; echo 7", n.display(), sleeps.0);
    let child = spawn(&lo_args(&out, &["--duration", "2", "--warmup", "0.5", "--power-cmd", &cmd]));
    let (code, t, took) = wait_for(child, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{t}");
    assert!(took < Duration::from_secs(5), "a 2.5 s run took {took:?}: {t}");
    let _ = std::fs::remove_file(&n);
    let r = only_result(&out);
    let window: Vec<&Value> =
        r["receiver"]["samples"].as_array().unwrap().iter().filter(|s| s["warmup"] == false).collect();
    assert!(window.iter().all(|s| s["power_w"][0].is_null()), "readings are missing, not 0: {window:?}");
    let errors = r["receiver"]["power_sources"][0]["errors"].to_string();
    assert!(errors.contains("output stayed open") || errors.contains("slower than --interval"), "{errors}");
    sleeps.assert_none("a run whose command turned bad");
    assert_unchanged(&before, "a run whose power command turned bad");
}

/// 25.2: a command that runs past its timeout is killed with everything it
/// started, even when it ignores SIGTERM.
#[test]
fn a_power_command_that_times_out_is_killed_with_its_process_group() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("pcmd-group");
    let sleeps = Sleeps::new(2);
    for cmd in [format!("sleep {}", sleeps.0), format!("trap '' TERM INT; sleep {}; echo 5", sleeps.0)] {
        let args = lo_args(&out, &["--duration", "1", "--power-timeout", "300ms", "--power-cmd", &cmd]);
        let (code, t, took) = wait_for(spawn(&args), Duration::from_secs(20));
        sleeps.assert_none(&cmd);
        assert_eq!(code, Some(2), "{cmd}: {t}");
        assert!(t.contains("longer than 300 ms and was killed with its process group"), "{cmd}: {t}");
        assert!(took < Duration::from_secs(3), "{cmd}: {took:?}");
    }
    assert_unchanged(&before, "power commands that time out");
}

/// 25.3: a power log that is not a log is refused before the run; one that
/// goes bad during the run costs the result nothing.
#[test]
fn a_malformed_power_log_is_refused_before_the_run_and_never_costs_the_result() {
    need_netns!();
    let before = snapshot();
    let dir = tmpdir("plog");
    let out = dir.join("out");
    let garbage = dir.join("garbage.csv");
    std::fs::write(&garbage, "garbage\n1700000000,5\n").unwrap();
    let binary = dir.join("binary.csv");
    std::fs::write(&binary, (0..=255u8).cycle().take(65536).collect::<Vec<u8>>()).unwrap();
    for (log, why) in [(&garbage, "line 1: expected 'timestamp,watts'"), (&binary, "line 1 is not text")] {
        let args = lo_args(&out, &["--duration", "2", "--power-log", log.to_str().unwrap()]);
        let (code, t, took) = wait_for(spawn(&args), Duration::from_secs(30));
        assert_eq!(code, Some(2), "{t}");
        assert!(t.contains(&format!("--power-log {}: {why}", log.display())), "{t}");
        assert!(took < Duration::from_secs(2), "refused before the run, not after it: {took:?}");
        assert_eq!(files_in(&out), 0);
    }
    // Good when the run starts, garbage written into it while it runs.
    let log = dir.join("meter.csv");
    std::fs::write(&log, "time,watts\n").unwrap();
    let child = spawn(&lo_args(&out, &["--duration", "2", "--warmup", "0.5", "--power-log", log.to_str().unwrap()]));
    std::thread::sleep(Duration::from_millis(1200));
    std::fs::write(&log, "time,watts\n1700000000,5\ngarbage\n").unwrap();
    let (code, t, _) = wait_for(child, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("the result is kept with this power source marked failing"), "{t}");
    let r = only_result(&out);
    let src = &r["receiver"]["power_sources"][0];
    assert_eq!(src["name"], "log");
    assert!(src["errors"][0]["message"].as_str().unwrap().contains("line 3"), "{src}");
    assert!(r["receiver"]["samples"].as_array().unwrap().iter().all(|s| s["power_w"][0].is_null()));
    assert!(r["summary"]["gbps"].as_f64().unwrap() > 0.0);
    assert_unchanged(&before, "power logs");
}

/// 25.4 and 18.9: every duration has a bound, and an idle measurement hears Ctrl-C.
#[test]
fn every_duration_is_bounded_and_an_idle_measurement_hears_ctrl_c() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("bounds");
    let o = out.to_str().unwrap();
    let lo = ["--testbed", "lo", "--out", o, "--power-cmd", "echo 5"];
    let cases: &[(&[&str], &str)] = &[
        (&[&lo[..], &["--measure-idle", "1000h"]].concat(), "--measure-idle 3600000s"),
        (&[&lo[..], &["--measure-idle", "3600000"]].concat(), "more than 1h"),
        (&[&lo[..], &["--power-timeout", "1h"]].concat(), "--power-timeout 1h"),
        (&["server", "--max-duration", "1000d", "--once"], "--max-duration 86400000s"),
        (&[&lo[..], &["--duration", "2d"]].concat(), "more than a day"),
    ];
    for (args, msg) in cases {
        let (code, t, _) = wait_for(spawn(args), Duration::from_secs(10));
        assert_eq!(code, Some(2), "{args:?}: {t}");
        assert!(t.contains(msg), "{args:?} should say '{msg}': {t}");
        assert_unchanged(&before, &format!("{args:?}"));
    }
    let args = lo_args(&out, &["--power-cmd", "echo 5", "--measure-idle", "30", "--duration", "1"]);
    let child = spawn(&args);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, libc::SIGINT);
    let t0 = Instant::now();
    let (code, t, _) = wait_for(child, Duration::from_secs(40));
    assert_eq!(code, Some(130), "{t}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}: {t}", t0.elapsed());
    assert_unchanged(&before, "Ctrl-C while measuring idle power");
}

/// zcbench report with an address-space limit (so an unbounded read fails
/// fast instead of taking the machine's memory): exit code, output, and the
/// peak resident memory in MiB. (The child is reaped by wait4, which gives
/// its own rusage; clippy only knows `Child::wait`.)
#[allow(clippy::zombie_processes)]
fn report_measured(args: &[&str], limit: Duration) -> (Option<i32>, String, u64) {
    let mut cmd = Command::new(bin());
    cmd.arg("report").args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: 2 << 30, rlim_max: 2 << 30 };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id() as i32;
    let read = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = read(child.stdout.take().map(|s| Box::new(s) as _));
    let err = read(child.stderr.take().map(|s| Box::new(s) as _));
    let t0 = Instant::now();
    // SAFETY: rusage is plain data; all zeroes is a valid value.
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    loop {
        // SAFETY: waiting for our own child; `usage` is a valid rusage to fill.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("report {args:?} still running after {limit:?}: {}", err.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let text = format!("{}{}", out.join().unwrap(), err.join().unwrap());
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, text, usage.ru_maxrss as u64 / 1024)
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// 25.5: /dev/zero, a 500 MB file, a corrupt result among good ones, 3 000
/// results: bounded memory, a clear message or a report; bad files skipped
/// and named, `--strict` fails on them.
#[test]
fn report_input_is_bounded_and_a_bad_file_is_skipped_by_name() {
    let dir = tmpdir("report-bounds");
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    let (code, t, mib) = report_measured(&["/dev/zero", "--out", o], Duration::from_secs(20));
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("/dev/zero: not a regular file"), "{t}");
    assert!(mib < 64, "/dev/zero: {mib} MiB");
    let big = dir.join("big.json");
    std::fs::File::create(&big).unwrap().set_len(500_000_000).unwrap();
    let good = dir.join("good");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::copy(data("result-v3-netns-power.json"), good.join("a.json")).unwrap();
    let text = std::fs::read_to_string(data("result-v2-netns.json")).unwrap();
    std::fs::write(good.join("cut.json"), &text[..text.len() / 2]).unwrap();
    let (code, t, mib) = report_measured(&[big.to_str().unwrap(), "--out", o], Duration::from_secs(20));
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("big.json: 476 MiB, more than the 256 MiB a result file can be"), "{t}");
    assert!(mib < 64, "a 500 MB file: {mib} MiB");
    let args = [good.to_str().unwrap(), big.to_str().unwrap(), "--out", o, "-q"];
    let (code, t, _) = report_measured(&args, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("skipped") && t.contains("cut.json") && t.contains("2 of 3 files were skipped"), "{t}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Input files skipped") && md.contains("cut.json"), "named in the report too");
    let (code, t, _) = report_measured(&[&args[..], &["--strict"]].concat(), Duration::from_secs(30));
    assert_eq!(code, Some(1), "--strict: {t}");
    // 3 000 results (a study's worth): a report, in bounded memory.
    let many = dir.join("many");
    std::fs::create_dir_all(&many).unwrap();
    let v3 = std::fs::read_to_string(data("result-v3-netns-power.json")).unwrap();
    for i in 0..3000 {
        std::fs::write(many.join(format!("r{i:04}.json")), &v3).unwrap();
    }
    let (code, t, mib) = report_measured(&[many.to_str().unwrap(), "--out", o, "-q"], Duration::from_secs(120));
    assert_eq!(code, Some(0), "{t}");
    eprintln!("report over 3000 results: peak {mib} MiB");
    assert!(mib < 1024, "3000 results: {mib} MiB");
    let _ = std::fs::remove_dir_all(&dir);
}

/// 18.8 (and 25.8's report on SIGTERM): a symlink loop is walked once, depth
/// is bounded, and SIGINT and SIGTERM end a report with words that fit it.
#[test]
fn report_walks_a_symlink_loop_once_and_ends_on_a_signal_with_its_own_message() {
    let dir = tmpdir("report-loop");
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    let res = dir.join("results");
    std::fs::create_dir_all(res.join("sub")).unwrap();
    std::fs::copy(data("result-v3-netns-power.json"), res.join("a.json")).unwrap();
    std::os::unix::fs::symlink(".", res.join("self")).unwrap();
    std::os::unix::fs::symlink("..", res.join("sub").join("up")).unwrap();
    let (code, t, mib) = report_measured(&[res.to_str().unwrap(), "--out", o], Duration::from_secs(20));
    assert_eq!(code, Some(0), "{t}");
    assert!(mib < 128, "{mib} MiB");
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "one result, read once: {csv}");
    let mut deep = dir.join("deep");
    for i in 0..40 {
        deep = deep.join(format!("d{i}"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    let (code, t, _) = report_measured(&[dir.join("deep").to_str().unwrap(), "--out", o], Duration::from_secs(20));
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("more than 32 directories deep"), "{t}");
    // Enough results that a report takes a while; a signal 300 ms in ends it.
    let many = dir.join("many");
    std::fs::create_dir_all(&many).unwrap();
    let v3 = std::fs::read_to_string(data("result-v3-netns-power.json")).unwrap();
    for i in 0..3000 {
        std::fs::write(many.join(format!("r{i:04}.json")), &v3).unwrap();
    }
    std::os::unix::fs::symlink(".", many.join("loop")).unwrap();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let child = Command::new(bin())
            .args(["report", many.to_str().unwrap(), "--out", o])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        signal(&child, sig);
        let t0 = Instant::now();
        let (code, t, _) = wait_for(child, Duration::from_secs(60));
        assert_eq!(code, Some(130), "signal {sig}: {t}");
        assert!(t0.elapsed() < Duration::from_secs(2), "signal {sig}: {:?}", t0.elapsed());
        assert!(t.contains("stopping the report") && t.contains("no report written"), "{t}");
        assert!(!t.contains("host settings") && !t.contains("what was measured"), "the run's words: {t}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// 25.6: report.md over results whose strings hold HTML and `|`, rendered by
/// a CommonMark renderer: no live tag or event handler, every table row as
/// wide as its header, the hostile text shown as text.
#[test]
fn report_md_carries_no_live_html_and_its_tables_hold() {
    let dir = tmpdir("report-md");
    let (res, out) = (dir.join("results"), dir.join("out"));
    std::fs::create_dir_all(&res).unwrap();
    let base: Value =
        serde_json::from_str(&std::fs::read_to_string(data("result-v3-netns-power.json")).unwrap()).unwrap();
    let evil = ["<script>alert(9)</script>", "<img src=x onerror=alert(1)>|a|b", "[x](javascript:alert(3))"];
    for (i, e) in evil.iter().enumerate() {
        let mut r = base.clone();
        let h = &mut r["receiver"]["host"];
        h["hostname"] = format!("host{i}{e}").into();
        h["kernel"] = format!("6.18{e}").into();
        h["cpu_model"] = format!("CPU | {e}").into();
        h["sysctls"][format!("net.core.x{i}|<b>")] = format!("1 | {e}").into();
        r["timestamp"] = format!("2026-11-22T04:49:3{i}Z<i>").into();
        std::fs::write(res.join(format!("r{i}.json")), serde_json::to_string(&r).unwrap()).unwrap();
    }
    let title = "# <script>alert(9)</script> | t";
    let o = zcbench(&["report", res.to_str().unwrap(), "--out", out.to_str().unwrap(), "--title", title, "-q"]);
    assert!(o.status.success(), "{}", text(&o));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let mut opts = pulldown_cmark::Options::empty();
    opts.insert(pulldown_cmark::Options::ENABLE_TABLES);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new_ext(&md, opts));
    check_rendered(&html, "pulldown-cmark (CommonMark, GFM tables)");
    // Python-Markdown (what many documentation sites use), from PyPI into .cache/.
    let venv = Command::new("scripts/py-venv").args(["markdown", "markdown==3.*", "python3"]).output().unwrap();
    if venv.status.success() {
        let py = String::from_utf8_lossy(&venv.stdout).trim().to_string();
        let script = "import sys, markdown; print(markdown.markdown(sys.stdin.read(), extensions=['tables']))";
        let mut child =
            Command::new(py).args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), md.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success());
        check_rendered(&String::from_utf8_lossy(&o.stdout), "Python-Markdown");
    } else {
        eprintln!("SKIPPED: Python-Markdown: {}", String::from_utf8_lossy(&venv.stderr));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// HTML rendered from report.md: no live tag, event handler or script link,
/// every table row as wide as its header, the hostile text shown as text.
fn check_rendered(html: &str, by: &str) {
    let doc = scraper::Html::parse_fragment(html);
    let all = scraper::Selector::parse("*").unwrap();
    for el in doc.select(&all) {
        let v = el.value();
        assert!(!["script", "iframe", "object", "embed", "b", "i"].contains(&v.name()), "{by}: live <{}>", v.name());
        assert!(v.attrs().all(|(k, _)| !k.starts_with("on")), "{by}: event handler on <{}>", v.name());
        if v.name() == "img" {
            assert!(v.attr("src").is_some_and(|s| s.starts_with("figures/")), "{by}: {:?}", v.attr("src"));
        }
        if v.name() == "a" {
            assert!(!v.attr("href").unwrap_or("").contains("javascript"), "{by}: a live link");
        }
    }
    let tables = scraper::Selector::parse("table").unwrap();
    let rows = scraper::Selector::parse("tr").unwrap();
    let cells = scraper::Selector::parse("th, td").unwrap();
    let mut n = 0;
    for t in doc.select(&tables) {
        let widths: Vec<usize> = t.select(&rows).map(|r| r.select(&cells).count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{by}: a table broken by '|': {widths:?}");
        n += 1;
    }
    assert!(n >= 3, "{by}: {n} tables");
    let shown: String = doc.root_element().text().collect();
    for s in [
        "# <script>alert(9)</script> | t",
        "6.18<img src=x onerror=alert(1)>|a|b",
        "CPU | [x](javascript:alert(3))",
        "net.core.x0|<b>",
        "1 | <script>alert(9)</script>",
        "2026-11-22T04:49:31Z<i>",
    ] {
        assert!(shown.contains(s), "{by}: '{s}' is shown as text");
    }
}

/// 25.7: nonsense is refused before anything runs, and a result holding
/// impossible values is not reported.
#[test]
fn nonsense_is_refused() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("nonsense");
    let cases: &[(&[&str], &str)] = &[
        (&["--duration", "1ns"], "shorter than one --interval"),
        (&["--interval", "10s", "--duration", "1"], "--duration 1s is shorter than one --interval (10s)"),
        (&["--mode", "txrx-zc", "--tx-mode", "copy", "--duration", "1"], "--tx-mode copy is not"),
    ];
    for (args, msg) in cases {
        let (code, t, _) = wait_for(spawn(&lo_args(&out, args)), Duration::from_secs(20));
        assert_eq!(code, Some(2), "{args:?}: {t}");
        assert!(t.contains(msg), "{args:?} should say '{msg}': {t}");
    }
    assert_eq!(files_in(&out), 0);
    assert_unchanged(&before, "nonsense");
    let base: Value =
        serde_json::from_str(&std::fs::read_to_string(data("result-v3-netns-power.json")).unwrap()).unwrap();
    for (field, value, msg) in [
        ("gbps", Value::from(-5.0), "summary.gbps is -5"),
        ("topology", Value::from("moon"), "topology 'moon' is not one zcbench runs"),
    ] {
        let mut r = base.clone();
        match field {
            "gbps" => r["summary"]["gbps"] = value,
            _ => r["topology"] = value,
        }
        let f = out.join(format!("{field}.json"));
        std::fs::write(&f, serde_json::to_string(&r).unwrap()).unwrap();
        let o = zcbench(&["report", f.to_str().unwrap(), "--out", out.join("rep").to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{field}: {}", text(&o));
        assert!(text(&o).contains(msg), "{field}: {}", text(&o));
    }
}

/// 25.8: what was unclear now says what is wrong, before anything changes.
#[test]
fn unclear_inputs_get_messages_that_say_what_is_wrong() {
    need_netns!();
    let before = snapshot();
    let dir = tmpdir("unclear");
    let out = dir.join("out");
    let drop = dir.join("drop.conf");
    std::fs::write(&drop, "# a write-only key\nvm.drop_caches = 3\n").unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--idle-power", "-50"], 2, "--idle-power -50: must be a number of watts"),
        (&["--roi-m", "-inf"], 2, "--roi-m -inf: must be between 0 and 10"),
        (&["--measure-idle", "-5"], 2, "negative"),
        (&["--sysctl", "/dev/zero"], 2, "/dev/zero: not a regular file"),
        (
            &["--sysctl", drop.to_str().unwrap()],
            2,
            &format!("{}:2: key 'vm.drop_caches' is write-only", drop.display()),
        ),
    ];
    for (args, want, msg) in cases {
        let (code, t, took) =
            wait_for(spawn(&lo_args(&out, &[args, &["--duration", "1"][..]].concat())), Duration::from_secs(20));
        assert_eq!(code, Some(*want), "{args:?}: {t}");
        assert!(t.contains(msg) && !t.contains("unexpected argument"), "{args:?} should say '{msg}': {t}");
        assert!(took < Duration::from_secs(2), "{args:?}: refused before the run, took {took:?}");
        assert_unchanged(&before, &format!("{args:?}"));
    }
    // NaN in a result: said as such, not "no schema_version".
    let nan = dir.join("nan.json");
    let v3 = std::fs::read_to_string(data("result-v3-netns-power.json")).unwrap();
    std::fs::write(&nan, v3.replacen("\"gbps\": ", "\"gbps\": NaN, \"x\": ", 1)).unwrap();
    let o = zcbench(&["report", nan.to_str().unwrap(), "--out", dir.join("rep").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not valid JSON") && text(&o).contains("NaN"), "{}", text(&o));
    assert!(!text(&o).contains("no schema_version"), "{}", text(&o));
    // -6 over a loopback without ::1: refused before the run (exit 3), not at bind time.
    let ns = format!("zcbt-{}-no6", std::process::id());
    let ip = |a: &[&str]| assert!(Command::new("ip").args(a).status().unwrap().success(), "ip {a:?}");
    ip(&["netns", "add", &ns]);
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            "sh",
            "-c",
            "ip link set lo up && echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6 && exec \"$0\" \"$@\"",
        ])
        .args([bin(), "-6", "--testbed", "lo", "--duration", "1", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    ip(&["netns", "del", &ns]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("cannot use ::1") && text(&o).contains("disable_ipv6"), "{}", text(&o));
    assert_eq!(files_in(&out), 0);
    assert_unchanged(&before, "unclear inputs");
}

/// 18.6: SIGHUP (a dropped ssh session), SIGQUIT (Ctrl-\) and a stdout
/// closed by its reader stop a run as SIGTERM does: host restored, what was
/// measured kept.
#[test]
fn sighup_sigquit_and_a_closed_stdout_stop_a_run_like_sigterm() {
    need_netns!();
    let before = snapshot();
    let args = ["--testbed", "lo", "--cpus", "2", "--sysctl", "study", "--duration", "30", "--warmup", "0.5"];
    for (sig, name) in [(libc::SIGHUP, "SIGHUP"), (libc::SIGQUIT, "SIGQUIT")] {
        let out = tmpdir(&format!("sig-{name}"));
        let child = spawn(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
        std::thread::sleep(Duration::from_millis(2500));
        signal(&child, sig);
        let (code, t, _) = wait_for(child, Duration::from_secs(15));
        assert_eq!(code, Some(130), "{name}: {t}");
        assert_unchanged(&before, name);
        let r = only_result(&out);
        assert_eq!(r["interrupted"], true, "{name}");
        assert!(r["summary"]["measured_s"].as_f64().unwrap() > 1.0, "{name}");
    }
    // stdout a pipe whose reader goes away after the first line.
    let out = tmpdir("sig-pipe");
    let mut child = Command::new(bin())
        .args([&args[..], &["--interval", "200ms", "--out", out.to_str().unwrap()]].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    drop(stdout);
    let t0 = Instant::now();
    let (code, t, _) = wait_for(child, Duration::from_secs(15));
    assert_eq!(code, Some(130), "{t}");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(t.contains("stdout was closed by its reader"), "{t}");
    assert_unchanged(&before, "a closed stdout");
    assert_eq!(only_result(&out)["interrupted"], true);
}

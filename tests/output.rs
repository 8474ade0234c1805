//! Output never holds up the measurement: with stdout a full pipe that nobody
//! reads (a stopped pager, a stuck ssh session), the window still ends on
//! time, every interval is as long as asked, and Ctrl-C is honoured at once.
//! `--json-stream` is read line by line while the run goes, and a stuck
//! reader of it holds nothing up either.

mod common;
use common::*;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A pipe whose buffer is already full: (read end, kept and never read; write end).
fn full_pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here only.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let fd = w.as_raw_fd();
    // SAFETY: fcntl and write on a descriptor we own, from a live buffer.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        let junk = [b'x'; 4096];
        while libc::write(fd, junk.as_ptr().cast(), junk.len()) > 0 {}
        // The child must block on it, as on any stuck reader.
        libc::fcntl(fd, libc::F_SETFL, flags);
    }
    (r, w)
}

/// zcbench over loopback with stdout into a full pipe and stderr into a file.
fn start(tag: &str, duration: &str, extra: &[&str]) -> (Child, OwnedFd, std::path::PathBuf, std::path::PathBuf) {
    let out = tmpdir(tag);
    let err = out.with_extension("stderr");
    let (r, w) = full_pipe();
    let child = Command::new(bin())
        .args(["--testbed", "lo", "--warmup", "0", "--interval", "10ms", "--duration", duration])
        .args(["--out", out.to_str().unwrap()])
        .args(extra)
        .stdout(Stdio::from(w))
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    (child, r, out, err)
}

fn sigint(c: &Child) {
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
}

/// Wait up to `limit` for the child to end.
fn ends_within(c: &mut Child, limit: Duration) -> Option<(std::process::ExitStatus, Duration)> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(s) = c.try_wait().unwrap() {
            return Some((s, t0.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A run that never finished is stopped, its changes restored, before the test fails.
fn put_down(c: &mut Child) {
    sigint(c);
    if ends_within(c, Duration::from_secs(5)).is_none() {
        let _ = c.kill();
        let _ = c.wait();
        let _ = zcbench(&["restore"]);
    }
}

/// Ctrl-C, then the child must end within a second with exit 130: how long it
/// took and what it said on stderr.
fn ctrl_c_ends_it(child: &mut Child, err: &std::path::Path) -> (Duration, String) {
    sigint(child);
    let ended = ends_within(child, Duration::from_secs(1));
    let said = std::fs::read_to_string(err).unwrap_or_default();
    if ended.is_none() {
        put_down(child);
    }
    let (status, took) = ended.unwrap_or_else(|| panic!("Ctrl-C not honoured within 1 s: {said}"));
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    (took, said)
}

fn result_in(dir: &std::path::Path, limit: Duration) -> Option<serde_json::Value> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(Ok(e)) = std::fs::read_dir(dir).ok().and_then(|mut d| d.next()) {
            // Written whole through a rename; read it once it parses.
            if let Ok(v) = serde_json::from_slice(&std::fs::read(e.path()).unwrap_or_default()) {
                return Some(v);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn a_stdout_nobody_reads_never_holds_up_the_window() {
    need_netns!();
    let before = snapshot();
    let (mut child, _reader, out, err) = start("stuck-stdout", "3", &[]);
    let r = result_in(&out, Duration::from_secs(15));
    let Some(r) = r else {
        put_down(&mut child);
        panic!("no result 15 s into a 3 s run: {}", std::fs::read_to_string(&err).unwrap_or_default());
    };
    let window = r["summary"]["measured_s"].as_f64().unwrap();
    assert!((window - 3.0).abs() <= 0.3, "window {window} s");
    let dts: Vec<f64> =
        r["receiver"]["samples"].as_array().unwrap().iter().map(|s| s["dt_s"].as_f64().unwrap()).collect();
    let longest = dts.iter().copied().fold(0.0, f64::max);
    assert!(longest <= 1.5, "an interval of {longest} s");
    assert!(dts.len() > 100, "{} samples at 10 ms", dts.len());
    // The interval lines past what the queue holds were dropped, and counted.
    assert!(r["output_lines_dropped"].as_u64().unwrap_or(0) > 0, "{}", r["output_lines_dropped"]);
    // Its table still waits for the reader; Ctrl-C ends that wait at once.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "it gave up on its reader without being told");
    let (took, said) = ctrl_c_ends_it(&mut child, &err);
    assert!(said.contains("lines of output were dropped"), "{said}");
    let dropped = r["output_lines_dropped"].as_u64().unwrap_or(0);
    eprintln!(
        "window {window:.3} s, longest interval {longest:.3} s, {dropped} lines dropped, Ctrl-C honoured in {took:?}"
    );
    assert_unchanged(&before, "a run with a stuck stdout");
}

#[test]
fn ctrl_c_mid_run_is_honoured_within_a_second_with_stdout_stuck() {
    need_netns!();
    let before = snapshot();
    let (mut child, _reader, out, err) = start("stuck-sigint", "30", &[]);
    std::thread::sleep(Duration::from_millis(2500));
    let (took, said) = ctrl_c_ends_it(&mut child, &err);
    let r = only_result(&out);
    assert_eq!(r["interrupted"], true);
    let window = r["summary"]["measured_s"].as_f64().unwrap();
    assert!((1.0..3.0).contains(&window), "interrupted about 2 s into the window, measured {window} s: {said}");
    eprintln!("Ctrl-C 2.5 s into the run honoured in {took:?}; {window:.3} s measured");
    assert_unchanged(&before, "an interrupted run with a stuck stdout");
}

/// `--json-stream`: each line one JSON object; the first interval object is
/// read while the run still goes (the process has not ended and the result
/// file is not written), the last line is the result, the same as the file.
#[test]
fn json_stream_is_read_line_by_line_while_the_run_goes() {
    use std::io::BufRead;
    need_netns!();
    let before = snapshot();
    let out = tmpdir("json-stream");
    let mut child = Command::new(bin())
        .args(["--testbed", "lo", "--warmup", "500ms", "--interval", "250ms", "--duration", "2", "--json-stream"])
        .args(["--out", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut first_at = None;
    let mut events = Vec::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}"));
        if first_at.is_none() && v["event"] == "interval" {
            // Still running: no exit, no result written yet.
            let running = child.try_wait().unwrap().is_none();
            let written = std::fs::read_dir(&out).map(|mut d| d.next().is_some()).unwrap_or(false);
            first_at = Some((t0.elapsed(), running, written));
        }
        events.push(v);
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    let (at, running, written) = first_at.expect("no interval object");
    assert!(running && !written, "the first interval object came after the run ended ({at:?})");
    let (last, intervals) = events.split_last().unwrap();
    assert_eq!(last["event"], "end", "{last}");
    assert!(intervals.iter().all(|v| v["event"] == "interval"));
    // 500 ms warm-up and 2 s measured at 250 ms: about 10 intervals, the
    // measured ones' bytes adding up to the result's.
    assert!(intervals.len() >= 8, "{} interval objects", intervals.len());
    let measured: u64 = intervals
        .iter()
        .filter(|v| v["data"]["warmup"] == false)
        .map(|v| v["data"]["rx_bytes"].as_u64().unwrap())
        .sum();
    let file = only_result(&out);
    assert_eq!(last["data"], file, "the end object is the result file");
    let samples: u64 = file["receiver"]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["warmup"] == false)
        .map(|s| s["rx_bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(measured, samples);
    // The human interval lines went to stderr, not into the stream.
    assert!(err.contains("Gbit/s"), "{err}");
    eprintln!("first interval object after {at:?} of a 2.5 s run; {} interval objects", intervals.len());
    assert_unchanged(&before, "a --json-stream run");
}

/// A `--json-stream` reader that is stuck holds up neither the window nor
/// the intervals: the objects it did not take are dropped and counted.
#[test]
fn a_stuck_json_stream_never_holds_up_the_window() {
    need_netns!();
    let before = snapshot();
    let (mut child, _reader, out, err) = start("stuck-stream", "3", &["--json-stream"]);
    let Some(r) = result_in(&out, Duration::from_secs(12)) else {
        put_down(&mut child);
        panic!("no result 12 s into a 3 s run: {}", std::fs::read_to_string(&err).unwrap_or_default());
    };
    let window = r["summary"]["measured_s"].as_f64().unwrap();
    assert!((window - 3.0).abs() <= 0.3, "window {window} s");
    let longest =
        r["receiver"]["samples"].as_array().unwrap().iter().map(|s| s["dt_s"].as_f64().unwrap()).fold(0.0, f64::max);
    assert!(longest <= 1.5, "an interval of {longest} s");
    // 300 objects at 10 ms: those past what the queue holds were dropped, and counted.
    assert!(r["output_lines_dropped"].as_u64().unwrap_or(0) > 0, "{}", r["output_lines_dropped"]);
    // The end object waits for the reader; Ctrl-C ends that wait at once.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "it gave up on its reader without being told");
    let (took, _) = ctrl_c_ends_it(&mut child, &err);
    eprintln!("stuck stream: window {window:.3} s, longest interval {longest:.3} s, Ctrl-C honoured in {took:?}");
    assert_unchanged(&before, "a run with a stuck --json-stream");
}

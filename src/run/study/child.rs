//! One run of a study case as a child `zcbench` process (and, for two-host
//! studies, the `zcbench server` it talks to): its exit code says what
//! happened and its last message says why, exactly as a user would see them.

use crate::sys::proc;
use anyhow::{Context, Result, anyhow};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a run ended.
pub enum Ended {
    /// Exit 0: the result file is in the run's directory.
    Done,
    /// Exit 2 or 3: this host (or the case's arguments) cannot run it.
    Skipped(i32, String),
    /// Exit 1, another code, or a signal.
    Failed(Option<i32>, String),
    /// Exit 130 or the study itself was interrupted.
    Interrupted,
}

/// zcbench's own last word on stderr ("zcbench: not supported on this host: ...").
pub fn reason(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("zcbench: "))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no message")
        .trim()
        .to_string()
}

pub fn classify(status: ExitStatus, stderr: &str) -> Ended {
    match status.code() {
        Some(0) => Ended::Done,
        Some(c @ (2 | 3)) => Ended::Skipped(c, reason(stderr)),
        Some(130) => Ended::Interrupted,
        Some(c) => Ended::Failed(Some(c), reason(stderr)),
        None => Ended::Failed(None, format!("killed by a signal ({status}); {}", reason(stderr))),
    }
}

fn drain(mut r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    rx
}

/// Wait for `child`, passing the study's own interruption on to it (SIGTERM:
/// it restores the host and exits 130).
fn wait(child: &mut Child) -> Result<ExitStatus> {
    let mut told = false;
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(s);
        }
        if crate::signals::interrupted() && !told {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::SIGTERM);
            told = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Run `argv` to its end; its exit, stderr and wall time. The stderr also goes
/// to `log` (kept for failed runs).
pub fn run(argv: &[String], log: &Path) -> Result<(Ended, Duration)> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    proc::end_with_parent(&mut cmd);
    let t0 = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("starting {}", argv[0]))?;
    let err = drain(child.stderr.take().ok_or_else(|| anyhow!("no stderr pipe"))?);
    let status = wait(&mut child)?;
    let wall = t0.elapsed();
    let stderr = err.recv().unwrap_or_default();
    std::fs::write(log, &stderr).with_context(|| format!("writing {}", log.display()))?;
    let ended = if crate::signals::interrupted() { Ended::Interrupted } else { classify(status, &stderr) };
    Ok((ended, wall))
}

/// A `zcbench server --once` started for one run of a two-host study.
pub struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Server {
    /// Start it and wait until it says it listens (or fails, or 60 s pass).
    pub fn start(argv: &[String]) -> Result<Server> {
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        proc::end_with_parent(&mut cmd);
        let mut child = cmd.spawn().with_context(|| format!("starting the server command {}", argv.join(" ")))?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr pipe"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let mut s = Server { child, lines };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut said = Vec::new();
        while Instant::now() < deadline {
            match s.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(l) if l.contains("listening on") => return Ok(s),
                Ok(l) => said.push(l),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        let _ = s.child.kill();
        let _ = s.child.wait();
        Err(anyhow!("the server command did not start listening: {}", reason(&said.join("\n"))))
    }

    /// Wait for it to exit after its one run (killed after 30 s); what it said.
    pub fn finish(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.lines.try_iter().collect::<Vec<_>>().join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn exit_codes_become_outcomes_with_zcbench_s_reason() {
        let err = "zcbench: building\nzcbench: not supported on this host: rx mode 'devmem' is not available yet\n";
        match classify(ExitStatus::from_raw(3 << 8), err) {
            Ended::Skipped(3, r) => assert_eq!(r, "not supported on this host: rx mode 'devmem' is not available yet"),
            _ => panic!("exit 3 is a skip"),
        }
        assert!(matches!(classify(ExitStatus::from_raw(0), ""), Ended::Done));
        assert!(matches!(classify(ExitStatus::from_raw(130 << 8), ""), Ended::Interrupted));
        assert!(matches!(classify(ExitStatus::from_raw(1 << 8), "boom"), Ended::Failed(Some(1), r) if r == "boom"));
        assert!(matches!(classify(ExitStatus::from_raw(9), ""), Ended::Failed(None, _)));
    }
}

//! Child processes zcbench starts: power commands (pinned off the measured
//! cores, with a timeout) and the study runner's runs (ended by the kernel if
//! the runner dies, so a killed study leaves no run behind).

use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Restrict a command to `cpus` (none: leave it where it is).
pub fn pin(cmd: &mut Command, cpus: &[usize]) {
    let mut set = CpuSet::new();
    let mut any = false;
    for &c in cpus {
        any |= set.set(c).is_ok();
    }
    if !any {
        return;
    }
    // SAFETY: the closure runs in the forked child before exec and only makes
    // the sched_setaffinity syscall (async-signal-safe); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || sched_setaffinity(Pid::from_raw(0), &set).map_err(std::io::Error::from));
    }
}

/// The child gets SIGTERM when this process dies (even by SIGKILL), so it
/// restores the host and exits instead of running on unattended.
pub fn end_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: runs in the forked child before exec; prctl and getppid are
    // async-signal-safe syscalls and nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl: then nobody would tell us.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other("the parent exited before the child started"));
            }
            Ok(())
        });
    }
}

/// What a command printed.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
}

/// Run `sh -c script` on `cpus` and return its output; Err(reason) when it
/// cannot start, fails, or runs past `timeout` (then it is killed).
pub fn run_shell(script: &str, cpus: &[usize], timeout: Duration) -> Result<Output, String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    pin(&mut cmd, cpus);
    run(cmd, timeout)
}

/// Run a prepared command with a timeout (stdout and stderr must be piped).
pub fn run(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    let t0 = Instant::now();
    let prog = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {prog}: {e}"))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if t0.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{prog} took longer than {} ms and was killed", timeout.as_millis()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("waiting for {prog}: {e}")),
        }
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    if !status.success() {
        let why = stderr.lines().last().unwrap_or("").trim().to_string();
        return Err(format!(
            "{prog} exited with {status}{}",
            if why.is_empty() { String::new() } else { format!(": {why}") }
        ));
    }
    Ok(Output { stdout })
}

/// CPU time of this process's waited-for children so far (seconds).
pub fn children_cpu_s() -> f64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|r| {
            let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            tv(r.user_time()) + tv(r.system_time())
        })
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_run_pinned_and_time_out() {
        let cpu = *crate::sys::cpu::online_cpus().unwrap().last().unwrap();
        let o = run_shell("grep Cpus_allowed_list /proc/self/status", &[cpu], Duration::from_secs(5)).unwrap();
        assert_eq!(o.stdout.split_whitespace().last(), Some(cpu.to_string().as_str()), "{}", o.stdout);
        let e = run_shell("sleep 5", &[], Duration::from_millis(100)).unwrap_err();
        assert!(e.contains("longer than 100 ms"), "{e}");
        let e = run_shell("echo nope >&2; exit 3", &[], Duration::from_secs(5)).unwrap_err();
        assert!(e.contains("exit status: 3") && e.contains("nope"), "{e}");
    }
}

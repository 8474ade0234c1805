//! Child processes zcbench starts: power commands (pinned off the measured
//! cores, each in a process group of its own with a hard deadline) and the study runner's runs (ended by the kernel if
//! the runner dies, so a killed study leaves no run behind).

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;
use std::os::fd::{AsFd, OwnedFd};
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

/// The most of each output stream a reading keeps (the rest is read and dropped,
/// so a chatty command cannot fill this process's memory).
const KEEP: usize = 64 * 1024;
/// How often a running command's deadline and `stop` are looked at.
const SLICE: Duration = Duration::from_millis(20);

/// Run `sh -c script` on `cpus` and return its output; Err(reason) when it
/// cannot start, fails, runs past `timeout` or `stop()` says so (see [`run`]).
pub fn run_shell(script: &str, cpus: &[usize], timeout: Duration, stop: &dyn Fn() -> bool) -> Result<Output, String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    pin(&mut cmd, cpus);
    run(cmd, timeout, stop)
}

/// Run a prepared command (stdout and stderr piped) in a process group of its
/// own, with a hard deadline: done when it has exited and closed both pipes.
/// The deadline holds whatever it does — a background child that keeps its
/// stdout open, a trap that ignores SIGTERM — and `stop()` (asked every 20 ms)
/// ends it early. Either way, and after a normal end too, its whole process
/// group is killed with SIGKILL, so nothing it started runs on. (A process that
/// leaves the group with setsid() escapes this; a cgroup would hold it.)
pub fn run(mut cmd: Command, timeout: Duration, stop: &dyn Fn() -> bool) -> Result<Output, String> {
    let prog = cmd.get_program().to_string_lossy().into_owned();
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {prog}: {e}"))?;
    let leader = Pid::from_raw(child.id() as i32);
    let got = collect(&mut child, leader, Instant::now() + timeout, stop);
    // The leader is not reaped yet (a zombie keeps its pid, so the group id
    // cannot have been reused): the group is still ours to kill.
    let _ = killpg(leader, Signal::SIGKILL);
    let status = child.wait();
    let ms = timeout.as_millis();
    let (stdout, stderr) = match got {
        Ok(out) => out,
        Err(Ended::Stopped) => return Err(format!("{prog} was stopped (the run is ending)")),
        Err(Ended::HeldOpen) => {
            return Err(format!(
                "{prog} exited, but its output stayed open past the {ms} ms timeout: a process it left running \
                 held it (killed with the command's process group; redirect a background process's output)"
            ));
        }
        Err(Ended::Late) => {
            return Err(format!("{prog} took longer than {ms} ms and was killed with its process group"));
        }
    };
    let status = status.map_err(|e| format!("waiting for {prog}: {e}"))?;
    if !status.success() {
        let why = stderr.lines().last().unwrap_or("").trim().to_string();
        return Err(format!(
            "{prog} exited with {status}{}",
            if why.is_empty() { String::new() } else { format!(": {why}") }
        ));
    }
    Ok(Output { stdout })
}

/// How a command's reading ended without output.
enum Ended {
    Stopped,
    /// The command exited but something kept its stdout or stderr open.
    HeldOpen,
    Late,
}

/// Read both pipes until the command has exited and closed them, the deadline
/// passes or `stop()` says so.
fn collect(
    child: &mut std::process::Child,
    leader: Pid,
    deadline: Instant,
    stop: &dyn Fn() -> bool,
) -> Result<(String, String), Ended> {
    let out = child.stdout.take();
    let err = child.stderr.take();
    let mut pipes: Vec<(OwnedFd, Vec<u8>)> = [out.map(OwnedFd::from), err.map(OwnedFd::from)]
        .into_iter()
        .map(|p| p.map(|fd| (fd, Vec::new())))
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    for (fd, _) in &pipes {
        let _ = fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
    }
    let mut open = vec![true; pipes.len()];
    loop {
        if stop() {
            return Err(Ended::Stopped);
        }
        let exited = exited(leader);
        if exited && !open.contains(&true) {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(if exited { Ended::HeldOpen } else { Ended::Late });
        }
        let slice = (deadline - now).min(SLICE);
        if open.contains(&true) {
            let mut fds: Vec<PollFd> = pipes
                .iter()
                .zip(&open)
                .filter(|(_, o)| **o)
                .map(|((fd, _), _)| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
                .collect();
            let _ = poll(&mut fds, PollTimeout::try_from(slice.as_millis() as u32).unwrap_or(PollTimeout::MAX));
            for ((fd, buf), o) in pipes.iter_mut().zip(open.iter_mut()).filter(|(_, o)| **o) {
                *o = drain(fd, buf);
            }
        } else {
            // Output closed, the process not gone yet: it is exiting.
            std::thread::sleep(slice.min(Duration::from_millis(2)));
        }
    }
    let mut text = pipes.into_iter().map(|(_, b)| String::from_utf8_lossy(&b).into_owned());
    Ok((text.next().unwrap_or_default(), text.next().unwrap_or_default()))
}

/// Read what a non-blocking pipe holds; false once it is closed.
fn drain(fd: &OwnedFd, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        match nix::unistd::read(fd, &mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                let keep = n.min(KEEP.saturating_sub(buf.len()));
                buf.extend_from_slice(&chunk[..keep]);
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => return true,
            Err(_) => return false,
        }
    }
}

/// The child has exited (it stays unreaped: WNOWAIT).
fn exited(pid: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    !matches!(waitid(Id::Pid(pid), flags), Ok(WaitStatus::StillAlive))
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
        let never = || false;
        let cpu = *crate::sys::cpu::online_cpus().unwrap().last().unwrap();
        let o = run_shell("grep Cpus_allowed_list /proc/self/status", &[cpu], Duration::from_secs(5), &never).unwrap();
        assert_eq!(o.stdout.split_whitespace().last(), Some(cpu.to_string().as_str()), "{}", o.stdout);
        let e = run_shell("sleep 5", &[], Duration::from_millis(100), &never).unwrap_err();
        assert!(e.contains("longer than 100 ms"), "{e}");
        let e = run_shell("echo nope >&2; exit 3", &[], Duration::from_secs(5), &never).unwrap_err();
        assert!(e.contains("exit status: 3") && e.contains("nope"), "{e}");
    }

    /// The pids of this process's group-less descendants named by `tag`
    /// (a `sleep` with an argument no other process uses).
    fn sleeping(tag: &str) -> Vec<i32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == format!("sleep\0{tag}\0").as_bytes())
            })
            .collect()
    }

    /// A background child holding the output open, a command ignoring
    /// SIGTERM, a stop asked for: each ends by its deadline and leaves nothing
    /// running.
    #[test]
    fn deadlines_hold_whatever_the_command_does_and_its_group_goes_with_it() {
        let never = || false;
        let tag = format!("{}.{}", 200 + std::process::id() % 97, std::process::id());
        let t0 = Instant::now();
        let e = run_shell(&format!("sleep {tag} & echo 7"), &[], Duration::from_millis(300), &never).unwrap_err();
        assert!(e.contains("output stayed open") && t0.elapsed() < Duration::from_secs(2), "{e}");
        let e = run_shell(&format!("trap '' TERM INT; sleep {tag}; echo 5"), &[], Duration::from_millis(200), &never)
            .unwrap_err();
        assert!(e.contains("longer than 200 ms"), "{e}");
        // A background child that closed its output: the reading counts, the child goes.
        let o = run_shell(&format!("sleep {tag} >/dev/null 2>&1 & echo 9"), &[], Duration::from_secs(5), &never);
        assert_eq!(o.unwrap().stdout.trim(), "9");
        let t1 = Instant::now();
        let stop = || t1.elapsed() > Duration::from_millis(100);
        let e = run_shell(&format!("sleep {tag}"), &[], Duration::from_secs(30), &stop).unwrap_err();
        assert!(e.contains("stopped") && t1.elapsed() < Duration::from_secs(1), "{e}");
        // Killed processes are reparented and reaped by init: give it a moment.
        let t2 = Instant::now();
        while !sleeping(&tag).is_empty() && t2.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(sleeping(&tag), Vec::<i32>::new(), "left running");
    }
}

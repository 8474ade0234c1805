//! Restoring what zcbench processes left behind: the run journals of processes
//! that ended without undoing (SIGKILL, a crash, power loss), at every start,
//! and on `zcbench restore` the held ones too.

use super::file::{dir_lock, journal_files, load, lock_if_orphaned};
use super::undo::undo;
use anyhow::anyhow;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::path::Path;

/// What a recovery did.
#[derive(Debug, Default)]
pub struct Recovery {
    /// One line per journal restored: who left it and what went back.
    pub restored: Vec<String>,
    /// Settings that could not go back because what they belonged to is gone
    /// (a deleted namespace, a removed device): one line per reason.
    pub voided: Vec<String>,
    /// Journals of zcbench processes that are still running (left alone).
    pub live: Vec<String>,
    pub errors: Vec<anyhow::Error>,
}

fn restore_file(lock: Flock<File>, path: &Path, why: &str, out: &mut Recovery) {
    let mut file = lock;
    let mut l = match load(path) {
        Ok(l) => l,
        Err(e) => {
            out.errors.push(e);
            return;
        }
    };
    let u = undo(&mut file, &mut l.pending);
    let whose = match &l.netns {
        Some(id) if !id.initial => format!("pid {} in network namespace {}", l.pid, id.describe()),
        _ => format!("pid {}", l.pid),
    };
    if !u.done.is_empty() {
        out.restored.push(format!("{why} ({whose}, `{}`): restored {}", l.argv.join(" "), u.done.join(", ")));
    }
    out.voided.extend(u.voided.into_iter().map(|v| format!("{why} ({whose}): {v}")));
    if u.errors.is_empty() {
        drop(file);
        let _ = std::fs::remove_file(path);
    }
    out.errors.extend(u.errors);
}

/// Restore the journals of zcbench processes that ended without undoing (crash,
/// SIGKILL). Run at every start. With `held`, also undo the held journals
/// (`zcbench restore`). Journals of live processes are left alone.
pub fn recover(dir: &Path, held: bool) -> Recovery {
    crate::sys::running::sweep_stale(dir);
    let mut out = Recovery::default();
    let runs = journal_files(dir, "run-");
    let helds = if held { journal_files(dir, "held-") } else { Vec::new() };
    if runs.is_empty() && helds.is_empty() {
        return out;
    }
    let _dir = match dir_lock(dir) {
        Ok(l) => l,
        Err(e) => {
            out.errors.push(e.context("zcbench left an undo journal behind but it cannot be restored"));
            return out;
        }
    };
    for p in runs {
        match lock_if_orphaned(&p) {
            Ok(Some(lock)) => restore_file(lock, &p, "a zcbench run that ended without undoing", &mut out),
            Ok(None) => out.live.push(p.display().to_string()),
            Err(e) => out.errors.push(e),
        }
    }
    for p in helds {
        let f = OpenOptions::new().read(true).append(true).open(&p);
        match f.map_err(|e| anyhow!("opening {}: {e}", p.display())).and_then(|f| {
            Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| anyhow!("locking {}: {e}", p.display()))
        }) {
            Ok(lock) => restore_file(lock, &p, "settings held by `zcbench sysctl apply`", &mut out),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

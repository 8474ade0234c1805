//! Which zcbench processes are measuring on this host right now. Each one holds
//! `measuring-<pid>-<nanos>.json` in the state directory while its flow runs,
//! `flock`ed for as long as it lives, so the lock goes with the process however
//! it ends and a file whose lock is free is stale. A file is written and locked
//! under a temporary name and only then renamed into place, so a file with the
//! final name and a free lock is never one being born.
//!
//! Both ends of a two-host run on one host are one run: they share a run id and
//! do not count as each other's disturbance.

use anyhow::{Context, Result, anyhow};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const PREFIX: &str = "measuring-";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Entry {
    pid: u32,
    run_id: String,
    argv: Vec<String>,
}

/// This process's entry, held while it measures; removed when dropped.
pub struct Measuring {
    dir: PathBuf,
    path: PathBuf,
    run_id: String,
    _lock: Flock<File>,
}

/// A fresh id for a run (both ends of a two-host run use the client's).
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// Announce that this process measures `run_id` from now until the value is dropped.
pub fn start(dir: &Path, run_id: &str) -> Result<Measuring> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stem = format!("{}-{}", std::process::id(), new_run_id());
    let tmp = dir.join(format!(".{PREFIX}{stem}.tmp"));
    let path = dir.join(format!("{PREFIX}{stem}.json"));
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .read(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let mut lock =
        Flock::lock(f, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| anyhow!("locking {}: {e}", tmp.display()))?;
    let entry = Entry { pid: std::process::id(), run_id: run_id.to_string(), argv: std::env::args().collect() };
    lock.write_all(serde_json::to_string(&entry)?.as_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming {} into place", tmp.display()))?;
    Ok(Measuring { dir: dir.to_path_buf(), path, run_id: run_id.to_string(), _lock: lock })
}

/// Remove the entries of processes that are gone (a SIGKILL'd run's), as every
/// start does with journals; a temporary file only once it is a minute old (a
/// young one may be another process's, between its creation and its lock).
pub fn sweep_stale(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let old = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|a| a > std::time::Duration::from_secs(60)))
    };
    for p in rd.filter_map(|e| e.ok()).map(|e| e.path()) {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let entry = name.starts_with(PREFIX) && name.ends_with(".json");
        let tmp = name.starts_with(&format!(".{PREFIX}")) && name.ends_with(".tmp") && old(&p);
        if !entry && !tmp {
            continue;
        }
        if let Ok(f) = File::open(&p)
            && Flock::lock(f, FlockArg::LockSharedNonblock).is_ok()
        {
            let _ = std::fs::remove_file(&p);
        }
    }
}

impl Measuring {
    /// Other zcbench processes measuring now, as "pid N (`command`)". Stale
    /// entries (their process is gone) are removed on the way.
    pub fn others(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut found = Vec::new();
        for p in rd.filter_map(|e| e.ok()).map(|e| e.path()) {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if p == self.path || !name.starts_with(PREFIX) || !name.ends_with(".json") {
                continue;
            }
            let Ok(f) = File::open(&p) else { continue };
            match Flock::lock(f, FlockArg::LockSharedNonblock) {
                // Nobody holds it: its process is gone.
                Ok(_stale) => {
                    let _ = std::fs::remove_file(&p);
                }
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    let Ok(e) = std::fs::read_to_string(&p).map(|t| serde_json::from_str::<Entry>(&t)) else {
                        continue;
                    };
                    match e {
                        Ok(e) if !self.run_id.is_empty() && e.run_id == self.run_id => {}
                        Ok(e) => found.push(format!("pid {} (`{}`)", e.pid, e.argv.join(" "))),
                        Err(_) => found.push(format!("{} (unreadable)", p.display())),
                    }
                }
                Err(_) => {}
            }
        }
        found.sort();
        found
    }
}

impl Drop for Measuring {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_entries_of_other_runs_are_seen_and_stale_ones_removed() {
        let dir = std::env::temp_dir().join(format!("zcbench-running-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = start(&dir, "run-a").unwrap();
        assert!(a.others().is_empty(), "alone");
        // The other end of the same run does not count.
        let peer = start(&dir, "run-a").unwrap();
        assert!(a.others().is_empty());
        drop(peer);
        let b = start(&dir, "run-b").unwrap();
        let seen = a.others();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].starts_with(&format!("pid {}", std::process::id())), "{seen:?}");
        // A stale file (no lock held) is removed, not reported.
        let stale = dir.join(format!("{PREFIX}1-1.json"));
        std::fs::write(&stale, r#"{"pid":1,"run_id":"x","argv":["zcbench"]}"#).unwrap();
        assert_eq!(a.others().len(), 1);
        assert!(!stale.exists());
        drop(b);
        assert!(a.others().is_empty());
        drop(a);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "every entry removed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

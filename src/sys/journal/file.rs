//! The journal files: where they live, their lines (`Line`), reading one
//! back (`load`: what is still to undo), appending a line (synced before the
//! change it announces is made), and the locks that tell a live writer from
//! one that is gone.

use super::target::Target;
use crate::sys::netns::NsId;
use anyhow::{Context, Result, anyhow};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub const STATE_DIR_ENV: &str = "ZCBENCH_STATE_DIR";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/zcbench";

pub fn state_dir() -> PathBuf {
    std::env::var_os(STATE_DIR_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pending {
    pub id: u64,
    /// The namespace name the caller gave (None: the process's own).
    pub ns: Option<String>,
    /// The namespace the setting belongs to (None: host-wide, or a journal
    /// written before zcbench recorded identities).
    pub ns_id: Option<NsId>,
    pub target: Target,
    pub old: String,
}

impl Pending {
    /// Whether `self` and a setting of `target` in `ns_id` are the same setting.
    pub fn is(&self, ns: Option<&str>, ns_id: Option<&NsId>, target: &Target) -> bool {
        if &self.target != target {
            return false;
        }
        match (&self.ns_id, ns_id) {
            (Some(a), Some(b)) => a.same(b),
            (None, None) => true,
            // An entry of an older journal: by the name it was given.
            _ => self.ns.as_deref() == ns,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(super) enum Line {
    Begin {
        pid: u32,
        argv: Vec<String>,
        started_unix: u64,
        /// The network namespace the process ran in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        netns: Option<NsId>,
    },
    Change {
        id: u64,
        ns: Option<String>,
        /// The namespace the setting belongs to; absent for host-wide settings
        /// (and in journals of older versions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ns_id: Option<NsId>,
        target: Target,
        old: String,
        new: String,
    },
    Undone {
        id: u64,
    },
}

/// What a journal file says: who wrote it, and what is still to undo (oldest first).
#[derive(Debug, Clone, Default)]
pub(super) struct Loaded {
    pub pid: u32,
    pub argv: Vec<String>,
    pub netns: Option<NsId>,
    pub pending: Vec<Pending>,
    pub next_id: u64,
}

pub(super) fn load(path: &Path) -> Result<Loaded> {
    let f = File::open(path).with_context(|| format!("opening journal {}", path.display()))?;
    let mut l = Loaded::default();
    for line in BufReader::new(f).lines() {
        let line = line.with_context(|| format!("reading journal {}", path.display()))?;
        // A line cut short by a crash mid-write is the only kind that fails to
        // parse; the change it described was never made.
        let Ok(entry) = serde_json::from_str::<Line>(&line) else { continue };
        match entry {
            Line::Begin { pid, argv, netns, .. } => {
                l.pid = pid;
                l.argv = argv;
                l.netns = netns;
            }
            Line::Change { id, ns, ns_id, target, old, .. } => {
                l.next_id = l.next_id.max(id + 1);
                l.pending.push(Pending { id, ns, ns_id, target, old });
            }
            Line::Undone { id } => l.pending.retain(|p| p.id != id),
        }
    }
    Ok(l)
}

pub(super) fn append(f: &mut File, line: &Line) -> Result<()> {
    let mut s = serde_json::to_string(line)?;
    s.push('\n');
    f.write_all(s.as_bytes()).context("appending to the zcbench journal")?;
    f.sync_data().context("syncing the zcbench journal")?;
    Ok(())
}

pub(super) fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).with_context(|| {
        format!("creating the journal directory {} (run as root, or set {STATE_DIR_ENV})", dir.display())
    })
}

pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The directory-wide lock, held while appending or restoring: a `flock` on the
/// directory itself, so no lock file is left lying around.
pub(super) fn dir_lock(dir: &Path) -> Result<Flock<File>> {
    ensure_dir(dir)?;
    let f = File::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| anyhow!("locking {}: {e}", dir.display()))
}

pub(super) fn journal_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".jsonl"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Try to take a journal file's own lock without waiting: Some when its owner is gone.
pub(super) fn lock_if_orphaned(path: &Path) -> Result<Option<Flock<File>>> {
    let f =
        OpenOptions::new().read(true).append(true).open(path).with_context(|| format!("opening {}", path.display()))?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(l)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(anyhow!("locking {}: {e}", path.display())),
    }
}

//! The one undo journal every host change goes through.
//!
//! Before a setting is changed, its old value is appended to a journal file and
//! synced to disk; then the change is made and read back. When the run ends
//! (normally, with an error, or on SIGINT/SIGTERM) the changes are undone newest
//! first and the file is deleted. A process that dies without undoing (SIGKILL,
//! a crash, power loss) leaves its file behind; the next zcbench start finds it
//! and restores first, and `zcbench restore` does it on demand.
//!
//! Files live in `$ZCBENCH_STATE_DIR` or `/var/lib/zcbench`:
//! - `run-<pid>-<ns>.jsonl`: one per process, `flock`ed by it while it lives, so a
//!   free lock means "owner gone, restore me";
//! - `held-<name>.jsonl`: changes meant to outlive the process (`zcbench sysctl
//!   apply`), undone only by `zcbench sysctl restore` or `zcbench restore`;
//! - the directory itself is `flock`ed while appending or restoring, so two
//!   processes never write one file at once and never both change the same setting.
//!
//! Undo is idempotent: writing an old value twice is harmless, and every undone
//! entry is marked so an interrupted restore resumes where it stopped.
//!
//! A setting that belongs to a network namespace is recorded with that
//! namespace's identity and only ever written back there (`undo`); the file's
//! first line records the namespace its process ran in.

use crate::sys::netns::{self, NsId, Place};
mod file;
mod profile;
pub mod recover;
pub mod target;
mod undo;

pub use file::state_dir;
use file::{Line, Pending, append, dir_lock, ensure_dir, journal_files, load, lock_if_orphaned, sync_dir};
pub use recover::recover;
pub use target::Target;

use anyhow::{Context, Result, anyhow, bail};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use undo::undo;

/// One setting as changed for a run: recorded in the result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChangeRecord {
    /// Network namespace the setting belongs to (None: the host's own).
    pub netns: Option<String>,
    pub setting: String,
    pub old: String,
    pub new: String,
    /// The value read back right after the change.
    pub read_back: String,
    /// False when the setting already had the value (nothing was written).
    pub changed: bool,
}

/// In the chain of a [`Journal::set`] error when the kernel refused the write
/// itself (any errno: the value, not the journal, the namespace or a conflict).
/// Whatever the write changed before failing is journalled, to be put back.
#[derive(Debug)]
pub struct Refused {
    pub setting: String,
    pub value: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "setting {} to '{}'", self.setting, self.value)
    }
}

/// A journal: the run journal of this process, or a held one.
pub struct Journal {
    dir: PathBuf,
    /// Held journals outlive the process (undone only on request); run journals
    /// are undone when dropped.
    held: bool,
    file: Option<Flock<File>>,
    path: PathBuf,
    pending: Vec<Pending>,
    next_id: u64,
    records: Vec<ChangeRecord>,
    /// This process's own network namespace, once asked for.
    here: Option<NsId>,
}

impl Journal {
    /// This process's run journal in the default state directory (created on the first change).
    pub fn for_run() -> Journal {
        Journal::run_in(&state_dir())
    }

    pub fn run_in(dir: &Path) -> Journal {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        Journal::empty(dir, dir.join(format!("run-{}-{nanos}.jsonl", std::process::id())), false)
    }

    fn empty(dir: &Path, path: PathBuf, held: bool) -> Journal {
        Journal {
            dir: dir.to_path_buf(),
            held,
            file: None,
            path,
            pending: Vec::new(),
            next_id: 1,
            records: Vec::new(),
            here: None,
        }
    }

    /// The held journal `name` (e.g. "sysctl"), with whatever it already holds.
    pub fn held_in(dir: &Path, name: &str) -> Result<Journal> {
        let path = dir.join(format!("held-{name}.jsonl"));
        let mut j = Journal::empty(dir, path.clone(), true);
        if path.exists() {
            j.open_file()?;
            let l = load(&path)?;
            j.pending = l.pending;
            j.next_id = l.next_id.max(1);
        }
        Ok(j)
    }

    fn here(&mut self) -> Result<NsId> {
        if self.here.is_none() {
            self.here = Some(netns::id_of(&Place::Here).context("identifying this process's network namespace")?);
        }
        self.here.clone().ok_or_else(|| anyhow!("no network namespace identity"))
    }

    fn open_file(&mut self) -> Result<&mut File> {
        if self.file.is_none() {
            ensure_dir(&self.dir)?;
            let existed = self.path.exists();
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .mode(0o600)
                .open(&self.path)
                .with_context(|| format!("creating journal {}", self.path.display()))?;
            let mut f = Flock::lock(f, FlockArg::LockExclusive)
                .map_err(|(_, e)| anyhow!("locking journal {}: {e}", self.path.display()))?;
            if !existed {
                let started_unix = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let argv = std::env::args().collect();
                let netns = self.here.clone();
                append(&mut f, &Line::Begin { pid: std::process::id(), argv, started_unix, netns })?;
                sync_dir(&self.dir);
            }
            self.file = Some(f);
        }
        self.file.as_deref_mut().ok_or_else(|| anyhow!("journal file not open"))
    }

    /// Refuse to touch a setting a live zcbench process has changed and not undone.
    fn check_conflict(&self, ns: Option<&str>, ns_id: Option<&NsId>, target: &Target) -> Result<()> {
        for p in journal_files(&self.dir, "run-") {
            if p == self.path {
                continue;
            }
            // Orphaned journals are the next start's business; only live owners conflict.
            match lock_if_orphaned(&p) {
                Ok(None) => {}
                _ => continue,
            }
            let l = load(&p)?;
            if l.pending.iter().any(|x| x.is(ns, ns_id, target)) {
                bail!(
                    "{} is being changed by another zcbench (pid {}, `{}`): wait for it to finish",
                    target.describe(),
                    l.pid,
                    l.argv.join(" ")
                );
            }
        }
        Ok(())
    }

    /// Set `target` (in namespace `ns`, None: this process's own) to `value`:
    /// old value journalled and synced first, then written, then read back.
    /// Returns the record. A write the kernel refuses is an error holding
    /// [`Refused`]; it leaves the journal as if nothing was asked when the value
    /// did not change.
    pub fn set(&mut self, ns: Option<&str>, target: Target, value: &str) -> Result<ChangeRecord> {
        self.set_as(ns, target, value, false)
    }

    /// Like [`Journal::set`], but written even when it already reads as `value`:
    /// for settings a driver reports by their effect while the kernel checks its
    /// configuration (header split reads "on" under "auto" on some drivers, and
    /// a memory provider needs it explicitly on). Undone to the value read before.
    pub fn set_forced(&mut self, ns: Option<&str>, target: Target, value: &str) -> Result<ChangeRecord> {
        self.set_as(ns, target, value, true)
    }

    fn set_as(&mut self, ns: Option<&str>, target: Target, value: &str, force: bool) -> Result<ChangeRecord> {
        let what = target.describe();
        let place = Place::named(ns)?;
        let here = self.here()?;
        let ns_id = match (target::netns_scoped(&target), &place) {
            (false, _) => None,
            (true, Place::Here) => Some(here),
            (true, there) => Some(netns::id_of(there)?),
        };
        let old = target::read(&place, &target).with_context(|| format!("reading {what} before changing it"))?;
        let mut record = ChangeRecord {
            netns: ns.map(str::to_string),
            setting: what.clone(),
            old: old.clone(),
            new: value.to_string(),
            read_back: old.clone(),
            changed: false,
        };
        let id = {
            let _dir = dir_lock(&self.dir)?;
            // Even a setting already as asked is refused while another live
            // zcbench holds it: that one will put its old value back under this run.
            self.check_conflict(ns, ns_id.as_ref(), &target)?;
            if !force && target::same_value_of(&target, &old, value) {
                self.records.push(record.clone());
                return Ok(record);
            }
            let id = self.next_id;
            let (ns, ns_id) = (ns.map(str::to_string), ns_id.clone());
            let line = Line::Change {
                id,
                ns: ns.clone(),
                ns_id: ns_id.clone(),
                target: target.clone(),
                old: old.clone(),
                new: value.into(),
            };
            append(self.open_file()?, &line)?;
            self.next_id += 1;
            self.pending.push(Pending { id, ns, ns_id, target: target.clone(), old: old.clone() });
            id
        };
        if let Err(e) = target::write(&place, &target, value) {
            // Refused and unchanged: nothing to undo, now or by a later start.
            if target::read(&place, &target).is_ok_and(|v| target::same_value_of(&target, &v, &old)) {
                self.pending.retain(|p| p.id != id);
                if let Ok(f) = self.open_file() {
                    let _ = append(f, &Line::Undone { id });
                }
            }
            return Err(e.context(Refused { setting: what, value: value.to_string() }));
        }
        record.read_back = target::read(&place, &target).with_context(|| format!("reading {what} back"))?;
        record.changed = true;
        self.records.push(record.clone());
        Ok(record)
    }

    pub fn records(&self) -> &[ChangeRecord] {
        &self.records
    }

    /// Undo everything, newest first; delete the file when all went back. Returns
    /// what was restored, and the errors. (Settings of a namespace this process
    /// already deleted, its testbed's, went with it.)
    pub fn restore(&mut self) -> (Vec<String>, Vec<anyhow::Error>) {
        if self.pending.is_empty() {
            if self.file.take().is_some() {
                let _ = std::fs::remove_file(&self.path);
            }
            return (Vec::new(), Vec::new());
        }
        let _dir = match dir_lock(&self.dir) {
            Ok(l) => l,
            Err(e) => return (Vec::new(), vec![e]),
        };
        let mut pending = std::mem::take(&mut self.pending);
        let u = match self.open_file() {
            Ok(f) => undo(f, &mut pending),
            Err(e) => undo::Undone { errors: vec![e], ..Default::default() },
        };
        self.pending = pending;
        if self.pending.is_empty() && u.errors.is_empty() {
            self.file = None;
            let _ = std::fs::remove_file(&self.path);
            sync_dir(&self.dir);
        }
        (u.done, u.errors)
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if self.held {
            return;
        }
        let (_, errors) = self.restore();
        for e in &errors {
            crate::messages::warn(&format!("{e:#}"));
        }
        if !errors.is_empty() {
            crate::messages::warn(&format!(
                "{} is kept; `zcbench restore` retries what could not be undone",
                self.path.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("zcbench-journal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn file_target(dir: &Path, name: &str, v: &str) -> Target {
        let p = dir.join(name);
        std::fs::write(&p, v).unwrap();
        Target::File { path: p.display().to_string() }
    }

    fn read(t: &Target) -> String {
        target::read(&Place::Here, t).unwrap()
    }

    #[test]
    fn changes_are_journalled_before_they_are_made_and_undone_newest_first() {
        let dir = tmpdir("order");
        let data = tmpdir("order-data");
        std::fs::create_dir_all(&data).unwrap();
        let a = file_target(&data, "a", "1\n");
        let mut j = Journal::run_in(&dir);
        let r = j.set(None, a.clone(), "2").unwrap();
        assert!(r.changed);
        assert_eq!((r.old.as_str(), r.read_back.as_str()), ("1", "2"));
        j.set(None, a.clone(), "3").unwrap();
        // The file on disk holds both old values before anything is undone.
        let l = load(j.path()).unwrap();
        assert_eq!(l.pending.iter().map(|p| p.old.as_str()).collect::<Vec<_>>(), vec!["1", "2"]);
        let same = j.set(None, a.clone(), "3").unwrap();
        assert!(!same.changed, "an equal value is recorded, not written");
        let path = j.path().to_path_buf();
        drop(j);
        assert_eq!(read(&a), "1");
        assert!(!path.exists(), "a fully restored journal is deleted");
    }

    #[test]
    fn orphaned_journal_is_restored_and_live_one_left_alone() {
        let dir = tmpdir("orphan");
        let data = tmpdir("orphan-data");
        std::fs::create_dir_all(&data).unwrap();
        let a = file_target(&data, "a", "old");
        let mut j = Journal::run_in(&dir);
        j.set(None, a.clone(), "new").unwrap();
        // While the owner holds its lock, recovery leaves it alone.
        let r = recover(&dir, false);
        assert_eq!(r.live.len(), 1);
        assert!(r.restored.is_empty());
        assert_eq!(read(&a), "new");
        // Simulate the owner dying: its lock goes, its entries stay.
        let path = j.path().to_path_buf();
        j.file = None;
        j.pending.clear();
        drop(j);
        assert!(path.exists());
        let r = recover(&dir, false);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.restored.len(), 1, "{:?}", r.restored);
        assert!(r.restored[0].contains("= old"));
        assert_eq!(read(&a), "old");
        assert!(!path.exists());
        // Idempotent: nothing left to do.
        assert!(recover(&dir, false).restored.is_empty());
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_ignored_and_undone_entries_stay_undone() {
        let dir = tmpdir("torn");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("run-1-1.jsonl");
        let t = Target::File { path: "/nonexistent".into() };
        let mut s = String::new();
        for l in [
            Line::Begin { pid: 1, argv: vec!["zcbench".into()], started_unix: 0, netns: None },
            Line::Change { id: 1, ns: None, ns_id: None, target: t.clone(), old: "a".into(), new: "b".into() },
            Line::Change { id: 2, ns: None, ns_id: None, target: t.clone(), old: "b".into(), new: "c".into() },
            Line::Undone { id: 2 },
        ] {
            s.push_str(&serde_json::to_string(&l).unwrap());
            s.push('\n');
        }
        s.push_str("{\"op\":\"change\",\"id\":3,\"ns\":nu");
        std::fs::write(&p, s).unwrap();
        let l = load(&p).unwrap();
        assert_eq!(l.pending.len(), 1);
        assert_eq!(l.pending[0].old, "a");
        assert_eq!(l.next_id, 3);
    }

    #[test]
    fn a_live_process_setting_is_not_changed_twice() {
        let dir = tmpdir("conflict");
        let data = tmpdir("conflict-data");
        std::fs::create_dir_all(&data).unwrap();
        let a = file_target(&data, "a", "0");
        let mut mine = Journal::run_in(&dir);
        mine.set(None, a.clone(), "1").unwrap();
        // Another live journal on the same setting: a file locked by another open.
        let mut other = Journal::run_in(&dir);
        other.path = dir.join("run-999999-1.jsonl");
        let e = other.set(None, a.clone(), "2").unwrap_err();
        assert!(e.to_string().contains("another zcbench"), "{e:#}");
        assert_eq!(read(&a), "1");
        drop(other);
        drop(mine);
        assert_eq!(read(&a), "0");
    }

    #[test]
    fn held_journal_outlives_its_handle_until_recovered() {
        let dir = tmpdir("held");
        let data = tmpdir("held-data");
        std::fs::create_dir_all(&data).unwrap();
        let a = file_target(&data, "a", "x");
        {
            let mut h = Journal::held_in(&dir, "sysctl").unwrap();
            h.set(None, a.clone(), "y").unwrap();
        }
        assert_eq!(read(&a), "y", "held changes stay after the handle is dropped");
        assert!(recover(&dir, false).restored.is_empty(), "a normal start does not undo held changes");
        {
            let mut h = Journal::held_in(&dir, "sysctl").unwrap();
            h.set(None, a.clone(), "z").unwrap();
        }
        let r = recover(&dir, true);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(read(&a), "x");
        assert!(journal_files(&dir, "held-").is_empty());
    }

    /// A journal of the previous format (no namespace identities) still loads and
    /// restores: a setting in a namespace name that is gone is void, said once.
    #[test]
    fn journals_without_namespace_identities_still_restore() {
        let dir = tmpdir("legacy");
        let data = tmpdir("legacy-data");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        let a = file_target(&data, "a", "now");
        let text = format!(
            "{}\n{}\n{}\n",
            r#"{"op":"begin","pid":999999,"argv":["zcbench"],"started_unix":1}"#,
            serde_json::json!({"op":"change","id":1,"ns":null,"target":a,"old":"before","new":"now"}),
            r#"{"op":"change","id":2,"ns":"zcb-no-such-ns","target":{"kind":"link","dev":"zt0","attr":"mtu"},"old":"1500","new":"9000"}"#,
        );
        std::fs::write(dir.join("run-999999-1.jsonl"), text).unwrap();
        let r = recover(&dir, false);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(read(&a), "before");
        assert_eq!(r.voided.len(), 1, "{:?}", r.voided);
        assert!(r.voided[0].contains("zcb-no-such-ns no longer exists") && r.voided[0].contains("zt0 mtu"));
        assert!(journal_files(&dir, "run-").is_empty(), "nothing left to block the next start");
    }

    #[test]
    fn host_wide_settings_ignore_namespaces_and_namespaced_ones_compare_by_identity() {
        let t = Target::File { path: "/proc/sys/vm/max_map_count".into() };
        assert!(!target::netns_scoped(&t));
        assert!(target::netns_scoped(&Target::File { path: "/proc/sys/net/ipv4/tcp_rmem".into() }));
        assert!(target::netns_scoped(&Target::File { path: "/sys/class/net/lo/queues/rx-0/rps_cpus".into() }));
        assert!(!target::netns_scoped(&Target::Netns { name: "zcb-1-rx".into() }));
        let id = |inode| NsId { inode, cookie: Some(inode), boot: None, name: None, initial: false };
        let rmem = Target::File { path: "/proc/sys/net/ipv4/tcp_rmem".into() };
        let p = Pending { id: 1, ns: None, ns_id: Some(id(5)), target: rmem.clone(), old: "x".into() };
        assert!(p.is(None, Some(&id(5)), &rmem));
        assert!(!p.is(None, Some(&id(6)), &rmem), "the same key in another namespace is another setting");
        let legacy = Pending { ns_id: None, ns: Some("a".into()), ..p };
        assert!(legacy.is(Some("a"), Some(&id(6)), &rmem) && !legacy.is(None, Some(&id(6)), &rmem));
    }
}

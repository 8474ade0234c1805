//! `zcbench sysctl ...` and `zcbench restore`: the host-settings commands that
//! are not a run.

use crate::sys::journal::{self, Journal};
use crate::sys::sysctl;
use anyhow::Result;

/// What a recovery found, for `zcbench restore` to sum up.
pub struct Recovered {
    /// Journals of zcbench processes still running (left alone).
    pub live: Vec<String>,
    /// Journals restored or voided.
    pub handled: usize,
}

/// Restore what crashed or killed runs left behind; called before every command.
/// With `held`, also what `zcbench sysctl apply` holds (the `restore` command).
/// Settings whose namespace or device is gone are void: said once, never an error.
pub fn recover(held: bool) -> Result<Recovered> {
    let r = journal::recover(&journal::state_dir(), held);
    for line in r.restored.iter().chain(&r.voided) {
        eprintln!("zcbench: {line}");
    }
    let handled = r.restored.len() + r.voided.len();
    match r.errors.into_iter().next() {
        None => Ok(Recovered { live: r.live, handled }),
        Some(e) => Err(e.context(format!(
            "restoring host settings from the journal in {} (fix the cause, then run `zcbench restore`)",
            journal::state_dir().display()
        ))),
    }
}

pub fn restore() -> Result<()> {
    let r = recover(true)?;
    for l in &r.live {
        println!("left alone: {l} belongs to a zcbench that is still running (it undoes its changes when it ends)");
    }
    match (r.handled, r.live.len()) {
        (0, 0) => println!("host settings: nothing of zcbench's left to undo"),
        (_, 0) => println!("host settings: everything zcbench had left changed is back as it was"),
        _ => {}
    }
    Ok(())
}

fn current(key: &str) -> Option<String> {
    std::fs::read_to_string(sysctl::key_path(key)).ok().map(|v| sysctl::normalize(&v))
}

/// `zcbench sysctl show [PROFILE]`: the profiles, or one of them.
pub fn sysctl_show(profile: Option<&str>) -> Result<()> {
    let Some(name) = profile else {
        println!("{:<20} {:>4}  description", "profile", "keys");
        for (name, _) in sysctl::BUILTIN {
            let p = sysctl::load(name)?;
            println!("{:<20} {:>4}  {}", p.name, p.entries.len(), p.description);
        }
        println!("\n`zcbench sysctl show NAME` prints one; any sysctl.d file path works as a profile too.");
        return Ok(());
    };
    let p = sysctl::load(name)?;
    println!("# profile {} ({})", p.name, p.source);
    for e in &p.entries {
        println!("{}{} = {}", if e.ignore_missing { "-" } else { "" }, e.key, e.value);
    }
    Ok(())
}

/// `zcbench sysctl diff PROFILE`: this host's values next to the profile's.
pub fn sysctl_diff(profile: &str) -> Result<()> {
    let p = sysctl::load(profile)?;
    let w = p.entries.iter().map(|e| e.key.len()).max().unwrap_or(10).max(10);
    println!("{:<w$}  {:<28}  {:<28}  status", "key", "current", "profile");
    let mut differ = 0;
    for e in &p.entries {
        let cur = current(&e.key);
        let want = sysctl::normalize(&e.value);
        let mark = match &cur {
            None => "missing",
            Some(c) if *c == want => "same",
            Some(_) => "differs",
        };
        if mark != "same" {
            differ += 1;
        }
        println!("{:<w$}  {:<28}  {:<28}  {mark}", e.key, cur.as_deref().unwrap_or("-"), want);
    }
    println!("{differ} of {} keys differ from profile {}", p.entries.len(), p.name);
    Ok(())
}

/// `zcbench sysctl apply PROFILE`: set it and keep it (journalled) until restored.
pub fn sysctl_apply(profile: &str) -> Result<()> {
    let p = sysctl::load(profile)?;
    let mut j = Journal::held_in(&journal::state_dir(), "sysctl")?;
    let found = p.resolve()?;
    for n in &found.skipped {
        eprintln!("zcbench: {n}");
    }
    for (e, path) in found.keys {
        // Never half-applied: on any failure what this command set goes back.
        let r = match sysctl::set_entry(&mut j, None, &path, &e.value, &p.line_of(e)) {
            Ok(r) => r,
            Err(err) => return Err(put_back(&mut j, err)),
        };
        let state = if r.changed { format!("{} -> {}", r.old, r.read_back) } else { "unchanged".into() };
        println!("{} = {}  ({state})", e.key, sysctl::normalize(&r.read_back));
    }
    println!("applied {}; `zcbench sysctl restore` puts the old values back", p.name);
    Ok(())
}

/// After a failed `sysctl apply`, undo what it set (the held journal also holds
/// what an earlier apply set; that goes back too, as `sysctl restore` would).
fn put_back(j: &mut Journal, err: anyhow::Error) -> anyhow::Error {
    let (done, errors) = j.restore();
    for d in &done {
        eprintln!("zcbench: put back {d}");
    }
    match errors.into_iter().next() {
        Some(e) => err.context(format!("and putting the profile's values back failed: {e:#}")),
        None => err,
    }
}

/// `zcbench sysctl restore`: put back what `sysctl apply` changed.
pub fn sysctl_restore() -> Result<()> {
    let mut j = Journal::held_in(&journal::state_dir(), "sysctl")?;
    let (done, errors) = j.restore();
    for d in &done {
        println!("restored {d}");
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    if done.is_empty() {
        println!("nothing to restore: no profile applied with `zcbench sysctl apply`");
    }
    Ok(())
}

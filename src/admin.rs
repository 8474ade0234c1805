//! `zcbench sysctl ...` and `zcbench restore`: the host-settings commands that
//! are not a run.

use crate::sys::journal::{self, Journal, Target, target};
use crate::sys::sysctl;
use anyhow::Result;

/// Restore what crashed or killed runs left behind; called before every command.
/// With `held`, also what `zcbench sysctl apply` holds (the `restore` command).
/// Returns the journals of zcbench processes still running (left alone).
pub fn recover(held: bool) -> Result<Vec<String>> {
    let r = journal::recover(&journal::state_dir(), held);
    for line in &r.restored {
        eprintln!("zcbench: {line}");
    }
    match r.errors.into_iter().next() {
        None => Ok(r.live),
        Some(e) => Err(e.context(format!(
            "restoring host settings from the journal in {} (fix the cause, then run `zcbench restore`)",
            journal::state_dir().display()
        ))),
    }
}

pub fn restore() -> Result<()> {
    let live = recover(true)?;
    if live.is_empty() {
        println!("host settings: nothing of zcbench's left to undo");
    } else {
        for l in &live {
            println!("left alone: {l} belongs to a zcbench that is still running (it undoes its changes when it ends)");
        }
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
    println!("{:<w$}  {:<28}  {:<28}  ", "key", "current", "profile");
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
        let r = j.set(None, Target::File { path }, &e.value)?;
        let state = if r.changed { format!("{} -> {}", r.old, r.read_back) } else { "unchanged".into() };
        println!("{} = {}  ({state})", e.key, sysctl::normalize(&r.read_back));
        if !target::same_value(&r.read_back, &e.value) {
            eprintln!("zcbench: warning: {} reads back '{}', not '{}'", e.key, r.read_back, e.value);
        }
    }
    println!("applied {}; `zcbench sysctl restore` puts the old values back", p.name);
    Ok(())
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

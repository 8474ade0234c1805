//! `zcbench sysctl ...` and `zcbench restore`: the host-settings commands that
//! are not a run.

use crate::messages;
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
        messages::warn(line);
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
        messages::table(format!(
            "left alone: {l} belongs to a zcbench that is still running (it undoes its changes when it ends)\n"
        ));
    }
    match (r.handled, r.live.len()) {
        (0, 0) => messages::table("host settings: nothing of zcbench's left to undo\n".into()),
        (_, 0) => messages::table("host settings: everything zcbench had left changed is back as it was\n".into()),
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
        messages::table(format!("{:<20} {:>4}  description\n", "profile", "keys"));
        for (name, _) in sysctl::BUILTIN {
            let p = sysctl::load(name)?;
            messages::table(format!("{:<20} {:>4}  {}\n", p.name, p.entries.len(), p.description));
        }
        messages::table(
            "\n`zcbench sysctl show NAME` prints one; any sysctl.d file path works as a profile too.\n".into(),
        );
        return Ok(());
    };
    let p = sysctl::load(name)?;
    messages::table(format!("# profile {} ({})\n", p.name, p.source));
    for e in &p.entries {
        messages::table(format!("{}{} = {}\n", if e.ignore_missing { "-" } else { "" }, e.key, e.value));
    }
    Ok(())
}

/// `zcbench sysctl diff PROFILE`: this host's values next to the profile's.
pub fn sysctl_diff(profile: &str) -> Result<()> {
    let p = sysctl::load(profile)?;
    let w = p.entries.iter().map(|e| e.key.len()).max().unwrap_or(10).max(10);
    messages::table(format!("{:<w$}  {:<28}  {:<28}  status\n", "key", "current", "profile"));
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
        messages::table(format!("{:<w$}  {:<28}  {:<28}  {mark}\n", e.key, cur.as_deref().unwrap_or("-"), want));
    }
    messages::table(format!("{differ} of {} keys differ from profile {}\n", p.entries.len(), p.name));
    Ok(())
}

/// `zcbench sysctl apply PROFILE`: set it and keep it (journalled) until restored.
pub fn sysctl_apply(profile: &str) -> Result<()> {
    let p = sysctl::load(profile)?;
    let mut j = Journal::held_in(&journal::state_dir(), "sysctl")?;
    let found = p.resolve()?;
    for n in &found.skipped {
        messages::note(n);
    }
    for (e, path) in found.keys {
        // Never half-applied: on any failure what this command set goes back.
        let r = match j.set_profile_entry(None, &path, &e.value, &p.line_of(e)) {
            Ok(r) => r,
            Err(err) => return Err(put_back(&mut j, err)),
        };
        let state = if r.changed { format!("{} -> {}", r.old, r.read_back) } else { "unchanged".into() };
        messages::table(format!("{} = {}  ({state})\n", e.key, sysctl::normalize(&r.read_back)));
    }
    messages::table(format!("applied {}; `zcbench sysctl restore` puts the old values back\n", p.name));
    Ok(())
}

/// After a failed `sysctl apply`, undo what it set (the held journal also holds
/// what an earlier apply set; that goes back too, as `sysctl restore` would).
fn put_back(j: &mut Journal, err: anyhow::Error) -> anyhow::Error {
    let (done, errors) = j.restore();
    for d in &done {
        messages::note(&format!("put back {d}"));
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
        messages::table(format!("restored {d}\n"));
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    if done.is_empty() {
        messages::table("nothing to restore: no profile applied with `zcbench sysctl apply`\n".into());
    }
    Ok(())
}

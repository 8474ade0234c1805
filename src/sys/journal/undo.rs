//! Putting journalled settings back, each in the namespace it was read in.
//!
//! A setting that belongs to a network namespace (a device, its sysfs files,
//! /proc/sys/net) carries that namespace's identity (`NsId`): it is written
//! back there and nowhere else — found as this thread's own, by its name, by
//! another name, or through a process still inside it. A namespace that no
//! longer exists took its settings with it: those entries are void (said once,
//! marked done) and never block or touch anything else; so is a setting whose
//! device or file has gone. Host-wide settings (vm.*, IRQ affinity, huge pages,
//! /run/netns names) are written back wherever the restorer runs.

use super::file::{Line, Pending, append};
use super::target;
use crate::sys::netns::{self, Place};
use std::fs::File;

/// Where an entry is to be written back, or why it no longer can be.
enum Where {
    At(Place),
    Gone(String),
}

fn locate(p: &Pending) -> anyhow::Result<Where> {
    if !target::netns_scoped(&p.target) {
        return Ok(Where::At(Place::Here));
    }
    let place = match (&p.ns_id, &p.ns) {
        (Some(id), _) => match netns::find(id)? {
            Some(place) => place,
            None => return Ok(Where::Gone(format!("network namespace {} no longer exists", id.describe()))),
        },
        // Written by an older zcbench: a name, or the restorer's own namespace.
        (None, Some(n)) if !netns::exists(n) => {
            return Ok(Where::Gone(format!("network namespace {n} no longer exists")));
        }
        (None, n) => Place::named(n.as_deref())?,
    };
    if !target::exists(&place, &p.target)? {
        return Ok(Where::Gone(format!("what it belongs to is no longer there{}", place.suffix())));
    }
    Ok(Where::At(place))
}

/// What an undo did.
#[derive(Default)]
pub(super) struct Undone {
    /// "setting = old value", per setting written back.
    pub done: Vec<String>,
    /// One line per reason settings were void (their namespace or device gone).
    pub voided: Vec<String>,
    pub errors: Vec<anyhow::Error>,
}

/// Undo `pending` newest first, marking each in `file`; what could not be
/// undone stays in `pending` (everything else is still attempted).
pub(super) fn undo(file: &mut File, pending: &mut Vec<Pending>) -> Undone {
    let mut out = Undone::default();
    let mut void: Vec<(String, Vec<String>)> = Vec::new();
    let mut kept = Vec::new();
    while let Some(p) = pending.pop() {
        let r = locate(&p).and_then(|w| match w {
            Where::At(place) => target::write(&place, &p.target, &p.old).map(|_| None),
            Where::Gone(why) => Ok(Some(why)),
        });
        match r {
            Ok(gone) => {
                match gone {
                    None => {
                        out.done.push(format!("{} = {}", p.target.describe(), crate::sys::sysctl::normalize(&p.old)))
                    }
                    Some(why) => match void.iter_mut().find(|(w, _)| *w == why) {
                        Some((_, v)) => v.push(p.target.describe()),
                        None => void.push((why, vec![p.target.describe()])),
                    },
                }
                if let Err(e) = append(file, &Line::Undone { id: p.id }) {
                    out.errors.push(e);
                }
            }
            Err(e) => {
                out.errors.push(e.context(format!("restoring {} to '{}'", p.target.describe(), p.old)));
                kept.push(p);
            }
        }
    }
    kept.reverse();
    *pending = kept;
    out.voided = void.into_iter().map(|(why, v)| format!("{why}: nothing to restore for {}", v.join(", "))).collect();
    out
}

//! Result files of older schema versions, brought up to the current one on read.
//! Each step rewrites the JSON document of one version into the next, and says
//! exactly what differed; nothing is guessed.
//!
//! Version 1 (zcbench builds up to the one before the undo journal):
//! - `changes[]` entries named their file `path` (now `setting`) and had no
//!   `changed`. Those builds wrote every setting whether or not it already had
//!   the value, so every v1 entry was a write: `changed` is `true`.
//! - The first v1 builds had no `flow.notes` / `flow.combined` (no mode made
//!   a choice for the user, no `txrx-zc`): an empty list and null.
//! - The first v1 builds had no `polls` counters (their sockets blocked and
//!   never called poll()) and no `completions`, `errqueue_reads`,
//!   `unconfirmed_bytes` (their only sender copied and had no completions):
//!   0 is what those builds did, not a stand-in for a missing measurement.

use serde_json::{Map, Value, json};

/// Bring a document of schema `version` up to the current one. `Err` names
/// what is missing when the document is not the shape its version had.
pub fn upgrade(version: u32, mut v: Value) -> Result<Value, String> {
    if version == 1 {
        v = v1_to_v2(v)?;
    }
    Ok(v)
}

fn v1_to_v2(mut v: Value) -> Result<Value, String> {
    let root = v.as_object_mut().ok_or("the document is not a JSON object")?;
    let flow = root.get_mut("flow").and_then(Value::as_object_mut).ok_or("no 'flow' object")?;
    flow.entry("notes").or_insert_with(|| json!([]));
    flow.entry("combined").or_insert(Value::Null);
    for side in ["receiver", "sender"] {
        let Some(s) = root.get_mut(side).and_then(Value::as_object_mut) else { continue };
        if let Some(changes) = s.get_mut("changes").and_then(Value::as_array_mut) {
            for c in changes {
                let c = c.as_object_mut().ok_or(format!("a {side} change is not an object"))?;
                let path = c.remove("path").ok_or(format!("a {side} change has no 'path'"))?;
                c.insert("setting".into(), path);
                c.insert("changed".into(), Value::Bool(true));
            }
        }
        for (stats, counters) in
            [("rx", &["polls"][..]), ("tx", &["polls", "completions", "errqueue_reads", "unconfirmed_bytes"][..])]
        {
            if let Some(st) = s.get_mut(stats).and_then(Value::as_object_mut) {
                zero_if_absent(st, counters);
            }
        }
    }
    root.insert("schema_version".into(), json!(2));
    Ok(v)
}

fn zero_if_absent(o: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        o.entry(*k).or_insert(json!(0));
    }
}

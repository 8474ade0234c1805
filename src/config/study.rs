//! A study file (`profiles/*.toml`): the matrix of cases a study sweeps. Each
//! axis is a list of values; each value adds zcbench arguments to the case
//! (`args` for the run or client, `server_args` for the server of a two-host
//! study). Every combination of one value per axis is a case, minus the
//! `exclude`d ones.
//!
//! ```toml
//! [study]
//! name = "local-short"
//! duration = "3s"          # warmup, interval optional
//! repeat = 3
//! args = ["--testbed", "netns"]
//! # Two-host: a server is started for every run with this command plus the
//! # case's server_args, and the runs are clients of it.
//! # server = "198.18.0.1"
//! # server_cmd = ["ssh", "receiver", "zcbench", "server"]
//!
//! [[axis]]
//! name = "cpus"
//! flag = "--cpus"          # plain values become ["--cpus", VALUE]
//! values = [1, 2]
//!
//! [[axis]]
//! name = "mode"
//! values = [{ name = "baseline", args = ["--mode", "baseline"] }]
//!
//! [[exclude]]              # every named axis must match for a case to go
//! mode = "baseline"
//! cpus = "2"
//! ```

use crate::error::usage;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyFile {
    pub study: StudyHead,
    #[serde(default)]
    pub axis: Vec<Axis>,
    #[serde(default)]
    pub exclude: Vec<BTreeMap<String, toml::Value>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyHead {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub duration: String,
    pub warmup: Option<String>,
    pub interval: Option<String>,
    #[serde(default = "one")]
    pub repeat: u32,
    /// Arguments of every case (run or client).
    #[serde(default)]
    pub args: Vec<String>,
    /// Arguments of every case's server (two-host).
    #[serde(default)]
    pub server_args: Vec<String>,
    /// Two-host: the server's address (client --server).
    pub server: Option<String>,
    /// Two-host: the command that starts `zcbench server` on the receiver.
    pub server_cmd: Option<Vec<String>>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    pub name: String,
    /// With plain values: the flag each value follows.
    pub flag: Option<String>,
    /// With plain values: the value goes to the server (two-host receiver settings).
    #[serde(default)]
    pub server: bool,
    pub values: Vec<toml::Value>,
}

/// `zcbench study`: the file, where its results go, and the overrides.
#[derive(Debug, Clone)]
pub struct StudySpec {
    pub profile: std::path::PathBuf,
    pub file: StudyFile,
    pub out: std::path::PathBuf,
    pub duration: std::time::Duration,
    pub warmup: std::time::Duration,
    pub interval: std::time::Duration,
    pub repeat: u32,
    pub retry_skipped: bool,
    pub dry_run: bool,
}

/// One case of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// "axis=value,axis=value" in axis order.
    pub id: String,
    pub axes: BTreeMap<String, String>,
    pub args: Vec<String>,
    pub server_args: Vec<String>,
}

impl Case {
    /// A name for files: the id with only [A-Za-z0-9._-].
    pub fn slug(&self) -> String {
        self.id
            .chars()
            .map(|c| match c {
                '=' => '-',
                ',' => '_',
                c if c.is_ascii_alphanumeric() || c == '.' || c == '-' => c,
                _ => '+',
            })
            .collect()
    }
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(t: &toml::Table, key: &str, where_: &str) -> Result<Vec<String>> {
    match t.get(key) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| scalar(v).ok_or_else(|| usage(format!("{where_}: {key} must be a list of strings"))))
            .collect(),
        Some(_) => Err(usage(format!("{where_}: {key} must be a list of strings"))),
    }
}

/// (name, args, server_args) of one axis value.
fn value(axis: &Axis, v: &toml::Value) -> Result<(String, Vec<String>, Vec<String>)> {
    let where_ = format!("axis '{}'", axis.name);
    if let Some(s) = scalar(v) {
        let flag = axis.flag.as_ref().ok_or_else(|| {
            usage(format!("{where_}: plain value '{s}' needs the axis to have a flag (or write {{ name, args }})"))
        })?;
        let args = vec![flag.clone(), s.clone()];
        return Ok(if axis.server { (s, Vec::new(), args) } else { (s, args, Vec::new()) });
    }
    let t = v.as_table().ok_or_else(|| usage(format!("{where_}: a value must be a string, number or table")))?;
    for k in t.keys() {
        if !["name", "args", "server_args"].contains(&k.as_str()) {
            return Err(usage(format!("{where_}: unknown key '{k}' in a value (name, args, server_args)")));
        }
    }
    let name = t.get("name").and_then(scalar).ok_or_else(|| usage(format!("{where_}: a value table needs a name")))?;
    Ok((name, strings(t, "args", &where_)?, strings(t, "server_args", &where_)?))
}

impl StudyFile {
    pub fn load(path: &Path) -> Result<StudyFile> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading study file {}", path.display()))?;
        let f: StudyFile = toml::from_str(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
        if f.study.repeat == 0 {
            return Err(usage(format!("{}: repeat must be at least 1", path.display())));
        }
        if f.study.server_cmd.is_some() != f.study.server.is_some() {
            return Err(usage(format!("{}: a two-host study needs both server and server_cmd", path.display())));
        }
        f.cases()?;
        Ok(f)
    }

    /// Make the cases clients of a server already listening on `host`. Its
    /// settings are its own, so receiver settings in the file cannot apply: a
    /// file with any (server_args) is refused, naming where they are.
    pub fn against_server(&mut self, host: &str) -> Result<()> {
        let mut with = Vec::new();
        if !self.study.server_args.is_empty() {
            with.push(format!("[study] server_args = {:?}", self.study.server_args));
        }
        with.extend(
            self.cases()?
                .into_iter()
                .filter(|c| !c.server_args.is_empty())
                .map(|c| format!("case {}: {}", c.id, c.server_args.join(" "))),
        );
        if let Some(first) = with.first() {
            return Err(usage(format!(
                "a study run against an already running server cannot set receiver settings, which are that \
                 server's own; this one does in {} place(s), first {first}: give them to the server when it is \
                 started, or run the study with its own server_cmd",
                with.len()
            )));
        }
        self.study.server = Some(host.to_string());
        self.study.server_cmd = None;
        Ok(())
    }

    /// Every case, in axis order (the first axis changes slowest).
    pub fn cases(&self) -> Result<Vec<Case>> {
        let mut cases = vec![Case { id: String::new(), axes: BTreeMap::new(), args: vec![], server_args: vec![] }];
        for axis in &self.axis {
            if axis.values.is_empty() {
                return Err(usage(format!("axis '{}' has no values", axis.name)));
            }
            let vals = axis.values.iter().map(|v| value(axis, v)).collect::<Result<Vec<_>>>()?;
            cases = cases
                .into_iter()
                .flat_map(|c| {
                    vals.iter().map(move |(name, args, sargs)| {
                        let mut n = c.clone();
                        n.id = if n.id.is_empty() {
                            format!("{}={name}", axis.name)
                        } else {
                            format!("{},{}={name}", n.id, axis.name)
                        };
                        n.axes.insert(axis.name.clone(), name.clone());
                        n.args.extend(args.iter().cloned());
                        n.server_args.extend(sargs.iter().cloned());
                        n
                    })
                })
                .collect();
        }
        for ex in &self.exclude {
            for k in ex.keys() {
                if !self.axis.iter().any(|a| &a.name == k) {
                    return Err(usage(format!("exclude names axis '{k}', which the study does not have")));
                }
            }
        }
        cases.retain(|c| {
            !self.exclude.iter().any(|ex| ex.iter().all(|(k, v)| scalar(v).is_some_and(|v| c.axes.get(k) == Some(&v))))
        });
        Ok(cases)
    }

    /// FNV-1a over what decides the runs: a resumed study must be the same one.
    pub fn fingerprint(&self) -> Result<String> {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |s: &str| {
            for b in s.bytes().chain([0u8]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        let s = &self.study;
        feed(&s.args.join(" "));
        feed(&s.server_args.join(" "));
        for c in self.cases()? {
            feed(&c.id);
            feed(&c.args.join(" "));
            feed(&c.server_args.join(" "));
        }
        Ok(format!("{h:016x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = r#"
[study]
name = "t"
duration = "1s"
repeat = 2
args = ["--testbed", "lo"]

[[axis]]
name = "mode"
values = [{ name = "baseline", args = ["--mode", "baseline"] }, { name = "mmap", args = ["--mode", "mmap"], server_args = ["--x"] }]

[[axis]]
name = "cpus"
flag = "--cpus"
values = [1, 2]

[[exclude]]
mode = "mmap"
cpus = 2
"#;

    #[test]
    fn matrix_expands_in_axis_order_minus_exclusions() {
        let f: StudyFile = toml::from_str(T).unwrap();
        let c = f.cases().unwrap();
        let ids: Vec<&str> = c.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, vec!["mode=baseline,cpus=1", "mode=baseline,cpus=2", "mode=mmap,cpus=1"]);
        assert_eq!(c[2].args, vec!["--mode", "mmap", "--cpus", "1"]);
        assert_eq!(c[2].server_args, vec!["--x"]);
        assert_eq!(c[0].slug(), "mode-baseline_cpus-1");
        assert_eq!(f.fingerprint().unwrap(), f.fingerprint().unwrap());
        let mut g = f.clone();
        g.exclude.clear();
        assert_ne!(g.fingerprint().unwrap(), f.fingerprint().unwrap(), "a different matrix");
    }

    #[test]
    fn mistakes_are_named() {
        let bad = T.replace("flag = \"--cpus\"\n", "");
        let f: StudyFile = toml::from_str(&bad).unwrap();
        assert!(f.cases().unwrap_err().to_string().contains("needs the axis to have a flag"));
        assert!(toml::from_str::<StudyFile>(&T.replace("repeat", "repeats")).is_err());
        let f: StudyFile = toml::from_str(&T.replace("mode = \"mmap\"\ncpus", "nope = \"mmap\"\ncpus")).unwrap();
        assert!(f.cases().unwrap_err().to_string().contains("axis 'nope'"));
    }

    #[test]
    fn a_running_server_takes_only_studies_without_receiver_settings() {
        let mut f: StudyFile = toml::from_str(T).unwrap();
        let e = f.clone().against_server("198.18.0.1").unwrap_err().to_string();
        assert!(e.contains("case mode=mmap,cpus=1: --x") && e.contains("1 place(s)"), "{e}");
        f.axis[0].values.truncate(1);
        f.exclude.clear();
        f.against_server("198.18.0.1").unwrap();
        assert_eq!((f.study.server.as_deref(), f.study.server_cmd.as_ref()), (Some("198.18.0.1"), None));
        let mut g: StudyFile =
            toml::from_str(&T.replace("repeat = 2", "repeat = 2\nserver_args = [\"--mtu\", \"9000\"]")).unwrap();
        g.axis[0].values.truncate(1);
        g.exclude.clear();
        assert!(g.against_server("h").unwrap_err().to_string().contains("[study] server_args"));
    }

    /// The shipped profiles parse and have the matrices they promise.
    #[test]
    fn shipped_profiles_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let r = StudyFile::load(&dir.join("reference.toml")).unwrap();
        assert_eq!((r.study.duration.as_str(), r.study.repeat), ("100s", 5));
        let cases = r.cases().unwrap();
        assert_eq!(cases.len(), 4 * 2 * 2 * 2 * 2, "modes × cpus × rx GRO × rx BIG TCP × tx BIG TCP");
        assert!(
            cases.iter().all(
                |c| c.args.windows(2).any(|w| w == ["--mss", "4096"]) || r.study.args.contains(&"4096".to_string())
            )
        );
        let l = StudyFile::load(&dir.join("local-short.toml")).unwrap();
        assert!(l.study.server.is_none() && !l.cases().unwrap().is_empty());
        let mut p = StudyFile::load(&dir.join("pair-short.toml")).unwrap();
        p.against_server("198.18.0.1").expect("the pair study runs against a running server");
        assert_eq!(p.cases().unwrap().len(), 6);
    }
}

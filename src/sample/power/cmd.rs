//! `--power-cmd 'CMD'`: any command that prints watts (the universal adapter
//! for external meters), run with `sh -c` every interval, off the measured
//! cores, killed when it runs past its timeout.

use super::{Meter, Readings, Stop, parse_watts};
use crate::results::schema::PowerKind;
use crate::results::schema::PowerSource;
use crate::sys::proc;
use std::time::Duration;

pub struct Cmd {
    script: String,
    kind: PowerKind,
    cpus: Vec<usize>,
    timeout: Duration,
}

impl Cmd {
    /// Check the command works once before the run (a source that cannot give
    /// one reading would leave the whole run without power).
    pub fn open(script: &str, kind: PowerKind, cpus: &[usize], timeout: Duration) -> anyhow::Result<Cmd> {
        let mut c = Cmd { script: script.into(), kind, cpus: cpus.to_vec(), timeout };
        if let Err(e) = c.once(&Stop::default()) {
            return Err(crate::error::usage(format!("--power-cmd '{script}' gives no reading: {e}")));
        }
        Ok(c)
    }

    fn once(&mut self, stop: &Stop) -> Result<f64, String> {
        let out = proc::run_shell(&self.script, &self.cpus, self.timeout, &|| stop.now())?;
        parse_watts(&out.stdout)
    }
}

impl Meter for Cmd {
    fn sources(&self) -> Vec<PowerSource> {
        let cores = if self.cpus.is_empty() { "any core".to_string() } else { format!("cores {:?}", self.cpus) };
        vec![PowerSource {
            name: "cmd".into(),
            kind: self.kind,
            source: self.script.clone(),
            idle_w: None,
            idle_from: None,
            errors: vec![],
            notes: vec![format!(
                "run with sh -c every interval on {cores}, timeout {} ms; the first number it prints is the watts",
                self.timeout.as_millis()
            )],
        }]
    }

    fn read(&mut self, stop: &Stop) -> Readings {
        vec![self.once(stop)]
    }
}

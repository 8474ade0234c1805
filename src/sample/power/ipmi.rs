//! `--power ipmi` / `--power ipmi://HOST`: the DCMI power reading through
//! `ipmitool` (the local BMC through /dev/ipmi0, or a BMC over LAN with
//! `-I lanplus`, user from $IPMI_USER and password from $IPMI_PASSWORD).

use super::{Meter, Readings, Stop};
use crate::error::unsupported;
use crate::results::schema::PowerKind;
use crate::results::schema::PowerSource;
use crate::sys::proc;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Ipmi {
    host: Option<String>,
    timeout: Duration,
}

/// "Instantaneous power reading:   176 Watts" → 176.
pub fn parse_dcmi(text: &str) -> Result<f64, String> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Instantaneous power reading"))
        .ok_or_else(|| format!("ipmitool printed no 'Instantaneous power reading' line: '{}'", text.trim()))?;
    let (_, v) = line.split_once(':').ok_or("malformed power reading line")?;
    super::parse_watts(v)
}

impl Ipmi {
    pub fn open(host: Option<&str>, timeout: Duration) -> anyhow::Result<Ipmi> {
        if Command::new("ipmitool").arg("-V").output().is_err() {
            return Err(unsupported("--power ipmi: ipmitool is not installed (apt-get install ipmitool)"));
        }
        if host.is_none()
            && !["/dev/ipmi0", "/dev/ipmi/0", "/dev/ipmidev/0"].iter().any(|d| std::path::Path::new(d).exists())
        {
            return Err(unsupported(
                "--power ipmi: this host has no local BMC device (/dev/ipmi0); load ipmi_si and ipmi_devintf, or use ipmi://BMC-HOST",
            ));
        }
        let mut m = Ipmi { host: host.map(str::to_string), timeout };
        if let Err(e) = m.once(&Stop::default()) {
            return Err(unsupported(format!("--power ipmi: no DCMI power reading: {e}")));
        }
        Ok(m)
    }

    fn once(&mut self, stop: &Stop) -> Result<f64, String> {
        let mut c = Command::new("ipmitool");
        if let Some(h) = &self.host {
            let user = std::env::var("IPMI_USER").unwrap_or_default();
            c.args(["-I", "lanplus", "-H", h, "-U", &user, "-E"]);
        }
        c.args(["dcmi", "power", "reading"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        parse_dcmi(&proc::run(c, self.timeout, &|| stop.now())?.stdout)
    }
}

impl Meter for Ipmi {
    fn sources(&self) -> Vec<PowerSource> {
        vec![PowerSource {
            name: "ipmi".into(),
            kind: PowerKind::Wall,
            source: format!("ipmitool dcmi power reading ({})", self.host.as_deref().unwrap_or("local BMC")),
            idle_w: None,
            idle_from: None,
            errors: vec![],
            notes: vec![
                "DCMI 'instantaneous' readings are often averaged by the BMC over its own sampling period".into(),
            ],
        }]
    }

    fn read(&mut self, stop: &Stop) -> Readings {
        vec![self.once(stop)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dcmi_output_parses() {
        let out = "\n    Instantaneous power reading:                   176 Watts\n    Minimum during sampling period:                 90 Watts\n";
        assert_eq!(parse_dcmi(out), Ok(176.0));
        assert!(parse_dcmi("Error: no BMC").is_err());
    }
}

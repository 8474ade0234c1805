//! `--power redfish://HOST[:PORT][/PATH]`: a BMC's chassis power over Redfish.
//! Without a path the service is searched: `/redfish/v1/Chassis` → each
//! chassis → its `Power` resource (`PowerControl[].PowerConsumedWatts`), or
//! the newer `EnvironmentMetrics` (`PowerWatts.Reading`), or a power sensor
//! of its `Sensors` collection (`Reading` in W). With a path, that resource
//! is read in whichever of those forms it has.
//!
//! Credentials come from $ZCBENCH_REDFISH_USER and $ZCBENCH_REDFISH_PASSWORD
//! (HTTP basic). TLS is verified unless `--power-insecure` (BMCs often have
//! self-signed certificates). Many BMCs average chassis power over up to a
//! minute; when the resource says so (`PowerMetrics.IntervalInMin`) the
//! result notes it.

use super::{Meter, Readings, Stop};
use crate::error::unsupported;
use crate::results::schema::PowerKind;
use crate::results::schema::PowerSource;
use base64::Engine;
use serde_json::Value;
use std::time::Duration;

pub struct Redfish {
    agent: ureq::Agent,
    base: String,
    /// The resource read every interval, and the form it has.
    path: String,
    auth: Option<String>,
    notes: Vec<String>,
}

/// Watts in a Redfish resource of any of the three forms, and a note when
/// the resource says it is an average.
pub fn watts_in(v: &Value) -> Result<(f64, Option<String>), String> {
    if let Some(pcs) = v.get("PowerControl").and_then(Value::as_array) {
        let pc = pcs
            .iter()
            .find(|pc| pc.get("PowerConsumedWatts").is_some_and(|w| w.is_number()))
            .ok_or("PowerControl has no PowerConsumedWatts reading (null or absent)")?;
        let w = pc["PowerConsumedWatts"].as_f64().ok_or("PowerConsumedWatts is not a number")?;
        let avg = pc
            .pointer("/PowerMetrics/IntervalInMin")
            .and_then(Value::as_f64)
            .map(|m| format!("the BMC reports PowerMetrics averaged over {m} min (PowerConsumedWatts may lag too)"));
        return Ok((w, avg));
    }
    if let Some(r) = v.get("PowerWatts") {
        return r
            .get("Reading")
            .and_then(Value::as_f64)
            .map(|w| (w, None))
            .ok_or_else(|| "PowerWatts has no Reading".into());
    }
    if v.get("ReadingUnits").and_then(Value::as_str) == Some("W")
        || v.get("ReadingType").and_then(Value::as_str) == Some("Power")
    {
        return v
            .get("Reading")
            .and_then(Value::as_f64)
            .map(|w| (w, None))
            .ok_or_else(|| "the sensor has no Reading".into());
    }
    Err("the resource has no PowerControl, PowerWatts or power sensor Reading".into())
}

fn link(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.get("@odata.id")?.as_str().map(str::to_string)
}

impl Redfish {
    pub fn open(base: &str, path: Option<&str>, insecure: bool, timeout: Duration) -> anyhow::Result<Redfish> {
        let tls = ureq::tls::TlsConfig::builder().disable_verification(insecure).build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .tls_config(tls)
            .http_status_as_error(false)
            .build()
            .into();
        let auth = match (std::env::var("ZCBENCH_REDFISH_USER"), std::env::var("ZCBENCH_REDFISH_PASSWORD")) {
            (Ok(u), Ok(p)) => {
                Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
            }
            _ => None,
        };
        let mut r =
            Redfish { agent, base: base.trim_end_matches('/').into(), path: String::new(), auth, notes: vec![] };
        let found = match path {
            Some(p) => r.get(p).and_then(|v| watts_in(&v)).map(|(_, note)| (p.to_string(), note)),
            None => r.discover(),
        };
        let (path, note) = found.map_err(|e| unsupported(format!("--power redfish: {}: {e}", r.base)))?;
        r.path = path;
        r.notes.extend(note);
        r.notes
            .push("Redfish chassis power: BMCs may refresh it slowly or average it (often over up to a minute)".into());
        if insecure {
            r.notes.push("TLS certificate not verified (--power-insecure)".into());
        }
        Ok(r)
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.get(&url).header("Accept", "application/json");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            let hint =
                if status.as_u16() == 401 { " (set ZCBENCH_REDFISH_USER and ZCBENCH_REDFISH_PASSWORD)" } else { "" };
            return Err(format!("GET {url}: HTTP {status}{hint}"));
        }
        let body = resp.body_mut().read_to_string().map_err(|e| format!("GET {url}: reading the body: {e}"))?;
        serde_json::from_str(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }

    /// The first chassis resource that has a power reading.
    fn discover(&self) -> Result<(String, Option<String>), String> {
        let chassis = self.get("/redfish/v1/Chassis")?;
        let members = chassis.get("Members").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut why = Vec::new();
        for m in members.iter().filter_map(|m| m.get("@odata.id").and_then(Value::as_str)) {
            let c = self.get(m)?;
            let mut candidates: Vec<String> =
                ["Power", "EnvironmentMetrics"].iter().filter_map(|k| link(&c, k)).collect();
            if let Some(sensors) = link(&c, "Sensors").and_then(|s| self.get(&s).ok()) {
                let ids = sensors.get("Members").and_then(Value::as_array).cloned().unwrap_or_default();
                candidates
                    .extend(ids.iter().filter_map(|s| s.get("@odata.id").and_then(Value::as_str).map(str::to_string)));
            }
            for p in candidates {
                match self.get(&p).and_then(|v| watts_in(&v)) {
                    Ok((_, note)) => return Ok((p, note)),
                    Err(e) => why.push(format!("{p}: {e}")),
                }
            }
        }
        Err(if why.is_empty() {
            "no chassis with a Power, EnvironmentMetrics or Sensors resource".into()
        } else {
            why.join("; ")
        })
    }
}

impl Meter for Redfish {
    fn sources(&self) -> Vec<PowerSource> {
        vec![PowerSource {
            name: "redfish".into(),
            kind: PowerKind::Wall,
            source: format!("{}{}", self.base, self.path),
            idle_w: None,
            idle_from: None,
            errors: vec![],
            notes: self.notes.clone(),
        }]
    }

    fn read(&mut self, _: &Stop) -> Readings {
        vec![self.get(&self.path).and_then(|v| watts_in(&v)).map(|(w, _)| w)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_give_watts() {
        let power =
            serde_json::json!({"PowerControl": [{"PowerConsumedWatts": 344, "PowerMetrics": {"IntervalInMin": 1}}]});
        let (w, note) = watts_in(&power).unwrap();
        assert_eq!(w, 344.0);
        assert!(note.unwrap().contains("1 min"));
        assert_eq!(watts_in(&serde_json::json!({"PowerWatts": {"Reading": 230.5}})).unwrap().0, 230.5);
        assert_eq!(watts_in(&serde_json::json!({"ReadingType": "Power", "Reading": 12})).unwrap().0, 12.0);
        assert!(watts_in(&serde_json::json!({"PowerControl": [{"PowerConsumedWatts": null}]})).is_err());
        assert!(watts_in(&serde_json::json!({"Thermal": {}})).is_err());
    }
}

//! `--power rapl`: the powercap RAPL energy counters (`energy_uj`), labelled
//! package or DRAM; the counter wraps at `max_energy_range_uj`. Needs a
//! powercap driver (intel_rapl / amd's RAPL) on bare metal and root to read
//! the counters; virtual machines do not expose them.

use super::{Meter, Readings, Stop};
use crate::error::unsupported;
use crate::results::schema::PowerKind;
use crate::results::schema::PowerSource;
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Zone {
    name: String,
    kind: PowerKind,
    energy: PathBuf,
    max_range_uj: u64,
    last: Option<(u64, Instant)>,
}

pub struct Rapl {
    zones: Vec<Zone>,
}

fn read_u64(p: &Path) -> Result<u64, String> {
    let t = std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))?;
    t.trim().parse().map_err(|_| format!("{} holds '{}', not a number", p.display(), t.trim()))
}

/// Energy used between two readings of a counter that wraps past `max_range`.
pub fn energy_delta(before: u64, after: u64, max_range: u64) -> u64 {
    if after >= before { after - before } else { max_range.saturating_sub(before) + after }
}

/// Why this host has no RAPL, in words a user can act on.
fn why_none(root: &Path) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let vm = cpuinfo.lines().any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"));
    let host = if vm {
        "this is a virtual machine (the CPU reports the 'hypervisor' flag), and hypervisors do not expose RAPL to guests"
    } else {
        "no RAPL driver is loaded (try modprobe intel_rapl_msr) or the CPU has none"
    };
    format!(
        "--power rapl: no RAPL zone under {}: {host}; use --power-cmd or --power redfish:// for wall power",
        root.display()
    )
}

impl Rapl {
    /// The package and DRAM zones under `root` (normally /sys/class/powercap).
    pub fn open(root: &Path) -> anyhow::Result<Rapl> {
        let Ok(dir) = std::fs::read_dir(root) else { return Err(unsupported(why_none(root))) };
        let mut zones = Vec::new();
        let mut paths: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("intel-rapl:")))
            .collect();
        paths.sort();
        for p in paths {
            let Ok(name) = std::fs::read_to_string(p.join("name")) else { continue };
            let name = name.trim().to_string();
            // intel-rapl:N is package N; intel-rapl:N:M its sub-zones (dram, core, uncore).
            let pkg = p.file_name().map(|n| n.to_string_lossy().split(':').nth(1).unwrap_or("0").to_string());
            let (label, kind) = if name.starts_with("package") {
                (name.clone(), PowerKind::Package)
            } else if name == "dram" {
                (format!("dram-{}", pkg.unwrap_or_default()), PowerKind::Dram)
            } else {
                continue; // core and uncore are parts of the package figure
            };
            let max_range_uj = read_u64(&p.join("max_energy_range_uj")).map_err(unsupported)?;
            let energy = p.join("energy_uj");
            read_u64(&energy).map_err(|e| {
                unsupported(format!("--power rapl: {e} (the counters are readable by root only since Linux 5.10)"))
            })?;
            zones.push(Zone { name: format!("rapl:{label}"), kind, energy, max_range_uj, last: None });
        }
        if zones.is_empty() {
            return Err(unsupported(why_none(root)));
        }
        Ok(Rapl { zones })
    }
}

impl Meter for Rapl {
    fn sources(&self) -> Vec<PowerSource> {
        self.zones
            .iter()
            .map(|z| PowerSource {
                name: z.name.clone(),
                kind: z.kind,
                source: z.energy.display().to_string(),
                idle_w: None,
                idle_from: None,
                errors: vec![],
                notes: vec![format!(
                    "RAPL energy counter over each interval (wraps at {} uJ); CPU {}, not wall power",
                    z.max_range_uj,
                    if z.kind == PowerKind::Dram { "memory" } else { "package" }
                )],
            })
            .collect()
    }

    fn read(&mut self, _: &Stop) -> Readings {
        self.zones
            .iter_mut()
            .map(|z| {
                let now = Instant::now();
                let e = read_u64(&z.energy)?;
                let prev = z.last.replace((e, now));
                let (e0, t0) = prev.ok_or("first reading: no interval yet")?;
                let dt = now.duration_since(t0).as_secs_f64();
                if dt <= 0.0 {
                    return Err("no time passed since the previous reading".into());
                }
                Ok(energy_delta(e0, e, z.max_range_uj) as f64 / 1e6 / dt)
            })
            .collect()
    }

    fn is_counter(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(root: &Path, dir: &str, name: &str, energy: u64, max: u64) {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("name"), format!("{name}\n")).unwrap();
        std::fs::write(d.join("energy_uj"), format!("{energy}\n")).unwrap();
        std::fs::write(d.join("max_energy_range_uj"), format!("{max}\n")).unwrap();
    }

    /// A directory shaped like /sys/class/powercap: package 0 with a DRAM and
    /// a core sub-zone; the package counter wraps between two readings.
    #[test]
    fn counters_wrap_around_on_a_powercap_shaped_directory() {
        let root = std::env::temp_dir().join(format!("zcbench-rapl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let max = 262_143_328_850u64;
        zone(&root, "intel-rapl:0", "package-0", max - 1_000_000, max);
        zone(&root, "intel-rapl:0:0", "core", 5, max);
        zone(&root, "intel-rapl:0:1", "dram", 2_000_000, 65_712_999_613);
        let mut r = Rapl::open(&root).unwrap();
        let names: Vec<String> = r.sources().into_iter().map(|s| s.name).collect();
        assert_eq!(names, vec!["rapl:package-0", "rapl:dram-0"], "core is part of the package");
        assert_eq!(r.sources()[1].kind, PowerKind::Dram);
        assert!(r.read(&Stop::default()).iter().all(|x| x.as_ref().unwrap_err().contains("first reading")));
        // 1.5 J more on the package, past the wrap: 1.0 J to the top, 0.5 J after it.
        std::fs::write(root.join("intel-rapl:0/energy_uj"), "500000\n").unwrap();
        std::fs::write(root.join("intel-rapl:0:1/energy_uj"), "2300000\n").unwrap();
        // Each zone is read at its own instant: its watts are over its own interval.
        let t0: Vec<_> = r.zones.iter().map(|z| z.last.unwrap().1).collect();
        let w = r.read(&Stop::default());
        let dt: Vec<f64> =
            r.zones.iter().zip(&t0).map(|(z, t)| z.last.unwrap().1.duration_since(*t).as_secs_f64()).collect();
        let pkg = w[0].clone().unwrap();
        assert!((pkg * dt[0] - 1.5).abs() < 1e-9, "package {pkg} W over {} s", dt[0]);
        let dram = w[1].clone().unwrap();
        assert!((dram * dt[1] - 0.3).abs() < 0.3 * 0.05, "dram {dram} W over {} s", dt[1]);
        assert_eq!(energy_delta(max - 10, 5, max), 15);
        assert_eq!(energy_delta(10, 25, max), 15);
        // A counter that stops being readable: that interval is missing.
        std::fs::remove_file(root.join("intel-rapl:0/energy_uj")).unwrap();
        assert!(r.read(&Stop::default())[0].is_err());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn no_powercap_says_why() {
        let e = Rapl::open(Path::new("/nonexistent-powercap")).err().unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Unsupported);
        assert!(e.to_string().contains("no RAPL zone under /nonexistent-powercap"), "{e}");
    }
}

//! Cores: which exist, pinning threads to them, and per-thread CPU time.

use anyhow::{Context, Result, bail};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Parse a kernel cpu list ("0-3,8,10-11").
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a.trim().parse().with_context(|| format!("bad cpu list '{s}'"))?;
                let b: usize = b.trim().parse().with_context(|| format!("bad cpu list '{s}'"))?;
                if b < a {
                    bail!("bad cpu list '{s}': range {a}-{b} runs backwards");
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().with_context(|| format!("bad cpu list '{s}'"))?),
        }
    }
    Ok(out)
}

/// The cores this host has online.
pub fn online_cpus() -> Result<Vec<usize>> {
    let path = "/sys/devices/system/cpu/online";
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    parse_cpu_list(&s)
}

/// The hex mask format of `rps_cpus` and `smp_affinity`: 32-bit groups, comma separated.
pub fn cpu_mask_hex(cpus: &[usize]) -> String {
    let groups = cpus.iter().max().map_or(1, |m| m / 32 + 1);
    let mut words = vec![0u32; groups];
    for &c in cpus {
        words[c / 32] |= 1 << (c % 32);
    }
    words.iter().rev().map(|w| format!("{w:08x}")).collect::<Vec<_>>().join(",")
}

/// Pin the calling thread to one core.
pub fn pin_current_thread(cpu: usize) -> Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu).with_context(|| format!("core {cpu} is beyond what a cpu set can hold"))?;
    sched_setaffinity(Pid::from_raw(0), &set).with_context(|| format!("pinning a thread to core {cpu}"))
}

/// CPU time the calling thread has used so far.
pub fn thread_cpu_time() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).map(Duration::from).unwrap_or_default()
}

/// What one thread used, from getrusage(RUSAGE_THREAD).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct ThreadUsage {
    pub user_s: f64,
    pub sys_s: f64,
    pub voluntary_switches: i64,
    pub involuntary_switches: i64,
}

impl ThreadUsage {
    pub fn now() -> Self {
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: ru is a valid out-pointer for getrusage.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
        if rc != 0 {
            return Self::default();
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        ThreadUsage {
            user_s: tv(ru.ru_utime),
            sys_s: tv(ru.ru_stime),
            voluntary_switches: ru.ru_nvcsw,
            involuntary_switches: ru.ru_nivcsw,
        }
    }

    pub fn since(&self, start: &ThreadUsage) -> ThreadUsage {
        ThreadUsage {
            user_s: self.user_s - start.user_s,
            sys_s: self.sys_s - start.sys_s,
            voluntary_switches: self.voluntary_switches - start.voluntary_switches,
            involuntary_switches: self.involuntary_switches - start.involuntary_switches,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_list("0,2-4,7").unwrap(), vec![0, 2, 3, 4, 7]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
    }

    #[test]
    fn masks_match_kernel_format() {
        assert_eq!(cpu_mask_hex(&[1]), "00000002");
        assert_eq!(cpu_mask_hex(&[0, 1]), "00000003");
        assert_eq!(cpu_mask_hex(&[33]), "00000002,00000000");
        assert_eq!(cpu_mask_hex(&[]), "00000000");
    }

    #[test]
    fn pinning_really_moves_the_thread() {
        let cpus = online_cpus().unwrap();
        let last = *cpus.last().unwrap();
        std::thread::spawn(move || {
            pin_current_thread(last).unwrap();
            // SAFETY: sched_getcpu has no preconditions.
            let now = unsafe { libc::sched_getcpu() };
            assert_eq!(now as usize, last);
        })
        .join()
        .unwrap();
    }
}

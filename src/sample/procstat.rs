//! Per-core CPU time from /proc/stat, read without allocating after the first call.

use crate::results::schema::CoreUtil;
use anyhow::{Context, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Cumulative ticks (USER_HZ) of one core, as /proc/stat's `cpuN` line has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTicks {
    pub fn total(&self) -> u64 {
        self.user + self.nice + self.system + self.idle + self.iowait + self.irq + self.softirq + self.steal
    }
    pub fn delta(&self, earlier: &CpuTicks) -> CpuTicks {
        CpuTicks {
            user: self.user.saturating_sub(earlier.user),
            nice: self.nice.saturating_sub(earlier.nice),
            system: self.system.saturating_sub(earlier.system),
            idle: self.idle.saturating_sub(earlier.idle),
            iowait: self.iowait.saturating_sub(earlier.iowait),
            irq: self.irq.saturating_sub(earlier.irq),
            softirq: self.softirq.saturating_sub(earlier.softirq),
            steal: self.steal.saturating_sub(earlier.steal),
        }
    }
}

/// Share of one core spent in each state over the ticks of `d`.
pub fn core_util(cpu: usize, d: &CpuTicks) -> CoreUtil {
    let t = d.total();
    if t == 0 {
        return CoreUtil { cpu, idle: 1.0, ..Default::default() };
    }
    let f = |v: u64| v as f64 / t as f64;
    CoreUtil {
        cpu,
        busy: f(d.user + d.nice + d.system + d.irq + d.softirq + d.steal),
        user: f(d.user),
        nice: f(d.nice),
        system: f(d.system),
        irq: f(d.irq),
        softirq: f(d.softirq),
        iowait: f(d.iowait),
        idle: f(d.idle),
        steal: f(d.steal),
    }
}

/// Per-core utilisation between two snapshots.
pub fn utilisation(start: &[CpuTicks], end: &[CpuTicks]) -> Vec<CoreUtil> {
    start.iter().zip(end).enumerate().map(|(cpu, (s, e))| core_util(cpu, &e.delta(s))).collect()
}

/// Parse the `cpuN` lines of /proc/stat into `out[N]` (the aggregate `cpu` line is skipped).
pub fn parse(text: &[u8], out: &mut Vec<CpuTicks>) {
    for line in text.split(|&b| b == b'\n') {
        // Per-core lines only: "cpu0 ...", not the aggregate "cpu  ...".
        let Some(rest) = line.strip_prefix(b"cpu").filter(|r| r.first().is_some_and(u8::is_ascii_digit)) else {
            continue;
        };
        let mut fields = rest.split(|&b| b == b' ').filter(|f| !f.is_empty());
        let Some(idx) = fields.next().and_then(|f| std::str::from_utf8(f).ok()?.parse::<usize>().ok()) else {
            continue;
        };
        let mut v = [0u64; 8];
        for slot in v.iter_mut() {
            *slot = fields.next().and_then(|f| std::str::from_utf8(f).ok()?.parse().ok()).unwrap_or(0);
        }
        if out.len() <= idx {
            out.resize(idx + 1, CpuTicks::default());
        }
        out[idx] = CpuTicks {
            user: v[0],
            nice: v[1],
            system: v[2],
            idle: v[3],
            iowait: v[4],
            irq: v[5],
            softirq: v[6],
            steal: v[7],
        };
    }
}

/// An open /proc/stat that is re-read in place.
pub struct ProcStat {
    file: File,
    buf: Vec<u8>,
}

impl ProcStat {
    pub fn open() -> Result<Self> {
        Ok(ProcStat { file: File::open("/proc/stat").context("opening /proc/stat")?, buf: vec![0; 64 * 1024] })
    }

    pub fn read(&mut self, out: &mut Vec<CpuTicks>) -> Result<()> {
        let mut len = 0;
        loop {
            if len == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n = self.file.read_at(&mut self.buf[len..], len as u64).context("reading /proc/stat")?;
            if n == 0 {
                break;
            }
            len += n;
        }
        parse(&self.buf[..len], out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str =
        "cpu  10 0 5 100 1 0 2 0 0 0\ncpu0 6 0 3 50 1 0 2 0 0 0\ncpu1 4 0 2 50 0 0 0 0 0 0\nintr 1 2 3\nctxt 5\n";

    #[test]
    fn parses_per_core_lines_only() {
        let mut v = Vec::new();
        parse(SAMPLE.as_bytes(), &mut v);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], CpuTicks { user: 6, nice: 0, system: 3, idle: 50, iowait: 1, irq: 0, softirq: 2, steal: 0 });
        assert_eq!(v[1].total(), 56);
    }

    #[test]
    fn utilisation_sums_to_one() {
        let a = CpuTicks { user: 10, idle: 10, ..Default::default() };
        let b = CpuTicks { user: 40, system: 10, softirq: 20, idle: 30, iowait: 0, ..Default::default() };
        let u = core_util(3, &b.delta(&a));
        assert_eq!(u.cpu, 3);
        assert!((u.busy - 0.75).abs() < 1e-9);
        assert!((u.user + u.system + u.softirq + u.idle - 1.0).abs() < 1e-9);
        assert_eq!(core_util(0, &CpuTicks::default()).idle, 1.0);
    }

    #[test]
    fn real_proc_stat_has_every_online_core() {
        let mut p = ProcStat::open().unwrap();
        let mut v = Vec::new();
        p.read(&mut v).unwrap();
        let online = crate::sys::cpu::online_cpus().unwrap();
        assert!(v.len() > *online.iter().max().unwrap());
        assert!(online.iter().all(|&c| v[c].total() > 0));
    }
}

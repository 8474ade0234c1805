//! perf_event_open(2): per-core counters for the measured window (through the
//! `perf-event2` crate), and the attribute struct laid out by hand (checked
//! against <linux/perf_event.h> in a test) for the probe's hardware check.
//!
//! Why `perf-event2`: it is the maintained fork of `perf-event` (whose last
//! release is years old), and it has what a per-core count needs and the old
//! crate lacks: counters on one CPU for any process (`any_pid` + `one_cpu`),
//! groups, and the enabled/running times that reveal multiplexing.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

pub const PERF_TYPE_HARDWARE: u32 = 0;
pub const PERF_COUNT_HW_CPU_CYCLES: u64 = 0;
/// Bits of the flags word (the bitfield after `read_format`).
pub const FLAG_DISABLED: u64 = 1 << 0;
pub const FLAG_EXCLUDE_HV: u64 = 1 << 6;

/// struct perf_event_attr up to PERF_ATTR_SIZE_VER7 (128 bytes); the kernel
/// takes any size it knows and treats later fields as zero.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PerfEventAttr {
    pub type_: u32,
    pub size: u32,
    pub config: u64,
    pub sample_period: u64,
    pub sample_type: u64,
    pub read_format: u64,
    /// disabled, inherit, pinned, exclusive, exclude_user, exclude_kernel, exclude_hv, ...
    pub flags: u64,
    pub wakeup_events: u32,
    pub bp_type: u32,
    pub config1: u64,
    pub config2: u64,
    pub branch_sample_type: u64,
    pub sample_regs_user: u64,
    pub sample_stack_user: u32,
    pub clockid: i32,
    pub sample_regs_intr: u64,
    pub aux_watermark: u32,
    pub sample_max_stack: u16,
    pub reserved_2: u16,
    pub aux_sample_size: u32,
    pub reserved_3: u32,
    pub sig_data: u64,
}

/// Open a counter for `attr` on thread `pid` (0: the caller) and core `cpu` (-1: any).
pub fn open(attr: &PerfEventAttr, pid: i32, cpu: i32) -> io::Result<OwnedFd> {
    let mut a = *attr;
    a.size = std::mem::size_of::<PerfEventAttr>() as u32;
    // SAFETY: `a` is a valid perf_event_attr of the size it states; no group, no flags.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, &a as *const PerfEventAttr, pid, cpu, -1, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether this host counts CPU cycles (no in most VMs): a disabled cycles
/// counter on the calling thread, closed at once.
pub fn can_count_cycles() -> io::Result<()> {
    let attr = PerfEventAttr {
        type_: PERF_TYPE_HARDWARE,
        config: PERF_COUNT_HW_CPU_CYCLES,
        flags: FLAG_DISABLED | FLAG_EXCLUDE_HV,
        ..Default::default()
    };
    open(&attr, 0, -1).map(drop)
}

/// The events counted on each measured core, by perf's names.
pub const CORE_EVENTS: &[&str] =
    &["cpu-clock", "context-switches", "cpu-migrations", "page-faults", "cycles", "instructions", "cache-misses"];

fn builder(event: &str) -> Option<perf_event::Builder<'static>> {
    use perf_event::events::{Hardware, Software};
    Some(match event {
        "cpu-clock" => perf_event::Builder::new(Software::CPU_CLOCK),
        "context-switches" => perf_event::Builder::new(Software::CONTEXT_SWITCHES),
        "cpu-migrations" => perf_event::Builder::new(Software::CPU_MIGRATIONS),
        "page-faults" => perf_event::Builder::new(Software::PAGE_FAULTS),
        "cycles" => perf_event::Builder::new(Hardware::CPU_CYCLES),
        "instructions" => perf_event::Builder::new(Hardware::INSTRUCTIONS),
        "cache-misses" => perf_event::Builder::new(Hardware::CACHE_MISSES),
        _ => return None,
    })
}

/// One event counted on one core for every process (kernel included), or why
/// it could not be opened.
pub struct CoreCounter {
    pub event: &'static str,
    counter: Result<perf_event::Counter, String>,
}

/// A reading: the count, and the nanoseconds it was enabled and running.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub count: u64,
    pub enabled_ns: u64,
    pub running_ns: u64,
}

impl CoreCounter {
    /// Open and start `event` on `cpu` (needs CAP_PERFMON or root, or
    /// perf_event_paranoid ≤ 0).
    pub fn open(event: &'static str, cpu: usize) -> CoreCounter {
        let counter = match builder(event) {
            None => Err(format!("unknown event '{event}'")),
            Some(mut b) => b
                .any_pid()
                .one_cpu(cpu)
                .include_kernel()
                .build()
                .and_then(|mut c| c.enable().map(|_| c))
                .map_err(|e| describe(event, &e)),
        };
        CoreCounter { event, counter }
    }

    /// The current reading, or why there is none.
    pub fn read(&mut self) -> Result<Reading, String> {
        match &mut self.counter {
            Ok(c) => c
                .read_count_and_time()
                .map(|r| Reading { count: r.count, enabled_ns: r.time_enabled, running_ns: r.time_running })
                .map_err(|e| format!("reading {}: {e}", self.event)),
            Err(e) => Err(e.clone()),
        }
    }
}

fn describe(event: &str, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::EOPNOTSUPP) => {
            format!("{event}: this host has no such counter (no hardware PMU exposed, e.g. in a VM): {e}")
        }
        Some(libc::EACCES | libc::EPERM) => {
            format!("{event}: not permitted ({e}); needs root/CAP_PERFMON or kernel.perf_event_paranoid <= 0")
        }
        _ => format!("{event}: perf_event_open failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn attr_layout_matches_the_uapi_header() {
        assert_eq!(size_of::<PerfEventAttr>(), 128);
        let off = |n: &'static str, v: usize, e: &'static str| (n, v as u64, e);
        crate::sys::uapi_check::assert_matches(
            &["linux/perf_event.h"],
            &[
                off("config", offset_of!(PerfEventAttr, config), "offsetof(struct perf_event_attr, config)"),
                off(
                    "read_format",
                    offset_of!(PerfEventAttr, read_format),
                    "offsetof(struct perf_event_attr, read_format)",
                ),
                off(
                    "wakeup_events",
                    offset_of!(PerfEventAttr, wakeup_events),
                    "offsetof(struct perf_event_attr, wakeup_events)",
                ),
                off("clockid", offset_of!(PerfEventAttr, clockid), "offsetof(struct perf_event_attr, clockid)"),
                off("sig_data", offset_of!(PerfEventAttr, sig_data), "offsetof(struct perf_event_attr, sig_data)"),
                off("VER7", size_of::<PerfEventAttr>(), "PERF_ATTR_SIZE_VER7"),
                ("PERF_TYPE_HARDWARE", PERF_TYPE_HARDWARE.into(), "PERF_TYPE_HARDWARE"),
                ("PERF_COUNT_HW_CPU_CYCLES", PERF_COUNT_HW_CPU_CYCLES, "PERF_COUNT_HW_CPU_CYCLES"),
                // The bitfield: the word right after read_format, disabled its bit 0.
                (
                    "disabled",
                    FLAG_DISABLED,
                    "({ struct perf_event_attr a = {0}; a.disabled = 1; *(unsigned long long *)((char *)&a + offsetof(struct perf_event_attr, read_format) + 8); })",
                ),
                (
                    "exclude_hv",
                    FLAG_EXCLUDE_HV,
                    "({ struct perf_event_attr a = {0}; a.exclude_hv = 1; *(unsigned long long *)((char *)&a + offsetof(struct perf_event_attr, read_format) + 8); })",
                ),
            ],
        );
        assert_eq!(offset_of!(PerfEventAttr, flags), offset_of!(PerfEventAttr, read_format) + 8);
    }

    #[test]
    fn per_core_software_counters_count_and_hardware_ones_say_why_not() {
        let cpu = crate::sys::cpu::online_cpus().unwrap()[0];
        let mut clock = CoreCounter::open("cpu-clock", cpu);
        let a = clock.read().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = clock.read().unwrap();
        // cpu-clock on one core advances with wall time (idle included), in ns.
        assert!(b.count - a.count >= 10_000_000, "{a:?} {b:?}");
        assert!(b.running_ns > 0 && b.enabled_ns >= b.running_ns);
        match CoreCounter::open("cycles", cpu).read() {
            Ok(r) => assert!(r.enabled_ns > 0),
            Err(e) => {
                assert!(e.contains("cycles") && (e.contains("no such counter") || e.contains("not permitted")), "{e}")
            }
        }
        assert!(CoreCounter::open("bogus", cpu).read().unwrap_err().contains("unknown event"));
    }

    #[test]
    fn software_clock_opens_everywhere() {
        // PERF_TYPE_SOFTWARE / PERF_COUNT_SW_TASK_CLOCK works even without a PMU.
        let attr = PerfEventAttr { type_: 1, config: 1, flags: FLAG_DISABLED, ..Default::default() };
        open(&attr, 0, -1).unwrap();
        // Cycles either open or fail with the kernel's reason; never anything else.
        if let Err(e) = can_count_cycles() {
            assert!(matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EOPNOTSUPP | libc::EACCES)), "{e}");
        }
    }
}

//! perf_event_open(2): the attribute struct laid out by hand (checked against
//! <linux/perf_event.h> in a test) and a probe for hardware counters.

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

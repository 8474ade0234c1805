//! The kernel's zcrx and query structs and numbers, in the 7.3 layout
//! (include/uapi/linux/io_uring/zcrx.h, io_uring/query.h, io_uring.h).
//!
//! Written by hand: the `io-uring` crate has the 6.15 structs (and no query,
//! control or event structs), and its `register_ifq` takes the registration
//! struct by shared reference although the kernel writes into it. The sizes of
//! every struct are the same from 6.15 to 7.3; fields that are reserved on
//! older kernels (`rx_buf_len`, `event_desc`) are left zero there. Checked in
//! the tests against the crate's bindings and, where the system has them, the
//! 7.x uapi headers.

pub const IORING_REGISTER_ZCRX_IFQ: u32 = 32;
pub const IORING_REGISTER_QUERY: u32 = 35;
pub const IORING_REGISTER_ZCRX_CTRL: u32 = 36;

pub const IORING_MEM_REGION_TYPE_USER: u32 = 1;
pub const IORING_ZCRX_AREA_DMABUF: u32 = 1;
pub const ZCRX_REG_NODEV: u32 = 2;
pub const ZCRX_FEATURE_RX_PAGE_SIZE: u32 = 1;
pub const ZCRX_FEATURE_EVENT: u32 = 2;
pub const ZCRX_EVENT_ALLOC_FAIL: u32 = 0;
pub const ZCRX_EVENT_COPY: u32 = 1;
pub const ZCRX_EVENT_DESC_FLAG_STATS: u32 = 1;
pub const ZCRX_CTRL_FLUSH_RQ: u32 = 0;
pub const ZCRX_CTRL_ARM_EVENT: u32 = 2;

pub const IO_URING_QUERY_OPCODES: u32 = 0;
pub const IO_URING_QUERY_ZCRX: u32 = 1;
pub const IO_URING_QUERY_ZCRX_EVENT: u32 = 3;

pub const IORING_ENTER_GETEVENTS: u32 = 1;
pub const IORING_ENTER_EXT_ARG: u32 = 1 << 3;
pub const IORING_ENTER_NO_IOWAIT: u32 = 1 << 7;
#[cfg(test)]
pub const IORING_FEAT_NO_IOWAIT: u32 = 1 << 17;

/// `IO_RQ_MAX_ENTRIES`: most refill entries without IORING_SETUP_CLAMP.
pub const RQ_MAX_ENTRIES: u32 = 32768;

/// `struct io_uring_zcrx_offsets`: where head, tail and entries sit in the region.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Offsets {
    pub head: u32,
    pub tail: u32,
    pub rqes: u32,
    pub resv2: u32,
    pub resv: [u64; 2],
}

/// `struct io_uring_zcrx_ifq_reg` (7.x names; `rx_buf_len` and `event_desc` were reserved before).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct IfqReg {
    pub if_idx: u32,
    pub if_rxq: u32,
    pub rq_entries: u32,
    pub flags: u32,
    pub area_ptr: u64,
    pub region_ptr: u64,
    pub offsets: Offsets,
    pub zcrx_id: u32,
    pub rx_buf_len: u32,
    pub event_desc: u64,
    pub resv: [u64; 2],
}

/// `struct io_uring_zcrx_area_reg`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct AreaReg {
    pub addr: u64,
    pub len: u64,
    pub rq_area_token: u64,
    pub flags: u32,
    pub dmabuf_fd: u32,
    pub resv2: [u64; 2],
}

/// `struct io_uring_region_desc`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct RegionDesc {
    pub user_addr: u64,
    pub size: u64,
    pub flags: u32,
    pub id: u32,
    pub mmap_offset: u64,
    pub resv: [u64; 4],
}

/// `struct zcrx_event_desc` (7.2+).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct EventDesc {
    pub user_data: u64,
    pub type_mask: u32,
    pub flags: u32,
    pub stats_offset: u64,
    pub resv2: [u64; 9],
}

/// `struct zcrx_stats` (7.2+), in the refill region at `stats_offset`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub copy_count: u64,
    pub copy_bytes: u64,
}

/// `struct zcrx_ctrl`; `args` is the 48-byte union (all of it zero for FLUSH_RQ).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Ctrl {
    pub zcrx_id: u32,
    pub op: u32,
    pub resv: [u64; 2],
    pub args: [u64; 6],
}

/// `struct zcrx_ctrl` with the `zc_arm_event` member of its union.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct CtrlArmEvent {
    pub zcrx_id: u32,
    pub op: u32,
    pub resv: [u64; 2],
    pub event_type: u32,
    pub resv2: [u32; 11],
}

/// `struct io_uring_query_hdr`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct QueryHdr {
    pub next_entry: u64,
    pub query_data: u64,
    pub query_op: u32,
    pub size: u32,
    pub result: i32,
    pub resv: [u32; 3],
}

/// `struct io_uring_query_opcode`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct QueryOpcode {
    pub nr_request_opcodes: u32,
    pub nr_register_opcodes: u32,
    pub feature_flags: u64,
    pub ring_setup_flags: u64,
    pub enter_flags: u64,
    pub sqe_flags: u64,
    pub nr_query_opcodes: u32,
    pub pad: u32,
}

/// `struct io_uring_query_zcrx`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct QueryZcrx {
    pub register_flags: u64,
    pub area_flags: u64,
    pub nr_ctrl_opcodes: u32,
    pub features: u32,
    pub rq_hdr_size: u32,
    pub rq_hdr_alignment: u32,
    pub resv2: u64,
}

/// `struct io_uring_query_zcrx_event`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct QueryZcrxEvent {
    pub event_flags: u32,
    pub stats_size: u32,
    pub stats_off_alignment: u32,
    pub resv1: u32,
    pub resv2: [u64; 4],
}

/// `struct io_uring_zcrx_rqe`: one refill entry.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct RawRqe {
    pub off: u64,
    pub len: u32,
    pub pad: u32,
}

/// `io_uring_register(2)` with a pointer the kernel may write through.
/// Returns the syscall's result or the errno.
pub fn register(fd: i32, opcode: u32, arg: *mut libc::c_void, nr_args: u32) -> std::io::Result<i64> {
    // SAFETY: the callers pass a pointer to a live struct of the type `opcode`
    // reads and writes (checked against the uapi layout in the tests), or null.
    let rc = unsafe { libc::syscall(libc::SYS_io_uring_register, fd, opcode, arg, nr_args) };
    if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(rc) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The 6.15-era bindings of the `io-uring` crate agree on every size and
    /// on the offsets both layouts share.
    #[test]
    fn layouts_match_the_crates_bindings() {
        use io_uring::types as t;
        assert_eq!(size_of::<IfqReg>(), size_of::<t::io_uring_zcrx_ifq_reg>());
        assert_eq!(size_of::<IfqReg>(), 96);
        assert_eq!(size_of::<AreaReg>(), size_of::<t::io_uring_zcrx_area_reg>());
        assert_eq!(size_of::<RegionDesc>(), size_of::<t::io_uring_region_desc>());
        assert_eq!(size_of::<RawRqe>(), size_of::<t::io_uring_zcrx_rqe>());
        assert_eq!(offset_of!(IfqReg, offsets), offset_of!(t::io_uring_zcrx_ifq_reg, offsets));
        assert_eq!(offset_of!(IfqReg, zcrx_id), offset_of!(t::io_uring_zcrx_ifq_reg, zcrx_id));
        assert_eq!(offset_of!(IfqReg, region_ptr), offset_of!(t::io_uring_zcrx_ifq_reg, region_ptr));
        assert_eq!(offset_of!(AreaReg, rq_area_token), offset_of!(t::io_uring_zcrx_area_reg, rq_area_token));
        assert_eq!(offset_of!(AreaReg, dmabuf_fd), offset_of!(t::io_uring_zcrx_area_reg, dmabuf_fd));
        assert_eq!(offset_of!(RegionDesc, mmap_offset), offset_of!(t::io_uring_region_desc, mmap_offset));
        assert_eq!(u64::from(t::IORING_MEM_REGION_TYPE_USER), u64::from(IORING_MEM_REGION_TYPE_USER));
        assert_eq!(size_of::<Ctrl>(), 72);
        assert_eq!(size_of::<CtrlArmEvent>(), 72);
        assert_eq!(offset_of!(CtrlArmEvent, event_type), offset_of!(Ctrl, args));
        assert_eq!(size_of::<QueryHdr>(), 40);
        assert_eq!(size_of::<QueryOpcode>(), 48);
        assert_eq!(size_of::<QueryZcrx>(), 40);
        assert_eq!(size_of::<QueryZcrxEvent>(), 48);
        assert_eq!(size_of::<EventDesc>(), 96);
        assert_eq!(size_of::<Stats>(), 16);
    }

    /// Every number and offset against <linux/io_uring.h> of 7.x, where the
    /// system (or `ZCBENCH_UAPI_INCLUDE`) has it.
    #[test]
    fn numbers_match_the_7x_uapi_headers() {
        let dir = crate::sys::uapi_check::newer_uapi();
        match crate::sys::uapi_check::has_header_in(dir.as_deref(), "linux/io_uring/zcrx.h") {
            None => return,
            Some(false) => {
                eprintln!(
                    "SKIPPED: no <linux/io_uring/zcrx.h> (7.x) here; ZCBENCH_UAPI_INCLUDE names a 7.x kernel's include/uapi (scripts/test sets it for the VM stage)"
                );
                return;
            }
            Some(true) => {}
        }
        let v = |n: &'static str, x: u64| (n, x, n);
        let o = |n: &'static str, x: usize, e: &'static str| (n, x as u64, e);
        crate::sys::uapi_check::assert_matches_in(
            dir.as_deref(),
            &["linux/io_uring.h", "linux/io_uring/query.h"],
            &[
                v("IORING_REGISTER_ZCRX_IFQ", IORING_REGISTER_ZCRX_IFQ.into()),
                v("IORING_REGISTER_QUERY", IORING_REGISTER_QUERY.into()),
                v("IORING_REGISTER_ZCRX_CTRL", IORING_REGISTER_ZCRX_CTRL.into()),
                v("IORING_MEM_REGION_TYPE_USER", IORING_MEM_REGION_TYPE_USER.into()),
                v("IORING_ZCRX_AREA_DMABUF", IORING_ZCRX_AREA_DMABUF.into()),
                v("ZCRX_REG_NODEV", ZCRX_REG_NODEV.into()),
                v("ZCRX_FEATURE_RX_PAGE_SIZE", ZCRX_FEATURE_RX_PAGE_SIZE.into()),
                v("ZCRX_FEATURE_EVENT", ZCRX_FEATURE_EVENT.into()),
                v("ZCRX_EVENT_ALLOC_FAIL", ZCRX_EVENT_ALLOC_FAIL.into()),
                v("ZCRX_EVENT_COPY", ZCRX_EVENT_COPY.into()),
                v("ZCRX_EVENT_DESC_FLAG_STATS", ZCRX_EVENT_DESC_FLAG_STATS.into()),
                v("ZCRX_CTRL_FLUSH_RQ", ZCRX_CTRL_FLUSH_RQ.into()),
                v("ZCRX_CTRL_ARM_EVENT", ZCRX_CTRL_ARM_EVENT.into()),
                v("IO_URING_QUERY_OPCODES", IO_URING_QUERY_OPCODES.into()),
                v("IO_URING_QUERY_ZCRX", IO_URING_QUERY_ZCRX.into()),
                v("IO_URING_QUERY_ZCRX_EVENT", IO_URING_QUERY_ZCRX_EVENT.into()),
                v("IORING_ENTER_GETEVENTS", IORING_ENTER_GETEVENTS.into()),
                v("IORING_ENTER_EXT_ARG", IORING_ENTER_EXT_ARG.into()),
                v("IORING_ENTER_NO_IOWAIT", IORING_ENTER_NO_IOWAIT.into()),
                v("IORING_FEAT_NO_IOWAIT", IORING_FEAT_NO_IOWAIT.into()),
                o("ifq", size_of::<IfqReg>(), "sizeof(struct io_uring_zcrx_ifq_reg)"),
                o(
                    "ifq.rx_buf_len",
                    offset_of!(IfqReg, rx_buf_len),
                    "offsetof(struct io_uring_zcrx_ifq_reg, rx_buf_len)",
                ),
                o(
                    "ifq.event_desc",
                    offset_of!(IfqReg, event_desc),
                    "offsetof(struct io_uring_zcrx_ifq_reg, event_desc)",
                ),
                o("ifq.offsets", offset_of!(IfqReg, offsets), "offsetof(struct io_uring_zcrx_ifq_reg, offsets)"),
                o("off.rqes", offset_of!(Offsets, rqes), "offsetof(struct io_uring_zcrx_offsets, rqes)"),
                o("area", size_of::<AreaReg>(), "sizeof(struct io_uring_zcrx_area_reg)"),
                o("area.flags", offset_of!(AreaReg, flags), "offsetof(struct io_uring_zcrx_area_reg, flags)"),
                o("region", size_of::<RegionDesc>(), "sizeof(struct io_uring_region_desc)"),
                o("region.flags", offset_of!(RegionDesc, flags), "offsetof(struct io_uring_region_desc, flags)"),
                o("event", size_of::<EventDesc>(), "sizeof(struct zcrx_event_desc)"),
                o(
                    "event.stats_offset",
                    offset_of!(EventDesc, stats_offset),
                    "offsetof(struct zcrx_event_desc, stats_offset)",
                ),
                o("stats", size_of::<Stats>(), "sizeof(struct zcrx_stats)"),
                o("ctrl", size_of::<Ctrl>(), "sizeof(struct zcrx_ctrl)"),
                o("ctrl.union", offset_of!(Ctrl, args), "offsetof(struct zcrx_ctrl, zc_flush)"),
                o(
                    "ctrl.event",
                    offset_of!(CtrlArmEvent, event_type),
                    "offsetof(struct zcrx_ctrl, zc_arm_event.event_type)",
                ),
                o("rqe", size_of::<RawRqe>(), "sizeof(struct io_uring_zcrx_rqe)"),
                o("qhdr", size_of::<QueryHdr>(), "sizeof(struct io_uring_query_hdr)"),
                o("qhdr.result", offset_of!(QueryHdr, result), "offsetof(struct io_uring_query_hdr, result)"),
                o("qop", size_of::<QueryOpcode>(), "sizeof(struct io_uring_query_opcode)"),
                o(
                    "qop.nr_query",
                    offset_of!(QueryOpcode, nr_query_opcodes),
                    "offsetof(struct io_uring_query_opcode, nr_query_opcodes)",
                ),
                o("qzcrx", size_of::<QueryZcrx>(), "sizeof(struct io_uring_query_zcrx)"),
                o("qzcrx.features", offset_of!(QueryZcrx, features), "offsetof(struct io_uring_query_zcrx, features)"),
                o("qevent", size_of::<QueryZcrxEvent>(), "sizeof(struct io_uring_query_zcrx_event)"),
            ],
        );
    }
}

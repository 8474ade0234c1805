//! The zcrx area (where the kernel places received payload) and the refill
//! region (the ring through which buffers go back), both memory this process
//! owns and the kernel pins for the life of the interface queue.

use super::abi::{self, AreaReg, RawRqe, RegionDesc};
use super::refill::{RefillRing, Rqe};
use crate::sys::dmabuf::DmaBuf;
use crate::sys::mem::{Backing, PageBuf};
use anyhow::{Result, bail};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// What the kernel places payload in.
pub enum Area {
    /// Anonymous memory (4 KiB or 2 MiB pages), pinned by the kernel.
    Pages { buf: PageBuf, huge: bool },
    /// A dma-buf (6.16+); the kernel cannot copy into it (no kernel mapping).
    DmaBuf(Box<dyn DmaBuf>),
}

impl Area {
    /// `len` bytes of anonymous memory, pre-faulted.
    pub fn pages(len: usize, backing: Backing) -> Result<Area> {
        Ok(Area::Pages { buf: PageBuf::new(len, backing)?, huge: backing == Backing::HugePages })
    }

    pub fn len(&self) -> usize {
        match self {
            Area::Pages { buf, .. } => buf.raw().1,
            Area::DmaBuf(d) => d.len(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Area::Pages { huge: false, .. } => format!("anonymous memory, {} KiB of 4 KiB pages", self.len() >> 10),
            Area::Pages { huge: true, .. } => format!("anonymous memory, {} KiB of 2 MiB huge pages", self.len() >> 10),
            Area::DmaBuf(d) => d.describe(),
        }
    }

    pub(super) fn reg(&self) -> AreaReg {
        match self {
            Area::Pages { buf, .. } => {
                AreaReg { addr: buf.raw().0 as u64, len: buf.raw().1 as u64, ..AreaReg::default() }
            }
            Area::DmaBuf(d) => AreaReg {
                len: d.len() as u64,
                flags: abi::IORING_ZCRX_AREA_DMABUF,
                dmabuf_fd: std::os::fd::AsRawFd::as_raw_fd(&d.fd()) as u32,
                ..AreaReg::default()
            },
        }
    }

    /// Lend `len` bytes at `off` to `f`. The caller guarantees the kernel
    /// handed that range to user space (a data CQE) and has not had it back.
    pub(super) fn read(&self, off: u64, len: u32, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let end = off.checked_add(u64::from(len)).filter(|e| *e <= self.len() as u64);
        let Some(_) = end else {
            bail!("the kernel named bytes {off}+{len}, outside the {}-byte zcrx area", self.len());
        };
        match self {
            Area::Pages { buf, .. } => {
                // SAFETY: off..off+len lies inside our live mapping (checked above),
                // and the kernel handed that range to us with its data CQE: it does
                // not write it until the buffer goes back through the refill ring,
                // which happens only after `f` returns.
                let bytes = unsafe { std::slice::from_raw_parts(buf.raw().0.add(off as usize), len as usize) };
                f(bytes)
            }
            Area::DmaBuf(d) => d.read(&[(off, len)], &mut |_, b| f(b)),
        }
    }
}

/// Bytes reserved for the ring header before the entries: the kernel puts the
/// entries at `ALIGN(sizeof(struct zcrx_rq_hdr), L1_CACHE_BYTES)` (128 on
/// x86-64), always within the first page.
const HEADER_ROOM: usize = 4096;

/// The refill region: header, `entries` refill entries, then (7.2+) the
/// kernel's copy statistics.
pub struct Region {
    buf: PageBuf,
    entries: u32,
}

impl Region {
    pub fn new(entries: u32) -> Result<Region> {
        let len = (Self::stats_offset_for(entries) + std::mem::size_of::<abi::Stats>()).div_ceil(4096) * 4096;
        Ok(Region { buf: PageBuf::new(len, Backing::Pages)?, entries })
    }

    fn stats_offset_for(entries: u32) -> usize {
        HEADER_ROOM + entries as usize * std::mem::size_of::<RawRqe>()
    }

    /// Where `struct zcrx_stats` goes: 8-byte aligned, after every entry.
    pub fn stats_offset(&self) -> usize {
        Self::stats_offset_for(self.entries)
    }

    pub fn desc(&self) -> RegionDesc {
        let (p, len) = self.buf.raw();
        RegionDesc {
            user_addr: p as u64,
            size: len as u64,
            flags: abi::IORING_MEM_REGION_TYPE_USER,
            ..Default::default()
        }
    }

    /// The ring at the offsets the kernel reported, checked to lie in the region.
    pub fn ring(&self, off: &abi::Offsets, entries: u32) -> Result<RegionRing> {
        let len = self.buf.raw().1;
        let rqes_end = off.rqes as usize + entries as usize * std::mem::size_of::<RawRqe>();
        let fits = |o: u32, n: usize| (o as usize).is_multiple_of(4) && o as usize + n <= len;
        if !fits(off.head, 4) || !fits(off.tail, 4) || !(off.rqes as usize).is_multiple_of(8) || rqes_end > len {
            bail!("the kernel's refill ring offsets {off:?} for {entries} entries do not fit the {len}-byte region");
        }
        if entries > self.entries {
            bail!("the kernel made the refill ring {entries} entries, more than the {} asked for", self.entries);
        }
        let base = self.buf.raw().0;
        // SAFETY: each offset was checked to lie inside the live, page-aligned
        // region; the pointers stay valid while `self` lives (the ZcrxRing keeps
        // the region until after the ring is closed).
        let (head, tail, rqes) = unsafe {
            (
                base.add(off.head as usize) as *const AtomicU32,
                base.add(off.tail as usize) as *const AtomicU32,
                base.add(off.rqes as usize) as *mut RawRqe,
            )
        };
        Ok(RegionRing { head, tail, rqes, entries })
    }

    /// The kernel's copy-fallback counters `(copy_count, copy_bytes)`.
    pub fn stats(&self) -> (u64, u64) {
        // SAFETY: stats_offset is 8-aligned and inside the region (see new());
        // the kernel updates these with single stores (WRITE_ONCE).
        unsafe {
            let p = self.buf.raw().0.add(self.stats_offset()) as *const AtomicU64;
            ((*p).load(Ordering::Relaxed), (*p.add(1)).load(Ordering::Relaxed))
        }
    }
}

/// The refill ring as the kernel laid it out in a [`Region`].
pub struct RegionRing {
    head: *const AtomicU32,
    tail: *const AtomicU32,
    rqes: *mut RawRqe,
    entries: u32,
}

// SAFETY: the pointers are into a Region owned by the same ZcrxRing, which moves
// to the data thread as a whole; only that thread touches them.
unsafe impl Send for RegionRing {}

impl RefillRing for RegionRing {
    fn entries(&self) -> u32 {
        self.entries
    }
    fn load_head(&self) -> u32 {
        // SAFETY: a valid, aligned u32 in the region (checked in Region::ring).
        unsafe { (*self.head).load(Ordering::Acquire) }
    }
    fn load_tail(&self) -> u32 {
        // SAFETY: as above; only this producer writes the tail.
        unsafe { (*self.tail).load(Ordering::Relaxed) }
    }
    fn store_tail(&self, tail: u32) {
        // SAFETY: as above; the release store publishes the entries written before it.
        unsafe { (*self.tail).store(tail, Ordering::Release) }
    }
    fn write_rqe(&self, slot: u32, rqe: Rqe) {
        debug_assert!(slot < self.entries);
        // SAFETY: slot < entries (the producer masks it), so the entry lies in
        // the region; the kernel reads it only after the tail store that follows.
        unsafe { self.rqes.add(slot as usize).write_volatile(RawRqe { off: rqe.off, len: rqe.len, pad: 0 }) }
    }
}

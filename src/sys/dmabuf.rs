//! dma-bufs: the memory devmem TCP binds NIC queues to and io_uring zcrx can
//! take as its area. One small trait, [`DmaBuf`], so another exporter (a GPU's
//! memory, say) can plug in without the data paths changing; today's exporter
//! is udmabuf: a sealed memfd turned into a dma-buf by `/dev/udmabuf`.
//!
//! Numbers from include/uapi/linux/udmabuf.h and dma-buf.h (checked in tests).
//! Rules the kernel enforces (drivers/dma-buf/udmabuf.c): the memfd must be
//! shmem or hugetlbfs, sealed with F_SEAL_SHRINK and not F_SEAL_WRITE, offset
//! and size page aligned; the size is capped by the module parameter
//! `size_limit_mb` (64 MiB in older kernels, unlimited in 7.x).

use crate::error::unsupported;
use anyhow::{Context, Result, anyhow, bail};
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

pub const UDMABUF_DEV: &str = "/dev/udmabuf";
pub const UDMABUF_SIZE_LIMIT: &str = "/sys/module/udmabuf/parameters/size_limit_mb";
/// `_IOW('u', 0x42, struct udmabuf_create)`.
pub const UDMABUF_CREATE: libc::c_ulong = 0x4018_7542;
pub const UDMABUF_FLAGS_CLOEXEC: u32 = 0x01;
/// `_IOW('b', 0, struct dma_buf_sync)`.
pub const DMA_BUF_IOCTL_SYNC: libc::c_ulong = 0x4008_6200;
pub const DMA_BUF_SYNC_READ: u64 = 1;
pub const DMA_BUF_SYNC_WRITE: u64 = 2;
pub const DMA_BUF_SYNC_START: u64 = 0;
pub const DMA_BUF_SYNC_END: u64 = 4;

/// struct udmabuf_create.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct UdmabufCreate {
    pub memfd: u32,
    pub flags: u32,
    pub offset: u64,
    pub size: u64,
}

/// A dma-buf a NIC queue or an io_uring area can be bound to.
pub trait DmaBuf: Send + Sync {
    /// The dma-buf file descriptor (what `bind-rx` and zcrx registration take).
    fn fd(&self) -> BorrowedFd<'_>;
    /// Its size in bytes.
    fn len(&self) -> usize;
    /// What exported it, for results and errors ("udmabuf, 64 MiB of 4 KiB pages").
    fn describe(&self) -> String;
    /// Read `ranges` (offset, length) with the CPU, all between one
    /// DMA_BUF_IOCTL_SYNC start and end: `f` sees each with its index. Err when
    /// the memory has no CPU mapping (device memory) or a range is outside the
    /// buffer (nothing is read then).
    fn read(&self, ranges: &[(u64, u32)], f: &mut dyn FnMut(usize, &[u8]) -> Result<()>) -> Result<()>;
    /// Write `src` at `off` with the CPU (between sync start and end).
    fn write(&self, off: usize, src: &[u8]) -> Result<()>;
}

/// Page size of a udmabuf's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    /// shmem, 4 KiB pages.
    Small,
    /// hugetlbfs, 2 MiB pages (needed for large rx pages on newer kernels).
    Huge2M,
}

/// A udmabuf: its memfd, the dma-buf made from it, and a shared CPU mapping.
pub struct Udmabuf {
    _memfd: File,
    dmabuf: OwnedFd,
    map: *mut u8,
    len: usize,
    pages: Pages,
}

// SAFETY: the mapping is plain memory owned by this value; concurrent access is
// through `read`/`write`, which copy and never hand out a `&mut`.
unsafe impl Send for Udmabuf {}
// SAFETY: as above; `read` gives shared slices of memory the CPU does not write here.
unsafe impl Sync for Udmabuf {}

fn cvt(rc: libc::c_int) -> std::io::Result<libc::c_int> {
    if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(rc) }
}

/// What stops a udmabuf of `len` bytes from being made here, if anything.
pub fn udmabuf_unavailable(len: usize) -> Option<String> {
    if !Path::new(UDMABUF_DEV).exists() {
        return Some(format!(
            "{UDMABUF_DEV} does not exist: load the udmabuf module (`modprobe udmabuf`), or use a kernel built with CONFIG_UDMABUF"
        ));
    }
    let limit_mb = std::fs::read_to_string(UDMABUF_SIZE_LIMIT).ok()?.trim().parse::<u64>().ok()?;
    let limit = limit_mb.saturating_mul(1 << 20);
    (len as u64 > limit).then(|| {
        format!(
            "a {} MiB udmabuf is over the module's size_limit_mb ({limit_mb}): raise it (`echo {} > {UDMABUF_SIZE_LIMIT}` or `modprobe udmabuf size_limit_mb={}`) or lower --dmabuf-size",
            len >> 20,
            (len >> 20) + 1,
            (len >> 20) + 1
        )
    })
}

impl Udmabuf {
    /// A `len`-byte udmabuf (rounded up to the page size) from a sealed memfd.
    pub fn create(len: usize, pages: Pages) -> Result<Udmabuf> {
        if let Some(why) = udmabuf_unavailable(len) {
            return Err(unsupported(why));
        }
        let page = match pages {
            Pages::Small => 4096,
            Pages::Huge2M => 2 << 20,
        };
        let len = len.max(1).div_ceil(page) * page;
        let memfd = memfd_sealed(len, pages)?;
        let dev = OpenOptions::new()
            .read(true)
            .write(true)
            .open(UDMABUF_DEV)
            .with_context(|| format!("opening {UDMABUF_DEV}"))?;
        let mut req = UdmabufCreate {
            memfd: memfd.as_raw_fd() as u32,
            flags: UDMABUF_FLAGS_CLOEXEC,
            offset: 0,
            size: len as u64,
        };
        // SAFETY: UDMABUF_CREATE reads one struct udmabuf_create, which `req` is.
        let fd = cvt(unsafe { libc::ioctl(dev.as_raw_fd(), UDMABUF_CREATE as _, &mut req) })
            .with_context(|| format!("UDMABUF_CREATE of {len} bytes on {UDMABUF_DEV}"))?;
        // SAFETY: a fresh descriptor owned by nobody else.
        let dmabuf = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: a shared mapping of the whole dma-buf, unmapped in Drop.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                dmabuf.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error()).context("mapping the udmabuf for CPU access");
        }
        Ok(Udmabuf { _memfd: memfd, dmabuf, map: p as *mut u8, len, pages })
    }

    fn sync(&self, flags: u64) -> Result<()> {
        let arg = flags;
        // SAFETY: DMA_BUF_IOCTL_SYNC reads one u64 (struct dma_buf_sync).
        cvt(unsafe { libc::ioctl(self.dmabuf.as_raw_fd(), DMA_BUF_IOCTL_SYNC as _, &arg) })
            .map(drop)
            .context("DMA_BUF_IOCTL_SYNC on the udmabuf")
    }

    fn check(&self, off: usize, len: usize) -> Result<()> {
        if off.checked_add(len).is_none_or(|end| end > self.len) {
            bail!("range {off}+{len} is outside the {}-byte dma-buf", self.len);
        }
        Ok(())
    }
}

/// A memfd of `len` bytes, sealed against shrinking, as udmabuf requires.
fn memfd_sealed(len: usize, pages: Pages) -> Result<File> {
    let mut flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    if pages == Pages::Huge2M {
        flags |= libc::MFD_HUGETLB | libc::MFD_HUGE_2MB;
    }
    // SAFETY: memfd_create with a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"zcbench-dmabuf".as_ptr(), flags) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return Err(anyhow!(e).context(match pages {
            Pages::Huge2M => "memfd_create(MFD_HUGETLB) for the dma-buf (reserve huge pages: --hugepages)",
            Pages::Small => "memfd_create for the dma-buf",
        }));
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    let f = unsafe { File::from_raw_fd(fd) };
    f.set_len(len as u64).with_context(|| format!("sizing the dma-buf memfd to {len} bytes"))?;
    // SAFETY: F_ADD_SEALS takes an int flag set.
    cvt(unsafe { libc::fcntl(f.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) })
        .context("sealing the dma-buf memfd (F_SEAL_SHRINK)")?;
    Ok(f)
}

impl DmaBuf for Udmabuf {
    fn fd(&self) -> BorrowedFd<'_> {
        self.dmabuf.as_fd()
    }

    fn len(&self) -> usize {
        self.len
    }

    fn describe(&self) -> String {
        let pages = match self.pages {
            Pages::Small => "4 KiB pages",
            Pages::Huge2M => "2 MiB huge pages",
        };
        format!("udmabuf, {} KiB of {pages}", self.len >> 10)
    }

    fn read(&self, ranges: &[(u64, u32)], f: &mut dyn FnMut(usize, &[u8]) -> Result<()>) -> Result<()> {
        for &(off, len) in ranges {
            self.check(usize::try_from(off).unwrap_or(usize::MAX), len as usize)?;
        }
        self.sync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ)?;
        let r = ranges.iter().enumerate().try_for_each(|(i, &(off, len))| {
            // SAFETY: off..off+len lies inside our live mapping (checked above).
            let bytes = unsafe { std::slice::from_raw_parts(self.map.add(off as usize), len as usize) };
            f(i, bytes)
        });
        self.sync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ)?;
        r
    }

    fn write(&self, off: usize, src: &[u8]) -> Result<()> {
        self.check(off, src.len())?;
        self.sync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE)?;
        // SAFETY: the range lies inside our live mapping; `src` is another object.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.map.add(off), src.len()) };
        self.sync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE)
    }
}

impl Drop for Udmabuf {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what create() mapped.
        unsafe { libc::munmap(self.map as *mut libc::c_void, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_uapi_headers() {
        let v = |n: &'static str, x: u64| (n, x, n);
        crate::sys::uapi_check::assert_matches(
            &["linux/udmabuf.h", "linux/dma-buf.h"],
            &[
                v("UDMABUF_CREATE", UDMABUF_CREATE),
                v("UDMABUF_FLAGS_CLOEXEC", UDMABUF_FLAGS_CLOEXEC.into()),
                v("DMA_BUF_IOCTL_SYNC", DMA_BUF_IOCTL_SYNC),
                v("DMA_BUF_SYNC_READ", DMA_BUF_SYNC_READ),
                v("DMA_BUF_SYNC_WRITE", DMA_BUF_SYNC_WRITE),
                v("DMA_BUF_SYNC_START", DMA_BUF_SYNC_START),
                v("DMA_BUF_SYNC_END", DMA_BUF_SYNC_END),
                ("size", std::mem::size_of::<UdmabufCreate>() as u64, "sizeof(struct udmabuf_create)"),
                ("offset", 8, "offsetof(struct udmabuf_create, offset)"),
                ("size_off", 16, "offsetof(struct udmabuf_create, size)"),
            ],
        );
    }

    /// Where /dev/udmabuf exists (the kernel testbed VM) a buffer is made, written
    /// and read back; where it does not, the error says exactly that.
    #[test]
    fn udmabuf_round_trip_or_precise_refusal() {
        match Udmabuf::create(1 << 20, Pages::Small) {
            Ok(b) => {
                assert_eq!(b.len(), 1 << 20);
                b.write(4096, b"zcbench").unwrap();
                let mut seen = Vec::new();
                b.read(&[(4096, 3), (4099, 4)], &mut |i, s| {
                    seen.push((i, s.to_vec()));
                    Ok(())
                })
                .unwrap();
                assert_eq!(seen, vec![(0, b"zcb".to_vec()), (1, b"ench".to_vec())]);
                let end = b.len() as u64 - 1;
                assert!(b.read(&[(0, 1), (end, 2)], &mut |_, _| Ok(())).is_err(), "reads past the end are refused");
            }
            Err(e) => {
                assert!(!Path::new(UDMABUF_DEV).exists(), "{UDMABUF_DEV} exists but creation failed: {e:#}");
                eprintln!("SKIPPED the round trip: {e:#}");
                assert!(e.to_string().contains("modprobe udmabuf"), "{e}");
                assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Unsupported);
            }
        }
    }
}

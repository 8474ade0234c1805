//! Memory: page-aligned, pre-faulted data buffers (anonymous mmap, optionally
//! from 2 MiB huge pages), memfds, and the huge page pool.
//!
//! The data path copies to and from these; a page-aligned start keeps the
//! kernel's copy routines on their fast path and is what the zero-copy modes need.

use anyhow::{Context, Result, bail};
use std::ffi::CStr;
use std::fs::File;
use std::io::Write;
use std::ops::{Deref, DerefMut};
use std::os::fd::FromRawFd;

pub const HUGE_PAGE: usize = 2 << 20;

/// What backs a data buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backing {
    /// Ordinary 4 KiB pages.
    #[default]
    Pages,
    /// 2 MiB huge pages from the reserved pool (`--hugepages`).
    HugePages,
}

pub struct PageBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: PageBuf owns its mapping exclusively, like a Vec<u8>.
unsafe impl Send for PageBuf {}

impl PageBuf {
    /// `len` bytes, zero-filled and already faulted in.
    pub fn new(len: usize, backing: Backing) -> Result<PageBuf> {
        if len == 0 {
            bail!("a data buffer needs at least one byte");
        }
        let huge = backing == Backing::HugePages;
        // Huge mappings must be a whole number of huge pages.
        let len = if huge { len.div_ceil(HUGE_PAGE) * HUGE_PAGE } else { len };
        let flags =
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE | if huge { libc::MAP_HUGETLB } else { 0 };
        // SAFETY: anonymous private mapping; no file, no fixed address.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
        if p == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            if huge {
                bail!(
                    "mapping a {len}-byte data buffer from 2 MiB huge pages: {e} (not enough free huge pages: raise --hugepages)"
                );
            }
            bail!("mapping a {len}-byte data buffer: {e} (lower --msg-size/--read-size?)");
        }
        Ok(PageBuf { ptr: p as *mut u8, len })
    }

    /// The mapping's start and length, without making a slice of it: for
    /// memory the kernel writes while we hold it (a zcrx area, a refill ring).
    pub fn raw(&self) -> (*mut u8, usize) {
        (self.ptr, self.len)
    }
}

impl Deref for PageBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr..ptr+len is our live mapping.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl DerefMut for PageBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr..ptr+len is our live, exclusively owned mapping.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for PageBuf {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what new() mapped.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// A memfd (a tmpfs file with no name in the file system) holding `data`.
pub fn memfd_with(name: &CStr, data: &[u8]) -> Result<File> {
    // SAFETY: memfd_create with a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("memfd_create({name:?})"));
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(data).with_context(|| format!("filling memfd {name:?} (tmpfs full?)"))?;
    Ok(file)
}

/// The pool 2 MiB huge pages are reserved in: a NIC's NUMA node when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HugePool {
    /// The nr_hugepages file to write the reservation to.
    pub path: String,
    /// "NUMA node N" or "all NUMA nodes".
    pub place: String,
}

impl HugePool {
    /// The pool for buffers a device will use (None, or a device in another
    /// network namespace whose sysfs is not ours: the global pool).
    pub fn near(dev: Option<&str>) -> HugePool {
        let node = dev
            .and_then(|d| std::fs::read_to_string(format!("/sys/class/net/{d}/device/numa_node")).ok())
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|n| *n >= 0);
        match node {
            Some(n) => HugePool {
                path: format!("/sys/devices/system/node/node{n}/hugepages/hugepages-2048kB/nr_hugepages"),
                place: format!("NUMA node {n}"),
            },
            None => HugePool {
                path: "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages".into(),
                place: "all NUMA nodes".into(),
            },
        }
    }

    /// Pages reserved in this pool now.
    pub fn reserved(&self) -> Result<u32> {
        let s = std::fs::read_to_string(&self.path)
            .with_context(|| format!("huge pages: cannot read {} (no 2 MiB huge page support?)", self.path))?;
        s.trim().parse().with_context(|| format!("huge pages: {} holds '{}', not a count", self.path, s.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_zeroed_writable() {
        let mut b = PageBuf::new(10_000, Backing::Pages).unwrap();
        assert_eq!(b.as_ptr() as usize % 4096, 0);
        assert!(b.iter().all(|&x| x == 0));
        b[9_999] = 7;
        assert_eq!(b[9_999], 7);
        assert!(PageBuf::new(0, Backing::Pages).is_err());
    }

    #[test]
    fn memfd_holds_what_was_written() {
        use std::io::Read;
        use std::os::unix::fs::FileExt;
        let f = memfd_with(c"zcbench-test", b"hello").unwrap();
        let mut buf = [0u8; 5];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"hello");
        let mut rest = Vec::new();
        (&f).read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "the file position is at its end after writing");
    }

    #[test]
    fn the_global_pool_is_readable_here() {
        let p = HugePool::near(None);
        assert!(p.path.ends_with("nr_hugepages"));
        if std::path::Path::new(&p.path).exists() {
            p.reserved().unwrap();
        }
        assert_eq!(HugePool::near(Some("nosuchdev0")), p);
    }
}

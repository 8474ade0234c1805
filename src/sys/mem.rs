//! Page-aligned, pre-faulted data buffers (anonymous mmap).
//!
//! The data path copies to and from these; a page-aligned start keeps the
//! kernel's copy routines on their fast path and is what the zero-copy modes need.

use anyhow::{Result, bail};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

static HUGE: AtomicBool = AtomicBool::new(false);
const HUGE_PAGE: usize = 2 << 20;

/// Back every data buffer made from now on with 2 MiB huge pages (`--hugepages`).
pub fn use_hugepages(on: bool) {
    HUGE.store(on, Ordering::Relaxed);
}

pub fn hugepages_in_use() -> bool {
    HUGE.load(Ordering::Relaxed)
}

pub struct PageBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: PageBuf owns its mapping exclusively, like a Vec<u8>.
unsafe impl Send for PageBuf {}

impl PageBuf {
    /// `len` bytes, zero-filled and already faulted in.
    pub fn new(len: usize) -> Result<PageBuf> {
        if len == 0 {
            bail!("a data buffer needs at least one byte");
        }
        let huge = hugepages_in_use();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_zeroed_writable() {
        let mut b = PageBuf::new(10_000).unwrap();
        assert_eq!(b.as_ptr() as usize % 4096, 0);
        assert!(b.iter().all(|&x| x == 0));
        b[9_999] = 7;
        assert_eq!(b[9_999], 7);
        assert!(PageBuf::new(0).is_err());
    }
}

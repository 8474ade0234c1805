//! Page-aligned, pre-faulted data buffers (anonymous mmap).
//!
//! The data path copies to and from these; a page-aligned start keeps the
//! kernel's copy routines on their fast path and is what the zero-copy modes need.

use anyhow::{Result, bail};
use std::ops::{Deref, DerefMut};

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
        // SAFETY: anonymous private mapping; no file, no fixed address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error())
                .map_err(|e| anyhow::anyhow!("mapping a {len}-byte data buffer: {e} (lower --msg-size/--read-size?)"));
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

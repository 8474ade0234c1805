//! TCP_ZEROCOPY_RECEIVE: map received payload pages into a VMA of the socket.
//! Layout from include/uapi/linux/tcp.h.

use std::os::fd::RawFd;

pub const TCP_ZEROCOPY_RECEIVE: libc::c_int = 35;

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpZerocopyReceive {
    /// in: address of the mapping.
    pub address: u64,
    /// in/out: bytes to map / bytes mapped.
    pub length: u32,
    /// out: bytes at the head that could not be mapped; read them with recv().
    pub recv_skip_hint: u32,
    /// out: bytes in the receive queue.
    pub inq: u32,
    /// out: pending socket error.
    pub err: i32,
    pub copybuf_address: u64,
    pub copybuf_len: i32,
    pub flags: u32,
    pub msg_control: u64,
    pub msg_controllen: u64,
    pub msg_flags: u32,
    pub reserved: u32,
}

/// One TCP_ZEROCOPY_RECEIVE call. The kernel zaps whatever the range held before,
/// so pages of the previous call are released by the next.
pub fn receive(fd: RawFd, zc: &mut TcpZerocopyReceive) -> std::io::Result<()> {
    let mut len = std::mem::size_of::<TcpZerocopyReceive>() as libc::socklen_t;
    // SAFETY: zc is a valid in/out buffer of len bytes.
    let rc = unsafe {
        libc::getsockopt(fd, libc::IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, zc as *mut _ as *mut libc::c_void, &mut len)
    };
    if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

/// Alignment of the window: a 2 MiB boundary keeps the page-table work of mapping
/// and zapping within as few page-middle directories as possible.
pub const MAP_ALIGN: usize = 2 << 20;

/// A read-only shared mapping of a TCP socket: the window payload pages land in.
pub struct SocketMap {
    pub addr: *mut u8,
    pub len: usize,
    raw: *mut libc::c_void,
    raw_len: usize,
}

// SAFETY: the mapping is owned by one receive path at a time.
unsafe impl Send for SocketMap {}

impl SocketMap {
    pub fn new(fd: RawFd, len: usize) -> std::io::Result<SocketMap> {
        let raw_len = len + MAP_ALIGN;
        // SAFETY: mapping a socket fd, as TCP zerocopy receive requires.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), raw_len, libc::PROT_READ, libc::MAP_SHARED, fd, 0) };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let addr = (p as usize).next_multiple_of(MAP_ALIGN) as *mut u8;
        Ok(SocketMap { addr, len, raw: p, raw_len })
    }

    /// Give the first `n` mapped bytes back now (cheaper than letting the next
    /// TCP_ZEROCOPY_RECEIVE zap them, as the kernel's tcp_mmap notes).
    pub fn release(&self, n: usize) -> std::io::Result<()> {
        // SAFETY: the range lies inside our mapping.
        let rc = unsafe { libc::madvise(self.addr as *mut libc::c_void, n.min(self.len), libc::MADV_DONTNEED) };
        if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
    }

    /// The first `n` bytes of the window (valid after a call that mapped them).
    pub fn bytes(&self, n: usize) -> &[u8] {
        // SAFETY: the kernel just mapped n <= len readable bytes at addr.
        unsafe { std::slice::from_raw_parts(self.addr, n.min(self.len)) }
    }
}

impl Drop for SocketMap {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what new() mapped.
        unsafe { libc::munmap(self.raw, self.raw_len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_matches_uapi() {
        assert_eq!(std::mem::size_of::<TcpZerocopyReceive>(), 64);
        assert_eq!(std::mem::offset_of!(TcpZerocopyReceive, err), 20);
        assert_eq!(std::mem::offset_of!(TcpZerocopyReceive, copybuf_address), 24);
        assert_eq!(std::mem::offset_of!(TcpZerocopyReceive, msg_control), 40);
        assert_eq!(std::mem::offset_of!(TcpZerocopyReceive, reserved), 60);
    }
}

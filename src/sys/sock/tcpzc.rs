//! TCP_ZEROCOPY_RECEIVE: map received payload pages into a VMA of the socket.
//! Layout from include/uapi/linux/tcp.h.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

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
fn receive(fd: BorrowedFd<'_>, zc: &mut TcpZerocopyReceive) -> std::io::Result<()> {
    let mut len = std::mem::size_of::<TcpZerocopyReceive>() as libc::socklen_t;
    // SAFETY: zc is a valid in/out buffer of len bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            TCP_ZEROCOPY_RECEIVE,
            zc as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

/// Whether this kernel knows TCP_ZEROCOPY_RECEIVE: on an unconnected socket a
/// kernel that has it answers ENOTCONN, one that does not ENOPROTOOPT. The
/// primitive probe behind the mmap preflight.
pub fn kernel_has_zerocopy_receive() -> std::io::Result<bool> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let mut zc = TcpZerocopyReceive::default();
    Ok(match receive(s.as_fd(), &mut zc) {
        Err(e) => e.raw_os_error() != Some(libc::ENOPROTOOPT),
        Ok(()) => true,
    })
}

/// Alignment of the window: a 2 MiB boundary keeps the page-table work of mapping
/// and zapping within as few page-middle directories as possible.
pub const MAP_ALIGN: usize = 2 << 20;

/// What one TCP_ZEROCOPY_RECEIVE did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    /// Payload bytes mapped into the window.
    pub mapped: usize,
    /// Bytes at the head of the queue that could not be mapped: read them with recv().
    pub skip_hint: usize,
    /// A pending socket error (errno), 0 if none.
    pub err: i32,
}

/// A read-only shared mapping of a TCP socket: the window payload pages land in.
/// Only the pages the last [`SocketMap::receive`] mapped can be read.
pub struct SocketMap {
    addr: *mut u8,
    len: usize,
    raw: *mut libc::c_void,
    raw_len: usize,
    /// Bytes at `addr` the kernel mapped and that were not released yet.
    mapped: usize,
}

// SAFETY: the mapping is owned by one receive path at a time.
unsafe impl Send for SocketMap {}

impl SocketMap {
    /// A window of `len` bytes (a whole number of pages) on socket `fd`.
    pub fn new(fd: BorrowedFd<'_>, len: usize) -> std::io::Result<SocketMap> {
        let raw_len = len + MAP_ALIGN;
        // SAFETY: mapping a socket fd, as TCP zerocopy receive requires.
        let p =
            unsafe { libc::mmap(std::ptr::null_mut(), raw_len, libc::PROT_READ, libc::MAP_SHARED, fd.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let addr = (p as usize).next_multiple_of(MAP_ALIGN) as *mut u8;
        Ok(SocketMap { addr, len, raw: p, raw_len, mapped: 0 })
    }

    /// Map up to `want` bytes (at most the window) of the queue of `fd` into the
    /// window. The kernel zaps whatever the range held before. When it fails
    /// (EIO at the end of the flow, for one) it writes nothing back, so nothing
    /// counts as mapped.
    pub fn receive(&mut self, fd: BorrowedFd<'_>, want: usize) -> std::io::Result<Received> {
        self.mapped = 0;
        let mut zc =
            TcpZerocopyReceive { address: self.addr as u64, length: want.min(self.len) as u32, ..Default::default() };
        receive(fd, &mut zc)?;
        self.mapped = (zc.length as usize).min(self.len);
        Ok(Received { mapped: self.mapped, skip_hint: zc.recv_skip_hint as usize, err: zc.err })
    }

    /// The bytes the last receive mapped.
    pub fn mapped(&self) -> &[u8] {
        // SAFETY: the kernel mapped `self.mapped` <= len readable bytes at addr,
        // and they stay mapped until release() or the next receive().
        unsafe { std::slice::from_raw_parts(self.addr, self.mapped) }
    }

    /// Give the mapped pages back now (cheaper than letting the next
    /// TCP_ZEROCOPY_RECEIVE zap them, as the kernel's tcp_mmap notes).
    pub fn release(&mut self) -> std::io::Result<()> {
        let n = std::mem::take(&mut self.mapped);
        if n == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside our mapping.
        let rc = unsafe { libc::madvise(self.addr as *mut libc::c_void, n, libc::MADV_DONTNEED) };
        if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
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

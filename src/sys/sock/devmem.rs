//! The socket side of devmem TCP: recvmsg(MSG_SOCK_DEVMEM) with its control
//! buffer, token return (SO_DEVMEM_DONTNEED), and devmem transmit (sendmsg of
//! dma-buf offsets with an SCM_DEVMEM_DMABUF cmsg, MSG_ZEROCOPY).
//!
//! Numbers: asm-generic/socket.h (SO_DEVMEM_*), linux/uio.h (struct
//! dmabuf_token); MSG_SOCK_DEVMEM lives only in the kernel's own
//! include/linux/socket.h, so it is defined here (checked against the kernel
//! by what it does: without it a devmem skb is EFAULT).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

pub const MSG_SOCK_DEVMEM: libc::c_int = 0x0200_0000;
pub const SO_DEVMEM_LINEAR: libc::c_int = 78;
pub const SO_DEVMEM_DMABUF: libc::c_int = 79;
pub const SCM_DEVMEM_LINEAR: libc::c_int = SO_DEVMEM_LINEAR;
pub const SCM_DEVMEM_DMABUF: libc::c_int = SO_DEVMEM_DMABUF;
pub const SO_DEVMEM_DONTNEED: libc::c_int = 80;
/// Kernel-internal errno recvmsg returns when the control buffer cannot hold
/// even one devmem cmsg (include/linux/errno.h).
pub const ETOOSMALL: i32 = 525;

/// `struct dmabuf_token` (linux/uio.h): a run of consecutive frag tokens.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DmabufToken {
    pub token_start: u32,
    pub token_count: u32,
}

impl DmabufToken {
    /// One past the last token, widened so it cannot overflow.
    pub fn end(&self) -> u64 {
        u64::from(self.token_start) + u64::from(self.token_count)
    }
}

/// What one devmem recvmsg returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes received: dma-buf frags plus bytes copied into the iov.
    pub bytes: usize,
    /// Bytes of the control buffer the kernel filled.
    pub control_len: usize,
    /// msg_flags (MSG_CTRUNC and friends).
    pub flags: i32,
}

/// recvmsg(MSG_SOCK_DEVMEM): payload that stayed in the dma-buf is described by
/// cmsgs in `control`; bytes in host memory are copied into `iov` (packed from
/// its start: only they advance it), and the iov's length bounds the total.
pub fn recvmsg_devmem(fd: BorrowedFd<'_>, iov: &mut [u8], control: &mut [u8]) -> io::Result<Received> {
    let mut v = libc::iovec { iov_base: iov.as_mut_ptr() as *mut libc::c_void, iov_len: iov.len() };
    // SAFETY: msghdr zeroed, then pointed at our iov and control buffer only.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut v;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = control.len() as _;
    // SAFETY: every pointer in msg is valid for the lengths it states.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, MSG_SOCK_DEVMEM) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Received {
        bytes: n as usize,
        control_len: (msg.msg_controllen as usize).min(control.len()),
        flags: msg.msg_flags,
    })
}

/// setsockopt(SO_DEVMEM_DONTNEED): hand `tokens` back; returns how many frags
/// the kernel freed (it skips unknown tokens silently).
pub fn devmem_dontneed(fd: BorrowedFd<'_>, tokens: &[DmabufToken]) -> io::Result<u32> {
    let len = std::mem::size_of_val(tokens) as libc::socklen_t;
    // SAFETY: `tokens` is a valid array of `len` bytes of struct dmabuf_token.
    let rc = unsafe {
        libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, SO_DEVMEM_DONTNEED, tokens.as_ptr() as *const _, len)
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc as u32) }
}

/// sendmsg of `len` bytes at `offset` into the tx dma-buf of binding `dmabuf_id`
/// (MSG_ZEROCOPY; the iov base is the offset, not an address of ours, so no
/// user memory is read). Completions come on the error queue as for MSG_ZEROCOPY.
pub fn sendmsg_devmem(fd: BorrowedFd<'_>, offset: u64, len: usize, dmabuf_id: u32) -> io::Result<usize> {
    const SPACE: usize = 24; // CMSG_SPACE(sizeof(u32)) on 64-bit
    let mut control = [0u64; SPACE / 8];
    let mut v = libc::iovec { iov_base: offset as usize as *mut libc::c_void, iov_len: len };
    // SAFETY: msghdr zeroed, then pointed at our iov and control array.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut v;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = SPACE as _;
    // SAFETY: the control buffer holds one cmsghdr plus a u32, as CMSG_* compute.
    unsafe {
        let cm = libc::CMSG_FIRSTHDR(&msg);
        (*cm).cmsg_level = libc::SOL_SOCKET;
        (*cm).cmsg_type = SCM_DEVMEM_DMABUF;
        (*cm).cmsg_len = libc::CMSG_LEN(4) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cm) as *mut u32, dmabuf_id);
    }
    // SAFETY: msg is valid; the kernel reads the iov as a dma-buf offset range.
    let n = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_ZEROCOPY | libc::MSG_NOSIGNAL) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// SO_BINDTODEVICE: devmem TX must leave through the bound device.
pub fn bind_to_device(fd: BorrowedFd<'_>, dev: &str) -> io::Result<()> {
    // SAFETY: the name bytes and their length; the kernel copies at most IFNAMSIZ.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            dev.as_ptr() as *const libc::c_void,
            dev.len() as libc::socklen_t,
        )
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn numbers_match_libc_and_the_uapi() {
        assert_eq!(SO_DEVMEM_LINEAR, libc::SO_DEVMEM_LINEAR);
        assert_eq!(SO_DEVMEM_DMABUF, libc::SO_DEVMEM_DMABUF);
        assert_eq!(SO_DEVMEM_DONTNEED, libc::SO_DEVMEM_DONTNEED);
        assert_eq!(std::mem::size_of::<DmabufToken>(), std::mem::size_of::<libc::dmabuf_token>());
        assert_eq!(std::mem::offset_of!(DmabufToken, token_count), 4);
    }

    /// On an ordinary TCP connection: a devmem recvmsg reads plain bytes with no
    /// devmem cmsgs, token return frees nothing (no tokens were handed out), and
    /// a devmem send with no tx binding is refused by the kernel.
    #[test]
    fn plain_tcp_answers_as_the_kernel_documents() {
        use std::io::Write;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        c.write_all(b"hello").unwrap();
        let (mut iov, mut control) = ([0u8; 64], [0u8; 256]);
        let r = recvmsg_devmem(s.as_fd(), &mut iov, &mut control).unwrap();
        assert_eq!((r.bytes, r.control_len), (5, 0));
        assert_eq!(&iov[..5], b"hello");
        let t = [DmabufToken { token_start: 1, token_count: 3 }];
        assert_eq!(devmem_dontneed(s.as_fd(), &t).unwrap(), 0, "unknown tokens are skipped");
        let too_many = vec![DmabufToken { token_start: 1, token_count: 1 }; 129];
        let e = devmem_dontneed(s.as_fd(), &too_many).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "more than 128 entries is refused whole");
        crate::sys::sock::enable_zerocopy(c.as_fd()).unwrap();
        let e = sendmsg_devmem(c.as_fd(), 0, 4096, 12345).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "no tx binding with that id: {e}");
    }
}

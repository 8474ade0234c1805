//! MSG_ZEROCOPY completions from the socket error queue.
//!
//! Constants from include/uapi/linux/errqueue.h and asm-generic/socket.h
//! (libc lacks them).

use std::os::fd::{AsRawFd, BorrowedFd};

pub const SO_ZEROCOPY: libc::c_int = 60;
pub const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
pub const SO_EE_CODE_ZEROCOPY_COPIED: u8 = 1;

/// One notification: send calls `lo..=hi` (the kernel's 32-bit counter) are done;
/// `copied` when the kernel fell back to copying for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    pub lo: u32,
    pub hi: u32,
    pub copied: bool,
}

/// Find a zero-copy completion in a recvmsg control buffer (IP_RECVERR or
/// IPV6_RECVERR carrying a struct sock_extended_err).
pub fn parse_completion(control: &[u8]) -> Option<Completion> {
    let hdr = std::mem::size_of::<libc::cmsghdr>();
    let mut off = 0usize;
    while off + hdr <= control.len() {
        // SAFETY: bounds checked above; read_unaligned copes with any alignment.
        let cm: libc::cmsghdr = unsafe { std::ptr::read_unaligned(control[off..].as_ptr() as *const libc::cmsghdr) };
        let len = cm.cmsg_len as usize;
        if len < hdr || off + len > control.len() {
            return None;
        }
        let is_recverr = (cm.cmsg_level == libc::SOL_IP && cm.cmsg_type == libc::IP_RECVERR)
            || (cm.cmsg_level == libc::SOL_IPV6 && cm.cmsg_type == libc::IPV6_RECVERR);
        let data = &control[off + hdr..off + len];
        if is_recverr && data.len() >= std::mem::size_of::<libc::sock_extended_err>() {
            // SAFETY: length checked; unaligned read of a plain C struct.
            let ee: libc::sock_extended_err = unsafe { std::ptr::read_unaligned(data.as_ptr() as *const _) };
            if ee.ee_errno == 0 && ee.ee_origin == SO_EE_ORIGIN_ZEROCOPY {
                return Some(Completion {
                    lo: ee.ee_info,
                    hi: ee.ee_data,
                    copied: ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED != 0,
                });
            }
        }
        off += (len + std::mem::size_of::<usize>() - 1) & !(std::mem::size_of::<usize>() - 1);
    }
    None
}

/// Read one notification without blocking. Ok(None): the error queue is empty.
pub fn read_completion(fd: BorrowedFd<'_>, control: &mut [u8]) -> std::io::Result<Option<Completion>> {
    loop {
        // SAFETY: msghdr zeroed, then pointed at our control buffer only.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = control.len() as _;
        // SAFETY: valid msghdr; MSG_ERRQUEUE never blocks.
        let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) => Ok(None),
                Some(libc::EINTR) => continue,
                _ => Err(e),
            };
        }
        let used = (msg.msg_controllen as usize).min(control.len());
        if let Some(c) = parse_completion(&control[..used]) {
            return Ok(Some(c));
        }
        // Some other error-queue message (timestamps, ICMP): skip it.
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A control buffer shaped exactly as the kernel writes a zero-copy notification.
    pub fn kernel_cmsg(level: i32, ty: i32, lo: u32, hi: u32, code: u8) -> Vec<u8> {
        let ee = libc::sock_extended_err {
            ee_errno: 0,
            ee_origin: SO_EE_ORIGIN_ZEROCOPY,
            ee_type: 0,
            ee_code: code,
            ee_pad: 0,
            ee_info: lo,
            ee_data: hi,
        };
        // SAFETY: CMSG_SPACE/LEN are pure arithmetic.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::sock_extended_err>() as u32) } as usize;
        let mut buf = vec![0u8; space + 16];
        let cm = libc::cmsghdr {
            cmsg_len: unsafe { libc::CMSG_LEN(std::mem::size_of::<libc::sock_extended_err>() as u32) } as _,
            cmsg_level: level,
            cmsg_type: ty,
        };
        let hdr = std::mem::size_of::<libc::cmsghdr>();
        // SAFETY: both structs are plain data copied into a large enough buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(&cm as *const _ as *const u8, buf.as_mut_ptr(), hdr);
            std::ptr::copy_nonoverlapping(
                &ee as *const _ as *const u8,
                buf.as_mut_ptr().add(hdr),
                std::mem::size_of::<libc::sock_extended_err>(),
            );
        }
        buf.truncate(space);
        buf
    }

    #[test]
    fn kernel_shaped_notifications_parse() {
        let c = parse_completion(&kernel_cmsg(libc::SOL_IP, libc::IP_RECVERR, 3, 9, 1)).unwrap();
        assert_eq!(c, Completion { lo: 3, hi: 9, copied: true });
        let c = parse_completion(&kernel_cmsg(libc::SOL_IPV6, libc::IPV6_RECVERR, 0, 0, 0)).unwrap();
        assert!(!c.copied);
        assert!(parse_completion(&kernel_cmsg(libc::SOL_SOCKET, 1, 0, 0, 0)).is_none());
        assert!(parse_completion(&[1, 2, 3]).is_none());
        assert_eq!(std::mem::size_of::<libc::sock_extended_err>(), 16);
    }
}

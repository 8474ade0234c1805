//! Ask the kernel, before any host change, whether it has what a mode needs.

use crate::cli::{RxMode, TxMode};
use crate::error::unsupported;
use anyhow::Result;
use std::os::fd::AsRawFd;

fn tcp_socket() -> Result<socket2::Socket> {
    Ok(socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?)
}

pub fn check(rx: RxMode, tx: TxMode) -> Result<()> {
    if rx == RxMode::Mmap {
        // On an unconnected socket a kernel that knows the option says ENOTCONN.
        let s = tcp_socket()?;
        let mut zc = super::tcpzc::TcpZerocopyReceive::default();
        if let Err(e) = super::tcpzc::receive(s.as_raw_fd(), &mut zc)
            && e.raw_os_error() == Some(libc::ENOPROTOOPT)
        {
            return Err(unsupported("rx mmap: this kernel has no TCP_ZEROCOPY_RECEIVE (needs 4.18+)"));
        }
    }
    if tx == TxMode::Zerocopy {
        let s = tcp_socket()?;
        crate::tx::enable_zerocopy(s.as_raw_fd())?;
    }
    if rx == RxMode::Uring || tx == TxMode::UringZc {
        let u = super::uring::probe().map_err(|e| unsupported(format!("io_uring is not usable here: {e:#}")))?;
        if rx == RxMode::Uring && !u.recv {
            return Err(unsupported("rx uring: this kernel's io_uring has no RECV (needs 5.6+)"));
        }
        if tx == TxMode::UringZc && !u.send_zc {
            return Err(unsupported("tx uring-zc: this kernel's io_uring has no SEND_ZC (needs 6.0+)"));
        }
    }
    Ok(())
}

//! TCP sockets for the flow and the control channel, and the socket calls of the
//! data paths (recv, send with or without MSG_ZEROCOPY, sendfile, SO_RCVLOWAT,
//! shutdown): thin, allocation-free wrappers that return `io::Result`.

pub mod devmem;
pub mod errqueue;
pub mod tcpinfo;
pub mod tcpzc;

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

pub fn tcp_socket(addr: &SocketAddr) -> Result<Socket> {
    let s = Socket::new(Domain::for_address(*addr), Type::STREAM.cloexec(), Some(Protocol::TCP))
        .context("creating a TCP socket")?;
    Ok(s)
}

/// A listening socket on `addr`, with TCP_MAXSEG set before any peer arrives so the
/// accepted socket advertises and uses it, and room for `backlog` connections
/// not yet accepted.
pub fn listen_backlog(addr: &SocketAddr, mss: Option<u32>, backlog: i32) -> Result<Socket> {
    let s = tcp_socket(addr)?;
    s.set_reuse_address(true).context("SO_REUSEADDR")?;
    if let Some(m) = mss {
        s.set_tcp_mss(m).with_context(|| format!("setting TCP_MAXSEG {m} on the listener"))?;
    }
    s.bind(&SockAddr::from(*addr)).with_context(|| format!("binding {addr}"))?;
    s.listen(backlog).with_context(|| format!("listening on {addr}"))?;
    Ok(s)
}

/// A TCP socket bound to `local` (port 0: the kernel picks one) with TCP_MAXSEG
/// set, not connected yet: its address is known before the first packet, so a
/// 5-tuple flow-steering rule can be in place when the connection starts.
pub fn bound(local: &SocketAddr, mss: Option<u32>) -> Result<Socket> {
    let s = tcp_socket(local)?;
    if let Some(m) = mss {
        s.set_tcp_mss(m).with_context(|| format!("setting TCP_MAXSEG {m}"))?;
    }
    s.bind(&SockAddr::from(*local)).with_context(|| format!("binding {local}"))?;
    Ok(s)
}

/// Connect `s` to `addr`, giving up after `timeout`.
pub fn connect_to(s: &Socket, addr: &SocketAddr, timeout: Duration) -> Result<()> {
    s.connect_timeout(&SockAddr::from(*addr), timeout).with_context(|| format!("connecting to {addr}"))
}

/// Connect to `addr` with TCP_MAXSEG set first, giving up after `timeout`.
pub fn connect(addr: &SocketAddr, mss: Option<u32>, timeout: Duration) -> Result<Socket> {
    let s = tcp_socket(addr)?;
    if let Some(m) = mss {
        s.set_tcp_mss(m).with_context(|| format!("setting TCP_MAXSEG {m}"))?;
    }
    connect_to(&s, addr, timeout)?;
    Ok(s)
}

/// Accept one connection within `timeout`.
pub fn accept_timeout(l: &Socket, timeout: Duration) -> Result<(Socket, SocketAddr)> {
    let mut pfd = libc::pollfd { fd: l.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        return Err(std::io::Error::last_os_error()).context("waiting for a connection");
    }
    if n == 0 {
        anyhow::bail!("no connection arrived within {}", humantime::format_duration(timeout));
    }
    let (s, a) = l.accept().context("accepting a connection")?;
    let addr = a.as_socket().context("peer address is not an IP address")?;
    Ok((s, addr))
}

/// Effective MSS of a connected socket (TCP_MAXSEG read back).
pub fn mss(s: &Socket) -> Option<u32> {
    s.tcp_mss().ok()
}

/// The core that processed the socket's last received packet (SO_INCOMING_CPU);
/// None when the kernel has not recorded one.
pub fn incoming_cpu(s: &Socket) -> Option<usize> {
    s.cpu_affinity().ok().filter(|&c| c < 1 << 20)
}

/// What a data path waits for in [`wait_ready`].
pub const READABLE: libc::c_short = libc::POLLIN;
pub const WRITABLE: libc::c_short = libc::POLLOUT;
/// The error queue has something (MSG_ZEROCOPY completions).
pub const ERRQUEUE: libc::c_short = libc::POLLERR;

/// Wait until `fd` is ready for `events` or `timeout_ms` passes.
/// The data path uses non-blocking sockets and this poll(): measured on veth, it
/// matches iperf3 where blocking recv()/send() lost 10-15% (see docs/design.md).
#[inline]
pub fn wait_ready(fd: BorrowedFd<'_>, events: libc::c_short, timeout_ms: i32) {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 };
    // SAFETY: one valid pollfd. Errors (EINTR) just mean "look again".
    unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
}

fn check(rc: isize) -> io::Result<usize> {
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc as usize) }
}

/// recv(2) into `buf`. Ok(0): the peer closed the flow.
#[inline]
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is a valid writable buffer of buf.len() bytes.
    check(unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) })
}

/// send(2) of `buf` (never raising SIGPIPE). With `zerocopy` the kernel pins
/// the pages instead of copying them and reports on the error queue when they
/// are free again ([`errqueue::read_completion`]); until then their contents are
/// still being sent, so the caller must not reuse the buffer. (Reusing it early
/// only corrupts what is sent: the kernel holds its own page references.)
#[inline]
pub fn send(fd: BorrowedFd<'_>, buf: &[u8], zerocopy: bool) -> io::Result<usize> {
    let flags = libc::MSG_NOSIGNAL | if zerocopy { libc::MSG_ZEROCOPY } else { 0 };
    // SAFETY: buf is a valid readable buffer of buf.len() bytes.
    check(unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr() as *const libc::c_void, buf.len(), flags) })
}

/// sendfile(2) of `count` bytes of `file` from `*offset` (advanced by the kernel).
#[inline]
pub fn sendfile(out: BorrowedFd<'_>, file: BorrowedFd<'_>, offset: &mut i64, count: usize) -> io::Result<usize> {
    // SAFETY: both fds are borrowed live descriptors; offset is a valid in/out pointer.
    check(unsafe { libc::sendfile(out.as_raw_fd(), file.as_raw_fd(), offset, count) })
}

/// Shut the write side down: the peer reads the end of the flow.
pub fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain shutdown(2) on a live descriptor.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_WR) } as isize).map(|_| ())
}

fn set_int(fd: BorrowedFd<'_>, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: an int option value of its own size on a live descriptor.
    let rc = unsafe { libc::setsockopt(fd.as_raw_fd(), level, opt, &v as *const _ as *const libc::c_void, len) };
    check(rc as isize).map(|_| ())
}

fn get_int(fd: BorrowedFd<'_>, level: libc::c_int, opt: libc::c_int) -> io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: an int-sized value buffer and its length, both ours, on a live descriptor.
    let rc = unsafe { libc::getsockopt(fd.as_raw_fd(), level, opt, &mut v as *mut _ as *mut libc::c_void, &mut len) };
    check(rc as isize).map(|_| v)
}

/// SO_INCOMING_NAPI_ID: the NAPI instance (of a NIC rx queue) that delivered
/// the socket's last received packet; 0 when none has yet (or the kernel was
/// built without busy polling, which keeps the ids).
pub fn incoming_napi_id(fd: BorrowedFd<'_>) -> io::Result<u32> {
    get_int(fd, libc::SOL_SOCKET, libc::SO_INCOMING_NAPI_ID).map(|v| v as u32)
}

/// SO_RCVLOWAT: poll() reports the socket readable only once `bytes` are queued
/// (the kernel caps it to what the receive buffer allows).
pub fn set_rcvlowat(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_RCVLOWAT, bytes.min(i32::MAX as usize) as libc::c_int)
}

/// SO_ZEROCOPY: allow send(MSG_ZEROCOPY) on this socket (Linux 4.14+).
pub fn enable_zerocopy(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_int(fd, libc::SOL_SOCKET, errqueue::SO_ZEROCOPY, 1)
}

/// Whether this kernel takes SO_ZEROCOPY on a TCP socket: the primitive probe
/// behind the MSG_ZEROCOPY preflight.
pub fn kernel_has_so_zerocopy() -> io::Result<()> {
    use std::os::fd::AsFd;
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    enable_zerocopy(s.as_fd())
}

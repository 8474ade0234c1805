//! TCP sockets for the flow and the control channel.

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

pub fn tcp_socket(addr: &SocketAddr) -> Result<Socket> {
    let s = Socket::new(Domain::for_address(*addr), Type::STREAM.cloexec(), Some(Protocol::TCP))
        .context("creating a TCP socket")?;
    Ok(s)
}

/// A listening socket on `addr`, with TCP_MAXSEG set before any peer arrives so the
/// accepted socket advertises and uses it.
pub fn listen(addr: &SocketAddr, mss: Option<u32>) -> Result<Socket> {
    let s = tcp_socket(addr)?;
    s.set_reuse_address(true).context("SO_REUSEADDR")?;
    if let Some(m) = mss {
        s.set_tcp_mss(m).with_context(|| format!("setting TCP_MAXSEG {m} on the listener"))?;
    }
    s.bind(&SockAddr::from(*addr)).with_context(|| format!("binding {addr}"))?;
    s.listen(16).with_context(|| format!("listening on {addr}"))?;
    Ok(s)
}

/// Connect to `addr` with TCP_MAXSEG set first, giving up after `timeout`.
pub fn connect(addr: &SocketAddr, mss: Option<u32>, timeout: Duration) -> Result<Socket> {
    let s = tcp_socket(addr)?;
    if let Some(m) = mss {
        s.set_tcp_mss(m).with_context(|| format!("setting TCP_MAXSEG {m}"))?;
    }
    s.connect_timeout(&SockAddr::from(*addr), timeout).with_context(|| format!("connecting to {addr}"))?;
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

/// Wait until `fd` is ready for `events` (POLLIN/POLLOUT) or `timeout_ms` passes.
/// The data path uses non-blocking sockets and this poll(): measured on veth, it
/// matches iperf3 where blocking recv()/send() lost 10-15% (see DESIGN.md).
#[inline]
pub fn wait_ready(fd: std::os::fd::RawFd, events: libc::c_short, timeout_ms: i32) {
    let mut pfd = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one valid pollfd. Errors (EINTR) just mean "look again".
    unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
}

//! TCP_INFO of a socket. The struct mirrors include/uapi/linux/tcp.h up to
//! tcpi_total_rto_time; fields a kernel does not fill stay zero.

use std::os::fd::RawFd;

#[repr(C)]
#[derive(Default, Clone, Copy)]
pub struct TcpInfoRaw {
    pub state: u8,
    pub ca_state: u8,
    pub retransmits: u8,
    pub probes: u8,
    pub backoff: u8,
    pub options: u8,
    pub wscale: u8,
    pub flags: u8,
    pub rto: u32,
    pub ato: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    pub unacked: u32,
    pub sacked: u32,
    pub lost: u32,
    pub retrans: u32,
    pub fackets: u32,
    pub last_data_sent: u32,
    pub last_ack_sent: u32,
    pub last_data_recv: u32,
    pub last_ack_recv: u32,
    pub pmtu: u32,
    pub rcv_ssthresh: u32,
    pub rtt: u32,
    pub rttvar: u32,
    pub snd_ssthresh: u32,
    pub snd_cwnd: u32,
    pub advmss: u32,
    pub reordering: u32,
    pub rcv_rtt: u32,
    pub rcv_space: u32,
    pub total_retrans: u32,
    pub pacing_rate: u64,
    pub max_pacing_rate: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_out: u32,
    pub segs_in: u32,
    pub notsent_bytes: u32,
    pub min_rtt: u32,
    pub data_segs_in: u32,
    pub data_segs_out: u32,
    pub delivery_rate: u64,
    pub busy_time: u64,
    pub rwnd_limited: u64,
    pub sndbuf_limited: u64,
    pub delivered: u32,
    pub delivered_ce: u32,
    pub bytes_sent: u64,
    pub bytes_retrans: u64,
    pub dsack_dups: u32,
    pub reord_seen: u32,
    pub rcv_ooopack: u32,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    pub rehash: u32,
    pub total_rto: u16,
    pub total_rto_recoveries: u16,
    pub total_rto_time: u32,
}

pub fn read_raw(fd: RawFd) -> Option<TcpInfoRaw> {
    let mut raw = TcpInfoRaw::default();
    let mut len = std::mem::size_of::<TcpInfoRaw>() as libc::socklen_t;
    // SAFETY: raw is a writable buffer of len bytes; the kernel writes at most len.
    let rc = unsafe {
        libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, &mut raw as *mut _ as *mut libc::c_void, &mut len)
    };
    (rc == 0).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn layout_matches_uapi() {
        assert_eq!(std::mem::offset_of!(TcpInfoRaw, rto), 8);
        assert_eq!(std::mem::offset_of!(TcpInfoRaw, total_retrans), 100);
        assert_eq!(std::mem::offset_of!(TcpInfoRaw, pacing_rate), 104);
        assert_eq!(std::mem::offset_of!(TcpInfoRaw, delivery_rate), 160);
        assert_eq!(std::mem::offset_of!(TcpInfoRaw, bytes_sent), 200);
        assert_eq!(std::mem::offset_of!(TcpInfoRaw, total_rto_time), 244);
        assert_eq!(std::mem::size_of::<TcpInfoRaw>(), 248);
    }

    #[test]
    fn real_connection_reports_its_bytes() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(&[7u8; 100_000]).unwrap();
        let mut buf = vec![0u8; 100_000];
        s.read_exact(&mut buf).unwrap();
        let raw = read_raw(s.as_raw_fd()).unwrap();
        assert_eq!(raw.bytes_received, 100_000);
        assert_eq!(raw.state, 1, "TCP_ESTABLISHED");
        let tx = read_raw(c.as_raw_fd()).unwrap();
        assert_eq!(tx.bytes_sent, 100_000);
        assert!(tx.snd_cwnd > 0);
    }
}

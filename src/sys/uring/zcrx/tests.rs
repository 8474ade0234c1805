//! The zcrx ring against the running kernel, and the CQE conversion against
//! the kernel's byte layout.

use super::query::{Negotiated, Support};
use super::*;
use crate::sys::mem::Backing;
use std::io::Write;
use std::net::{TcpListener, TcpStream};

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn spec(target: Target, n: &Negotiated) -> Spec {
    Spec {
        target,
        rq_entries: 64,
        cq_entries: 64,
        rx_buf_len: None,
        refill_batch: 8,
        events: n.events(),
        flush_rq: n.flush_rq(),
        arm_event: n.arm_event(),
    }
}

fn errno_of(e: &anyhow::Error) -> Option<i32> {
    e.chain().find_map(|c| c.downcast_ref::<Refused>()).map(|r| r.errno)
}

/// The crate's 32-byte CQE, read from bytes laid out as the kernel writes
/// them, converts to the same `Cqe` as parsing those bytes does.
#[test]
fn the_crates_cqe32_is_the_kernels_layout() {
    let off = (1u64 << 48) | 0x2345;
    let bytes = Cqe::bytes(UD_RECV, 4000, cqe::IORING_CQE_F_MORE, [off, 0]);
    assert_eq!(bytes.len(), std::mem::size_of::<cqueue::Entry32>());
    // SAFETY: Entry32 is a plain #[repr(C)] struct io_uring_cqe + [u64; 2] of
    // exactly these 32 bytes; read_unaligned copies them.
    let e: cqueue::Entry32 = unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const cqueue::Entry32) };
    let c = Cqe { user_data: e.user_data(), res: e.result(), flags: e.flags(), big: *e.big_cqe() };
    assert_eq!(Some(c), Cqe::parse(&bytes));
    assert_eq!(classify(&c), Kind::Recv(RecvZc::Data { buf: cqe::ZcrxOffset::from_raw(off), len: 4000, more: true }));
    let ev = Cqe::parse(&Cqe::bytes(UD_EVENT, 1, 0, [0, 0])).unwrap();
    assert_eq!(classify(&ev), Kind::Event(ZcrxEvent::Copy));
}

/// The ring zcrx needs (SINGLE_ISSUER, DEFER_TASKRUN, CQE32) is created
/// disabled; the interface-queue registration reaches the device on the
/// disabled ring and lo refuses it (no memory-provider support); the ring is
/// then enabled on another thread, which becomes its only issuer.
#[test]
fn a_disabled_ring_registers_and_another_thread_enables_it() {
    if !is_root() {
        eprintln!("SKIPPED: zcrx registration needs CAP_NET_ADMIN");
        return;
    }
    let n = Negotiated::probe();
    let area = Area::pages(1 << 20, Backing::Pages).unwrap();
    let e = ZcrxRing::register(spec(Target::Device { ifindex: 1, queue: 0 }, &n), area, None)
        .err()
        .expect("lo cannot take a memory provider");
    assert_eq!(errno_of(&e), Some(libc::EOPNOTSUPP), "{e:#}");
    assert!(format!("{e:#}").contains("IORING_REGISTER_ZCRX_IFQ failed: EOPNOTSUPP"), "{e:#}");

    // The same flags, without registration, to check the enable step.
    let ring = IoUring::<squeue::Entry, cqueue::Entry32>::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_r_disabled()
        .setup_cqsize(8)
        .build(4)
        .unwrap();
    let ring = std::thread::scope(|s| {
        s.spawn(move || {
            let mut ring = ring;
            ring.submitter().register_enable_rings().unwrap();
            // SAFETY: a NOP touches no memory.
            unsafe { ring.submission().push(&opcode::Nop::new().build().user_data(9)).unwrap() };
            ring.submit_and_wait(1).unwrap();
            assert_eq!(ring.completion().next().map(|c| c.user_data()), Some(9));
            ring
        })
        .join()
        .unwrap()
    });
    let e = ring.submitter().register_enable_rings().unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "only the enabling thread may use the ring now: {e}");
}

/// The rehearsal reaches the device check and no further: lo has no DMA device.
#[test]
fn the_rehearsal_stops_at_the_device() {
    if !is_root() {
        eprintln!("SKIPPED: zcrx registration needs CAP_NET_ADMIN");
        return;
    }
    assert_eq!(rehearse(1, 0, None).unwrap(), libc::EOPNOTSUPP);
    assert_eq!(rehearse(0x7fff_fff0, 0, None).unwrap(), libc::ENODEV, "no such device");
}

/// Registration without a device: where the kernel offers ZCRX_REG_NODEV
/// (7.1+) a loopback flow is received through RECV_ZC, every byte intact and,
/// where the kernel counts copies (7.2+), every byte counted as copied; where it
/// does not, the kernel refuses the flag.
#[test]
fn nodev_receives_a_loopback_flow_or_is_refused() {
    if !is_root() {
        eprintln!("SKIPPED: zcrx registration needs CAP_NET_ADMIN");
        return;
    }
    let n = Negotiated::probe();
    let area = Area::pages(1 << 20, Backing::Pages).unwrap();
    let mut ring = match ZcrxRing::register(spec(Target::NoDevice, &n), area, None) {
        Ok(r) => r,
        Err(e) => {
            assert_ne!(n.nodev(), Support::Yes, "the kernel offers NODEV but refused it: {e:#}");
            assert_eq!(errno_of(&e), Some(libc::EINVAL), "{e:#}");
            eprintln!("SKIPPED the NODEV flow: {e:#} ({})", n.describe());
            return;
        }
    };
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (rx, _) = l.accept().unwrap();
    let want: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let sender = std::thread::spawn(move || {
        tx.write_all(&want).unwrap();
        want
    });
    ring.enable().unwrap();
    ring.arm(std::os::fd::AsFd::as_fd(&rx)).unwrap();
    let mut got = Vec::new();
    let mut data_cqes = 0u64;
    let mut eof = false;
    while !eof {
        ring.wait(500, false).unwrap();
        let mut rearm = false;
        ring.drain(|c| {
            match c.kind {
                Kind::Recv(RecvZc::Data { .. }) => {
                    data_cqes += 1;
                    c.read(&mut |b| {
                        got.extend_from_slice(b);
                        Ok(())
                    })?
                }
                Kind::Recv(RecvZc::Eof) => eof = true,
                Kind::Recv(r) if r.needs_rearm() => rearm = true,
                _ => {}
            }
            if let Kind::Recv(RecvZc::Data { more: false, .. }) = c.kind {
                rearm = true;
            }
            Ok(())
        })
        .unwrap();
        if got.len() == 3_000_000 {
            break;
        }
        if rearm {
            ring.arm(std::os::fd::AsFd::as_fd(&rx)).unwrap();
        }
    }
    assert_eq!(got, sender.join().unwrap());
    let c = ring.counters();
    assert!(c.flushes > 0, "without a device the kernel takes buffers back only when flushed");
    assert_eq!(ring.pending(), 0, "every buffer went back");
    assert_eq!(c.refill.pushed, data_cqes, "one refill entry per data CQE");
    if let Some((_, bytes)) = ring.copy_stats() {
        assert!(bytes > 0 && bytes <= got.len() as u64, "copy_bytes {bytes} of {}", got.len());
    }
}

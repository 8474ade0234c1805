//! io_uring zero-copy receive end to end on two NIC ports cabled to each other:
//! in the kernel testbed VM (Debian's 7.x kernel, two linked netdevsim ports
//! whose rx queues take memory providers) or on a real NIC (ZCBENCH_HW_PORTS,
//! scripts/hw-check). scripts/test boots the VM three ways and runs this file in
//! each: the NIC model placing the payload in the area, the same with placement
//! off (the kernel copies), and stock netdevsim (which must refuse). Elsewhere
//! every test says SKIPPED.

mod common;
use common::*;
use serde_json::Value;

const FLOW: &str = "--mode zcrx --validate --duration 1s --warmup 1s --msg-size 1MiB --read-size 1MiB";

/// What every zcrx result must hold: every byte checked, every buffer back
/// through the refill ring, nothing dropped, the queue confirmed and released.
fn check_zcrx(r: &Value) -> (u64, &Value) {
    check_sums(r);
    let rx = &r["receiver"]["rx"];
    let z = &rx["zcrx"];
    let bytes = rx["bytes"].as_u64().unwrap();
    assert!(bytes > 1 << 20, "{rx}");
    assert_eq!(rx["validated_bytes"], bytes, "every byte checked");
    assert_eq!(r["receiver"]["tx"]["bytes"], bytes, "every byte sent arrived");
    assert_eq!(z["refill"]["returned"], z["data_cqes"], "one refill entry per data CQE: {z}");
    assert_eq!(z["refill"]["held_at_end"], 0, "{z}");
    assert!(z["refill"]["occupancy_max"].as_u64().unwrap() <= z["rq_entries"].as_u64().unwrap(), "{z}");
    assert_eq!((z["cq_dropped"].as_u64(), z["ebadr"].as_u64()), (Some(0), Some(0)), "{z}");
    (bytes, z)
}

#[test]
fn zcrx_receive_over_the_ports() {
    let Some(b) = bed() else { return };
    let before = snapshot();
    let out = tmpdir("nic-zcrx");
    let o = ports_run(&b, FLOW, &[], &out);
    let t = text(&o);
    assert_unchanged(&before, "a zcrx run");
    if b.variant == "stock" {
        // Stock netdevsim has no DMA device for its queues: the kernel refuses.
        assert_eq!(o.status.code(), Some(3), "{t}");
        assert!(t.contains("IORING_REGISTER_ZCRX_IFQ failed: EOPNOTSUPP"), "{t}");
        return;
    }
    assert!(o.status.success(), "{t}");
    let r = only_result(&out);
    let (bytes, z) = check_zcrx(&r);
    assert_eq!(z["registration"], "device");
    assert_eq!(z["queue_confirmed"], true, "queue-get showed the io_uring provider");
    assert_eq!(z["queue_released"], true, "the provider left the queue with the ring");
    assert_eq!(z["rx_buf_len_granted"], 4096, "read back from the kernel");
    let copied = z["copy_bytes"].as_u64().expect("7.2+ counts copy-fallback bytes");
    let zc = &r["receiver"]["rx"]["zero_copy"];
    if b.placement {
        assert_eq!(copied, 0, "the NIC placed every byte: {z}");
        assert_eq!(zc["zero_copy_share"], 1.0);
    } else {
        // The NIC model did not place the payload: the kernel copied it, says so
        // in its own counters, and the result does not claim zero copy.
        assert_eq!(copied, bytes, "{z}");
        assert_eq!(zc["zero_copy_share"], 0.0);
        assert!(z["copy_events"].as_u64().unwrap() >= 1, "{z}");
    }
    eprintln!("zcrx over {} ({}): {bytes} bytes, {} copied by the kernel; {z}", b.rx, b.variant, copied);
}

/// A small refill ring and CQ: the ring fills (flushed with ZCRX_CTRL_FLUSH_RQ,
/// never overrun) and the CQ fills (RECV_ZC ends with -ENOSPC and is re-armed),
/// and still every byte arrives and is checked.
#[test]
fn small_rings_fill_and_are_recovered() {
    let Some(b) = bed() else { return };
    if b.variant == "stock" {
        eprintln!("SKIPPED: stock netdevsim takes no interface queue");
        return;
    }
    let out = tmpdir("nic-zcrx-small");
    let o = ports_run(&b, &format!("{FLOW} --rq-entries 8 --refill-batch 4 --cq-entries 8 --syscall-times"), &[], &out);
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    let (_, z) = check_zcrx(&r);
    assert_eq!((z["rq_entries"].as_u64(), z["cq_entries"].as_u64()), (Some(8), Some(8)));
    assert!(z["rearms_cq_full"].as_u64().unwrap() > 0, "the CQ filled and RECV_ZC was re-armed: {z}");
    assert!(z["refill"]["ring_full"].as_u64().unwrap() > 0, "the refill ring filled: {z}");
    assert!(z["refill"]["flushes"].as_u64().unwrap() > 0, "and was flushed: {z}");
    assert!(z["refill"]["occupancy_max"].as_u64().unwrap() <= 8, "{z}");
    assert!(z["cqes_per_enter_max"].as_u64().unwrap() <= 8, "at most a CQ's worth per round: {z}");
    // --syscall-times: every wait of the loop is one timed io_uring_enter.
    let rx = &r["receiver"]["rx"];
    let enters = rx["syscalls"]["calls"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["syscall"] == "io_uring_enter"))
        .unwrap_or_else(|| panic!("no io_uring_enter timed: {}", rx["syscalls"]));
    assert_eq!(enters["calls"], rx["calls"], "{}", rx["syscalls"]);
    eprintln!("small rings ({}): {z}", b.variant);
}

/// An area of 64 buffers, less than TCP keeps in flight: with placement the
/// NIC's page pool starves (ZCRX_EVENT_ALLOC_FAIL, packets dropped and sent
/// again); without, the kernel's copy fallback finds no free buffer (-ENOMEM),
/// and the receiver flushes the refill ring and re-arms. Every byte arrives.
///
/// The receive buffer stays below the area (tcp_rmem's maximum 128 KiB, each
/// buffer charged a page): segments after a dropped one wait out of order in
/// the socket holding area buffers, and when they can hold all of it the
/// missing segment never finds a buffer — the flow stalls for good (half the
/// runs did, with the default 6 MiB tcp_rmem). That is the kernel's behaviour
/// with an area smaller than the receive window, not a recovery to expect.
#[test]
fn a_starved_area_recovers() {
    let Some(b) = bed() else { return };
    if b.variant == "stock" {
        eprintln!("SKIPPED: stock netdevsim takes no interface queue");
        return;
    }
    let out = tmpdir("nic-zcrx-starved");
    let prof = tmpdir("nic-zcrx-starved-profile").join("small-rmem.conf");
    std::fs::write(&prof, "net.ipv4.tcp_rmem = 4096 65536 131072\n").unwrap();
    let o = ports_run(&b, &format!("{FLOW} --area-size 256KiB --sysctl {}", prof.display()), &[], &out);
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    let (_, z) = check_zcrx(&r);
    if b.placement {
        assert!(z["alloc_fail_events"].as_u64().unwrap() > 0, "the page pool found no buffer: {z}");
        assert!(r["summary"]["retransmits"].as_u64().unwrap() > 0, "dropped packets were sent again");
    } else {
        let no_buffer = z["rearms_no_buffer"].as_u64().unwrap();
        assert!(no_buffer > 0, "-ENOMEM from the copy fallback: {z}");
        assert!(z["refill"]["flushes"].as_u64().unwrap() >= no_buffer, "each answered by a flush: {z}");
    }
}

/// A dma-buf area: placed payload is read through the udmabuf mapping; without
/// placement the kernel would have to copy into memory it cannot map, and the
/// run says exactly that.
#[test]
fn a_udmabuf_area() {
    let Some(b) = bed() else { return };
    if b.variant == "stock" {
        eprintln!("SKIPPED: stock netdevsim takes no interface queue");
        return;
    }
    if !std::path::Path::new("/dev/udmabuf").exists() {
        eprintln!("SKIPPED: no /dev/udmabuf (modprobe udmabuf)");
        return;
    }
    let out = tmpdir("nic-zcrx-udmabuf");
    let o = ports_run(&b, &format!("{FLOW} --zcrx-area udmabuf"), &[], &out);
    let t = text(&o);
    if !b.placement {
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains("a dma-buf area cannot take copies"), "{t}");
        return;
    }
    assert!(o.status.success(), "{t}");
    let r = only_result(&out);
    let (_, z) = check_zcrx(&r);
    assert_eq!(z["area"], "udmabuf");
    assert_eq!(z["copy_bytes"], 0, "{z}");
}

/// Loopback in the VM's 7.x kernel: ZCRX_REG_NODEV, labelled as the copy path it
/// is, the kernel's copy counter equal to every byte; and --no-iowait keeps the
/// waiting receiver out of iowait.
#[test]
fn nodev_over_loopback() {
    let Some(b) = bed() else { return };
    if b.variant != "patched" {
        eprintln!("SKIPPED: no NIC involved; run once, with the patched NIC model");
        return;
    }
    let out = tmpdir("nic-zcrx-lo");
    let o = zcbench(
        &[
            &FLOW.split_whitespace().collect::<Vec<_>>()[..],
            &["--testbed", "lo", "--no-iowait", "--out", out.to_str().unwrap()],
        ]
        .concat(),
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("ZCRX_REG_NODEV, no device: a COPY path"), "{t}");
    let r = only_result(&out);
    let (bytes, z) = check_zcrx(&r);
    assert_eq!(z["registration"], "nodev");
    assert_eq!(z["copy_bytes"], bytes, "the kernel counted every byte as copied: {z}");
    assert!(z["refill"]["flushes"].as_u64().unwrap() > 0, "without a device only FLUSH_RQ takes buffers back");
    assert_eq!(r["receiver"]["rx"]["zero_copy"]["zero_copy_share"], 0.0);
    assert_eq!(z["no_iowait"], true);
    // /proc/stat counts in ticks (USER_HZ 100): over a 1 s window one stray tick
    // from elsewhere is 1%; a receiver counted as waiting on I/O shows far more.
    let app_iowait = r["summary"]["app"]["iowait"].as_f64().unwrap();
    let window = r["summary"]["measured_s"].as_f64().unwrap();
    assert!(app_iowait <= 2.0 / (100.0 * window), "IORING_ENTER_NO_IOWAIT: the app core shows {app_iowait} iowait");
}

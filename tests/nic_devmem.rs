//! devmem TCP end to end on two NIC ports cabled to each other: in the kernel
//! testbed VM (scripts/vm: Debian's 7.x kernel with two linked netdevsim ports
//! made a multi-queue NIC model by the vm/netdevsim/*.patch series), or on a
//! real NIC with scripts/hw-check. scripts/test boots the VM three ways and
//! runs this file in each: the patched NIC model placing the payload in the
//! bound memory, the same with placement off, and stock netdevsim (one queue).
//! Elsewhere every test says SKIPPED.

mod common;
use common::*;

fn devmem(b: &Bed, extra: &[&str], out: &std::path::Path) -> std::process::Output {
    ports_run(b, "--mode devmem --validate --duration 2s --warmup 1s --msg-size 1MiB --read-size 1MiB", extra, out)
}

/// No rx queue of the receiving port is left with a memory provider.
fn no_binding_left(b: &Bed) {
    let o = zcbench(&["probe", "--dev", &b.rx, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let checks = p["devices"][0]["devmem"]["checks"].as_array().unwrap();
    let c = checks.iter().find(|c| c["what"] == "rx queue providers").unwrap();
    assert_eq!(c["ok"], true, "a binding outlived the run: {c}");
}

#[test]
fn devmem_receive_over_the_netdevsim_ports() {
    let Some(b) = bed() else { return };
    let before = snapshot();
    let out = tmpdir("nic-devmem");
    let o = devmem(&b, &[], &out);
    let t = text(&o);
    if b.variant == "stock" {
        // Stock netdevsim has no DMA device for its queues: the kernel says so.
        assert_eq!(o.status.code(), Some(3), "{t}");
        assert!(
            t.contains("bind-rx of a dma-buf to rx queue 0 failed") && t.contains("Device doesn't support DMA"),
            "{t}"
        );
        assert_unchanged(&before, "a refused devmem run");
        return;
    }
    assert!(o.status.success(), "{t}");
    assert_unchanged(&before, "a devmem run");
    no_binding_left(&b);
    let r = only_result(&out);
    check_sums(&r);
    let rx = &r["receiver"]["rx"];
    let dm = &rx["devmem"];
    let bytes = rx["bytes"].as_u64().unwrap();
    assert!(bytes > 1 << 20, "{rx}");
    assert_eq!(rx["validated_bytes"], bytes, "every byte checked");
    assert_eq!(dm["queue_confirmed"], true);
    assert_eq!(
        connection_queue(&r, "data"),
        dm["rx_queue"].as_u64(),
        "the flow on the bound queue, by the kernel's account"
    );
    assert_eq!(dm["tokens_leaked"], 0);
    assert_eq!(dm["tokens_unknown"], 0);
    assert_eq!(dm["tokens_returned"], dm["frags"], "every token handed out came back");
    let dmabuf = dm["dmabuf_bytes"].as_u64().unwrap();
    let copied = dm["linear_bytes"].as_u64().unwrap() + dm["copied_bytes"].as_u64().unwrap();
    assert_eq!(dmabuf + copied, bytes, "{dm}");
    if b.placement {
        assert_eq!((dmabuf, copied), (bytes, 0), "all of it through SCM_DEVMEM_DMABUF: {dm}");
        assert!(dm["page_pools"].as_u64().unwrap() >= 1, "{dm}");
        assert_eq!(rx["zero_copy"]["zero_copy_share"], 1.0);
    } else {
        // The NIC model did not place the payload: the kernel copied it, and the
        // result says so instead of claiming zero copy.
        assert_eq!((dmabuf, copied), (0, bytes), "{dm}");
        assert_eq!(rx["zero_copy"]["zero_copy_share"], 0.0);
        assert!(t.contains("0.0% of the whole flow's bytes"), "{t}");
    }
}

#[test]
fn token_batches_cut_the_returns() {
    let Some(b) = bed() else { return };
    if b.variant == "stock" || !b.placement {
        eprintln!("SKIPPED: tokens only exist when the NIC model places the payload");
        return;
    }
    let mut seen = Vec::new();
    for batch in ["1", "64", "512"] {
        let out = tmpdir(&format!("nic-batch{batch}"));
        let o = devmem(&b, &["--token-batch", batch], &out);
        assert!(o.status.success(), "{}", text(&o));
        let r = only_result(&out);
        let dm = r["receiver"]["rx"]["devmem"].clone();
        assert_eq!(dm["tokens_leaked"], 0);
        assert!(
            dm["max_tokens_per_call"].as_u64().unwrap() <= 1024 && dm["max_ranges_per_call"].as_u64().unwrap() <= 128
        );
        seen.push((batch, dm));
    }
    let per_call = |i: usize| seen[i].1["tokens_per_call"].as_f64().unwrap();
    let calls_per_recvmsg =
        |i: usize| seen[i].1["dontneed_calls"].as_f64().unwrap() / seen[i].1["recvmsgs_with_data"].as_f64().unwrap();
    // Batch 1: one return per recvmsg that produced frags; larger batches: fewer, fuller calls.
    assert_eq!(seen[0].1["dontneed_calls_avoided"], 0, "{:?}", seen[0]);
    assert!(calls_per_recvmsg(0) > calls_per_recvmsg(1) && calls_per_recvmsg(1) > calls_per_recvmsg(2), "{seen:?}");
    assert!(per_call(0) < per_call(1) && per_call(1) < per_call(2), "{seen:?}");
    // Full batches of 512; only the flush at the end of the flow is smaller.
    assert!(seen[2].1["max_tokens_per_call"].as_u64().unwrap() >= 512, "{seen:?}");
    assert!(per_call(2) > 400.0, "{seen:?}");
}

#[test]
fn what_the_testbed_cannot_do_is_refused_before_anything_changes() {
    let Some(b) = bed() else { return };
    let before = snapshot();
    // veth has no header split (and no queue management): refused by the plan.
    let o = zcbench(&["--mode", "devmem", "--duration", "1s"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("(driver veth): --mode devmem needs header split"), "{}", text(&o));
    assert_unchanged(&before, "a refused devmem run");
    no_binding_left(&b);
}

/// devmem transmit and receive: the sending port reads the payload from its
/// bound dma-buf (netmem TX), the receiving port places it in the receiver's
/// (dma-buf to dma-buf). Stock netdevsim declares no netmem TX and the kernel
/// refuses bind-tx, before anything changes.
#[test]
fn devmem_transmit() {
    let Some(b) = bed() else { return };
    let before = snapshot();
    let out = tmpdir("nic-devmem-tx");
    let o = devmem(&b, &["--tx-mode", "devmem"], &out);
    let t = text(&o);
    assert_unchanged(&before, "a devmem transmit run");
    if b.variant == "stock" {
        // Receive is refused first on stock netdevsim; transmit alone too.
        assert_eq!(o.status.code(), Some(3), "{t}");
        let o = ports_run(&b, "--tx-mode devmem --duration 1s --warmup 1s", &[], &out);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        assert!(text(&o).contains("bind-tx of a dma-buf failed"), "{}", text(&o));
        assert!(text(&o).contains("netmem TX"), "the kernel's reason: {}", text(&o));
        assert_unchanged(&before, "a refused devmem transmit run");
        return;
    }
    assert!(o.status.success(), "{t}");
    let r = only_result(&out);
    check_sums(&r);
    let (rx, tx) = (&r["receiver"]["rx"], &r["receiver"]["tx"]);
    let bytes = rx["bytes"].as_u64().unwrap();
    assert_eq!(rx["validated_bytes"], bytes, "every byte checked");
    assert_eq!(tx["bytes"], bytes, "every byte sent arrived");
    // Completions: not copied, as the NIC read the dma-buf.
    let z = &tx["zero_copy"];
    assert!(z["zero_copy_share"].as_f64().unwrap() >= 0.99, "{z}");
    assert!(z["source"].as_str().unwrap().contains("devmem TX completions"), "{z}");
    let dm = &rx["devmem"];
    if b.placement {
        assert_eq!(dm["dmabuf_bytes"], bytes, "all of it through SCM_DEVMEM_DMABUF: {dm}");
        assert_eq!(rx["zero_copy"]["zero_copy_share"], 1.0);
    }
    eprintln!("devmem TX+RX over {} -> {}: {bytes} bytes; tx {z}; rx dma-buf {} bytes", b.tx, b.rx, dm["dmabuf_bytes"]);
}

/// What a run with HW GRO on or off recorded: frags per MiB received,
/// packets the stack handled per MiB (wire packets the port received, less
/// those it merged, plus the merges), and the port's hw-gro counters.
struct Gro {
    frags_per_mib: f64,
    stack_packets_per_mib: f64,
    hw_gro_packets: u64,
    hw_gro_wire_packets: u64,
}

fn gro_run(b: &Bed, flag: &str) -> Option<Gro> {
    let out = tmpdir(&format!("nic-gro{flag}"));
    let o = ports_run(b, "--mode devmem --cpus 1 --validate --duration 2s --warmup 1s", &[flag], &out);
    let t = text(&o);
    if b.variant == "hardware" && o.status.code() == Some(3) && t.contains("rx-gro-hw") {
        eprintln!("SKIPPED: {}: {}", b.rx, t.lines().last().unwrap_or_default());
        return None;
    }
    assert!(o.status.success(), "{t}");
    let r = only_result(&out);
    let rx = &r["receiver"]["rx"];
    let bytes = rx["bytes"].as_u64().unwrap();
    assert_eq!(rx["validated_bytes"], bytes);
    assert_eq!(rx["devmem"]["dmabuf_bytes"], bytes, "100% via dma-buf");
    let dev = r["receiver"]["host"]["devices"].as_array().unwrap().iter().find(|d| d["name"] == b.rx.as_str()).cloned();
    let on = dev.as_ref().map(|d| d["offloads"]["rx-gro-hw"].clone());
    assert_eq!(on, Some(serde_json::json!(flag == "--hw-gro")), "HW GRO recorded as the run had it");
    let q = rx["devmem"]["rx_queue"].as_u64().unwrap();
    let c = queue_counters(&r, q);
    let n = |k: &str| c.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let window_bytes = n("rx-bytes").max(1) as f64 / (1 << 20) as f64;
    let mib = bytes as f64 / (1 << 20) as f64;
    Some(Gro {
        frags_per_mib: rx["devmem"]["frags"].as_f64().unwrap() / mib,
        stack_packets_per_mib: (n("rx-packets") - n("rx-hw-gro-wire-packets") + n("rx-hw-gro-packets")) as f64
            / window_bytes,
        hw_gro_packets: n("rx-hw-gro-packets"),
        hw_gro_wire_packets: n("rx-hw-gro-wire-packets"),
    })
}

/// HW GRO on the receiving port: merged segments reach the stack as fewer
/// packets, their payload packed into fewer, fuller dma-buf frags.
#[test]
fn hw_gro_merges_segments_into_fewer_frags_and_packets() {
    let Some(b) = bed() else { return };
    if b.variant == "stock" || !b.placement {
        eprintln!("SKIPPED: HW GRO acts on what the NIC model places; run with placement");
        return;
    }
    let before = snapshot();
    let (Some(on), Some(off)) = (gro_run(&b, "--hw-gro"), gro_run(&b, "--no-hw-gro")) else { return };
    assert_unchanged(&before, "HW GRO runs");
    eprintln!(
        "HW GRO on: {:.0} frags/MiB, {:.0} packets/MiB through the stack ({} merges of {} wire packets); off: {:.0} frags/MiB, {:.0} packets/MiB",
        on.frags_per_mib,
        on.stack_packets_per_mib,
        on.hw_gro_packets,
        on.hw_gro_wire_packets,
        off.frags_per_mib,
        off.stack_packets_per_mib
    );
    assert!(on.hw_gro_packets > 0 && on.hw_gro_wire_packets > on.hw_gro_packets, "merges counted");
    assert_eq!(off.hw_gro_packets, 0, "no merges with HW GRO off");
    assert!(on.stack_packets_per_mib < off.stack_packets_per_mib / 2.0, "fewer packets through the stack");
    if b.variant == "hardware" {
        // How a NIC lays out merged payload is its own; it should not need more frags.
        assert!(on.frags_per_mib <= off.frags_per_mib * 1.05, "HW GRO added frags");
    } else {
        // The model packs merged payload into whole buffers (as bnxt's TPA and
        // mlx5's SHAMPO do); without it each 1448-byte segment has its own.
        assert!(on.frags_per_mib < off.frags_per_mib * 0.67, "fewer, fuller frags with HW GRO");
    }
}

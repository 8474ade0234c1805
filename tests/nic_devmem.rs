//! devmem TCP end to end on two NIC ports cabled to each other: in the kernel
//! testbed VM (scripts/vm: Debian's 7.x kernel with two linked netdevsim ports
//! whose rx queues take memory providers, vm/netdevsim-memory-provider.patch),
//! or on a real NIC with scripts/hw-check. scripts/test boots the VM three ways
//! and runs this file in each: the patched NIC model placing the payload in the
//! bound memory, the same with placement off, and stock netdevsim. Elsewhere
//! every test says SKIPPED.

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

/// devmem transmit: netdevsim cannot (no netmem TX), and says so before anything
/// changes; a real NIC that can sends a validated flow from its dma-buf.
#[test]
fn devmem_transmit() {
    let Some(b) = bed() else { return };
    let before = snapshot();
    let out = tmpdir("nic-devmem-tx");
    let o = ports_run(&b, "--tx-mode devmem --validate --duration 2s --warmup 1s", &[], &out);
    assert_unchanged(&before, "a devmem transmit run");
    if b.variant != "hardware" {
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        assert!(text(&o).contains("bind-tx of a dma-buf failed"), "{}", text(&o));
        return;
    }
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    let tx = &r["receiver"]["tx"];
    assert_eq!(r["receiver"]["rx"]["validated_bytes"], r["receiver"]["rx"]["bytes"]);
    assert!(tx["zero_copy"]["zero_copy_bytes"].as_u64().unwrap() > 0, "{tx}");
}

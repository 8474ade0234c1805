//! Several flows (`--flows`) of devmem and io_uring zcrx on two NIC ports
//! cabled to each other: each flow steered by its own ntuple rule to an rx
//! queue of its own, with its own binding (devmem) or interface queue (zcrx)
//! there, RSS kept off those queues. In the kernel testbed VM (the multi-queue
//! NIC model of vm/netdevsim/*.patch, booted three ways by scripts/test) or on
//! a real NIC (scripts/hw-check); elsewhere every test says SKIPPED.

mod common;
use common::*;
use serde_json::Value;

const FLOWS: usize = 2;

/// The run's per-flow blocks, checked against the totals: bytes sum, every
/// flow's bytes validated.
fn flows_of(r: &Value) -> &Vec<Value> {
    check_sums(r);
    let flows = r["receiver"]["flows"].as_array().expect("a per-flow block for each flow");
    assert_eq!(flows.len(), FLOWS, "{flows:?}");
    let sum: u64 = flows.iter().map(|f| f["rx"]["bytes"].as_u64().unwrap()).sum();
    assert_eq!(sum, r["receiver"]["rx"]["bytes"].as_u64().unwrap(), "the total is the flows' sum");
    for f in flows {
        let bytes = f["rx"]["bytes"].as_u64().unwrap();
        assert!(bytes > 1 << 20, "flow {} moved {bytes} bytes", f["flow"]);
        assert_eq!(f["rx"]["validated_bytes"], bytes, "flow {}: every byte checked", f["flow"]);
        assert!(f.get("ended").is_none(), "flow {} ended early: {}", f["flow"], f["ended"]);
    }
    flows
}

/// Each flow on a queue of its own, and that queue the one the kernel says the
/// flow's packets arrived on (SO_INCOMING_NAPI_ID matched with queue-get).
fn own_queues(r: &Value, bound: impl Fn(&Value) -> Option<u64>) {
    let flows = r["receiver"]["flows"].as_array().unwrap();
    let mut queues: Vec<u64> = flows.iter().map(|f| bound(f).expect("the flow's bound queue")).collect();
    for (f, q) in flows.iter().zip(&queues) {
        let name = format!("flow {}", f["flow"]);
        assert_eq!(connection_queue(r, &name), Some(*q), "{name} arrived on its bound queue: {}", r["receiver"]);
        assert_eq!(f["rx_queue"].as_u64(), Some(*q), "{name}: the result names its queue");
    }
    queues.dedup();
    assert_eq!(queues.len(), FLOWS, "one queue per flow: {queues:?}");
}

/// With one rx queue (stock netdevsim), several flows cannot each have one:
/// refused before anything changes, naming why.
fn refused_on_one_queue(o: &std::process::Output, before: &Snapshot) -> bool {
    let t = text(o);
    if !t.contains("the device has 1") {
        return false;
    }
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("needs an rx queue per flow and one more for RSS"), "{t}");
    assert_unchanged(before, "a refused multi-flow run");
    true
}

#[test]
fn devmem_flows_each_on_their_own_bound_queue() {
    let Some(b) = bed() else { return };
    let before = snapshot();
    let out = tmpdir("nic-flows-devmem");
    let args = "--mode devmem --flows 2 --validate --duration 2s --warmup 1s --msg-size 1MiB --read-size 1MiB";
    let o = ports_run(&b, args, &[], &out);
    if refused_on_one_queue(&o, &before) {
        return;
    }
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert_unchanged(&before, "a multi-flow devmem run");
    let r = only_result(&out);
    let flows = flows_of(&r);
    let mut bindings = Vec::new();
    for f in flows {
        let (rx, dm) = (&f["rx"], &f["rx"]["devmem"]);
        assert_eq!(dm["queue_confirmed"], true, "{dm}");
        assert_eq!((dm["tokens_leaked"].as_u64(), dm["tokens_unknown"].as_u64()), (Some(0), Some(0)), "{dm}");
        assert_eq!(dm["tokens_returned"], dm["frags"], "flow {}: every token came back", f["flow"]);
        let bytes = rx["bytes"].as_u64().unwrap();
        let dmabuf = dm["dmabuf_bytes"].as_u64().unwrap();
        if b.placement {
            assert_eq!(dmabuf, bytes, "flow {}: all of it through SCM_DEVMEM_DMABUF: {dm}", f["flow"]);
            assert_eq!(rx["zero_copy"]["zero_copy_share"], 1.0, "flow {}", f["flow"]);
        } else {
            assert_eq!(dmabuf, 0, "placement off: the kernel copied, and the result says so: {dm}");
        }
        bindings.push(dm["binding_id"].as_u64().unwrap());
    }
    bindings.dedup();
    assert_eq!(bindings.len(), FLOWS, "a binding per flow: {bindings:?}");
    own_queues(&r, |f| f["rx"]["devmem"]["rx_queue"].as_u64());
    eprintln!("devmem --flows 2 over {} ({}): {}", b.rx, b.variant, r["receiver"]["connections"]);
}

#[test]
fn zcrx_flows_each_on_their_own_interface_queue() {
    let Some(b) = bed() else { return };
    let before = snapshot();
    let out = tmpdir("nic-flows-zcrx");
    let args = "--mode zcrx --flows 2 --validate --duration 1s --warmup 1s --msg-size 1MiB --read-size 1MiB";
    let o = ports_run(&b, args, &[], &out);
    if refused_on_one_queue(&o, &before) {
        return;
    }
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert_unchanged(&before, "a multi-flow zcrx run");
    let r = only_result(&out);
    for f in flows_of(&r) {
        let (rx, z) = (&f["rx"], &f["rx"]["zcrx"]);
        assert_eq!(z["registration"], "device", "{z}");
        assert_eq!((z["queue_confirmed"].as_bool(), z["queue_released"].as_bool()), (Some(true), Some(true)), "{z}");
        assert_eq!(z["refill"]["returned"], z["data_cqes"], "flow {}: every buffer back: {z}", f["flow"]);
        assert_eq!(z["refill"]["held_at_end"], 0, "{z}");
        let bytes = rx["bytes"].as_u64().unwrap();
        let copied = z["copy_bytes"].as_u64().expect("7.2+ counts copy-fallback bytes");
        if b.placement {
            assert_eq!(copied, 0, "flow {}: the NIC placed every byte: {z}", f["flow"]);
            assert_eq!(rx["zero_copy"]["zero_copy_share"], 1.0);
        } else {
            assert_eq!(copied, bytes, "{z}");
        }
    }
    own_queues(&r, |f| f["rx"]["zcrx"]["queue"].as_u64());
    eprintln!("zcrx --flows 2 over {} ({}): {}", b.rx, b.variant, r["receiver"]["connections"]);
}

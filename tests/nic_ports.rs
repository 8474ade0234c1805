//! The ports testbed on real NIC ports (scripts/hw-check: ZCBENCH_HW_PORTS) or
//! on the kernel testbed VM's netdevsim ports (scripts/test runs this file in
//! the VM): a baseline flow with every byte validated, and the host as before.

mod common;
use common::*;

fn ports() -> Option<(String, String)> {
    let v = std::env::var("ZCBENCH_HW_PORTS").or_else(|_| std::env::var("ZCBENCH_VM_PORTS")).ok();
    let mut it = v.as_deref().unwrap_or_default().split_whitespace().map(str::to_string);
    match (it.next(), it.next()) {
        (Some(rx), Some(tx)) => Some((rx, tx)),
        _ => {
            eprintln!(
                "SKIPPED: needs NIC ports (ZCBENCH_HW_PORTS, or the kernel testbed VM where scripts/test runs this)"
            );
            None
        }
    }
}

#[test]
fn a_validated_baseline_flow_over_the_ports() {
    let Some((rx, tx)) = ports() else { return };
    let before = snapshot();
    let out = tmpdir("nic-ports");
    let o = zcbench(&[
        "--testbed",
        "ports",
        "--dev",
        &rx,
        "--peer-dev",
        &tx,
        "--validate",
        "--duration",
        "2s",
        "--warmup",
        "1s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_unchanged(&before, "a ports run");
    let r = only_result(&out);
    check_sums(&r);
    let rx_stats = &r["receiver"]["rx"];
    assert!(rx_stats["bytes"].as_u64().unwrap() > 0);
    assert_eq!(rx_stats["validated_bytes"], rx_stats["bytes"], "every byte checked");
    assert_eq!(r["receiver"]["tx"]["bytes"], rx_stats["bytes"], "every byte sent arrived");
    let devs = r["receiver"]["host"]["devices"].as_array().unwrap();
    let driver = devs.iter().find(|d| d["name"] == rx.as_str()).map(|d| d["driver"]["driver"].clone());
    eprintln!("ports testbed over {rx} ({driver:?}) -> {tx}: {} Gbit/s", r["summary"]["gbps"]);
}

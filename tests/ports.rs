//! The ports testbed (two NIC ports cabled to each other, each moved into a
//! namespace for the run) on this host, with a veth pair standing in for the
//! ports: moved, addressed, measured, and always brought home and up again —
//! also after a SIGKILL. The same testbed runs devmem/zcrx on the netdevsim
//! ports of the kernel testbed VM (tests/vm_devmem.rs).

mod common;
use common::*;
use std::time::Duration;

#[test]
fn a_run_over_two_ports_validates_and_brings_them_home() {
    need_netns!();
    let ports = PortPair::new("r");
    let before = snapshot();
    let out = tmpdir("ports");
    let o = zcbench(&[
        "--testbed",
        "ports",
        "--dev",
        &ports.a,
        "--peer-dev",
        &ports.b,
        "--duration",
        "2s",
        "--warmup",
        "500ms",
        "--validate",
        "--mtu",
        "4000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_unchanged(&before, "a ports run");
    let r = only_result(&out);
    assert_eq!(r["topology"], "ports");
    check_sums(&r);
    let rx = &r["receiver"]["rx"];
    assert_eq!(rx["validated_bytes"], rx["bytes"]);
    assert!(rx["bytes"].as_u64().unwrap() > 0);
    // Each port was in a namespace of its own, with the MTU asked for.
    let devs = r["receiver"]["host"]["devices"].as_array().unwrap();
    let dev = |n: &str| devs.iter().find(|d| d["name"] == n).cloned().unwrap_or_default();
    assert!(dev(&ports.a)["netns"].as_str().unwrap().ends_with("-rx"), "{devs:?}");
    assert!(dev(&ports.b)["netns"].as_str().unwrap().ends_with("-tx"), "{devs:?}");
    assert_eq!(dev(&ports.a)["link"]["mtu"], 4000);
    let changes = r["receiver"]["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["setting"].as_str().unwrap().contains("moved into network namespace")));
}

#[test]
fn a_killed_ports_run_is_undone_by_the_next_start() {
    need_netns!();
    let ports = PortPair::new("k");
    let before = snapshot();
    let mut child = std::process::Command::new(bin())
        .args(["--testbed", "ports", "--dev", &ports.a, "--peer-dev", &ports.b, "--duration", "30s", "-q"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the ports have left this namespace, then kill it outright.
    let gone = |d: &str| !std::path::Path::new(&format!("/sys/class/net/{d}")).exists();
    for _ in 0..100 {
        if gone(&ports.a) && gone(&ports.b) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone(&ports.a), "the receiving port never moved");
    std::thread::sleep(Duration::from_secs(1));
    child.kill().unwrap();
    child.wait().unwrap();
    let o = zcbench(&["restore"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("moved into network namespace"), "{}", text(&o));
    assert_unchanged(&before, "a SIGKILLed ports run after `zcbench restore`");
}

#[test]
fn ports_that_carry_addresses_are_refused_before_anything_moves() {
    need_netns!();
    let ports = PortPair::new("x");
    let o = std::process::Command::new("ip").args(["addr", "add", "198.19.9.9/32", "dev", &ports.a]).output().unwrap();
    assert!(o.status.success());
    let before = snapshot();
    let o = zcbench(&["--testbed", "ports", "--dev", &ports.a, "--peer-dev", &ports.b, "--duration", "1s"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("carries addresses (198.19.9.9/32)"), "{}", text(&o));
    assert_unchanged(&before, "a refused ports run");
    let o = zcbench(&["--testbed", "ports", "--dev", &ports.a, "--duration", "1s"]);
    assert_eq!(o.status.code(), Some(2), "--dev without --peer-dev: {}", text(&o));
    let o = zcbench(&["--dev", &ports.a, "--peer-dev", &ports.b, "--duration", "1s"]);
    assert_eq!(o.status.code(), Some(2), "ports without --testbed ports: {}", text(&o));
    assert!(text(&o).contains("--testbed ports"), "{}", text(&o));
}

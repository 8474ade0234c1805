//! The undo journal and network namespaces: a setting is written back only in
//! the namespace it was read in; a namespace that is gone takes its settings
//! with it, said once, never blocking or touching anything else.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn ns_cat(ns: &str, path: &str) -> String {
    let o = Command::new("ip").args(["netns", "exec", ns, "cat", path]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn ns_write(ns: &str, path: &str, v: &str) {
    let o = Command::new("ip").args(["netns", "exec", ns, "sh", "-c", &format!("printf '{v}' > {path}")]).output();
    assert!(o.unwrap().status.success());
}

const RMEM: &str = "/proc/sys/net/ipv4/tcp_rmem";

/// A server in namespace `p.a` with a per-namespace sysctl (tcp_rmem, set in
/// `p.a` to a value of its own first) and an MTU on its device, killed with
/// SIGKILL once both are in place. Returns the namespace's own old tcp_rmem.
fn kill_a_server_in(p: &NsPair, tag: &str) -> String {
    let own = "4096\t65536\t1000000";
    ns_write(&p.a, RMEM, "4096 65536 1000000");
    assert_eq!(ns_cat(&p.a, RMEM), own);
    let prof = tmpdir(tag).join("rmem.conf");
    std::fs::write(&prof, "# test\nnet.ipv4.tcp_rmem = 4096 87380 2000000\n").unwrap();
    let mut srv = Server::start(
        &p.a,
        &["--listen", &p.a_ip, "--dev", "zt0", "--mtu", "4148", "--sysctl", prof.to_str().unwrap()],
    );
    assert_eq!(ns_cat(&p.a, RMEM), "4096\t87380\t2000000", "the profile holds inside the namespace");
    assert_eq!(ns_cat(&p.a, "/sys/class/net/zt0/mtu"), "4148");
    srv.kill(libc::SIGKILL);
    let _ = srv.child.wait();
    own.to_string()
}

#[test]
fn a_server_killed_in_a_namespace_is_restored_there_and_the_root_namespace_is_untouched() {
    need_netns!();
    let before = snapshot();
    let p = NsPair::new("jr", 30);
    let own = kill_a_server_in(&p, "jr");
    assert_ne!(snapshot().get("journal files"), Some(""), "the killed server left its journal");
    // Any zcbench command in the root namespace restores it, in the server's namespace.
    let o = zcbench(&["probe"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains(&format!("in network namespace {}", p.a)) && t.contains("restored zt0 mtu = 1500"), "{t}");
    assert_eq!(ns_cat(&p.a, RMEM), own, "the namespace's own tcp_rmem is back");
    assert_eq!(ns_cat(&p.a, "/sys/class/net/zt0/mtu"), "1500");
    assert_unchanged(&before, "a server killed in a namespace + the next start in the root namespace");

    // The next zcbench inside the namespace restores it there just as well.
    let own = kill_a_server_in(&p, "jr2");
    let o = NsPair::cmd(&p.a, &["restore"]).output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("sysctl net.ipv4.tcp_rmem = 4096 65536 1000000"), "{t}");
    assert!(!t.contains("nothing of zcbench's left"), "it did restore something: {t}");
    assert_eq!(ns_cat(&p.a, RMEM), own);
    assert_unchanged(&before, "a server killed in a namespace + `zcbench restore` inside it");
}

#[test]
fn settings_of_a_namespace_that_is_gone_are_void_said_once_and_block_nothing() {
    need_netns!();
    let before = snapshot();
    let p = NsPair::new("jv", 31);
    kill_a_server_in(&p, "jv");
    assert!(Command::new("ip").args(["netns", "del", &p.a]).status().unwrap().success());
    let t0 = Instant::now();
    let o = zcbench(&["probe"]);
    let t = text(&o);
    assert!(o.status.success(), "a gone namespace must not block anything: {t}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(t.matches("no longer exists").count(), 1, "said once: {t}");
    assert!(t.contains("zt0 mtu") && t.contains("sysctl net.ipv4.tcp_rmem"), "{t}");
    let o = zcbench(&["probe"]);
    assert!(o.status.success() && !text(&o).contains("no longer exists"), "said only once: {}", text(&o));
    assert_unchanged(&before, "a server killed in a namespace that was then deleted");
}

#[test]
fn host_keys_read_only_in_a_namespace_are_refused_before_any_change() {
    need_netns!();
    let before = snapshot();
    let p = NsPair::new("jro", 32);
    let o = NsPair::cmd(&p.a, &["server", "--listen", &p.a_ip, "--once", "--sysctl", "study"]).output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("net.core.rmem_max") && t.contains("read-only in this network namespace"), "{t}");
    assert!(t.contains("built-in profile study, line"), "names the profile line: {t}");
    assert_unchanged(&before, "a refused --sysctl study inside a namespace");
}

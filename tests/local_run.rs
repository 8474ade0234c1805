//! The local testbed end to end: real namespaces, real flows, real host settings.

mod common;
use common::*;

#[test]
fn default_run_over_netns_measures_and_leaves_nothing_behind() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("netns");
    let o = zcbench(&["--duration", "3s", "--warmup", "1s", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("Gbit/s") && t.contains("app+net") && t.contains("sender"), "{t}");
    assert_eq!(snapshot(), before, "host settings or namespaces changed");

    let r = only_result(&out);
    assert_eq!(r["schema_version"], 4);
    assert_eq!(r["topology"], "netns");
    check_sums(&r);
    assert!(r["summary"]["gbps"].as_f64().unwrap() > 0.1);
    // 1 s interval over 3 s + 1 s warm-up: 4 samples, one of them warm-up.
    let samples = r["receiver"]["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 4);
    assert_eq!(samples.iter().filter(|s| s["warmup"].as_bool().unwrap()).count(), 1);
    // Every core of the host in every sample.
    let cores = r["receiver"]["host"]["cores_online"].as_array().unwrap().len();
    assert!(samples.iter().all(|s| s["cpu"].as_array().unwrap().len() == cores));
    // The sampler is cheap and says so.
    let pct = r["summary"]["sampler_pct_of_core"].as_f64().unwrap();
    assert!(pct > 0.0 && pct < 1.0, "sampler used {pct}% of a core");
    // Layout and steering are recorded; the RPS change was read back.
    let l = &r["receiver"]["layout"];
    assert_eq!(l["app_cpu"], l["net_cpu"]);
    let ch = r["receiver"]["changes"].as_array().unwrap();
    assert!(ch.iter().any(|c| c["setting"].as_str().unwrap().ends_with("rps_cpus") && !c["netns"].is_null()));
    assert!(r["receiver"]["host"]["devices"][0]["driver"]["driver"] == "veth");
    assert!(r["receiver"]["tx_thread"]["sys_s"].as_f64().unwrap() > 0.0);
}

fn lo_run(cpus: &str) -> serde_json::Value {
    let before = snapshot();
    let out = tmpdir(&format!("lo{cpus}"));
    let o = zcbench(&[
        "--testbed",
        "lo",
        "--cpus",
        cpus,
        "--duration",
        "2s",
        "--warmup",
        "500ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(snapshot(), before, "lo's RPS or MTU not restored");
    let r = only_result(&out);
    check_sums(&r);
    assert_eq!(r["topology"], "lo");
    r
}

#[test]
fn loopback_one_cpu_shares_the_core() {
    need_netns!();
    let r = lo_run("1");
    let l = &r["receiver"]["layout"];
    assert_eq!(l["cpus"], 1);
    assert_eq!(l["app_cpu"], l["net_cpu"]);
    assert_ne!(l["sender_cpu"], l["app_cpu"]);
    let ch = &r["receiver"]["changes"][0];
    assert_eq!(ch["setting"], "/sys/class/net/lo/queues/rx-0/rps_cpus");
    assert!(ch["netns"].is_null());
}

#[test]
fn loopback_two_cpus_separates_app_and_net() {
    need_netns!();
    let r = lo_run("2");
    let l = &r["receiver"]["layout"];
    assert_eq!(l["cpus"], 2);
    assert_ne!(l["app_cpu"], l["net_cpu"]);
    let s = &r["summary"];
    assert_ne!(s["app"]["cpu"], s["net"]["cpu"]);
    // RPS really moved receive softirq work to the net core.
    assert!(s["net"]["softirq"].as_f64().unwrap() > s["app"]["softirq"].as_f64().unwrap(), "{s}");
}

#[test]
fn validation_checks_every_byte_with_odd_sizes() {
    need_netns!();
    let out = tmpdir("validate");
    let o = zcbench(&[
        "--validate",
        "--msg-size",
        "100003",
        "--read-size",
        "65537",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    assert_eq!(r["flow"]["validate"], true);
    let rx = &r["receiver"]["rx"];
    assert!(rx["bytes"].as_u64().unwrap() > 1_000_000);
    assert_eq!(rx["validated_bytes"], rx["bytes"]);
    assert_eq!(r["receiver"]["tx"]["bytes"], rx["bytes"], "every byte sent arrived");
}

#[test]
fn ipv6_and_mss_and_mtu_on_the_veth_pair() {
    need_netns!();
    let out = tmpdir("v6");
    let o = zcbench(&[
        "-6",
        "--mss",
        "1200",
        "--mtu",
        "9000",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let r = only_result(&out);
    assert!(r["receiver"]["local_addr"].as_str().unwrap().starts_with("[2001:2::1]"));
    // TCP_MAXSEG reads back the effective MSS: the 1200 asked for less TCP options
    // (12 bytes of timestamps).
    let mss = r["receiver"]["mss"].as_u64().unwrap();
    assert!((1160..=1200).contains(&mss), "mss {mss}");
    assert_eq!(r["flow"]["mss"], 1200);

    assert_eq!(r["receiver"]["host"]["devices"][0]["link"]["mtu"], 9000);
    check_sums(&r);
}

#[test]
fn sigint_mid_run_restores_and_exits_130() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("sigint");
    let child = std::process::Command::new(bin())
        .args(["--testbed", "lo", "--cpus", "2", "--duration", "30s", "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t0 = std::time::Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(t0.elapsed().as_secs() < 5, "took {:?} to stop", t0.elapsed());
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(text(&o).contains("interrupted"));
    assert_eq!(snapshot(), before);
    assert_eq!(std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0), 0, "no result for an interrupted run");
}

#[test]
fn bad_input_is_refused_with_the_right_code_and_changes_nothing() {
    need_netns!();
    let before = snapshot();
    // devmem needs a dma-buf (udmabuf) and a NIC with header split: the first
    // thing this host lacks is named, before anything changes.
    let udmabuf = std::path::Path::new("/dev/udmabuf").exists();
    let devmem_why = if udmabuf { "does not offer tcp-data-split" } else { "/dev/udmabuf" };
    let devmem_tx_why = if udmabuf { "bind-tx of a dma-buf failed" } else { "/dev/udmabuf" };
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--mode", "bogus"], 2, "invalid value 'bogus'"),
        (&["--mode", "devmem"], 3, devmem_why),
        (&["--mode", "devmem", "--cpus", "1", "--hw-gro"], 3, devmem_why),
        // What zcrx does on lo and veth depends on the kernel: tests/zcrx.rs.
        (&["--mode", "zcrx", "--rq-entries", "3"], 2, "--rq-entries 3 must be a power of two"),
        (&["--tx-mode", "devmem"], 3, devmem_tx_why),
        (&["--app-cpu", "99"], 2, "no core 99"),
        (&["--cpus", "1", "--app-cpu", "0", "--net-cpu", "1"], 2, "differ"),
        (&["--cpus", "3"], 2, "3"),
        (&["--duration", "0s"], 2, "more than 0"),
        (&["--duration", "soon"], 2, "not a duration"),
        (&["--msg-size", "0"], 2, "at least 1 byte"),
        (&["--read-size", "2TiB"], 2, "absurd"),
        (&["--msg-size", "lots"], 2, "not a size"),
        (&["--mss", "10"], 2, "TCP_MAXSEG"),
        (&["--mtu", "20"], 2, "--mtu 20"),
        (&["--interval", "1us"], 2, "--interval"),
        (&["probe", "--dev", "nosuchdev0"], 2, "no network interface 'nosuchdev0'"),
        (&["server", "--dev", "nosuchdev0", "--once"], 2, "no network interface 'nosuchdev0'"),
        (&["client", "--server", "127.0.0.1", "--msg-size", "0"], 2, "at least 1 byte"),
    ];
    for (args, code, msg) in cases {
        let o = zcbench(args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(*code), "{args:?}: {t}");
        assert!(t.contains(msg), "{args:?}: message should mention '{msg}': {t}");
        assert_eq!(snapshot(), before, "{args:?} changed the host");
    }
}

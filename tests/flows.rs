//! Several flows at once (`--flows`): every data path, totals that are the sums
//! of the flows, fairness and every core's CPU said, each flow steered to its
//! own net core on the veth testbed, and a flow killed from outside named in
//! the result while the others are kept.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn run(tag: &str, args: &[&str]) -> (serde_json::Value, String) {
    let out = tmpdir(tag);
    let o = zcbench(&[args, &["--out", out.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    let r = only_result(&out);
    check_sums(&r);
    (r, String::from_utf8_lossy(&o.stdout).into_owned())
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The promises of a run of `n` flows that all ran to the end.
fn check_flows(r: &serde_json::Value, table: &str, n: usize, what: &str) {
    assert_eq!(u(&r["flow"]["flows"]), n as u64, "{what}");
    let s = &r["summary"];
    let per = s["flows"]["per_flow"].as_array().unwrap_or_else(|| panic!("{what}: no summary.flows"));
    assert_eq!(per.len(), n, "{what}");
    // Totals are the sums of the flows (exactly; the promise is 0.1 %).
    let sum: u64 = per.iter().map(|f| u(&f["rx_bytes"])).sum();
    let total = u(&s["rx_bytes"]);
    assert!(total > 0 && (sum as f64 - total as f64).abs() <= 0.001 * total as f64, "{what}: {sum} vs {total}");
    let gbps: f64 = per.iter().map(|f| f["gbps"].as_f64().unwrap()).sum();
    assert!((gbps - s["gbps"].as_f64().unwrap()).abs() <= 0.001 * gbps, "{what}: {gbps} Gbit/s summed");
    for smp in r["receiver"]["samples"].as_array().unwrap() {
        let fl = smp["flows"].as_array().unwrap();
        assert_eq!(fl.len(), n, "{what}: a sample without its flows");
        assert_eq!(fl.iter().map(|f| u(&f["rx_bytes"])).sum::<u64>(), u(&smp["rx_bytes"]), "{what}");
    }
    // The data paths' own counters: each flow's, and the side's total.
    let flows = r["receiver"]["flows"].as_array().unwrap();
    assert_eq!(flows.len(), n, "{what}");
    let rx_total: u64 = flows.iter().map(|f| u(&f["rx"]["bytes"])).sum();
    assert_eq!(rx_total, u(&r["receiver"]["rx"]["bytes"]), "{what}");
    for f in flows {
        assert!(f.get("ended").is_none(), "{what}: flow ended early: {f}");
        assert!(u(&f["rx"]["bytes"]) > 0 && u(&f["tx"]["bytes"]) == u(&f["rx"]["bytes"]), "{what}: {f}");
    }
    // Fairness is Jain's index over the flows' throughputs, in (1/n, 1].
    let x: Vec<f64> = per.iter().map(|f| f["gbps"].as_f64().unwrap()).collect();
    let jain = x.iter().sum::<f64>().powi(2) / (n as f64 * x.iter().map(|v| v * v).sum::<f64>());
    let got = s["flows"]["fairness"].as_f64().unwrap();
    assert!((got - jain).abs() < 1e-9 && got > 1.0 / n as f64 && got <= 1.0, "{what}: fairness {got}");
    assert!(table.contains(&format!("Jain's fairness index {got:.4}")), "{what}: fairness not printed:\n{table}");
    // Every core any flow touched has its CPU in the summary and a row in the table.
    let cores: Vec<u64> = s["flows"]["cores"].as_array().unwrap().iter().map(|c| u(&c["cpu"])).collect();
    for fc in r["receiver"]["layout"]["flows"].as_array().unwrap() {
        for role in ["app_cpu", "net_cpu", "sender_cpu"] {
            let c = u(&fc[role]);
            assert!(cores.contains(&c), "{what}: core {c} ({role}) not in summary.flows.cores {cores:?}");
            let core_row = |l: &str| {
                ["app", "net", "sender"].iter().any(|p| l.starts_with(p))
                    && l.split_whitespace().nth(1) == Some(c.to_string().as_str())
            };
            assert!(table.lines().any(core_row), "{what}: no row for core {c}:\n{table}");
        }
    }
    for k in 1..=n {
        assert!(
            table.lines().any(|l| l.split_whitespace().next() == Some(&k.to_string())),
            "{what}: no row for flow {k}:\n{table}"
        );
    }
}

#[test]
fn four_flows_on_every_data_path_add_up_with_fairness_and_every_core() {
    need_netns!();
    let before = snapshot();
    for extra in [&[][..], &["--mode", "mmap"], &["--mode", "uring"], &["--tx-mode", "zerocopy"]] {
        let what = format!("--flows 4 {}", extra.join(" "));
        let args = [&["--flows", "4", "--duration", "1", "--warmup", "0.5", "--validate"][..], extra].concat();
        let (r, table) = run(&format!("flows4-{}", extra.last().unwrap_or(&"baseline")), &args);
        check_flows(&r, &table, 4, &what);
        assert_eq!(
            u(&r["receiver"]["rx"]["validated_bytes"]),
            u(&r["receiver"]["rx"]["bytes"]),
            "{what}: not every byte of every flow checked"
        );
    }
    assert_unchanged(&before, "after --flows 4 runs");
}

/// On the veth testbed each flow's receive processing runs on its own net
/// core: XPS puts flow k on tx queue k, veth delivers it to rx queue k, RPS
/// sends that to the flow's core; the socket's SO_INCOMING_CPU says where its
/// packets were processed.
#[test]
fn each_flow_is_processed_on_its_own_net_core() {
    need_netns!();
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    if online < 2 {
        eprintln!("SKIPPED: needs two cores to steer two flows apart");
        return;
    }
    let (r, _) = run("flows-steer", &["--flows", "2", "--app-cpus", "0,1", "--sender-cpus", "1,0", "--duration", "1"]);
    for (k, f) in r["receiver"]["flows"].as_array().unwrap().iter().enumerate() {
        let net = &r["receiver"]["layout"]["flows"][k]["net_cpu"];
        assert_eq!(u(&f["rx_queue"]), k as u64, "flow {}: {f}", k + 1);
        assert_eq!(&f["incoming_cpu"], net, "flow {} was processed elsewhere than its net core: {f}", k + 1);
    }
}

/// The testbed's receiving namespace of the zcbench with `pid`.
fn rx_namespace(pid: u32) -> Option<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|n| n.contains(&format!("{pid}-rx")))
        .map(str::to_string)
}

/// The peer ports of the established connections in `ns`.
fn peer_ports(ns: &str) -> Vec<u16> {
    let out = Command::new("ip").args(["netns", "exec", ns, "ss", "-tnH", "state", "established"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last()?.rsplit(':').next()?.parse().ok())
        .collect()
}

#[test]
fn a_flow_killed_from_outside_is_named_and_the_others_kept() {
    need_netns!();
    let before = snapshot();
    let out = tmpdir("flows-kill");
    let child = spawn(&["--flows", "3", "--duration", "4", "--warmup", "0.5", "--out", out.to_str().unwrap()]);
    let pid = child.id();
    // Wait for the three connections, then destroy one from outside (SOCK_DESTROY through ss -K).
    let t0 = Instant::now();
    let (ns, port) = loop {
        assert!(t0.elapsed() < Duration::from_secs(10), "the three flows never came up");
        if let Some(ns) = rx_namespace(pid) {
            let ports = peer_ports(&ns);
            if ports.len() == 3 {
                break (ns, ports[1]);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(1500));
    let k = Command::new("ip")
        .args(["netns", "exec", &ns, "ss", "-K", "-tn", "state", "established", "dport", "=", &format!(":{port}")])
        .output()
        .unwrap();
    assert!(k.status.success(), "ss -K: {}", text(&k));
    let (code, log, _) = wait_for(child, Duration::from_secs(40));
    assert_eq!(code, Some(0), "{log}");
    let r = only_result(&out);
    let flows = r["receiver"]["flows"].as_array().unwrap();
    let killed: Vec<&serde_json::Value> = flows.iter().filter(|f| f.get("ended").is_some()).collect();
    assert_eq!(killed.len(), 1, "one flow ended early: {flows:?}");
    let dead = killed[0];
    assert!(dead["peer_addr"].as_str().unwrap().ends_with(&format!(":{port}")), "the killed one is named: {dead}");
    assert!(dead["ended"].as_str().unwrap().starts_with("died: "), "{dead}");
    let n = u(&dead["flow"]) as usize;
    assert!(log.contains(&format!("warning: flow {n} ended before the run did")), "{log}");
    // The others ran to the end and are in the figures.
    let per = r["summary"]["flows"]["per_flow"].as_array().unwrap();
    for f in per.iter().filter(|f| u(&f["flow"]) as usize != n) {
        assert!(f.get("ended").is_none() && f["gbps"].as_f64().unwrap() > 0.0, "{f}");
    }
    for f in flows.iter().filter(|f| u(&f["flow"]) as usize != n) {
        assert!(u(&f["rx"]["bytes"]) > 0, "{f}");
    }
    assert_eq!(u(&r["summary"]["flows"]["ended"]), 1);
    let sum: u64 = per.iter().map(|f| u(&f["rx_bytes"])).sum();
    assert_eq!(sum, u(&r["summary"]["rx_bytes"]));
    assert_unchanged(&before, "after a killed flow");
}

/// A study with a `flows` axis runs every case, and its report draws total
/// throughput, busy cores and fairness against the number of flows, and each
/// flow's bars.
#[test]
fn a_study_over_flows_reports_gbps_and_cores_as_flows_grow() {
    need_netns!();
    let dir = tmpdir("flows-study");
    let prof = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/local-flows.toml");
    let study = dir.join("s");
    let o = zcbench(&[
        "study",
        prof.to_str().unwrap(),
        "--out",
        study.to_str().unwrap(),
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--interval",
        "500ms",
        "--repeat",
        "1",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(study.join("summary.json")).unwrap()).unwrap();
    let cases = summary["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6, "{summary}");
    assert!(cases.iter().all(|c| c["status"] == "done"), "{summary}");
    let report = dir.join("report");
    let o = zcbench(&["report", study.to_str().unwrap(), "--out", report.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let section = &md[md.find("Gbit/s and cores as flows grow").expect("no scaling figure")..];
    assert!(!section[..200.min(section.len())].contains("No series differ"), "drawn, not absent:\n{section}");
    for n in ["| 1 |", "| 2 |", "| 4 |"] {
        assert!(section.contains(n), "no row for {n} flows:\n{section}");
    }
    assert!(md.contains("Gbit/s of each flow"), "no per-flow bars");
    for f in ["flows-scaling", "flows-per-flow"] {
        assert!(report.join("figures").join(format!("{f}.svg")).exists(), "figure {f} not written");
    }
}

/// A client's flows reach a server as as many connections; both sides record
/// every flow, the server's receivers on its cores and the client's senders
/// on theirs, and the totals are the flows' sums on both.
#[test]
fn a_client_runs_several_flows_against_a_server() {
    need_netns!();
    let p = NsPair::new("flows", 50);
    let mut srv = Server::start(&p.a, &["--listen", &p.a_ip, "--once"]);
    let out = tmpdir("flows-two-host");
    let o = NsPair::cmd(
        &p.b,
        &[
            "client",
            "--server",
            &p.a_ip,
            "--flows",
            "3",
            "--duration",
            "1",
            "--warmup",
            "0.5",
            "--read-size",
            "1MiB",
            "--validate",
            "--out",
        ],
    )
    .arg(&out)
    .output()
    .unwrap();
    assert!(o.status.success(), "{}\nserver: {}", text(&o), srv.log());
    assert!(srv.child.wait().unwrap().success(), "server --once ends cleanly");
    let r = only_result(&out);
    check_sums(&r);
    for side in ["receiver", "sender"] {
        assert_eq!(r[side]["flows"].as_array().map(Vec::len), Some(3), "{side}: {}", r[side]);
    }
    for k in 0..3 {
        let rx = u(&r["receiver"]["flows"][k]["rx"]["bytes"]);
        assert!(rx > 0 && rx == u(&r["sender"]["flows"][k]["tx"]["bytes"]), "flow {}: sent != received", k + 1);
        assert_eq!(u(&r["receiver"]["flows"][k]["rx"]["validated_bytes"]), rx);
    }
    let per = r["summary"]["flows"]["per_flow"].as_array().unwrap();
    assert_eq!(per.iter().map(|f| u(&f["rx_bytes"])).sum::<u64>(), u(&r["summary"]["rx_bytes"]));
    assert!(r["summary"]["flows"]["fairness"].as_f64().unwrap() > 1.0 / 3.0);
}

/// zcrx with several flows on a NIC needs a queue, an ntuple rule and an
/// interface queue per flow; a server learns the client's ports only at
/// accept, too late for a 5-tuple rule per flow, so a server with --dev
/// refuses it (exit 3) before it changes anything, naming why, and serves on
/// (the ports testbed runs it: tests/nic_flows.rs). (devmem is refused the same way, from its own
/// descriptor, where the kernel has what devmem needs; this host has no
/// udmabuf, so the client refuses devmem first.)
#[test]
fn zcrx_with_several_flows_on_a_nic_is_refused_naming_what_is_missing() {
    need_netns!();
    let p = NsPair::new("flowsdm", 51);
    let srv = Server::start(&p.a, &["--listen", &p.a_ip, "--dev", "zt0"]);
    let out = tmpdir("flows-devmem");
    let o = NsPair::cmd(&p.b, &["client", "--server", &p.a_ip, "--mode", "zcrx", "--flows", "2", "--duration", "1"])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}\nserver: {}", srv.log());
    assert!(
        t.contains("--flows 2 across two hosts")
            && t.contains("ntuple rule for its flow")
            && t.contains("interface queue"),
        "{t}"
    );
    // The server is still there for the next client.
    let o = NsPair::cmd(&p.b, &["client", "--server", &p.a_ip, "--flows", "2", "--duration", "1", "--warmup", "0"])
        .args(["--read-size", "1MiB", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\nserver: {}", text(&o), srv.log());
}

//! Flow steering on NIC ports as a user sets it with ethtool: an ntuple rule
//! (`ethtool -N`) takes a flow to a queue, `ethtool -n` lists it, an RSS
//! indirection table (`ethtool -X`) keeps other flows off that queue, and the
//! kernel's own per-queue counters (qstats, through `zcbench probe --dev`)
//! show where the packets went; deleting the rule sends the flow back to RSS.
//! Then zcbench's own steering (`--steer-queue`): the result names the rule,
//! the table and the queue the flow used, and the journal puts every rule and
//! table back. Runs in the kernel testbed VM on the NIC model's ports (not on
//! stock netdevsim, which has no flow steering) and on a real NIC
//! (scripts/hw-check).

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;

const FLOW_BYTES: usize = 4 << 20;

fn ethtool(ns: &str, args: &[&str]) -> Output {
    PortHosts::cmd(ns, "ethtool", args).output().expect("running ethtool")
}

fn ethtool_ok(ns: &str, args: &[&str]) -> String {
    let o = ethtool(ns, args);
    assert!(o.status.success(), "ethtool {args:?}: {}", text(&o));
    text(&o)
}

/// rx-packets of every rx queue of `dev`, by queue id (the kernel's qstats).
fn rx_packets(ns: &str, dev: &str) -> Vec<u64> {
    let o = PortHosts::cmd(ns, bin(), &["probe", "--dev", dev, "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = &p["devices"][0];
    let qs = d["queues"].as_array().unwrap_or_else(|| panic!("no queues in probe: {}", d["queues_unavailable"]));
    let mut v: Vec<(u64, u64)> = qs
        .iter()
        .filter(|q| q["kind"] == "rx")
        .map(|q| {
            let n = q["counters"]["rx-packets"].as_u64().unwrap_or_else(|| panic!("no rx-packets counter: {q}"));
            (q["id"].as_u64().unwrap(), n)
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

/// One TCP flow of FLOW_BYTES from the sending host to `port` of the receiving one.
fn flow(h: &PortHosts, port: u16) {
    let (a_ip, b) = (h.a_ip.clone(), h.b.clone());
    let l = in_ns(&h.a, || TcpListener::bind((a_ip.as_str(), port)).unwrap());
    let rx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut n = 0;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut buf).unwrap() {
                0 => return n,
                k => n += k,
            }
        }
    });
    let dst = h.a_ip.clone();
    in_ns(&b, || {
        let mut c = TcpStream::connect((dst.as_str(), port)).unwrap();
        c.write_all(&vec![7u8; FLOW_BYTES]).unwrap();
    });
    assert_eq!(rx.join().unwrap(), FLOW_BYTES);
}

/// What each queue received during `f`.
fn counted(h: &PortHosts, dev: &str, f: impl FnOnce()) -> Vec<u64> {
    let before = rx_packets(&h.a, dev);
    f();
    let after = rx_packets(&h.a, dev);
    after.iter().zip(&before).map(|(a, b)| a - b).collect()
}

fn rx_queues(dev: &str) -> u32 {
    std::fs::read_dir(format!("/sys/class/net/{dev}/queues"))
        .map(|d| d.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with("rx-")).count())
        .unwrap_or(0) as u32
}

fn steering_bed() -> Option<Bed> {
    let b = bed()?;
    if b.variant == "stock" {
        eprintln!("SKIPPED: stock netdevsim has no flow steering (ntuple, RSS)");
        return None;
    }
    if !b.placement {
        eprintln!("SKIPPED: steering does not depend on placement; run once, with the NIC model placing");
        return None;
    }
    if rx_queues(&b.rx) < 2 {
        eprintln!("SKIPPED: {} has {} rx queue(s): nothing to steer between", b.rx, rx_queues(&b.rx));
        return None;
    }
    Some(b)
}

#[test]
fn ethtool_rules_and_tables_steer_flows_as_the_counters_show() {
    let Some(b) = steering_bed() else { return };
    let before = snapshot();
    let queues = rx_queues(&b.rx);
    let q = queues - 1;
    {
        let h = PortHosts::new(&b, "steer", 30);
        let dev = b.rx.as_str();
        let ntuple_was = ethtool_ok(&h.a, &["-k", dev]).contains("ntuple-filters: on");
        ethtool_ok(&h.a, &["-K", dev, "ntuple", "on"]);

        // A rule: TCP to port 5401 of the receiver goes to queue q.
        let port = "5401";
        let added = ethtool_ok(
            &h.a,
            &["-N", dev, "flow-type", "tcp4", "dst-ip", &h.a_ip, "dst-port", port, "action", &q.to_string()],
        );
        let id: u32 = added
            .split_whitespace()
            .last()
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no rule id in {added:?}"));
        let listed = ethtool_ok(&h.a, &["-n", dev]);
        assert!(listed.contains(&format!("Filter: {id}")), "{listed}");
        assert!(listed.contains(&format!("Dest port: {port}")), "{listed}");
        assert!(listed.contains(&format!("Action: Direct to queue {q}")), "{listed}");

        // RSS over every queue but q.
        let weights: Vec<String> = (0..queues).map(|i| if i == q { "0" } else { "1" }.to_string()).collect();
        let mut x = vec!["-X", dev, "weight"];
        x.extend(weights.iter().map(String::as_str));
        ethtool_ok(&h.a, &x);
        let table = ethtool_ok(&h.a, &["-x", dev]);
        let entries: Vec<&str> = table
            .lines()
            .take_while(|l| !l.contains("hash key"))
            .filter(|l| l.trim_start().split(':').next().is_some_and(|n| n.trim().parse::<u32>().is_ok()))
            .flat_map(|l| l.split(':').nth(1).unwrap_or("").split_whitespace())
            .collect();
        assert!(!entries.is_empty(), "{table}");
        assert!(!entries.contains(&q.to_string().as_str()), "queue {q} still in the table:\n{table}");

        // The counters: the ruled flow on q, another flow anywhere but q.
        let min = (FLOW_BYTES / 9000) as u64;
        let ruled = counted(&h, dev, || flow(&h, 5401));
        assert!(ruled[q as usize] >= min, "the ruled flow's packets on queue {q}: {ruled:?}");
        assert!(ruled.iter().enumerate().all(|(i, n)| i == q as usize || *n <= 8), "{ruled:?}");
        let hashed = counted(&h, dev, || flow(&h, 5402));
        assert!(hashed[q as usize] <= 8, "RSS kept off queue {q}: {hashed:?}");
        assert!(hashed.iter().sum::<u64>() >= min, "{hashed:?}");

        // The rule deleted: the same flow goes by RSS, so not to q.
        ethtool_ok(&h.a, &["-N", dev, "delete", &id.to_string()]);
        let listed = ethtool_ok(&h.a, &["-n", dev]);
        assert!(!listed.contains(&format!("Filter: {id}")), "{listed}");
        let unruled = counted(&h, dev, || flow(&h, 5401));
        assert!(unruled[q as usize] <= 8, "no rule, RSS off queue {q}: {unruled:?}");
        eprintln!("per-queue rx packets: ruled {ruled:?}, hashed {hashed:?}, rule deleted {unruled:?}");

        ethtool_ok(&h.a, &["-X", dev, "default"]);
        if !ntuple_was {
            ethtool_ok(&h.a, &["-K", dev, "ntuple", "off"]);
        }
    }
    assert_unchanged(&before, "the ethtool steering test");
}

#[test]
fn zcbench_steering_is_recorded_and_put_back() {
    let Some(b) = steering_bed() else { return };
    let before = snapshot();
    let q = rx_queues(&b.rx) - 1;
    let out = tmpdir("nic-steer");
    let o = ports_run(&b, &format!("--steer-queue {q} --validate --duration 1s --warmup 1s"), &[], &out);
    assert!(o.status.success(), "{}", text(&o));
    assert_unchanged(&before, "a steered run (rules and indirection table)");
    let r = only_result(&out);
    let changes: Vec<String> =
        r["receiver"]["changes"].as_array().unwrap().iter().map(|c| c["setting"].as_str().unwrap().into()).collect();
    assert!(changes.iter().any(|c| c.contains("ntuple rule")), "{changes:?}");
    assert!(changes.iter().any(|c| c.contains("RSS indirection table")), "{changes:?}");
    assert_eq!(connection_queue(&r, "data"), Some(u64::from(q)), "{}", r["receiver"]["connections"]);
    let c = queue_counters(&r, u64::from(q));
    assert!(
        c.get("rx-packets").and_then(|v| v.as_u64()).unwrap_or(0) > 0,
        "no packets counted on rx queue {q} in the window: {}\nall queues: {}\n{}",
        r["summary"],
        r["receiver"]["netdev"]["qstats"],
        text(&o)
    );
    assert!(text(&o).contains(&format!("data connection on {}: rx queue {q}", b.rx)), "{}", text(&o));
}

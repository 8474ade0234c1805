//! Two-host mode between two namespaces: the server in one, the client in the other.

mod common;
use common::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn client(p: &NsPair, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    NsPair::cmd(&p.b, &[&["client", "--server", &p.a_ip, "--out", out.to_str().unwrap()], extra].concat())
        .output()
        .unwrap()
}

#[test]
fn client_and_server_write_one_result_with_both_sides() {
    need_netns!();
    let p = NsPair::new("ok", 10);
    let mut srv = Server::start(&p.a, &["--listen", &p.a_ip, "--once"]);
    let out = tmpdir("twohost");
    let o = client(&p, &out, &["--duration", "2s", "--warmup", "1s"]);
    assert!(o.status.success(), "{}\nserver: {}", text(&o), srv.log());
    assert!(srv.child.wait().unwrap().success(), "server --once ends cleanly");
    let r = only_result(&out);
    assert_eq!(r["topology"], "two-host");
    assert_eq!(r["receiver"]["role"], "receiver");
    assert_eq!(r["sender"]["role"], "sender");
    check_sums(&r);
    let rx = r["receiver"]["rx"]["bytes"].as_u64().unwrap();
    assert_eq!(r["sender"]["tx"]["bytes"].as_u64().unwrap(), rx, "every byte sent arrived");
    assert!(r["receiver"]["peer_addr"].as_str().unwrap().starts_with(&p.b_ip));
    assert_eq!(r["receiver"]["samples"].as_array().unwrap().len(), 3);
    // The two ends of one run on one host are not each other's disturbance.
    assert!(r.get("other_zcbench").is_none(), "{}", r["other_zcbench"]);
    // An interval line per server sample, as they came.
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.lines().next().unwrap_or_default().contains("Gbit/s"), "{shown}");
    assert_eq!(shown.lines().filter(|l| l.ends_with("(warm-up)")).count(), 1, "{shown}");
}

#[test]
fn killing_the_server_mid_run_fails_the_client_quickly_and_clearly() {
    need_netns!();
    let p = NsPair::new("kill", 11);
    let mut srv = Server::start(&p.a, &["--listen", &p.a_ip]);
    let out = tmpdir("kill");
    let c = NsPair::cmd(&p.b, &["client", "--server", &p.a_ip, "--duration", "60s", "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    srv.kill(libc::SIGKILL);
    let t0 = Instant::now();
    let o = c.wait_with_output().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(10), "client took {:?} to notice", t0.elapsed());
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("server"), "{t}");
}

fn raw_exchange(p: &NsPair, bytes: &[u8]) -> String {
    in_ns(&p.b, || {
        let mut s = std::net::TcpStream::connect((p.a_ip.as_str(), 5301)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(bytes).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

#[test]
fn garbage_oversize_and_version_mismatch_are_rejected_and_the_server_serves_on() {
    need_netns!();
    let p = NsPair::new("junk", 12);
    let srv = Server::start(&p.a, &["--listen", &p.a_ip]);

    let r = raw_exchange(&p, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.contains("limit"), "HTTP request: {r}");
    let mut huge = (64u32 << 20).to_be_bytes().to_vec();
    huge.extend_from_slice(&[b'{'; 1000]);
    assert!(raw_exchange(&p, &huge).contains("limit"));
    let mut junk = 5u32.to_be_bytes().to_vec();
    junk.extend_from_slice(b"{{{{{");
    assert!(raw_exchange(&p, &junk).contains("not JSON"));
    let hello = br#"{"type":"hello","magic":"zcbench","version":99,"flow":{"future":true}}"#;
    let mut f = (hello.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(hello);
    let r = raw_exchange(&p, &f);
    assert!(r.contains("protocol version mismatch") && r.contains("v99"), "{r}");

    // Still serving.
    let out = tmpdir("after-junk");
    let o = client(&p, &out, &["--duration", "1s", "--warmup", "0s"]);
    assert!(o.status.success(), "{}\nserver: {}", text(&o), srv.log());
    check_sums(&only_result(&out));
}

#[test]
fn client_reports_a_server_of_another_version_clearly() {
    need_netns!();
    let p = NsPair::new("ver", 13);
    // A fake server that answers any hello with a v2 ready.
    let addr = p.a_ip.clone();
    let listener = in_ns(&p.a, || std::net::TcpListener::bind((addr.as_str(), 5301)).unwrap());
    let fake = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).unwrap();
        let reply = br#"{"type":"ready","version":2,"data_port":1,"layout":{}}"#;
        s.write_all(&(reply.len() as u32).to_be_bytes()).unwrap();
        s.write_all(reply).unwrap();
    });
    let out = tmpdir("ver");
    let o = client(&p, &out, &["--duration", "1s"]);
    fake.join().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("protocol version mismatch") && t.contains("v2"), "{t}");
}

#[test]
fn a_client_cannot_ask_for_more_than_the_server_allows() {
    need_netns!();
    let p = NsPair::new("max", 14);
    let _srv = Server::start(&p.a, &["--listen", &p.a_ip, "--max-duration", "5s"]);
    let out = tmpdir("max");
    let o = client(&p, &out, &["--duration", "1m"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--max-duration"));
}

#[test]
fn every_mode_works_across_two_hosts_with_validation() {
    need_netns!();
    let p = NsPair::new("modes", 15);
    let srv = Server::start(&p.a, &["--listen", &p.a_ip]);
    for (rx, tx) in [("mmap", "zerocopy"), ("uring", "uring-zc"), ("baseline", "sendfile"), ("txrx-zc", "")] {
        let out = tmpdir(&format!("th-{rx}"));
        let mut args = vec!["--mode", rx, "--validate", "--duration", "1s", "--warmup", "0s", "--msg-size", "1000003"];
        if !tx.is_empty() {
            args.extend(["--tx-mode", tx]);
        }
        let o = client(&p, &out, &args);
        assert!(o.status.success(), "{rx}/{tx}: {}\nserver: {}", text(&o), srv.log());
        let r = only_result(&out);
        check_sums(&r);
        let bytes = r["receiver"]["rx"]["bytes"].as_u64().unwrap();
        assert_eq!(r["receiver"]["rx"]["validated_bytes"].as_u64(), Some(bytes), "{rx}/{tx}");
        assert_eq!(r["sender"]["tx"]["bytes"].as_u64(), Some(bytes), "{rx}/{tx}");
    }
}

fn in_ns_out(ns: &str, cmd: &[&str]) -> String {
    let o = std::process::Command::new("ip").args([&["netns", "exec", ns][..], cmd].concat()).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn each_side_applies_only_its_own_settings_and_restores_them() {
    need_netns!();
    let p = NsPair::new("set", 14);
    let mtu = |ns: &str, dev: &str| in_ns_out(ns, &["cat", &format!("/sys/class/net/{dev}/mtu")]).trim().to_string();
    let gro = |ns: &str, dev: &str| {
        in_ns_out(ns, &["ethtool", "-k", dev]).lines().any(|l| l.starts_with("generic-receive-offload: on"))
    };
    assert!(!gro(&p.a, "zt0"), "veth starts with GRO off");
    let mut srv = Server::start(
        &p.a,
        &["--listen", &p.a_ip, "--once", "--dev", "zt0", "--mtu", "4148", "--sw-gro", "on", "--channels", "2"],
    );
    // The server's settings hold while it serves; ethtool (not zcbench) reads them back.
    assert_eq!(mtu(&p.a, "zt0"), "4148");
    assert!(gro(&p.a, "zt0"), "ethtool sees SW GRO on");
    let l = in_ns_out(&p.a, &["ethtool", "-l", "zt0"]);
    let current = l.split("Current hardware settings:").nth(1).unwrap_or_default();
    assert!(current.lines().any(|x| x.starts_with("RX:") && x.trim_end().ends_with('2')), "{l}");

    // A receiver setting on the client is refused before anything happens.
    let out = tmpdir("set2h");
    let o = client(&p, &out, &["--hw-gro", "--duration", "1s"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("receiver setting"), "{}", text(&o));

    let o = client(
        &p,
        &out,
        &["--dev", "zt1", "--mtu", "4148", "--big-tcp-tx", "185000", "--duration", "2s", "--warmup", "500ms"],
    );
    assert!(o.status.success(), "{}\nserver: {}", text(&o), srv.log());
    assert!(srv.child.wait().unwrap().success());
    let r = only_result(&out);
    let has = |side: &str, setting: &str, v: &str| {
        r[side]["changes"].as_array().unwrap().iter().any(|c| c["setting"] == setting && c["read_back"] == v)
    };
    assert!(has("receiver", "zt0 mtu", "4148"), "{}", r["receiver"]["changes"]);
    assert!(has("receiver", "zt0 feature rx-gro (generic-receive-offload)", "on"));
    assert!(has("sender", "zt1 gso_max_size", "185000"), "{}", r["sender"]["changes"]);
    assert!(has("sender", "zt1 mtu", "4148"));
    assert!(r["receiver"]["net_steering"].as_str().unwrap().contains("RPS: zt0"), "{}", r["receiver"]["net_steering"]);
    // Both processes have ended: both sides are back.
    assert_eq!(mtu(&p.a, "zt0"), "1500");
    assert_eq!(mtu(&p.b, "zt1"), "1500");
    assert!(!gro(&p.a, "zt0"));
    assert!(in_ns_out(&p.b, &["ip", "-d", "link", "show", "zt1"]).contains("gso_max_size 65536"));
    let l = in_ns_out(&p.a, &["ethtool", "-l", "zt0"]);
    let current = l.split("Current hardware settings:").nth(1).unwrap_or_default();
    assert!(current.lines().any(|x| x.starts_with("RX:") && x.trim_end().ends_with('1')), "{l}");
}

/// A hello as a client sends it, for raw control-port tests.
fn hello(duration_s: f64, read_size: u64) -> Vec<u8> {
    let flow = serde_json::json!({
        "mode": "baseline", "tx_mode": "copy", "duration_s": duration_s, "warmup_s": 0.0, "interval_s": 1.0,
        "msg_size": 65536, "read_size": read_size, "mss": null, "validate": false, "ipv6": false,
        "notes": [], "combined": null
    });
    let body =
        serde_json::to_vec(&serde_json::json!({"type": "hello", "magic": "zcbench", "version": 1, "flow": flow}))
            .unwrap();
    [(body.len() as u32).to_be_bytes().to_vec(), body].concat()
}

fn read_frame(s: &mut std::net::TcpStream) -> serde_json::Value {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn slow_and_crowding_clients_cannot_hold_the_control_port() {
    need_netns!();
    let p = NsPair::new("crowd", 16);
    let srv = Server::start(&p.a, &["--listen", &p.a_ip]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        // One client trickles its hello a byte a second; fifty connect and say nothing.
        let trickle = sc.spawn(|| {
            in_ns(&p.b, || {
                let mut s = std::net::TcpStream::connect((p.a_ip.as_str(), 5301)).unwrap();
                let t0 = Instant::now();
                for b in hello(1.0, 65536) {
                    // (Gives up after 15 s so a failing server does not hold the test for minutes.)
                    let done =
                        stop.load(std::sync::atomic::Ordering::Relaxed) || t0.elapsed() > Duration::from_secs(15);
                    if done || s.write_all(&[b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                t0.elapsed()
            })
        });
        let addr: std::net::SocketAddr = format!("{}:5301", p.a_ip).parse().unwrap();
        let idle: Vec<std::net::TcpStream> = in_ns(&p.b, || {
            (0..50).filter_map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()).collect()
        });
        assert!(idle.len() >= 16, "{} idle connections", idle.len());
        std::thread::sleep(Duration::from_millis(300));
        let out = tmpdir("crowd");
        let t0 = Instant::now();
        let o = client(&p, &out, &["--duration", "1", "--warmup", "0"]);
        let took = t0.elapsed();
        let t = text(&o);
        if o.status.success() {
            assert!(took < Duration::from_secs(5), "its run, started within 2 s, took {took:?}");
        } else {
            assert!(t.contains("busy") && t.contains("try again"), "{t}\nserver: {}", srv.log());
            assert!(took < Duration::from_secs(2), "the busy answer took {took:?}");
        }
        // The trickling client is cut off at the hello deadline, not served for a minute.
        let held = trickle.join().unwrap();
        assert!(held < Duration::from_secs(8), "a trickling hello held its connection for {held:?}");
        drop(idle);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Once they are gone, clients are served again.
        let t0 = Instant::now();
        loop {
            let out = tmpdir("crowd-after");
            let o = client(&p, &out, &["--duration", "1", "--warmup", "0"]);
            if o.status.success() {
                break;
            }
            assert!(text(&o).contains("busy"), "{}", text(&o));
            assert!(t0.elapsed() < Duration::from_secs(10), "still busy: {}", text(&o));
            std::thread::sleep(Duration::from_millis(500));
        }
    });
}

#[test]
fn a_client_whose_data_connection_sends_nothing_cannot_hold_the_server() {
    need_netns!();
    let p = NsPair::new("mute", 17);
    let mut srv = Server::start(&p.a, &["--listen", &p.a_ip, "--max-duration", "10s"]);
    let (reply, took) = in_ns(&p.b, || {
        let mut s = std::net::TcpStream::connect((p.a_ip.as_str(), 5301)).unwrap();
        s.write_all(&hello(3.0, 65536)).unwrap();
        let ready = read_frame(&mut s);
        assert_eq!(ready["type"], "ready", "{ready}");
        let port = ready["data_port"].as_u64().unwrap() as u16;
        let _data = std::net::TcpStream::connect((p.a_ip.as_str(), port)).unwrap();
        let t0 = Instant::now();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        loop {
            let m = read_frame(&mut s);
            if m["type"] != "sample" {
                return (m, t0.elapsed());
            }
        }
    });
    assert_eq!(reply["type"], "error", "{reply}");
    assert!(reply["message"].as_str().unwrap().contains("stalled"), "{reply}");
    assert!(took < Duration::from_secs(10), "the server held on for {took:?}");
    // And it still obeys Ctrl-C at once.
    srv.kill(libc::SIGINT);
    let t0 = Instant::now();
    while srv.child.try_wait().unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(3), "the server ignored SIGINT: {}", srv.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(srv.child.wait().unwrap().code(), Some(130), "{}", srv.log());
}

#[test]
fn a_client_cannot_make_the_server_allocate_what_it_asks() {
    need_netns!();
    let p = NsPair::new("big", 18);
    let srv = Server::start(&p.a, &["--listen", &p.a_ip]);
    let out = tmpdir("big");
    let o = client(&p, &out, &["--read-size", "1GiB", "--duration", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--max-buffer") && text(&o).contains("134217728"), "names the limit: {}", text(&o));
    let status = std::fs::read_to_string(format!("/proc/{}/status", srv.child.id())).unwrap();
    let rss_kb: u64 =
        status.lines().find(|l| l.starts_with("VmRSS:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(rss_kb < 100 << 10, "server RSS {rss_kb} kB after a 1 GiB request");
    // Within the limit, served as before.
    let o = client(&p, &out, &["--read-size", "1MiB", "--duration", "1", "--warmup", "0"]);
    assert!(o.status.success(), "{}", text(&o));
}

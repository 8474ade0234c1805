//! Every receive mode against every transmit mode, with every byte checked, and
//! the zero-copy accounting as the kernel reports it.

mod common;
use common::*;

const RX: &[&str] = &["baseline", "mmap", "uring"];
const TX: &[&str] = &["copy", "zerocopy", "uring-zc", "sendfile"];

fn run(tag: &str, args: &[&str]) -> serde_json::Value {
    let out = tmpdir(tag);
    let o = zcbench(&[args, &["--out", out.to_str().unwrap(), "--quiet"]].concat());
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    let r = only_result(&out);
    check_sums(&r);
    r
}

#[test]
fn every_rx_mode_with_every_tx_mode_delivers_every_byte_intact() {
    need_netns!();
    let before = snapshot();
    for testbed in ["lo", "netns"] {
        for rx in RX {
            for tx in TX {
                let r = run(
                    &format!("m-{testbed}-{rx}-{tx}"),
                    &[
                        "--testbed",
                        testbed,
                        "--mode",
                        rx,
                        "--tx-mode",
                        tx,
                        "--validate",
                        "--duration",
                        "1s",
                        "--warmup",
                        "0s",
                        "--msg-size",
                        "1000003",
                        "--read-size",
                        "1MiB",
                    ],
                );
                let what = format!("{testbed} {rx}/{tx}");
                let rxs = &r["receiver"]["rx"];
                let txs = &r["receiver"]["tx"];
                let bytes = rxs["bytes"].as_u64().unwrap();
                assert!(bytes > 1_000_000, "{what}: only {bytes} bytes");
                assert_eq!(rxs["validated_bytes"].as_u64(), Some(bytes), "{what}: not every byte checked");
                assert_eq!(txs["bytes"].as_u64(), Some(bytes), "{what}: sent != received");
                assert_eq!(r["flow"]["mode"], *rx);
                assert_eq!(r["flow"]["tx_mode"], *tx);
                assert!(
                    rxs["calls"].as_u64().unwrap() > 0 && txs["calls"].as_u64().unwrap() > 0,
                    "{what}: syscalls not counted"
                );
            }
        }
    }
    assert_eq!(snapshot(), before);
}

#[test]
fn mmap_over_loopback_maps_nearly_everything() {
    need_netns!();
    let r = run(
        "mmap-share",
        &["--testbed", "lo", "--mode", "mmap", "--validate", "--duration", "2s", "--warmup", "500ms"],
    );
    let zc = &r["receiver"]["rx"]["zero_copy"];
    let share = zc["zero_copy_share"].as_f64().unwrap();
    assert!(share >= 0.99, "mapped share {share}: {zc}");
    // Large windows, checked to the last byte: the end of the flow (EIO from
    // TCP_ZEROCOPY_RECEIVE) must not be taken for a mapping.
    let rx = &r["receiver"]["rx"];
    assert_eq!(rx["validated_bytes"], rx["bytes"]);

    assert_eq!(r["flow"]["mss"], 4108);
    assert_eq!(r["receiver"]["mss"], 4096, "payload per segment is one page");
    assert!(r["flow"]["notes"][0].as_str().unwrap().contains("TCP_MAXSEG"));
}

#[test]
fn mmap_with_a_copying_sender_reports_the_low_share_honestly() {
    need_netns!();
    // A copying sender's skbs hold compound page frags, which cannot be mapped
    // (unless net.core.high_order_alloc_disable=1); zcbench must say so, not hide it.
    let high_order_off = std::fs::read_to_string("/proc/sys/net/core/high_order_alloc_disable").unwrap_or_default();
    let r = run(
        "mmap-copy",
        &["--testbed", "lo", "--mode", "mmap", "--tx-mode", "copy", "--duration", "1s", "--warmup", "0s"],
    );
    let zc = &r["receiver"]["rx"]["zero_copy"];
    let total = zc["zero_copy_bytes"].as_u64().unwrap() + zc["copied_bytes"].as_u64().unwrap();
    assert_eq!(total, r["receiver"]["rx"]["bytes"].as_u64().unwrap());
    if high_order_off.trim() == "0" {
        assert!(zc["zero_copy_share"].as_f64().unwrap() < 0.5, "{zc}");
    }
}

#[test]
fn txrx_zc_picks_a_real_pair_and_names_it() {
    need_netns!();
    let r = run("txrx", &["--testbed", "lo", "--mode", "txrx-zc", "--validate", "--duration", "1s", "--warmup", "0s"]);
    let combined = r["flow"]["combined"].as_str().unwrap();
    assert!(combined.starts_with("txrx-zc: rx mmap + tx "), "{combined}");
    assert!(combined.ends_with(r["flow"]["tx_mode"].as_str().unwrap()));
    assert!(r["receiver"]["rx"]["zero_copy"]["zero_copy_share"].as_f64().unwrap() >= 0.99);
    assert!(r["receiver"]["tx"]["zero_copy"].is_object());
}

#[test]
fn zero_copy_senders_report_what_the_kernel_says_about_copies() {
    need_netns!();
    for (testbed, tx) in [("lo", "zerocopy"), ("netns", "zerocopy"), ("lo", "uring-zc"), ("netns", "uring-zc")] {
        let testbed = &testbed;
        let r = run(
            &format!("zc-{testbed}-{tx}"),
            &["--testbed", testbed, "--tx-mode", tx, "--duration", "1s", "--warmup", "0s"],
        );

        let tx = &r["receiver"]["tx"];
        let zc = &tx["zero_copy"];
        assert!(tx["completions"].as_u64().unwrap() > 0, "{testbed}: no completions read");
        assert_eq!(tx["unconfirmed_bytes"], 0, "{testbed}: completions missing at the end");
        let sum = zc["zero_copy_bytes"].as_u64().unwrap() + zc["copied_bytes"].as_u64().unwrap();
        assert_eq!(sum, tx["bytes"].as_u64().unwrap(), "{testbed}: every byte accounted by a completion");
        // The receiver is local: the kernel copies and marks it (SO_EE_CODE_ZEROCOPY_COPIED).
        assert_eq!(zc["zero_copy_share"].as_f64(), Some(0.0), "{testbed}: {zc}");
    }
}

#[test]
fn io_uring_modes_refuse_before_changing_anything_when_the_kernel_says_no() {
    need_netns!();
    const KNOB: &str = "/proc/sys/kernel/io_uring_disabled";
    let Ok(old) = std::fs::read_to_string(KNOB) else {
        eprintln!("SKIPPED: this kernel has no {KNOB}");
        return;
    };
    struct Restore(String);
    impl Drop for Restore {
        fn drop(&mut self) {
            std::fs::write(KNOB, self.0.trim()).unwrap();
        }
    }
    let _restore = Restore(old);
    std::fs::write(KNOB, "2").unwrap();
    let before = snapshot();
    for args in [["--mode", "uring"], ["--tx-mode", "uring-zc"], ["--mode", "txrx-zc"]] {
        let out = tmpdir("uring-off");
        let o =
            zcbench(&[&args[..], &["--testbed", "lo", "--duration", "1s", "--out", out.to_str().unwrap()]].concat());

        let t = text(&o);
        if args[1] == "txrx-zc" {
            // The pair falls back to MSG_ZEROCOPY when io_uring is unusable.
            assert!(o.status.success(), "{t}");
            continue;
        }
        assert_eq!(o.status.code(), Some(3), "{args:?}: {t}");
        assert!(t.contains("io_uring"), "{t}");
        assert_eq!(snapshot(), before, "{args:?} changed the host before refusing");
    }
}

/// `--syscall-times` on every data path: each kind the path makes is timed,
/// and the timed calls agree with the path's own counters.
#[test]
fn every_data_path_times_its_syscalls_and_the_counts_agree() {
    need_netns!();
    let calls = |v: &serde_json::Value, name: &str| -> u64 {
        v["syscalls"]["calls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["syscall"] == name)
            .map_or(0, |c| c["calls"].as_u64().unwrap())
    };
    for (rx, tx) in [("baseline", "copy"), ("mmap", "zerocopy"), ("uring", "uring-zc"), ("baseline", "sendfile")] {
        let r = run(
            &format!("sys-{rx}-{tx}"),
            &[
                "--testbed",
                "lo",
                "--mode",
                rx,
                "--tx-mode",
                tx,
                "--syscall-times",
                "--duration",
                "1s",
                "--warmup",
                "0s",
            ],
        );
        let (rxs, txs) = (&r["receiver"]["rx"], &r["receiver"]["tx"]);
        let what = format!("{rx}/{tx}");
        for side in [rxs, txs] {
            let t = &side["syscalls"];
            assert!(
                t["clock_pair_ns"].as_f64().unwrap() > 0.0 && t["overhead_s"].as_f64().unwrap() >= 0.0,
                "{what}: {t}"
            );
            for c in t["calls"].as_array().unwrap() {
                let (n, min, max) =
                    (c["calls"].as_u64().unwrap(), c["min_ns"].as_u64().unwrap(), c["max_ns"].as_u64().unwrap());
                assert!(n > 0 && min <= max && c["total_ns"].as_u64().unwrap() >= max, "{what}: {c}");
            }
        }
        let rx_calls = rxs["calls"].as_u64().unwrap();
        match rx {
            "baseline" => assert_eq!(calls(rxs, "recv"), rx_calls, "{what}"),
            "mmap" => {
                assert_eq!(calls(rxs, "getsockopt") + calls(rxs, "madvise") + calls(rxs, "recv"), rx_calls, "{what}")
            }
            _ => assert_eq!(calls(rxs, "io_uring_enter"), rx_calls, "{what}"),
        }
        let tx_calls = txs["calls"].as_u64().unwrap();
        match tx {
            "copy" => assert_eq!(calls(txs, "send"), tx_calls, "{what}"),
            "sendfile" => assert_eq!(calls(txs, "sendfile"), tx_calls, "{what}"),
            "zerocopy" => {
                assert_eq!(calls(txs, "send"), tx_calls, "{what}");
                assert_eq!(calls(txs, "recvmsg"), txs["errqueue_reads"].as_u64().unwrap(), "{what}");
            }
            _ => assert!(calls(txs, "io_uring_enter") >= tx_calls && tx_calls > 0, "{what}"),
        }
    }
    // Off by default: no table.
    let r = run("sys-off", &["--testbed", "lo", "--duration", "1s", "--warmup", "0s"]);
    assert!(r["receiver"]["rx"]["syscalls"].is_null() && r["receiver"]["tx"]["syscalls"].is_null());
}

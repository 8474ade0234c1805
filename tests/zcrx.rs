//! io_uring zero-copy receive on the local testbeds (loopback, the veth pair):
//! no NIC queue there, so either the kernel registers without a device
//! (ZCRX_REG_NODEV, 7.1+) and the run is a labelled copy path, or zcbench exits 3
//! with the kernel's own refusal and the host exactly as before. Both branches
//! assert what the kernel did; tests/nic_zcrx.rs covers NIC queues.

mod common;
use common::*;

fn zcrx_without_a_device_offered() -> Option<bool> {
    let o = zcbench(&["probe", "--json"]);
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
    let c = p["checks"].as_array()?.iter().find(|c| c["what"] == "zcrx without a device")?;
    Some(c["ok"] == true)
}

#[test]
fn zcrx_over_lo_and_veth_is_a_labelled_copy_path_or_refused_with_the_kernels_reason() {
    need_netns!();
    let offered = zcrx_without_a_device_offered().expect("probe reports zcrx without a device");
    for testbed in ["netns", "lo"] {
        let before = snapshot();
        let out = tmpdir(&format!("zcrx-{testbed}"));
        let args =
            format!("--mode zcrx --testbed {testbed} --validate --duration 1s --warmup 0s --out {}", out.display());
        let o = zcbench(&args.split_whitespace().collect::<Vec<_>>());
        let t = text(&o);
        assert_unchanged(&before, "a zcrx run without a NIC");
        if o.status.success() {
            let r = only_result(&out);
            check_sums(&r);
            let rx = &r["receiver"]["rx"];
            let z = &rx["zcrx"];
            assert_eq!(z["registration"], "nodev", "{testbed}: {z}");
            assert_eq!(rx["validated_bytes"], rx["bytes"]);
            assert_eq!(rx["zero_copy"]["zero_copy_share"], 0.0, "a copy path is not zero copy");
            assert!(t.contains("a COPY path"), "{t}");
            assert_eq!(z["refill"]["returned"], z["data_cqes"]);
            continue;
        }
        assert!(!offered, "{testbed}: the kernel offers ZCRX_REG_NODEV but the run failed: {t}");
        assert_eq!(o.status.code(), Some(3), "{testbed}: {t}");
        // The device's refusal as the kernel gave it, and why there is no copy path.
        assert!(t.contains("IORING_REGISTER_ZCRX_IFQ failed: EOPNOTSUPP"), "{t}");
        assert!(t.contains("ZCRX_REG_NODEV") && t.contains("needs Linux 7.1+"), "{t}");
        assert!(t.contains(if testbed == "lo" { "zcrx on lo (driver" } else { "(driver veth)" }), "{t}");
        assert!(std::fs::read_dir(&out).unwrap().next().is_none(), "no result for a refused run");
    }
}

#[test]
fn zcrx_options_are_checked_before_anything() {
    let before = snapshot();
    for bad in [
        &["--rq-entries", "3"][..],
        &["--cq-entries", "100000"],
        &["--refill-batch", "0"],
        &["--rx-buf-len", "6000"],
        &["--area-size", "1KiB"],
    ] {
        let o = zcbench(&[&["--mode", "zcrx", "--testbed", "lo"][..], bad].concat());
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o));
        assert!(text(&o).contains(bad[0]), "{bad:?}: {}", text(&o));
    }
    assert_unchanged(&before, "refused zcrx options");
}

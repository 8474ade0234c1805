//! Two hosts on NIC ports cabled to each other: `zcbench server --dev RX` in a
//! namespace holding the receiving port, `zcbench client` in another holding
//! the sending port — devmem TCP and io_uring zcrx with every byte validated.
//! The server steers the data connection to the queue it binds and keeps RSS,
//! and with it the control connection, off that queue; the result says which
//! queue each connection used, by the kernel's account (SO_INCOMING_NAPI_ID and
//! netdev queue-get). Runs in the kernel testbed VM on the NIC model (stock
//! netdevsim refuses, as tests/nic_devmem.rs and nic_zcrx.rs show) and on a
//! real NIC (scripts/hw-check).

mod common;
use common::*;

fn two_hosts(mode: &str, tag: &str, net: u8) {
    let Some(b) = bed() else { return };
    if b.variant == "stock" || !b.placement {
        eprintln!(
            "SKIPPED: needs the NIC model placing payload (or a real NIC); stock and placement-off are covered by the ports tests"
        );
        return;
    }
    let before = snapshot();
    let out = tmpdir(&format!("nic-2host-{tag}"));
    {
        let h = PortHosts::new(&b, tag, net);
        let mut srv = Server::start(&h.a, &["--listen", &h.a_ip, "--dev", &b.rx, "--once"]);
        let o = PortHosts::cmd(
            &h.b,
            bin(),
            &[
                "client",
                "--server",
                &h.a_ip,
                "--mode",
                mode,
                "--validate",
                "--duration",
                "2s",
                "--warmup",
                "1s",
                "--msg-size",
                "1MiB",
                "--read-size",
                "1MiB",
                "--out",
                out.to_str().unwrap(),
            ],
        )
        .output()
        .unwrap();
        assert!(o.status.success(), "{}\nserver: {}", text(&o), srv.log());
        assert!(srv.child.wait().unwrap().success(), "server --once ends cleanly: {}", srv.log());
        let r = only_result(&out);
        assert_eq!(r["topology"], "two-host");
        check_sums(&r);
        let rx = &r["receiver"]["rx"];
        let bytes = rx["bytes"].as_u64().unwrap();
        assert!(bytes > 1 << 20, "{rx}");
        assert_eq!(rx["validated_bytes"], bytes, "every byte checked");
        assert_eq!(r["sender"]["tx"]["bytes"], bytes, "every byte sent arrived");
        let share = rx["zero_copy"]["zero_copy_share"].as_f64().unwrap();
        assert!(share >= 0.99, "zero copy {share}: {}", rx["zero_copy"]);
        let bound = match mode {
            "devmem" => rx["devmem"]["rx_queue"].as_u64(),
            _ => rx["zcrx"]["queue"].as_u64(),
        }
        .unwrap_or_else(|| panic!("no bound queue in {rx}"));
        let (data, control) = (connection_queue(&r, "data"), connection_queue(&r, "control"));
        assert_eq!(data, Some(bound), "the data connection on the bound queue: {}", r["receiver"]["connections"]);
        assert!(
            control.is_some_and(|c| c != bound),
            "the control connection off the bound queue {bound}: {}",
            r["receiver"]["connections"]
        );
        eprintln!(
            "two-host {mode} over {}: {bytes} bytes, zero copy {:.1}%, bound queue {bound}, data connection on queue {}, control connection on queue {}",
            b.rx,
            100.0 * share,
            data.unwrap_or(u64::MAX),
            control.unwrap_or(u64::MAX)
        );
    }
    assert_unchanged(&before, &format!("a two-host {mode} run"));
}

#[test]
fn devmem_across_two_hosts() {
    two_hosts("devmem", "dm", 31);
}

#[test]
fn zcrx_across_two_hosts() {
    two_hosts("zcrx", "zc", 32);
}

//! `--mode txrx-zc`: no data path of its own, but a name for the best
//! zero-copy receive and transmit pair this host can run, resolved before the
//! run and named in the result (`flow.combined`).

use super::desc::{Kind, RxModeDesc};
use crate::domain::{RxMode, TxMode};
use crate::sys::features::Feature;

pub const MODE: RxModeDesc = RxModeDesc {
    mode: RxMode::TxrxZc,
    name: "txrx-zc",
    help: "TX+RX zero copy: the best zero-copy receive and transmit pair this host has (named in the result)",
    colour: (0xCC, 0x79, 0xA7),
    kind: Kind::Pair(best_pair),
};

/// Receive with mmap (devmem and zcrx need a capable NIC and a testbed with
/// one, which this choice cannot know), transmit with SEND_ZC when io_uring
/// has it, else MSG_ZEROCOPY.
fn best_pair() -> (RxMode, TxMode) {
    let send_zc = Feature::UringSendZc.check().is_ok();
    (RxMode::Mmap, if send_zc { TxMode::UringZc } else { TxMode::Zerocopy })
}

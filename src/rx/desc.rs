//! The descriptor of a receive mode: everything zcbench knows about a mode
//! besides its data loop, written once, in the mode's own file (`MODE`), and
//! gathered by the registry (`rx::describe`). The struct has no defaults, so a
//! descriptor that leaves a part out does not compile.

use super::path::{Params, RxPath};
use crate::domain::{RxMode, TxMode};
use crate::sys::features::Feature;
use anyhow::Result;

pub struct RxModeDesc {
    pub mode: RxMode,
    /// Its name on the command line and in result files (serde's kebab-case name).
    pub name: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// The colour of its series in reports (Okabe–Ito, distinguishable with the
    /// common colour-vision deficiencies); series are labelled with `name`.
    pub colour: (u8, u8, u8),
    pub kind: Kind,
}

/// A data path of its own, or a name for the best pair of other modes.
pub enum Kind {
    Path(PathDesc),
    /// Resolved before anything runs into a receive mode that is a path and the
    /// transmit mode that goes with it (`txrx-zc`).
    Pair(fn() -> (RxMode, TxMode)),
}

pub struct PathDesc {
    /// What the kernel must have; the pre-run check asks each before any host
    /// change, `probe` lists them, the README's mode table shows them.
    pub needs: &'static [Feature],
    /// What it needs of the receiving device.
    pub queue: Queue,
    /// What several flows (`--flows`) need of the device beyond one flow's
    /// queue, said when a run asks for them ("" when the mode needs no queue).
    pub flows_on_nic: &'static str,
    /// The transmit mode when `--tx-mode` is not given.
    pub default_tx: TxMode,
    /// The TCP_MAXSEG it sets when `--mss` is not given, and why.
    pub mss: Option<(u32, &'static str)>,
    /// Checks its own options (usage errors). Every mode's checks run on every
    /// run: a wrong value is a mistake even when this run's mode ignores it.
    pub check_options: fn(&Params) -> Result<()>,
    /// The lengths of the data buffers `build` maps with `Params::backing`
    /// (what `--hugepages auto` reserves).
    pub huge_buffers: fn(&Params) -> Vec<usize>,
    /// Build the path, allocating its buffers now (not on the data path).
    pub build: fn(&Params) -> Result<Box<dyn RxPath>>,
}

/// What a receive mode needs of the receiving device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// Any socket will do.
    None,
    /// An rx queue of a NIC, prepared (header split, hds-thresh 0, the flow
    /// steered to it) and bound to the mode's memory: `--testbed ports` or
    /// `server --dev`.
    Bound,
    /// Such a queue where there is a NIC; without one (loopback, the veth
    /// testbed, a server without `--dev`) the path runs without a device.
    BoundOnNic,
}

/// `check_options` of a mode without options.
pub fn no_options(_: &Params) -> Result<()> {
    Ok(())
}

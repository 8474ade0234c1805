//! The descriptor of a transmit mode: everything zcbench knows about a mode
//! besides its data loop, written once, in the mode's own file (`MODE`), and
//! gathered by the registry (`tx::describe`). The struct has no defaults, so a
//! descriptor that leaves a part out does not compile.

use super::path::{Params, TxPath};
use crate::sys::features::Feature;
use anyhow::Result;

pub struct TxModeDesc {
    /// Its name on the command line and in result files (serde's kebab-case name).
    pub name: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// What the kernel must have; the pre-run check asks each before any host
    /// change, `probe` lists them, the README's mode table shows them.
    pub needs: &'static [Feature],
    /// Checks its own options (usage errors); every mode's checks run on every run.
    pub check_options: fn(&Params) -> Result<()>,
    /// The period of the stream when the mode repeats one buffer (what
    /// `--validate` checks against); None: the pattern runs on.
    pub period: fn(&Params) -> Option<u64>,
    /// The lengths of the data buffers `build` maps with `Params::backing`
    /// (what `--hugepages auto` reserves).
    pub huge_buffers: fn(&Params) -> Vec<usize>,
    /// Build the path, allocating and filling its buffers now.
    pub build: fn(&Params) -> Result<Box<dyn TxPath>>,
}

/// `check_options` of a mode without options.
pub fn no_options(_: &Params) -> Result<()> {
    Ok(())
}

/// `period` of a mode whose stream is the pattern, never repeated.
pub fn no_period(_: &Params) -> Option<u64> {
    None
}

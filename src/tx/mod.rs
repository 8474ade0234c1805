//! Transmit paths, one file per mode, each with its descriptor (`MODE`, see
//! `desc`) beside its code. This file is the registry: [`describe`] is an
//! exhaustive match, so a new `TxMode` does not compile until it has a
//! descriptor, and everyone else asks the registry instead of matching on modes.

mod copy;
mod desc;
mod devmem;
mod path;
mod sendfile;
mod uring_zc;
mod zerocopy;

pub use desc::TxModeDesc;
pub use path::{Params, TxPath};

use crate::domain::TxMode;
use anyhow::Result;
use clap::builder::PossibleValue;

/// The registry.
pub fn describe(mode: TxMode) -> &'static TxModeDesc {
    match mode {
        TxMode::Copy => &copy::MODE,
        TxMode::Zerocopy => &zerocopy::MODE,
        TxMode::UringZc => &uring_zc::MODE,
        TxMode::Sendfile => &sendfile::MODE,
        TxMode::Devmem => &devmem::MODE,
    }
}

/// Every descriptor, in `--tx-mode`'s order.
pub fn all() -> impl Iterator<Item = &'static TxModeDesc> {
    TxMode::ALL.iter().map(|m| describe(*m))
}

impl clap::ValueEnum for TxMode {
    fn value_variants<'a>() -> &'a [Self] {
        TxMode::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let d = describe(*self);
        Some(PossibleValue::new(d.name).help(d.help))
    }
}

/// Build the transmit path, allocating and filling its buffers now.
pub fn build(p: &Params) -> Result<Box<dyn TxPath>> {
    (describe(p.mode).build)(p)
}

/// 2 MiB huge pages the data buffers of `p` take (`--hugepages auto`).
pub fn huge_pages(p: &Params) -> u32 {
    let maps = (describe(p.mode).huge_buffers)(p);
    maps.iter().map(|l| l.div_ceil(crate::sys::mem::HUGE_PAGE) as u32).sum()
}

/// The period of the stream `p` sends, when it repeats one buffer.
pub fn period(p: &Params) -> Option<u64> {
    (describe(p.mode).period)(p)
}

/// Every transmit mode's option checks.
pub fn check_options(p: &Params) -> Result<()> {
    all().try_for_each(|d| (d.check_options)(p))
}

/// Ask the kernel, before any host change, whether it has what `mode` needs.
pub fn check_kernel(mode: TxMode) -> Result<()> {
    let d = describe(mode);
    let who = format!("tx {}", d.name);
    d.needs.iter().try_for_each(|f| f.require(&who))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::name_of;

    #[test]
    fn every_mode_has_its_own_descriptor_under_its_own_name() {
        for m in TxMode::ALL {
            let d = describe(*m);
            assert_eq!(serde_json::to_string(m).unwrap(), format!("\"{}\"", d.name), "serde and the registry");
            assert_eq!(name_of(m), d.name);
            assert!(!d.help.is_empty() && !d.help.contains('\n'), "{}: one line of help", d.name);
        }
    }
}

//! Receive paths, one file per mode, each with its descriptor (`MODE`, see
//! `desc`) beside its code. This file is the registry: [`describe`] is an
//! exhaustive match, so a new `RxMode` does not compile until it has a
//! descriptor, and everyone else asks the registry — clap (names, help), the
//! checks before a run, the orchestration, `probe` and the reports — instead
//! of matching on modes.

mod baseline;
mod desc;
mod devmem;
mod mmap;
mod path;
mod txrx_zc;
mod uring;
mod zcrx;

pub use desc::{Kind, PathDesc, Queue, RxModeDesc};
pub use path::{Params, RxPath};

use crate::domain::{RxMode, TxMode};
use anyhow::{Result, anyhow};
use clap::builder::PossibleValue;

/// The registry.
pub fn describe(mode: RxMode) -> &'static RxModeDesc {
    match mode {
        RxMode::Baseline => &baseline::MODE,
        RxMode::Mmap => &mmap::MODE,
        RxMode::Uring => &uring::MODE,
        RxMode::Devmem => &devmem::MODE,
        RxMode::Zcrx => &zcrx::MODE,
        RxMode::TxrxZc => &txrx_zc::MODE,
    }
}

/// Every descriptor, in `--mode`'s order.
pub fn all() -> impl Iterator<Item = &'static RxModeDesc> {
    RxMode::ALL.iter().map(|m| describe(*m))
}

/// `mode` as a data path (None: a pair, resolved before anything is built).
pub fn path(mode: RxMode) -> Option<&'static PathDesc> {
    match &describe(mode).kind {
        Kind::Path(p) => Some(p),
        Kind::Pair(_) => None,
    }
}

impl clap::ValueEnum for RxMode {
    fn value_variants<'a>() -> &'a [Self] {
        RxMode::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let d = describe(*self);
        Some(PossibleValue::new(d.name).help(d.help))
    }
}

fn path_of(p: &Params) -> Result<&'static PathDesc> {
    path(p.mode).ok_or_else(|| anyhow!("--mode {} names a pair of modes, chosen before the run", describe(p.mode).name))
}

/// Build the receive path, allocating its buffers now (not on the data path).
pub fn build(p: &Params) -> Result<Box<dyn RxPath>> {
    (path_of(p)?.build)(p)
}

/// 2 MiB huge pages the data buffers of `p` take (`--hugepages auto`).
pub fn huge_pages(p: &Params) -> u32 {
    let maps = path(p.mode).map_or_else(Vec::new, |d| (d.huge_buffers)(p));
    maps.iter().map(|l| l.div_ceil(crate::sys::mem::HUGE_PAGE) as u32).sum()
}

/// Every receive mode's option checks (see `PathDesc::check_options`).
pub fn check_options(p: &Params) -> Result<()> {
    all().filter_map(|d| path(d.mode)).try_for_each(|d| (d.check_options)(p))
}

/// Ask the kernel, before any host change, whether it has what `mode` needs.
pub fn check_kernel(mode: RxMode) -> Result<()> {
    let who = format!("rx {}", describe(mode).name);
    path(mode).map_or(&[][..], |d| d.needs).iter().try_for_each(|f| f.require(&who))
}

/// The transmit mode that goes with `mode` (None for a pair).
pub fn default_tx(mode: RxMode) -> Option<TxMode> {
    path(mode).map(|d| d.default_tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::name_of;

    #[test]
    fn every_mode_has_its_own_descriptor_under_its_own_name() {
        for m in RxMode::ALL {
            let d = describe(*m);
            assert_eq!(d.mode, *m);
            assert_eq!(serde_json::to_string(m).unwrap(), format!("\"{}\"", d.name), "serde and the registry");
            assert_eq!(name_of(m), d.name);
            assert!(!d.help.is_empty() && !d.help.contains('\n'), "{}: one line of help", d.name);
        }
        let colours: Vec<_> = all().map(|d| d.colour).collect();
        assert!(colours.iter().enumerate().all(|(i, c)| !colours[..i].contains(c)), "one colour per mode");
    }

    #[test]
    fn the_pair_resolves_to_paths() {
        for d in all() {
            if let Kind::Pair(pick) = d.kind {
                let (rx, _) = pick();
                assert!(path(rx).is_some(), "{} resolves to {rx:?}, which is not a path", d.name);
            }
        }
        assert_eq!(default_tx(RxMode::Mmap), Some(TxMode::Zerocopy));
    }
}

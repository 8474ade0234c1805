//! Error classes that decide the process exit code.
//!
//! Everything returns `anyhow::Result`; an error that is the user's fault or the
//! host's limitation carries a [`Classified`] somewhere in its chain, and `main`
//! maps that to the documented exit code.

use std::fmt;

/// Exit codes (documented in README and `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// The run failed (1).
    Failed,
    /// Bad command line or input (2).
    Usage,
    /// This host (kernel, NIC, driver) cannot do what was asked (3).
    Unsupported,
}

impl ExitKind {
    pub fn code(self) -> i32 {
        match self {
            ExitKind::Failed => 1,
            ExitKind::Usage => 2,
            ExitKind::Unsupported => 3,
        }
    }
}

#[derive(Debug)]
pub struct Classified {
    pub kind: ExitKind,
    pub msg: String,
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Classified {}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Classified { kind: ExitKind::Usage, msg: msg.into() })
}

pub fn unsupported(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Classified { kind: ExitKind::Unsupported, msg: msg.into() })
}

/// The exit class of an error: the first classified cause wins, else "failed".
pub fn exit_kind(err: &anyhow::Error) -> ExitKind {
    err.chain().find_map(|e| e.downcast_ref::<Classified>()).map(|c| c.kind).unwrap_or(ExitKind::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn classification_survives_context() {
        let e: anyhow::Result<()> = Err(unsupported("no header split"));
        let e = e.context("setting up eth0").unwrap_err();
        assert_eq!(exit_kind(&e), ExitKind::Unsupported);
        let plain = anyhow::anyhow!("boom");
        assert_eq!(exit_kind(&plain), ExitKind::Failed);
        assert_eq!(exit_kind(&usage("x")).code(), 2);
    }
}

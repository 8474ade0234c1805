//! One line of `zcbench probe`: what was checked, whether it is there, and
//! the detail (what the kernel or the device answered).

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

pub fn check(what: &str, ok: bool, detail: impl Into<String>) -> Check {
    Check { what: what.into(), ok, detail: detail.into() }
}

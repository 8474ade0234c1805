//! Setting one line of a sysctl profile: the kernel's answer, whatever it is,
//! turned into the profile line's fault.

use super::{ChangeRecord, Journal, Refused, Target};
use crate::error::usage;
use crate::sys::sysctl::{normalize, stored_as_written};
use anyhow::Result;

impl Journal {
    /// Set one profile entry, the file `path` (in network namespace `ns`, None:
    /// this process's), through this journal. A value the kernel refuses — the write
    /// fails, whatever its errno, or what the kernel then stores is not what was
    /// written — is the profile line's fault, however this kernel says so: a usage
    /// error (exit 2) naming `origin` ("FILE:LINE"). Whatever was changed stays
    /// journalled, and the callers put it back.
    pub fn set_profile_entry(
        &mut self,
        ns: Option<&str>,
        path: &str,
        value: &str,
        origin: &str,
    ) -> Result<ChangeRecord> {
        let target = Target::File { path: path.to_string() };
        let what = target.describe();
        let r = match self.set(ns, target, value) {
            Ok(r) => r,
            Err(e) if e.downcast_ref::<Refused>().is_some() => {
                return Err(usage(format!(
                    "{origin}: {what} = '{value}': the kernel refuses this value ({}); fix or remove the line (everything already changed is put back)",
                    e.root_cause()
                )));
            }
            Err(e) => return Err(e),
        };
        if !stored_as_written(value, &r.read_back) {
            return Err(usage(format!(
                "{origin}: {what} = '{value}': the kernel stores '{}' instead: the value is not what this key takes; fix or remove the line (everything already changed is put back)",
                normalize(&r.read_back)
            )));
        }
        Ok(r)
    }
}

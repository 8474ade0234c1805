//! Presentation: everything here is derived from result files only.

pub mod measure;
pub mod table;

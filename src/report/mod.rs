//! Presentation: everything here is derived from result files only.

pub mod table;

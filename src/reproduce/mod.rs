//! Whole-paper reproductions: one command per result set, each writing its
//! tables, results.json and figures into an output directory.

pub mod lan;
pub mod stats;

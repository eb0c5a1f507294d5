//! Kernel benchmarks behind `advlab bench ...`.

pub mod gemm;
pub mod suite;

//! advlab: adversarial-robustness research on any GPU, in hand-written WGSL
//! kernels driven from Rust through wgpu.

pub mod attack;
pub mod autograd;
pub mod bench;
pub mod certify;
pub mod cli;
pub mod data;
pub mod detect;
pub mod fsutil;
pub mod gpu;
pub mod grid;
pub mod names;
pub mod nn;
pub mod ops;
pub mod report;
pub mod reproduce;
pub mod shard;
pub mod stadv;
pub mod tensor;

pub use gpu::{Gpu, GpuOptions};
pub use tensor::Tensor;

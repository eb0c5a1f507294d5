//! advlab: adversarial-robustness research on any GPU, in hand-written WGSL
//! kernels driven from Rust through wgpu.

pub mod data;
pub mod fsutil;
pub mod autograd;
pub mod bench;
pub mod attack;
pub mod cli;
pub mod report;
pub mod stadv;
pub mod gpu;
pub mod grid;
pub mod nn;
pub mod ops;
pub mod tensor;

pub use gpu::{Gpu, GpuOptions};
pub use tensor::Tensor;

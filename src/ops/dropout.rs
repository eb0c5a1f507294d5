//! Host side of shaders/dropout.wgsl: inverted dropout whose mask comes
//! from a counter-based hash of (seed, element index) on the GPU, so the
//! same seed reproduces the same mask and nothing is uploaded per step.
//! Vary the seed per step (e.g. run seed + step counter).

use std::sync::Arc;

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::ops::elementwise;
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    #[derive(Debug, Default)]
    struct Params for crate::gpu::kernels::DROPOUT_WGSL {
        n: u32,
        seed_lo: u32,
        seed_hi: u32,
        threshold: u32,
        scale: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// Training-mode dropout with drop probability `p` in [0, 1]:
/// (out = x * mask, mask) with mask elements 0 or 1/(1-p).
/// (Eval mode is the identity; don't call this.)
pub fn dropout_forward(gpu: &Arc<Gpu>, x: &Tensor, p: f32, seed: u64) -> (Tensor, Tensor) {
    assert!((0.0..=1.0).contains(&p), "dropout: p = {p} is not in [0, 1]");
    let n = x.len();
    assert!(n <= u32::MAX as usize, "dropout: tensor too large");
    let (threshold, scale) = if p >= 1.0 {
        (u32::MAX, 0.0) // everything dropped
    } else {
        let t = (p as f64 * 4_294_967_296.0).round().min(u32::MAX as f64) as u32;
        (t, 1.0 / (1.0 - p))
    };
    let params = Params {
        n: n as u32,
        seed_lo: seed as u32,
        seed_hi: (seed >> 32) as u32,
        threshold,
        scale,
        ..Default::default()
    };
    let out = gpu.alloc(x.shape());
    let mask = gpu.alloc(x.shape());
    gpu.dispatch(&k::DROPOUT_FORWARD, &params, &[x, &out, &mask], groups_1d(n, 256));
    (out, mask)
}

/// dx = dy * mask.
pub fn dropout_backward(gpu: &Arc<Gpu>, dy: &Tensor, mask: &Tensor) -> Tensor {
    assert_eq!(dy.shape(), mask.shape(), "dropout_backward: dy {:?} != mask {:?}", dy.shape(), mask.shape());
    elementwise::mul(gpu, dy, mask)
}

//! Host side of shaders/lrn.wgsl: local response normalisation across
//! channels with PyTorch's `nn.LocalResponseNorm(size, alpha, beta, k)`
//! semantics (window centred on the channel, zero-padded at the edges,
//! alpha divided by `size`).

use std::sync::Arc;

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    #[derive(Debug, Default)]
    struct Params for crate::gpu::kernels::LRN_WGSL {
        n: u32,
        c: u32,
        hw: u32,
        size: u32,
        alpha: f32,
        beta: f32,
        k: f32,
        _pad: u32,
    }
}

/// `nn.LocalResponseNorm` hyper-parameters (PyTorch defaults: alpha 1e-4,
/// beta 0.75, k 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lrn {
    pub size: usize,
    pub alpha: f32,
    pub beta: f32,
    pub k: f32,
}

impl Lrn {
    pub fn new(size: usize, alpha: f32, beta: f32, k: f32) -> Lrn {
        assert!(size >= 1, "lrn: size must be >= 1");
        Lrn { size, alpha, beta, k }
    }

    /// The window size as the shader's override constant (fixed loop trip counts).
    fn consts(&self) -> [(&'static str, f64); 1] {
        [("SIZE", self.size as f64)]
    }

    fn params(&self, x: &Tensor) -> Params {
        let s = x.shape();
        assert!(s.len() >= 2, "lrn: input must be [N, C, ...], got {s:?}");
        Params {
            n: s[0] as u32,
            c: s[1] as u32,
            hw: s[2..].iter().product::<usize>() as u32,
            size: self.size as u32,
            alpha: self.alpha,
            beta: self.beta,
            k: self.k,
            _pad: 0,
        }
    }
}

/// (y, scale) where scale = k + alpha/size * (sum of squares over the
/// window), saved for the backward pass. Both have x's shape.
pub fn lrn_forward(gpu: &Arc<Gpu>, x: &Tensor, lrn: &Lrn) -> (Tensor, Tensor) {
    let p = lrn.params(x);
    let y = gpu.alloc(x.shape());
    let scale = gpu.alloc(x.shape());
    gpu.dispatch_with(&k::LRN_FORWARD, &lrn.consts(), &p, &[x, &y, &scale], groups_1d(x.len(), 256));
    (y, scale)
}

/// dx from dy, the forward input x, and the forward's (y, scale).
pub fn lrn_backward(gpu: &Arc<Gpu>, dy: &Tensor, x: &Tensor, y: &Tensor, scale: &Tensor, lrn: &Lrn) -> Tensor {
    for (t, what) in [(dy, "dy"), (y, "y"), (scale, "scale")] {
        assert_eq!(t.shape(), x.shape(), "lrn_backward: {what} {:?} != x {:?}", t.shape(), x.shape());
    }
    let p = lrn.params(x);
    let dx = gpu.alloc(x.shape());
    gpu.dispatch_with(&k::LRN_BACKWARD, &lrn.consts(), &p, &[x, dy, y, scale, &dx], groups_1d(x.len(), 256));
    dx
}

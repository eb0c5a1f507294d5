//! Host side of shaders/optim.wgsl.

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    #[derive(Default)]
    struct Params for crate::gpu::kernels::OPTIM_WGSL {
        n: u32,
        _pad: u32,
        lr: f32,
        momentum: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        bc1: f32,
        bc2: f32,
        _pad1: [u32; 3],
    }
}

/// Tensors up to this many elements take `sgd_small` (buffers, no texture
/// copies). ADVLAB_SGD_SMALL overrides it (0: never).
fn small_limit() -> usize {
    static L: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *L.get_or_init(|| std::env::var("ADVLAB_SGD_SMALL").ok().and_then(|v| v.parse().ok()).unwrap_or(16384))
}

/// PyTorch SGD with momentum (dampening 0) and L2 weight decay, in place.
pub fn sgd(gpu: &Gpu, w: &Tensor, g: &Tensor, m: &Tensor, lr: f32, momentum: f32, weight_decay: f32) {
    let n = w.len();
    assert!(g.len() == n && m.len() == n, "sgd: state length mismatch");
    let p = Params { n: n as u32, lr, momentum, weight_decay, ..Default::default() };
    let groups = groups_1d(n.div_ceil(4), 256);
    if n <= small_limit() {
        // w(1), m(3), gb(8)
        gpu.dispatch(&k::OPTIM_SGD_SMALL, &p, &[w, m, g], groups);
    } else {
        // w and m twice: storage to write (1, 3), textures to read (5, 6)
        gpu.dispatch(&k::OPTIM_SGD, &p, &[w, g, m, w, m], groups);
    }
}

/// PyTorch Adam at step `t` (1-based), in place.
#[allow(clippy::too_many_arguments)]
pub fn adam(
    gpu: &Gpu,
    w: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    t: u32,
    lr: f32,
    betas: (f32, f32),
    eps: f32,
    weight_decay: f32,
) {
    let n = w.len();
    assert!(g.len() == n && m.len() == n && v.len() == n, "adam: state length mismatch");
    let p = Params {
        n: n as u32,
        lr,
        momentum: betas.0,
        beta2: betas.1,
        eps,
        weight_decay,
        bc1: 1.0 - betas.0.powi(t as i32),
        bc2: 1.0 - betas.1.powi(t as i32),
        ..Default::default()
    };
    // w, m, v twice: storage to write (1, 3, 4), textures to read (5, 6, 7)
    gpu.dispatch(&k::OPTIM_ADAM, &p, &[w, g, m, v, w, m, v], groups_1d(n.div_ceil(4), 256));
}

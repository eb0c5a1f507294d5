//! Host side of shaders/warp.wgsl: the stAdv bilinear flow warp (SPEC §4),
//! its two backward passes, and its autograd op.
//!
//! Images are [N, C, H, W] (any C), flows [N, 2, H, W] with channel 0 the
//! vertical (row) shift and channel 1 the horizontal (column) shift; output
//! pixel (i, j) samples the input at (i + r0, j + r1), clamped to the image.

use std::sync::Arc;

use crate::autograd::{Graph, Var};
use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    struct Params for crate::gpu::kernels::WARP_WGSL {
        n: u32,
        c: u32,
        h: u32,
        w: u32,
    }
}

/// (N, C, H, W) of an image batch, checked against its flow.
fn geometry(img_shape: &[usize], flow: &Tensor) -> Params {
    assert_eq!(img_shape.len(), 4, "warp: images must be [N, C, H, W], got {img_shape:?}");
    let (n, c, h, w) = (img_shape[0], img_shape[1], img_shape[2], img_shape[3]);
    assert_eq!(flow.shape(), &[n, 2, h, w], "warp: flow must be [N, 2, H, W] = [{n}, 2, {h}, {w}]");
    assert!(h >= 2 && w >= 2, "warp: images must be at least 2×2, got {h}×{w}");
    Params { n: n as u32, c: c as u32, h: h as u32, w: w as u32 }
}

/// The warped images [N, C, H, W].
pub fn forward(gpu: &Arc<Gpu>, img: &Tensor, flow: &Tensor) -> Tensor {
    let out = gpu.alloc(img.shape());
    forward_into(gpu, img, flow, &out);
    out
}

pub fn forward_into(gpu: &Gpu, img: &Tensor, flow: &Tensor, out: &Tensor) {
    let p = geometry(img.shape(), flow);
    assert_eq!(out.len(), img.len(), "warp: output length");
    let pixels = (p.n * p.h * p.w) as usize;
    gpu.dispatch(&k::WARP_FORWARD, &p, &[img, flow, out], groups_1d(pixels, 64));
}

/// d loss / d flow [N, 2, H, W] from `dout` = d loss / d warped [N, C, H, W].
/// The clamp passes the gradient at the inclusive image bounds; at integer
/// sampling coordinates the result is the one-sided (forward) difference.
pub fn backward_flow(gpu: &Arc<Gpu>, img: &Tensor, flow: &Tensor, dout: &Tensor) -> Tensor {
    let p = geometry(img.shape(), flow);
    assert_eq!(dout.shape(), img.shape(), "warp backward: gradient shape");
    let out = gpu.alloc(flow.shape());
    let pixels = (p.n * p.h * p.w) as usize;
    gpu.dispatch(&k::WARP_GRAD_FLOW, &p, &[img, flow, dout, &out], groups_1d(pixels, 64));
    out
}

/// d loss / d img [N, C, H, W] from `dout` = d loss / d warped [N, C, H, W].
/// The adjoint of the sampling, computed as a deterministic gather over a
/// window of ±(ceil(max |flow|) + 1) pixels (whole image at worst).
pub fn backward_image(gpu: &Arc<Gpu>, flow: &Tensor, dout: &Tensor) -> Tensor {
    let p = geometry(dout.shape(), flow);
    let ext = gpu.alloc(&[p.n as usize, 2]);
    gpu.dispatch(&k::WARP_EXTENT, &p, &[flow, &ext], groups_1d(p.n as usize, 64));
    let out = gpu.alloc(dout.shape());
    let threads = (p.n * p.c.div_ceil(4) * p.h * p.w) as usize;
    gpu.dispatch(&k::WARP_GRAD_IMAGE, &p, &[flow, dout, &out, &ext], groups_1d(threads, 64));
    out
}

/// Autograd: warped = warp(img, flow), differentiable in both inputs
/// (each backward pass runs only when its input needs a gradient).
pub fn warp(g: &mut Graph, img: Var, flow: Var) -> Var {
    let (it, ft) = (g.value(img).clone(), g.value(flow).clone());
    let out = forward(g.gpu(), &it, &ft);
    g.op(
        &[img, flow],
        out,
        Box::new(move |gpu, d, needs| {
            let di = needs[0].then(|| backward_image(gpu, &ft, d));
            let df = needs[1].then(|| backward_flow(gpu, &it, &ft, d));
            vec![di, df]
        }),
    )
}

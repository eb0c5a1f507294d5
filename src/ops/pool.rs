//! Host side of shaders/pool.wgsl: 2-D max and average pooling over NCHW,
//! any kernel / stride / zero padding (PyTorch semantics, `ceil_mode=False`).

use std::sync::Arc;

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::ops::conv2d::out_size;
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    #[derive(Debug, Default)]
    struct Params for crate::gpu::kernels::POOL_WGSL {
        planes: u32,
        h: u32,
        w: u32,
        oh: u32,
        ow: u32,
        kh: u32,
        kw: u32,
        sh: u32,
        sw: u32,
        ph: u32,
        pw: u32,
        mode: u32,
    }
}

const MAX: u32 = 0;
const AVG_INCLUDE_PAD: u32 = 1;
const AVG_EXCLUDE_PAD: u32 = 2;

/// Window geometry of one pooling layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub pad: (usize, usize),
}

impl Pool2d {
    pub fn new(kernel: (usize, usize), stride: (usize, usize), pad: (usize, usize)) -> Pool2d {
        assert!(
            2 * pad.0 <= kernel.0 && 2 * pad.1 <= kernel.1,
            "pool: padding {pad:?} must be at most half the kernel {kernel:?}"
        );
        Pool2d { kernel, stride, pad }
    }

    /// Square window `k`, stride `s`, padding `p`.
    pub fn square(k: usize, s: usize, p: usize) -> Pool2d {
        Pool2d::new((k, k), (s, s), (p, p))
    }

    /// [N, C, OH, OW] for an input of shape [N, C, H, W].
    pub fn out_shape(&self, x_shape: &[usize]) -> [usize; 4] {
        assert_eq!(x_shape.len(), 4, "pool: input must be [N,C,H,W], got {x_shape:?}");
        [
            x_shape[0],
            x_shape[1],
            out_size(x_shape[2], self.kernel.0, self.stride.0, self.pad.0),
            out_size(x_shape[3], self.kernel.1, self.stride.1, self.pad.1),
        ]
    }

    /// Override constants of `forward`: the window.
    fn forward_consts(&self) -> [(&'static str, f64); 2] {
        [("KH", self.kernel.0 as f64), ("KW", self.kernel.1 as f64)]
    }

    /// Override constants of `backward`: the most windows that contain one
    /// input row / column, ceil(k / s).
    fn backward_consts(&self) -> [(&'static str, f64); 2] {
        [("NWH", self.kernel.0.div_ceil(self.stride.0) as f64), ("NWW", self.kernel.1.div_ceil(self.stride.1) as f64)]
    }

    /// `backward_row4`'s constants: NWH as `backward`, and NVW, the most
    /// windows that touch 4 consecutive elements of a row, ceil((kw + 3) / sw).
    fn backward_row4_consts(&self) -> [(&'static str, f64); 2] {
        [
            ("NWH", self.kernel.0.div_ceil(self.stride.0) as f64),
            ("NVW", (self.kernel.1 + 3).div_ceil(self.stride.1) as f64),
        ]
    }

    /// The backward pass into dx [x_shape] from dy (and the argmax `idx`
    /// for max pooling): `backward_row4` when the planes' width is a
    /// multiple of 4 (each invocation's 4 elements in one row), else
    /// `backward`.
    fn backward(&self, gpu: &Arc<Gpu>, x_shape: &[usize], mode: u32, dy: &Tensor, idx: &Tensor) -> Tensor {
        let dx = gpu.alloc(x_shape);
        let p = self.params(x_shape, mode);
        let groups = groups_1d(dx.len().div_ceil(4), 64);
        if x_shape[3].is_multiple_of(4) && !row4_disabled() {
            gpu.dispatch_with(&k::POOL_BACKWARD_ROW4, &self.backward_row4_consts(), &p, &[dy, idx, &dx], groups);
        } else {
            gpu.dispatch_with(&k::POOL_BACKWARD, &self.backward_consts(), &p, &[dy, idx, &dx], groups);
        }
        dx
    }

    fn params(&self, x_shape: &[usize], mode: u32) -> Params {
        let o = self.out_shape(x_shape);
        Params {
            planes: (x_shape[0] * x_shape[1]) as u32,
            h: x_shape[2] as u32,
            w: x_shape[3] as u32,
            oh: o[2] as u32,
            ow: o[3] as u32,
            kh: self.kernel.0 as u32,
            kw: self.kernel.1 as u32,
            sh: self.stride.0 as u32,
            sw: self.stride.1 as u32,
            ph: self.pad.0 as u32,
            pw: self.pad.1 as u32,
            mode,
        }
    }
}

/// Max pooling: (out [N,C,OH,OW], argmax index ih*W+iw into each input
/// plane, as PyTorch's `return_indices=True`, stored as f32 (exact: planes
/// are far below 2^24 elements) so the backward reads it as a texture).
pub fn max_pool2d_forward(gpu: &Arc<Gpu>, x: &Tensor, pool: &Pool2d) -> (Tensor, Tensor) {
    let shape = pool.out_shape(x.shape());
    let out = gpu.alloc(&shape);
    let idx = gpu.alloc(&shape);
    let p = pool.params(x.shape(), MAX);
    assert!(x.shape()[2] * x.shape()[3] < 1 << 24, "max_pool2d: planes of 2^24 elements or more");
    gpu.dispatch_with(&k::POOL_FORWARD, &pool.forward_consts(), &p, &[x, &out, &idx], groups_1d(out.len(), 64));
    (out, idx)
}

/// dx [x_shape] from dy and the argmax of `max_pool2d_forward`; correct for
/// overlapping windows (a gather over input positions, no atomics).
pub fn max_pool2d_backward(gpu: &Arc<Gpu>, dy: &Tensor, idx: &Tensor, x_shape: &[usize], pool: &Pool2d) -> Tensor {
    let shape = pool.out_shape(x_shape);
    let n: usize = shape.iter().product();
    assert_eq!(dy.len(), n, "max_pool2d_backward: dy {:?} != {shape:?}", dy.shape());
    assert_eq!(idx.len(), n, "max_pool2d_backward: indices {:?} != {shape:?}", idx.shape());
    pool.backward(gpu, x_shape, MAX, dy, idx)
}

/// Average pooling. `count_include_pad` as PyTorch (its default is true:
/// divide by kh*kw; false: by the number of in-bounds elements).
pub fn avg_pool2d_forward(gpu: &Arc<Gpu>, x: &Tensor, pool: &Pool2d, count_include_pad: bool) -> Tensor {
    let shape = pool.out_shape(x.shape());
    let out = gpu.alloc(&shape);
    let mode = if count_include_pad { AVG_INCLUDE_PAD } else { AVG_EXCLUDE_PAD };
    let p = pool.params(x.shape(), mode);
    // idx_out is not written in average mode: bind a 1-element stand-in.
    let dummy = gpu.alloc(&[1]);
    gpu.dispatch_with(&k::POOL_FORWARD, &pool.forward_consts(), &p, &[x, &out, &dummy], groups_1d(out.len(), 64));
    out
}

pub fn avg_pool2d_backward(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    x_shape: &[usize],
    pool: &Pool2d,
    count_include_pad: bool,
) -> Tensor {
    let shape = pool.out_shape(x_shape);
    assert_eq!(dy.len(), shape.iter().product::<usize>(), "avg_pool2d_backward: dy {:?} != {shape:?}", dy.shape());
    let mode = if count_include_pad { AVG_INCLUDE_PAD } else { AVG_EXCLUDE_PAD };
    // idx_in is not read in average mode: a cached 1-element constant stands
    // in (binding dy would copy it into a texture a second time).
    let unused_idx = gpu.constant(&[0.0], &[1]);
    pool.backward(gpu, x_shape, mode, dy, &unused_idx)
}

/// `ADVLAB_POOL_ROW4=0` turns `backward_row4` off (comparing it against
/// `backward` on one machine; the tests reach both through their shapes).
fn row4_disabled() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| std::env::var("ADVLAB_POOL_ROW4").as_deref() == Ok("0"))
}

//! Host side of shaders/gemm.wgsl: C = op(A) op(B) (+ bias) (+ C).

use std::sync::Arc;

use crate::gpu::{kernels as k, Gpu};
use crate::tensor::Tensor;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    flags: u32,
    a_si: u32,
    a_sk: u32,
    b_sk: u32,
    b_sj: u32,
}

/// Which operands are transposed. A is [M,K] (or [K,M] when `ta`), B is
/// [K,N] (or [N,K] when `tb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trans {
    pub ta: bool,
    pub tb: bool,
}

pub const NN: Trans = Trans { ta: false, tb: false };
pub const NT: Trans = Trans { ta: false, tb: true };
pub const TN: Trans = Trans { ta: true, tb: false };

fn dims2(t: &Tensor, what: &str) -> (usize, usize) {
    let s = t.shape();
    assert_eq!(s.len(), 2, "gemm: {what} must be 2-D, got {s:?}");
    (s[0], s[1])
}

/// C = op(A) op(B) [+ bias broadcast over rows] [+ C if `accumulate`].
pub fn gemm_into(gpu: &Gpu, a: &Tensor, b: &Tensor, t: Trans, bias: Option<&Tensor>, accumulate: bool, c: &Tensor) {
    let (ar, ac) = dims2(a, "A");
    let (br, bc) = dims2(b, "B");
    let (m, ka) = if t.ta { (ac, ar) } else { (ar, ac) };
    let (kb, n) = if t.tb { (bc, br) } else { (br, bc) };
    assert_eq!(ka, kb, "gemm: inner dimensions differ: A {:?} B {:?} {t:?}", a.shape(), b.shape());
    assert_eq!(c.len(), m * n, "gemm: C has {} elements, expected {m}x{n}", c.len());
    if let Some(bias) = bias {
        assert_eq!(bias.len(), n, "gemm: bias length {} != N {n}", bias.len());
    }
    let p = Params {
        m: m as u32,
        n: n as u32,
        k: ka as u32,
        flags: bias.is_some() as u32 | (accumulate as u32) << 1,
        a_si: if t.ta { 1 } else { ac as u32 },
        a_sk: if t.ta { ac as u32 } else { 1 },
        b_sk: if t.tb { 1 } else { bc as u32 },
        b_sj: if t.tb { bc as u32 } else { 1 },
    };
    let bias = bias.unwrap_or(a);
    let groups = [(n as u32).div_ceil(16), (m as u32).div_ceil(16), 1];
    gpu.dispatch(&k::GEMM_MATMUL_NAIVE, &p, &[a, b, bias, c], groups);
}

pub fn gemm(gpu: &Arc<Gpu>, a: &Tensor, b: &Tensor, t: Trans, bias: Option<&Tensor>) -> Tensor {
    let m = if t.ta { a.shape()[1] } else { a.shape()[0] };
    let n = if t.tb { b.shape()[0] } else { b.shape()[1] };
    let c = gpu.alloc(&[m, n]);
    gemm_into(gpu, a, b, t, bias, false, &c);
    c
}

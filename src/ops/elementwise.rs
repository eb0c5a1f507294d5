//! Host side of shaders/elementwise.wgsl.

use std::sync::Arc;

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    struct Params for crate::gpu::kernels::ELEMENTWISE_WGSL {
        n: u32,
        mode: u32,
        a: f32,
        b: f32,
    }
}

/// Functions of `unary` (the `mode` uniform).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Unary {
    Affine = 0,
    Relu = 1,
    Sigmoid = 2,
    Tanh = 3,
    Sign = 4,
    Clamp = 5,
    Abs = 6,
    Square = 7,
    /// out[i] = a * x[0]
    Broadcast = 8,
}

fn params(n: usize, mode: u32, a: f32, b: f32) -> Params {
    Params { n: n as u32, mode, a, b }
}

/// out = f(x). `a`, `b` parameterise Affine (a*x+b) and Clamp ([a,b]).
pub fn unary_into(gpu: &Gpu, f: Unary, x: &Tensor, a: f32, b: f32, out: &Tensor) {
    let n = out.len();
    if f != Unary::Broadcast {
        assert_eq!(x.len(), n, "unary {f:?}: length mismatch");
    }
    gpu.dispatch(&k::ELEMENTWISE_UNARY, &params(n, f as u32, a, b), &[x, out], groups_1d(n.div_ceil(4), 256));
}

pub fn unary(gpu: &Arc<Gpu>, f: Unary, x: &Tensor, a: f32, b: f32) -> Tensor {
    let out = gpu.alloc(x.shape());
    unary_into(gpu, f, x, a, b, &out);
    out
}

pub fn relu(gpu: &Arc<Gpu>, x: &Tensor) -> Tensor {
    unary(gpu, Unary::Relu, x, 0.0, 0.0)
}

pub fn scale(gpu: &Arc<Gpu>, x: &Tensor, a: f32) -> Tensor {
    unary(gpu, Unary::Affine, x, a, 0.0)
}

pub fn sign(gpu: &Arc<Gpu>, x: &Tensor) -> Tensor {
    unary(gpu, Unary::Sign, x, 0.0, 0.0)
}

pub fn clamp(gpu: &Arc<Gpu>, x: &Tensor, lo: f32, hi: f32) -> Tensor {
    unary(gpu, Unary::Clamp, x, lo, hi)
}

/// dx = dy * f'(.) for Relu (x = forward input), Sigmoid and Tanh (x = forward output).
pub fn unary_grad(gpu: &Arc<Gpu>, f: Unary, x: &Tensor, dy: &Tensor) -> Tensor {
    assert!(matches!(f, Unary::Relu | Unary::Sigmoid | Unary::Tanh), "no gradient kernel for {f:?}");
    assert_eq!(x.len(), dy.len(), "unary_grad {f:?}: length mismatch");
    let out = gpu.alloc(x.shape());
    let n = out.len();
    gpu.dispatch(
        &k::ELEMENTWISE_UNARY_GRAD,
        &params(n, f as u32, 0.0, 0.0),
        &[x, dy, &out],
        groups_1d(n.div_ceil(4), 256),
    );
    out
}

/// Functions of `binary`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Binary {
    /// a*x + b*y
    Lincomb = 0,
    Mul = 1,
    Max = 2,
    Min = 3,
}

pub fn binary_into(gpu: &Gpu, f: Binary, x: &Tensor, y: &Tensor, a: f32, b: f32, out: &Tensor) {
    let n = out.len();
    assert!(
        x.len() == n && y.len() == n,
        "binary {f:?}: length mismatch {:?} {:?} -> {:?}",
        x.shape(),
        y.shape(),
        out.shape()
    );
    gpu.dispatch(&k::ELEMENTWISE_BINARY, &params(n, f as u32, a, b), &[x, y, out], groups_1d(n.div_ceil(4), 256));
}

pub fn binary(gpu: &Arc<Gpu>, f: Binary, x: &Tensor, y: &Tensor, a: f32, b: f32) -> Tensor {
    let out = gpu.alloc(x.shape());
    binary_into(gpu, f, x, y, a, b, &out);
    out
}

/// a*x + b*y
pub fn lincomb(gpu: &Arc<Gpu>, x: &Tensor, a: f32, y: &Tensor, b: f32) -> Tensor {
    binary(gpu, Binary::Lincomb, x, y, a, b)
}

pub fn add(gpu: &Arc<Gpu>, x: &Tensor, y: &Tensor) -> Tensor {
    lincomb(gpu, x, 1.0, y, 1.0)
}

pub fn mul(gpu: &Arc<Gpu>, x: &Tensor, y: &Tensor) -> Tensor {
    binary(gpu, Binary::Mul, x, y, 1.0, 1.0)
}

/// out += a * x, in place.
pub fn axpy(gpu: &Gpu, a: f32, x: &Tensor, out: &Tensor) {
    let n = out.len();
    assert_eq!(x.len(), n, "axpy: length mismatch");
    gpu.dispatch(&k::ELEMENTWISE_AXPY, &params(n, 0, a, 0.0), &[x, out], groups_1d(n.div_ceil(4), 256));
}

//! Host side of shaders/reduce.wgsl.

use std::sync::Arc;

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    struct Params for crate::gpu::kernels::REDUCE_WGSL {
        rows: u32,
        cols: u32,
        scale: f32,
        chunk: u32,
    }
}

/// Terms one thread sums. llvmpipe ends a shader loop after 65,535
/// iterations without an error, so longer sums run as chunk partials and a
/// second pass; below this, one pass in the original order (bit-identical).
pub const CHUNK: usize = 32_768;

fn chunking(len: usize) -> (u32, usize) {
    let chunk = len.clamp(1, CHUNK);
    (chunk as u32, len.div_ceil(chunk).max(1))
}

fn rows_cols(x: &Tensor) -> (usize, usize) {
    let s = x.shape();
    assert!(!s.is_empty(), "reduce: scalar input");
    let cols = *s.last().unwrap();
    (x.len() / cols.max(1), cols)
}

/// [R, C] -> [R]: scale * row sums (the last axis is reduced).
pub fn sum_rows(gpu: &Arc<Gpu>, x: &Tensor, scale: f32) -> Tensor {
    let (rows, cols) = rows_cols(x);
    let (chunk, nch) = chunking(cols);
    let out = gpu.alloc(&[rows * nch]);
    let p = Params { rows: rows as u32, cols: cols as u32, scale, chunk };
    gpu.dispatch(&k::REDUCE_SUM_ROWS, &p, &[x, &out], groups_1d(rows * nch, 64));
    if nch == 1 {
        out
    } else {
        sum_rows(gpu, &out.reshape(&[rows, nch]), 1.0)
    }
}

/// [R, C] -> [C]: scale * column sums (all but the last axis are reduced).
pub fn sum_cols(gpu: &Arc<Gpu>, x: &Tensor, scale: f32) -> Tensor {
    let (_, cols) = rows_cols(x);
    let out = gpu.alloc(&[cols]);
    sum_cols_into(gpu, x, scale, &out);
    out
}

pub fn sum_cols_into(gpu: &Arc<Gpu>, x: &Tensor, scale: f32, out: &Tensor) {
    let (rows, cols) = rows_cols(x);
    assert_eq!(out.len(), cols, "sum_cols: output length");
    let (chunk, nch) = chunking(rows);
    let p = Params { rows: rows as u32, cols: cols as u32, scale, chunk };
    if nch == 1 {
        gpu.dispatch(&k::REDUCE_SUM_COLS, &p, &[x, out], groups_1d(cols, 64));
    } else {
        let partial = gpu.alloc(&[nch, cols]);
        gpu.dispatch(&k::REDUCE_SUM_COLS, &p, &[x, &partial], groups_1d(nch * cols, 64));
        sum_cols_into(gpu, &partial, 1.0, out);
    }
}

/// Sum of all elements times `scale`, as a [1] tensor.
pub fn sum_all(gpu: &Arc<Gpu>, x: &Tensor, scale: f32) -> Tensor {
    sum_rows(gpu, &x.reshape(&[1, x.len()]), scale)
}

/// [R, C] -> (max [R], argmax [R] as u32).
pub fn max_rows(gpu: &Arc<Gpu>, x: &Tensor) -> (Tensor, Tensor) {
    let (rows, cols) = rows_cols(x);
    let out = gpu.alloc(&[rows]);
    let idx = gpu.alloc(&[rows]);
    let p = Params { rows: rows as u32, cols: cols as u32, scale: 1.0, chunk: cols.max(1) as u32 };
    gpu.dispatch(&k::REDUCE_MAX_ROWS, &p, &[x, &out, &idx], groups_1d(rows, 64));
    (out, idx)
}

/// Row-wise argmax read back to the host.
pub fn argmax_rows(gpu: &Arc<Gpu>, x: &Tensor) -> Vec<u32> {
    let (_, idx) = max_rows(gpu, x);
    gpu.read_u32(&idx)
}

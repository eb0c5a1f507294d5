//! Host side of shaders/softmax_xent.wgsl.

use std::sync::Arc;

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    struct Params for crate::gpu::kernels::SOFTMAX_XENT_WGSL {
        batch: u32,
        classes: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

fn params(logits: &Tensor, labels: &Tensor) -> (usize, usize, Params) {
    let s = logits.shape();
    assert_eq!(s.len(), 2, "softmax_xent: logits must be [B, K], got {s:?}");
    assert_eq!(labels.len(), s[0], "softmax_xent: {} labels for batch {}", labels.len(), s[0]);
    (s[0], s[1], Params { batch: s[0] as u32, classes: s[1] as u32, _pad0: 0, _pad1: 0 })
}

/// Per-row loss [B] and softmax probabilities [B, K]. `labels` holds u32.
pub fn forward(gpu: &Arc<Gpu>, logits: &Tensor, labels: &Tensor) -> (Tensor, Tensor) {
    let (b, _, p) = params(logits, labels);
    let probs = gpu.alloc(logits.shape());
    let loss = gpu.alloc(&[b]);
    gpu.dispatch(&k::SOFTMAX_XENT_FORWARD, &p, &[logits, labels, &probs, &loss], groups_1d(b, 64));
    (loss, probs)
}

/// dlogits[b, k] = dloss[b] * (probs[b, k] - onehot(labels[b])[k]).
pub fn backward(gpu: &Arc<Gpu>, probs: &Tensor, labels: &Tensor, dloss: &Tensor) -> Tensor {
    let (b, kk, p) = params(probs, labels);
    assert_eq!(dloss.len(), b, "softmax_xent backward: dloss length");
    let dz = gpu.alloc(probs.shape());
    gpu.dispatch(&k::SOFTMAX_XENT_BACKWARD, &p, &[labels, probs, dloss, &dz], groups_1d(b * kk, 64));
    dz
}

/// acc[0] += number of rows of `logits` whose argmax equals the label
/// (accuracy without a read-back per batch).
pub fn count_correct(gpu: &Arc<Gpu>, logits: &Tensor, labels: &Tensor, acc: &Tensor) {
    let (_, _, p) = params(logits, labels);
    gpu.dispatch(&k::SOFTMAX_XENT_COUNT_CORRECT, &p, &[logits, labels, acc], [1, 1, 1]);
}

fn soft_params(logits: &Tensor, q: &Tensor) -> (usize, usize, Params) {
    let s = logits.shape();
    assert_eq!(s.len(), 2, "softmax_xent_soft: logits must be [B, K], got {s:?}");
    assert_eq!(q.len(), s[0] * s[1], "softmax_xent_soft: targets {:?} for logits {s:?}", q.shape());
    (s[0], s[1], Params { batch: s[0] as u32, classes: s[1] as u32, _pad0: 0, _pad1: 0 })
}

/// Soft-target cross-entropy: per-row loss[b] = −Σ_k q[b,k]·log softmax(z_b)_k
/// [B] and the softmax probabilities [B, K], for target weights q [B, K]
/// (a probability matrix, e.g. a frozen classifier's softmax).
pub fn forward_soft(gpu: &Arc<Gpu>, logits: &Tensor, q: &Tensor) -> (Tensor, Tensor) {
    let (b, _, p) = soft_params(logits, q);
    let probs = gpu.alloc(logits.shape());
    let loss = gpu.alloc(&[b]);
    gpu.dispatch(&k::SOFTMAX_XENT_FORWARD_SOFT, &p, &[logits, &probs, &loss, q], groups_1d(b, 64));
    (loss, probs)
}

/// dlogits[b, k] = dloss[b] · ((Σ_j q[b,j])·probs[b,k] − q[b,k]).
pub fn backward_soft(gpu: &Arc<Gpu>, probs: &Tensor, q: &Tensor, dloss: &Tensor) -> Tensor {
    let (b, kk, p) = soft_params(probs, q);
    assert_eq!(dloss.len(), b, "softmax_xent_soft backward: dloss length");
    let dz = gpu.alloc(probs.shape());
    gpu.dispatch(&k::SOFTMAX_XENT_BACKWARD_SOFT, &p, &[probs, dloss, &dz, q], groups_1d(b * kk, 64));
    dz
}

/// Row softmax of logits [B, K] (no gradient; e.g. a frozen classifier's
/// target probabilities). Runs `forward_soft` against zero weights.
pub fn softmax(gpu: &Arc<Gpu>, logits: &Tensor) -> Tensor {
    let q = gpu.zeros(logits.shape());
    forward_soft(gpu, logits, &q).1
}

//! JSMA, the Jacobian-based saliency map attack (Papernot et al. 2016;
//! SPEC §3, cleverhans `jsma_symbolic` at 05f4b35).
//!
//! Per image, n = C·H·W features, max_iters = floor(n·γ/2):
//! the search domain Γ starts as {i : x_i < 1} (θ > 0, "increase") or
//! {i : x_i > 0} (θ < 0). While pred ≠ t, iterations < max_iters and |Γ| ≥ 2:
//! α = ∂F_t/∂x, β = Σ_{c≠t} ∂F_c/∂x (F = softmax probabilities by default,
//! or logits); the pair p≠q in Γ maximising −(α_p+α_q)(β_p+β_q) subject to
//! α_p+α_q > 0 and β_p+β_q < 0 (reversed when decreasing) moves by θ inside
//! [0,1], and leaves Γ.
//!
//! On the GPU: one forward, a stopping-test/seed kernel, two backward passes
//! (α and β: the sum over the other classes is taken through the backward
//! seed, which equals summing per-class Jacobian rows), a tiled masked pair
//! search that keeps only a per-tile (score, pair) maximum (no n² buffer)
//! and an apply kernel. The host reads the per-image state once per
//! iteration to stop when every image has stopped.
//!
//! Deviations: an image with no positive-score pair stops (cleverhans would
//! modify feature 0 twice, SPEC §3 quirk 4); θ < 0 lowers features by |θ|
//! (cleverhans' symbolic code computes x − θ, which raises them).

use std::sync::Arc;

use anyhow::{bail, Result};
use serde::Serialize;

use super::{check_finite, input_tape, seeded_input_grad, PIXEL_BOX};
use crate::gpu::Gpu;
use crate::nn::Model;
use crate::ops::attack::{self as k, JSMA_ST};
use crate::tensor::Tensor;

crate::names::named_enum! {
/// F in the Jacobian.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JacobianKind {
    /// Softmax probabilities (cleverhans 2018, `model.get_probs`).
    #[default]
    Probs,
    /// Logits ("JSMA-Z", later cleverhans).
    Logits,
}
}

/// JSMA settings. Defaults: the cleverhans MNIST tutorial (θ = 1, γ = 0.1,
/// probabilities).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct JsmaConfig {
    pub theta: f32,
    pub gamma: f64,
    pub jacobian: JacobianKind,
}

impl Default for JsmaConfig {
    fn default() -> Self {
        JsmaConfig { theta: 1.0, gamma: 0.1, jacobian: JacobianKind::Probs }
    }
}

impl JsmaConfig {
    pub fn validate(&self) -> Result<()> {
        check_finite("--theta", self.theta as f64)?;
        if self.theta == 0.0 {
            bail!("--theta 0: must be non-zero (> 0 increases features, < 0 decreases them)");
        }
        check_finite("--gamma", self.gamma)?;
        if !(self.gamma > 0.0 && self.gamma <= 1.0) {
            bail!("--gamma {}: must be in (0, 1] (the largest fraction of features to change)", self.gamma);
        }
        Ok(())
    }
}

/// floor(n·γ/2): each iteration changes two features.
pub fn jsma_max_iters(n: usize, gamma: f64) -> u32 {
    (n as f64 * gamma / 2.0).floor() as u32
}

/// JSMA on one batch `x` [B,C,H,W] towards `targets` u32 [B]. Returns the
/// adversarial batch and the number of pairs changed per image.
pub fn jsma_batch(gpu: &Arc<Gpu>, model: &Model, x: &Tensor, targets: &Tensor, cfg: &JsmaConfig) -> (Tensor, Vec<u32>) {
    let shape = x.shape().to_vec();
    let b = shape[0];
    let n = x.len() / b;
    let kk = model.arch.classes;
    let (lo, hi) = PIXEL_BOX;
    let increase = cfg.theta > 0.0;
    let max_iters = jsma_max_iters(n, cfg.gamma);

    let xh = gpu.read(x);
    let dom_h: Vec<u32> = xh.iter().map(|&v| if increase { (v < hi) as u32 } else { (v > lo) as u32 }).collect();
    let mut st_h = vec![0u32; b * JSMA_ST];
    for e in 0..b {
        st_h[e * JSMA_ST] = 1;
        st_h[e * JSMA_ST + 2] = dom_h[e * n..(e + 1) * n].iter().sum();
    }
    let adv = gpu.alloc(&shape);
    gpu.copy(x, &adv);
    let dom = gpu.upload_u32(&dom_h, &[b, n]);
    let st = gpu.upload_u32(&st_h, &[b * JSMA_ST]);
    let sa = gpu.alloc(&[b, kk]);
    let sb = gpu.alloc(&[b, kk]);
    let part = gpu.alloc(&[b * k::jsma_tiles(n) * 2]);
    let probs = cfg.jacobian == JacobianKind::Probs;

    for _ in 0..=max_iters {
        let (g, xv, z) = input_tape(gpu, model, &adv);
        k::jsma_seed(gpu, g.value(z), targets, &st, &sa, &sb, probs, max_iters);
        st_h = gpu.read_u32(&st);
        if (0..b).all(|e| st_h[e * JSMA_ST] == 0) {
            break;
        }
        let alpha = seeded_input_grad(&g, xv, z, &sa);
        let beta = seeded_input_grad(&g, xv, z, &sb);
        k::jsma_pairs(gpu, &alpha, &beta, &dom, &st, &part, increase);
        k::jsma_apply(gpu, &part, &st, &adv, &dom, cfg.theta, PIXEL_BOX);
    }
    st_h = gpu.read_u32(&st);
    let iters = (0..b).map(|e| st_h[e * JSMA_ST + 1]).collect();
    (adv, iters)
}

//! FGSM and PGD (BIM / Madry), SPEC §1.
//!
//! FGSM: x' = clip_[0,1](x + dir·ε·d(∇ₓJ)), d = sign (L∞, sign(0) = 0) or
//! g/max(1e-12, ||g||₂) (L2); J is softmax cross-entropy on logits; dir = +1
//! ascends the loss of the label (untargeted), -1 descends the loss of the
//! target (targeted).
//!
//! PGD: x₀ = clip(x + U(-ε,ε)) with random start (L2: uniform in the ε
//! ball), then x_{k+1} = clip_[0,1](proj_ε(x_k + dir·a·d(∇J(x_k)))). Every
//! step is one batched forward + backward and one `pgd_step` dispatch; no
//! read-backs.

use std::sync::Arc;

use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{check_nonneg, xent_input_grad, xent_input_grad_logits, Norm, PIXEL_BOX};
use crate::gpu::Gpu;
use crate::nn::Model;
use crate::ops::attack::{pgd_step, StepNorm};
use crate::tensor::Tensor;

/// FGSM settings. Defaults: cleverhans (ε = 0.3, L∞).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FgsmConfig {
    pub eps: f32,
    pub norm: Norm,
}

impl Default for FgsmConfig {
    fn default() -> Self {
        FgsmConfig { eps: 0.3, norm: Norm::Inf }
    }
}

impl FgsmConfig {
    pub fn validate(&self) -> Result<()> {
        check_nonneg("--eps", self.eps as f64)
    }
}

/// PGD settings. Defaults: Madry's MNIST challenge (ε = 0.3, a = 0.01,
/// 40 steps, random start, L∞).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PgdConfig {
    pub eps: f32,
    /// Step size a.
    pub step: f32,
    pub iters: usize,
    pub random_start: bool,
    pub norm: Norm,
}

impl Default for PgdConfig {
    fn default() -> Self {
        PgdConfig { eps: 0.3, step: 0.01, iters: 40, random_start: true, norm: Norm::Inf }
    }
}

impl PgdConfig {
    pub fn validate(&self) -> Result<()> {
        check_nonneg("--eps", self.eps as f64)?;
        check_nonneg("--step", self.step as f64)?;
        if self.iters == 0 {
            anyhow::bail!("--iters 0: must be at least 1");
        }
        Ok(())
    }
}

fn step_norm(n: Norm) -> StepNorm {
    match n {
        Norm::Inf => StepNorm::Inf,
        Norm::L2 => StepNorm::L2,
    }
}

fn direction(targeted: bool) -> f32 {
    if targeted {
        -1.0
    } else {
        1.0
    }
}

/// One FGSM step on a batch `x` [B,C,H,W]; `labels` u32 [B] are the true
/// (or predicted) labels when untargeted and the targets when targeted.
/// Returns the adversarial batch and the clean logits Z(x) of the
/// gradient's forward pass.
pub fn fgsm_batch(
    gpu: &Arc<Gpu>,
    model: &Model,
    x: &Tensor,
    labels: &Tensor,
    targeted: bool,
    cfg: &FgsmConfig,
) -> (Tensor, Tensor) {
    let xk = gpu.alloc(x.shape());
    gpu.copy(x, &xk);
    let (g, z) = xent_input_grad_logits(gpu, model, x, labels);
    pgd_step(gpu, x, &g, &xk, step_norm(cfg.norm), cfg.eps, cfg.eps, direction(targeted), false, PIXEL_BOX);
    (xk, z)
}

/// PGD on a batch. `start` is the random start (host, same layout as `x`),
/// or None to start at `x`.
pub fn pgd_batch(
    gpu: &Arc<Gpu>,
    model: &Model,
    x: &Tensor,
    labels: &Tensor,
    targeted: bool,
    cfg: &PgdConfig,
    start: Option<&[f32]>,
) -> Tensor {
    let xk = match start {
        Some(s) => gpu.upload(s, x.shape()),
        None => {
            let t = gpu.alloc(x.shape());
            gpu.copy(x, &t);
            t
        }
    };
    for _ in 0..cfg.iters {
        let g = xent_input_grad(gpu, model, &xk, labels);
        pgd_step(gpu, x, &g, &xk, step_norm(cfg.norm), cfg.eps, cfg.step, direction(targeted), true, PIXEL_BOX);
    }
    xk
}

/// The PGD random start for images `x` (flat, `per` features each, image
/// i at position `index[i]` of its source): x + U(-ε,ε) per feature (L∞)
/// or x + a uniform point of the ε ball (L2), clipped to [0,1]. Each image
/// has its own stream seeded by (seed, index), so the result depends on
/// neither the batch size nor the shard.
pub fn random_start(x: &[f32], per: usize, eps: f32, norm: Norm, seed: u64, index: &[usize]) -> Vec<f32> {
    let (lo, hi) = PIXEL_BOX;
    let mut out = Vec::with_capacity(x.len());
    for (img, &idx) in x.chunks(per).zip(index) {
        let mut rng = ChaCha8Rng::seed_from_u64(crate::shard::image_seed(seed, idx, 0x5067_6473));
        match norm {
            Norm::Inf => {
                for &v in img {
                    let u: f32 = if eps > 0.0 { rng.random_range(-eps..eps) } else { 0.0 };
                    out.push((v + u).clamp(lo, hi));
                }
            }
            Norm::L2 => {
                // Gaussian direction (Box-Muller), radius ε·U^(1/n).
                let mut d: Vec<f64> = Vec::with_capacity(per);
                while d.len() < per {
                    let u1: f64 = rng.random::<f64>().max(1e-300);
                    let u2: f64 = rng.random::<f64>();
                    let r = (-2.0 * u1.ln()).sqrt();
                    d.push(r * (std::f64::consts::TAU * u2).cos());
                    d.push(r * (std::f64::consts::TAU * u2).sin());
                }
                d.truncate(per);
                let norm = d.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
                let radius = eps as f64 * rng.random::<f64>().powf(1.0 / per as f64);
                for (&v, dv) in img.iter().zip(&d) {
                    out.push((v + (radius * dv / norm) as f32).clamp(lo, hi));
                }
            }
        }
    }
    out
}

//! An adaptive attacker who knows the detector (Carlini & Wagner 2017,
//! "Adversarial examples are not easily detected"): C&W L2 against f1 with
//! an extra term that drives the mask classifier f2(g(x*)) to f1's new
//! class, so the rule "flag iff f1 ≠ f2∘g" stays silent.
//!
//! Per image, with y the true label, z1 = f1(x'), z2 = f2(g(x')) and
//! t = argmax_{j≠y} z1_j (f1's best wrong class, re-chosen every step):
//!
//!   L(x') = ‖x' − x‖² + c·( max(z1_y − z1_t + κ, 0)
//!                          + max(max_{j≠t} z2_j − z2_t + κ, 0) )
//!
//! minimised by Adam in pixel space, projected onto [0,1]. Its gradient
//! comes from two backward passes on the autograd tape (f1, and g then f2)
//! seeded with the active margin terms. A run tries the constants `cs` in
//! order and keeps, per image, the smallest-L2 iterate that fools f1
//! without a flag, else the smallest-L2 one that fools f1 (flagged).

use std::sync::Arc;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::attack::{argmax_rows, check_nonneg, check_pos, seeded_input_grad};
use crate::autograd::Graph;
use crate::gpu::Gpu;
use crate::nn::Model;

/// Settings of the adaptive attack.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdaptiveConfig {
    /// The constants c tried, in order (each from x' = x).
    pub cs: Vec<f64>,
    /// Adam steps per constant.
    pub iters: usize,
    /// Adam learning rate (pixel units).
    pub lr: f32,
    /// Margin κ of both terms.
    pub kappa: f32,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig { cs: vec![0.1, 1.0, 10.0], iters: 100, lr: 0.01, kappa: 0.0 }
    }
}

impl AdaptiveConfig {
    pub fn validate(&self) -> Result<()> {
        if self.cs.is_empty() {
            bail!("--adaptive-c: give at least one constant");
        }
        for &c in &self.cs {
            check_pos("--adaptive-c", c)?;
        }
        if self.iters == 0 {
            bail!("--adaptive-iters 0: must be at least 1");
        }
        check_pos("--adaptive-lr", self.lr as f64)?;
        check_nonneg("--adaptive-kappa", self.kappa as f64)
    }
}

/// The objective at one batch of iterates.
pub struct AdaptiveEval {
    /// L per image.
    pub loss: Vec<f64>,
    /// ∂L/∂x' (B·C·H·W values).
    pub grad: Vec<f32>,
    /// f1's and f2∘g's logits [B, K].
    pub z1: Vec<f32>,
    pub z2: Vec<f32>,
}

fn argmax_except(r: &[f32], skip: usize) -> usize {
    let mut best = usize::MAX;
    for (j, &v) in r.iter().enumerate() {
        if j != skip && (best == usize::MAX || v > r[best]) {
            best = j;
        }
    }
    best
}

/// L and ∂L/∂x' at `xp` (B images of f1's shape), for originals `x0`,
/// labels `y` and constant `c` (the same for every image).
#[allow(clippy::too_many_arguments)]
pub fn objective(
    gpu: &Arc<Gpu>,
    f1: &Model,
    lan: &Model,
    f2: &Model,
    xp: &[f32],
    x0: &[f32],
    y: &[u32],
    c: f64,
    kappa: f32,
) -> AdaptiveEval {
    let [ch, h, w] = f1.arch.input;
    let b = y.len();
    let d = ch * h * w;
    let k = f1.arch.classes;
    let shape = [b, ch, h, w];
    let x = gpu.upload(xp, &shape);
    // f1 on its own tape
    let mut g1 = Graph::new(gpu);
    let p1 = f1.bind(&mut g1, false);
    let xv1 = g1.leaf(x.clone(), true);
    let z1v = f1.forward(&mut g1, xv1, &p1);
    let z1 = gpu.read(g1.value(z1v));
    // g then f2 on another
    let mut g2 = Graph::new(gpu);
    let pl = lan.bind(&mut g2, false);
    let p2 = f2.bind(&mut g2, false);
    let xv2 = g2.leaf(x, true);
    let a = lan.forward(&mut g2, xv2, &pl);
    let z2v = f2.forward(&mut g2, a, &p2);
    let z2 = gpu.read(g2.value(z2v));
    let mut s1 = vec![0f32; b * k];
    let mut s2 = vec![0f32; b * k];
    let mut loss = vec![0f64; b];
    for e in 0..b {
        let (r1, r2) = (&z1[e * k..(e + 1) * k], &z2[e * k..(e + 1) * k]);
        let yi = y[e] as usize;
        let t = argmax_except(r1, yi);
        let m1 = r1[yi] - r1[t] + kappa;
        let j = argmax_except(r2, t);
        let m2 = r2[j] - r2[t] + kappa;
        let l2: f64 = (0..d).map(|i| ((xp[e * d + i] - x0[e * d + i]) as f64).powi(2)).sum();
        loss[e] = l2 + c * (m1.max(0.0) as f64 + m2.max(0.0) as f64);
        if m1 > 0.0 {
            s1[e * k + yi] += c as f32;
            s1[e * k + t] -= c as f32;
        }
        if m2 > 0.0 {
            s2[e * k + j] += c as f32;
            s2[e * k + t] -= c as f32;
        }
    }
    let gx1 = gpu.read(&seeded_input_grad(&g1, xv1, z1v, &gpu.upload(&s1, &[b, k])));
    let gx2 = gpu.read(&seeded_input_grad(&g2, xv2, z2v, &gpu.upload(&s2, &[b, k])));
    let grad = (0..b * d).map(|i| 2.0 * (xp[i] - x0[i]) + gx1[i] + gx2[i]).collect();
    AdaptiveEval { loss, grad, z1, z2 }
}

/// One image's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct AdaptiveImage {
    pub index: usize,
    pub label: u32,
    /// f1 misclassifies x*.
    pub fools_f1: bool,
    /// ... and f2(g(x*)) agrees with f1 (no flag).
    pub evades: bool,
    /// The constant of the kept iterate (None: no iterate fooled f1).
    pub c: Option<f64>,
    pub l2: f64,
}

/// The attack on images `x` (N in f1's shape, flat) with labels `y`;
/// returns x* (the input where nothing fooled f1) and per-image outcomes.
#[allow(clippy::too_many_arguments)]
pub fn run(
    gpu: &Arc<Gpu>,
    f1: &Model,
    lan: &Model,
    f2: &Model,
    x: &[f32],
    y: &[u32],
    index: &[usize],
    cfg: &AdaptiveConfig,
    batch: usize,
) -> Result<(Vec<f32>, Vec<AdaptiveImage>)> {
    cfg.validate()?;
    let d = f1.arch.input_len();
    let k = f1.arch.classes;
    if x.len() != y.len() * d || index.len() != y.len() {
        bail!("adaptive attack: {} values, {} labels, {} indices for {d}-value images", x.len(), y.len(), index.len());
    }
    let mut adv = x.to_vec();
    let mut out = Vec::with_capacity(y.len());
    for b0 in (0..y.len()).step_by(batch.max(1)) {
        let b1 = (b0 + batch.max(1)).min(y.len());
        let x0 = &x[b0 * d..b1 * d];
        let yb = &y[b0..b1];
        let nb = yb.len();
        // (rank: 2 evades, 1 fools f1; l2; c; image)
        let mut best: Vec<(u8, f64, Option<f64>)> = vec![(0, f64::INFINITY, None); nb];
        for &c in &cfg.cs {
            let mut xp = x0.to_vec();
            let (mut m, mut v) = (vec![0f32; xp.len()], vec![0f32; xp.len()]);
            for it in 0..=cfg.iters {
                let ev = objective(gpu, f1, lan, f2, &xp, x0, yb, c, cfg.kappa);
                let (p1, p2) = (argmax_rows(&ev.z1, k), argmax_rows(&ev.z2, k));
                for e in 0..nb {
                    let rank = if p1[e] != yb[e] { 1 + (p1[e] == p2[e]) as u8 } else { 0 };
                    if rank == 0 {
                        continue;
                    }
                    let l2 = (0..d).map(|i| ((xp[e * d + i] - x0[e * d + i]) as f64).powi(2)).sum::<f64>().sqrt();
                    let cur = &mut best[e];
                    if rank > cur.0 || (rank == cur.0 && l2 < cur.1) {
                        *cur = (rank, l2, Some(c));
                        adv[(b0 + e) * d..(b0 + e + 1) * d].copy_from_slice(&xp[e * d..(e + 1) * d]);
                    }
                }
                if it == cfg.iters {
                    break;
                }
                // Adam (β1 0.9, β2 0.999), projected onto [0,1]
                let t = (it + 1) as i32;
                let (c1, c2) = (1.0 - 0.9f32.powi(t), 1.0 - 0.999f32.powi(t));
                for i in 0..xp.len() {
                    let gi = ev.grad[i];
                    m[i] = 0.9 * m[i] + 0.1 * gi;
                    v[i] = 0.999 * v[i] + 0.001 * gi * gi;
                    let step = cfg.lr * (m[i] / c1) / ((v[i] / c2).sqrt() + 1e-8);
                    xp[i] = (xp[i] - step).clamp(0.0, 1.0);
                }
            }
        }
        for (e, (rank, l2, c)) in best.into_iter().enumerate() {
            out.push(AdaptiveImage {
                index: index[b0 + e],
                label: yb[e],
                fools_f1: rank >= 1,
                evades: rank == 2,
                c,
                l2: if rank >= 1 { l2 } else { 0.0 },
            });
        }
    }
    Ok((adv, out))
}

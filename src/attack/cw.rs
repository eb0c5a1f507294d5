//! Carlini-Wagner L2 (SPEC §2; carlini/nn_robust_attacks `l2_attack.py` at
//! 610c43f, box [0,1] as in the cleverhans port).
//!
//! Per image: x'(δ) = tanh(δ + w0)·mul + plus with w0 = artanh((x-plus)/mul·0.999999),
//! loss = ||x' − x̄||² + c·f(x'), x̄ = tanh(w0)·mul+plus,
//! f = max(0, max_{i≠t} Z_i − Z_t + κ) (targeted) or max(0, Z_y − max_{i≠y} Z_i + κ).
//! Adam (TensorFlow's formulation, β = (0.9, 0.999), ε = 1e-8) on δ from 0,
//! reset at every binary-search step; per-image binary search on c
//! ([`CSearch`]); the best successful iterate over all steps is returned,
//! the input where none succeeded.
//!
//! Everything is batched: δ, Adam moments, c, the best L2 / class / image,
//! the abort-early reference and the iteration count are per-image GPU
//! state. The host reads the state back once per binary-search step (to
//! update c) and at the abort-early checkpoints (to stop when every image
//! has stopped).

use std::sync::Arc;

use anyhow::{bail, Result};
use serde::Serialize;

use super::{check_nonneg, check_pos, input_tape, seeded_input_grad, PIXEL_BOX};
use crate::gpu::Gpu;
use crate::nn::Model;
use crate::ops::attack::{self as k, AdamTf, CwEvalMode};
use crate::tensor::Tensor;

crate::names::named_enum! {
/// Which loss the abort-early test watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AbortScope {
    /// Each image stops on its own loss (the reference code at its default
    /// batch size 1; results do not depend on --batch). Documented deviation.
    #[default]
    Image,
    /// The whole batch stops on the batch-summed loss (the reference code
    /// with batch_size > 1).
    Batch,
}
}

/// C&W L2 settings. Defaults: cleverhans (5 binary steps, 1000 iterations,
/// lr 5e-3, c0 1e-2, κ 0, abort early). The original code uses 9, 10000,
/// 1e-2, 1e-3.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CwConfig {
    pub c0: f64,
    pub binary_steps: usize,
    pub iters: usize,
    pub lr: f32,
    pub kappa: f32,
    pub abort_early: bool,
    pub abort_scope: AbortScope,
}

impl Default for CwConfig {
    fn default() -> Self {
        CwConfig {
            c0: 1e-2,
            binary_steps: 5,
            iters: 1000,
            lr: 5e-3,
            kappa: 0.0,
            abort_early: true,
            abort_scope: AbortScope::Image,
        }
    }
}

impl CwConfig {
    pub fn validate(&self) -> Result<()> {
        check_pos("--c0", self.c0)?;
        check_pos("--lr", self.lr as f64)?;
        check_nonneg("--kappa", self.kappa as f64)?;
        if self.binary_steps == 0 {
            bail!("--binary-steps 0: must be at least 1");
        }
        if self.iters == 0 {
            bail!("--iters 0: must be at least 1");
        }
        Ok(())
    }
}

/// Initial upper bound of the binary search on c (the reference's 1e10).
pub const C_UPPER0: f64 = 1e10;

/// Per-image binary search on c, exactly as the reference code updates it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CSearch {
    pub lower: f64,
    pub upper: f64,
    pub c: f64,
}

impl CSearch {
    pub fn new(c0: f64) -> Self {
        CSearch { lower: 0.0, upper: C_UPPER0, c: c0 }
    }

    /// The c for outer step `step` (0-based) of `steps`: with 10 or more
    /// steps, the last one "repeats" at c = upper.
    pub fn begin_step(&mut self, step: usize, steps: usize) -> f64 {
        if steps >= 10 && step + 1 == steps {
            self.c = self.upper;
        }
        self.c
    }

    /// After an outer step: success halves towards the lower bound,
    /// failure raises the lower bound and bisects, or ×10 while no upper
    /// bound below 1e9 is known.
    pub fn update(&mut self, success: bool) {
        if success {
            self.upper = self.upper.min(self.c);
            if self.upper < 1e9 {
                self.c = (self.lower + self.upper) / 2.0;
            }
        } else {
            self.lower = self.lower.max(self.c);
            if self.upper < 1e9 {
                self.c = (self.lower + self.upper) / 2.0;
            } else {
                self.c *= 10.0;
            }
        }
    }
}

/// Whether iteration `it` (0-based) of `max_iters` is an abort-early
/// checkpoint: every max_iters/10 iterations (every iteration below 10,
/// as cleverhans' `(MAX_ITERATIONS // 10) or 1`).
pub fn cw_abort_check(it: usize, max_iters: usize) -> bool {
    it.is_multiple_of((max_iters / 10).max(1))
}

/// C&W on one batch `x` [B,C,H,W]. `labels` u32 [B]: targets when
/// `targeted`, else the class to move away from. Returns the adversarial
/// batch (input where the attack failed) and the iterates evaluated per image.
pub fn cw_batch(
    gpu: &Arc<Gpu>,
    model: &Model,
    x: &Tensor,
    labels: &Tensor,
    targeted: bool,
    cfg: &CwConfig,
) -> (Tensor, Vec<u32>) {
    let shape = x.shape().to_vec();
    let b = shape[0];
    let n = x.len() / b;
    let st_len = k::CW_ST;
    let labels_h = gpu.read_u32(labels);

    // (δ, Adam m, Adam v, w0) per element; cw_prep fills it and x' = x̄
    let state = gpu.alloc(&[b, n, 4]);
    let xp = gpu.alloc(&shape);
    let best = gpu.zeros(&shape);
    let dz = gpu.zeros(&[b, model.arch.classes]);
    let st = gpu.alloc(&[b * st_len]);
    let mut sh = vec![0f32; b * st_len];
    for e in 0..b {
        sh[e * st_len + k::CW_OBESTL2] = C_UPPER0 as f32;
        sh[e * st_len + k::CW_OBESTSC] = -1.0;
    }
    let mut search = vec![CSearch::new(cfg.c0); b];
    let adam = AdamTf { lr: cfg.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    let lanes = k::cw_lanes_per_image(gpu);

    for step in 0..cfg.binary_steps {
        for (e, s) in search.iter_mut().enumerate() {
            let row = &mut sh[e * st_len..(e + 1) * st_len];
            row[k::CW_C] = s.begin_step(step, cfg.binary_steps) as f32;
            row[k::CW_BESTL2] = C_UPPER0 as f32;
            row[k::CW_BESTSC] = -1.0;
            row[k::CW_PREV] = f32::INFINITY;
            row[k::CW_ACTIVE] = 1.0;
            row[k::CW_L2] = 0.0; // x' = x̄
            row[k::CW_COPY] = 0.0;
        }
        gpu.write(&st, bytemuck::cast_slice(&sh));
        // δ = 0, fresh Adam moments, x' = x̄ (the reference re-runs its
        // initialiser at every step)
        k::cw_prep(gpu, x, &state, &xp, PIXEL_BOX);
        let mut prev_batch = f64::INFINITY;
        for it in 0..cfg.iters {
            let check = cfg.abort_early && cw_abort_check(it, cfg.iters);
            let (g, xv, z) = input_tape(gpu, model, &xp);
            let mut mode = CwEvalMode::Record;
            if check {
                match cfg.abort_scope {
                    AbortScope::Batch => {
                        k::cw_eval(gpu, g.value(z), labels, &st, &dz, CwEvalMode::LossOnly, targeted, cfg.kappa);
                        let s = gpu.read(&st);
                        let l: f64 = (0..b).map(|e| s[e * st_len + k::CW_LOSS] as f64).sum();
                        if l > prev_batch * 0.9999 {
                            break;
                        }
                        prev_batch = l;
                    }
                    AbortScope::Image => mode = CwEvalMode::RecordAbortCheck,
                }
            }
            k::cw_eval(gpu, g.value(z), labels, &st, &dz, mode, targeted, cfg.kappa);
            let gx = seeded_input_grad(&g, xv, z, &dz);
            k::cw_adam(gpu, &state, &gx, &st, &best, &xp, adam, it as u32 + 1, PIXEL_BOX, lanes);
            if check && cfg.abort_scope == AbortScope::Image {
                let s = gpu.read(&st);
                if (0..b).all(|e| s[e * st_len + k::CW_ACTIVE] == 0.0) {
                    break;
                }
            }
        }
        sh = gpu.read(&st);
        for (e, s) in search.iter_mut().enumerate() {
            let bs = sh[e * st_len + k::CW_BESTSC];
            let y = labels_h[e] as f32;
            let success = bs != -1.0 && if targeted { bs == y } else { bs != y };
            s.update(success);
        }
    }

    let xh = gpu.read(x);
    let bh = gpu.read(&best);
    let mut adv = xh;
    let mut iters = Vec::with_capacity(b);
    for e in 0..b {
        if sh[e * st_len + k::CW_OBESTSC] != -1.0 {
            adv[e * n..(e + 1) * n].copy_from_slice(&bh[e * n..(e + 1) * n]);
        }
        iters.push(sh[e * st_len + k::CW_ITERS] as u32);
    }
    (gpu.upload(&adv, &shape), iters)
}

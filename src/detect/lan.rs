//! The LAN loss of SPEC §5 on a tape, and the objective `fit` trains g with:
//!
//!   x̃ = A(x)⊙η + (1−A(x))⊙x = x + A⊙(η − x),   η ~ H
//!   loss = mean_b L_F(f1(x̃_b), f1(x_b)) − β·mean_{b,i} A_i(x_b)
//!
//! L_F = `xent`: −Σ_k p_k(x)·log softmax(f1(x̃))_k with p = softmax f1(x)
//! (constant: f1 is frozen, no gradient flows through p); `mse`: the mean
//! over the batch and the K logits of (f1(x̃) − f1(x))².

use std::sync::Arc;

use anyhow::{bail, Result};
use serde::Serialize;

use super::noise::Noise;
use crate::autograd::{Graph, Var};
use crate::data::Dataset;
use crate::gpu::Gpu;
use crate::nn::fit::{Batch, StepOut};
use crate::nn::model::Mode;
use crate::nn::Model;
use crate::ops::{reduce, softmax_xent};
use crate::tensor::Tensor;

crate::names::named_enum! {
/// L_F, how far f1's output on the corrupted image is from its output on the image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Soft-target cross-entropy against f1's softmax on the clean image.
    #[default]
    Xent,
    /// Mean squared difference of f1's logits.
    Mse,
}
}

/// The LAN's hyper-parameters that enter the loss.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LanLoss {
    pub beta: f32,
    pub loss: LossKind,
}

impl LanLoss {
    pub fn new(beta: f32, loss: LossKind) -> Result<LanLoss> {
        if !(beta.is_finite() && beta >= 0.0) {
            bail!("--beta {beta}: must be a finite number >= 0 (it rewards larger masks)");
        }
        Ok(LanLoss { beta, loss })
    }
}

/// The three terms of one batch's loss on the tape.
#[derive(Clone, Copy)]
pub struct LanTerms {
    pub loss: Var,
    pub l_f: Var,
    pub mean_a: Var,
    /// The masks A [B, C, H, W].
    pub a: Var,
    /// f1's logits on x̃ [B, K].
    pub z: Var,
}

/// `lan` must be a mask network whose images are `f1`'s.
pub fn check_pair(lan: &Model, f1: &Model, lan_name: &str) -> Result<()> {
    if !lan.arch.is_mask() {
        bail!("{lan_name}: --lan-arch {} is not a mask network (expected mask:CxHxW-H1-...)", lan.arch.spec);
    }
    if lan.arch.input != f1.arch.input {
        let [c, h, w] = lan.arch.input;
        let [fc, fh, fw] = f1.arch.input;
        bail!(
            "{lan_name}: the LAN ({}) makes {c}×{h}×{w} masks but --arch {} takes {fc}×{fh}×{fw} images",
            lan.arch.spec,
            f1.arch.spec
        );
    }
    Ok(())
}

/// The loss of SPEC §5 for images `x` [B, C, H, W] and noise `eta` (same
/// shape), with `params` the LAN's parameters bound on `g`.
pub fn lan_loss(
    g: &mut Graph,
    params: &[Var],
    lan: &Model,
    f1: &Model,
    x: &Tensor,
    eta: &Tensor,
    cfg: &LanLoss,
) -> LanTerms {
    let z0 = f1.logits(g.gpu(), x);
    lan_loss_with(g, params, lan, f1, x, eta, &z0, cfg, Mode::Eval)
}

/// [`lan_loss`] with f1's clean logits `z0` [B, K] given (f1 is frozen, so
/// they can be computed once per image and reused every epoch). `mode` is
/// the LAN's (Train: a `:bn` LAN normalises by batch statistics and updates
/// its running ones); f1 always runs in eval mode.
#[allow(clippy::too_many_arguments)]
pub fn lan_loss_with(
    g: &mut Graph,
    params: &[Var],
    lan: &Model,
    f1: &Model,
    x: &Tensor,
    eta: &Tensor,
    z0: &Tensor,
    cfg: &LanLoss,
    mode: Mode,
) -> LanTerms {
    let gpu = g.gpu().clone();
    let xv = g.leaf(x.clone(), false);
    let a = lan.forward_mode(g, xv, params, mode);
    let ev = g.leaf(eta.clone(), false);
    let d = g.lincomb(ev, 1.0, xv, -1.0);
    let shift = g.mul(a, d);
    let corrupted = g.add(xv, shift);
    let f1p = f1.bind(g, false);
    let z = f1.forward(g, corrupted, &f1p);
    let l_f = match cfg.loss {
        LossKind::Xent => {
            let q = softmax_xent::softmax(&gpu, z0);
            let per = g.softmax_xent_soft(z, &q);
            g.mean(per)
        }
        LossKind::Mse => {
            let z0v = g.leaf(z0.clone(), false);
            g.mse(z, z0v)
        }
    };
    let mean_a = g.mean(a);
    let reg = g.scale(mean_a, -cfg.beta);
    let loss = g.add(l_f, reg);
    LanTerms { loss, l_f, mean_a, a, z }
}

/// f1's logits on every image of `data` (N·K values), computed once so the
/// training steps need not run f1 on the clean images.
pub fn clean_logits(gpu: &Arc<Gpu>, f1: &Model, data: &Dataset, batch: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.n * f1.arch.classes);
    let mut host = Vec::new();
    let all: Vec<usize> = (0..data.n).collect();
    for idx in all.chunks(batch.max(1)) {
        let (x, _) = crate::nn::train::upload_batch(gpu, data, idx, &mut host);
        out.extend(gpu.read(&f1.logits(gpu, &x)));
    }
    out
}

/// The objective `fit` trains the LAN with: one noise draw per image per
/// step from the step's seed. `clean` (from [`clean_logits`] on the
/// training set) gives f1's clean logits by image index; without it f1 runs
/// on each batch's clean images. Training images must not be augmented.
pub fn lan_objective<'a>(
    lan: &'a Model,
    f1: &'a Model,
    noise: Noise<'a>,
    cfg: LanLoss,
    clean: Option<&'a [f32]>,
) -> impl FnMut(&mut Graph, &[Var], &Batch) -> Result<StepOut> + 'a {
    move |g, params, b| {
        let shape = b.x.shape().to_vec();
        let eta = noise.sample(shape[0], shape[1..].iter().product(), b.seed)?;
        let eta = g.gpu().upload(&eta, &shape);
        let z0 = match clean {
            Some(all) => {
                let k = f1.arch.classes;
                let rows: Vec<f32> = b.index.iter().flat_map(|&i| all[i * k..(i + 1) * k].iter().copied()).collect();
                g.gpu().upload(&rows, &[b.index.len(), k])
            }
            None => f1.logits(g.gpu(), &b.x),
        };
        let t = lan_loss_with(g, params, lan, f1, &b.x, &eta, &z0, &cfg, Mode::Train { seed: b.seed });
        Ok(StepOut { loss: t.loss, logits: None, metrics: vec![("l_f", t.l_f), ("mean_mask", t.mean_a)] })
    }
}

/// The LAN's loss terms averaged over a data set (validation), with noise
/// from `seed`, and how often f1's class on x̃ is its class on x.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LanEval {
    pub loss: f64,
    pub l_f: f64,
    pub mean_mask: f64,
    pub f1_agreement: f64,
}

#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    gpu: &Arc<Gpu>,
    lan: &Model,
    f1: &Model,
    data: &Dataset,
    noise: Noise,
    cfg: &LanLoss,
    seed: u64,
    batch: usize,
) -> Result<LanEval> {
    let mut e = LanEval::default();
    let mut host = Vec::new();
    let all: Vec<usize> = (0..data.n).collect();
    for (bi, idx) in all.chunks(batch.max(1)).enumerate() {
        let (x, _) = crate::nn::train::upload_batch(gpu, data, idx, &mut host);
        let eta = noise.sample(idx.len(), data.image_len(), crate::nn::model::step_seed(seed, bi as u64))?;
        let eta = gpu.upload(&eta, x.shape());
        let mut g = Graph::new(gpu);
        let params = lan.bind(&mut g, false);
        let t = lan_loss(&mut g, &params, lan, f1, &x, &eta, cfg);
        let w = idx.len() as f64;
        e.loss += w * gpu.read(g.value(t.loss))[0] as f64;
        e.l_f += w * gpu.read(g.value(t.l_f))[0] as f64;
        e.mean_mask += w * gpu.read(g.value(t.mean_a))[0] as f64;
        let clean = reduce::argmax_rows(gpu, &f1.logits(gpu, &x));
        let noisy = reduce::argmax_rows(gpu, g.value(t.z));
        e.f1_agreement += clean.iter().zip(&noisy).filter(|(a, b)| a == b).count() as f64;
    }
    let n = data.n.max(1) as f64;
    e.loss /= n;
    e.l_f /= n;
    e.mean_mask /= n;
    e.f1_agreement /= n;
    Ok(e)
}

/// The masks A(x) of every image of `data`, N·C·H·W values.
pub fn masks(gpu: &Arc<Gpu>, lan: &Model, data: &Dataset, batch: usize) -> Result<Vec<f32>> {
    lan.check_input("mask data", &[data.n, data.c, data.h, data.w])?;
    let mut out = Vec::with_capacity(data.images.len());
    let mut host = Vec::new();
    let all: Vec<usize> = (0..data.n).collect();
    for idx in all.chunks(batch.max(1)) {
        let (x, _) = crate::nn::train::upload_batch(gpu, data, idx, &mut host);
        out.extend(gpu.read(&lan.logits(gpu, &x)));
    }
    Ok(out)
}

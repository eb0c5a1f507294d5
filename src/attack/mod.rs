//! Pixel-space attacks on the GPU (SPEC §1-3): FGSM, PGD (BIM/Madry),
//! Carlini-Wagner L2 and JSMA. Every attack runs on batches with its
//! per-image state in GPU buffers, clips to the pixel box [0,1], and returns
//! per image the adversarial image, success, the iterations used and the
//! L0 / L2 / L∞ size of the perturbation.
//!
//! Entry point: [`run_attack`]. Throughput: [`bench_attacks`].
//!
//! Deviations from the reference code, all documented where they occur:
//! - JSMA stops an image when no pair has a positive score (cleverhans would
//!   modify feature 0, SPEC §3 quirk 4), and its decrease mode (θ < 0)
//!   moves features down by |θ| (cleverhans' symbolic version adds |θ|).
//! - JSMA computes α and β with two backward passes (seeds ∂F_t/∂Z and
//!   Σ_{c≠t} ∂F_c/∂Z) instead of one per class; by linearity of the
//!   backward pass this is the same sum.
//! - C&W abort-early is per image by default (`AbortScope::Image`, equal to
//!   the reference code at its default batch size 1); `AbortScope::Batch`
//!   reproduces the batch-summed loss of the original.

mod bench;
pub mod cw;
pub mod fgsm;
pub mod inputs;
pub mod jsma;
pub mod merge;
pub mod output;
pub mod schema;
pub mod sweep;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::autograd::{Graph, Var};
use crate::gpu::Gpu;
use crate::nn::capacity::{device_batch_with, DeviceBatch, Pass};
use crate::nn::{Arch, Model};
use crate::tensor::Tensor;

pub use bench::{bench_attacks, default_bench_configs, AttackBench};
pub use cw::{cw_abort_check, CSearch, CwConfig};
pub use fgsm::{FgsmConfig, PgdConfig};
pub use jsma::{jsma_max_iters, JsmaConfig};

/// The valid pixel box every attack clips to.
pub const PIXEL_BOX: (f32, f32) = (0.0, 1.0);

crate::names::named_enum! {
/// Norm of an FGSM / PGD step and budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Norm {
    /// L∞: steps along sign(∇), projection onto the box [x-ε, x+ε].
    #[serde(rename = "inf")]
    Inf,
    /// L2: steps along ∇/||∇||₂, projection onto the ball ||δ||₂ ≤ ε.
    #[serde(rename = "2")]
    L2,
}
}

crate::names::named_enum! {
/// Which class an untargeted attack moves away from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelSource {
    /// The given (true) label.
    #[default]
    True,
    /// The model's prediction on the clean image (cleverhans' default,
    /// avoids "label leaking").
    Pred,
}
}

/// One attack and its settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum AttackConfig {
    Fgsm(FgsmConfig),
    Pgd(PgdConfig),
    Cw(CwConfig),
    Jsma(JsmaConfig),
}

impl AttackConfig {
    pub fn name(&self) -> &'static str {
        match self {
            AttackConfig::Fgsm(_) => "fgsm",
            AttackConfig::Pgd(_) => "pgd",
            AttackConfig::Cw(_) => "cw",
            AttackConfig::Jsma(_) => "jsma",
        }
    }

    /// Check every parameter; the error names the flag.
    pub fn validate(&self) -> Result<()> {
        match self {
            AttackConfig::Fgsm(c) => c.validate(),
            AttackConfig::Pgd(c) => c.validate(),
            AttackConfig::Cw(c) => c.validate(),
            AttackConfig::Jsma(c) => c.validate(),
        }
    }

    /// JSMA has no untargeted form.
    pub fn needs_targets(&self) -> bool {
        matches!(self, AttackConfig::Jsma(_))
    }
}

pub(crate) fn check_finite(flag: &str, v: f64) -> Result<()> {
    if !v.is_finite() {
        bail!("{flag} {v}: must be a finite number");
    }
    Ok(())
}

pub(crate) fn check_nonneg(flag: &str, v: f64) -> Result<()> {
    check_finite(flag, v)?;
    if v < 0.0 {
        bail!("{flag} {v}: must be >= 0");
    }
    Ok(())
}

pub(crate) fn check_pos(flag: &str, v: f64) -> Result<()> {
    check_finite(flag, v)?;
    if v <= 0.0 {
        bail!("{flag} {v}: must be > 0");
    }
    Ok(())
}

/// How `run_attack` walks the images.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RunOptions {
    /// Images per GPU batch (per-image state lives on the GPU for a batch).
    pub batch: usize,
    /// Seeds the PGD random start (per image, so independent of `batch`).
    pub seed: u64,
    /// Untargeted attacks: true label or the clean prediction.
    pub label_source: LabelSource,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { batch: 256, seed: 0, label_source: LabelSource::True }
    }
}

/// The outcome for one image.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ImageResult {
    pub index: usize,
    /// The given label.
    pub label: u32,
    /// Targeted attacks: the target class.
    pub target: Option<u32>,
    /// The class the attack's loss used: the target, or the label /
    /// prediction an untargeted attack moves away from.
    pub attack_label: u32,
    pub clean_pred: u32,
    pub adv_pred: u32,
    /// Targeted: adv_pred == target. Untargeted: adv_pred != attack_label.
    pub success: bool,
    /// Gradient steps (FGSM 1, PGD iters, C&W iterates evaluated over all
    /// binary-search steps, JSMA pairs modified).
    pub iterations: u32,
    /// Number of features that differ from the input.
    pub l0: usize,
    pub l2: f64,
    pub linf: f64,
}

/// Adversarial images (N×C×H×W, same order as the input) and per-image results.
#[derive(Clone, Debug)]
pub struct AttackResult {
    pub adv: Vec<f32>,
    pub shape: [usize; 4],
    pub images: Vec<ImageResult>,
    /// Wall time of the attack (including kernel compilation on first use).
    pub seconds: f64,
}

/// Mean and median of a perturbation norm.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct NormStats {
    pub mean: f64,
    pub median: f64,
}

pub(crate) fn norm_stats(v: &mut [f64]) -> Option<NormStats> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len();
    let median = if m % 2 == 1 { v[m / 2] } else { 0.5 * (v[m / 2 - 1] + v[m / 2]) };
    Some(NormStats { mean: v.iter().sum::<f64>() / m as f64, median })
}

/// Aggregates for results.json and the printed table.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub n: usize,
    pub successes: usize,
    pub success_rate: f64,
    /// Accuracy against the given labels, before and after the attack.
    pub clean_accuracy: f64,
    pub adv_accuracy: f64,
    /// Norms over the successful adversarial examples (None if none).
    pub l0_success: Option<NormStats>,
    pub l2_success: Option<NormStats>,
    pub linf_success: Option<NormStats>,
    /// Norms over all images.
    pub l0_all: Option<NormStats>,
    pub l2_all: Option<NormStats>,
    pub linf_all: Option<NormStats>,
    pub mean_iterations: f64,
    pub seconds: f64,
    pub images_per_sec: f64,
}

pub fn summarize(r: &AttackResult) -> Summary {
    let n = r.images.len();
    let nf = n.max(1) as f64;
    let succ: Vec<&ImageResult> = r.images.iter().filter(|i| i.success).collect();
    let col = |v: &[&ImageResult], f: fn(&ImageResult) -> f64| -> Option<NormStats> {
        norm_stats(&mut v.iter().map(|i| f(i)).collect::<Vec<_>>())
    };
    let all: Vec<&ImageResult> = r.images.iter().collect();
    Summary {
        n,
        successes: succ.len(),
        success_rate: succ.len() as f64 / nf,
        clean_accuracy: r.images.iter().filter(|i| i.clean_pred == i.label).count() as f64 / nf,
        adv_accuracy: r.images.iter().filter(|i| i.adv_pred == i.label).count() as f64 / nf,
        l0_success: col(&succ, |i| i.l0 as f64),
        l2_success: col(&succ, |i| i.l2),
        linf_success: col(&succ, |i| i.linf),
        l0_all: col(&all, |i| i.l0 as f64),
        l2_all: col(&all, |i| i.l2),
        linf_all: col(&all, |i| i.linf),
        mean_iterations: r.images.iter().map(|i| i.iterations as f64).sum::<f64>() / nf,
        seconds: r.seconds,
        images_per_sec: n as f64 / r.seconds.max(1e-9),
    }
}

/// Labels must be one per image and below the model's class count.
pub fn check_labels(what: &str, labels: &[u32], n: usize, classes: usize) -> Result<()> {
    if labels.len() != n {
        bail!("{what}: {} labels for {n} images", labels.len());
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= classes) {
        bail!("{what}: label {l} at index {i} is out of range (the model has {classes} classes: 0..={})", classes - 1);
    }
    Ok(())
}

/// Targets: one per image, in range, and different from the image's label.
pub fn check_targets(what: &str, targets: &[u32], labels: &[u32], classes: usize) -> Result<()> {
    if targets.len() != labels.len() {
        bail!("{what}: {} targets for {} images", targets.len(), labels.len());
    }
    if let Some((i, &t)) = targets.iter().enumerate().find(|(_, &t)| t as usize >= classes) {
        bail!("{what}: target {t} at index {i} is out of range (the model has {classes} classes: 0..={})", classes - 1);
    }
    if let Some(i) = targets.iter().zip(labels).position(|(t, l)| t == l) {
        bail!(
            "{what}: target {} at index {i} equals the image's label; a targeted attack needs a different class",
            targets[i]
        );
    }
    Ok(())
}

/// One target per image, uniform over the classes other than its label,
/// for images at positions 0..n (see [`random_targets_at`]).
pub fn random_targets(labels: &[u32], classes: usize, seed: u64) -> Result<Vec<u32>> {
    let index: Vec<usize> = (0..labels.len()).collect();
    random_targets_at(labels, &index, classes, seed)
}

/// One target per image, uniform over the classes other than its label,
/// drawn from the image's own stream (seed, `index[i]`).
pub fn random_targets_at(labels: &[u32], index: &[usize], classes: usize, seed: u64) -> Result<Vec<u32>> {
    if classes < 2 {
        bail!("--target random: the model has {classes} class(es); a target needs at least 2");
    }
    Ok(labels
        .iter()
        .zip(index)
        .map(|(&y, &i)| {
            let mut rng = ChaCha8Rng::seed_from_u64(crate::shard::image_seed(seed, i, 0x7a72_6765_7473));
            let r = rng.random_range(0..classes as u32 - 1);
            if r >= y {
                r + 1
            } else {
                r
            }
        })
        .collect())
}

/// (label + 1) mod classes for every image.
pub fn next_targets(labels: &[u32], classes: usize) -> Vec<u32> {
    labels.iter().map(|&y| (y + 1) % classes as u32).collect()
}

/// L0 (count of changed features), L2 and L∞ of `adv - x`, in f64.
pub fn perturbation_norms(x: &[f32], adv: &[f32]) -> (usize, f64, f64) {
    let (mut l0, mut l2, mut li) = (0usize, 0f64, 0f64);
    for (&a, &b) in x.iter().zip(adv) {
        let d = b as f64 - a as f64;
        if d != 0.0 {
            l0 += 1;
        }
        l2 += d * d;
        li = li.max(d.abs());
    }
    (l0, l2.sqrt(), li)
}

/// A fresh tape with the model's logits for `x`, whose input leaf requires
/// a gradient. Returns (tape, input var, logits var).
pub fn input_tape(gpu: &Arc<Gpu>, model: &Model, x: &Tensor) -> (Graph, Var, Var) {
    let mut g = Graph::new(gpu);
    let params = model.bind(&mut g, false);
    let xv = g.leaf(x.clone(), true);
    let z = model.forward(&mut g, xv, &params);
    (g, xv, z)
}

/// ∇ₓ Σ_b xent(Z(x)_b, labels_b): per-image loss gradients in one backward pass.
pub fn xent_input_grad(gpu: &Arc<Gpu>, model: &Model, x: &Tensor, labels: &Tensor) -> Tensor {
    xent_input_grad_logits(gpu, model, x, labels).0
}

/// [`xent_input_grad`] and the logits Z(x) its forward pass computed.
pub fn xent_input_grad_logits(gpu: &Arc<Gpu>, model: &Model, x: &Tensor, labels: &Tensor) -> (Tensor, Tensor) {
    let (mut g, xv, z) = input_tape(gpu, model, x);
    let logits = g.value(z).clone();
    let loss = g.softmax_xent(z, labels);
    let mut grads = g.backward(loss, None);
    (grads.take(xv).expect("input gradient"), logits)
}

/// ∇ₓ Σ_{b,k} seed_{b,k} Z(x)_{b,k} on an existing tape.
pub fn seeded_input_grad(g: &Graph, xv: Var, z: Var, seed: &Tensor) -> Tensor {
    let mut grads = g.backward(z, Some(seed.clone()));
    grads.take(xv).expect("input gradient")
}

/// Row-wise first argmax of a host [B, K] matrix.
pub fn argmax_rows(z: &[f32], k: usize) -> Vec<u32> {
    z.chunks(k)
        .map(|r| {
            let mut best = 0;
            for j in 1..k {
                if r[j] > r[best] {
                    best = j;
                }
            }
            best as u32
        })
        .collect()
}

/// The device batch of `cfg` on `arch`: what the model's backward pass
/// holds, and for C&W its per-element state too (δ, m, v, w0: 4 floats per
/// input element, the largest tensor of a C&W batch on an MLP).
pub fn attack_device_batch(arch: &Arch, gpu: &Gpu, requested: usize, cfg: &AttackConfig) -> Result<DeviceBatch> {
    let own = if matches!(cfg, AttackConfig::Cw(_)) { 4 * arch.input_len() } else { 0 };
    device_batch_with(arch, gpu, requested, Pass::Backward, own)
}

/// Run `cfg` on `images` (N×C×H×W, or N×features, flat) with their
/// `labels`; `targets` makes the attack targeted. Validates everything
/// first and fails with a one-line error naming what is wrong.
pub fn run_attack(
    gpu: &Arc<Gpu>,
    model: &Model,
    images: &[f32],
    labels: &[u32],
    targets: Option<&[u32]>,
    cfg: &AttackConfig,
    opts: &RunOptions,
) -> Result<AttackResult> {
    run_attack_with(gpu, model, images, labels, targets, cfg, opts, |_, _| {})
}

/// [`run_attack`] with a progress callback `(images done, total)` after each batch.
#[allow(clippy::too_many_arguments)]
pub fn run_attack_with(
    gpu: &Arc<Gpu>,
    model: &Model,
    images: &[f32],
    labels: &[u32],
    targets: Option<&[u32]>,
    cfg: &AttackConfig,
    opts: &RunOptions,
    progress: impl FnMut(usize, usize),
) -> Result<AttackResult> {
    let index: Vec<usize> = (0..labels.len()).collect();
    run_attack_indexed(gpu, model, images, labels, &index, targets, cfg, opts, progress)
}

/// [`run_attack_with`] for images at positions `index` of their source:
/// the results carry these indices, and every random draw of an image
/// (PGD's start) comes from its (seed, index) stream, so the outcome of an
/// image does not depend on which other images share its batch or shard.
#[allow(clippy::too_many_arguments)]
pub fn run_attack_indexed(
    gpu: &Arc<Gpu>,
    model: &Model,
    images: &[f32],
    labels: &[u32],
    index: &[usize],
    targets: Option<&[u32]>,
    cfg: &AttackConfig,
    opts: &RunOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<AttackResult> {
    cfg.validate()?;
    if index.len() != labels.len() {
        bail!("attack: {} image indices for {} labels", index.len(), labels.len());
    }
    // Images are attacked independently, so a --batch beyond what the
    // adapter holds runs as smaller device batches with the same results
    // (C&W's batch-scoped abort apart, whose documented results depend on it).
    let batch = attack_device_batch(&model.arch, gpu, opts.batch, cfg)?.size;
    let per = model.arch.input_len();
    let classes = model.arch.classes;
    let [c, h, w] = model.arch.input;
    if per == 0 || !images.len().is_multiple_of(per) {
        bail!(
            "input images: {} values are not a whole number of {}×{}×{} images for --arch {}",
            images.len(),
            c,
            h,
            w,
            model.arch.spec
        );
    }
    let n = images.len() / per;
    if n == 0 {
        bail!("no images to attack");
    }
    if let Some((i, v)) = images.iter().enumerate().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
        bail!("input images: pixel value {v} at flat index {i} is outside [0,1]");
    }
    check_labels("labels", labels, n, classes)?;
    if let Some(t) = targets {
        check_targets("targets", t, labels, classes)?;
    } else if cfg.needs_targets() {
        bail!("{} is a targeted attack: give --targets T.npy or --target random", cfg.name());
    }
    let maxb = gpu.limits.max_compute_workgroups_per_dimension as usize;
    let batch = batch.min(maxb);

    let start = Instant::now();
    let mut adv = vec![0f32; images.len()];
    let mut out = Vec::with_capacity(n);
    for b0 in (0..n).step_by(batch) {
        let bn = batch.min(n - b0);
        let xs = &images[b0 * per..(b0 + bn) * per];
        let shape = [bn, c, h, w];
        let x = gpu.upload(xs, &shape);
        let ys = &labels[b0..b0 + bn];
        let ts = targets.map(|t| &t[b0..b0 + bn]);
        // The clean prediction is read first only when it is the attack's
        // label; otherwise it comes back with the results (and FGSM's own
        // forward pass provides it).
        let pred_first = (ts.is_none() && opts.label_source == LabelSource::Pred)
            .then(|| argmax_rows(&gpu.read(&model.logits(gpu, &x)), classes));
        let attack_label: Vec<u32> = match (ts, &pred_first) {
            (Some(t), _) => t.to_vec(),
            (None, Some(pred)) => pred.clone(),
            (None, None) => ys.to_vec(),
        };
        let lab = gpu.upload_u32(&attack_label, &[bn]);
        let targeted = ts.is_some();
        let mut clean_z = None;
        let (xadv, iters) = match cfg {
            AttackConfig::Fgsm(f) => {
                let (xa, z) = fgsm::fgsm_batch(gpu, model, &x, &lab, targeted, f);
                clean_z = Some(z);
                (xa, vec![1; bn])
            }
            AttackConfig::Pgd(p) => {
                let startx =
                    p.random_start.then(|| fgsm::random_start(xs, per, p.eps, p.norm, opts.seed, &index[b0..b0 + bn]));
                (fgsm::pgd_batch(gpu, model, &x, &lab, targeted, p, startx.as_deref()), vec![p.iters as u32; bn])
            }
            AttackConfig::Cw(cc) => cw::cw_batch(gpu, model, &x, &lab, targeted, cc),
            AttackConfig::Jsma(j) => jsma::jsma_batch(gpu, model, &x, &lab, j),
        };
        let clean_pred = match pred_first {
            Some(pred) => pred,
            None => {
                let z = clean_z.unwrap_or_else(|| model.logits(gpu, &x));
                argmax_rows(&gpu.read(&z), classes)
            }
        };
        let adv_logits = gpu.read(&model.logits(gpu, &xadv));
        let adv_pred = argmax_rows(&adv_logits, classes);
        let xa = gpu.read(&xadv);
        for i in 0..bn {
            let (l0, l2, linf) = perturbation_norms(&xs[i * per..(i + 1) * per], &xa[i * per..(i + 1) * per]);
            let success = if targeted { adv_pred[i] == attack_label[i] } else { adv_pred[i] != attack_label[i] };
            out.push(ImageResult {
                index: index[b0 + i],
                label: ys[i],
                target: ts.map(|t| t[i]),
                attack_label: attack_label[i],
                clean_pred: clean_pred[i],
                adv_pred: adv_pred[i],
                success,
                iterations: iters[i],
                l0,
                l2,
                linf,
            });
        }
        adv[b0 * per..(b0 + bn) * per].copy_from_slice(&xa);
        progress(b0 + bn, n);
    }
    Ok(AttackResult { adv, shape: [n, c, h, w], images: out, seconds: start.elapsed().as_secs_f64() })
}

//! The stAdv optimisation core (SPEC §4), batched on the GPU.
//!
//! Per image b the objective is
//!   L_adv,b + τ_b · H(L_flow,b),   H(l) = l, or max(l − E, 0) with a flow budget E,
//! with L_adv = max(max_{k≠t} Z_k − Z_t, −κ) (targeted) or
//! max(Z_y − max_{k≠y} Z_k, −κ) (untargeted), minimised over the flow by
//! - Adam (default) with per-element, so per-image, state and a cosine
//!   learning-rate decay: the images of a batch are independent problems
//!   that share dispatches, and the host reads nothing back inside a run;
//!   the best iterate per image is tracked on the GPU (strict success >
//!   soft success > failure; among successes the smaller L_flow);
//! - or L-BFGS per image (f64 on the host, batched GPU evaluations; the
//!   reference optimiser). Prefer it for the thesis protocol (hinge + large
//!   τ): there Adam's second-moment estimate fills with the τ-scaled hinge
//!   gradient as soon as L_flow crosses E, and its later steps shrink to
//!   nothing.
//!
//! The τ binary search (thesis extension, SPEC §4 b) runs every image with
//! its own τ in the same batch: per step (each from the same initial flow),
//! success (strict by default) sets lo = τ and keeps the result, failure
//! sets hi = τ; τ = (lo + hi) / 2.
//!
//! Entry point: [`attack`]. The CLI wiring (`advlab attack stadv`) lives with
//! the shared attack framework.

pub(crate) mod kernels;
mod lbfgs;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::autograd::Graph;
use crate::gpu::Gpu;
use crate::nn::capacity::{device_batch_with, DeviceBatch, Pass};
use crate::nn::Model;
use crate::ops::tv::{self, FlowLossOpts};
use crate::ops::{optim, warp};
use crate::tensor::Tensor;

/// Where the flow starts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum FlowInit {
    /// r = 0 (default; the warp is then the identity).
    Zero,
    /// r ~ U[lo, hi) per element, seeded by `StadvConfig::seed`
    /// (the reference demo uses U[0, 1)).
    Uniform { lo: f32, hi: f32 },
}

/// The τ binary search: τ starts at (lo + hi) / 2; `steps` optimisation
/// runs per image. The thesis uses lo = 0, hi = 1000; steps is unstated
/// (SPEC suggests 10).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TauSearch {
    pub lo: f32,
    pub hi: f32,
    pub steps: usize,
}

impl TauSearch {
    /// Parse `LO,HI,STEPS` (the `--tau-search` flag), e.g. `0,1000,10`.
    pub fn parse(s: &str) -> Result<TauSearch> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let bad = || {
            anyhow::anyhow!("--tau-search {s:?}: expected LO,HI,STEPS with 0 <= LO < HI and STEPS >= 1, e.g. 0,1000,10")
        };
        if parts.len() != 3 {
            return Err(bad());
        }
        let lo: f32 = parts[0].parse().map_err(|_| bad())?;
        let hi: f32 = parts[1].parse().map_err(|_| bad())?;
        let steps: usize = parts[2].parse().map_err(|_| bad())?;
        if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo < hi && steps >= 1) {
            return Err(bad());
        }
        Ok(TauSearch { lo, hi, steps })
    }
}

crate::names::named_enum! {
/// How the flow is optimised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StadvOptimizer {
    /// Adam, batched on the GPU (per-element, hence per-image, state).
    #[default]
    Adam,
    /// L-BFGS per image (f64 on the host, m = `lbfgs_memory`), with batched
    /// GPU evaluations; `iterations` caps the evaluations. The reference
    /// optimiser; robust to the scale of τ·L_flow under the hinge.
    Lbfgs,
}
}

/// Settings of one stAdv attack.
#[derive(Clone, Debug, Serialize)]
pub struct StadvConfig {
    /// Weight of the flow loss (ignored under `tau_search`). SPEC: 0.05
    /// (Xiao et al.), 0.1 (reference demo).
    pub tau: f32,
    /// Flow budget E: the hinge max(L_flow − E, 0) replaces L_flow, and
    /// strict success needs L_flow <= E (thesis: 7.0). None: plain L_flow.
    pub budget: Option<f32>,
    /// Margin κ of L_adv (0 as in the reference).
    pub kappa: f32,
    pub optimizer: StadvOptimizer,
    /// Adam steps, or L-BFGS objective evaluations, per run (per τ step
    /// under the search).
    pub iterations: usize,
    /// L-BFGS history length (SPEC: 20).
    pub lbfgs_memory: usize,
    /// Adam learning rate (pixels of flow per step, roughly).
    pub lr: f32,
    /// Cosine decay of the learning rate to 0 over the run (default on):
    /// Adam's steps never shrink by themselves, so on the non-smooth L_flow
    /// every flow element would keep oscillating by ±lr and L_flow would
    /// never fall below a floor set by lr.
    pub lr_cosine: bool,
    pub beta1: f32,
    pub beta2: f32,
    pub adam_eps: f32,
    pub flow_loss: FlowLossOpts,
    pub init: FlowInit,
    pub tau_search: Option<TauSearch>,
    /// Under the search, a step succeeds only with strict success (the
    /// target reached with L_flow <= E; SPEC's recommendation), else with
    /// soft success. Without a budget both are the same.
    pub search_strict: bool,
    /// Images optimised together (memory bound, not semantics).
    pub batch: usize,
    pub seed: u64,
}

impl Default for StadvConfig {
    fn default() -> Self {
        StadvConfig {
            tau: 0.05,
            budget: None,
            kappa: 0.0,
            optimizer: StadvOptimizer::Adam,
            iterations: 200,
            lbfgs_memory: 20,
            lr: 0.01,
            lr_cosine: true,
            beta1: 0.9,
            beta2: 0.999,
            adam_eps: 1e-8,
            flow_loss: FlowLossOpts::default(),
            init: FlowInit::Zero,
            tau_search: None,
            search_strict: true,
            batch: 256,
            seed: 0,
        }
    }
}

/// What to aim for.
#[derive(Clone, Copy, Debug)]
pub enum Goal<'a> {
    /// Any class but the label.
    Untargeted,
    /// One target class per image.
    Targeted(&'a [u32]),
}

/// Per-image results, in input order. Flows are [N, 2, H, W], images
/// [N, C, H, W], both flattened.
#[derive(Clone, Debug, Serialize)]
pub struct StadvOutcome {
    pub shape: [usize; 4],
    #[serde(skip)]
    pub flow: Vec<f32>,
    #[serde(skip)]
    pub adv: Vec<f32>,
    /// Goal reached and L_flow <= budget (= soft without a budget).
    pub success_strict: Vec<bool>,
    /// Goal reached (target class, or any class but the label).
    pub success_soft: Vec<bool>,
    pub l_flow: Vec<f32>,
    /// The model's prediction on the adversarial image.
    pub pred: Vec<u32>,
    /// The L_adv margin before the κ clamp (< 0: goal reached).
    pub margin: Vec<f32>,
    /// The iteration (within its run) at which the returned flow was found;
    /// 0 = the initial flow.
    pub iterations: Vec<u32>,
    /// τ of the run that produced the returned flow.
    pub tau: Vec<f32>,
    /// Seconds of GPU optimisation (all runs).
    pub seconds: f64,
}

impl StadvOutcome {
    pub fn len(&self) -> usize {
        self.shape[0]
    }
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }
    pub fn strict_rate(&self) -> f64 {
        self.success_strict.iter().filter(|&&s| s).count() as f64 / self.len().max(1) as f64
    }
    pub fn soft_rate(&self) -> f64 {
        self.success_soft.iter().filter(|&&s| s).count() as f64 / self.len().max(1) as f64
    }
}

/// One image's result of one run, as tracked by the objective kernel.
#[derive(Clone, Copy, Debug)]
struct Tracked {
    class: u8, // 1 fail, 2 soft, 3 strict
    l_flow: f32,
    pred: u32,
    iter: u32,
    margin: f32,
    tau: f32,
}

impl Tracked {
    /// From the kernel's 8-float record.
    fn from_record(r: &[f32], tau: f32) -> Tracked {
        Tracked { class: r[0] as u8, l_flow: r[1], pred: r[2] as u32, iter: r[3] as u32, margin: r[4], tau }
    }

    /// Better by the kernel's order (class, then smaller L_flow for successes).
    fn beats(&self, other: &Tracked) -> bool {
        self.class > other.class || (self.class == other.class && self.class >= 2 && self.l_flow < other.l_flow)
    }
}

fn check(
    model: &Model,
    images: &[f32],
    shape: [usize; 4],
    labels: &[u32],
    goal: Goal,
    cfg: &StadvConfig,
) -> Result<()> {
    let [n, c, h, w] = shape;
    if images.len() != n * c * h * w {
        bail!("stadv: {} pixel values for images of shape {shape:?}", images.len());
    }
    model.check_input("stadv images", &shape)?;
    if h < 2 || w < 2 {
        bail!("stadv: images must be at least 2×2, got {h}×{w}");
    }
    let k = model.arch.classes;
    if k < 2 {
        bail!("stadv: the model has {k} class(es); L_adv needs at least 2");
    }
    if labels.len() != n {
        bail!("stadv: {} labels for {n} images", labels.len());
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= k) {
        bail!("stadv: label {l} of image {i} is not a class of the model (0..{k})");
    }
    if let Goal::Targeted(t) = goal {
        if t.len() != n {
            bail!("stadv: {} targets for {n} images", t.len());
        }
        if let Some((i, &l)) = t.iter().enumerate().find(|(_, &l)| l as usize >= k) {
            bail!("stadv: target {l} of image {i} is not a class of the model (0..{k})");
        }
    }
    if let Some(i) = images.iter().position(|v| !v.is_finite()) {
        bail!("stadv: image value at flat index {i} is not finite");
    }
    if cfg.iterations == 0 || cfg.batch == 0 || cfg.lbfgs_memory == 0 {
        bail!("stadv: iterations, batch and the L-BFGS memory must be >= 1");
    }
    let nonneg = |v: f32| v.is_finite() && v >= 0.0;
    let positive = |v: f32| v.is_finite() && v > 0.0;
    if !nonneg(cfg.tau) || !nonneg(cfg.kappa) || !positive(cfg.lr) {
        bail!("stadv: tau and kappa must be >= 0 and lr > 0 (got tau {}, kappa {}, lr {})", cfg.tau, cfg.kappa, cfg.lr);
    }
    if let Some(e) = cfg.budget {
        if !nonneg(e) {
            bail!("stadv: the flow budget must be finite and >= 0, got {e}");
        }
    }
    if let FlowInit::Uniform { lo, hi } = cfg.init {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            bail!("stadv: uniform flow init needs lo < hi, got [{lo}, {hi})");
        }
    }
    if !nonneg(cfg.flow_loss.eps) {
        bail!("stadv: the flow-loss eps must be >= 0, got {}", cfg.flow_loss.eps);
    }
    Ok(())
}

/// How many images of `h`×`w` one stAdv device batch of `model` holds, for
/// a requested `batch` (the model's forward and backward, and the flows).
pub fn flow_device_batch(model: &Model, gpu: &Gpu, batch: usize, h: usize, w: usize) -> Result<DeviceBatch> {
    device_batch_with(&model.arch, gpu, batch, Pass::Backward, 2 * h * w)
}

/// Run stAdv on `images` ([N, C, H, W] flattened, pixels in [0,1]) with
/// their true `labels`. Processes `cfg.batch` images at a time.
pub fn attack(
    gpu: &Arc<Gpu>,
    model: &Model,
    images: &[f32],
    shape: [usize; 4],
    labels: &[u32],
    goal: Goal,
    cfg: &StadvConfig,
) -> Result<StadvOutcome> {
    let index: Vec<usize> = (0..labels.len()).collect();
    attack_indexed(gpu, model, images, shape, labels, &index, goal, cfg)
}

/// [`attack`] for images at positions `index` of their source: a random
/// initial flow comes from each image's (seed, index) stream, so an image's
/// outcome does not depend on its batch or shard.
#[allow(clippy::too_many_arguments)]
pub fn attack_indexed(
    gpu: &Arc<Gpu>,
    model: &Model,
    images: &[f32],
    shape: [usize; 4],
    labels: &[u32],
    index: &[usize],
    goal: Goal,
    cfg: &StadvConfig,
) -> Result<StadvOutcome> {
    check(model, images, shape, labels, goal, cfg)?;
    if index.len() != labels.len() {
        bail!("stadv: {} image indices for {} labels", index.len(), labels.len());
    }
    let [n, c, h, w] = shape;
    let (per_img, per_flow) = (c * h * w, 2 * h * w);
    let mut out = StadvOutcome {
        shape,
        flow: Vec::with_capacity(n * per_flow),
        adv: Vec::with_capacity(n * per_img),
        success_strict: Vec::with_capacity(n),
        success_soft: Vec::with_capacity(n),
        l_flow: Vec::with_capacity(n),
        pred: Vec::with_capacity(n),
        margin: Vec::with_capacity(n),
        iterations: Vec::with_capacity(n),
        tau: Vec::with_capacity(n),
        seconds: 0.0,
    };
    // Images are independent problems: a batch beyond what the adapter
    // holds runs as smaller device batches with the same results. Besides
    // the model's tensors, each image keeps flows of 2·H·W floats.
    let batch = flow_device_batch(model, gpu, cfg.batch, h, w)?.size;
    let start = Instant::now();
    for s in (0..n).step_by(batch) {
        let b = batch.min(n - s);
        let img = gpu.upload(&images[s * per_img..(s + b) * per_img], &[b, c, h, w]);
        let cls: Vec<u32> = match goal {
            Goal::Untargeted => labels[s..s + b].to_vec(),
            Goal::Targeted(t) => t[s..s + b].to_vec(),
        };
        let cls = gpu.upload_u32(&cls, &[b]);
        let targeted = matches!(goal, Goal::Targeted(_));
        let idx = &index[s..s + b];
        let (flows, tracked) = match cfg.tau_search {
            None => run(gpu, model, &img, &cls, targeted, &vec![cfg.tau; b], cfg, idx),
            Some(ts) => search(gpu, model, &img, &cls, targeted, ts, cfg, idx),
        };
        let ft = gpu.upload(&flows, &[b, 2, h, w]);
        out.adv.extend(gpu.read(&warp::forward(gpu, &img, &ft)));
        out.flow.extend(flows);
        for t in tracked {
            out.success_strict.push(t.class == 3);
            out.success_soft.push(t.class >= 2);
            out.l_flow.push(t.l_flow);
            out.pred.push(t.pred);
            out.margin.push(t.margin);
            out.iterations.push(t.iter);
            out.tau.push(t.tau);
        }
    }
    out.seconds = start.elapsed().as_secs_f64();
    Ok(out)
}

/// The τ binary search over one batch: every image has its own τ.
#[allow(clippy::too_many_arguments)]
fn search(
    gpu: &Arc<Gpu>,
    model: &Model,
    img: &Tensor,
    cls: &Tensor,
    targeted: bool,
    ts: TauSearch,
    cfg: &StadvConfig,
    index: &[usize],
) -> (Vec<f32>, Vec<Tracked>) {
    let b = img.shape()[0];
    let per = 2 * img.shape()[2] * img.shape()[3];
    let (mut lo, mut hi) = (vec![ts.lo; b], vec![ts.hi; b]);
    let mut kept: Vec<Option<Tracked>> = vec![None; b];
    let mut flows = vec![0f32; b * per];
    let mut found = vec![false; b];
    for _ in 0..ts.steps {
        let tau: Vec<f32> = (0..b).map(|i| 0.5 * (lo[i] + hi[i])).collect();
        // every step starts from the same initial flow (SPEC §4 b)
        let (f, tr) = run(gpu, model, img, cls, targeted, &tau, cfg, index);
        for i in 0..b {
            let t = tr[i];
            let ok = if cfg.search_strict { t.class == 3 } else { t.class >= 2 };
            if ok {
                lo[i] = tau[i];
            } else {
                hi[i] = tau[i];
            }
            // the latest success by the search's rule; until there is one,
            // the best result seen
            let take = if ok { true } else { !found[i] && kept[i].is_none_or(|k| t.beats(&k)) };
            if take {
                kept[i] = Some(t);
                flows[i * per..(i + 1) * per].copy_from_slice(&f[i * per..(i + 1) * per]);
            }
            found[i] |= ok;
        }
    }
    (flows, kept.into_iter().map(|k| k.expect("at least one step")).collect())
}

/// The batch being attacked and the fixed parts of its objective.
struct Problem<'a> {
    gpu: &'a Arc<Gpu>,
    model: &'a Model,
    img: &'a Tensor,
    cls: &'a Tensor,
    tau: Tensor,
    step: kernels::Step,
    flow_loss: FlowLossOpts,
    /// Best iterate per image: [B, 8] record and [B, 2, H, W] flow.
    best: Tensor,
    best_flow: Tensor,
}

impl Problem<'_> {
    /// Objective and its flow gradient at `flow`, for every image of the
    /// batch; with `track` the evaluation also updates the best-iterate
    /// record (tagged `iter`). Returns (gradient [B, 2, H, W], this
    /// evaluation's record [B, 8]), recorded, not yet submitted. With `grad`
    /// false only the tracking runs.
    fn evaluate(&self, flow: &Tensor, iter: u32, grad: bool, track: bool) -> Option<(Tensor, Tensor)> {
        let gpu = self.gpu;
        let warped = warp::forward(gpu, self.img, flow);
        // The chain is spelled out rather than taped: the warp and L_flow
        // gradients then sum in place (tv::backward_add) with no extra pass.
        let mut g = Graph::new(gpu);
        let params = self.model.bind(&mut g, false);
        let xv = g.leaf(warped, true);
        let logits = self.model.forward(&mut g, xv, &params);
        let lf = tv::forward(gpu, flow, &self.flow_loss);
        let (dlogits, dlflow, cur) =
            kernels::objective(gpu, &self.step, iter, g.value(logits), self.cls, &lf, &self.tau, &self.best, track);
        if track {
            kernels::keep(gpu, iter, &self.best, flow, &self.best_flow);
        }
        if !grad {
            return None;
        }
        let mut grads = g.backward(logits, Some(dlogits));
        let dx = grads.take(xv).expect("gradient of the warped images");
        let gf = warp::backward_flow(gpu, self.img, flow, &dx);
        tv::backward_add(gpu, flow, &dlflow, &self.flow_loss, &gf);
        Some((gf, cur))
    }

    fn tracked(&self, tau: &[f32]) -> Vec<Tracked> {
        let bt = self.gpu.read(&self.best);
        (0..tau.len()).map(|i| Tracked::from_record(&bt[i * 8..i * 8 + 8], tau[i])).collect()
    }
}

/// One optimisation run over a batch at per-image `tau`: returns the best
/// flow per image (host, [B, 2, H, W]) and what the kernel tracked.
#[allow(clippy::too_many_arguments)]
fn run(
    gpu: &Arc<Gpu>,
    model: &Model,
    img: &Tensor,
    cls: &Tensor,
    targeted: bool,
    tau: &[f32],
    cfg: &StadvConfig,
    index: &[usize],
) -> (Vec<f32>, Vec<Tracked>) {
    let [b, _, h, w] = [img.shape()[0], img.shape()[1], img.shape()[2], img.shape()[3]];
    let fshape = [b, 2, h, w];
    let init: Vec<f32> = match cfg.init {
        FlowInit::Zero => vec![0.0; b * 2 * h * w],
        FlowInit::Uniform { lo, hi } => index
            .iter()
            .flat_map(|&i| {
                let mut rng = ChaCha8Rng::seed_from_u64(crate::shard::image_seed(cfg.seed, i, 0x666c_6f77));
                (0..2 * h * w).map(move |_| rng.random_range(lo..hi))
            })
            .collect(),
    };
    let pb = Problem {
        gpu,
        model,
        img,
        cls,
        tau: gpu.upload(tau, &[b]),
        step: kernels::Step { targeted, kappa: cfg.kappa, budget: cfg.budget, classes: model.arch.classes },
        flow_loss: cfg.flow_loss,
        best: gpu.zeros(&[b, 8]),
        best_flow: gpu.alloc(&fshape),
    };
    match cfg.optimizer {
        StadvOptimizer::Adam => {
            let flow = gpu.upload(&init, &fshape);
            let (m, v) = (gpu.zeros(&fshape), gpu.zeros(&fshape));
            for it in 0..cfg.iterations {
                let (gf, _) = pb.evaluate(&flow, it as u32, true, true).expect("gradient");
                let lr = if cfg.lr_cosine {
                    cfg.lr * 0.5 * (1.0 + (std::f32::consts::PI * it as f32 / cfg.iterations as f32).cos())
                } else {
                    cfg.lr
                };
                optim::adam(gpu, &flow, &gf, &m, &v, it as u32 + 1, lr, (cfg.beta1, cfg.beta2), cfg.adam_eps, 0.0);
            }
            pb.evaluate(&flow, cfg.iterations as u32, false, true);
            (gpu.read(&pb.best_flow), pb.tracked(tau))
        }
        StadvOptimizer::Lbfgs => {
            // Tracking on the host: only accepted iterates count, not the
            // line search's trial points.
            let per = 2 * h * w;
            let mut states: Vec<lbfgs::State> =
                init.chunks(per).map(|c| lbfgs::State::new(c.iter().map(|&v| v as f64).collect())).collect();
            let mut trial = vec![0f32; b * per];
            let mut best_flow = vec![0f32; b * per];
            let mut best: Vec<Option<Tracked>> = vec![None; b];
            for round in 0..cfg.iterations {
                for (st, t) in states.iter().zip(trial.chunks_mut(per)) {
                    st.trial(t);
                }
                let flow = gpu.upload(&trial, &fshape);
                let (gf, cur) = pb.evaluate(&flow, round as u32, true, false).expect("gradient");
                let (g, cur) = (gpu.read(&gf), gpu.read(&cur));
                for (i, st) in states.iter_mut().enumerate() {
                    let rec = Tracked::from_record(&cur[i * 8..i * 8 + 8], tau[i]);
                    if st.update(rec_objective(&cur[i * 8..i * 8 + 8]), &g[i * per..(i + 1) * per], cfg.lbfgs_memory)
                        && best[i].is_none_or(|b| rec.beats(&b) || (rec.class == 1 && b.class == 1))
                    {
                        best[i] = Some(rec);
                        best_flow[i * per..(i + 1) * per].copy_from_slice(&trial[i * per..(i + 1) * per]);
                    }
                }
                if states.iter().all(|s| s.done()) {
                    break;
                }
            }
            (best_flow, best.into_iter().map(|t| t.expect("the initial point is an iterate")).collect())
        }
    }
}

/// The objective value in an evaluation record.
fn rec_objective(r: &[f32]) -> f64 {
    r[5] as f64
}

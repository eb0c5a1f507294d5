//! `advlab reproduce fig6`: thesis §4.2 / Fig. 6 (SPEC §8).
//!
//! One seeded sample of `count` test images (indices.npy) and one random
//! target ≠ label per image (targets.npy, drawn as `--target random` draws
//! them), the same for every model; targeted stAdv (crate::stadv) with the
//! hinge at the flow budget (7.0) and the τ binary search on [0, 1000],
//! L-BFGS per image. Success is counted two ways: soft (the target reached,
//! as the thesis counts) and strict (and L_flow ≤ budget). Two flow-loss
//! settings:
//! - `thesis`: the loss of the stAdv code at the thesis' time (v0.1, one
//!   square root per shift, `--variant shift`), diag4, constant padding;
//! - `certificate`: the per-pixel loss (v0.2) with the certificate's own
//!   neighbours and constant padding, so L_flow ≥ ‖N r‖₂ (SPEC §7).
//!
//! Every attacked image is checked against the spatial certificate
//! ([`super::bounds`]) with U computed once per model (verified SDP bounds,
//! same neighbours, constant padding).
//!
//! Outputs (each file written to a temp file and renamed): indices.npy,
//! targets.npy, labels.npy, bounds-MODEL.npy (10×10 U), MODEL/SETTING/
//! {adv.npy, flow.npy, per_image.json}, fig6.png, results.json.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};

use super::bars::{self, Bar, Group};
use super::bounds::{self, BoundCheck};
use crate::certify::batch;
use crate::certify::flow;
use crate::certify::network::{Mlp, PairSetup, Threat};
use crate::certify::sdp::SdpOptions;
use crate::data::{self, npy, DataSpec, Dataset, Split};
use crate::gpu::{Gpu, GpuOptions};
use crate::nn::arch::Arch;
use crate::nn::Model;
use crate::ops::tv::{FlowLossOpts, Neighbours, Padding, Variant};
use crate::report;
use crate::stadv::{self, Goal, StadvConfig, StadvOptimizer, TauSearch};

/// The command name in results.json.
pub const COMMAND: &str = "reproduce fig6";

crate::names::named_enum! {
/// A flow-loss setting of the attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Setting {
    /// The thesis-era loss: stAdv v0.1, one square root per shift (--variant shift), diag4, constant padding
    Thesis,
    /// The thesis-era loss with the reference function's default SYMMETRIC padding (edge-replicate: a constant flow costs 0)
    #[serde(rename = "thesis-symmetric")]
    ThesisSymmetric,
    /// Consistent with the certificate: per-pixel roots (v0.2), N's neighbours, constant padding (L_flow ≥ ‖N r‖₂)
    Certificate,
}
}

impl Setting {
    pub fn flow_loss(self, nb: Neighbours) -> FlowLossOpts {
        let variant = match self {
            Setting::Thesis | Setting::ThesisSymmetric => Variant::Shift,
            Setting::Certificate => Variant::Pixel,
        };
        let neighbours = match self {
            Setting::Thesis | Setting::ThesisSymmetric => Neighbours::Diag4,
            Setting::Certificate => nb,
        };
        let padding = match self {
            Setting::ThesisSymmetric => Padding::Symmetric,
            Setting::Thesis | Setting::Certificate => Padding::Constant,
        };
        FlowLossOpts { neighbours, padding, eps: 1e-8, variant }
    }
}

crate::names::named_enum! {
/// What moves the τ search's lower end up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchOn {
    /// The target reached (the thesis)
    #[default]
    Soft,
    /// The target reached with L_flow within the budget
    Strict,
}
}

/// Everything the command takes.
#[derive(Clone, Debug)]
pub struct Fig6Options {
    pub arch: String,
    /// (name, model file): "plain" and "certified" in the thesis.
    pub models: Vec<(String, PathBuf)>,
    /// Per model, optionally: a k×k .npy of verified flow-certificate upper
    /// bounds of that model (`advlab certify --threat flow` bounds.npy, same
    /// neighbours, constant padding, γ = 1) used instead of solving the SDPs.
    pub bounds: Vec<Option<PathBuf>>,
    pub data: DataSpec,
    pub count: usize,
    pub seed: u64,
    pub settings: Vec<Setting>,
    pub search_on: SearchOn,
    pub tau_search: TauSearch,
    /// The flow budget (hinge and strict success; thesis 7.0).
    pub budget: f32,
    pub kappa: f32,
    /// L-BFGS evaluations per τ step.
    pub iterations: usize,
    /// Neighbours of N (and of the certificate setting's L_flow).
    pub neighbours: Neighbours,
    pub batch: usize,
    /// The SDP solve behind U.
    pub sdp: SdpOptions,
    pub out_dir: PathBuf,
    pub command_line: String,
}

/// One model under one setting.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub model: String,
    pub setting: Setting,
    pub images: usize,
    pub soft: usize,
    pub strict: usize,
    pub soft_rate: Interval,
    pub strict_rate: Interval,
    /// Mean L_flow (the setting's loss) and mean ‖N r‖₂ over soft successes.
    pub mean_l_flow_soft: Option<f64>,
    pub mean_n_norm_soft: Option<f64>,
    pub seconds: f64,
    pub check: BoundCheck,
}

/// A rate with its 95% Wilson score interval.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Interval {
    pub rate: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The 95% Wilson score interval of k successes in n trials (exactly 0 and 1
/// at the ends; n = 0 gives the whole of [0, 1]).
pub fn wilson(k: usize, n: usize) -> Interval {
    let r = super::stats::Rate::new(k, n);
    let lo = if k == 0 { 0.0 } else { r.lo.unwrap_or(0.0) };
    let hi = if k == n { 1.0 } else { r.hi.unwrap_or(1.0) };
    Interval { rate: r.rate.unwrap_or(0.0), lo, hi }
}

/// `count` distinct positions of 0..n, drawn with `seed` (a seeded partial
/// Fisher–Yates shuffle; the order drawn is kept).
pub fn sample(n: usize, count: usize, seed: u64) -> Result<Vec<usize>> {
    if count == 0 {
        bail!("--count 0: attack at least one image");
    }
    if count > n {
        bail!("--count {count}: the test set has only {n} images");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6669_6736);
    let mut all: Vec<usize> = (0..n).collect();
    for i in 0..count {
        let j = rng.random_range(i..n);
        all.swap(i, j);
    }
    all.truncate(count);
    Ok(all)
}

fn check_options(o: &Fig6Options) -> Result<()> {
    if o.count == 0 {
        bail!("--count 0: attack at least one image");
    }
    if o.settings.is_empty() {
        bail!("--settings: give at least one of thesis, certificate");
    }
    if o.models.is_empty() {
        bail!("reproduce fig6: no models to attack");
    }
    if !(o.budget.is_finite() && o.budget > 0.0) {
        bail!("--flow-budget {}: must be finite and > 0", o.budget);
    }
    if !(o.kappa.is_finite() && o.kappa >= 0.0) {
        bail!("--kappa {}: must be finite and >= 0", o.kappa);
    }
    if o.iterations == 0 {
        bail!("--iters 0: must be at least 1");
    }
    if o.batch == 0 {
        bail!("--batch 0: must be at least 1");
    }
    for (name, p) in &o.models {
        if !p.is_file() {
            bail!("--{name} {}: no such model file", p.display());
        }
    }
    if o.bounds.len() != o.models.len() {
        bail!("reproduce fig6: {} bounds entries for {} models", o.bounds.len(), o.models.len());
    }
    crate::cli::sdp::check_opts(o.sdp.tol, o.sdp.max_sweeps, o.sdp.rank)?;
    flow::check(1, 1, Padding::Constant)
}

/// The 10×10 matrix of verified flow-certificate upper bounds U of `mlp`
/// (symmetric; diagonal 0), and seconds.
pub fn flow_bounds(gpu: &Arc<Gpu>, mlp: &Mlp, nb: Neighbours, sdp: &SdpOptions) -> Result<(Vec<f64>, Value)> {
    let t = Instant::now();
    let [_, h, w] = mlp.input;
    let lambda = flow::lambda(h, w, nb, Padding::Constant)?;
    let setup = PairSetup::new(Threat::Flow, mlp, Some(&lambda));
    let ids = mlp.pairs();
    let avecs: Vec<Vec<f64>> = ids.iter().map(|&(i, j)| mlp.pair_vector(i, j, 1.0)).collect();
    let problems: Vec<_> = avecs.iter().map(|a| setup.problem(mlp, a)).collect();
    let (pairs, _) = batch::solve_gpu(gpu, &problems, &ids, sdp);
    let k = mlp.k;
    let mut u = vec![0.0; k * k];
    for p in &pairs {
        u[p.i * k + p.j] = p.upper;
        u[p.j * k + p.i] = p.upper;
    }
    let worst_gap = pairs.iter().map(|p| p.gap / p.lower.abs().max(1e-300)).fold(0.0, f64::max);
    let info = json!({
        "seconds": t.elapsed().as_secs_f64(),
        "mean_upper": pairs.iter().map(|p| p.upper).sum::<f64>() / pairs.len() as f64,
        "max_upper": pairs.iter().map(|p| p.upper).fold(0.0, f64::max),
        "worst_relative_gap": worst_gap,
        "all_converged": pairs.iter().all(|p| p.converged),
        "max_sweeps_used": pairs.iter().map(|p| p.sweeps).max(),
    });
    Ok((u, info))
}

/// A k×k matrix of bounds from `path` (--NAME-bounds): finite, symmetric, > 0 off the diagonal.
fn read_bounds(name: &str, path: &Path, k: usize) -> Result<Vec<f64>> {
    let (shape, u) = npy::read_npy_f64(path).map_err(|e| anyhow!("--{name}-bounds {}: {e:#}", path.display()))?;
    let ok = shape == [k, k]
        && (0..k).all(|i| {
            (0..k).all(|j| i == j || (u[i * k + j].is_finite() && u[i * k + j] > 0.0 && u[i * k + j] == u[j * k + i]))
        });
    if !ok {
        bail!("--{name}-bounds {}: expected a symmetric {k}×{k} matrix of finite bounds > 0 off the diagonal (bounds.npy of advlab certify --threat flow), got shape {shape:?}", path.display());
    }
    Ok(u)
}

/// Clean accuracy of `mlp` (f64 logits) on `ds` at positions `idx`.
fn accuracy(mlp: &Mlp, ds: &Dataset, idx: &[usize]) -> f64 {
    let ok = idx
        .iter()
        .filter(|&&i| {
            let l = mlp.logits(ds.image(i));
            let p = (0..l.len()).fold(0, |b, c| if l[c] > l[b] { c } else { b });
            p == ds.labels[i] as usize
        })
        .count();
    ok as f64 / idx.len().max(1) as f64
}

fn write_per_image(path: &Path, out: &stadv::StadvOutcome, check: &BoundCheck) -> Result<()> {
    let v = json!({
        "success_soft": out.success_soft,
        "success_strict": out.success_strict,
        "l_flow": out.l_flow,
        "prediction": out.pred,
        "tau": out.tau,
        "n_norm": check.per_image.iter().map(|c| c.n_norm).collect::<Vec<_>>(),
        "delta_margin": check.per_image.iter().map(|c| c.delta).collect::<Vec<_>>(),
        "bound": check.per_image.iter().map(|c| c.bound).collect::<Vec<_>>(),
    });
    crate::fsutil::write_atomic(path, serde_json::to_string(&v)?.as_bytes())
}

/// What the command prints.
pub struct Fig6Summary {
    pub cells: Vec<Cell>,
    pub clean_accuracy: Vec<(String, f64, f64)>,
    pub seconds: f64,
}

/// Validate everything, then sample, bound, attack, check and write.
pub fn run(gpu_opts: &GpuOptions, o: &Fig6Options) -> Result<Fig6Summary> {
    let t_all = Instant::now();
    check_options(o)?;
    let arch = Arch::parse(&o.arch)?;
    Mlp::sizes(&arch)?;
    let mlps: Vec<Mlp> = o
        .models
        .iter()
        .map(|(name, p)| Mlp::load(&arch, p).map_err(|e| anyhow!("--{name} {}: {e:#}", p.display())))
        .collect::<Result<_>>()?;
    let ds = data::load(&o.data, Split::Test)?;
    if ds.image_len() != mlps[0].d {
        bail!("--data: images of {} values do not fit --arch {}", ds.image_len(), o.arch);
    }
    let results_path = o.out_dir.join("results.json");
    report::check_results_path(&results_path, COMMAND)?;
    let mut stages = serde_json::Map::new();

    // the sample and its targets
    let t = Instant::now();
    let idx = sample(ds.n, o.count, o.seed)?;
    let labels: Vec<u32> = idx.iter().map(|&i| ds.labels[i]).collect();
    data::check_classes("--data labels", &labels, mlps[0].k)?;
    let targets = crate::attack::random_targets_at(&labels, &idx, mlps[0].k, o.seed)?;
    let images: Vec<f32> = idx.iter().flat_map(|&i| ds.image(i).iter().copied()).collect();
    let shape = [idx.len(), ds.c, ds.h, ds.w];
    stages.insert("sample_seconds".into(), json!(t.elapsed().as_secs_f64()));

    let gpu = crate::cli::open_gpu(gpu_opts)?;
    let models: Vec<Model> = o.models.iter().map(|(_, p)| Model::load(&gpu, arch.clone(), p)).collect::<Result<_>>()?;
    let dir = &o.out_dir;
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("--out-dir {}: cannot create: {e}", dir.display()))?;
    let as_i64 = |v: &[usize]| v.iter().map(|&x| x as i64).collect::<Vec<i64>>();
    npy::write_npy_i64(&dir.join("indices.npy"), &[idx.len()], &as_i64(&idx))?;
    npy::write_npy_i64(&dir.join("targets.npy"), &[idx.len()], &targets.iter().map(|&x| x as i64).collect::<Vec<_>>())?;
    npy::write_npy_i64(&dir.join("labels.npy"), &[idx.len()], &labels.iter().map(|&x| x as i64).collect::<Vec<_>>())?;

    // clean accuracy (f64 host logits): the sample and the whole test set
    let all: Vec<usize> = (0..ds.n).collect();
    let pos: Vec<usize> = (0..idx.len()).collect();
    let sample_ds = Dataset::new(images.clone(), labels.clone(), ds.c, ds.h, ds.w)?;
    let clean: Vec<(String, f64, f64)> = o
        .models
        .iter()
        .zip(&mlps)
        .map(|((n, _), m)| (n.clone(), accuracy(m, &sample_ds, &pos), accuracy(m, &ds, &all)))
        .collect();

    // the certificate's U, once per model
    let mut bounds_info = serde_json::Map::new();
    let mut us = Vec::new();
    let given: Vec<Option<Vec<f64>>> = o
        .models
        .iter()
        .zip(&o.bounds)
        .zip(&mlps)
        .map(|(((name, _), b), mlp)| b.as_ref().map(|p| read_bounds(name, p, mlp.k)).transpose())
        .collect::<Result<_>>()?;
    for (((name, _), mlp), given) in o.models.iter().zip(&mlps).zip(given) {
        let (u, info) = match given {
            Some(u) => (u, json!({"from_file": o.bounds[us.len()].as_ref().map(|p| p.display().to_string())})),
            None => {
                eprintln!("{name}: 45 flow certificates ({} neighbours, constant padding)", o.neighbours);
                flow_bounds(&gpu, mlp, o.neighbours, &o.sdp)?
            }
        };
        npy::write_npy_f64(&dir.join(format!("bounds-{name}.npy")), &[mlp.k, mlp.k], &u)?;
        bounds_info.insert(name.clone(), info);
        us.push(u);
    }

    // the attacks and the checks
    let mut cells = Vec::new();
    for &setting in &o.settings {
        let cfg = StadvConfig {
            tau: 0.0,
            budget: Some(o.budget),
            kappa: o.kappa,
            optimizer: StadvOptimizer::Lbfgs,
            iterations: o.iterations,
            flow_loss: setting.flow_loss(o.neighbours),
            tau_search: Some(o.tau_search),
            search_strict: o.search_on == SearchOn::Strict,
            batch: o.batch,
            seed: o.seed,
            ..StadvConfig::default()
        };
        for (m, ((name, _), model)) in o.models.iter().zip(&models).enumerate() {
            eprintln!("{name}, {setting} setting: stAdv on {} images ({})", idx.len(), cfg.flow_loss);
            let out =
                stadv::attack_indexed(&gpu, model, &images, shape, &labels, &idx, Goal::Targeted(&targets), &cfg)?;
            let sub = dir.join(name).join(setting.to_string());
            std::fs::create_dir_all(&sub).map_err(|e| anyhow!("{}: cannot create: {e}", sub.display()))?;
            npy::write_npy_f32(&sub.join("adv.npy"), &shape, &out.adv)?;
            npy::write_npy_f32(&sub.join("flow.npy"), &[idx.len(), 2, ds.h, ds.w], &out.flow)?;
            let check = bounds::check(&mlps[m], &us[m], &images, &out.flow, &out.adv, &labels, &targets, o.neighbours);
            write_per_image(&sub.join("per_image.json"), &out, &check)?;
            let soft = out.success_soft.iter().filter(|&&s| s).count();
            let strict = out.success_strict.iter().filter(|&&s| s).count();
            let mean = |f: &dyn Fn(usize) -> f64| {
                (soft > 0).then(|| (0..idx.len()).filter(|&i| out.success_soft[i]).map(f).sum::<f64>() / soft as f64)
            };
            let cell = Cell {
                model: name.clone(),
                setting,
                images: idx.len(),
                soft,
                strict,
                soft_rate: wilson(soft, idx.len()),
                strict_rate: wilson(strict, idx.len()),
                mean_l_flow_soft: mean(&|i| out.l_flow[i] as f64),
                mean_n_norm_soft: mean(&|i| check.per_image[i].n_norm),
                seconds: out.seconds,
                check,
            };
            eprintln!(
                "{name}, {setting}: soft {soft}, strict {strict} of {}; bound violations {} (max ratio {:?}); {:.1} s",
                idx.len(),
                cell.check.violations,
                cell.check.max_ratio,
                out.seconds
            );
            cells.push(cell);
            // partial results after every cell, so a long run stopped early keeps what it measured
            let so_far = t_all.elapsed().as_secs_f64();
            write_results(o, &gpu, idx.len(), &cells, &clean, &bounds_info, &stages, so_far, false)?;
        }
    }

    let seconds = t_all.elapsed().as_secs_f64();
    write_results(o, &gpu, idx.len(), &cells, &clean, &bounds_info, &stages, seconds, true)?;
    crate::cli::print_profile(&gpu);
    Ok(Fig6Summary { cells, clean_accuracy: clean, seconds })
}

/// fig6.png and results.json from the cells measured so far (`complete`:
/// every model and setting ran).
#[allow(clippy::too_many_arguments)]
fn write_results(
    o: &Fig6Options,
    gpu: &Gpu,
    n: usize,
    cells: &[Cell],
    clean: &[(String, f64, f64)],
    bounds_info: &serde_json::Map<String, Value>,
    stages: &serde_json::Map<String, Value>,
    seconds: f64,
    complete: bool,
) -> Result<()> {
    let dir = &o.out_dir;
    let groups: Vec<Group> = o
        .settings
        .iter()
        .map(|&s| Group {
            caption: format!("{} SETTING", s.to_string().to_uppercase()),
            bars: cells
                .iter()
                .filter(|c| c.setting == s)
                .map(|c| Bar { label: c.model.to_uppercase(), soft: c.soft, strict: c.strict })
                .collect(),
        })
        .collect();
    let title = format!("STADV SUCCESSES OF {n} TARGETED ATTACKS");
    bars::chart(&dir.join("fig6.png"), &title, n, &groups)?;
    let mut stages = stages.clone();
    stages.insert("bounds".into(), Value::Object(bounds_info.clone()));
    stages.insert(
        "attacks_seconds".into(),
        json!(cells
            .iter()
            .map(|c| json!({"model": c.model, "setting": c.setting, "seconds": c.seconds}))
            .collect::<Vec<_>>()),
    );
    stages.insert("total_seconds".into(), json!(seconds));
    let settings = json!({
        "arch": o.arch,
        "models": o.models.iter().map(|(n, p)| json!({"name": n, "path": p.display().to_string()})).collect::<Vec<_>>(),
        "data": format!("{:?}", o.data),
        "count": o.count,
        "seed": o.seed,
        "sample": "indices.npy: a seeded partial Fisher-Yates draw of --count distinct test positions; targets.npy: uniform over the classes != label, per image from its (seed, index) stream (as --target random)",
        "settings": o.settings.iter().map(|s| json!({"name": s, "flow_loss": s.flow_loss(o.neighbours)})).collect::<Vec<_>>(),
        "search_on": o.search_on,
        "tau_search": o.tau_search,
        "flow_budget": o.budget,
        "kappa": o.kappa,
        "optimizer": "lbfgs",
        "lbfgs_evaluations_per_step": o.iterations,
        "neighbours_of_n": o.neighbours,
        "padding_of_n": "constant",
        "batch": o.batch,
        "sdp": {"tol": o.sdp.tol, "max_sweeps": o.sdp.max_sweeps, "seed": o.sdp.seed, "check_every": o.sdp.check_every},
    });
    let results = json!({
        "clean_accuracy": clean.iter().map(|(n, s, t)| json!({"model": n, "sample": s, "test_set": t})).collect::<Vec<_>>(),
        "complete": complete,
        "cells": cells,
        "bound_violations": cells.iter().map(|c| c.check.violations).sum::<usize>(),
        "max_bound_ratio": cells.iter().filter_map(|c| c.check.max_ratio).fold(f64::NEG_INFINITY, f64::max),
        "bound_rule": "for every attacked image: delta = (f_t - f_y)(warp(x, r)) - (f_t - f_y)(x) <= (||N r||_2 / 2) * U[t][y]; f64 host warp and logits, U = bounds-MODEL.npy (verified SDP upper bounds of SPEC 7's P, gamma = 1), ||N r||_2 with N = blockdiag(N1, N1), neighbours_of_n, constant padding",
        "success_rule": "soft: the model's argmax on the warped image is the target; strict: soft and L_flow (the setting's loss) <= flow_budget",
        "stages": Value::Object(stages),
    });
    let mut v = report::envelope(COMMAND, Some(gpu), settings, results);
    v["command_line"] = json!(o.command_line);
    report::write_json(&dir.join("results.json"), &v)
}

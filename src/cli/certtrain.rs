//! `advlab train --certify linf|flow`: certified training (issue 13 item 5).
//! Two routes to the SDP value of each class pair inside `fit`:
//! - `--cert-method dual` (Raghunathan et al.): one dual vector c per pair
//!   trains jointly with the network, loss = CE + λ·κ(ε)·Σ_pairs
//!   [D·λ⁺_max(P − diag c) + Σ max(c, 0)] (certify::penalty). The duals start
//!   from a verified SDP solve of the starting network, live in the train
//!   state (`p.cert.c`, with their Adam moments) and in OUT.cert-duals.npy,
//!   never in the model file; the Lanczos warm starts go to OUT.cert-warm.npy
//!   so `--resume` replays bit for bit.
//! - `--cert-method primal`: warm-started low-rank mixing-method factors per
//!   pair (certify::primal, OUT.cert-primal.npy), Danskin gradients. With
//!   `--cert-loss penalty` the loss is CE + λ·κ·Σ_pairs ⟨P, VVᵀ⟩; with
//!   `--cert-loss robust` it is CE + λ·CE(z + κ·U[y], y), the cross-entropy
//!   of the certified logits (certify::train::robust_offsets_op).
//!
//! After every epoch the weights are certified as `advlab certify` would
//! (a capped cold GPU solve, f64-verified, and for the primal route the
//! factors' duals as a second candidate per pair) and the bounds logged with
//! the certified accuracy at ε on the first `--cert-count` images of the
//! validation split, else the test set (OUT.cert-epochs.json).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::autograd::{Graph, Var};
use crate::certify::network::{self, Mlp, Threat};
use crate::certify::penalty::{Penalty, PenaltyWeights};
use crate::certify::primal::PrimalPenalty;
use crate::certify::sdp::SdpOptions;
use crate::certify::train::{
    mlp_of, penalty_for, penalty_op, primal_for, primal_op, robust_offsets_op, verified_dual_bounds, verified_pairs,
    CertLoss, CertMethod, CertTrainConfig,
};
use crate::data::{npy, Dataset};
use crate::gpu::Gpu;
use crate::nn::arch::Arch;
use crate::nn::fit::{fit, Batch, EpochStats, FitConfig, FitHooks, FitReport, FitRun, StepOut};
use crate::nn::model::Param;
use crate::nn::train::classifier_objective;
use crate::nn::Model;
use crate::ops::tv::Neighbours;

/// The flags of certified training.
#[derive(Args, Clone, Debug)]
pub struct CertFlags {
    /// Certified training (mlp:D-H-K only): add the SDP dual penalty for this threat (linf: pixel L∞,
    /// SPEC §6; flow: ‖N r‖₂, SPEC §7), dual vectors trained jointly
    #[arg(long, value_enum)]
    pub certify: Option<Threat>,
    /// ε of the certificate penalty (κ = ε/4 for linf, ε/2 for flow)
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub cert_eps: f64,
    /// λ: weight of the certificate penalty beside the cross-entropy
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    pub cert_weight: f64,
    /// Lanczos steps per training step for the top eigenvectors (warm-started)
    #[arg(long, default_value_t = 6)]
    pub cert_lanczos: usize,
    /// Flow: neighbours of N (constant padding)
    #[arg(long, value_enum, default_value_t = Neighbours::Diag4)]
    pub cert_neighbours: Neighbours,
    /// Images whose certified accuracy at --cert-eps is logged after each epoch (the first of the --val split if any, else of the test set)
    #[arg(long, default_value_t = 1000)]
    pub cert_count: usize,
    /// How training reaches the SDP value: dual (c_ij trained jointly, Lanczos λ_max, Raghunathan et al.)
    /// or primal (warm-started low-rank mixing-method factors, Danskin gradient of ⟨P, VVᵀ⟩)
    #[arg(long, value_enum, default_value_t = CertMethod::Dual)]
    pub cert_method: CertMethod,
    /// Primal: columns of each pair's factor V
    #[arg(long, default_value_t = 8)]
    pub cert_rank: usize,
    /// Primal: mixing-method block sweeps per training step (warm-started)
    #[arg(long, default_value_t = 1)]
    pub cert_sweeps: usize,
    /// Sweep cap of the verified SDP solve after each epoch (the logged certified accuracy; 0: skip it)
    #[arg(long, default_value_t = 60)]
    pub cert_verify_sweeps: usize,
    /// Dual: after each epoch replace the trained duals by the verified SDP solve's (needs --cert-verify-sweeps > 0)
    #[arg(long)]
    pub cert_refresh: bool,
    /// What the certificate adds to the cross-entropy: penalty (weight·κ·Σ_pairs SDP value) or robust
    /// (primal only: weight·CE of the certified logits z_j − z_y + κ·U_yj, the margins the certificate checks)
    #[arg(long, value_enum, default_value_t = CertLoss::Penalty)]
    pub cert_loss: CertLoss,
}

impl CertFlags {
    pub fn config(&self) -> Option<CertTrainConfig> {
        self.certify.map(|threat| CertTrainConfig {
            threat,
            eps: self.cert_eps,
            weight: self.cert_weight,
            lanczos: self.cert_lanczos,
            neighbours: self.cert_neighbours,
            gamma: 1.0,
            method: self.cert_method,
            rank: self.cert_rank,
            sweeps: self.cert_sweeps,
            loss: self.cert_loss,
        })
    }

    /// Refuse bad values before any work: one line naming the flag.
    pub fn check(&self, arch: &Arch) -> Result<()> {
        if self.certify.is_none() {
            return Ok(());
        }
        Mlp::sizes(arch)?;
        if !(self.cert_eps.is_finite() && self.cert_eps > 0.0) {
            bail!("--cert-eps {}: must be finite and > 0", self.cert_eps);
        }
        if !(self.cert_weight.is_finite() && self.cert_weight >= 0.0) {
            bail!("--cert-weight {}: must be finite and >= 0", self.cert_weight);
        }
        if self.cert_lanczos == 0 {
            bail!("--cert-lanczos 0: must be at least 1");
        }
        if self.cert_count == 0 {
            bail!("--cert-count 0: must be at least 1");
        }
        if self.cert_rank == 0 {
            bail!("--cert-rank 0: must be at least 1");
        }
        if self.cert_sweeps == 0 {
            bail!("--cert-sweeps 0: must be at least 1");
        }
        if self.cert_refresh && (self.cert_verify_sweeps == 0 || self.cert_method != CertMethod::Dual) {
            bail!("--cert-refresh: needs --cert-method dual and --cert-verify-sweeps > 0");
        }
        if self.cert_loss == CertLoss::Robust && self.cert_method != CertMethod::Primal {
            bail!("--cert-loss robust: needs --cert-method primal");
        }
        Ok(())
    }
}

/// Side files next to the model: OUT.cert-duals.npy, OUT.cert-warm.npy, OUT.cert-epochs.json.
pub fn side_path(out: &Path, what: &str) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!("{stem}.cert-{what}"))
}

/// The duals' starting solve: capped sweeps (every iterate's certificate is
/// verified, so a capped solve is only looser; on penalty-trained nets the
/// mixing method needs thousands of sweeps for a 1e-3 gap).
fn sdp_opts() -> SdpOptions {
    SdpOptions { tol: 1e-3, max_sweeps: 200, rank: None, seed: 0, check_every: 10 }
}

/// Mixing sweeps of the primal factors before the first step.
const PRIMAL_WARM_UP: usize = 30;

struct CertHooks<'a> {
    inner: &'a mut dyn FitHooks,
    gpu: &'a Arc<Gpu>,
    model: &'a Model,
    cfg: &'a CertTrainConfig,
    flags: &'a CertFlags,
    pen: Option<&'a RefCell<Penalty>>,
    primal: Option<&'a RefCell<PrimalPenalty>>,
    c: Option<&'a Param>,
    /// The images of the per-epoch certified accuracy: the validation split if any, else the test set.
    test: &'a Dataset,
    on_val: bool,
    out: &'a Path,
    log: Vec<Value>,
}

impl CertHooks<'_> {
    /// Certified accuracy at ε and clean accuracy on the first --cert-count test images under `uppers`.
    fn certified(&self, mlp: &Mlp, uppers: &[f64]) -> (f64, f64) {
        let k = mlp.k;
        let mut bounds = vec![0.0; k * k];
        for (u, (i, j)) in uppers.iter().zip(mlp.pairs()) {
            bounds[i * k + j] = *u;
            bounds[j * k + i] = *u;
        }
        let n = self.flags.cert_count.min(self.test.n);
        let (mut cert, mut clean) = (0usize, 0usize);
        for i in 0..n {
            let label = self.test.labels[i] as usize;
            let v =
                network::verdict(i, label, &mlp.logits(self.test.image(i)), &bounds, self.cfg.threat, &[self.cfg.eps]);
            cert += v.certified[0] as usize;
            clean += (v.prediction == label) as usize;
        }
        (cert as f64 / n as f64, clean as f64 / n as f64)
    }
}

fn mean_max(u: &[f64]) -> (f64, f64) {
    (u.iter().sum::<f64>() / u.len().max(1) as f64, u.iter().copied().fold(0.0, f64::max))
}

impl FitHooks for CertHooks<'_> {
    fn validate(&mut self, epoch: usize) -> Result<(BTreeMap<String, f64>, Option<f64>)> {
        let (mut m, score) = self.inner.validate(epoch)?;
        let t = std::time::Instant::now();
        let mlp = mlp_of(self.gpu, self.model)?;
        if let Some(cp) = self.c {
            let c: Vec<f64> = self.gpu.read(&cp.tensor).into_iter().map(f64::from).collect();
            let uppers = verified_dual_bounds(&mlp, self.cfg, &c)?;
            let (mean, max) = mean_max(&uppers);
            let (cert, clean) = self.certified(&mlp, &uppers);
            m.insert("trained_duals_mean_upper".into(), mean);
            m.insert("trained_duals_max_upper".into(), max);
            m.insert("trained_duals_certified_accuracy".into(), cert);
            m.insert("clean_accuracy_certified_images".into(), clean);
        }
        if self.flags.cert_verify_sweeps > 0 {
            let opts = SdpOptions { max_sweeps: self.flags.cert_verify_sweeps, ..sdp_opts() };
            let pairs = verified_pairs(self.gpu, &mlp, self.cfg, &opts)?;
            let mut uppers: Vec<f64> = pairs.iter().map(|p| p.upper).collect();
            if let Some(pp) = self.primal {
                // the training factors' duals as a second candidate per pair (as
                // `advlab certify --duals`): a capped cold solve can miss a pair
                let net = PenaltyWeights { m: mlp.m, d: mlp.d, k: mlp.k, w1: &mlp.w1, w2: &mlp.w2 };
                let c = pp.borrow().duals(&net);
                let from_factors = verified_dual_bounds(&mlp, self.cfg, &c)?;
                let improved = uppers.iter_mut().zip(&from_factors).filter(|(u, f)| **f < **u).count();
                uppers.iter_mut().zip(&from_factors).for_each(|(u, f)| *u = u.min(*f));
                m.insert("sdp_pairs_bounded_by_factor_duals".into(), improved as f64);
            }
            let (mean, max) = mean_max(&uppers);
            let (cert, clean) = self.certified(&mlp, &uppers);
            m.insert("sdp_mean_upper".into(), mean);
            m.insert("sdp_max_upper".into(), max);
            m.insert("sdp_certified_accuracy".into(), cert);
            m.insert("clean_accuracy_certified_images".into(), clean);
            if self.flags.cert_refresh {
                if let Some(cp) = self.c {
                    let c: Vec<f32> = pairs.iter().flat_map(|p| p.c.iter().map(|&x| x as f32)).collect();
                    self.gpu.write(&cp.tensor, bytemuck::cast_slice(&c));
                }
            }
        }
        m.insert("verify_seconds".into(), t.elapsed().as_secs_f64());
        Ok((m, score))
    }

    fn save(&mut self, st: &EpochStats, best: bool) -> Result<()> {
        self.inner.save(st, best)?;
        if let Some(pen) = self.pen {
            let pen = pen.borrow();
            let dim = pen.warm.first().map_or(0, |w| w.len());
            let warm: Vec<f64> = pen.warm.iter().flatten().copied().collect();
            npy::write_npy_f64(&side_path(self.out, "warm.npy"), &[pen.warm.len(), dim], &warm)?;
        }
        if let Some(pp) = self.primal {
            let pp = pp.borrow();
            let (shape, v) = pp.factors();
            npy::write_npy_f64(&side_path(self.out, "primal.npy"), &shape, &v)?;
            // the factors' duals diag(P VVᵀ), for `advlab certify --duals`
            let mlp = mlp_of(self.gpu, self.model)?;
            let c = pp.duals(&PenaltyWeights { m: mlp.m, d: mlp.d, k: mlp.k, w1: &mlp.w1, w2: &mlp.w2 });
            let np = pp.pairs.len();
            npy::write_npy_f64(&side_path(self.out, "duals.npy"), &[np, c.len() / np.max(1)], &c)?;
        }
        if let Some(cp) = self.c {
            let c: Vec<f64> = self.gpu.read(&cp.tensor).into_iter().map(f64::from).collect();
            npy::write_npy_f64(&side_path(self.out, "duals.npy"), cp.tensor.shape(), &c)?;
        }
        let e = |k: &str| st.eval.get(k).copied();
        self.log.push(json!({
            "epoch": st.epoch + 1,
            "ce": st.metrics.get("ce"),
            "penalty": st.metrics.get("penalty"),
            "mean_upper_bound_estimate": st.metrics.get("bound_estimate"),
            "estimate_kind": match self.cfg.method {
                CertMethod::Dual => "mean over steps of D*theta+ + sum max(c,0), theta a Lanczos Ritz value (not a bound)",
                CertMethod::Primal => "mean over steps of <P, V V^T> of the low-rank primal factors (a lower bound on each SDP)",
            },
            "clean_accuracy": e("test_accuracy"),
            "val_accuracy": e("val_accuracy"),
            "certified_accuracy": e("sdp_certified_accuracy"),
            "certified_accuracy_source": format!("verified SDP solve of this epoch's weights (GPU mixing method, cold start, at most {} sweeps; f64 certificates as advlab certify{})", self.flags.cert_verify_sweeps, if self.primal.is_some() { "; per pair the lower of it and the training factors' duals, verified alike" } else { "" }),
            "mean_upper_bound_verified": e("sdp_mean_upper"),
            "max_upper_bound_verified": e("sdp_max_upper"),
            "pairs_bounded_by_factor_duals": e("sdp_pairs_bounded_by_factor_duals"),
            "trained_duals_certified_accuracy": e("trained_duals_certified_accuracy"),
            "trained_duals_mean_upper_bound_verified": e("trained_duals_mean_upper"),
            "trained_duals_max_upper_bound_verified": e("trained_duals_max_upper"),
            "duals_refreshed": self.flags.cert_refresh,
            "certified_images": self.flags.cert_count.min(self.test.n),
            "certified_images_from": if self.on_val { "validation split (first --cert-count)" } else { "test set (first --cert-count)" },
            "eps": self.cfg.eps,
            "seconds": st.seconds,
            "verify_seconds": e("verify_seconds"),
        }));
        crate::fsutil::write_atomic(
            &side_path(self.out, "epochs.json"),
            serde_json::to_string_pretty(&self.log)?.as_bytes(),
        )
    }
}

/// `fit` with the certificate penalty. `resuming`: a train state will be
/// loaded (the duals come from it, the warm starts / primal factors from
/// OUT.cert-warm.npy / OUT.cert-primal.npy).
#[allow(clippy::too_many_arguments)]
pub fn fit_certified(
    gpu: &Arc<Gpu>,
    model: &Model,
    train_set: &Dataset,
    check_set: &Dataset,
    check_is_val: bool,
    fcfg: &FitConfig,
    run: &FitRun,
    inner: &mut dyn FitHooks,
    flags: &CertFlags,
    out: &Path,
    resuming: bool,
) -> Result<(FitReport, Value)> {
    let cfg = flags.config().expect("fit_certified needs --certify");
    let mlp = mlp_of(gpu, model)?;
    let mut log = Vec::new();
    if resuming {
        if let Ok(s) = std::fs::read(side_path(out, "epochs.json")) {
            log = serde_json::from_slice(&s).unwrap_or_default();
        }
    }
    let k = model.params.len();
    let pos = |n: &str| model.params.iter().position(|p| p.name == n).expect("mlp params");
    let (i1, i2) = (pos("fc1.weight"), pos("fc2.weight"));
    let mut ce = classifier_objective(model);
    // per method: the penalty state, and for the dual route the duals as a trained parameter
    let mut dual: Option<RefCell<Penalty>> = None;
    let mut primal: Option<RefCell<PrimalPenalty>> = None;
    let mut c: Option<Param> = None;
    match cfg.method {
        CertMethod::Dual => {
            let mut pen = penalty_for(&cfg, mlp.input, mlp.k)?;
            let dim = pen.dim(mlp.m, mlp.d);
            let np = pen.pairs.len();
            let warm_path = side_path(out, "warm.npy");
            let c0: Vec<f32> = if resuming {
                if warm_path.exists() {
                    let (shape, w) = npy::read_npy_f64(&warm_path)?;
                    if shape == [np, dim] {
                        pen.warm = w.chunks(dim).map(|r| r.to_vec()).collect();
                    }
                }
                vec![0.0; np * dim]
            } else {
                let t = std::time::Instant::now();
                let pairs = verified_pairs(gpu, &mlp, &cfg, &sdp_opts())?;
                let mean = pairs.iter().map(|p| p.upper).sum::<f64>() / np as f64;
                eprintln!(
                    "certified training: duals start from the verified SDP solve of the starting network ({np} pairs, D = {dim}, mean upper bound {mean:.2}, {:.1} s)",
                    t.elapsed().as_secs_f64()
                );
                pairs.iter().flat_map(|p| p.c.iter().map(|&x| x as f32)).collect()
            };
            c = Some(Param { name: "cert.c".into(), tensor: gpu.upload(&c0, &[np, dim]) });
            dual = Some(RefCell::new(pen));
        }
        CertMethod::Primal => {
            let mut pen = primal_for(&cfg, mlp.input, mlp.k)?;
            let path = side_path(out, "primal.npy");
            let restored = resuming && path.exists() && {
                let (shape, v) = npy::read_npy_f64(&path)?;
                pen.set_factors(mlp.m, mlp.d, &shape, &v)
            };
            if !restored {
                let t = std::time::Instant::now();
                let net = PenaltyWeights { m: mlp.m, d: mlp.d, k: mlp.k, w1: &mlp.w1, w2: &mlp.w2 };
                pen.warm_up(&net, PRIMAL_WARM_UP);
                let vals = pen.values(&net);
                eprintln!(
                    "certified training (primal): rank-{} factors of {} pairs after {PRIMAL_WARM_UP} sweeps, mean <P, VV^T> {:.2} ({:.1} s)",
                    pen.rank,
                    vals.len(),
                    vals.iter().sum::<f64>() / vals.len() as f64,
                    t.elapsed().as_secs_f64()
                );
            }
            primal = Some(RefCell::new(pen));
        }
    }
    let set: Vec<&Param> = model.params.iter().chain(c.as_ref()).collect();
    let mut objective = |g: &mut Graph, p: &[Var], b: &Batch| -> Result<StepOut> {
        let mut o = ce(g, &p[..k], b)?;
        if let Some(pen) = &dual {
            let (pv, po) = penalty_op(g, &mut pen.borrow_mut(), p[i1], p[i2], p[k]);
            finish(g, &mut o, pv, &po.bounds);
        } else if let Some(pen) = &primal {
            match cfg.loss {
                CertLoss::Penalty => {
                    let (pv, po) = primal_op(g, &mut pen.borrow_mut(), p[i1], p[i2]);
                    finish(g, &mut o, pv, &po.bounds);
                }
                CertLoss::Robust => {
                    let logits = o.logits.expect("the classifier objective returns its logits");
                    let labels: Vec<usize> = b.index.iter().map(|&i| train_set.labels[i] as usize).collect();
                    let (off, vals) = robust_offsets_op(g, &mut pen.borrow_mut(), p[i1], p[i2], &labels);
                    let certified_logits = g.add(logits, off);
                    let per_row = g.softmax_xent(certified_logits, &b.labels);
                    let robust = g.mean(per_row);
                    let pv = g.scale(robust, cfg.weight as f32);
                    finish(g, &mut o, pv, &vals);
                }
            }
        }
        Ok(o)
    };
    let mut hooks = CertHooks {
        inner,
        gpu,
        model,
        cfg: &cfg,
        flags,
        pen: dual.as_ref(),
        primal: primal.as_ref(),
        c: c.as_ref(),
        test: check_set,
        on_val: check_is_val,
        out,
        log,
    };
    let rep = fit(gpu, &set, train_set, fcfg, run, &mut objective, &mut hooks)?;
    let log = hooks.log;
    let summary = json!({
        "settings": cfg,
        "lanczos_steps": flags.cert_lanczos,
        "verify_sweeps": flags.cert_verify_sweeps,
        "refresh_duals": flags.cert_refresh,
        "duals": (cfg.method == CertMethod::Dual).then(|| side_path(out, "duals.npy")),
        "primal_factors": (cfg.method == CertMethod::Primal).then(|| side_path(out, "primal.npy")),
        "per_epoch": log,
        "note": "penalty = weight * kappa(eps) * sum over the 45 class pairs of an estimate of SDP(P_ij): dual: D * lambda_max^+(P - diag c) + sum max(c, 0) with a warm-started Lanczos Ritz value; primal: <P, V V^T> of warm-started rank-r mixing-method factors (a lower bound, Danskin gradient). certified_accuracy per epoch: from the verified SDP solve of that epoch's weights (as advlab certify, capped sweeps); trained_duals_*: from the trained duals alone (dual method)",
    });
    Ok((rep, summary))
}

/// Add the penalty `pv` to the step's loss and log ce, penalty and the mean per-pair estimate.
fn finish(g: &mut Graph, o: &mut StepOut, pv: Var, bounds: &[f64]) {
    let est = bounds.iter().sum::<f64>() / bounds.len().max(1) as f64;
    let est = g.leaf(g.gpu().upload(&[est as f32], &[1]), false);
    o.metrics.push(("ce", o.loss));
    o.metrics.push(("penalty", pv));
    o.metrics.push(("bound_estimate", est));
    o.loss = g.add(o.loss, pv);
}

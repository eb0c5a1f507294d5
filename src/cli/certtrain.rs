//! `advlab train --certify linf|flow`: certified training (issue 13 item 5).
//! The network and one dual vector c per class pair train jointly through
//! `fit`: loss = CE + λ·κ(ε)·Σ_pairs [D·λ⁺_max(P − diag c) + Σ max(c, 0)]
//! (certify::penalty). The duals start from a verified SDP solve of the
//! starting network, live in the train state (`p.cert.c`, with their Adam
//! moments) and in OUT.cert-duals.npy, never in the model file; the
//! Lanczos warm starts go to OUT.cert-warm.npy so `--resume` replays bit for
//! bit. After every epoch the trained duals are verified in f64 (Cholesky
//! of the Schur complement, as `advlab certify` verifies its own) and the
//! bounds logged with the certified accuracy at ε on the first
//! `--cert-count` test images (OUT.cert-epochs.json).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::autograd::{Graph, Var};
use crate::certify::network::{self, Mlp, Threat};
use crate::certify::penalty::Penalty;
use crate::certify::sdp::SdpOptions;
use crate::certify::train::{mlp_of, penalty_for, penalty_op, verified_dual_bounds, verified_pairs, CertTrainConfig};
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
    /// Test images whose certified accuracy at --cert-eps is logged after each epoch
    #[arg(long, default_value_t = 1000)]
    pub cert_count: usize,
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

struct CertHooks<'a> {
    inner: &'a mut dyn FitHooks,
    gpu: &'a Arc<Gpu>,
    model: &'a Model,
    cfg: &'a CertTrainConfig,
    pen: &'a RefCell<Penalty>,
    c: &'a Param,
    test: &'a Dataset,
    count: usize,
    out: &'a Path,
    log: Vec<Value>,
}

impl FitHooks for CertHooks<'_> {
    fn validate(&mut self, epoch: usize) -> Result<(BTreeMap<String, f64>, Option<f64>)> {
        let (mut m, score) = self.inner.validate(epoch)?;
        let t = std::time::Instant::now();
        let mlp = mlp_of(self.gpu, self.model)?;
        let c: Vec<f64> = self.gpu.read(&self.c.tensor).into_iter().map(f64::from).collect();
        let uppers = verified_dual_bounds(&mlp, self.cfg, &c)?;
        let k = mlp.k;
        let mut bounds = vec![0.0; k * k];
        for (u, (i, j)) in uppers.iter().zip(mlp.pairs()) {
            bounds[i * k + j] = *u;
            bounds[j * k + i] = *u;
        }
        let n = self.count.min(self.test.n);
        let (mut cert, mut clean) = (0usize, 0usize);
        for i in 0..n {
            let label = self.test.labels[i] as usize;
            let v =
                network::verdict(i, label, &mlp.logits(self.test.image(i)), &bounds, self.cfg.threat, &[self.cfg.eps]);
            cert += v.certified[0] as usize;
            clean += (v.prediction == label) as usize;
        }
        m.insert("verified_mean_upper".into(), uppers.iter().sum::<f64>() / uppers.len() as f64);
        m.insert("verified_max_upper".into(), uppers.iter().copied().fold(0.0, f64::max));
        m.insert("certified_accuracy".into(), cert as f64 / n as f64);
        m.insert("clean_accuracy_certified_images".into(), clean as f64 / n as f64);
        m.insert("verify_seconds".into(), t.elapsed().as_secs_f64());
        Ok((m, score))
    }

    fn save(&mut self, st: &EpochStats, best: bool) -> Result<()> {
        self.inner.save(st, best)?;
        let pen = self.pen.borrow();
        let dim = pen.warm.first().map_or(0, |w| w.len());
        let warm: Vec<f64> = pen.warm.iter().flatten().copied().collect();
        npy::write_npy_f64(&side_path(self.out, "warm.npy"), &[pen.warm.len(), dim], &warm)?;
        let c: Vec<f64> = self.gpu.read(&self.c.tensor).into_iter().map(f64::from).collect();
        npy::write_npy_f64(&side_path(self.out, "duals.npy"), self.c.tensor.shape(), &c)?;
        self.log.push(json!({
            "epoch": st.epoch + 1,
            "ce": st.metrics.get("ce"),
            "penalty": st.metrics.get("penalty"),
            "mean_upper_bound_estimate": st.metrics.get("bound_estimate"),
            "mean_upper_bound_verified": st.eval.get("verified_mean_upper"),
            "max_upper_bound_verified": st.eval.get("verified_max_upper"),
            "clean_accuracy": st.eval.get("test_accuracy"),
            "certified_accuracy": st.eval.get("certified_accuracy"),
            "certified_images": self.count.min(self.test.n),
            "eps": self.cfg.eps,
            "seconds": st.seconds,
        }));
        crate::fsutil::write_atomic(
            &side_path(self.out, "epochs.json"),
            serde_json::to_string_pretty(&self.log)?.as_bytes(),
        )
    }
}

/// `fit` with the certificate penalty. `resuming`: a train state will be
/// loaded (the duals come from it, the warm starts from OUT.cert-warm.npy).
#[allow(clippy::too_many_arguments)]
pub fn fit_certified(
    gpu: &Arc<Gpu>,
    model: &Model,
    train_set: &Dataset,
    test_set: &Dataset,
    fcfg: &FitConfig,
    run: &FitRun,
    inner: &mut dyn FitHooks,
    flags: &CertFlags,
    out: &Path,
    resuming: bool,
) -> Result<(FitReport, Value)> {
    let cfg = flags.config().expect("fit_certified needs --certify");
    let mlp = mlp_of(gpu, model)?;
    let mut pen = penalty_for(&cfg, mlp.input, mlp.k)?;
    let dim = pen.dim(mlp.m, mlp.d);
    let np = pen.pairs.len();
    let warm_path = side_path(out, "warm.npy");
    let mut log = Vec::new();
    let c0: Vec<f32> = if resuming {
        if warm_path.exists() {
            let (shape, w) = npy::read_npy_f64(&warm_path)?;
            if shape == [np, dim] {
                pen.warm = w.chunks(dim).map(|r| r.to_vec()).collect();
            }
        }
        if let Ok(s) = std::fs::read(side_path(out, "epochs.json")) {
            log = serde_json::from_slice(&s).unwrap_or_default();
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
    let c = Param { name: "cert.c".into(), tensor: gpu.upload(&c0, &[np, dim]) };
    let set: Vec<&Param> = model.params.iter().chain(std::iter::once(&c)).collect();
    let k = model.params.len();
    let pos = |n: &str| model.params.iter().position(|p| p.name == n).expect("mlp params");
    let (i1, i2) = (pos("fc1.weight"), pos("fc2.weight"));
    let pen = RefCell::new(pen);
    let mut ce = classifier_objective(model);
    let mut objective = |g: &mut Graph, p: &[Var], b: &Batch| -> Result<StepOut> {
        let mut o = ce(g, &p[..k], b)?;
        let (pv, po) = penalty_op(g, &mut pen.borrow_mut(), p[i1], p[i2], p[k]);
        let est = po.bounds.iter().sum::<f64>() / po.bounds.len() as f64;
        let est = g.leaf(g.gpu().upload(&[est as f32], &[1]), false);
        o.metrics.push(("ce", o.loss));
        o.metrics.push(("penalty", pv));
        o.metrics.push(("bound_estimate", est));
        o.loss = g.add(o.loss, pv);
        Ok(o)
    };
    let mut hooks =
        CertHooks { inner, gpu, model, cfg: &cfg, pen: &pen, c: &c, test: test_set, count: flags.cert_count, out, log };
    let rep = fit(gpu, &set, train_set, fcfg, run, &mut objective, &mut hooks)?;
    let summary = json!({
        "settings": cfg,
        "lanczos_steps": flags.cert_lanczos,
        "duals": side_path(out, "duals.npy"),
        "per_epoch": hooks.log,
        "note": "penalty = weight * kappa(eps) * sum over the 45 class pairs of [D * lambda_max^+(P - diag c) + sum max(c, 0)], lambda_max a warm-started Lanczos Ritz value (an estimate); verified bounds come from the f64-certified SDP solve after each epoch (as advlab certify)",
    });
    Ok((rep, summary))
}

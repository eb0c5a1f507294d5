//! Certified training on the tape: the penalty of [`super::penalty`] as one
//! graph op over (fc1.weight, fc2.weight, c), the dual vectors' start (a
//! verified SDP solve of the starting network), and the verified bounds a
//! run reports after each epoch.

use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use super::batch::{self, PairResult};
use super::flow;
use super::network::{Mlp, PairSetup, Threat};
use super::penalty::{Penalty, PenaltyOut, PenaltyWeights};
use super::primal::PrimalPenalty;
use super::sdp::SdpOptions;
use crate::autograd::{Graph, Var};
use crate::gpu::Gpu;
use crate::nn::Model;
use crate::ops::elementwise::{self as ew, Unary};
use crate::ops::tv::{Neighbours, Padding};

/// The settings of certified training (all must match on `--resume`).
#[derive(Clone, Debug, Serialize)]
pub struct CertTrainConfig {
    pub threat: Threat,
    /// ε of the penalty (κ = ε/4 for L∞, ε/2 for flows).
    pub eps: f64,
    /// λ: the penalty's weight beside the cross-entropy.
    pub weight: f64,
    /// Lanczos steps per training step (warm-started).
    pub lanczos: usize,
    /// Flow: N's neighbours (constant padding) and the pixel range γ.
    pub neighbours: Neighbours,
    pub gamma: f64,
    /// How the penalty's λ_max term is trained: joint duals or the primal factor.
    pub method: CertMethod,
    /// Primal: rank of each pair's factor and block sweeps per step.
    pub rank: usize,
    pub sweeps: usize,
    /// What the certificate adds to the cross-entropy.
    pub loss: CertLoss,
}

/// The certificate's term in the training loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CertLoss {
    /// weight·κ·Σ_pairs SDP value (Raghunathan et al.'s regulariser).
    Penalty,
    /// weight·CE(z + κ·U[y], y): the cross-entropy of the certified logits (primal only).
    Robust,
}

/// The two routes to the SDP value inside training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CertMethod {
    /// Raghunathan et al.: dual vectors c_ij trained jointly, λ_max by Lanczos.
    Dual,
    /// Danskin: warm-started low-rank mixing-method factors, gradient of ⟨P, VVᵀ⟩.
    Primal,
}

/// The MLP of `model` (mlp:D-H-K) in f64, read from the adapter.
pub fn mlp_of(gpu: &Gpu, model: &Model) -> Result<Mlp> {
    let (d, m, k) = Mlp::sizes(&model.arch)?;
    let get = |name: &str| -> Vec<f64> {
        let p = model.params.iter().find(|p| p.name == name).expect("an mlp:D-H-K model has fc1 and fc2");
        gpu.read(&p.tensor).into_iter().map(f64::from).collect()
    };
    Ok(Mlp {
        input: model.arch.input,
        d,
        m,
        k,
        w1: get("fc1.weight"),
        b1: get("fc1.bias"),
        w2: get("fc2.weight"),
        b2: get("fc2.bias"),
    })
}

/// λ per input (flow; repeated over channels) or 1s (L∞): the `b` of the pair problems.
pub fn right_scaling(cfg: &CertTrainConfig, input: [usize; 3]) -> Result<Vec<f64>> {
    let [c, h, w] = input;
    Ok(match cfg.threat {
        Threat::Flow => {
            let lam = flow::lambda(h, w, cfg.neighbours, Padding::Constant)?;
            (0..c * h * w).map(|q| lam[q % (h * w)]).collect()
        }
        Threat::Linf => vec![1.0; c * h * w],
    })
}

/// The penalty for `cfg` on a K-class MLP with input `input`.
pub fn penalty_for(cfg: &CertTrainConfig, input: [usize; 3], k: usize) -> Result<Penalty> {
    let b = right_scaling(cfg, input)?;
    Ok(Penalty::new(cfg.threat, cfg.eps, cfg.weight, cfg.lanczos, cfg.gamma, b, k))
}

/// The primal penalty for `cfg` on a K-class MLP with input `input`.
pub fn primal_for(cfg: &CertTrainConfig, input: [usize; 3], k: usize) -> Result<PrimalPenalty> {
    let b = right_scaling(cfg, input)?;
    Ok(PrimalPenalty::new(cfg.threat, cfg.eps, cfg.weight, cfg.gamma, b, k, cfg.rank, cfg.sweeps))
}

/// Verified SDP certificates of all pairs of `mlp` (batched GPU sweeps,
/// f64 host certificates), as `advlab certify` computes them.
pub fn verified_pairs(gpu: &Arc<Gpu>, mlp: &Mlp, cfg: &CertTrainConfig, opts: &SdpOptions) -> Result<Vec<PairResult>> {
    let [_, h, w] = mlp.input;
    let lambda = match cfg.threat {
        Threat::Flow => Some(flow::lambda(h, w, cfg.neighbours, Padding::Constant)?),
        Threat::Linf => None,
    };
    let setup = PairSetup::new(cfg.threat, mlp, lambda.as_deref());
    let ids = mlp.pairs();
    let g = if cfg.threat == Threat::Flow { cfg.gamma } else { 1.0 };
    let avecs: Vec<Vec<f64>> = ids.iter().map(|&(i, j)| mlp.pair_vector(i, j, g)).collect();
    let problems: Vec<_> = avecs.iter().map(|a| setup.problem(mlp, a)).collect();
    Ok(batch::solve_gpu(gpu, &problems, &ids, opts).0)
}

/// The penalty on the tape: value weight·κ·Σ_pairs [D·θ⁺ + Σ max(c, 0)]
/// (a [1] tensor) with gradients to `w1` (fc1.weight), `w2` (fc2.weight)
/// and `c` (pairs × D) computed on the host and scaled by the upstream
/// gradient. Returns the op's Var and the host evaluation.
pub fn penalty_op(g: &mut Graph, pen: &mut Penalty, w1: Var, w2: Var, c: Var) -> (Var, PenaltyOut) {
    let (s1, w1h) = read_f64(g, w1);
    let (s2, w2h) = read_f64(g, w2);
    let (_, ch) = read_f64(g, c);
    let (m, d, k) = (s1[0], s1[1], s2[0]);
    let out = pen.evaluate(&PenaltyWeights { m, d, k, w1: &w1h, w2: &w2h }, &ch);
    let v = host_op(g, &[w1, w2, c], out.value, &[&out.grad_w1, &out.grad_w2, &out.grad_c]);
    (v, out)
}

/// The primal (Danskin) penalty of [`super::primal`] on the tape: `sweeps`
/// mixing sweeps on the current weights, then value weight·κ·Σ_pairs
/// ⟨P, VVᵀ⟩ with gradients to `w1` and `w2` at the new V.
pub fn primal_op(g: &mut Graph, pen: &mut PrimalPenalty, w1: Var, w2: Var) -> (Var, PenaltyOut) {
    let (s1, w1h) = read_f64(g, w1);
    let (s2, w2h) = read_f64(g, w2);
    let (m, d, k) = (s1[0], s1[1], s2[0]);
    let out = pen.evaluate(&PenaltyWeights { m, d, k, w1: &w1h, w2: &w2h });
    let v = host_op(g, &[w1, w2], out.value, &[&out.grad_w1, &out.grad_w2]);
    (v, out)
}

/// The certified-logit offsets κ·U[y_b, j] (a B × K tensor; U the
/// symmetric matrix of per-pair primal values, U[i][i] = 0) on the tape,
/// after `sweeps` mixing sweeps on the current weights. With them the
/// robust loss is CE(z + κ·U[y], y): the cross-entropy of the certified
/// logits z̃_j = z_j − z_y + κ·U_yj (the shift by z_y cancels in the
/// softmax and z̃_y = 0), so it pushes exactly the margins the certificate
/// checks. Gradients to `w1` and `w2` by Danskin, each pair weighted by
/// the upstream gradient summed over the rows that use it (B × K floats
/// read back in the backward pass). Returns the op's Var and the per-pair values.
pub fn robust_offsets_op(
    g: &mut Graph,
    pen: &mut PrimalPenalty,
    w1: Var,
    w2: Var,
    labels: &[usize],
) -> (Var, Vec<f64>) {
    let (s1, w1h) = read_f64(g, w1);
    let (s2, w2h) = read_f64(g, w2);
    let (m, d, k) = (s1[0], s1[1], s2[0]);
    let (vals, tangent) = pen.advance(&PenaltyWeights { m, d, k, w1: &w1h, w2: &w2h });
    let kappa = pen.threat.bound_factor(pen.eps);
    let pairs = pen.pairs.clone();
    let mut u = vec![0.0f64; k * k];
    for (&v, &(i, j)) in vals.iter().zip(&pairs) {
        u[i * k + j] = v;
        u[j * k + i] = v;
    }
    let rows: Vec<f32> =
        labels.iter().flat_map(|&y| u[y * k..(y + 1) * k].iter().map(|&x| (kappa * x) as f32)).collect();
    let gpu = g.gpu().clone();
    let value = gpu.upload(&rows, &[labels.len(), k]);
    let labels = labels.to_vec();
    let var = g.op(
        &[w1, w2],
        value,
        Box::new(move |gpu, dy, needs| {
            let dy = gpu.read(dy);
            let mut alpha = vec![0.0f64; pairs.len()];
            for (p, &(i, j)) in pairs.iter().enumerate() {
                for (b, &y) in labels.iter().enumerate() {
                    if y == i {
                        alpha[p] += kappa * dy[b * k + j] as f64;
                    } else if y == j {
                        alpha[p] += kappa * dy[b * k + i] as f64;
                    }
                }
            }
            let (gw1, gw2) = tangent.grads(&alpha);
            let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            vec![needs[0].then(|| gpu.upload(&f(&gw1), &s1)), needs[1].then(|| gpu.upload(&f(&gw2), &s2))]
        }),
    );
    (var, vals)
}

fn read_f64(g: &Graph, v: Var) -> (Vec<usize>, Vec<f64>) {
    let t = g.value(v);
    (t.shape().to_vec(), g.gpu().read(t).into_iter().map(f64::from).collect())
}

/// A [1] op over `inputs` with value `value` whose gradients are the host
/// vectors `grads` (one per input, its shape) times the upstream gradient.
fn host_op(g: &mut Graph, inputs: &[Var], value: f64, grads: &[&Vec<f64>]) -> Var {
    let gpu = g.gpu().clone();
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let grads: Vec<_> = inputs.iter().zip(grads).map(|(&v, gr)| gpu.upload(&f(gr), g.value(v).shape())).collect();
    let value = gpu.upload(&[value as f32], &[1]);
    g.op(
        inputs,
        value,
        Box::new(move |gpu, dy, needs| {
            grads
                .iter()
                .zip(needs)
                .map(|(t, &n)| {
                    n.then(|| {
                        let s = gpu.alloc(t.shape());
                        ew::unary_into(gpu, Unary::Broadcast, dy, 1.0, 0.0, &s);
                        ew::mul(gpu, &s, t)
                    })
                })
                .collect()
        }),
    )
}

/// The verified upper bound of every pair from the *trained* duals `c`
/// (pairs × D, in `mlp.pairs()` order): t ≥ λ_max(P − diag c) proved by f64
/// Cholesky of the Schur complement (bipartite.rs), U = Σ max(c + t, 0).
/// Valid whatever c is; tight when training has kept c near optimal.
pub fn verified_dual_bounds(mlp: &Mlp, cfg: &CertTrainConfig, c: &[f64]) -> Result<Vec<f64>> {
    let [_, h, w] = mlp.input;
    let lambda = match cfg.threat {
        Threat::Flow => Some(flow::lambda(h, w, cfg.neighbours, Padding::Constant)?),
        Threat::Linf => None,
    };
    let setup = PairSetup::new(cfg.threat, mlp, lambda.as_deref());
    let g = if cfg.threat == Threat::Flow { cfg.gamma } else { 1.0 };
    let ids = mlp.pairs();
    let mut out = Vec::with_capacity(ids.len());
    for (p, &(i, j)) in ids.iter().enumerate() {
        let a = mlp.pair_vector(i, j, g);
        let prob = setup.problem(mlp, &a);
        let dim = prob.dim();
        let cp = &c[p * dim..(p + 1) * dim];
        let b1 = prob.b1();
        let scale = cp.iter().map(|x| x.abs()).sum::<f64>().max(1e-12);
        let t = prob.verified_lambda(&b1, cp, 1e-7 * scale / dim as f64);
        out.push(super::sdp::shifted_upper(cp, t).0);
    }
    Ok(out)
}

//! Host side of shaders/stadv.wgsl.

use std::sync::Arc;

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    struct Params for crate::gpu::kernels::STADV_WGSL {
        n: u32,
        k: u32,
        targeted: u32,
        iter: u32,
        kappa: f32,
        budget: f32,
        has_budget: u32,
        per: u32,
        track: u32,
        _pad: [u32; 3],
    }
}

/// The fixed part of the objective.
pub(super) struct Step {
    pub targeted: bool,
    pub kappa: f32,
    pub budget: Option<f32>,
    pub classes: usize,
}

fn params(st: &Step, n: usize, iter: u32, per: usize) -> Params {
    Params {
        n: n as u32,
        k: st.classes as u32,
        targeted: st.targeted as u32,
        iter,
        kappa: st.kappa,
        budget: st.budget.unwrap_or(0.0),
        has_budget: st.budget.is_some() as u32,
        per: per as u32,
        track: 1,
        _pad: [0; 3],
    }
}

/// L_adv's gradient d/dZ [B, K], the per-image weight of L_flow's
/// gradient [B] and this evaluation's record [B, 8] (class 1 fail / 2 soft
/// / 3 strict, L_flow, prediction, iteration, margin, objective, 0, 0);
/// with `track`, folds it into the best-iterate record `best` [B, 8].
#[allow(clippy::too_many_arguments)]
pub(super) fn objective(
    gpu: &Arc<Gpu>,
    st: &Step,
    iter: u32,
    logits: &Tensor,
    cls: &Tensor,
    lflow: &Tensor,
    tau: &Tensor,
    best: &Tensor,
    track: bool,
) -> (Tensor, Tensor, Tensor) {
    let n = cls.len();
    assert_eq!(logits.shape(), &[n, st.classes], "stadv objective: logits shape");
    assert!(lflow.len() == n && tau.len() == n && best.len() == 8 * n, "stadv objective: per-image lengths");
    let dlogits = gpu.alloc(logits.shape());
    let dlflow = gpu.alloc(&[n]);
    let cur = gpu.alloc(&[n, 8]);
    let mut p = params(st, n, iter, 0);
    p.track = track as u32;
    gpu.dispatch(&k::STADV_OBJECTIVE, &p, &[logits, cls, lflow, tau, &dlogits, &dlflow, best, &cur], groups_1d(n, 64));
    (dlogits, dlflow, cur)
}

/// best_flow[b] = flow[b] for every image whose best iterate is `iter`.
pub(super) fn keep(gpu: &Gpu, iter: u32, best: &Tensor, flow: &Tensor, best_flow: &Tensor) {
    let n = best.len() / 8;
    let per = flow.len() / n.max(1);
    let st = Step { targeted: false, kappa: 0.0, budget: None, classes: 0 };
    gpu.dispatch(&k::STADV_KEEP, &params(&st, n, iter, per), &[best, flow, best_flow], groups_1d(n * per, 256));
}

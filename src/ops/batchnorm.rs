//! Host side of shaders/batchnorm.wgsl: batch normalisation over axis 1
//! (BatchNorm2d on [N,C,H,W], BatchNorm1d on [N,F] or [N,C,L]) with
//! PyTorch's semantics: the batch statistics use the biased variance,
//! `running_var` is updated with the unbiased one, `eps` sits inside the
//! square root, and `momentum` weighs the new value (PyTorch default 0.1).

use std::sync::Arc;

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

/// PyTorch's defaults.
pub const DEFAULT_EPS: f32 = 1e-5;
pub const DEFAULT_MOMENTUM: f32 = 0.1;

crate::gpu::params::params_struct! {
    #[derive(Debug, Default)]
    struct Params for crate::gpu::kernels::BATCHNORM_WGSL {
        n: u32,
        c: u32,
        hw: u32,
        flags: u32,
        eps: f32,
        momentum: f32,
        _pad0: u32,
        _pad1: u32,
    }
}

/// What the training forward returns: the output and the per-channel batch
/// statistics its backward needs.
pub struct BatchNormTrain {
    pub y: Tensor,
    /// batch mean [C]
    pub mean: Tensor,
    /// 1 / sqrt(biased batch variance + eps) [C]
    pub invstd: Tensor,
}

/// (n, c, hw) of x, checking gamma/beta/running buffers have C elements.
fn dims(x: &Tensor, per_channel: &[(&Tensor, &str)]) -> (usize, usize, usize) {
    let s = x.shape();
    assert!(s.len() >= 2, "batch_norm: input must be [N, C, ...], got {s:?}");
    let (n, c) = (s[0], s[1]);
    let hw: usize = s[2..].iter().product();
    assert!(n > 0 && c > 0 && hw > 0, "batch_norm: empty input {s:?}");
    for (t, what) in per_channel {
        assert_eq!(t.len(), c, "batch_norm: {what} has shape {:?}, expected [{c}]", t.shape());
    }
    (n, c, hw)
}

/// One workgroup per channel, folded into 2-D past 65,535 channels.
fn channel_groups(c: usize) -> [u32; 3] {
    if c <= 65_535 {
        [c as u32, 1, 1]
    } else {
        let y = c.div_ceil(65_535);
        [c.div_ceil(y) as u32, y as u32, 1]
    }
}

/// The kernel and workgroups for `(n, c, hw)`: BatchNorm1d's [N, F] with a
/// batch of at most `ROWS_MAX` rows takes the lane-per-channel variant (no
/// workgroup reduction; see shaders/batchnorm.wgsl), the rest one
/// workgroup per channel.
fn pick(
    per_group: &'static crate::gpu::Kernel,
    per_lane: &'static crate::gpu::Kernel,
    n: usize,
    c: usize,
    hw: usize,
) -> (&'static crate::gpu::Kernel, [u32; 3]) {
    if hw == 1 && n <= ROWS_MAX {
        (per_lane, groups_1d(c, 64))
    } else {
        (per_group, channel_groups(c))
    }
}

/// The largest batch the lane-per-channel kernels take (each lane walks N rows twice).
const ROWS_MAX: usize = 1024;

/// Training-mode forward: normalise with the batch statistics and, when
/// `running = Some((running_mean, running_var))`, update them in place:
/// r <- (1 - momentum) r + momentum * batch_stat (unbiased variance).
pub fn batch_norm_train_forward(
    gpu: &Arc<Gpu>,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running: Option<(&Tensor, &Tensor)>,
    momentum: f32,
    eps: f32,
) -> BatchNormTrain {
    let (n, c, hw) = dims(x, &[(gamma, "gamma"), (beta, "beta")]);
    assert!(n * hw > 1, "batch_norm: training needs more than 1 value per channel, got input {:?}", x.shape());
    if let Some((rm, rv)) = running {
        dims(x, &[(rm, "running_mean"), (rv, "running_var")]);
    }
    let y = gpu.alloc(x.shape());
    let mean = gpu.alloc(&[c]);
    let invstd = gpu.alloc(&[c]);
    let p = Params {
        n: n as u32,
        c: c as u32,
        hw: hw as u32,
        flags: running.is_some() as u32,
        eps,
        momentum,
        ..Default::default()
    };
    // not touched unless updating: 1-element stand-ins keep the bindings valid
    let stand_in = running.is_none().then(|| (gpu.alloc(&[1]), gpu.alloc(&[1])));
    let (rm, rv) = match (&running, &stand_in) {
        (Some((rm, rv)), _) => (*rm, *rv),
        (None, Some((a, b))) => (a, b),
        _ => unreachable!(),
    };
    let (kernel, groups) = pick(&k::BATCHNORM_TRAIN_FORWARD, &k::BATCHNORM_TRAIN_FORWARD_ROWS, n, c, hw);
    gpu.dispatch(kernel, &p, &[x, gamma, beta, &y, &mean, &invstd, rm, rv], groups);
    BatchNormTrain { y, mean, invstd }
}

/// Eval-mode forward: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
pub fn batch_norm_eval_forward(
    gpu: &Arc<Gpu>,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    eps: f32,
) -> Tensor {
    let (n, c, hw) =
        dims(x, &[(gamma, "gamma"), (beta, "beta"), (running_mean, "running_mean"), (running_var, "running_var")]);
    let y = gpu.alloc(x.shape());
    let p = Params { n: n as u32, c: c as u32, hw: hw as u32, eps, ..Default::default() };
    let binds = [x, gamma, beta, running_mean, running_var, &y];
    if hw.is_multiple_of(4) {
        // the same bindings: out4 (12) in place of out (7)
        gpu.dispatch(&k::BATCHNORM_EVAL_FORWARD4, &p, &binds, groups_1d(y.len() / 4, 256));
    } else {
        gpu.dispatch(&k::BATCHNORM_EVAL_FORWARD, &p, &binds, groups_1d(y.len(), 256));
    }
    y
}

/// Backward of the training forward: (dx, dgamma, dbeta), with the batch
/// statistics `mean`, `invstd` saved by `batch_norm_train_forward`.
pub fn batch_norm_train_backward(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    x: &Tensor,
    gamma: &Tensor,
    mean: &Tensor,
    invstd: &Tensor,
) -> (Tensor, Tensor, Tensor) {
    backward(gpu, dy, x, gamma, mean, invstd, false, 0.0)
}

/// Backward of the eval-mode forward (running statistics are constants):
/// (dx, dgamma, dbeta).
pub fn batch_norm_eval_backward(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    x: &Tensor,
    gamma: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    eps: f32,
) -> (Tensor, Tensor, Tensor) {
    backward(gpu, dy, x, gamma, running_mean, running_var, true, eps)
}

#[allow(clippy::too_many_arguments)]
fn backward(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    x: &Tensor,
    gamma: &Tensor,
    mean: &Tensor,
    scale: &Tensor,
    eval: bool,
    eps: f32,
) -> (Tensor, Tensor, Tensor) {
    let (n, c, hw) = dims(x, &[(gamma, "gamma"), (mean, "mean"), (scale, "invstd / running_var")]);
    assert_eq!(dy.shape(), x.shape(), "batch_norm backward: dy {:?} != x {:?}", dy.shape(), x.shape());
    let dx = gpu.alloc(x.shape());
    let dgamma = gpu.alloc(&[c]);
    let dbeta = gpu.alloc(&[c]);
    let p = Params { n: n as u32, c: c as u32, hw: hw as u32, flags: eval as u32, eps, ..Default::default() };
    let (kernel, groups) = pick(&k::BATCHNORM_BACKWARD, &k::BATCHNORM_BACKWARD_ROWS, n, c, hw);
    gpu.dispatch(kernel, &p, &[x, dy, gamma, mean, scale, &dx, &dgamma, &dbeta], groups);
    (dx, dgamma, dbeta)
}

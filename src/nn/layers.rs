//! Autograd wrappers for the convolutional-network ops (conv, pooling,
//! batch norm, LRN, dropout, input normalisation), joining the tape through
//! `Graph::op`.

use crate::autograd::{Graph, Var};
use crate::ops::batchnorm as bn;
use crate::ops::conv2d;
use crate::ops::dropout;
use crate::ops::elementwise::{self as ew, Unary};
use crate::ops::lrn::{self, Lrn};
use crate::ops::pool::{self, Pool2d};
use crate::tensor::Tensor;

/// y = conv2d(x, w) + b with PyTorch layouts (x [N,C,H,W], w [O,C,KH,KW]).
pub fn conv2d(g: &mut Graph, x: Var, w: Var, b: Var, stride: usize, pad: usize) -> Var {
    conv2d_act(g, x, w, b, stride, pad, false)
}

/// relu(conv2d(x, w) + b): the ReLU in the convolution's epilogue where the
/// fast kernel runs.
pub fn conv2d_relu(g: &mut Graph, x: Var, w: Var, b: Var, stride: usize, pad: usize) -> Var {
    conv2d_act(g, x, w, b, stride, pad, true)
}

/// conv2d(x, w) + b, then ReLU when `relu`; the ReLU's gradient masks dy by
/// y > 0, which is z > 0.
fn conv2d_act(g: &mut Graph, x: Var, w: Var, b: Var, stride: usize, pad: usize, relu: bool) -> Var {
    let (xt, wt, bt) = (g.value(x).clone(), g.value(w).clone(), g.value(b).clone());
    let (s, p) = ((stride, stride), (pad, pad));
    let (y, input) = conv2d::conv2d_forward_keep(g.gpu(), &xt, &wt, Some(&bt), s, p, relu);
    let yt = relu.then(|| y.clone());
    g.op(
        &[x, w, b],
        y,
        Box::new(move |gpu, dy, needs| {
            let masked = yt.as_ref().map(|y| ew::unary_grad(gpu, Unary::Relu, y, dy));
            let dz = masked.as_ref().unwrap_or(dy);
            let dx = needs[0].then(|| conv2d::conv2d_backward_data(gpu, dz, &wt, xt.shape(), s, p));
            let dw = needs[1].then(|| conv2d::conv2d_backward_weight(gpu, dz, &input, wt.shape(), s, p));
            let db = needs[2].then(|| conv2d::conv2d_backward_bias(gpu, dz));
            vec![dx, dw, db]
        }),
    )
}

pub fn max_pool(g: &mut Graph, x: Var, k: usize, stride: usize, pad: usize) -> Var {
    let pl = Pool2d::square(k, stride, pad);
    let shape = g.value(x).shape().to_vec();
    let (y, idx) = pool::max_pool2d_forward(g.gpu(), g.value(x), &pl);
    g.op(&[x], y, Box::new(move |gpu, dy, _| vec![Some(pool::max_pool2d_backward(gpu, dy, &idx, &shape, &pl))]))
}

/// Average pooling, PyTorch's default `count_include_pad=True`.
pub fn avg_pool(g: &mut Graph, x: Var, k: usize, stride: usize, pad: usize) -> Var {
    let pl = Pool2d::square(k, stride, pad);
    let shape = g.value(x).shape().to_vec();
    let y = pool::avg_pool2d_forward(g.gpu(), g.value(x), &pl, true);
    g.op(&[x], y, Box::new(move |gpu, dy, _| vec![Some(pool::avg_pool2d_backward(gpu, dy, &shape, &pl, true))]))
}

/// Batch normalisation over axis 1 of [N, C, ...] (BatchNorm1d / 2d) with
/// PyTorch's defaults (eps 1e-5, momentum 0.1). `train`: normalise with the
/// batch statistics and update `running_mean` / `running_var` in place;
/// otherwise normalise with the running statistics (gradients still flow to
/// x, gamma and beta, e.g. for attacks).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    g: &mut Graph,
    x: Var,
    gamma: Var,
    beta: Var,
    running_mean: &Tensor,
    running_var: &Tensor,
    train: bool,
) -> Var {
    let (xt, gt, bt) = (g.value(x).clone(), g.value(gamma).clone(), g.value(beta).clone());
    let eps = bn::DEFAULT_EPS;
    if train {
        let r = bn::batch_norm_train_forward(
            g.gpu(),
            &xt,
            &gt,
            &bt,
            Some((running_mean, running_var)),
            bn::DEFAULT_MOMENTUM,
            eps,
        );
        let (mean, invstd) = (r.mean, r.invstd);
        g.op(
            &[x, gamma, beta],
            r.y,
            Box::new(move |gpu, dy, needs| {
                let (dx, dg, db) = bn::batch_norm_train_backward(gpu, dy, &xt, &gt, &mean, &invstd);
                vec![needs[0].then_some(dx), needs[1].then_some(dg), needs[2].then_some(db)]
            }),
        )
    } else {
        let (rm, rv) = (running_mean.clone(), running_var.clone());
        let y = bn::batch_norm_eval_forward(g.gpu(), &xt, &gt, &bt, &rm, &rv, eps);
        g.op(
            &[x, gamma, beta],
            y,
            Box::new(move |gpu, dy, needs| {
                let (dx, dg, db) = bn::batch_norm_eval_backward(gpu, dy, &xt, &gt, &rm, &rv, eps);
                vec![needs[0].then_some(dx), needs[1].then_some(dg), needs[2].then_some(db)]
            }),
        )
    }
}

/// Local response normalisation across channels (`nn.LocalResponseNorm`).
pub fn lrn(g: &mut Graph, x: Var, p: &Lrn) -> Var {
    let p = *p;
    let xt = g.value(x).clone();
    let (y, scale) = lrn::lrn_forward(g.gpu(), &xt, &p);
    let yt = y.clone();
    g.op(&[x], y, Box::new(move |gpu, dy, _| vec![Some(lrn::lrn_backward(gpu, dy, &xt, &yt, &scale, &p))]))
}

/// Training-mode inverted dropout (drop probability `p`); the mask is a
/// function of `seed` alone, so the same seed gives the same mask.
pub fn dropout(g: &mut Graph, x: Var, p: f32, seed: u64) -> Var {
    let (y, mask) = dropout::dropout_forward(g.gpu(), g.value(x), p, seed);
    g.op(&[x], y, Box::new(move |gpu, dy, _| vec![Some(dropout::dropout_backward(gpu, dy, &mask))]))
}

/// Per-channel (x - mean[c]) / std[c] on [N, C, ...] (no parameters), via
/// the BatchNorm eval kernels with gamma = 1/std, beta = 0, running stats
/// (mean, 1) and eps 0. The gradient flows to x only.
pub fn normalize(g: &mut Graph, x: Var, mean: &[f32], std: &[f32]) -> Var {
    let c = mean.len();
    assert_eq!(std.len(), c, "normalize: {} means but {} stds", c, std.len());
    let gpu = g.gpu().clone();
    let inv: Vec<f32> = std.iter().map(|&s| (1.0 / s as f64) as f32).collect();
    let gamma = gpu.constant(&inv, &[c]);
    let beta = gpu.constant(&vec![0.0; c], &[c]);
    let rm = gpu.constant(mean, &[c]);
    let rv = gpu.constant(&vec![1.0; c], &[c]);
    let xt = g.value(x).clone();
    let y = bn::batch_norm_eval_forward(&gpu, &xt, &gamma, &beta, &rm, &rv, 0.0);
    g.op(
        &[x],
        y,
        Box::new(move |gpu, dy, _| vec![Some(bn::batch_norm_eval_backward(gpu, dy, &xt, &gamma, &rm, &rv, 0.0).0)]),
    )
}

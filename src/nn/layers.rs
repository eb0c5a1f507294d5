//! Autograd wrappers for the convolutional ops (conv, pooling), joining the
//! tape through `Graph::op`.

use crate::autograd::{Graph, Var};
use crate::ops::conv2d;
use crate::ops::pool::{self, Pool2d};

/// y = conv2d(x, w) + b with PyTorch layouts (x [N,C,H,W], w [O,C,KH,KW]).
pub fn conv2d(g: &mut Graph, x: Var, w: Var, b: Var, stride: usize, pad: usize) -> Var {
    let (xt, wt, bt) = (g.value(x).clone(), g.value(w).clone(), g.value(b).clone());
    let (s, p) = ((stride, stride), (pad, pad));
    let y = conv2d::conv2d_forward(g.gpu(), &xt, &wt, Some(&bt), s, p);
    g.op(
        &[x, w, b],
        y,
        Box::new(move |gpu, dy, needs| {
            let dx = needs[0].then(|| conv2d::conv2d_backward_data(gpu, dy, &wt, xt.shape(), s, p));
            let dw = needs[1].then(|| conv2d::conv2d_backward_weight(gpu, dy, &xt, wt.shape(), s, p));
            let db = needs[2].then(|| conv2d::conv2d_backward_bias(gpu, dy));
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

//! A small reverse-mode tape over GPU tensors.
//!
//! Every op computes its value on the GPU right away (recorded, not yet
//! submitted) and pushes a node whose closure maps the output gradient to
//! input gradients. `backward` walks the tape once in reverse. The same tape
//! gives parameter gradients for training and input gradients for attacks.

use std::sync::Arc;

use crate::gpu::Gpu;
use crate::ops::elementwise::{self as ew, Unary};
use crate::ops::{gemm, reduce, softmax_xent};
use crate::tensor::Tensor;

/// A value on the tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(usize);

/// Maps the output gradient to one optional gradient per input; `needs[i]`
/// says whether input i wants one (skip the work otherwise).
pub type BackwardFn = Box<dyn Fn(&Arc<Gpu>, &Tensor, &[bool]) -> Vec<Option<Tensor>>>;

struct Node {
    value: Tensor,
    requires_grad: bool,
    inputs: Vec<Var>,
    backward: Option<BackwardFn>,
}

pub struct Graph {
    gpu: Arc<Gpu>,
    nodes: Vec<Node>,
}

/// Gradients from `Graph::backward`, indexed by the `Var`s of the tape.
pub struct Grads(Vec<Option<Tensor>>);

impl Grads {
    pub fn get(&self, v: Var) -> Option<&Tensor> {
        self.0.get(v.0).and_then(|g| g.as_ref())
    }
    pub fn take(&mut self, v: Var) -> Option<Tensor> {
        self.0.get_mut(v.0).and_then(|g| g.take())
    }
}

impl Graph {
    pub fn new(gpu: &Arc<Gpu>) -> Self {
        Graph { gpu: gpu.clone(), nodes: Vec::new() }
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }

    /// A leaf. `requires_grad` for parameters, or inputs an attack perturbs.
    pub fn leaf(&mut self, t: Tensor, requires_grad: bool) -> Var {
        self.nodes.push(Node { value: t, requires_grad, inputs: vec![], backward: None });
        Var(self.nodes.len() - 1)
    }

    pub fn value(&self, v: Var) -> &Tensor {
        &self.nodes[v.0].value
    }

    pub fn requires_grad(&self, v: Var) -> bool {
        self.nodes[v.0].requires_grad
    }

    /// Add an op: its value and how to push gradients to its inputs. This is
    /// how layers outside this file (conv, pooling, warps...) join the tape.
    pub fn op(&mut self, inputs: &[Var], value: Tensor, backward: BackwardFn) -> Var {
        let requires_grad = inputs.iter().any(|v| self.nodes[v.0].requires_grad);
        self.nodes.push(Node {
            value,
            requires_grad,
            inputs: inputs.to_vec(),
            backward: requires_grad.then_some(backward),
        });
        Var(self.nodes.len() - 1)
    }

    /// Gradients of `out` (seeded with ones, or with `seed`) w.r.t. every
    /// node that requires them.
    pub fn backward(&self, out: Var, seed: Option<Tensor>) -> Grads {
        let mut grads: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        let out_t = &self.nodes[out.0].value;
        grads[out.0] = Some(seed.unwrap_or_else(|| {
            let t = self.gpu.alloc(out_t.shape());
            ew::unary_into(&self.gpu, Unary::Affine, out_t, 0.0, 1.0, &t);
            t
        }));
        for i in (0..=out.0).rev() {
            let node = &self.nodes[i];
            let (Some(bw), Some(g)) = (&node.backward, grads[i].clone()) else { continue };
            let needs: Vec<bool> = node.inputs.iter().map(|v| self.nodes[v.0].requires_grad).collect();
            let gs = bw(&self.gpu, &g, &needs);
            for (inp, gi) in node.inputs.iter().zip(gs) {
                let Some(gi) = gi else { continue };
                if !self.nodes[inp.0].requires_grad {
                    continue;
                }
                grads[inp.0] = Some(match grads[inp.0].take() {
                    None => gi,
                    Some(acc) => ew::add(&self.gpu, &acc, &gi),
                });
            }
            // Interior gradients are not needed once pushed to the inputs.
            if !node.inputs.is_empty() && i != out.0 {
                grads[i] = None;
            }
        }
        Grads(grads)
    }

    // ---- ops -------------------------------------------------------------

    /// y = x Wᵀ + b with x [B, in], W [out, in] (PyTorch nn.Linear).
    pub fn linear(&mut self, x: Var, w: Var, b: Var) -> Var {
        self.linear_act(x, w, b, false)
    }

    /// relu(x Wᵀ + b): [`Graph::linear`] and [`Graph::relu`] in one GEMM
    /// (the ReLU in its epilogue).
    pub fn linear_relu(&mut self, x: Var, w: Var, b: Var) -> Var {
        self.linear_act(x, w, b, true)
    }

    /// x Wᵀ + b, then ReLU when `relu`; the ReLU's gradient masks dy by
    /// y > 0, which is z > 0.
    fn linear_act(&mut self, x: Var, w: Var, b: Var, relu: bool) -> Var {
        let (xt, wt, bt) = (self.value(x).clone(), self.value(w).clone(), self.value(b).clone());
        let y = self.gpu.alloc(&[xt.shape()[0], wt.shape()[0]]);
        gemm::gemm_into_with(&self.gpu, &xt, &wt, gemm::NT, Some(&bt), false, relu, &y, gemm::GemmPath::Auto);
        let yt = relu.then(|| y.clone());
        self.op(
            &[x, w, b],
            y,
            Box::new(move |gpu, dy, needs| {
                let masked = yt.as_ref().map(|y| ew::unary_grad(gpu, Unary::Relu, y, dy));
                let dz = masked.as_ref().unwrap_or(dy);
                let dx = needs[0].then(|| gemm::gemm(gpu, dz, &wt, gemm::NN, None));
                let dw = needs[1].then(|| gemm::gemm(gpu, dz, &xt, gemm::TN, None));
                let db = needs[2].then(|| reduce::sum_cols(gpu, dz, 1.0));
                vec![dx, dw, db]
            }),
        )
    }

    fn activation(&mut self, x: Var, f: Unary) -> Var {
        let xt = self.value(x).clone();
        let y = ew::unary(&self.gpu, f, &xt, 0.0, 0.0);
        // relu's gradient reads the input, sigmoid's and tanh's the output
        let saved = if f == Unary::Relu { xt } else { y.clone() };
        self.op(&[x], y, Box::new(move |gpu, dy, _| vec![Some(ew::unary_grad(gpu, f, &saved, dy))]))
    }

    pub fn relu(&mut self, x: Var) -> Var {
        self.activation(x, Unary::Relu)
    }
    pub fn sigmoid(&mut self, x: Var) -> Var {
        self.activation(x, Unary::Sigmoid)
    }
    pub fn tanh(&mut self, x: Var) -> Var {
        self.activation(x, Unary::Tanh)
    }

    /// a*x + b*y (same shapes).
    pub fn lincomb(&mut self, x: Var, a: f32, y: Var, b: f32) -> Var {
        let v = ew::lincomb(&self.gpu, self.value(x), a, self.value(y), b);
        self.op(
            &[x, y],
            v,
            Box::new(move |gpu, d, needs| {
                vec![needs[0].then(|| ew::scale(gpu, d, a)), needs[1].then(|| ew::scale(gpu, d, b))]
            }),
        )
    }

    pub fn add(&mut self, x: Var, y: Var) -> Var {
        self.lincomb(x, 1.0, y, 1.0)
    }

    /// Elementwise product.
    pub fn mul(&mut self, x: Var, y: Var) -> Var {
        let (xt, yt) = (self.value(x).clone(), self.value(y).clone());
        let v = ew::mul(&self.gpu, &xt, &yt);
        self.op(
            &[x, y],
            v,
            Box::new(move |gpu, d, needs| {
                vec![needs[0].then(|| ew::mul(gpu, d, &yt)), needs[1].then(|| ew::mul(gpu, d, &xt))]
            }),
        )
    }

    pub fn scale(&mut self, x: Var, a: f32) -> Var {
        let v = ew::scale(&self.gpu, self.value(x), a);
        self.op(&[x], v, Box::new(move |gpu, d, _| vec![Some(ew::scale(gpu, d, a))]))
    }

    /// Same data, new shape.
    pub fn reshape(&mut self, x: Var, shape: &[usize]) -> Var {
        let xt = self.value(x);
        let old = xt.shape().to_vec();
        let v = xt.reshape(shape);
        self.op(&[x], v, Box::new(move |_, d, _| vec![Some(d.reshape(&old))]))
    }

    /// [N, ...] -> [N, rest].
    pub fn flatten(&mut self, x: Var) -> Var {
        let s = self.value(x).shape().to_vec();
        let n = s[0];
        self.reshape(x, &[n, s[1..].iter().product()])
    }

    /// Per-row softmax cross-entropy [B] of logits [B, K] and u32 labels [B].
    pub fn softmax_xent(&mut self, logits: Var, labels: &Tensor) -> Var {
        let (loss, probs) = softmax_xent::forward(&self.gpu, self.value(logits), labels);
        let labels = labels.clone();
        self.op(&[logits], loss, Box::new(move |gpu, d, _| vec![Some(softmax_xent::backward(gpu, &probs, &labels, d))]))
    }

    /// Per-row soft-target cross-entropy [B] of logits [B, K] against
    /// constant target weights `q` [B, K] (no gradient flows to `q`):
    /// −Σ_k q[b,k]·log softmax(z_b)_k. With q a frozen classifier's softmax
    /// this is the LAN's L_F (SPEC §5).
    pub fn softmax_xent_soft(&mut self, logits: Var, q: &Tensor) -> Var {
        let (loss, probs) = softmax_xent::forward_soft(&self.gpu, self.value(logits), q);
        let q = q.clone();
        self.op(&[logits], loss, Box::new(move |gpu, d, _| vec![Some(softmax_xent::backward_soft(gpu, &probs, &q, d))]))
    }

    /// a·x + b elementwise (`affine(x, -1.0, 1.0)` is 1 − x).
    pub fn affine(&mut self, x: Var, a: f32, b: f32) -> Var {
        let v = ew::unary(&self.gpu, Unary::Affine, self.value(x), a, b);
        self.op(&[x], v, Box::new(move |gpu, d, _| vec![Some(ew::scale(gpu, d, a))]))
    }

    /// Mean squared difference mean((x − y)²) over all elements: a [1]
    /// tensor (same shapes; gradients to both).
    pub fn mse(&mut self, x: Var, y: Var) -> Var {
        let diff = self.lincomb(x, 1.0, y, -1.0);
        let sq = self.mul(diff, diff);
        self.mean(sq)
    }

    /// Sum of all elements, scaled: a [1] tensor.
    pub fn sum(&mut self, x: Var, scale: f32) -> Var {
        let xt = self.value(x);
        let shape = xt.shape().to_vec();
        let v = reduce::sum_all(&self.gpu, xt, scale);
        self.op(
            &[x],
            v,
            Box::new(move |gpu, d, _| {
                let g = gpu.alloc(&shape);
                ew::unary_into(gpu, Unary::Broadcast, d, scale, 0.0, &g);
                vec![Some(g)]
            }),
        )
    }

    pub fn mean(&mut self, x: Var) -> Var {
        let n = self.value(x).len();
        self.sum(x, 1.0 / n as f32)
    }
}

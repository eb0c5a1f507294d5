//! Host side of shaders/tv.wgsl: the stAdv flow loss L_flow (SPEC §4), per
//! image, and its gradient and autograd op, over flows [N, 2, H, W]:
//!
//! - per pixel (reference v0.2, default):
//!   L_flow[n] = Σ_p Σ_{s∈S} sqrt((r0[p]−r0[p+s])² + (r1[p]−r1[p+s])² + ε)
//! - per shift (reference v0.1, the code at the thesis' time):
//!   L_flow[n] = Σ_{s∈S} sqrt(Σ_p [(r0[p]−r0[p+s])² + (r1[p]−r1[p+s])²] + ε)

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::autograd::{Graph, Var};
use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::ops::reduce;
use crate::tensor::Tensor;

crate::names::named_enum! {
/// The offset set S.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Neighbours {
    /// The four diagonal neighbours (±1, ±1), as in the stAdv reference code.
    #[default]
    Diag4,
    /// The four axis neighbours (±1, 0), (0, ±1).
    Cross4,
}
}

crate::names::named_enum! {
/// What a neighbour outside the image holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// Zero flow (the stAdv demo; required for the §7 certificate's N).
    #[default]
    Constant,
    /// The nearest edge pixel's flow (TF SYMMETRIC with a 1-pixel pad):
    /// a constant flow costs |S|·n·sqrt(ε).
    Symmetric,
}
}

crate::names::named_enum! {
/// Where the square root is taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// One root per pixel and offset (reference v0.2; SPEC's recommendation).
    #[default]
    Pixel,
    /// One root per offset over the whole image (reference v0.1, current
    /// when the thesis was written): an ℓ2 norm per shift, so much smaller
    /// than the per-pixel sum for the same flow.
    Shift,
}
}

/// Options of L_flow. Default: per pixel, diag4, constant padding, ε = 1e-8.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FlowLossOpts {
    pub neighbours: Neighbours,
    pub padding: Padding,
    /// Added inside each square root (keeps the gradient finite at 0).
    pub eps: f32,
    pub variant: Variant,
}

impl Default for FlowLossOpts {
    fn default() -> Self {
        FlowLossOpts { neighbours: Neighbours::Diag4, padding: Padding::Constant, eps: 1e-8, variant: Variant::Pixel }
    }
}

impl fmt::Display for FlowLossOpts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {} padding, eps {:e}, root per {}", self.neighbours, self.padding, self.eps, self.variant)
    }
}

crate::gpu::params::params_struct! {
    struct Params for crate::gpu::kernels::TV_WGSL {
        n: u32,
        h: u32,
        w: u32,
        mode: u32,
        eps: f32,
        _pad: [u32; 3],
    }
}

fn params(flow: &Tensor, opts: &FlowLossOpts) -> Params {
    let s = flow.shape();
    assert!(s.len() == 4 && s[1] == 2, "flow loss: flow must be [N, 2, H, W], got {s:?}");
    assert!(opts.eps >= 0.0, "flow loss: eps must be >= 0, got {}", opts.eps);
    let mode = (opts.neighbours == Neighbours::Cross4) as u32
        | ((opts.padding == Padding::Symmetric) as u32) << 1
        | ((opts.variant == Variant::Shift) as u32) << 3;
    Params { n: s[0] as u32, h: s[2] as u32, w: s[3] as u32, mode, eps: opts.eps, _pad: [0; 3] }
}

/// L_flow per image: [N].
pub fn forward(gpu: &Arc<Gpu>, flow: &Tensor, opts: &FlowLossOpts) -> Tensor {
    let p = params(flow, opts);
    let (n, h) = (p.n as usize, p.h as usize);
    match opts.variant {
        Variant::Pixel => {
            let partial = gpu.alloc(&[n, h]);
            gpu.dispatch(&k::TV_ROWS, &p, &[flow, &partial], groups_1d(n * h, 64));
            reduce::sum_rows(gpu, &partial, 1.0)
        }
        Variant::Shift => {
            let q = shift_sums(gpu, flow, &p);
            let out = gpu.alloc(&[n]);
            gpu.dispatch(&k::TV_COMBINE, &p, &[&out, &q], groups_1d(n, 64));
            out
        }
    }
}

/// Q_s per image and offset, [N, 4] (per-shift variant).
fn shift_sums(gpu: &Arc<Gpu>, flow: &Tensor, p: &Params) -> Tensor {
    let (n, h) = (p.n as usize, p.h as usize);
    let partial = gpu.alloc(&[n * 4, h]);
    gpu.dispatch(&k::TV_ROWS, p, &[flow, &partial], groups_1d(n * h, 64));
    reduce::sum_rows(gpu, &partial, 1.0).reshape(&[n, 4])
}

/// d (Σ_n g[n]·L_flow[n]) / d flow: [N, 2, H, W], with `g` [N]. (The
/// per-shift variant recomputes its Q_s first.)
pub fn backward(gpu: &Arc<Gpu>, flow: &Tensor, g: &Tensor, opts: &FlowLossOpts) -> Tensor {
    let out = gpu.alloc(flow.shape());
    grad_dispatch(gpu, flow, g, opts, &out, false);
    out
}

/// `out += d (Σ_n g[n]·L_flow[n]) / d flow`, in place (one dispatch, no
/// temporary: for summing into another gradient of the flow).
pub fn backward_add(gpu: &Arc<Gpu>, flow: &Tensor, g: &Tensor, opts: &FlowLossOpts, out: &Tensor) {
    grad_dispatch(gpu, flow, g, opts, out, true);
}

fn grad_dispatch(gpu: &Arc<Gpu>, flow: &Tensor, g: &Tensor, opts: &FlowLossOpts, out: &Tensor, add: bool) {
    let mut p = params(flow, opts);
    p.mode |= (add as u32) << 2;
    assert_eq!(g.len(), p.n as usize, "flow loss backward: one upstream gradient per image");
    assert_eq!(out.len(), flow.len(), "flow loss backward: output length");
    // the per-pixel variant never reads Q_s: bind g in its place
    let q = match opts.variant {
        Variant::Pixel => g.clone(),
        Variant::Shift => shift_sums(gpu, flow, &p),
    };
    gpu.dispatch(&k::TV_GRAD, &p, &[flow, g, out, &q], groups_1d((p.n * p.h * p.w) as usize, 64));
}

/// Autograd: L_flow per image, [N].
pub fn flow_loss(g: &mut Graph, flow: Var, opts: FlowLossOpts) -> Var {
    let ft = g.value(flow).clone();
    let out = forward(g.gpu(), &ft, &opts);
    g.op(&[flow], out, Box::new(move |gpu, d, _| vec![Some(backward(gpu, &ft, d, &opts))]))
}

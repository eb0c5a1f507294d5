//! Host side of shaders/conv2d.wgsl: 2-D convolution (NCHW input, PyTorch
//! weight layout [O, C, KH, KW], zero padding, any stride and kernel size)
//! forward and backward.
//!
//! Three implementations ([`ConvAlgo`]); the default `Auto` takes what
//! `advlab bench conv --tune` recorded as fastest for the pass, shape and
//! adapter ([`conv_tuning`]), else `Fast`: the fast kernels where they
//! apply, else the plain direct ones:
//! - fast: the input (or dy) is copied once into a zero-padded layout with
//!   whole-vec4 rows and the weights packed [tap][channel]; the kernels then
//!   use only vec4 loads and big register tiles (shaders/conv2d.wgsl says
//!   why). Stride-1 `backward_data` runs the forward kernel on padded dy and
//!   the flipped, transposed weights. Specialised per (KW, SW, SH, ...) with
//!   override constants: one pipeline (one JIT) per layer shape.
//! - `Direct`: implicit GEMM with bounds-checked scalar loads, any geometry.
//! - `Im2col`: im2col / col2im + `ops::gemm` + an axis swap.
//!
//! Measured on lavapipe (Mesa 22.3, 2 shared cores, batch 64; ms of process
//! CPU time per call, which stays meaningful on a loaded machine;
//! `cargo test --release --test conv bench -- --ignored --nocapture`,
//! 2026-12-07, after the fast forward's accumulator-column order):
//!
//! | layer | pass | Auto | Direct | Im2col |
//! |---|---|---:|---:|---:|
//! | LeNet conv1 1x28x28 -> 6, 5x5 | forward | 2 | 16 | 40 |
//! | | data grad | 6 | 112 | 20 |
//! | | weight grad | 2 | 22 | 32 |
//! | LeNet conv2 6x12x12 -> 16, 5x5 | forward | 2 | 20 | 22 |
//! | | data grad | 6 | 52 | 16 |
//! | | weight grad | 4 | 20 | 20 |
//! | AlexNet-CIFAR conv1 3x32x32 -> 64, 5x5 pad 2 | forward | 42 | 614 | 284 |
//! | | data grad | 54 | 1518 | 186 |
//! | | weight grad | 44 | 632 | 262 |
//!
//! (AlexNet forward: 15 GFLOP per CPU-second on the fast path, 29 GFLOP/s
//! wall clock, against 4.0 per CPU-second before the reordering.) im2col
//! loses on lavapipe on these layers twice over: its shuffles (im2col,
//! col2im, the NCHW swaps) cost a texel fetch and a scalar store per
//! element, and the GEMM on these long, thin shapes is slow. It wins on
//! deep layers with small planes, where the fast kernel's 4 x 8 output
//! tiles are mostly padding: vgg-cifar:8 conv11 (64 x 2 x 2, batch 128)
//! forward 9.6 ms fast, 3.9 ms im2col (6.3 before its shuffles read
//! textures). `advlab bench conv --tune` finds such layers and records
//! them ([`conv_tuning`]).

use std::sync::Arc;

use crate::gpu::{groups_1d, kernels as k, Bind, Gpu, LINEAR_WIDTH};
use crate::ops::conv_tuning::{self, ConvPass};
use crate::ops::{gemm, reduce};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    #[derive(Debug, Default)]
    struct Params for crate::gpu::kernels::CONV2D_WGSL {
        n: u32,
        c: u32,
        h: u32,
        w: u32,
        o: u32,
        kh: u32,
        kw: u32,
        oh: u32,
        ow: u32,
        sh: u32,
        sw: u32,
        ph: u32,
        pw: u32,
        flags: u32,
        chunk: u32,
        total: u32,
    }
}

/// Register tile of the direct kernels (TO x TP in conv2d.wgsl).
const TO: usize = 8;
const TP: usize = 8;
const WG: usize = 64;

/// Which implementation a pass uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConvAlgo {
    /// What `advlab bench conv --tune` recorded as fastest for this pass,
    /// shape and adapter ([`conv_tuning`]), else `Fast`.
    #[default]
    Auto,
    /// The fast kernels where they apply (horizontal stride <= 2, kernel
    /// width <= 9; stride 1 for the data gradient; at most 5 x 5 taps-worth
    /// for the weight gradient), else `Direct`.
    Fast,
    /// Plain implicit-GEMM kernels straight from the NCHW tensors, any
    /// geometry (one dispatch, bounds-checked scalar loads).
    Direct,
    /// im2col / col2im + `ops::gemm::gemm_into` + NCHW <-> CNHW swaps.
    Im2col,
}

impl ConvAlgo {
    /// `ADVLAB_CONV_ALGO=fast|direct|im2col` overrides `Auto` (comparing
    /// implementations on one machine, as `ADVLAB_GEMM_PATH` does for GEMM).
    pub fn from_env() -> ConvAlgo {
        static A: std::sync::OnceLock<ConvAlgo> = std::sync::OnceLock::new();
        *A.get_or_init(|| match std::env::var("ADVLAB_CONV_ALGO").as_deref() {
            Ok("fast") => ConvAlgo::Fast,
            Ok("direct") => ConvAlgo::Direct,
            Ok("im2col") => ConvAlgo::Im2col,
            _ => ConvAlgo::Auto,
        })
    }
}

/// Output size of a convolution or pooling window along one axis:
/// floor((size + 2 pad - k) / stride) + 1. Panics when the window does not
/// fit or the stride is 0.
pub fn out_size(size: usize, k: usize, stride: usize, pad: usize) -> usize {
    assert!(stride > 0, "conv/pool: stride must be > 0");
    assert!(k > 0, "conv/pool: kernel size must be > 0");
    assert!(size + 2 * pad >= k, "conv/pool: kernel {k} larger than the padded input {size}+2*{pad}");
    (size + 2 * pad - k) / stride + 1
}

/// Geometry of one convolution, checked once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub stride: (usize, usize),
    pub pad: (usize, usize),
}

impl ConvGeom {
    /// From the input shape [N,C,H,W] and weight shape [O,C,KH,KW].
    pub fn new(x_shape: &[usize], w_shape: &[usize], stride: (usize, usize), pad: (usize, usize)) -> ConvGeom {
        assert_eq!(x_shape.len(), 4, "conv2d: input must be [N,C,H,W], got {x_shape:?}");
        assert_eq!(w_shape.len(), 4, "conv2d: weight must be [O,C,KH,KW], got {w_shape:?}");
        let [n, c, h, w] = [x_shape[0], x_shape[1], x_shape[2], x_shape[3]];
        let [o, wc, kh, kw] = [w_shape[0], w_shape[1], w_shape[2], w_shape[3]];
        assert_eq!(c, wc, "conv2d: input has {c} channels, weight {w_shape:?} expects {wc}");
        assert!(n > 0 && c > 0 && o > 0, "conv2d: empty tensor x {x_shape:?} w {w_shape:?}");
        let oh = out_size(h, kh, stride.0, pad.0);
        let ow = out_size(w, kw, stride.1, pad.1);
        ConvGeom { n, c, h, w, o, kh, kw, oh, ow, stride, pad }
    }

    pub fn x_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    pub fn w_shape(&self) -> [usize; 4] {
        [self.o, self.c, self.kh, self.kw]
    }
    pub fn y_shape(&self) -> [usize; 4] {
        [self.n, self.o, self.oh, self.ow]
    }
    /// Multiply-adds of one forward pass (each backward pass costs the same).
    pub fn macs(&self) -> usize {
        self.n * self.o * self.oh * self.ow * self.c * self.kh * self.kw
    }

    fn params(&self) -> Params {
        Params {
            n: self.n as u32,
            c: self.c as u32,
            h: self.h as u32,
            w: self.w as u32,
            o: self.o as u32,
            kh: self.kh as u32,
            kw: self.kw as u32,
            oh: self.oh as u32,
            ow: self.ow as u32,
            sh: self.stride.0 as u32,
            sw: self.stride.1 as u32,
            ph: self.pad.0 as u32,
            pw: self.pad.1 as u32,
            ..Default::default()
        }
    }
}

fn check_len(t: &Tensor, want: usize, what: &str) {
    assert_eq!(t.len(), want, "conv2d: {what} has shape {:?}, expected {want} elements", t.shape());
}

fn grid(gpu: &Gpu, g: [usize; 3], what: &str) -> [u32; 3] {
    let max = gpu.limits.max_compute_workgroups_per_dimension as usize;
    assert!(
        g.iter().all(|&v| v <= max),
        "conv2d {what}: grid {g:?} exceeds {max} workgroups per dimension; split the batch"
    );
    [g[0] as u32, g[1] as u32, g[2] as u32]
}

/// A convolution's input as kept for its weight gradient: x, and on the
/// fast path the zero-padded copy the forward pass made of it, so that the
/// gradient does not pad x a second time.
#[derive(Clone)]
pub struct ConvInput {
    pub x: Tensor,
    /// (the geometry it was padded for, the padded copy)
    padded: Option<(ConvGeom, Tensor)>,
}

impl ConvInput {
    /// x alone (the weight gradient pads it itself where it needs to).
    pub fn new(x: &Tensor) -> ConvInput {
        ConvInput { x: x.clone(), padded: None }
    }

    /// The padded copy, if it was made for geometry `g`.
    fn padded_for(&self, g: &ConvGeom) -> Option<&Tensor> {
        self.padded.as_ref().filter(|(pg, _)| pg == g).map(|(_, t)| t)
    }
}

/// y = conv2d(x, w) + b, y: [N, O, OH, OW].
pub fn conv2d_forward(
    gpu: &Arc<Gpu>,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: (usize, usize),
    pad: (usize, usize),
) -> Tensor {
    conv2d_forward_algo(gpu, ConvAlgo::from_env(), x, w, b, stride, pad)
}

/// `conv2d_forward`, then ReLU when `relu` (in the fast kernel's epilogue:
/// one dispatch and no texture copy for the activation; a separate ReLU on
/// the other paths), also returning the input as `conv2d_backward_weight`
/// wants it (what a training step keeps for the backward pass).
pub fn conv2d_forward_keep(
    gpu: &Arc<Gpu>,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: (usize, usize),
    pad: (usize, usize),
    relu: bool,
) -> (Tensor, ConvInput) {
    let (y, padded) = forward(gpu, ConvAlgo::from_env(), x, w, b, stride, pad, relu);
    (y, ConvInput { x: x.clone(), padded })
}

pub fn conv2d_forward_algo(
    gpu: &Arc<Gpu>,
    algo: ConvAlgo,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: (usize, usize),
    pad: (usize, usize),
) -> Tensor {
    forward(gpu, algo, x, w, b, stride, pad, false).0
}

/// y (ReLU'd when `relu`), and on the fast path x's padded copy with its
/// geometry.
#[allow(clippy::too_many_arguments)]
fn forward(
    gpu: &Arc<Gpu>,
    algo: ConvAlgo,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: (usize, usize),
    pad: (usize, usize),
    relu: bool,
) -> (Tensor, Option<(ConvGeom, Tensor)>) {
    let g = ConvGeom::new(x.shape(), w.shape(), stride, pad);
    if let Some(b) = b {
        check_len(b, g.o, "bias");
    }
    let algo = tuned(gpu, algo, ConvPass::Forward, &g);
    let y = gpu.alloc(&g.y_shape());
    match algo {
        ConvAlgo::Fast if fast_applies(ConvPass::Forward, &g) => {
            let f = Fast::forward(&g);
            let xp = f.pad_input(gpu, x);
            fast_conv(gpu, &f, &xp, w, &g, false, b, relu, &y);
            return (y, Some((g, xp)));
        }
        ConvAlgo::Auto | ConvAlgo::Fast | ConvAlgo::Direct => {
            let mut p = g.params();
            p.flags = b.is_some() as u32;
            let q = g.n * g.oh * g.ow;
            let groups = grid(gpu, [q.div_ceil(TP).div_ceil(WG), g.o.div_ceil(TO), 1], "forward");
            gpu.dispatch(&k::CONV2D_FORWARD, &p, &[x, w, b.unwrap_or(w), &y], groups);
        }
        ConvAlgo::Im2col => {
            let kdim = g.c * g.kh * g.kw;
            let q = g.n * g.oh * g.ow;
            let col = im2col(gpu, &g, x);
            let ycn = gpu.alloc(&[g.o, q]);
            gemm::gemm_into(gpu, &w.reshape(&[g.o, kdim]), &col, gemm::NN, None, false, &ycn);
            swap01_into(gpu, &ycn, [g.o, g.n, g.oh * g.ow], b, &y);
        }
    }
    if relu {
        return (crate::ops::elementwise::relu(gpu, &y), None);
    }
    (y, None)
}

/// dx = conv2d_transpose(dy, w): the gradient w.r.t. the input, [N,C,H,W].
pub fn conv2d_backward_data(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    w: &Tensor,
    x_shape: &[usize],
    stride: (usize, usize),
    pad: (usize, usize),
) -> Tensor {
    conv2d_backward_data_algo(gpu, ConvAlgo::from_env(), dy, w, x_shape, stride, pad)
}

pub fn conv2d_backward_data_algo(
    gpu: &Arc<Gpu>,
    algo: ConvAlgo,
    dy: &Tensor,
    w: &Tensor,
    x_shape: &[usize],
    stride: (usize, usize),
    pad: (usize, usize),
) -> Tensor {
    let g = ConvGeom::new(x_shape, w.shape(), stride, pad);
    check_len(dy, g.y_shape().iter().product(), "dy");
    let algo = tuned(gpu, algo, ConvPass::Data, &g);
    let dx = gpu.alloc(&g.x_shape());
    match algo {
        ConvAlgo::Fast if fast_applies(ConvPass::Data, &g) => {
            // stride 1: dx is the full correlation of dy with the flipped,
            // transposed kernel, i.e. a forward convolution.
            let f = Fast {
                n: g.n,
                cin: g.o,
                h: g.oh,
                w: g.ow,
                pad: ((g.kh - 1 - g.pad.0) as isize, (g.kw - 1 - g.pad.1) as isize),
                cout: g.c,
                kh: g.kh,
                kw: g.kw,
                sh: 1,
                sw: 1,
                oh: g.h,
                ow: g.w,
            };
            let dyp = f.pad_input(gpu, dy);
            fast_conv(gpu, &f, &dyp, w, &g, true, None, false, &dx);
        }
        ConvAlgo::Auto | ConvAlgo::Fast | ConvAlgo::Direct => {
            let p = g.params();
            let jt = g.w.div_ceil(g.stride.1).div_ceil(TP);
            let threads = g.n * g.h * g.stride.1 * jt;
            let groups = grid(gpu, [threads.div_ceil(WG), g.c.div_ceil(TO), 1], "backward_data");
            gpu.dispatch(&k::CONV2D_BACKWARD_DATA, &p, &[w, dy, &dx], groups);
        }
        ConvAlgo::Im2col => {
            let kdim = g.c * g.kh * g.kw;
            let q = g.n * g.oh * g.ow;
            let dyt = gpu.alloc(&[g.o, q]);
            swap01_into(gpu, dy, [g.n, g.o, g.oh * g.ow], None, &dyt);
            let dcol = gpu.alloc(&[kdim, q]);
            gemm::gemm_into(gpu, &w.reshape(&[g.o, kdim]), &dyt, gemm::TN, None, false, &dcol);
            let mut p = g.params();
            p.total = dx.len() as u32;
            // out(5), dyt(13) (the column gradient read as a texture)
            gpu.dispatch(&k::CONV2D_COL2IM, &p, &[&dx, &dcol], groups_1d(dx.len(), WG as u32));
        }
    }
    dx
}

/// dw = sum over the batch and output pixels of dy x im2col(x), [O,C,KH,KW],
/// from the input as `conv2d_forward_keep` kept it (or `ConvInput::new(x)`).
pub fn conv2d_backward_weight(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    input: &ConvInput,
    w_shape: &[usize],
    stride: (usize, usize),
    pad: (usize, usize),
) -> Tensor {
    conv2d_backward_weight_algo(gpu, ConvAlgo::from_env(), dy, input, w_shape, stride, pad)
}

pub fn conv2d_backward_weight_algo(
    gpu: &Arc<Gpu>,
    algo: ConvAlgo,
    dy: &Tensor,
    input: &ConvInput,
    w_shape: &[usize],
    stride: (usize, usize),
    pad: (usize, usize),
) -> Tensor {
    let x = &input.x;
    let g = ConvGeom::new(x.shape(), w_shape, stride, pad);
    check_len(dy, g.y_shape().iter().product(), "dy");
    let algo = tuned(gpu, algo, ConvPass::Weight, &g);
    let kdim = g.c * g.kh * g.kw;
    let q = g.n * g.oh * g.ow;
    match algo {
        ConvAlgo::Fast if fast_applies(ConvPass::Weight, &g) => fast_weight_grad(gpu, &g, dy, input),
        ConvAlgo::Auto | ConvAlgo::Fast | ConvAlgo::Direct => {
            // Split the long reduction over N*OH*OW into chunks so there are
            // enough threads, then sum the partial gradients.
            let tiles = kdim.div_ceil(TP) * g.o.div_ceil(TO);
            let want_chunks = 4096usize.div_ceil(tiles).max(1);
            let chunk = q.div_ceil(want_chunks).max(64).min(q);
            let chunks = q.div_ceil(chunk);
            let mut p = g.params();
            p.chunk = chunk as u32;
            let groups = grid(gpu, [kdim.div_ceil(TP).div_ceil(WG), g.o.div_ceil(TO), chunks], "backward_weight");
            if chunks == 1 {
                let dw = gpu.alloc(&g.w_shape());
                gpu.dispatch(&k::CONV2D_BACKWARD_WEIGHT, &p, &[x, dy, &dw], groups);
                dw
            } else {
                let part = gpu.alloc(&[chunks, g.o * kdim]);
                gpu.dispatch(&k::CONV2D_BACKWARD_WEIGHT, &p, &[x, dy, &part], groups);
                let dw = gpu.alloc(&g.w_shape());
                reduce::sum_cols_into(gpu, &part, 1.0, &dw);
                dw
            }
        }
        ConvAlgo::Im2col => {
            let col = im2col(gpu, &g, x);
            let dyt = gpu.alloc(&[g.o, q]);
            swap01_into(gpu, dy, [g.n, g.o, g.oh * g.ow], None, &dyt);
            let dw = gpu.alloc(&g.w_shape());
            gemm::gemm_into(gpu, &dyt, &col, gemm::NT, None, false, &dw);
            dw
        }
    }
}

/// db[o] = sum over n, oh, ow of dy[n, o, oh, ow].
pub fn conv2d_backward_bias(gpu: &Arc<Gpu>, dy: &Tensor) -> Tensor {
    let s = dy.shape();
    assert_eq!(s.len(), 4, "conv2d_backward_bias: dy must be [N,O,OH,OW], got {s:?}");
    let (n, o, hw) = (s[0], s[1], s[2] * s[3]);
    let rows = reduce::sum_rows(gpu, &dy.reshape(&[n * o, hw]), 1.0);
    let db = gpu.alloc(&[o]);
    reduce::sum_cols_into(gpu, &rows.reshape(&[n, o]), 1.0, &db);
    db
}

/// The [C*KH*KW, N*OH*OW] column matrix of x.
fn im2col(gpu: &Arc<Gpu>, g: &ConvGeom, x: &Tensor) -> Tensor {
    let kdim = g.c * g.kh * g.kw;
    let q = g.n * g.oh * g.ow;
    let col = gpu.alloc(&[kdim, q]);
    let mut p = g.params();
    p.total = (kdim * q) as u32;
    // out(5), xs(14) (x read as a texture)
    gpu.dispatch(&k::CONV2D_IM2COL, &p, &[&col, x], groups_1d(kdim * q, WG as u32));
    col
}

/// out[b, a, i] = x[a, b, i] (+ bias[a]), x viewed as [A, B, I].
fn swap01_into(gpu: &Gpu, x: &Tensor, [a, b, i]: [usize; 3], bias: Option<&Tensor>, out: &Tensor) {
    assert_eq!(x.len(), a * b * i);
    assert_eq!(out.len(), a * b * i);
    let p = Params {
        c: a as u32,
        n: b as u32,
        h: i as u32,
        flags: bias.is_some() as u32,
        total: (a * b * i) as u32,
        ..Default::default()
    };
    // bias(3), out(5), xs(14) (x read as a texture)
    gpu.dispatch(&k::CONV2D_SWAP01, &p, &[bias.unwrap_or(x), out, x], groups_1d(a * b * i, WG as u32));
}

/// The algorithm `pass` of `g` takes by default (`ADVLAB_CONV_ALGO`, else
/// `Auto` resolved as below).
pub fn algo_for(gpu: &Gpu, pass: ConvPass, g: &ConvGeom) -> ConvAlgo {
    tuned(gpu, ConvAlgo::from_env(), pass, g)
}

/// `Auto` resolved for one pass of `g`: what the tuning records say for
/// this adapter and shape ([`conv_tuning`]), else `Fast`; any other
/// choice stands.
fn tuned(gpu: &Gpu, algo: ConvAlgo, pass: ConvPass, g: &ConvGeom) -> ConvAlgo {
    match algo {
        ConvAlgo::Auto => conv_tuning::recorded(gpu, pass, g).unwrap_or(ConvAlgo::Fast),
        other => other,
    }
}

/// Whether the fast kernels run `pass` of `g` (`Fast` falls back to
/// `Direct` elsewhere).
pub fn fast_applies(pass: ConvPass, g: &ConvGeom) -> bool {
    match pass {
        ConvPass::Forward => fast_ok(g.kw, g.stride.1),
        // stride 1 only: dx is then a forward convolution of padded dy
        ConvPass::Data => g.stride == (1, 1) && fast_ok(g.kw, 1) && g.pad.0 < g.kh && g.pad.1 < g.kw,
        ConvPass::Weight => fast_weight_ok(g.kh, g.kw, g.stride.1),
    }
}

/// Whether `forward_fast` handles this kernel width and horizontal stride.
fn fast_ok(kw: usize, sw: usize) -> bool {
    kw <= 9 && (1..=2).contains(&sw)
}

/// Geometry of one `forward_fast` convolution (stride-1 backward_data runs
/// as one too, with dy as input and the flipped kernel).
struct Fast {
    n: usize,
    cin: usize,
    h: usize,
    w: usize,
    /// signed zero padding of the input
    pad: (isize, isize),
    cout: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    oh: usize,
    ow: usize,
}

/// Weights in `forward_fast` order, [taps, channels rounded up to 8], in a
/// linear texture (texel i at (i % LINEAR_WIDTH, i / LINEAR_WIDTH)) kept
/// for `w` (`Gpu::tensor_texture`).
/// `flipped`: taps (o, kh, kw) of the flipped kernel, channels c (for dx).
fn pack(gpu: &Gpu, w: &Tensor, g: &ConvGeom, flipped: bool) -> wgpu::TextureView {
    let (taps, width) = if flipped {
        (g.o * g.kh * g.kw, g.c.next_multiple_of(8))
    } else {
        (g.c * g.kh * g.kw, g.o.next_multiple_of(8))
    };
    let vecs = taps * width / 4;
    let rows = vecs.div_ceil(LINEAR_WIDTH).max(1) as u32;
    // w's own texture, packed once per write of w (once per optimiser step
    // in training, once per attack)
    let key = [10 + flipped as u32, g.o as u32, g.c as u32, g.kh as u32, g.kw as u32, 0, LINEAR_WIDTH as u32, rows];
    gpu.tensor_texture(w, key, |_, tex| {
        let mut p = g.params();
        p.chunk = (width / 4) as u32;
        p.flags = (flipped as u32) << 1;
        p.total = (taps * width) as u32;
        // bindings in order: wt(2), lin(12)
        let groups = groups_1d(vecs, WG as u32);
        gpu.dispatch_binds(&k::CONV2D_PACK, &[], &p, &[Bind::Buf(w, None), Bind::Tex(tex)], groups);
    })
}

/// Copy [planes, h, w] into a zero-filled [planes, hp, wp] with the source
/// at offset (pad.0, pad.1) (negative crops), for the fast kernels to bind
/// as a linear texture. Bind the result only to texture bindings: with the
/// texture cache on, only its texture is written, not its buffer.
fn pad_planes(
    gpu: &Arc<Gpu>,
    x: &Tensor,
    planes: usize,
    (h, w): (usize, usize),
    (hp, wp): (usize, usize),
    pad: (isize, isize),
) -> Tensor {
    assert_eq!(x.len(), planes * h * w);
    assert_eq!(wp % 4, 0, "pad: padded rows must be whole vec4s");
    let out = gpu.alloc(&[planes, hp, wp]);
    let vecs = planes * hp * wp / 4;
    let p = Params {
        h: h as u32,
        w: w as u32,
        oh: hp as u32,
        ow: wp as u32,
        ph: pad.0 as i32 as u32,
        pw: pad.1 as i32 as u32,
        total: vecs as u32,
        ..Default::default()
    };
    let groups = groups_1d(vecs, WG as u32);
    // Every reader binds the padded planes as a texture: write that texture
    // and skip the buffer (LeNet: a copy of ~2M floats a step saved).
    match gpu.claim_linear_texture(&out) {
        // bindings in order: lin(12), xs(14) (x copied into a texture)
        Some(tex) => gpu.dispatch_binds(&k::CONV2D_PAD_TEX, &[], &p, &[Bind::Tex(&tex), Bind::Buf(x, None)], groups),
        // bindings in order: xs(14), padded(15)
        None => gpu.dispatch_binds(&k::CONV2D_PAD, &[], &p, &[Bind::Buf(x, None), Bind::Buf(&out, None)], groups),
    }
    out
}

impl Fast {
    /// The convolution `g` itself.
    fn forward(g: &ConvGeom) -> Fast {
        Fast {
            n: g.n,
            cin: g.c,
            h: g.h,
            w: g.w,
            pad: (g.pad.0 as isize, g.pad.1 as isize),
            cout: g.o,
            kh: g.kh,
            kw: g.kw,
            sh: g.stride.0,
            sw: g.stride.1,
            oh: g.oh,
            ow: g.ow,
        }
    }
    fn nwin(&self) -> usize {
        (8 * self.sw + self.kw + 2) / 4
    }
    fn owt(&self) -> usize {
        self.ow.div_ceil(8)
    }
    /// Tiles of 4 output rows.
    fn oht(&self) -> usize {
        self.oh.div_ceil(4)
    }
    /// (padded rows, vec4s per padded row) of the input copy: room for
    /// every window of every (partial) tile, zeros past the input.
    fn padded(&self) -> (usize, usize) {
        let hp = ((self.h as isize + 2 * self.pad.0) as usize).max((self.oht() * 4 - 1) * self.sh + self.kh);
        let wp4 =
            ((self.w as isize + 2 * self.pad.1) as usize).div_ceil(4).max((self.owt() - 1) * 2 * self.sw + self.nwin());
        (hp, wp4)
    }
    fn pad_input(&self, gpu: &Arc<Gpu>, x: &Tensor) -> Tensor {
        let (hp, wp4) = self.padded();
        pad_planes(gpu, x, self.n * self.cin, (self.h, self.w), (hp, wp4 * 4), self.pad)
    }
    /// Output channels per invocation: 4 when that pads less (e.g. 3).
    fn toc(&self) -> usize {
        if self.cout.next_multiple_of(4) < self.cout.next_multiple_of(8) {
            4
        } else {
            8
        }
    }
    fn consts(&self) -> [(&'static str, f64); 4] {
        [("KW", self.kw as f64), ("SW", self.sw as f64), ("SH", self.sh as f64), ("TOC", self.toc() as f64)]
    }
}

/// `forward_fast` on `xp`, the input as `Fast::pad_input` pads it, with
/// weights `w` packed as `pack` does (`flipped` for the data gradient).
#[allow(clippy::too_many_arguments)]
fn fast_conv(
    gpu: &Gpu,
    f: &Fast,
    xp: &Tensor,
    w: &Tensor,
    g: &ConvGeom,
    flipped: bool,
    b: Option<&Tensor>,
    relu: bool,
    y: &Tensor,
) {
    let (hp, wp4) = f.padded();
    let wt = pack(gpu, w, g, flipped);
    let p = Params {
        n: f.n as u32,
        c: f.cin as u32,
        h: hp as u32,
        w: wp4 as u32,
        o: f.cout as u32,
        kh: f.kh as u32,
        oh: f.oh as u32,
        ow: f.ow as u32,
        sh: f.sh as u32,
        chunk: (f.cout.next_multiple_of(8) / 4) as u32,
        flags: b.is_some() as u32 | (relu as u32) << 2,
        ..Default::default()
    };
    let groups = grid(gpu, [(f.n * f.oht() * f.owt()).div_ceil(WG), f.cout.div_ceil(f.toc()), 1], "forward_fast");
    // bindings in order: bias(3), xt(10), wtt(11), out4(16)
    let binds = [Bind::Buf(b.unwrap_or(w), None), Bind::Buf(xp, None), Bind::Tex(&wt), Bind::Buf(y, None)];
    gpu.dispatch_binds(&k::CONV2D_FORWARD_FAST, &f.consts(), &p, &binds, groups);
}

/// Whether `backward_weight_fast` handles this kernel (its accumulators
/// cover at most 25 taps).
fn fast_weight_ok(kh: usize, kw: usize, sw: usize) -> bool {
    fast_ok(kw, sw) && kh <= 5 && kh * kw <= 25
}

/// Weight gradient on the fast path: partial sums over chunks of output
/// pixels, then one column sum.
fn fast_weight_grad(gpu: &Arc<Gpu>, g: &ConvGeom, dy: &Tensor, x: &ConvInput) -> Tensor {
    let f = Fast::forward(g);
    let (hp, wp4) = f.padded();
    let padded_now;
    let xp = match x.padded_for(g) {
        Some(xp) => xp,
        None => {
            padded_now = f.pad_input(gpu, &x.x);
            &padded_now
        }
    };
    let owp = f.owt() * 8;
    // dy rows must be whole 8-column tiles; where they are, dy as it is
    // (alexnet-cifar conv1: a 4.2M-float copy a step saved, ~10 ms)
    let padded_dy;
    let dyp = if owp == g.ow {
        dy
    } else {
        padded_dy = pad_planes(gpu, dy, g.n * g.o, (g.oh, g.ow), (g.oh, owp), (0, 0));
        &padded_dy
    };
    // work items: columns (n, 8-column tile), each walked over every output row
    let cols = g.n * f.owt();
    let per_chunk_threads = g.c * g.o.div_ceil(8);
    let want = 2048usize.div_ceil(per_chunk_threads).clamp(1, cols);
    let chunk = cols.div_ceil(want);
    let chunks = cols.div_ceil(chunk);
    let wlen = g.o * g.c * g.kh * g.kw;
    let part = gpu.alloc(&[chunks, wlen]);
    let p = Params {
        n: g.n as u32,
        c: g.c as u32,
        h: hp as u32,
        w: wp4 as u32,
        o: g.o as u32,
        kh: g.kh as u32,
        oh: g.oh as u32,
        ow: (owp / 4) as u32,
        sh: g.stride.0 as u32,
        chunk: chunk as u32,
        total: cols as u32,
        flags: chunks as u32,
        ..Default::default()
    };
    let groups = grid(gpu, [(chunks * g.c).div_ceil(WG), g.o.div_ceil(8), 1], "backward_weight_fast");
    let consts = [("KW", g.kw as f64), ("SW", g.stride.1 as f64), ("SH", g.stride.0 as f64), ("KH", g.kh as f64)];
    // bindings in order: out(5), xt(10), dyt(13)
    let binds = [Bind::Buf(&part, None), Bind::Buf(xp, None), Bind::Buf(dyp, None)];
    gpu.dispatch_binds(&k::CONV2D_BACKWARD_WEIGHT_FAST, &consts, &p, &binds, groups);
    if chunks == 1 {
        return part.reshape(&g.w_shape());
    }
    let dw = gpu.alloc(&g.w_shape());
    reduce::sum_cols_into(gpu, &part, 1.0, &dw);
    dw
}

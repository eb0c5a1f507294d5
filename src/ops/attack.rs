//! Host side of shaders/attack.wgsl: the attack-specific kernels (FGSM/PGD
//! step, Carlini-Wagner state machine, JSMA pair search). Shape checks and
//! dispatch geometry only; the algorithms live in `crate::attack`.
//!
//! As for every kernel, the storage buffers are passed in the order of
//! their `@binding` numbers in attack.wgsl (not the order of the Rust
//! arguments); the brute-force and oracle tests in tests/attacks.rs cover
//! every entry point.

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    #[derive(Debug, Default)]
    struct Params for crate::gpu::kernels::ATTACK_WGSL {
        n: u32,
        batch: u32,
        classes: u32,
        mode: u32,
        eps: f32,
        step: f32,
        lo: f32,
        hi: f32,
        dir: f32,
        kappa: f32,
        mul: f32,
        plus: f32,
        lr_t: f32,
        beta1: f32,
        beta2: f32,
        adam_eps: f32,
        tiles: u32,
        max_iters: u32,
        theta: f32,
        flags: u32,
        _pad: [u32; 4],
    }
}

/// Floats per image in the C&W state buffer (see `cw_eval` in attack.wgsl).
pub const CW_ST: usize = 12;
pub const CW_C: usize = 0;
pub const CW_BESTL2: usize = 1;
pub const CW_BESTSC: usize = 2;
pub const CW_OBESTL2: usize = 3;
pub const CW_OBESTSC: usize = 4;
pub const CW_LOSS: usize = 5;
pub const CW_PREV: usize = 6;
pub const CW_ACTIVE: usize = 7;
pub const CW_ITERS: usize = 8;
pub const CW_L2: usize = 9;
pub const CW_COPY: usize = 10;

/// u32 per image in the JSMA state buffer: active, iterations, |Γ|, stop reason.
pub const JSMA_ST: usize = 4;

/// Workgroup size of the elementwise and JSMA pair kernels (the per-image
/// kernel pgd_step uses 64 threads per image).
const WG: usize = 256;

/// Images of one batch and features per image, from a [B, ...] tensor.
fn geometry(x: &Tensor) -> (usize, usize) {
    let s = x.shape();
    assert!(s.len() >= 2, "attack kernels: expected a [B, ...] batch, got {s:?}");
    (s[0], s[1..].iter().product())
}

fn per_image_groups(gpu: &Gpu, batch: usize, what: &str) -> [u32; 3] {
    let max = gpu.limits.max_compute_workgroups_per_dimension as usize;
    assert!(batch <= max, "{what}: batch {batch} exceeds {max} workgroups per dimension; split the batch");
    [batch as u32, 1, 1]
}

/// Which norm an FGSM / PGD step uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepNorm {
    /// x + step·sign(g)
    Inf,
    /// x + step·g/max(1e-12, ||g||₂) (per image)
    L2,
}

/// One FGSM / PGD step in place on `xk` [B, ...]:
/// xk = clip_[lo,hi]( proj(xk + step·dir·d(g)) ), with the projection onto
/// the `eps` ball around `x0` only when `project` (PGD; FGSM skips it).
#[allow(clippy::too_many_arguments)]
pub fn pgd_step(
    gpu: &Gpu,
    x0: &Tensor,
    g: &Tensor,
    xk: &Tensor,
    norm: StepNorm,
    eps: f32,
    step: f32,
    dir: f32,
    project: bool,
    (lo, hi): (f32, f32),
) {
    let (b, n) = geometry(xk);
    assert!(
        x0.len() == b * n && g.len() == b * n,
        "pgd_step: x0 {:?}, grad {:?}, x {:?}",
        x0.shape(),
        g.shape(),
        xk.shape()
    );
    let p = Params {
        n: n as u32,
        batch: b as u32,
        mode: (norm == StepNorm::L2) as u32,
        eps,
        step,
        dir,
        lo,
        hi,
        flags: project as u32,
        ..Default::default()
    };
    if norm == StepNorm::Inf && n.is_multiple_of(4) {
        // bindings in order: xk4 (27, written), then x0, grad, xk as
        // textures to read (32-34)
        gpu.dispatch(&k::ATTACK_PGD_STEP_INF4, &p, &[xk, x0, g, xk], groups_1d(b * n / 4, 256));
        return;
    }
    gpu.dispatch(&k::ATTACK_PGD_STEP, &p, &[x0, g, xk], per_image_groups(gpu, b, "pgd_step"));
}

fn box_params(lo: f32, hi: f32) -> (f32, f32) {
    ((hi - lo) / 2.0, (hi + lo) / 2.0)
}

/// C&W change of variables and the reset of each binary-search step:
/// w0 = artanh((x-plus)/mul·0.999999), state `s` = (δ, m, v, w0) =
/// (0, 0, 0, w0) per element ([B, n, 4]), x' = x̄ = tanh(w0)·mul+plus.
pub fn cw_prep(gpu: &Gpu, x: &Tensor, s: &Tensor, xp: &Tensor, (lo, hi): (f32, f32)) {
    let (b, n) = geometry(x);
    assert_eq!(xp.len(), b * n, "cw_prep: x' {:?} vs x {:?}", xp.shape(), x.shape());
    assert_eq!(s.len(), 4 * b * n, "cw_prep: state {:?} vs x {:?}", s.shape(), x.shape());
    let (mul, plus) = box_params(lo, hi);
    let p = Params { n: n as u32, batch: b as u32, mul, plus, lo, hi, ..Default::default() };
    gpu.dispatch(&k::ATTACK_CW_PREP, &p, &[x, s, xp], groups_1d(b * n, WG as u32));
}

/// What `cw_eval` does this iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CwEvalMode {
    /// Record the best iterate and write the dL/dZ seed.
    Record = 0,
    /// Per-image abort-early check first (the image stops when its loss
    /// exceeds 0.9999·prev), then record.
    RecordAbortCheck = 1,
    /// Only write each image's loss into the state (for the batch-summed
    /// abort-early check on the host).
    LossOnly = 2,
}

/// Per-image C&W loss (the iterate's L2 is the state's `CW_L2`, left by
/// `cw_adam`), compare, best tracking (`CW_COPY` asks the next `cw_adam` to
/// copy x' into the best image) and the seed dZ = ∂(c·f)/∂Z.
#[allow(clippy::too_many_arguments)]
pub fn cw_eval(
    gpu: &Gpu,
    logits: &Tensor,
    labels: &Tensor,
    st: &Tensor,
    dz: &Tensor,
    mode: CwEvalMode,
    targeted: bool,
    kappa: f32,
) {
    let b = labels.len();
    let kk = logits.len() / b.max(1);
    assert_eq!(logits.len(), b * kk, "cw_eval: logits {:?} for {b} labels", logits.shape());
    assert_eq!(dz.len(), b * kk);
    assert_eq!(st.len(), b * CW_ST);
    let p = Params {
        batch: b as u32,
        classes: kk as u32,
        mode: mode as u32,
        kappa,
        flags: targeted as u32,
        ..Default::default()
    };
    gpu.dispatch(&k::ATTACK_CW_EVAL, &p, &[logits, labels, st, dz], groups_1d(b, 64));
}

/// Adam hyper-parameters (TensorFlow's formulation: ε is added to √v
/// without bias correction; the step size carries both corrections).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamTf {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

/// Lanes per image of `cw_adam` on this adapter: 1 on CPU adapters (a lane
/// walks its image, no barriers), 64 on GPUs (coalesced loads, a workgroup
/// reduction).
pub fn cw_lanes_per_image(gpu: &Gpu) -> usize {
    if gpu.is_cpu() {
        1
    } else {
        64
    }
}

/// Copy x' into `best` where `cw_eval` asked, then the chain rule through
/// x' = tanh(δ+w0)·mul+plus plus the 2(x'-x̄) distance gradient, one Adam
/// step on δ (state `s` = (δ, m, v, w0) per element) at time `t`
/// (1-based), the new x' and its L2 into the state. Images whose state
/// says inactive are left alone. `lpi`: lanes per image, a power of two up
/// to 64 ([`cw_lanes_per_image`]; tests run every layout on any adapter).
#[allow(clippy::too_many_arguments)]
pub fn cw_adam(
    gpu: &Gpu,
    s: &Tensor,
    gx: &Tensor,
    st: &Tensor,
    best: &Tensor,
    xp: &Tensor,
    adam: AdamTf,
    t: u32,
    (lo, hi): (f32, f32),
    lpi: usize,
) {
    assert!(lpi.is_power_of_two() && lpi <= 64, "cw_adam: {lpi} lanes per image");
    let (b, n) = geometry(xp);
    assert_eq!(s.len(), 4 * b * n, "cw_adam: state {:?} vs x' {:?}", s.shape(), xp.shape());
    for x in [gx, best] {
        assert_eq!(x.len(), b * n, "cw_adam: buffer {:?} vs x' {:?}", x.shape(), xp.shape());
    }
    assert_eq!(st.len(), b * CW_ST);
    let (mul, plus) = box_params(lo, hi);
    let t = t.max(1) as i32;
    let lr_t =
        (adam.lr as f64 * (1.0 - (adam.beta2 as f64).powi(t)).sqrt() / (1.0 - (adam.beta1 as f64).powi(t))) as f32;
    let p = Params {
        n: n as u32,
        batch: b as u32,
        mul,
        plus,
        lo,
        hi,
        lr_t,
        beta1: adam.beta1,
        beta2: adam.beta2,
        adam_eps: adam.eps,
        ..Default::default()
    };
    // in binding order: s, xp, st, best (storage), then s and gx again as
    // textures to read
    gpu.dispatch_with(
        &k::ATTACK_CW_ADAM,
        &[("LPI", lpi as f64)],
        &p,
        &[s, xp, st, best, s, gx],
        groups_1d(b * lpi, 64),
    );
}

/// JSMA stopping test and backward seeds. `probs`: F = softmax (else logits).
/// `targets` are u32 [B]; `st` u32 [B, 4]; `sa`, `sb` [B, K].
#[allow(clippy::too_many_arguments)]
pub fn jsma_seed(
    gpu: &Gpu,
    logits: &Tensor,
    targets: &Tensor,
    st: &Tensor,
    sa: &Tensor,
    sb: &Tensor,
    probs: bool,
    max_iters: u32,
) {
    let b = targets.len();
    let kk = logits.len() / b.max(1);
    assert_eq!(logits.len(), b * kk, "jsma_seed: logits {:?} for {b} targets", logits.shape());
    assert!(sa.len() == b * kk && sb.len() == b * kk);
    assert_eq!(st.len(), b * JSMA_ST);
    let p = Params { batch: b as u32, classes: kk as u32, mode: (!probs) as u32, max_iters, ..Default::default() };
    gpu.dispatch(&k::ATTACK_JSMA_SEED, &p, &[logits, targets, st, sa, sb], groups_1d(b, 64));
}

/// Number of pair-search tiles per image for `n` features (each thread
/// scans two folded rows of the upper triangle).
pub fn jsma_tiles(n: usize) -> usize {
    n.div_ceil(2).div_ceil(WG).max(1)
}

/// Masked pair search: per image and tile, the best (score, key) with key =
/// p·n+q, p<q, both features in the domain; written to `part` u32 [B, tiles, 2]
/// (score as f32 bits; key u32::MAX and score 0 where no pair qualifies).
pub fn jsma_pairs(gpu: &Gpu, alpha: &Tensor, beta: &Tensor, dom: &Tensor, st: &Tensor, part: &Tensor, increase: bool) {
    let (b, n) = geometry(alpha);
    assert!(n < 65_536, "jsma: {n} features per image is more than the u32 pair key allows (65535)");
    assert!(
        beta.len() == b * n && dom.len() == b * n,
        "jsma_pairs: beta {:?} dom {:?} alpha {:?}",
        beta.shape(),
        dom.shape(),
        alpha.shape()
    );
    assert_eq!(st.len(), b * JSMA_ST);
    let tiles = jsma_tiles(n);
    assert_eq!(part.len(), b * tiles * 2, "jsma_pairs: partials buffer");
    let max = gpu.limits.max_compute_workgroups_per_dimension as usize;
    assert!(b <= max && tiles <= max, "jsma_pairs: batch {b} x {tiles} tiles exceeds {max} workgroups per dimension");
    let p = Params {
        n: n as u32,
        batch: b as u32,
        tiles: tiles as u32,
        flags: (increase as u32) << 1,
        ..Default::default()
    };
    gpu.dispatch(&k::ATTACK_JSMA_PAIRS, &p, &[st, alpha, beta, dom, part], [tiles as u32, b as u32, 1]);
}

/// Pick each active image's best pair from `part`, move both features by
/// `theta` inside [lo, hi] and drop them from the domain; stop images with
/// no valid pair (reason 4).
#[allow(clippy::too_many_arguments)]
pub fn jsma_apply(gpu: &Gpu, part: &Tensor, st: &Tensor, x: &Tensor, dom: &Tensor, theta: f32, (lo, hi): (f32, f32)) {
    let (b, n) = geometry(x);
    let tiles = jsma_tiles(n);
    assert_eq!(part.len(), b * tiles * 2);
    assert_eq!(dom.len(), b * n);
    assert_eq!(st.len(), b * JSMA_ST);
    let p = Params {
        n: n as u32,
        batch: b as u32,
        tiles: tiles as u32,
        theta,
        lo,
        hi,
        flags: ((theta > 0.0) as u32) << 1,
        ..Default::default()
    };
    gpu.dispatch(&k::ATTACK_JSMA_APPLY, &p, &[st, dom, part, x], groups_1d(b, 64));
}

//! Host side of shaders/gemm.wgsl: C = op(A) op(B) (+ bias) (+ C).
//!
//! Three kernel paths (see the shader header for the reasoning):
//! - [`GemmPath::Naive`]: one invocation per element; tiny products only.
//! - [`GemmPath::Tiled`]: workgroup-memory tiled kernel for real GPUs.
//! - [`GemmPath::Cpu`]: register-tiled kernel for CPU adapters (lavapipe),
//!   after packing operands that are transposed or have rows that are not a
//!   multiple of 4 floats into pooled scratch tensors.
//!
//! [`GemmPath::Auto`] (what [`gemm_into`] uses) picks Naive for products
//! under [`NAIVE_MAX_WORK`] multiply-adds, else Cpu on CPU adapters and Tiled
//! elsewhere. `ADVLAB_GEMM_PATH=naive|tiled|cpu` overrides Auto (tests, and
//! comparing paths on one machine).
//!
//! Measured on lavapipe (Mesa 22.3, 2 cores; GFLOP/s normalised by CPU time
//! because the build machine was shared): naive 0.25, `matmul_tiled` 0.56,
//! `cpu_nn` 3.6-4.3 for 256^3..2048^3 (8x16 tile: 3.0). Native 16x16 NT / TN
//! kernels measured 10-20% below NN while a `pack` pass costs 1-4% of a
//! product, so NT and TN pack and reuse the NN kernel.

use std::sync::{Arc, OnceLock};

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    flags: u32,
    s0: u32,
    s1: u32,
    s2: u32,
    s3: u32,
}

/// Which operands are transposed. A is [M,K] (or [K,M] when `ta`), B is
/// [K,N] (or [N,K] when `tb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trans {
    pub ta: bool,
    pub tb: bool,
}

pub const NN: Trans = Trans { ta: false, tb: false };
pub const NT: Trans = Trans { ta: false, tb: true };
pub const TN: Trans = Trans { ta: true, tb: false };

/// Which kernel computes a product (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GemmPath {
    #[default]
    Auto,
    Naive,
    Tiled,
    Cpu,
}

/// Products with at most this many multiply-adds take the naive kernel under
/// `Auto`: one dispatch and no packing beats the tiled paths there.
pub const NAIVE_MAX_WORK: usize = 1 << 14;

/// Register tile of `cpu_nn` (rows x columns per invocation).
const CPU_TM: u32 = 16;
const CPU_TN: u32 = 16;
/// Invocations per workgroup of `cpu_nn`: 8 = one SIMD batch on lavapipe,
/// so small products still spread over all worker threads.
const CPU_WG: u32 = 8;

fn env_path() -> GemmPath {
    static P: OnceLock<GemmPath> = OnceLock::new();
    *P.get_or_init(|| match std::env::var("ADVLAB_GEMM_PATH").as_deref() {
        Ok("naive") => GemmPath::Naive,
        Ok("tiled") | Ok("gpu") => GemmPath::Tiled,
        Ok("cpu") => GemmPath::Cpu,
        _ => GemmPath::Auto,
    })
}

fn dims2(t: &Tensor, what: &str) -> (usize, usize) {
    let s = t.shape();
    assert_eq!(s.len(), 2, "gemm: {what} must be 2-D, got {s:?}");
    (s[0], s[1])
}

/// C = op(A) op(B) [+ bias broadcast over rows] [+ C if `accumulate`].
pub fn gemm_into(gpu: &Gpu, a: &Tensor, b: &Tensor, t: Trans, bias: Option<&Tensor>, accumulate: bool, c: &Tensor) {
    gemm_into_with(gpu, a, b, t, bias, accumulate, c, GemmPath::Auto)
}

/// [`gemm_into`] with an explicit kernel path (`Auto` still honours
/// `ADVLAB_GEMM_PATH`).
#[allow(clippy::too_many_arguments)]
pub fn gemm_into_with(
    gpu: &Gpu,
    a: &Tensor,
    b: &Tensor,
    t: Trans,
    bias: Option<&Tensor>,
    accumulate: bool,
    c: &Tensor,
    path: GemmPath,
) {
    let (ar, ac) = dims2(a, "A");
    let (br, bc) = dims2(b, "B");
    let (m, ka) = if t.ta { (ac, ar) } else { (ar, ac) };
    let (kb, n) = if t.tb { (bc, br) } else { (br, bc) };
    assert_eq!(ka, kb, "gemm: inner dimensions differ: A {:?} B {:?} {t:?}", a.shape(), b.shape());
    assert_eq!(c.len(), m * n, "gemm: C has {} elements, expected {m}x{n}", c.len());
    if let Some(bias) = bias {
        assert_eq!(bias.len(), n, "gemm: bias length {} != N {n}", bias.len());
    }
    assert!(
        !c.same_buffer(a) && !c.same_buffer(b) && !bias.is_some_and(|x| c.same_buffer(x)),
        "gemm: C must not share a buffer with an input"
    );
    if m == 0 || n == 0 {
        return;
    }
    let k = ka;
    let flags = bias.is_some() as u32 | (accumulate as u32) << 1;
    let path = match (path, env_path()) {
        (GemmPath::Auto, GemmPath::Auto) => {
            if m * n * k <= NAIVE_MAX_WORK {
                GemmPath::Naive
            } else if gpu.is_cpu() {
                GemmPath::Cpu
            } else {
                GemmPath::Tiled
            }
        }
        (GemmPath::Auto, p) => p,
        (p, _) => p,
    };
    // Unused bias binding: any read-only buffer of this dispatch.
    let bias_t = bias.unwrap_or(a);
    match path {
        GemmPath::Naive | GemmPath::Tiled | GemmPath::Auto => {
            let p = Params {
                m: m as u32,
                n: n as u32,
                k: k as u32,
                flags,
                s0: if t.ta { 1 } else { ac as u32 },
                s1: if t.ta { ac as u32 } else { 1 },
                s2: if t.tb { 1 } else { bc as u32 },
                s3: if t.tb { bc as u32 } else { 1 },
            };
            if path == GemmPath::Tiled {
                let groups = [(n as u32).div_ceil(64), (m as u32).div_ceil(64), 1];
                gpu.dispatch(&k::GEMM_MATMUL_TILED, &p, &[a, b, bias_t, c], groups);
            } else {
                let groups = [(n as u32).div_ceil(16), (m as u32).div_ceil(16), 1];
                gpu.dispatch(&k::GEMM_MATMUL_NAIVE, &p, &[a, b, bias_t, c], groups);
            }
        }
        GemmPath::Cpu => {
            let k4 = k.next_multiple_of(4);
            let n4 = n.next_multiple_of(4);
            // A as [M, K4], B as [K, N4], row-major.
            let a_p = if !t.ta && k == k4 { None } else { Some(pack(gpu, a, t.ta, m, k, k4)) };
            let b_p = if !t.tb && n == n4 { None } else { Some(pack(gpu, b, t.tb, k, n, n4)) };
            let a_use = a_p.as_ref().unwrap_or(a);
            let b_use = b_p.as_ref().unwrap_or(b);
            let p = Params {
                m: m as u32,
                n: n as u32,
                k: k as u32,
                flags,
                s0: (k4 / 4) as u32,
                s1: (n4 / 4) as u32,
                s2: 0,
                s3: 0,
            };
            let groups = [(m as u32).div_ceil(CPU_TM).div_ceil(CPU_WG), (n as u32).div_ceil(CPU_TN), 1];
            gpu.dispatch_with(
                &k::GEMM_CPU_NN,
                &[("WG", CPU_WG as f64)],
                &p,
                &[bias_t, c, a_use, b_use],
                groups,
            );
            // Scratch goes back to the pool here; later users are recorded
            // after this dispatch, so reuse is ordered.
        }
    }
}

/// Scratch [rows, ld] = op(x) [rows, cols] zero-padded to row length `ld`,
/// where op(x) = x ([rows, cols]) or xᵀ (x is [cols, rows]) when `trans`.
fn pack(gpu: &Gpu, x: &Tensor, trans: bool, rows: usize, cols: usize, ld: usize) -> Tensor {
    let bytes = (rows * ld * 4).max(4) as u64;
    assert!(
        bytes <= gpu.limits.max_storage_buffer_binding_size,
        "gemm: packed operand [{rows}, {ld}] exceeds the adapter's storage binding limit"
    );
    let out = Tensor::from_pool(gpu.pool().take(&gpu.device, bytes), gpu.pool().clone(), &[rows, ld]);
    let p = Params { m: rows as u32, n: cols as u32, k: ld as u32, flags: trans as u32, s0: 0, s1: 0, s2: 0, s3: 0 };
    if rows * ld > 0 {
        gpu.dispatch(&k::GEMM_PACK, &p, &[x, &out], groups_1d(rows * ld, 64));
    }
    out
}

pub fn gemm(gpu: &Arc<Gpu>, a: &Tensor, b: &Tensor, t: Trans, bias: Option<&Tensor>) -> Tensor {
    let m = if t.ta { a.shape()[1] } else { a.shape()[0] };
    let n = if t.tb { b.shape()[0] } else { b.shape()[1] };
    let c = gpu.alloc(&[m, n]);
    gemm_into(gpu, a, b, t, bias, false, &c);
    c
}

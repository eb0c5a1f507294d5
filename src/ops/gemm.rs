//! Host side of shaders/gemm.wgsl: C = op(A) op(B) (+ bias) (+ C).
//!
//! Kernel paths (see the shader headers for the reasoning):
//! - [`GemmPath::Naive`]: one invocation per element; tiny products only.
//! - [`GemmPath::Tiled`]: workgroup-memory tiled kernel for real GPUs.
//! - [`GemmPath::CpuTex`] (default on CPU adapters with 8-wide subgroups,
//!   i.e. lavapipe): operands packed into textures, A shared across a
//!   subgroup by broadcast; src/ops/gemm_tex.rs.
//! - [`GemmPath::CpuUbo2`] (CPU adapters without such subgroups, and
//!   products too large for textures): A read through two 64 KiB
//!   *uniform-buffer* windows bound per dispatch ([`Gpu::dispatch_ranges`]),
//!   one dispatch per block of rows of C; each lane owns 32 rows x 8
//!   columns. Falls back to `Cpu` when a 16-row window cannot hold whole
//!   rows of A (K > 1024) or the adapter's uniform limits are too small.
//! - [`GemmPath::Cpu`]: register-tiled kernel (`cpu_nn`, 16x16 per lane,
//!   vec4 storage loads of both operands), after packing operands that are
//!   transposed or have rows that are not a multiple of 4 floats.
//!
//! Why uniform buffers and textures: llvmpipe (Mesa 22.3) turns every
//! storage load into a per-lane scalar loop with a bounds check (~20 cycles
//! per lane per float), even when the index is workgroup-uniform (its
//! uniform fast path is skipped inside loops). A uniform-buffer load at a
//! uniform offset is one scalar load + broadcast; a texel fetch is
//! vectorised.
//!
//! [`GemmPath::Auto`] (what [`gemm_into`] uses) picks Naive for products
//! under [`NAIVE_MAX_WORK`] multiply-adds, else CpuTex on CPU adapters and
//! Tiled elsewhere. `ADVLAB_GEMM_PATH=naive|tiled|cpu|cpuubo2|cputex`
//! overrides Auto (tests, and comparing paths on one machine).
//!
//! Measured on lavapipe (Mesa 22.3, 2 cores, `advlab bench gemm`, 1024^3
//! NN/NT/TN, idle machine): `cpu_ubo2` 7.1-8.3 GFLOP/s, `gemm_tex`
//! 12.7-13.9. Earlier, on a loaded machine (GFLOP/s normalised by CPU
//! time): naive 0.25, `matmul_tiled` 0.56, `cpu_nn` 3.5-4.3, a storage
//! version of `cpu_ubo2` with A at a workgroup-uniform index 3.5-4.0, one
//! or four uniform windows 6.2-7.3 and 10.3-12.6 (those variants were
//! removed once `gemm_tex` beat them all). Native 16x16 NT / TN kernels
//! measured 10-20% below NN while a `pack` pass costs 1-4% of a product, so
//! NT and TN pack and reuse the NN kernels.

use std::sync::{Arc, OnceLock};

use crate::gpu::{groups_1d, kernels as k, Gpu};
use crate::tensor::Tensor;

crate::gpu::params::params_struct! {
    struct Params for crate::gpu::kernels::GEMM_WGSL {
        m: u32,
        n: u32,
        k: u32,
        flags: u32,
        s0: u32,
        s1: u32,
        s2: u32,
        s3: u32,
    }
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
    /// `cpu_ubo2`: 32x8 per lane, A from two uniform-buffer windows
    /// (falls back to `Cpu` when K > 1024).
    CpuUbo2,
    /// `gemm_tex` (src/ops/gemm_tex.rs): operands in textures, A shared by
    /// subgroup broadcast. Default on CPU adapters with 8-wide subgroups;
    /// falls back to `CpuUbo2` where unsupported.
    CpuTex,
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
        Ok("cpuubo2") => GemmPath::CpuUbo2,
        Ok("cputex") => GemmPath::CpuTex,
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
    gemm_into_with(gpu, a, b, t, bias, accumulate, false, c, GemmPath::Auto)
}

/// [`gemm_into`] with an explicit kernel path (`Auto` still honours
/// `ADVLAB_GEMM_PATH`), and C = max(C, 0) last when `relu` (the epilogue of
/// every kernel path; a Linear + ReLU forward in one dispatch).
#[allow(clippy::too_many_arguments)]
pub fn gemm_into_with(
    gpu: &Gpu,
    a: &Tensor,
    b: &Tensor,
    t: Trans,
    bias: Option<&Tensor>,
    accumulate: bool,
    relu: bool,
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
    let flags = bias.is_some() as u32 | (accumulate as u32) << 1 | (relu as u32) << 2;
    let path = match (path, env_path()) {
        (GemmPath::Auto, GemmPath::Auto) => {
            if m * n * k <= NAIVE_MAX_WORK {
                GemmPath::Naive
            } else if gpu.is_cpu() {
                GemmPath::CpuTex
            } else {
                GemmPath::Tiled
            }
        }
        (GemmPath::Auto, p) => p,
        (p, _) => p,
    };
    // Unused bias binding: any read-only buffer of this dispatch.
    let bias_t = bias.unwrap_or(a);
    let path = match path {
        GemmPath::CpuTex if super::gemm_tex::supported(gpu, t, m, n, k) => {
            return super::gemm_tex::gemm_tex(gpu, a, b, t, bias_t, flags, c, m, n, k);
        }
        GemmPath::CpuTex => GemmPath::CpuUbo2,
        p => p,
    };
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
        GemmPath::Cpu | GemmPath::CpuUbo2 | GemmPath::CpuTex => {
            let k4 = k.next_multiple_of(4);
            let n4 = n.next_multiple_of(4);
            // A window of `cpu_ubo2`: whole rows of A ([M, K4]) in 64 KiB.
            let ubo_rows = UBO_VEC4 / (k4 / 4).max(1) / 16 * 16;
            let ubo_ok = ubo_rows >= 16
                && gpu.limits.max_uniform_buffer_binding_size >= (UBO_VEC4 * 16) as u64
                && gpu.limits.max_uniform_buffers_per_shader_stage > 2;
            let path = if path != GemmPath::Cpu && !ubo_ok { GemmPath::Cpu } else { path };
            let p = |s2: u32| Params {
                m: m as u32,
                n: n as u32,
                k: k as u32,
                flags,
                s0: (k4 / 4) as u32,
                s1: (n4 / 4) as u32,
                s2,
                s3: 0,
            };
            // B as [K, N4], row-major.
            let b_p = if !t.tb && n == n4 { None } else { Some(pack(gpu, b, t.tb, k, n, n4)) };
            let b_use = b_p.as_ref().unwrap_or(b);
            if path == GemmPath::CpuUbo2 {
                // One dispatch per 2 * `h` rows of C: rows r.. from window 0,
                // rows r + h.. from window 1 (each UBO_VEC4 vec4s of A).
                let h = ubo_rows.min(m.div_ceil(2).next_multiple_of(16));
                let row_bytes = (k4 * 4) as u64;
                let last = ((m - 1) / (2 * h) * (2 * h) + h) as u64 * row_bytes;
                let win = (UBO_VEC4 * 16) as u64;
                let need = last + win;
                let a_p = if !t.ta && k == k4 && a.buffer().size() >= need {
                    None
                } else {
                    Some(pack_min(gpu, a, t.ta, m, k, k4, need))
                };
                let a_use = a_p.as_ref().unwrap_or(a);
                let gx = (n as u32).div_ceil(8).div_ceil(CPU_WG);
                for r in (0..m).step_by(2 * h) {
                    let gy = (h.min(m - r) as u32).div_ceil(16);
                    gpu.dispatch_ranges(
                        &k::GEMM_CPU_UBO2,
                        &[("WG", CPU_WG as f64)],
                        &Params { s3: h as u32, ..p(r as u32) },
                        &[
                            (bias_t, None),
                            (c, None),
                            (b_use, None),
                            (a_use, Some((r as u64 * row_bytes, win))),
                            (a_use, Some(((r + h) as u64 * row_bytes, win))),
                        ],
                        [gx, gy, 1],
                    );
                }
                return;
            }
            // A as [M, K4], row-major.
            let a_p = if !t.ta && k == k4 { None } else { Some(pack(gpu, a, t.ta, m, k, k4)) };
            let a_use = a_p.as_ref().unwrap_or(a);
            let groups = [(m as u32).div_ceil(CPU_TM).div_ceil(CPU_WG), (n as u32).div_ceil(CPU_TN), 1];
            gpu.dispatch_with(&k::GEMM_CPU_NN, &[("WG", CPU_WG as f64)], &p(0), &[bias_t, c, a_use, b_use], groups);
            // Scratch goes back to the pool here; later users are recorded
            // after this dispatch, so reuse is ordered.
        }
    }
}

/// vec4s in a `cpu_ubo2` A window (64 KiB, the WGSL `aw` array).
const UBO_VEC4: usize = 4096;

/// [`pack`] into a scratch buffer of at least `min_bytes`.
fn pack_min(gpu: &Gpu, x: &Tensor, trans: bool, rows: usize, cols: usize, ld: usize, min_bytes: u64) -> Tensor {
    let bytes = ((rows * ld * 4) as u64).max(min_bytes).max(4);
    let out = Tensor::from_pool(gpu.pool().take(&gpu.device, bytes), gpu.pool().clone(), &[rows, ld]);
    let p = Params { m: rows as u32, n: cols as u32, k: ld as u32, flags: trans as u32, s0: 0, s1: 0, s2: 0, s3: 0 };
    if rows * ld > 0 {
        gpu.dispatch(&k::GEMM_PACK, &p, &[x, &out], groups_1d(rows * ld, 64));
    }
    out
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

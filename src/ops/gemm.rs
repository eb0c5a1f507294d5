//! Host side of shaders/gemm.wgsl: C = op(A) op(B) (+ bias) (+ C).
//!
//! Kernel paths (see the shader header for the reasoning):
//! - [`GemmPath::Naive`]: one invocation per element; tiny products only.
//! - [`GemmPath::Tiled`]: workgroup-memory tiled kernel for real GPUs.
//! - [`GemmPath::Cpu`]: register-tiled kernel (`cpu_nn`) for CPU adapters
//!   (lavapipe), after packing operands that are transposed or have rows
//!   that are not a multiple of 4 floats into pooled scratch tensors.
//! - [`GemmPath::CpuUbo2`] (default on CPU adapters): like `Cpu`, but A is
//!   read through two 64 KiB *uniform-buffer* windows bound per dispatch
//!   ([`Gpu::dispatch_ranges`]), one dispatch per block of rows of C; each
//!   lane owns 32 rows x 8 columns. Falls back to `Cpu` when a 16-row window
//!   cannot hold whole rows of A (K > 1024) or the adapter's uniform limits
//!   are too small. `CpuUbo` (1 window, 16x16) and `CpuUbo4` (4 windows,
//!   64x4) are the same idea with other tiles; `CpuRows` is the
//!   storage-buffer version of the same kernel (A at a workgroup-uniform
//!   index), kept as the measured negative result.
//!
//! Why uniform buffers: llvmpipe (Mesa 22.3) turns every storage load into a
//! per-lane scalar loop with a bounds check (~20 cycles per lane per float),
//! even when the index is workgroup-uniform: its uniform fast path (Mesa
//! 23+) is skipped inside any loop because the exec mask is live. A uniform
//! buffer load at a uniform offset is one scalar load + broadcast, always.
//! So A (one scalar per row per k, workgroup-uniform) goes through uniform
//! windows and only B stays a per-lane storage load: 8 B vec4 loads per
//! 1024 FMAs in `cpu_ubo2` against 32 loads of both operands in `cpu_nn`.
//!
//! [`GemmPath::Auto`] (what [`gemm_into`] uses) picks Naive for products
//! under [`NAIVE_MAX_WORK`] multiply-adds, else CpuUbo2 on CPU adapters and
//! Tiled elsewhere. `ADVLAB_GEMM_PATH=naive|tiled|cpu|cpurows|cpuubo|cpuubo2|
//! cpuubo4` overrides Auto (tests, and comparing paths on one machine).
//!
//! Measured on lavapipe (Mesa 22.3, 2 cores; GFLOP/s normalised by CPU time
//! because the build machine was shared, load 5-7; NN/NT/TN, 512^3 and
//! 1024^3): naive 0.25, `matmul_tiled` 0.56, `cpu_nn` 3.5-4.3, `cpu_rows`
//! 3.5-4.0, `cpu_ubo` 6.2-7.3, `cpu_ubo2` 9.5-11.8, `cpu_ubo4` 10.3-12.6.
//! Native 16x16 NT / TN kernels measured 10-20% below NN while a `pack`
//! pass costs 1-4% of a product, so NT and TN pack and reuse the NN kernels.

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
    /// Experimental: `cpu_rows` (16 rows of C per workgroup, A read from
    /// storage at a workgroup-uniform index).
    CpuRows,
    /// Experimental: `cpu_ubo` (as `CpuRows`, A read from a uniform-buffer
    /// window bound per dispatch; falls back to `Cpu` when K > 1024).
    CpuUbo,
    /// Experimental: `cpu_ubo2` (32x8 per lane from two A windows).
    CpuUbo2,
    /// Experimental: `cpu_ubo4` (64x4 per lane from four A windows).
    CpuUbo4,
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
        Ok("cpurows") => GemmPath::CpuRows,
        Ok("cpuubo") => GemmPath::CpuUbo,
        Ok("cpuubo2") => GemmPath::CpuUbo2,
        Ok("cpuubo4") => GemmPath::CpuUbo4,
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
        GemmPath::CpuTex if super::gemm_tex::supported(gpu, m, n, k) => {
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
        GemmPath::Cpu
        | GemmPath::CpuRows
        | GemmPath::CpuUbo
        | GemmPath::CpuUbo2
        | GemmPath::CpuUbo4
        | GemmPath::CpuTex => {
            let k4 = k.next_multiple_of(4);
            let n4 = n.next_multiple_of(4);
            // A window of `cpu_ubo`: whole rows of A ([M, K4]) in 64 KiB.
            let ubo_rows = UBO_VEC4 / (k4 / 4).max(1) / 16 * 16;
            let windows = match path {
                GemmPath::CpuUbo4 => 4,
                GemmPath::CpuUbo2 => 2,
                _ => 1,
            };
            let ubo_ok = ubo_rows >= 16
                && gpu.limits.max_uniform_buffer_binding_size >= (UBO_VEC4 * 16) as u64
                && gpu.limits.max_uniform_buffers_per_shader_stage > windows;
            let path = if matches!(path, GemmPath::CpuUbo | GemmPath::CpuUbo2 | GemmPath::CpuUbo4) && !ubo_ok {
                GemmPath::Cpu
            } else {
                path
            };
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
            if path == GemmPath::CpuUbo4 {
                // One dispatch per 4 * `h` rows of C: window w holds rows
                // r + w * h.. (each window UBO_VEC4 vec4s of A).
                let h = ubo_rows.min(m.div_ceil(4).next_multiple_of(16));
                let row_bytes = (k4 * 4) as u64;
                let last = ((m - 1) / (4 * h) * (4 * h) + 3 * h) as u64 * row_bytes;
                let win = (UBO_VEC4 * 16) as u64;
                let need = last + win;
                let a_p = if !t.ta && k == k4 && a.buffer().size() >= need {
                    None
                } else {
                    Some(pack_min(gpu, a, t.ta, m, k, k4, need))
                };
                let a_use = a_p.as_ref().unwrap_or(a);
                let gx = (n as u32).div_ceil(4).div_ceil(CPU_WG);
                for r in (0..m).step_by(4 * h) {
                    let gy = (h.min(m - r) as u32).div_ceil(16);
                    let w = |i: usize| (a_use, Some(((r + i * h) as u64 * row_bytes, win)));
                    gpu.dispatch_ranges(
                        &k::GEMM_CPU_UBO4,
                        &[("WG", CPU_WG as f64)],
                        &Params { s3: h as u32, ..p(r as u32) },
                        &[(bias_t, None), (c, None), (b_use, None), w(0), w(1), w(2), w(3)],
                        [gx, gy, 1],
                    );
                }
                return;
            }
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
            if path == GemmPath::CpuUbo {
                // One dispatch per `rows` rows of C; its A window starts at
                // row `r` and spans UBO_VEC4 vec4s, so the A buffer must
                // extend that far past the last window's start.
                let rows = ubo_rows.min(m.next_multiple_of(16));
                let row_bytes = (k4 * 4) as u64;
                let last = ((m - 1) / rows * rows) as u64 * row_bytes;
                let need = last + (UBO_VEC4 * 16) as u64;
                let a_p = if !t.ta && k == k4 && a.buffer().size() >= need {
                    None
                } else {
                    Some(pack_min(gpu, a, t.ta, m, k, k4, need))
                };
                let a_use = a_p.as_ref().unwrap_or(a);
                let gx = (n as u32).div_ceil(CPU_TN).div_ceil(CPU_WG);
                for r in (0..m).step_by(rows) {
                    let gy = (rows.min(m - r) as u32).div_ceil(CPU_TM);
                    gpu.dispatch_ranges(
                        &k::GEMM_CPU_UBO,
                        &[("WG", CPU_WG as f64)],
                        &p(r as u32),
                        &[
                            (bias_t, None),
                            (c, None),
                            (b_use, None),
                            (a_use, Some((r as u64 * row_bytes, (UBO_VEC4 * 16) as u64))),
                        ],
                        [gx, gy, 1],
                    );
                }
                return;
            }
            // A as [M, K4], row-major.
            let a_p = if !t.ta && k == k4 { None } else { Some(pack(gpu, a, t.ta, m, k, k4)) };
            let a_use = a_p.as_ref().unwrap_or(a);
            if path == GemmPath::CpuRows {
                let groups = [(n as u32).div_ceil(CPU_TN).div_ceil(CPU_WG), (m as u32).div_ceil(CPU_TM), 1];
                gpu.dispatch_with(
                    &k::GEMM_CPU_ROWS,
                    &[("WG", CPU_WG as f64)],
                    &p(0),
                    &[bias_t, c, a_use, b_use],
                    groups,
                );
                return;
            }
            let groups = [(m as u32).div_ceil(CPU_TM).div_ceil(CPU_WG), (n as u32).div_ceil(CPU_TN), 1];
            gpu.dispatch_with(&k::GEMM_CPU_NN, &[("WG", CPU_WG as f64)], &p(0), &[bias_t, c, a_use, b_use], groups);
            // Scratch goes back to the pool here; later users are recorded
            // after this dispatch, so reuse is ordered.
        }
    }
}

/// vec4s in the `cpu_ubo` A window (64 KiB, the WGSL `aw` array).
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

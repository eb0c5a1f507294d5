//! Host side of shaders/gemm_tex.wgsl: the default GEMM on CPU adapters
//! whose subgroups are 8 wide (lavapipe on a 256-bit CPU).
//!
//! Each product puts A and B, each as stored (transposed or not), into two
//! scratch rgba32float textures: a copy when the rows are whole 256-byte
//! pitches, else `pack_tex` (zero padding, any row length); then one of the
//! four `gemm_tex_XY` kernels (per transpose combination; 32 rows x 4
//! columns of C per lane, A shared across a subgroup by broadcast) reads
//! them. The shader header has the measured reasons and the rejected
//! variants. `advlab bench gemm` at 1024^3 on the 2-core machine, with
//! other jobs running (load ~3.3), back to back: the previous design (one
//! `texture_2d` layout, every operand repacked, NT/TN transposed by the
//! pack) 21/19/18 GFLOP/s NN/NT/TN, this one 36/36/34 (the previous design
//! gave 35-37 on the quiet machine).

use crate::gpu::{kernels as k, Bind, Gpu, ScratchTextures};
use crate::tensor::Tensor;

use super::gemm::Trans;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k4: u32,
    flags: u32,
    rows: u32,
    cols: u32,
    pad0: u32,
    pad1: u32,
}

/// Rows of C per lane, and lanes per workgroup (both fixed in the shader).
const TM: usize = 32;
const WG: usize = 64;

/// The texture (width, height in texels) holding each operand as stored:
/// A [M, K] as (K4, M rounded up to TM), Aᵀ [K, M] as (M4, 4 K4);
/// B [K, N] as (N4, 4 K4), Bᵀ [N, K] as (K4, N). Rows up to 4 K4 along K
/// are zero padding.
fn dims(t: Trans, m: usize, n: usize, k: usize) -> [(usize, usize); 2] {
    let (m4, n4, k4) = (m.div_ceil(4), n.div_ceil(4), k.div_ceil(4));
    let a = if t.ta { (m4, k4 * 4) } else { (k4, m.next_multiple_of(TM)) };
    let b = if t.tb { (k4, n) } else { (n4, k4 * 4) };
    [a, b]
}

/// Whether `gemm_tex` can run an M x N x K product on this adapter: it
/// needs 8-wide subgroups and textures large enough for both operands.
pub fn supported(gpu: &Gpu, t: Trans, m: usize, n: usize, k: usize) -> bool {
    let tex = gpu.limits.max_texture_dimension_2d as usize;
    let groups = gpu.limits.max_compute_workgroups_per_dimension as usize;
    gpu.features.contains(wgpu::Features::SUBGROUP)
        && gpu.info.subgroup_min_size == 8
        && gpu.info.subgroup_max_size == 8
        && dims(t, m, n, k).iter().all(|&(w, h)| w.max(h) <= tex)
        && m.div_ceil(TM) <= groups
        && n.div_ceil(4).div_ceil(WG) <= groups
}

/// x ([rows, cols], row-major) into a `width` x `height` texel texture:
/// texel (c, r) = x(r, 4c .. 4c + 3), zero past `cols` (and past `rows`
/// unless `stale_rows_ok`: then rows past `rows` may keep older data).
#[allow(clippy::too_many_arguments)]
fn pack(
    gpu: &Gpu,
    texs: &mut ScratchTextures,
    x: &Tensor,
    rows: usize,
    cols: usize,
    width: usize,
    height: usize,
    stale_rows_ok: bool,
    slot: u32,
) -> wgpu::TextureView {
    // Rows already in the texture layout, whole 256-byte pitches: one copy,
    // no pack pass (at 1024^3 `pack_tex_v4` took 6.1 ms of a 65 ms product,
    // the copy 0.9 ms).
    if cols.is_multiple_of(64) && width * 4 == cols && (height == rows || stale_rows_ok) {
        return texs.copy_of(x, width as u32, height as u32, slot);
    }
    let tex = texs.get(width as u32, height as u32, slot);
    let p = Params { m: 0, n: 0, k4: 0, flags: 0, rows: rows as u32, cols: cols as u32, pad0: 0, pad1: 0 };
    // One vec4 load per texel where x's rows are whole vec4s.
    let kernel = if cols.is_multiple_of(4) { &k::GEMM_TEX_PACK_TEX_V4 } else { &k::GEMM_TEX_PACK_TEX };
    let groups = [(width as u32).div_ceil(8), (height as u32).div_ceil(8), 1];
    // `srct` (5; the tensor, copied into a linear texture), `dst` (6)
    let binds = [Bind::Buf(x, None), Bind::Tex(&tex)];
    gpu.dispatch_binds(kernel, &[], &p, &binds, groups);
    tex
}

/// C = op(A) op(B) (+ bias) (+ C); shapes already checked by `gemm_into`,
/// and `supported` holds. A is [M,K] (or [K,M] when `t.ta`), B is [K,N]
/// (or [N,K] when `t.tb`).
#[allow(clippy::too_many_arguments)]
pub fn gemm_tex(
    gpu: &Gpu,
    a: &Tensor,
    b: &Tensor,
    t: Trans,
    bias: &Tensor,
    flags: u32,
    c: &Tensor,
    m: usize,
    n: usize,
    k: usize,
) {
    let [(aw, ah), (bw, bh)] = dims(t, m, n, k);
    let (a_rows, a_cols) = if t.ta { (k, m) } else { (m, k) };
    let (b_rows, b_cols) = if t.tb { (n, k) } else { (k, n) };
    // Held until the product is recorded: another thread's product must not
    // repack these textures in between. Stale rows are harmless past M (A)
    // and past N (Bᵀ: its texture is exactly N rows), not along K.
    let mut texs = gpu.scratch_textures();
    let ta = pack(gpu, &mut texs, a, a_rows, a_cols, aw, ah, !t.ta, 0);
    let tb = pack(gpu, &mut texs, b, b_rows, b_cols, bw, bh, t.tb, 1);
    let p = Params { m: m as u32, n: n as u32, k4: k.div_ceil(4) as u32, flags, rows: 0, cols: 0, pad0: 0, pad1: 0 };
    let groups = [n.div_ceil(4).div_ceil(WG) as u32, m.div_ceil(TM) as u32, 1];
    let kernel = match (t.ta, t.tb, n.is_multiple_of(4)) {
        (false, false, false) => &k::GEMM_TEX_GEMM_TEX_NN,
        (false, false, true) => &k::GEMM_TEX_GEMM_TEX_NN_N4,
        (false, true, false) => &k::GEMM_TEX_GEMM_TEX_NT,
        (false, true, true) => &k::GEMM_TEX_GEMM_TEX_NT_N4,
        (true, false, false) => &k::GEMM_TEX_GEMM_TEX_TN,
        (true, false, true) => &k::GEMM_TEX_GEMM_TEX_TN_N4,
        (true, true, false) => &k::GEMM_TEX_GEMM_TEX_TT,
        (true, true, true) => &k::GEMM_TEX_GEMM_TEX_TT_N4,
    };
    gpu.dispatch_binds(
        kernel,
        &[],
        &p,
        &[Bind::Tex(&ta), Bind::Tex(&tb), Bind::Buf(bias, None), Bind::Buf(c, None)],
        groups,
    );
}

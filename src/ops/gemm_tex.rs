//! Host side of shaders/gemm_tex.wgsl: the default GEMM on CPU adapters
//! whose subgroups are 8 wide (lavapipe on a 256-bit CPU).
//!
//! Each product packs op(A) and op(B) into two scratch rgba32float textures
//! (`pack_tex`: transpose, strides and zero padding in one pass each; an
//! operand already in the texture layout, rows a multiple of 64 floats, is
//! copied in instead: at 1024^3 a pack pass took 6 ms of a 65 ms product,
//! the copy 0.9 ms), then
//! runs `gemm_tex` (32 rows x 4 columns of C per lane, A shared across a
//! subgroup by broadcast). The shader header says why textures: on llvmpipe
//! a texel fetch costs about an eighth of a storage-buffer load. Measured
//! with `advlab bench gemm` at 1024^3 on the quiet 2-core machine: 35-37
//! GFLOP/s; under load the best storage-buffer kernel (`cpu_ubo2`, kept as
//! the fallback) gave 7.4-7.5 where this gave 14.6-17.4.

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
    s0: u32,
    s1: u32,
}

/// Rows of C per lane, and lanes per workgroup (both fixed in the shader).
const TM: usize = 32;
const WG: usize = 64;

/// Whether `gemm_tex` can run an M x N x K product on this adapter: it
/// needs 8-wide subgroups and textures large enough for both operands.
pub fn supported(gpu: &Gpu, m: usize, n: usize, k: usize) -> bool {
    let tex = gpu.limits.max_texture_dimension_2d as usize;
    let groups = gpu.limits.max_compute_workgroups_per_dimension as usize;
    let k4 = k.div_ceil(4);
    gpu.features.contains(wgpu::Features::SUBGROUP)
        && gpu.info.subgroup_min_size == 8
        && gpu.info.subgroup_max_size == 8
        && k4 * 4 <= tex
        && m.next_multiple_of(TM) <= tex
        && n.div_ceil(4) <= tex
        && m.div_ceil(TM) <= groups
        && n.div_ceil(4).div_ceil(WG) <= groups
}

/// Pack op(x) ([rows, cols], x row-major with `ld` floats per row, read
/// transposed when `trans`) into a `width` x `height` texel texture.
#[allow(clippy::too_many_arguments)]
fn pack(
    gpu: &Gpu,
    texs: &mut ScratchTextures,
    x: &Tensor,
    trans: bool,
    ld: usize,
    rows: usize,
    cols: usize,
    width: usize,
    height: usize,
    slot: u32,
) -> wgpu::TextureView {
    // op(x) = x already in the texture layout, rows of whole 256-byte
    // pitches: one copy, no pack pass. Texture rows past `rows` keep stale
    // values; only A may have such rows (M rounded up to TM), whose rows of
    // C are never stored.
    if !trans && ld == cols && cols == width * 4 && ld % 64 == 0 && (height == rows || slot == 0) {
        return texs.copy_of(x, width as u32, height as u32, slot);
    }
    let tex = texs.get(width as u32, height as u32, slot);
    let (s0, s1) = if trans { (1, ld) } else { (ld, 1) };
    let p = Params { m: 0, n: 0, k4: 0, flags: 0, rows: rows as u32, cols: cols as u32, s0: s0 as u32, s1: s1 as u32 };
    // One vec4 load per texel where src's rows are whole vec4s.
    let (kernel, rows_per_lane) = match (ld % 4 == 0, trans) {
        (true, false) => (&k::GEMM_TEX_PACK_TEX_V4, 1),
        (true, true) => (&k::GEMM_TEX_PACK_TEX_T4, 4),
        (false, _) => (&k::GEMM_TEX_PACK_TEX, 1),
    };
    let groups = [(width as u32).div_ceil(8), (height as u32).div_ceil(8 * rows_per_lane), 1];
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
    let k4 = k.div_ceil(4);
    let n4 = n.div_ceil(4);
    let a_ld = if t.ta { m } else { k };
    let b_ld = if t.tb { k } else { n };
    // Held until the product is recorded: another thread's product must not
    // repack these textures in between.
    let mut texs = gpu.scratch_textures();
    let ta = pack(gpu, &mut texs, a, t.ta, a_ld, m, k, k4, m.next_multiple_of(TM), 0);
    let tb = pack(gpu, &mut texs, b, t.tb, b_ld, k, n, n4, k4 * 4, 1);
    let p = Params { m: m as u32, n: n as u32, k4: k4 as u32, flags, rows: 0, cols: 0, s0: 0, s1: 0 };
    let groups = [n4.div_ceil(WG) as u32, m.div_ceil(TM) as u32, 1];
    let kernel = if n % 4 == 0 { &k::GEMM_TEX_GEMM_TEX_N4 } else { &k::GEMM_TEX_GEMM_TEX };
    gpu.dispatch_binds(
        kernel,
        &[],
        &p,
        &[Bind::Tex(&ta), Bind::Tex(&tb), Bind::Buf(bias, None), Bind::Buf(c, None)],
        groups,
    );
}

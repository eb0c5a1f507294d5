//! Host side of shaders/gemm_tex.wgsl: the default GEMM on CPU adapters
//! whose subgroups are 8 wide (lavapipe on a 256-bit CPU).
//!
//! Each product puts A and B, each as stored (transposed or not), into two
//! scratch rgba32float textures: copies where the rows allow (see `pack`),
//! else `pack_tex` (zero padding, any row length); then one of the
//! four `gemm_tex_XY` kernels (per transpose combination; 32 rows x 4
//! columns of C per lane, A shared across a subgroup by broadcast) reads
//! them. Aᵀ and B are kept in vertical bands (see `layouts`). The shader
//! header has the measured reasons and the rejected variants.
//!
//! `advlab bench gemm` at 1024^3 NN/NT/TN on the 2-core Intel Xeon (2.6
//! GHz) development machine, nothing else running, back to back: the
//! previous design (one sampled `texture_2d` layout, every operand
//! repacked, NT/TN transposed by the pack) 39.4/38.8/38.7 GFLOP/s, this one
//! 78.4/70.9/75.8 (2048^3: 32.2/31.9/30.8 -> 75.0/75.0/73.6). llvmpipe
//! emits `fma` as a multiply and an add, so 16 flops per cycle per core,
//! ~83 GFLOP/s here, is the ceiling. On a 2-core AMD EPYC (separate add and
//! multiply pipes) `examples/alu_peak` measures llvmpipe's ceiling at 62
//! GFLOP/s, and 1024^3 reaches 38-66.

use crate::gpu::{banded_regions, interleaved_regions, kernels as k, row_interleave, Bind, Gpu};
use crate::tensor::Tensor;

use super::gemm::Trans;

crate::gpu::params::params_struct! {
    #[derive(Default)]
    struct Params for crate::gpu::kernels::GEMM_TEX_WGSL {
        m: u32,
        n: u32,
        k4: u32,
        flags: u32,
        rows: u32,
        cols: u32,
        width: u32,
        height: u32,
        bw: u32,
        abw: u32,
        bbw: u32,
        pad: u32,
        ag: u32,
        ah: u32,
        bg: u32,
        bh: u32,
    }
}

/// Rows of C per lane (fixed in the shader), and the most lanes per
/// workgroup (the shader's `WG` override, see [`wg_for`]).
const TM: usize = 32;
const WG: usize = 64;

/// Lanes per workgroup for N columns of C (one lane per vec4 of columns):
/// of 64, 32, 16 and 8, the one that leaves the fewest idle lanes in the
/// last workgroup (the largest on ties). Every lane runs the whole K loop,
/// so idle lanes cost as much as busy ones: 64 lanes on C 10 wide did 21x
/// the useful work (mlp:784-500-10's logits, 1000 x 500 x 10: 5.7 ms a
/// product, a tenth of FGSM's time), and on 784 columns (196 vec4s) a
/// fourth workgroup of 4 busy lanes made every product 30% dearer.
fn wg_for(n: usize) -> usize {
    let n4 = n.div_ceil(4);
    [WG, 32, 16, 8].into_iter().min_by_key(|&wg| n4.div_ceil(wg) * wg).unwrap()
}

/// An operand's texture: logically `width` x `height` texels (texel (c, r)
/// = x(r, 4c .. 4c + 3) of x as stored), kept as bands of `bw` texels
/// stacked vertically (texture `bw` x `bands * height`; `bw = width` is
/// the plain layout). A plain layout whose rows are whole vec4s (no K
/// padding) has its rows interleaved `g` ways, as the copy that fills it
/// writes them (`interleaved_regions`): row r at texture row (r % g) *
/// `rows_per_class()` + r / g; `g = 1` keeps rows in order.
#[derive(Clone, Copy, Debug)]
struct Layout {
    width: usize,
    height: usize,
    bw: usize,
    g: usize,
}

impl Layout {
    fn rows_per_class(&self) -> usize {
        self.height.div_ceil(self.g)
    }

    fn texture(&self) -> (u32, u32) {
        (self.bw as u32, (self.width.div_ceil(self.bw) * self.rows_per_class() * self.g) as u32)
    }
}

/// Bands for an operand read along its texture rows by one subgroup at a
/// time (Aᵀ, B): the narrowest power-of-two multiple of `min_bw` texels
/// whose stacked bands fit in `tex` rows, else the plain layout. A
/// subgroup's K loop then steps 16 `bw` bytes per K step instead of a
/// whole operand row: with 1024-float rows every step was another 4 KiB
/// page (measured 2048^3: NN 25, TN 21 GFLOP/s against NT 38, whose
/// operands are both read along their rows).
fn banded(width: usize, height: usize, min_bw: usize, tex: usize) -> Layout {
    let mut bw = min_bw;
    while bw < width && width.div_ceil(bw) * height > tex {
        bw *= 2;
    }
    Layout { width, height, bw: bw.min(width), g: 1 }
}

/// The layouts of A and B, each as stored: A [M, K] as K4 x (M rounded up
/// to TM), Aᵀ [K, M] as M4 x 4 K4 in bands of >= 8 texels (one row
/// block), B [K, N] as N4 x 4 K4 in bands of >= 8 texels (one subgroup's
/// columns; 64-texel bands, one workgroup's, measured the same within
/// noise), Bᵀ [N, K] as K4 x N. Rows up to 4 K4 along K are zero padding.
/// A and Bᵀ, plain, are copied with their rows interleaved when K is a
/// multiple of 4, else packed in order.
fn layouts(t: Trans, m: usize, n: usize, k: usize, tex: usize) -> [Layout; 2] {
    let (m4, n4, k4) = (m.div_ceil(4), n.div_ceil(4), k.div_ceil(4));
    let g = if k.is_multiple_of(4) { row_interleave(k) } else { 1 };
    let plain = |width, height| Layout { width, height, bw: width, g };
    let a = if t.ta { banded(m4, k4 * 4, TM / 4, tex) } else { plain(k4, m.next_multiple_of(TM)) };
    let b = if t.tb { plain(k4, n) } else { banded(n4, k4 * 4, 8, tex) };
    [a, b]
}

/// Whether `gemm_tex` can run an M x N x K product on this adapter: it
/// needs 8-wide subgroups and textures large enough for both operands.
pub fn supported(gpu: &Gpu, t: Trans, m: usize, n: usize, k: usize) -> bool {
    let tex = gpu.limits.max_texture_dimension_2d as usize;
    let groups = gpu.limits.max_compute_workgroups_per_dimension as usize;
    k > 0
        && gpu.features.contains(wgpu::Features::SUBGROUP)
        && gpu.info.subgroup_min_size == 8
        && gpu.info.subgroup_max_size == 8
        && layouts(t, m, n, k, tex).iter().all(|l| {
            let (w, h) = l.texture();
            w as usize <= tex && h as usize <= tex
        })
        && m.div_ceil(TM) <= groups
        && n.div_ceil(4).div_ceil(WG) <= groups
}

/// x ([rows, cols], row-major) in its texture `l`, zero past `cols` (and
/// past `rows` unless `stale_rows_ok`: then rows past `rows` may hold
/// anything). The texture is x's own (`Gpu::tensor_texture`): filled once
/// per write of x, so a weight read by three products of a training step
/// is copied once.
fn pack(gpu: &Gpu, x: &Tensor, rows: usize, cols: usize, l: Layout, stale_rows_ok: bool) -> wgpu::TextureView {
    let (tw, th) = l.texture();
    let whole_rows = l.width * 4 == cols && (l.height == rows || stale_rows_ok);
    // Plain layouts of whole vec4 rows (`layouts` gave them g): copies, g
    // of them, in place of the pack pass, whose storage-texture stores
    // llvmpipe makes lane by lane (mlp:784-500-10 training 5,420-5,770 ->
    // 6,160-6,680 images/s when X, W1 and H were first copied, row by row).
    // (A banded layout one band wide has g = 1 and takes this path only
    // when that is its interleave, i.e. the copy is the banded one.)
    let copy_rows = l.bw == l.width && whole_rows && cols.is_multiple_of(4) && l.g == row_interleave(cols);
    // Banded layouts of rows in whole 256-byte pitches: one copy per band
    // (at 1024^3 `pack_tex_v4` took 6.1 ms of a 65 ms product, the copy
    // 0.9 ms).
    let copy_bands = !copy_rows && whole_rows && cols.is_multiple_of(64);
    assert!(copy_rows || l.g == 1, "gemm_tex: interleaved layout {l:?} must be copied");
    let how = if copy_bands {
        1
    } else if copy_rows {
        2
    } else {
        3
    };
    let key = [how, rows as u32, cols as u32, l.width as u32, l.height as u32, l.bw as u32, tw, th];
    gpu.tensor_texture(x, key, |texture, view| {
        if copy_bands {
            gpu.copy_to_texture(x, texture, banded_regions(x, cols, l.bw, l.height, tw, th));
        } else if copy_rows {
            gpu.copy_to_texture(x, texture, interleaved_regions(x, rows, cols, l.rows_per_class(), tw, th));
        } else {
            let p = Params {
                rows: rows as u32,
                cols: cols as u32,
                width: l.width as u32,
                height: l.height as u32,
                bw: l.bw as u32,
                ..Default::default()
            };
            // One vec4 load per texel where x's rows are whole vec4s.
            let kernel = if cols.is_multiple_of(4) { &k::GEMM_TEX_PACK_TEX_V4 } else { &k::GEMM_TEX_PACK_TEX };
            let groups = [(l.width as u32).div_ceil(8), (l.height as u32).div_ceil(8), 1];
            // `srct` (5; the tensor, copied into a linear texture), `dst` (6)
            gpu.dispatch_binds(kernel, &[], &p, &[Bind::Buf(x, None), Bind::Tex(view)], groups);
        }
    })
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
    let [la, lb] = layouts(t, m, n, k, gpu.limits.max_texture_dimension_2d as usize);
    let (a_rows, a_cols) = if t.ta { (k, m) } else { (m, k) };
    let (b_rows, b_cols) = if t.tb { (n, k) } else { (k, n) };
    // Each operand's texture is its own, refilled only when the operand is
    // written. Stale rows are harmless past M (A) and past N (Bᵀ: the
    // lanes that read them own columns past N), not along K.
    let ta = pack(gpu, a, a_rows, a_cols, la, !t.ta);
    let tb = pack(gpu, b, b_rows, b_cols, lb, t.tb);
    let p = Params {
        m: m as u32,
        n: n as u32,
        k4: k.div_ceil(4) as u32,
        flags,
        abw: la.bw as u32,
        bbw: lb.bw as u32,
        ag: la.g as u32,
        ah: la.rows_per_class() as u32,
        bg: lb.g as u32,
        bh: lb.rows_per_class() as u32,
        ..Default::default()
    };
    let wg = wg_for(n);
    let groups = [n.div_ceil(4).div_ceil(wg) as u32, m.div_ceil(TM) as u32, 1];
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
        &[("WG", wg as f64)],
        &p,
        &[Bind::Tex(&ta), Bind::Tex(&tb), Bind::Buf(bias, None), Bind::Buf(c, None)],
        groups,
    );
}

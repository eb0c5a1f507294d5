// GEMM for CPU adapters with subgroups (lavapipe): C[M,N] = op(A) op(B)
// (+ bias) (+ C). Host side: src/ops/gemm_tex.rs.
//
// Why textures and subgroups (measured on llvmpipe, Mesa 22.3, 1024^3): a
// storage-buffer load with a lane-varying address is a per-lane scalar loop
// (~60 cycles per lane), a texel load is a vectorised fetch, so the same
// register-tiled kernel runs 5-8x faster with its operands in rgba32float
// textures. A is loaded once per 8 rows: lane `sid` of each 8-wide
// subgroup fetches one texel and `subgroupBroadcast` hands each of its
// values to all lanes (a register shuffle), instead of 8 lanes fetching the
// same texel. Each lane owns TM = 32 rows x one vec4 of columns: per 4-deep
// K step, 4 A fetches and 4 B fetches feed 512 FMAs.
//
// Each operand's texture holds it as stored, so a transposed operand needs
// no transposing pass; four kernels read the four layouts (gemm_tex_XY: X,
// Y = n for A [M, K] / B [K, N], t for Aᵀ [K, M] / Bᵀ [N, K]). A texel of A
// is 4 K steps of one row (n) or 4 rows at one K step (t); a texel of B is
// 4 columns at one K step (n) or 4 K steps of one column (t: 4 texels make
// the lane's 4 x 4 block, transposed by register renaming). Aᵀ and B, read
// across their rows, are stored in vertical bands (`band_store`) so that a
// subgroup's K loop walks down a narrow band instead of jumping a whole
// operand row (a 4-8 KiB page) per K step. The host copies an operand
// straight into its texture where it can: a banded one whose rows are a
// multiple of 64 floats (one copy per band), a plain one (A, Bᵀ) whose rows
// are whole vec4s (one copy per residue class of its rows mod g, which
// interleaves them: `arow`, `brow`); `pack_tex` writes any other one
// zero-padded, so the kernels need no edge cases in their inner loops.
//
// Measured (`advlab bench gemm` 1024^3 on the 2-core machine with other
// jobs running, GFLOP/s NN/NT/TN, back to back):
// - sampled `texture_2d` -> read-only storage textures: 21.1/19.1/18.5 ->
//   30.5/29.6/28.7. llvmpipe fetches a sampled texel through a per-lane mip
//   level (8 gathers of the level's size, row stride and offset before the
//   texel loads); a storage-image load has no level.
// - copy instead of pack for aligned operands (NN): 28.3/28.8/24.8 ->
//   36.0/31.5/31.7.
// - kernels for transposed layouts instead of a transposing pack:
//   35.6/32.2/31.0 -> 35.2/34.3/31.4.
// - bands for Aᵀ and B: 1024^3 34.1/33.0/30.5 -> 32.5/34.3/35.5 (NN
//   within noise), 2048^3 22.1/35.4/18.1 -> 34.0/35.6/34.4.
// - register tiles, sampled textures: TM x vec4 columns 16x1 0.8x,
//   8x4 0.75x, 16x2 0.95x, 32x2 1.05x, 64x1 1.1x, 128x1 1.1x, 32x4 1.1x,
//   64x2 1.15x of 32x1; with storage textures 16x2 0.9x, 32x2 1.0x,
//   64x1 0.95x, 64x2 0.97x: TM = 32 x 1 kept. K unrolled by 2 texels per
//   iteration: 1.0x. Padding the texture rows off 4 KiB strides: 1.0x.
//   With bands, TM = 64: 1.0x (33-35 GFLOP per CPU-second, as TM = 32).
//
// The compiled loop (perf + the JIT code dumped with gdb, 2048^3) has no
// FMA instructions: llvmpipe emits each `fma` as vmulps + vaddps, so the
// ceiling is half the FMA peak; spills (vmovaps) and lane broadcasts
// (vpermps) make most of the rest.
//
// The kernels assume subgroups of exactly 8 invocations (lavapipe on a
// 256-bit CPU); the host checks the adapter's subgroup size before using
// them.

struct Params {
    m: u32,
    n: u32,
    k4: u32,    // K in texels (K / 4, rounded up)
    flags: u32, // gemm_tex: bit0 add bias, bit1 accumulate into C, bit2 ReLU last
    // pack_tex: src is [rows, cols], row-major; its logical texture is
    // width x height texels, stored in bands of bw texels (below).
    rows: u32,
    cols: u32,
    width: u32,
    height: u32,
    bw: u32,
    // gemm_tex: band widths of Aᵀ and B (their band height is 4 K4).
    abw: u32,
    bbw: u32,
    pad: u32,
    // gemm_tex: row interleave of A and Bᵀ (plain layouts) and texture rows
    // per residue class (`arow`, `brow`).
    ag: u32,
    ah: u32,
    bg: u32,
    bh: u32,
}

// Lanes per workgroup of the GEMM entry points: 64, or fewer for narrow C
// (the host's `wg_for`), a multiple of the 8-wide subgroup.
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var ta: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var tb: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
// the operand to pack, as a linear texture copy (Gpu::dispatch_binds): flat
// element i in texel ((i/4) % 4096, (i/4) / 4096), vec4 i in (i % 4096, i / 4096)
@group(0) @binding(5) var srct: texture_storage_2d<rgba32float, read>;
@group(0) @binding(6) var dst: texture_storage_2d<rgba32float, write>;
// vec4 views of bias and C for the `_n4` kernels (N a multiple of 4).
@group(0) @binding(7) var<storage, read> bias4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> c4: array<vec4<f32>>;

fn src4(i: u32) -> vec4<f32> {
    return textureLoad(srct, vec2<u32>(i & 4095u, i >> 12u));
}

fn src(i: u32) -> f32 {
    return src4(i >> 2u)[i & 3u];
}

// Logical texel (x, y) of an operand texture is stored at texel
// (x % bw, (x / bw) * height + y): bands of bw texels stacked vertically
// (see `Layout` in src/ops/gemm_tex.rs; bw = width is the plain layout).
fn band_store(x: u32, y: u32, v: vec4<f32>) {
    textureStore(dst, vec2<u32>(x % p.bw, x / p.bw * p.height + y), v);
}

// logical texel (x, y) of dst = src(y, 4x .. 4x+3), zero outside rows x cols.
@compute @workgroup_size(8, 8)
fn pack_tex(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= p.width || gid.y >= p.height) { return; }
    var v = vec4<f32>(0.0);
    if (gid.y < p.rows) {
        for (var e = 0u; e < 4u; e++) {
            let col = gid.x * 4u + e;
            if (col < p.cols) { v[e] = src(gid.y * p.cols + col); }
        }
    }
    band_store(gid.x, gid.y, v);
}

// `pack_tex` with one vec4 load per texel, for cols a multiple of 4 (the
// columns of a texel are one aligned vec4 of src).
@compute @workgroup_size(8, 8)
fn pack_tex_v4(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= p.width || gid.y >= p.height) { return; }
    var v = vec4<f32>(0.0);
    if (gid.y < p.rows && gid.x * 4u < p.cols) { v = src4(gid.y * (p.cols / 4u) + gid.x); }
    band_store(gid.x, gid.y, v);
}

// Texture row of row r of A / Bᵀ in a plain layout, whose copy
// (`interleaved_regions`) put rows r, r + g, r + 2g, … one after another:
// (r % g) * h + r / g (r itself when g = 1). Computed once per lane, before
// the K loop.
fn arow(r: u32) -> u32 {
    return (r % p.ag) * p.ah + r / p.ag;
}

fn brow(r: u32) -> u32 {
    return (r % p.bg) * p.bh + r / p.bg;
}

fn epilogue(i: u32, j: u32, s: f32) {
    var v = s;
    if ((p.flags & 1u) != 0u) { v += bias[j]; }
    if ((p.flags & 2u) != 0u) { v += c[i * p.n + j]; }
    if ((p.flags & 4u) != 0u) { v = max(v, 0.0); }
    c[i * p.n + j] = v;
}

// C(i, 4 j4 .. 4 j4 + 3) = v, element by element (any N).
fn store4(i: u32, j4: u32, v: vec4<f32>) {
    if (i >= p.m) { return; }
    for (var e = 0u; e < 4u; e++) {
        if (j4 * 4u + e < p.n) { epilogue(i, j4 * 4u + e, v[e]); }
    }
}

// The same as one vec4 store (N a multiple of 4): a quarter of the
// per-lane storage accesses, which llvmpipe pays for one by one.
fn store_vec4(i: u32, j4: u32, v: vec4<f32>) {
    let n4 = p.n / 4u;
    if (i >= p.m || j4 >= n4) { return; }
    var x = v;
    if ((p.flags & 1u) != 0u) { x += bias4[j4]; }
    if ((p.flags & 2u) != 0u) { x += c4[i * n4 + j4]; }
    if ((p.flags & 4u) != 0u) { x = max(x, vec4<f32>(0.0)); }
    c4[i * n4 + j4] = x;
}

// The GEMM entry points gemm_tex_{nn,nt,tn,tt}{,_n4} are appended to this
// file by build.rs, generated by build/gemm_tex_gen.rs (the full source is
// OUT_DIR/gemm_tex.wgsl). They unroll each lane's TM = 32 rows into 32
// named vec4 accumulators, because WGSL has no templates and llvmpipe does
// not keep an array of accumulators in registers.

// @generate build/gemm_tex_gen.rs entry_points

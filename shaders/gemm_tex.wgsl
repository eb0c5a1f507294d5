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
// whose rows are a multiple of 64 floats straight into its texture (one
// copy per band); `pack_tex` writes any other one zero-padded, so the
// kernels need no edge cases in their inner loops.
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
    flags: u32, // gemm_tex: bit0 add bias, bit1 accumulate into C
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
}

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

fn epilogue(i: u32, j: u32, s: f32) {
    var v = s;
    if ((p.flags & 1u) != 0u) { v += bias[j]; }
    if ((p.flags & 2u) != 0u) { v += c[i * p.n + j]; }
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
    c4[i * n4 + j4] = x;
}

// BEGIN GENERATED by the python3 script in the comment below; edit that.
//
// ta, tb: the operand textures (see the header and `dims` in
// src/ops/gemm_tex.rs). One lane = 32 rows x 4 columns of C; no early
// return before the loop, so every lane of a subgroup takes part in the
// broadcasts. The `_n4` kernels store vec4s (N a multiple of 4).

@compute @workgroup_size(64)
fn gemm_tex_nn(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let cb = gid.x;
    let rb = wid.y * 32u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0);
    var acc9 = vec4<f32>(0.0);
    var acc10 = vec4<f32>(0.0);
    var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0);
    var acc13 = vec4<f32>(0.0);
    var acc14 = vec4<f32>(0.0);
    var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0);
    var acc17 = vec4<f32>(0.0);
    var acc18 = vec4<f32>(0.0);
    var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0);
    var acc21 = vec4<f32>(0.0);
    var acc22 = vec4<f32>(0.0);
    var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0);
    var acc25 = vec4<f32>(0.0);
    var acc26 = vec4<f32>(0.0);
    var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0);
    var acc29 = vec4<f32>(0.0);
    var acc30 = vec4<f32>(0.0);
    var acc31 = vec4<f32>(0.0);
    let bx = cb % p.bbw;
    let by0 = cb / p.bbw * p.k4 * 4u;
    for (var k4 = 0u; k4 < p.k4; k4++) {
        let ag0 = textureLoad(ta, vec2<u32>(k4, rb + 0u + sid));
        let ag1 = textureLoad(ta, vec2<u32>(k4, rb + 8u + sid));
        let ag2 = textureLoad(ta, vec2<u32>(k4, rb + 16u + sid));
        let ag3 = textureLoad(ta, vec2<u32>(k4, rb + 24u + sid));
        let b0 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 0u));
        let b1 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 1u));
        let b2 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 2u));
        let b3 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 3u));
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 0u)), b0, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 0u)), b1, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 0u)), b2, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 0u)), b3, acc0);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 1u)), b0, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 1u)), b1, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 1u)), b2, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 1u)), b3, acc1);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 2u)), b0, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 2u)), b1, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 2u)), b2, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 2u)), b3, acc2);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 3u)), b0, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 3u)), b1, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 3u)), b2, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 3u)), b3, acc3);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 4u)), b0, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 4u)), b1, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 4u)), b2, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 4u)), b3, acc4);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 5u)), b0, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 5u)), b1, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 5u)), b2, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 5u)), b3, acc5);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 6u)), b0, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 6u)), b1, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 6u)), b2, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 6u)), b3, acc6);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 7u)), b0, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 7u)), b1, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 7u)), b2, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 7u)), b3, acc7);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 0u)), b0, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 0u)), b1, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 0u)), b2, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 0u)), b3, acc8);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 1u)), b0, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 1u)), b1, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 1u)), b2, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 1u)), b3, acc9);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 2u)), b0, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 2u)), b1, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 2u)), b2, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 2u)), b3, acc10);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 3u)), b0, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 3u)), b1, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 3u)), b2, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 3u)), b3, acc11);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 4u)), b0, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 4u)), b1, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 4u)), b2, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 4u)), b3, acc12);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 5u)), b0, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 5u)), b1, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 5u)), b2, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 5u)), b3, acc13);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 6u)), b0, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 6u)), b1, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 6u)), b2, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 6u)), b3, acc14);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 7u)), b0, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 7u)), b1, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 7u)), b2, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 7u)), b3, acc15);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 0u)), b0, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 0u)), b1, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 0u)), b2, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 0u)), b3, acc16);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 1u)), b0, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 1u)), b1, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 1u)), b2, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 1u)), b3, acc17);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 2u)), b0, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 2u)), b1, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 2u)), b2, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 2u)), b3, acc18);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 3u)), b0, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 3u)), b1, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 3u)), b2, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 3u)), b3, acc19);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 4u)), b0, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 4u)), b1, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 4u)), b2, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 4u)), b3, acc20);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 5u)), b0, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 5u)), b1, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 5u)), b2, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 5u)), b3, acc21);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 6u)), b0, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 6u)), b1, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 6u)), b2, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 6u)), b3, acc22);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 7u)), b0, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 7u)), b1, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 7u)), b2, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 7u)), b3, acc23);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 0u)), b0, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 0u)), b1, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 0u)), b2, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 0u)), b3, acc24);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 1u)), b0, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 1u)), b1, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 1u)), b2, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 1u)), b3, acc25);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 2u)), b0, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 2u)), b1, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 2u)), b2, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 2u)), b3, acc26);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 3u)), b0, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 3u)), b1, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 3u)), b2, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 3u)), b3, acc27);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 4u)), b0, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 4u)), b1, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 4u)), b2, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 4u)), b3, acc28);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 5u)), b0, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 5u)), b1, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 5u)), b2, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 5u)), b3, acc29);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 6u)), b0, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 6u)), b1, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 6u)), b2, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 6u)), b3, acc30);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 7u)), b0, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 7u)), b1, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 7u)), b2, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 7u)), b3, acc31);
    }
    store4(rb + 0u, cb, acc0);
    store4(rb + 1u, cb, acc1);
    store4(rb + 2u, cb, acc2);
    store4(rb + 3u, cb, acc3);
    store4(rb + 4u, cb, acc4);
    store4(rb + 5u, cb, acc5);
    store4(rb + 6u, cb, acc6);
    store4(rb + 7u, cb, acc7);
    store4(rb + 8u, cb, acc8);
    store4(rb + 9u, cb, acc9);
    store4(rb + 10u, cb, acc10);
    store4(rb + 11u, cb, acc11);
    store4(rb + 12u, cb, acc12);
    store4(rb + 13u, cb, acc13);
    store4(rb + 14u, cb, acc14);
    store4(rb + 15u, cb, acc15);
    store4(rb + 16u, cb, acc16);
    store4(rb + 17u, cb, acc17);
    store4(rb + 18u, cb, acc18);
    store4(rb + 19u, cb, acc19);
    store4(rb + 20u, cb, acc20);
    store4(rb + 21u, cb, acc21);
    store4(rb + 22u, cb, acc22);
    store4(rb + 23u, cb, acc23);
    store4(rb + 24u, cb, acc24);
    store4(rb + 25u, cb, acc25);
    store4(rb + 26u, cb, acc26);
    store4(rb + 27u, cb, acc27);
    store4(rb + 28u, cb, acc28);
    store4(rb + 29u, cb, acc29);
    store4(rb + 30u, cb, acc30);
    store4(rb + 31u, cb, acc31);
}

@compute @workgroup_size(64)
fn gemm_tex_nn_n4(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let cb = gid.x;
    let rb = wid.y * 32u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0);
    var acc9 = vec4<f32>(0.0);
    var acc10 = vec4<f32>(0.0);
    var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0);
    var acc13 = vec4<f32>(0.0);
    var acc14 = vec4<f32>(0.0);
    var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0);
    var acc17 = vec4<f32>(0.0);
    var acc18 = vec4<f32>(0.0);
    var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0);
    var acc21 = vec4<f32>(0.0);
    var acc22 = vec4<f32>(0.0);
    var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0);
    var acc25 = vec4<f32>(0.0);
    var acc26 = vec4<f32>(0.0);
    var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0);
    var acc29 = vec4<f32>(0.0);
    var acc30 = vec4<f32>(0.0);
    var acc31 = vec4<f32>(0.0);
    let bx = cb % p.bbw;
    let by0 = cb / p.bbw * p.k4 * 4u;
    for (var k4 = 0u; k4 < p.k4; k4++) {
        let ag0 = textureLoad(ta, vec2<u32>(k4, rb + 0u + sid));
        let ag1 = textureLoad(ta, vec2<u32>(k4, rb + 8u + sid));
        let ag2 = textureLoad(ta, vec2<u32>(k4, rb + 16u + sid));
        let ag3 = textureLoad(ta, vec2<u32>(k4, rb + 24u + sid));
        let b0 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 0u));
        let b1 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 1u));
        let b2 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 2u));
        let b3 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 3u));
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 0u)), b0, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 0u)), b1, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 0u)), b2, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 0u)), b3, acc0);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 1u)), b0, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 1u)), b1, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 1u)), b2, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 1u)), b3, acc1);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 2u)), b0, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 2u)), b1, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 2u)), b2, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 2u)), b3, acc2);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 3u)), b0, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 3u)), b1, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 3u)), b2, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 3u)), b3, acc3);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 4u)), b0, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 4u)), b1, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 4u)), b2, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 4u)), b3, acc4);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 5u)), b0, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 5u)), b1, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 5u)), b2, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 5u)), b3, acc5);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 6u)), b0, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 6u)), b1, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 6u)), b2, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 6u)), b3, acc6);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 7u)), b0, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 7u)), b1, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 7u)), b2, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 7u)), b3, acc7);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 0u)), b0, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 0u)), b1, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 0u)), b2, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 0u)), b3, acc8);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 1u)), b0, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 1u)), b1, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 1u)), b2, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 1u)), b3, acc9);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 2u)), b0, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 2u)), b1, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 2u)), b2, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 2u)), b3, acc10);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 3u)), b0, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 3u)), b1, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 3u)), b2, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 3u)), b3, acc11);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 4u)), b0, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 4u)), b1, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 4u)), b2, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 4u)), b3, acc12);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 5u)), b0, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 5u)), b1, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 5u)), b2, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 5u)), b3, acc13);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 6u)), b0, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 6u)), b1, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 6u)), b2, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 6u)), b3, acc14);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 7u)), b0, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 7u)), b1, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 7u)), b2, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 7u)), b3, acc15);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 0u)), b0, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 0u)), b1, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 0u)), b2, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 0u)), b3, acc16);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 1u)), b0, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 1u)), b1, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 1u)), b2, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 1u)), b3, acc17);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 2u)), b0, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 2u)), b1, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 2u)), b2, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 2u)), b3, acc18);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 3u)), b0, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 3u)), b1, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 3u)), b2, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 3u)), b3, acc19);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 4u)), b0, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 4u)), b1, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 4u)), b2, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 4u)), b3, acc20);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 5u)), b0, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 5u)), b1, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 5u)), b2, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 5u)), b3, acc21);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 6u)), b0, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 6u)), b1, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 6u)), b2, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 6u)), b3, acc22);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 7u)), b0, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 7u)), b1, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 7u)), b2, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 7u)), b3, acc23);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 0u)), b0, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 0u)), b1, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 0u)), b2, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 0u)), b3, acc24);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 1u)), b0, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 1u)), b1, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 1u)), b2, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 1u)), b3, acc25);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 2u)), b0, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 2u)), b1, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 2u)), b2, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 2u)), b3, acc26);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 3u)), b0, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 3u)), b1, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 3u)), b2, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 3u)), b3, acc27);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 4u)), b0, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 4u)), b1, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 4u)), b2, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 4u)), b3, acc28);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 5u)), b0, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 5u)), b1, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 5u)), b2, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 5u)), b3, acc29);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 6u)), b0, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 6u)), b1, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 6u)), b2, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 6u)), b3, acc30);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 7u)), b0, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 7u)), b1, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 7u)), b2, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 7u)), b3, acc31);
    }
    store_vec4(rb + 0u, cb, acc0);
    store_vec4(rb + 1u, cb, acc1);
    store_vec4(rb + 2u, cb, acc2);
    store_vec4(rb + 3u, cb, acc3);
    store_vec4(rb + 4u, cb, acc4);
    store_vec4(rb + 5u, cb, acc5);
    store_vec4(rb + 6u, cb, acc6);
    store_vec4(rb + 7u, cb, acc7);
    store_vec4(rb + 8u, cb, acc8);
    store_vec4(rb + 9u, cb, acc9);
    store_vec4(rb + 10u, cb, acc10);
    store_vec4(rb + 11u, cb, acc11);
    store_vec4(rb + 12u, cb, acc12);
    store_vec4(rb + 13u, cb, acc13);
    store_vec4(rb + 14u, cb, acc14);
    store_vec4(rb + 15u, cb, acc15);
    store_vec4(rb + 16u, cb, acc16);
    store_vec4(rb + 17u, cb, acc17);
    store_vec4(rb + 18u, cb, acc18);
    store_vec4(rb + 19u, cb, acc19);
    store_vec4(rb + 20u, cb, acc20);
    store_vec4(rb + 21u, cb, acc21);
    store_vec4(rb + 22u, cb, acc22);
    store_vec4(rb + 23u, cb, acc23);
    store_vec4(rb + 24u, cb, acc24);
    store_vec4(rb + 25u, cb, acc25);
    store_vec4(rb + 26u, cb, acc26);
    store_vec4(rb + 27u, cb, acc27);
    store_vec4(rb + 28u, cb, acc28);
    store_vec4(rb + 29u, cb, acc29);
    store_vec4(rb + 30u, cb, acc30);
    store_vec4(rb + 31u, cb, acc31);
}

@compute @workgroup_size(64)
fn gemm_tex_nt(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let cb = gid.x;
    let rb = wid.y * 32u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0);
    var acc9 = vec4<f32>(0.0);
    var acc10 = vec4<f32>(0.0);
    var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0);
    var acc13 = vec4<f32>(0.0);
    var acc14 = vec4<f32>(0.0);
    var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0);
    var acc17 = vec4<f32>(0.0);
    var acc18 = vec4<f32>(0.0);
    var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0);
    var acc21 = vec4<f32>(0.0);
    var acc22 = vec4<f32>(0.0);
    var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0);
    var acc25 = vec4<f32>(0.0);
    var acc26 = vec4<f32>(0.0);
    var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0);
    var acc29 = vec4<f32>(0.0);
    var acc30 = vec4<f32>(0.0);
    var acc31 = vec4<f32>(0.0);
    for (var k4 = 0u; k4 < p.k4; k4++) {
        let ag0 = textureLoad(ta, vec2<u32>(k4, rb + 0u + sid));
        let ag1 = textureLoad(ta, vec2<u32>(k4, rb + 8u + sid));
        let ag2 = textureLoad(ta, vec2<u32>(k4, rb + 16u + sid));
        let ag3 = textureLoad(ta, vec2<u32>(k4, rb + 24u + sid));
        let bt0 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 0u));
        let bt1 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 1u));
        let bt2 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 2u));
        let bt3 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 3u));
        let b0 = vec4<f32>(bt0[0], bt1[0], bt2[0], bt3[0]);
        let b1 = vec4<f32>(bt0[1], bt1[1], bt2[1], bt3[1]);
        let b2 = vec4<f32>(bt0[2], bt1[2], bt2[2], bt3[2]);
        let b3 = vec4<f32>(bt0[3], bt1[3], bt2[3], bt3[3]);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 0u)), b0, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 0u)), b1, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 0u)), b2, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 0u)), b3, acc0);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 1u)), b0, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 1u)), b1, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 1u)), b2, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 1u)), b3, acc1);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 2u)), b0, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 2u)), b1, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 2u)), b2, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 2u)), b3, acc2);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 3u)), b0, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 3u)), b1, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 3u)), b2, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 3u)), b3, acc3);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 4u)), b0, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 4u)), b1, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 4u)), b2, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 4u)), b3, acc4);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 5u)), b0, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 5u)), b1, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 5u)), b2, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 5u)), b3, acc5);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 6u)), b0, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 6u)), b1, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 6u)), b2, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 6u)), b3, acc6);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 7u)), b0, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 7u)), b1, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 7u)), b2, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 7u)), b3, acc7);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 0u)), b0, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 0u)), b1, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 0u)), b2, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 0u)), b3, acc8);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 1u)), b0, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 1u)), b1, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 1u)), b2, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 1u)), b3, acc9);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 2u)), b0, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 2u)), b1, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 2u)), b2, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 2u)), b3, acc10);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 3u)), b0, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 3u)), b1, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 3u)), b2, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 3u)), b3, acc11);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 4u)), b0, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 4u)), b1, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 4u)), b2, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 4u)), b3, acc12);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 5u)), b0, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 5u)), b1, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 5u)), b2, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 5u)), b3, acc13);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 6u)), b0, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 6u)), b1, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 6u)), b2, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 6u)), b3, acc14);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 7u)), b0, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 7u)), b1, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 7u)), b2, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 7u)), b3, acc15);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 0u)), b0, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 0u)), b1, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 0u)), b2, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 0u)), b3, acc16);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 1u)), b0, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 1u)), b1, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 1u)), b2, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 1u)), b3, acc17);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 2u)), b0, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 2u)), b1, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 2u)), b2, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 2u)), b3, acc18);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 3u)), b0, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 3u)), b1, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 3u)), b2, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 3u)), b3, acc19);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 4u)), b0, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 4u)), b1, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 4u)), b2, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 4u)), b3, acc20);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 5u)), b0, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 5u)), b1, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 5u)), b2, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 5u)), b3, acc21);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 6u)), b0, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 6u)), b1, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 6u)), b2, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 6u)), b3, acc22);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 7u)), b0, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 7u)), b1, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 7u)), b2, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 7u)), b3, acc23);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 0u)), b0, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 0u)), b1, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 0u)), b2, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 0u)), b3, acc24);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 1u)), b0, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 1u)), b1, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 1u)), b2, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 1u)), b3, acc25);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 2u)), b0, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 2u)), b1, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 2u)), b2, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 2u)), b3, acc26);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 3u)), b0, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 3u)), b1, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 3u)), b2, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 3u)), b3, acc27);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 4u)), b0, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 4u)), b1, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 4u)), b2, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 4u)), b3, acc28);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 5u)), b0, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 5u)), b1, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 5u)), b2, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 5u)), b3, acc29);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 6u)), b0, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 6u)), b1, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 6u)), b2, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 6u)), b3, acc30);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 7u)), b0, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 7u)), b1, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 7u)), b2, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 7u)), b3, acc31);
    }
    store4(rb + 0u, cb, acc0);
    store4(rb + 1u, cb, acc1);
    store4(rb + 2u, cb, acc2);
    store4(rb + 3u, cb, acc3);
    store4(rb + 4u, cb, acc4);
    store4(rb + 5u, cb, acc5);
    store4(rb + 6u, cb, acc6);
    store4(rb + 7u, cb, acc7);
    store4(rb + 8u, cb, acc8);
    store4(rb + 9u, cb, acc9);
    store4(rb + 10u, cb, acc10);
    store4(rb + 11u, cb, acc11);
    store4(rb + 12u, cb, acc12);
    store4(rb + 13u, cb, acc13);
    store4(rb + 14u, cb, acc14);
    store4(rb + 15u, cb, acc15);
    store4(rb + 16u, cb, acc16);
    store4(rb + 17u, cb, acc17);
    store4(rb + 18u, cb, acc18);
    store4(rb + 19u, cb, acc19);
    store4(rb + 20u, cb, acc20);
    store4(rb + 21u, cb, acc21);
    store4(rb + 22u, cb, acc22);
    store4(rb + 23u, cb, acc23);
    store4(rb + 24u, cb, acc24);
    store4(rb + 25u, cb, acc25);
    store4(rb + 26u, cb, acc26);
    store4(rb + 27u, cb, acc27);
    store4(rb + 28u, cb, acc28);
    store4(rb + 29u, cb, acc29);
    store4(rb + 30u, cb, acc30);
    store4(rb + 31u, cb, acc31);
}

@compute @workgroup_size(64)
fn gemm_tex_nt_n4(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let cb = gid.x;
    let rb = wid.y * 32u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0);
    var acc9 = vec4<f32>(0.0);
    var acc10 = vec4<f32>(0.0);
    var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0);
    var acc13 = vec4<f32>(0.0);
    var acc14 = vec4<f32>(0.0);
    var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0);
    var acc17 = vec4<f32>(0.0);
    var acc18 = vec4<f32>(0.0);
    var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0);
    var acc21 = vec4<f32>(0.0);
    var acc22 = vec4<f32>(0.0);
    var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0);
    var acc25 = vec4<f32>(0.0);
    var acc26 = vec4<f32>(0.0);
    var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0);
    var acc29 = vec4<f32>(0.0);
    var acc30 = vec4<f32>(0.0);
    var acc31 = vec4<f32>(0.0);
    for (var k4 = 0u; k4 < p.k4; k4++) {
        let ag0 = textureLoad(ta, vec2<u32>(k4, rb + 0u + sid));
        let ag1 = textureLoad(ta, vec2<u32>(k4, rb + 8u + sid));
        let ag2 = textureLoad(ta, vec2<u32>(k4, rb + 16u + sid));
        let ag3 = textureLoad(ta, vec2<u32>(k4, rb + 24u + sid));
        let bt0 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 0u));
        let bt1 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 1u));
        let bt2 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 2u));
        let bt3 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 3u));
        let b0 = vec4<f32>(bt0[0], bt1[0], bt2[0], bt3[0]);
        let b1 = vec4<f32>(bt0[1], bt1[1], bt2[1], bt3[1]);
        let b2 = vec4<f32>(bt0[2], bt1[2], bt2[2], bt3[2]);
        let b3 = vec4<f32>(bt0[3], bt1[3], bt2[3], bt3[3]);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 0u)), b0, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 0u)), b1, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 0u)), b2, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 0u)), b3, acc0);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 1u)), b0, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 1u)), b1, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 1u)), b2, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 1u)), b3, acc1);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 2u)), b0, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 2u)), b1, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 2u)), b2, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 2u)), b3, acc2);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 3u)), b0, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 3u)), b1, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 3u)), b2, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 3u)), b3, acc3);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 4u)), b0, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 4u)), b1, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 4u)), b2, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 4u)), b3, acc4);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 5u)), b0, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 5u)), b1, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 5u)), b2, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 5u)), b3, acc5);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 6u)), b0, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 6u)), b1, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 6u)), b2, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 6u)), b3, acc6);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[0], 7u)), b0, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[1], 7u)), b1, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[2], 7u)), b2, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0[3], 7u)), b3, acc7);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 0u)), b0, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 0u)), b1, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 0u)), b2, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 0u)), b3, acc8);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 1u)), b0, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 1u)), b1, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 1u)), b2, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 1u)), b3, acc9);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 2u)), b0, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 2u)), b1, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 2u)), b2, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 2u)), b3, acc10);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 3u)), b0, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 3u)), b1, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 3u)), b2, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 3u)), b3, acc11);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 4u)), b0, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 4u)), b1, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 4u)), b2, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 4u)), b3, acc12);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 5u)), b0, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 5u)), b1, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 5u)), b2, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 5u)), b3, acc13);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 6u)), b0, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 6u)), b1, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 6u)), b2, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 6u)), b3, acc14);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[0], 7u)), b0, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[1], 7u)), b1, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[2], 7u)), b2, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag1[3], 7u)), b3, acc15);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 0u)), b0, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 0u)), b1, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 0u)), b2, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 0u)), b3, acc16);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 1u)), b0, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 1u)), b1, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 1u)), b2, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 1u)), b3, acc17);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 2u)), b0, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 2u)), b1, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 2u)), b2, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 2u)), b3, acc18);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 3u)), b0, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 3u)), b1, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 3u)), b2, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 3u)), b3, acc19);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 4u)), b0, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 4u)), b1, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 4u)), b2, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 4u)), b3, acc20);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 5u)), b0, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 5u)), b1, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 5u)), b2, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 5u)), b3, acc21);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 6u)), b0, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 6u)), b1, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 6u)), b2, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 6u)), b3, acc22);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[0], 7u)), b0, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[1], 7u)), b1, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[2], 7u)), b2, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag2[3], 7u)), b3, acc23);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 0u)), b0, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 0u)), b1, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 0u)), b2, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 0u)), b3, acc24);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 1u)), b0, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 1u)), b1, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 1u)), b2, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 1u)), b3, acc25);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 2u)), b0, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 2u)), b1, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 2u)), b2, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 2u)), b3, acc26);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 3u)), b0, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 3u)), b1, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 3u)), b2, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 3u)), b3, acc27);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 4u)), b0, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 4u)), b1, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 4u)), b2, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 4u)), b3, acc28);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 5u)), b0, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 5u)), b1, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 5u)), b2, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 5u)), b3, acc29);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 6u)), b0, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 6u)), b1, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 6u)), b2, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 6u)), b3, acc30);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[0], 7u)), b0, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[1], 7u)), b1, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[2], 7u)), b2, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag3[3], 7u)), b3, acc31);
    }
    store_vec4(rb + 0u, cb, acc0);
    store_vec4(rb + 1u, cb, acc1);
    store_vec4(rb + 2u, cb, acc2);
    store_vec4(rb + 3u, cb, acc3);
    store_vec4(rb + 4u, cb, acc4);
    store_vec4(rb + 5u, cb, acc5);
    store_vec4(rb + 6u, cb, acc6);
    store_vec4(rb + 7u, cb, acc7);
    store_vec4(rb + 8u, cb, acc8);
    store_vec4(rb + 9u, cb, acc9);
    store_vec4(rb + 10u, cb, acc10);
    store_vec4(rb + 11u, cb, acc11);
    store_vec4(rb + 12u, cb, acc12);
    store_vec4(rb + 13u, cb, acc13);
    store_vec4(rb + 14u, cb, acc14);
    store_vec4(rb + 15u, cb, acc15);
    store_vec4(rb + 16u, cb, acc16);
    store_vec4(rb + 17u, cb, acc17);
    store_vec4(rb + 18u, cb, acc18);
    store_vec4(rb + 19u, cb, acc19);
    store_vec4(rb + 20u, cb, acc20);
    store_vec4(rb + 21u, cb, acc21);
    store_vec4(rb + 22u, cb, acc22);
    store_vec4(rb + 23u, cb, acc23);
    store_vec4(rb + 24u, cb, acc24);
    store_vec4(rb + 25u, cb, acc25);
    store_vec4(rb + 26u, cb, acc26);
    store_vec4(rb + 27u, cb, acc27);
    store_vec4(rb + 28u, cb, acc28);
    store_vec4(rb + 29u, cb, acc29);
    store_vec4(rb + 30u, cb, acc30);
    store_vec4(rb + 31u, cb, acc31);
}

@compute @workgroup_size(64)
fn gemm_tex_tn(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let cb = gid.x;
    let rb = wid.y * 32u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0);
    var acc9 = vec4<f32>(0.0);
    var acc10 = vec4<f32>(0.0);
    var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0);
    var acc13 = vec4<f32>(0.0);
    var acc14 = vec4<f32>(0.0);
    var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0);
    var acc17 = vec4<f32>(0.0);
    var acc18 = vec4<f32>(0.0);
    var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0);
    var acc21 = vec4<f32>(0.0);
    var acc22 = vec4<f32>(0.0);
    var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0);
    var acc25 = vec4<f32>(0.0);
    var acc26 = vec4<f32>(0.0);
    var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0);
    var acc29 = vec4<f32>(0.0);
    var acc30 = vec4<f32>(0.0);
    var acc31 = vec4<f32>(0.0);
    let ax = wid.y * 8u;
    let ax0 = ax % p.abw + sid;
    let ay0 = ax / p.abw * p.k4 * 4u;
    let bx = cb % p.bbw;
    let by0 = cb / p.bbw * p.k4 * 4u;
    for (var k4 = 0u; k4 < p.k4; k4++) {
        let ag0_0 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 0u));
        let ag0_1 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 1u));
        let ag0_2 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 2u));
        let ag0_3 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 3u));
        let b0 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 0u));
        let b1 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 1u));
        let b2 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 2u));
        let b3 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 3u));
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 0u)), b0, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 0u)), b1, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 0u)), b2, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 0u)), b3, acc0);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 0u)), b0, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 0u)), b1, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 0u)), b2, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 0u)), b3, acc1);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 0u)), b0, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 0u)), b1, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 0u)), b2, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 0u)), b3, acc2);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 0u)), b0, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 0u)), b1, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 0u)), b2, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 0u)), b3, acc3);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 1u)), b0, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 1u)), b1, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 1u)), b2, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 1u)), b3, acc4);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 1u)), b0, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 1u)), b1, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 1u)), b2, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 1u)), b3, acc5);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 1u)), b0, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 1u)), b1, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 1u)), b2, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 1u)), b3, acc6);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 1u)), b0, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 1u)), b1, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 1u)), b2, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 1u)), b3, acc7);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 2u)), b0, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 2u)), b1, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 2u)), b2, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 2u)), b3, acc8);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 2u)), b0, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 2u)), b1, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 2u)), b2, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 2u)), b3, acc9);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 2u)), b0, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 2u)), b1, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 2u)), b2, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 2u)), b3, acc10);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 2u)), b0, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 2u)), b1, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 2u)), b2, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 2u)), b3, acc11);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 3u)), b0, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 3u)), b1, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 3u)), b2, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 3u)), b3, acc12);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 3u)), b0, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 3u)), b1, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 3u)), b2, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 3u)), b3, acc13);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 3u)), b0, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 3u)), b1, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 3u)), b2, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 3u)), b3, acc14);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 3u)), b0, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 3u)), b1, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 3u)), b2, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 3u)), b3, acc15);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 4u)), b0, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 4u)), b1, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 4u)), b2, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 4u)), b3, acc16);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 4u)), b0, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 4u)), b1, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 4u)), b2, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 4u)), b3, acc17);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 4u)), b0, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 4u)), b1, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 4u)), b2, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 4u)), b3, acc18);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 4u)), b0, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 4u)), b1, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 4u)), b2, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 4u)), b3, acc19);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 5u)), b0, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 5u)), b1, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 5u)), b2, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 5u)), b3, acc20);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 5u)), b0, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 5u)), b1, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 5u)), b2, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 5u)), b3, acc21);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 5u)), b0, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 5u)), b1, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 5u)), b2, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 5u)), b3, acc22);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 5u)), b0, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 5u)), b1, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 5u)), b2, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 5u)), b3, acc23);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 6u)), b0, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 6u)), b1, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 6u)), b2, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 6u)), b3, acc24);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 6u)), b0, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 6u)), b1, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 6u)), b2, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 6u)), b3, acc25);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 6u)), b0, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 6u)), b1, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 6u)), b2, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 6u)), b3, acc26);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 6u)), b0, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 6u)), b1, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 6u)), b2, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 6u)), b3, acc27);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 7u)), b0, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 7u)), b1, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 7u)), b2, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 7u)), b3, acc28);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 7u)), b0, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 7u)), b1, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 7u)), b2, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 7u)), b3, acc29);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 7u)), b0, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 7u)), b1, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 7u)), b2, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 7u)), b3, acc30);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 7u)), b0, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 7u)), b1, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 7u)), b2, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 7u)), b3, acc31);
    }
    store4(rb + 0u, cb, acc0);
    store4(rb + 1u, cb, acc1);
    store4(rb + 2u, cb, acc2);
    store4(rb + 3u, cb, acc3);
    store4(rb + 4u, cb, acc4);
    store4(rb + 5u, cb, acc5);
    store4(rb + 6u, cb, acc6);
    store4(rb + 7u, cb, acc7);
    store4(rb + 8u, cb, acc8);
    store4(rb + 9u, cb, acc9);
    store4(rb + 10u, cb, acc10);
    store4(rb + 11u, cb, acc11);
    store4(rb + 12u, cb, acc12);
    store4(rb + 13u, cb, acc13);
    store4(rb + 14u, cb, acc14);
    store4(rb + 15u, cb, acc15);
    store4(rb + 16u, cb, acc16);
    store4(rb + 17u, cb, acc17);
    store4(rb + 18u, cb, acc18);
    store4(rb + 19u, cb, acc19);
    store4(rb + 20u, cb, acc20);
    store4(rb + 21u, cb, acc21);
    store4(rb + 22u, cb, acc22);
    store4(rb + 23u, cb, acc23);
    store4(rb + 24u, cb, acc24);
    store4(rb + 25u, cb, acc25);
    store4(rb + 26u, cb, acc26);
    store4(rb + 27u, cb, acc27);
    store4(rb + 28u, cb, acc28);
    store4(rb + 29u, cb, acc29);
    store4(rb + 30u, cb, acc30);
    store4(rb + 31u, cb, acc31);
}

@compute @workgroup_size(64)
fn gemm_tex_tn_n4(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let cb = gid.x;
    let rb = wid.y * 32u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0);
    var acc9 = vec4<f32>(0.0);
    var acc10 = vec4<f32>(0.0);
    var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0);
    var acc13 = vec4<f32>(0.0);
    var acc14 = vec4<f32>(0.0);
    var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0);
    var acc17 = vec4<f32>(0.0);
    var acc18 = vec4<f32>(0.0);
    var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0);
    var acc21 = vec4<f32>(0.0);
    var acc22 = vec4<f32>(0.0);
    var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0);
    var acc25 = vec4<f32>(0.0);
    var acc26 = vec4<f32>(0.0);
    var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0);
    var acc29 = vec4<f32>(0.0);
    var acc30 = vec4<f32>(0.0);
    var acc31 = vec4<f32>(0.0);
    let ax = wid.y * 8u;
    let ax0 = ax % p.abw + sid;
    let ay0 = ax / p.abw * p.k4 * 4u;
    let bx = cb % p.bbw;
    let by0 = cb / p.bbw * p.k4 * 4u;
    for (var k4 = 0u; k4 < p.k4; k4++) {
        let ag0_0 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 0u));
        let ag0_1 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 1u));
        let ag0_2 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 2u));
        let ag0_3 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 3u));
        let b0 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 0u));
        let b1 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 1u));
        let b2 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 2u));
        let b3 = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + 3u));
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 0u)), b0, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 0u)), b1, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 0u)), b2, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 0u)), b3, acc0);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 0u)), b0, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 0u)), b1, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 0u)), b2, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 0u)), b3, acc1);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 0u)), b0, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 0u)), b1, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 0u)), b2, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 0u)), b3, acc2);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 0u)), b0, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 0u)), b1, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 0u)), b2, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 0u)), b3, acc3);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 1u)), b0, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 1u)), b1, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 1u)), b2, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 1u)), b3, acc4);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 1u)), b0, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 1u)), b1, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 1u)), b2, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 1u)), b3, acc5);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 1u)), b0, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 1u)), b1, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 1u)), b2, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 1u)), b3, acc6);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 1u)), b0, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 1u)), b1, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 1u)), b2, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 1u)), b3, acc7);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 2u)), b0, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 2u)), b1, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 2u)), b2, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 2u)), b3, acc8);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 2u)), b0, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 2u)), b1, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 2u)), b2, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 2u)), b3, acc9);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 2u)), b0, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 2u)), b1, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 2u)), b2, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 2u)), b3, acc10);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 2u)), b0, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 2u)), b1, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 2u)), b2, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 2u)), b3, acc11);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 3u)), b0, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 3u)), b1, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 3u)), b2, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 3u)), b3, acc12);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 3u)), b0, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 3u)), b1, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 3u)), b2, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 3u)), b3, acc13);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 3u)), b0, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 3u)), b1, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 3u)), b2, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 3u)), b3, acc14);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 3u)), b0, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 3u)), b1, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 3u)), b2, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 3u)), b3, acc15);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 4u)), b0, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 4u)), b1, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 4u)), b2, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 4u)), b3, acc16);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 4u)), b0, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 4u)), b1, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 4u)), b2, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 4u)), b3, acc17);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 4u)), b0, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 4u)), b1, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 4u)), b2, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 4u)), b3, acc18);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 4u)), b0, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 4u)), b1, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 4u)), b2, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 4u)), b3, acc19);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 5u)), b0, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 5u)), b1, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 5u)), b2, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 5u)), b3, acc20);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 5u)), b0, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 5u)), b1, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 5u)), b2, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 5u)), b3, acc21);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 5u)), b0, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 5u)), b1, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 5u)), b2, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 5u)), b3, acc22);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 5u)), b0, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 5u)), b1, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 5u)), b2, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 5u)), b3, acc23);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 6u)), b0, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 6u)), b1, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 6u)), b2, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 6u)), b3, acc24);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 6u)), b0, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 6u)), b1, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 6u)), b2, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 6u)), b3, acc25);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 6u)), b0, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 6u)), b1, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 6u)), b2, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 6u)), b3, acc26);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 6u)), b0, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 6u)), b1, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 6u)), b2, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 6u)), b3, acc27);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 7u)), b0, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 7u)), b1, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 7u)), b2, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 7u)), b3, acc28);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 7u)), b0, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 7u)), b1, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 7u)), b2, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 7u)), b3, acc29);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 7u)), b0, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 7u)), b1, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 7u)), b2, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 7u)), b3, acc30);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 7u)), b0, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 7u)), b1, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 7u)), b2, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 7u)), b3, acc31);
    }
    store_vec4(rb + 0u, cb, acc0);
    store_vec4(rb + 1u, cb, acc1);
    store_vec4(rb + 2u, cb, acc2);
    store_vec4(rb + 3u, cb, acc3);
    store_vec4(rb + 4u, cb, acc4);
    store_vec4(rb + 5u, cb, acc5);
    store_vec4(rb + 6u, cb, acc6);
    store_vec4(rb + 7u, cb, acc7);
    store_vec4(rb + 8u, cb, acc8);
    store_vec4(rb + 9u, cb, acc9);
    store_vec4(rb + 10u, cb, acc10);
    store_vec4(rb + 11u, cb, acc11);
    store_vec4(rb + 12u, cb, acc12);
    store_vec4(rb + 13u, cb, acc13);
    store_vec4(rb + 14u, cb, acc14);
    store_vec4(rb + 15u, cb, acc15);
    store_vec4(rb + 16u, cb, acc16);
    store_vec4(rb + 17u, cb, acc17);
    store_vec4(rb + 18u, cb, acc18);
    store_vec4(rb + 19u, cb, acc19);
    store_vec4(rb + 20u, cb, acc20);
    store_vec4(rb + 21u, cb, acc21);
    store_vec4(rb + 22u, cb, acc22);
    store_vec4(rb + 23u, cb, acc23);
    store_vec4(rb + 24u, cb, acc24);
    store_vec4(rb + 25u, cb, acc25);
    store_vec4(rb + 26u, cb, acc26);
    store_vec4(rb + 27u, cb, acc27);
    store_vec4(rb + 28u, cb, acc28);
    store_vec4(rb + 29u, cb, acc29);
    store_vec4(rb + 30u, cb, acc30);
    store_vec4(rb + 31u, cb, acc31);
}

@compute @workgroup_size(64)
fn gemm_tex_tt(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let cb = gid.x;
    let rb = wid.y * 32u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0);
    var acc9 = vec4<f32>(0.0);
    var acc10 = vec4<f32>(0.0);
    var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0);
    var acc13 = vec4<f32>(0.0);
    var acc14 = vec4<f32>(0.0);
    var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0);
    var acc17 = vec4<f32>(0.0);
    var acc18 = vec4<f32>(0.0);
    var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0);
    var acc21 = vec4<f32>(0.0);
    var acc22 = vec4<f32>(0.0);
    var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0);
    var acc25 = vec4<f32>(0.0);
    var acc26 = vec4<f32>(0.0);
    var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0);
    var acc29 = vec4<f32>(0.0);
    var acc30 = vec4<f32>(0.0);
    var acc31 = vec4<f32>(0.0);
    let ax = wid.y * 8u;
    let ax0 = ax % p.abw + sid;
    let ay0 = ax / p.abw * p.k4 * 4u;
    for (var k4 = 0u; k4 < p.k4; k4++) {
        let ag0_0 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 0u));
        let ag0_1 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 1u));
        let ag0_2 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 2u));
        let ag0_3 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 3u));
        let bt0 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 0u));
        let bt1 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 1u));
        let bt2 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 2u));
        let bt3 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 3u));
        let b0 = vec4<f32>(bt0[0], bt1[0], bt2[0], bt3[0]);
        let b1 = vec4<f32>(bt0[1], bt1[1], bt2[1], bt3[1]);
        let b2 = vec4<f32>(bt0[2], bt1[2], bt2[2], bt3[2]);
        let b3 = vec4<f32>(bt0[3], bt1[3], bt2[3], bt3[3]);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 0u)), b0, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 0u)), b1, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 0u)), b2, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 0u)), b3, acc0);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 0u)), b0, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 0u)), b1, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 0u)), b2, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 0u)), b3, acc1);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 0u)), b0, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 0u)), b1, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 0u)), b2, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 0u)), b3, acc2);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 0u)), b0, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 0u)), b1, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 0u)), b2, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 0u)), b3, acc3);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 1u)), b0, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 1u)), b1, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 1u)), b2, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 1u)), b3, acc4);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 1u)), b0, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 1u)), b1, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 1u)), b2, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 1u)), b3, acc5);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 1u)), b0, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 1u)), b1, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 1u)), b2, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 1u)), b3, acc6);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 1u)), b0, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 1u)), b1, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 1u)), b2, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 1u)), b3, acc7);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 2u)), b0, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 2u)), b1, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 2u)), b2, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 2u)), b3, acc8);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 2u)), b0, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 2u)), b1, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 2u)), b2, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 2u)), b3, acc9);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 2u)), b0, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 2u)), b1, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 2u)), b2, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 2u)), b3, acc10);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 2u)), b0, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 2u)), b1, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 2u)), b2, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 2u)), b3, acc11);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 3u)), b0, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 3u)), b1, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 3u)), b2, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 3u)), b3, acc12);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 3u)), b0, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 3u)), b1, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 3u)), b2, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 3u)), b3, acc13);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 3u)), b0, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 3u)), b1, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 3u)), b2, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 3u)), b3, acc14);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 3u)), b0, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 3u)), b1, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 3u)), b2, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 3u)), b3, acc15);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 4u)), b0, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 4u)), b1, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 4u)), b2, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 4u)), b3, acc16);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 4u)), b0, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 4u)), b1, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 4u)), b2, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 4u)), b3, acc17);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 4u)), b0, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 4u)), b1, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 4u)), b2, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 4u)), b3, acc18);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 4u)), b0, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 4u)), b1, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 4u)), b2, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 4u)), b3, acc19);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 5u)), b0, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 5u)), b1, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 5u)), b2, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 5u)), b3, acc20);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 5u)), b0, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 5u)), b1, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 5u)), b2, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 5u)), b3, acc21);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 5u)), b0, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 5u)), b1, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 5u)), b2, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 5u)), b3, acc22);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 5u)), b0, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 5u)), b1, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 5u)), b2, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 5u)), b3, acc23);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 6u)), b0, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 6u)), b1, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 6u)), b2, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 6u)), b3, acc24);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 6u)), b0, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 6u)), b1, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 6u)), b2, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 6u)), b3, acc25);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 6u)), b0, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 6u)), b1, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 6u)), b2, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 6u)), b3, acc26);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 6u)), b0, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 6u)), b1, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 6u)), b2, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 6u)), b3, acc27);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 7u)), b0, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 7u)), b1, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 7u)), b2, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 7u)), b3, acc28);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 7u)), b0, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 7u)), b1, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 7u)), b2, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 7u)), b3, acc29);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 7u)), b0, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 7u)), b1, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 7u)), b2, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 7u)), b3, acc30);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 7u)), b0, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 7u)), b1, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 7u)), b2, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 7u)), b3, acc31);
    }
    store4(rb + 0u, cb, acc0);
    store4(rb + 1u, cb, acc1);
    store4(rb + 2u, cb, acc2);
    store4(rb + 3u, cb, acc3);
    store4(rb + 4u, cb, acc4);
    store4(rb + 5u, cb, acc5);
    store4(rb + 6u, cb, acc6);
    store4(rb + 7u, cb, acc7);
    store4(rb + 8u, cb, acc8);
    store4(rb + 9u, cb, acc9);
    store4(rb + 10u, cb, acc10);
    store4(rb + 11u, cb, acc11);
    store4(rb + 12u, cb, acc12);
    store4(rb + 13u, cb, acc13);
    store4(rb + 14u, cb, acc14);
    store4(rb + 15u, cb, acc15);
    store4(rb + 16u, cb, acc16);
    store4(rb + 17u, cb, acc17);
    store4(rb + 18u, cb, acc18);
    store4(rb + 19u, cb, acc19);
    store4(rb + 20u, cb, acc20);
    store4(rb + 21u, cb, acc21);
    store4(rb + 22u, cb, acc22);
    store4(rb + 23u, cb, acc23);
    store4(rb + 24u, cb, acc24);
    store4(rb + 25u, cb, acc25);
    store4(rb + 26u, cb, acc26);
    store4(rb + 27u, cb, acc27);
    store4(rb + 28u, cb, acc28);
    store4(rb + 29u, cb, acc29);
    store4(rb + 30u, cb, acc30);
    store4(rb + 31u, cb, acc31);
}

@compute @workgroup_size(64)
fn gemm_tex_tt_n4(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let cb = gid.x;
    let rb = wid.y * 32u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0);
    var acc9 = vec4<f32>(0.0);
    var acc10 = vec4<f32>(0.0);
    var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0);
    var acc13 = vec4<f32>(0.0);
    var acc14 = vec4<f32>(0.0);
    var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0);
    var acc17 = vec4<f32>(0.0);
    var acc18 = vec4<f32>(0.0);
    var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0);
    var acc21 = vec4<f32>(0.0);
    var acc22 = vec4<f32>(0.0);
    var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0);
    var acc25 = vec4<f32>(0.0);
    var acc26 = vec4<f32>(0.0);
    var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0);
    var acc29 = vec4<f32>(0.0);
    var acc30 = vec4<f32>(0.0);
    var acc31 = vec4<f32>(0.0);
    let ax = wid.y * 8u;
    let ax0 = ax % p.abw + sid;
    let ay0 = ax / p.abw * p.k4 * 4u;
    for (var k4 = 0u; k4 < p.k4; k4++) {
        let ag0_0 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 0u));
        let ag0_1 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 1u));
        let ag0_2 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 2u));
        let ag0_3 = textureLoad(ta, vec2<u32>(ax0 + 0u, ay0 + k4 * 4u + 3u));
        let bt0 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 0u));
        let bt1 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 1u));
        let bt2 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 2u));
        let bt3 = textureLoad(tb, vec2<u32>(k4, cb * 4u + 3u));
        let b0 = vec4<f32>(bt0[0], bt1[0], bt2[0], bt3[0]);
        let b1 = vec4<f32>(bt0[1], bt1[1], bt2[1], bt3[1]);
        let b2 = vec4<f32>(bt0[2], bt1[2], bt2[2], bt3[2]);
        let b3 = vec4<f32>(bt0[3], bt1[3], bt2[3], bt3[3]);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 0u)), b0, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 0u)), b1, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 0u)), b2, acc0);
        acc0 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 0u)), b3, acc0);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 0u)), b0, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 0u)), b1, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 0u)), b2, acc1);
        acc1 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 0u)), b3, acc1);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 0u)), b0, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 0u)), b1, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 0u)), b2, acc2);
        acc2 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 0u)), b3, acc2);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 0u)), b0, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 0u)), b1, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 0u)), b2, acc3);
        acc3 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 0u)), b3, acc3);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 1u)), b0, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 1u)), b1, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 1u)), b2, acc4);
        acc4 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 1u)), b3, acc4);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 1u)), b0, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 1u)), b1, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 1u)), b2, acc5);
        acc5 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 1u)), b3, acc5);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 1u)), b0, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 1u)), b1, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 1u)), b2, acc6);
        acc6 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 1u)), b3, acc6);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 1u)), b0, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 1u)), b1, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 1u)), b2, acc7);
        acc7 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 1u)), b3, acc7);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 2u)), b0, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 2u)), b1, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 2u)), b2, acc8);
        acc8 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 2u)), b3, acc8);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 2u)), b0, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 2u)), b1, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 2u)), b2, acc9);
        acc9 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 2u)), b3, acc9);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 2u)), b0, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 2u)), b1, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 2u)), b2, acc10);
        acc10 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 2u)), b3, acc10);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 2u)), b0, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 2u)), b1, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 2u)), b2, acc11);
        acc11 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 2u)), b3, acc11);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 3u)), b0, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 3u)), b1, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 3u)), b2, acc12);
        acc12 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 3u)), b3, acc12);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 3u)), b0, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 3u)), b1, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 3u)), b2, acc13);
        acc13 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 3u)), b3, acc13);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 3u)), b0, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 3u)), b1, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 3u)), b2, acc14);
        acc14 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 3u)), b3, acc14);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 3u)), b0, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 3u)), b1, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 3u)), b2, acc15);
        acc15 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 3u)), b3, acc15);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 4u)), b0, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 4u)), b1, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 4u)), b2, acc16);
        acc16 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 4u)), b3, acc16);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 4u)), b0, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 4u)), b1, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 4u)), b2, acc17);
        acc17 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 4u)), b3, acc17);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 4u)), b0, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 4u)), b1, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 4u)), b2, acc18);
        acc18 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 4u)), b3, acc18);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 4u)), b0, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 4u)), b1, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 4u)), b2, acc19);
        acc19 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 4u)), b3, acc19);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 5u)), b0, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 5u)), b1, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 5u)), b2, acc20);
        acc20 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 5u)), b3, acc20);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 5u)), b0, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 5u)), b1, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 5u)), b2, acc21);
        acc21 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 5u)), b3, acc21);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 5u)), b0, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 5u)), b1, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 5u)), b2, acc22);
        acc22 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 5u)), b3, acc22);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 5u)), b0, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 5u)), b1, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 5u)), b2, acc23);
        acc23 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 5u)), b3, acc23);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 6u)), b0, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 6u)), b1, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 6u)), b2, acc24);
        acc24 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 6u)), b3, acc24);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 6u)), b0, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 6u)), b1, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 6u)), b2, acc25);
        acc25 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 6u)), b3, acc25);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 6u)), b0, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 6u)), b1, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 6u)), b2, acc26);
        acc26 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 6u)), b3, acc26);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 6u)), b0, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 6u)), b1, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 6u)), b2, acc27);
        acc27 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 6u)), b3, acc27);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_0[0], 7u)), b0, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_1[0], 7u)), b1, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_2[0], 7u)), b2, acc28);
        acc28 = fma(vec4<f32>(subgroupBroadcast(ag0_3[0], 7u)), b3, acc28);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_0[1], 7u)), b0, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_1[1], 7u)), b1, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_2[1], 7u)), b2, acc29);
        acc29 = fma(vec4<f32>(subgroupBroadcast(ag0_3[1], 7u)), b3, acc29);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_0[2], 7u)), b0, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_1[2], 7u)), b1, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_2[2], 7u)), b2, acc30);
        acc30 = fma(vec4<f32>(subgroupBroadcast(ag0_3[2], 7u)), b3, acc30);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_0[3], 7u)), b0, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_1[3], 7u)), b1, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_2[3], 7u)), b2, acc31);
        acc31 = fma(vec4<f32>(subgroupBroadcast(ag0_3[3], 7u)), b3, acc31);
    }
    store_vec4(rb + 0u, cb, acc0);
    store_vec4(rb + 1u, cb, acc1);
    store_vec4(rb + 2u, cb, acc2);
    store_vec4(rb + 3u, cb, acc3);
    store_vec4(rb + 4u, cb, acc4);
    store_vec4(rb + 5u, cb, acc5);
    store_vec4(rb + 6u, cb, acc6);
    store_vec4(rb + 7u, cb, acc7);
    store_vec4(rb + 8u, cb, acc8);
    store_vec4(rb + 9u, cb, acc9);
    store_vec4(rb + 10u, cb, acc10);
    store_vec4(rb + 11u, cb, acc11);
    store_vec4(rb + 12u, cb, acc12);
    store_vec4(rb + 13u, cb, acc13);
    store_vec4(rb + 14u, cb, acc14);
    store_vec4(rb + 15u, cb, acc15);
    store_vec4(rb + 16u, cb, acc16);
    store_vec4(rb + 17u, cb, acc17);
    store_vec4(rb + 18u, cb, acc18);
    store_vec4(rb + 19u, cb, acc19);
    store_vec4(rb + 20u, cb, acc20);
    store_vec4(rb + 21u, cb, acc21);
    store_vec4(rb + 22u, cb, acc22);
    store_vec4(rb + 23u, cb, acc23);
    store_vec4(rb + 24u, cb, acc24);
    store_vec4(rb + 25u, cb, acc25);
    store_vec4(rb + 26u, cb, acc26);
    store_vec4(rb + 27u, cb, acc27);
    store_vec4(rb + 28u, cb, acc28);
    store_vec4(rb + 29u, cb, acc29);
    store_vec4(rb + 30u, cb, acc30);
    store_vec4(rb + 31u, cb, acc31);
}

// # Generates the unrolled entry points at the end of shaders/gemm_tex.wgsl
// # (TM = 32 rows x 1 vec4 of columns per lane). To regenerate, extract this
// # comment and replace everything from "// BEGIN GENERATED" on:
// #   sed -n '/^\/\/ # Generates/,$p' shaders/gemm_tex.wgsl | sed 's|^// \?||' > /tmp/gen.py
// #   sed -i '/^\/\/ BEGIN GENERATED/,$d' shaders/gemm_tex.wgsl
// #   python3 /tmp/gen.py >> shaders/gemm_tex.wgsl
// # Row-major order of the FMAs (each accumulator takes its 4 K steps in a
// # row) measured 1.3-1.5x faster than K-major: llvmpipe spills the
// # accumulators, and this order reloads each once per K step of 4.
// import sys
// 
// TM = 32
// o = []
// w = o.append
// w("// BEGIN GENERATED by the python3 script in the comment below; edit that.")
// w("//")
// w("// ta, tb: the operand textures (see the header and `dims` in")
// w("// src/ops/gemm_tex.rs). One lane = 32 rows x 4 columns of C; no early")
// w("// return before the loop, so every lane of a subgroup takes part in the")
// w("// broadcasts. The `_n4` kernels store vec4s (N a multiple of 4).")
// w("")
// for la in "nt":
//     for lb in "nt":
//         for suffix, store in (("", "store4"), ("_n4", "store_vec4")):
//             w("@compute @workgroup_size(64)")
//             w(f"fn gemm_tex_{la}{lb}{suffix}(")
//             w("    @builtin(global_invocation_id) gid: vec3<u32>,")
//             w("    @builtin(workgroup_id) wid: vec3<u32>,")
//             w("    @builtin(subgroup_invocation_id) sid: u32,")
//             w(") {")
//             w("    let cb = gid.x;")
//             w(f"    let rb = wid.y * {TM}u;")
//             for r in range(TM):
//                 w(f"    var acc{r} = vec4<f32>(0.0);")
//             # banded operands (see `dims` in src/ops/gemm_tex.rs): logical
//             # texel (x, y) at (x % bw, (x / bw) * 4 K4 + y)
//             if la == "t":
//                 w(f"    let ax = wid.y * {TM // 4}u;")
//                 w("    let ax0 = ax % p.abw + sid;")
//                 w("    let ay0 = ax / p.abw * p.k4 * 4u;")
//             if lb == "n":
//                 w("    let bx = cb % p.bbw;")
//                 w("    let by0 = cb / p.bbw * p.k4 * 4u;")
//             w("    for (var k4 = 0u; k4 < p.k4; k4++) {")
//             # a(r, kk): A(rb + r, 4 k4 + kk), as a subgroup broadcast
//             if la == "n":
//                 for g in range(TM // 8):
//                     w(f"        let ag{g} = textureLoad(ta, vec2<u32>(k4, rb + {g * 8}u + sid));")
//                 a = lambda r, kk: f"subgroupBroadcast(ag{r // 8}[{kk}], {r % 8}u)"
//             else:
//                 # TM / 32 groups of 8 texels, in one band (bands are >= TM / 4 wide)
//                 for g in range(TM // 32):
//                     for kk in range(4):
//                         w(f"        let ag{g}_{kk} = textureLoad(ta, vec2<u32>(ax0 + {8 * g}u, ay0 + k4 * 4u + {kk}u));")
//                 a = lambda r, kk: f"subgroupBroadcast(ag{r // 32}_{kk}[{r % 4}], {r % 32 // 4}u)"
//             if lb == "n":
//                 for kk in range(4):
//                     w(f"        let b{kk} = textureLoad(tb, vec2<u32>(bx, by0 + k4 * 4u + {kk}u));")
//             else:
//                 for e in range(4):
//                     w(f"        let bt{e} = textureLoad(tb, vec2<u32>(k4, cb * 4u + {e}u));")
//                 for kk in range(4):
//                     w(f"        let b{kk} = vec4<f32>(bt0[{kk}], bt1[{kk}], bt2[{kk}], bt3[{kk}]);")
//             for r in range(TM):
//                 for kk in range(4):
//                     w(f"        acc{r} = fma(vec4<f32>({a(r, kk)}), b{kk}, acc{r});")
//             w("    }")
//             for r in range(TM):
//                 w(f"    {store}(rb + {r}u, cb, acc{r});")
//             w("}")
//             w("")
// w("// " + "\n// ".join(open(sys.argv[0]).read().rstrip("\n").split("\n")))
// print("\n".join(o))

// GEMM: C[M,N] = op(A) op(B) (+ bias[n] broadcast over rows) (+ C when
// accumulating). Host side: src/ops/gemm.rs, which picks one entry point:
//
// - `matmul_naive`: one invocation per C element, strided operands (any
//   transpose). Used for tiny products, where one dispatch is all the cost.
// - `matmul_tiled`: real GPUs. 64x64 block of C per 16x16 workgroup, 4x4 per
//   invocation, 16-deep K slices staged in workgroup memory; strided operands
//   so one entry covers NN, NT and TN. Zero-filled loads handle every edge.
// - `cpu_nn` (+ `pack`): CPU adapters (lavapipe/llvmpipe). There every
//   storage-buffer load is a scalar loop over the SIMD lanes (~20 cycles per
//   lane and component), workgroup memory costs the same plus barriers, and
//   arithmetic is nearly free, so the kernel minimises loaded values per FMA:
//   no workgroup memory, a 16x16 register tile per invocation (one
//   invocation = one SIMD lane), vec4 loads of A along K and of B along N
//   (32 vec4 loads per 1024 FMAs). It needs A as [M, K4] and B as [K, N4]
//   row-major with K4, N4 multiples of 4; `pack` produces those layouts
//   (transpose and/or zero padding) when the operands are not already so,
//   which costs one pass over the operand and is cheaper than a native NT/TN
//   kernel (measured; see src/ops/gemm.rs).
//
// - `cpu_ubo2` (CPU adapters without 8-wide subgroups; the default there is
//   shaders/gemm_tex.wgsl): as `cpu_nn`, but A comes from two 64 KiB
//   uniform-buffer windows bound per dispatch (`aw`, `aw2`), indexed from
//   workgroup_id only: llvmpipe loads a uniform buffer at a uniform offset
//   with one scalar load + broadcast, while storage loads stay per-lane
//   loops even at uniform indices inside a loop (measured: no gain). Only B
//   is a per-lane load, so the tile is tall: 32 rows x 8 columns per lane.
//
// `cpu_nn` and `cpu_ubo2` are unrolled; build.rs inserts them at their
// `// @generate` lines from build/gemm_gen.rs (the full source is
// OUT_DIR/gemm.wgsl).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    flags: u32,  // bit0: add bias, bit1: accumulate into C, bit2: ReLU last; `pack`: bit0 = transpose
    // matmul_naive / matmul_tiled: A(i,k) at i*s0 + k*s1, B(k,j) at k*s2 + j*s3.
    // cpu_nn: s0 = row stride of A in vec4s, s1 = row stride of B in vec4s.
    // pack: k = destination row length (floats).
    s0: u32,
    s1: u32,
    s2: u32,
    s3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
// vec4 views for cpu_nn (separate bindings so no entry point aliases one).
@group(0) @binding(5) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> b4: array<vec4<f32>>;

override WG: u32 = 8u;

// Final value of C(i, j) from the product sum `s`.
fn epilogue(i: u32, j: u32, s: f32) {
    var v = s;
    if ((p.flags & 1u) != 0u) { v += bias[j]; }
    if ((p.flags & 2u) != 0u) { v += c[i * p.n + j]; }
    if ((p.flags & 4u) != 0u) { v = max(v, 0.0); }
    c[i * p.n + j] = v;
}

// Store C(i, j..j+3) = v, skipping anything outside M x N.
fn store4(i: u32, j: u32, v: vec4<f32>) {
    if (i >= p.m) { return; }
    for (var e = 0u; e < 4u; e++) {
        if (j + e < p.n) { epilogue(i, j + e, v[e]); }
    }
}

@compute @workgroup_size(16, 16)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let i = gid.y;
    if (i >= p.m || j >= p.n) { return; }
    var s = 0.0;
    for (var k = 0u; k < p.k; k++) {
        s = fma(a[i * p.s0 + k * p.s1], b[k * p.s2 + j * p.s3], s);
    }
    epilogue(i, j, s);
}

// A slice [16 k][64 rows] and B slice [16 k][64 cols] of the current K step.
var<workgroup> tile_a: array<f32, 1024>;
var<workgroup> tile_b: array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn matmul_tiled(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let t = lid.y * 16u + lid.x;
    let i0 = wid.y * 64u;
    let j0 = wid.x * 64u;
    var acc: array<array<f32, 4>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += 16u) {
        for (var l = 0u; l < 4u; l++) {
            let e = t + l * 256u;
            // A: 16 consecutive k of one row per 16 invocations.
            let ai = i0 + e / 16u;
            let ak = k0 + e % 16u;
            var av = 0.0;
            if (ai < p.m && ak < p.k) { av = a[ai * p.s0 + ak * p.s1]; }
            tile_a[(e % 16u) * 64u + e / 16u] = av;
            // B: 64 consecutive columns of one k row per 64 invocations.
            let bk = k0 + e / 64u;
            let bj = j0 + e % 64u;
            var bv = 0.0;
            if (bk < p.k && bj < p.n) { bv = b[bk * p.s2 + bj * p.s3]; }
            tile_b[e] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk++) {
            var ar: array<f32, 4>;
            var br: array<f32, 4>;
            for (var r = 0u; r < 4u; r++) {
                ar[r] = tile_a[kk * 64u + lid.y * 4u + r];
                br[r] = tile_b[kk * 64u + lid.x * 4u + r];
            }
            for (var r = 0u; r < 4u; r++) {
                for (var q = 0u; q < 4u; q++) {
                    acc[r][q] = fma(ar[r], br[q], acc[r][q]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r++) {
        let i = i0 + lid.y * 4u + r;
        for (var q = 0u; q < 4u; q++) {
            let j = j0 + lid.x * 4u + q;
            if (i < p.m && j < p.n) { epilogue(i, j, acc[r][q]); }
        }
    }
}

// dst[r, col] (row length p.k >= p.n) = op(src)[r, col] for col < p.n, else 0,
// for r < p.m. op(src) is src [m, n], or the transpose of src [n, m] when
// flags bit0 is set. One invocation per destination element (1-D, folded).
@compute @workgroup_size(64)
fn pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * 64u;
    if (idx >= p.m * p.k) { return; }
    let r = idx / p.k;
    let col = idx % p.k;
    var v = 0.0;
    if (col < p.n) {
        if ((p.flags & 1u) != 0u) { v = a[col * p.m + r]; } else { v = a[r * p.n + col]; }
    }
    c[idx] = v;
}

// C = A B for A [M, K4] and B [K, N4] row-major (vec4 rows; see header).
// Generated by build/gemm_gen.rs: the lane's 16 x 16 tile is 64 named vec4
// accumulators, with their loads and FMAs written out one by one, because
// WGSL has no templates and llvmpipe keeps an array of accumulators in
// memory, not registers.
// @generate build/gemm_gen.rs cpu_nn

// 64 KiB uniform-buffer windows of A for `cpu_ubo2` (see the header).
@group(0) @binding(7) var<uniform> aw: array<vec4<f32>, 4096>;

// `cpu_ubo2`: 32 rows x 8 columns per lane from two A windows (rows
// p.s2.. in `aw`, rows p.s2 + p.s3.. in `aw2`): half the B loads per FMA.
@group(0) @binding(8) var<uniform> aw2: array<vec4<f32>, 4096>;

// Generated by build/gemm_gen.rs, unrolled as `cpu_nn` is (64 named vec4
// accumulators for the lane's 32 x 8 tile).
// @generate build/gemm_gen.rs cpu_ubo2

// Row and column reductions over a row-major [rows, cols] matrix.
// One thread per output element, or per (output, chunk) of at most `chunk`
// terms: llvmpipe ends any shader loop after 65,535 iterations
// (LP_MAX_TGSI_LOOP_ITERATIONS) and silently drops the rest, so the host
// caps `chunk` and sums the chunk partials in a second pass.

struct Params {
    rows: u32,
    cols: u32,
    scale: f32,
    chunk: u32, // terms per thread; >= 1
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var xt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<u32>;

// @include common/linear_tex.wgsl

const WG: u32 = 64u;

// out[r, j] = scale * sum over chunk j of row r (out is [rows, nch]; with
// one chunk, out[r] = scale * sum_c ld(xt, r, c))
@compute @workgroup_size(64)
fn sum_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * WG;
    let nch = max(1u, (p.cols + p.chunk - 1u) / p.chunk);
    if (e >= p.rows * nch) { return; }
    let base = (e / nch) * p.cols;
    let c0 = (e % nch) * p.chunk;
    let c1 = min(p.cols, c0 + p.chunk);
    var s = 0.0;
    for (var c = c0; c < c1; c++) { s += ld(xt, base + c); }
    out[e] = p.scale * s;
}

// out[j, c] = scale * sum over row chunk j of column c (out is [nch, cols];
// with one chunk, out[c] = scale * sum_r ld(xt, r, c): bias gradients)
@compute @workgroup_size(64)
fn sum_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * WG;
    let nch = max(1u, (p.rows + p.chunk - 1u) / p.chunk);
    if (e >= nch * p.cols) { return; }
    let c = e % p.cols;
    let r0 = (e / p.cols) * p.chunk;
    let r1 = min(p.rows, r0 + p.chunk);
    var s = 0.0;
    for (var r = r0; r < r1; r++) { s += ld(xt, r * p.cols + c); }
    out[e] = p.scale * s;
}

// out[r] = max_c ld(xt, r, c); idx[r] = first argmax
@compute @workgroup_size(64)
fn max_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * WG;
    if (r >= p.rows) { return; }
    let base = r * p.cols;
    var m = ld(xt, base);
    var k = 0u;
    for (var c = 1u; c < p.cols; c++) {
        let v = ld(xt, base + c);
        if (v > m) { m = v; k = c; }
    }
    out[r] = m;
    idx[r] = k;
}

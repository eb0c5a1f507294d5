// Row and column reductions over a row-major [rows, cols] matrix.
// One thread per output element: rows are short (classes, batch) in our use.

struct Params {
    rows: u32,
    cols: u32,
    scale: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var xt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<u32>;

// @include common/linear_tex.wgsl

const WG: u32 = 64u;

// out[r] = scale * sum_c ld(xt, r, c)
@compute @workgroup_size(64)
fn sum_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * WG;
    if (r >= p.rows) { return; }
    var s = 0.0;
    let base = r * p.cols;
    for (var c = 0u; c < p.cols; c++) { s += ld(xt, base + c); }
    out[r] = p.scale * s;
}

// out[c] = scale * sum_r ld(xt, r, c)  (bias gradients)
@compute @workgroup_size(64)
fn sum_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = gid.x + gid.y * nwg.x * WG;
    if (c >= p.cols) { return; }
    var s = 0.0;
    for (var r = 0u; r < p.rows; r++) { s += ld(xt, r * p.cols + c); }
    out[c] = p.scale * s;
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

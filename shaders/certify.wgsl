// Batched mixing method for bipartite certificate matrices (SPEC §6-7),
// P_k = [[0, B_k], [B_kᵀ, 0]], B_k = L_k W R, all pairs k sharing W (m×n):
// L_k = diag(a_k) (rows m) or [a_kᵀ; diag(a_k)] (rows 1+m, const row first),
// R = [diag(b), ...] (`copies` blocks of n columns).
// Factors of all pairs side by side: pair k owns columns k*r .. k*r+r-1 of
//   vl [rows, R] (left block), vr [copies*n, R] (right block), R = pairs*r.
// One sweep (the GEMMs between these kernels are ops::gemm):
//   right_sum     x[q, col]  = b[q] * sum_c vr[c*n + q, col]        [n, R]
//   (gemm)        y = W x                                            [m, R]
//   left_update   vl[off+i, k-cols] = normalize(a_k[i] * y[i, k-cols]);
//                 cl[k*rows + off + i] = the norm (= v·(B V_right) after the update)
//   left_const    (const row) vl[0, k-cols] = normalize(sum_i a_k[i] y[i, k-cols])
//   left_t        s[i, col] = a_k[i] * (vl[off+i, col] + (const ? vl[0, col] : 0))  [m, R]
//   (gemm)        z = Wᵀ s                                           [n, R]
//   right_update  vr[c*n + q, k-cols] = sign(b[q]) normalize(z[q, k-cols]) for every c
// A row whose update direction is 0 is kept.

struct Params {
    m: u32,
    n: u32,
    r: u32,
    pairs: u32,
    off: u32,     // 1 with a const row (L = [aᵀ; diag(a)]), else 0
    copies: u32,
    cols: u32,    // R = pairs * r
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;          // [pairs, m]
@group(0) @binding(2) var<storage, read> b: array<f32>;          // [n]
@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<storage, read_write> cl: array<f32>;   // [pairs, rows]

const WG: u32 = 64u;

fn lin(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// src = vr, dst = x
@compute @workgroup_size(64)
fn right_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = lin(gid, nwg);
    if (t >= p.n * p.cols) { return; }
    let q = t / p.cols;
    let col = t % p.cols;
    var s = 0.0;
    for (var c = 0u; c < p.copies; c++) {
        s += src[(c * p.n + q) * p.cols + col];
    }
    dst[t] = b[q] * s;
}

// src = y [m, R], dst = vl [rows, R]; one thread per (i, pair)
@compute @workgroup_size(64)
fn left_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = lin(gid, nwg);
    if (t >= p.m * p.pairs) { return; }
    let i = t / p.pairs;
    let k = t % p.pairs;
    let ai = a[k * p.m + i];
    let base = i * p.cols + k * p.r;
    var s = 0.0;
    for (var j = 0u; j < p.r; j++) {
        let g = ai * src[base + j];
        s += g * g;
    }
    let nrm = sqrt(s);
    cl[k * (p.m + p.off) + p.off + i] = nrm;
    if (nrm > 0.0) {
        let out = (p.off + i) * p.cols + k * p.r;
        for (var j = 0u; j < p.r; j++) {
            dst[out + j] = ai * src[base + j] / nrm;
        }
    }
}

// src = y [m, R], dst = vl [rows, R]; one thread per (pair, column j):
// writes the unnormalised const-row direction; left_const_norm normalises.
@compute @workgroup_size(64)
fn left_const(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = lin(gid, nwg);
    if (t >= p.cols) { return; }
    let k = t / p.r;
    var s = 0.0;
    for (var i = 0u; i < p.m; i++) {
        s += a[k * p.m + i] * src[i * p.cols + t];
    }
    dst[t] = s;
}

// dst = vl: normalise row 0's pair block in place; one thread per pair
@compute @workgroup_size(64)
fn left_const_norm(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let k = lin(gid, nwg);
    if (k >= p.pairs) { return; }
    var s = 0.0;
    for (var j = 0u; j < p.r; j++) {
        let g = dst[k * p.r + j];
        s += g * g;
    }
    let nrm = sqrt(s);
    cl[k * (p.m + p.off)] = nrm;
    if (nrm > 0.0) {
        for (var j = 0u; j < p.r; j++) {
            dst[k * p.r + j] = dst[k * p.r + j] / nrm;
        }
    } else {
        // keep a unit row: e_0
        for (var j = 0u; j < p.r; j++) {
            dst[k * p.r + j] = select(0.0, 1.0, j == 0u);
        }
    }
}

// src = vl [rows, R], dst = s [m, R]
@compute @workgroup_size(64)
fn left_t(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = lin(gid, nwg);
    if (t >= p.m * p.cols) { return; }
    let i = t / p.cols;
    let col = t % p.cols;
    let k = col / p.r;
    var v = src[(p.off + i) * p.cols + col];
    if (p.off == 1u) {
        v += src[col];
    }
    dst[t] = a[k * p.m + i] * v;
}

// src = z [n, R], dst = vr [copies*n, R]; one thread per (q, pair)
@compute @workgroup_size(64)
fn right_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = lin(gid, nwg);
    if (t >= p.n * p.pairs) { return; }
    let q = t / p.pairs;
    let k = t % p.pairs;
    let base = q * p.cols + k * p.r;
    var s = 0.0;
    for (var j = 0u; j < p.r; j++) {
        let g = src[base + j];
        s += g * g;
    }
    let nrm = sqrt(s);
    let bq = b[q];
    if (nrm > 0.0 && bq != 0.0) {
        let f = sign(bq) / nrm;
        for (var c = 0u; c < p.copies; c++) {
            let out = (c * p.n + q) * p.cols + k * p.r;
            for (var j = 0u; j < p.r; j++) {
                dst[out + j] = f * src[base + j];
            }
        }
    }
}

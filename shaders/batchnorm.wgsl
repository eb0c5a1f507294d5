// Batch normalisation over axis 1 of x viewed as [N, C, HW] (HW = 1 for
// BatchNorm1d on [N, F]), PyTorch semantics: biased batch variance for
// normalising, unbiased variance into running_var, eps inside the sqrt.
//
// Training forward and the backward pass run one workgroup per channel: one
// pass for the sums, a workgroup-memory tree reduction (two barriers per
// level; a handful of levels, cheap even on lavapipe), then the element-wise
// pass, so each is one dispatch.

struct Params {
    n: u32,
    c: u32,
    hw: u32,
    flags: u32, // train_forward: bit0 update running stats; backward: bit0 eval mode
    eps: f32,
    momentum: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// x and dy arrive as linear textures (see Gpu::dispatch_binds): on lavapipe
// a texel fetch costs a fraction of a storage-buffer load. (A variant with
// one texel per 4 elements when HW % 4 == 0 measured 25% slower.)
@group(0) @binding(1) var xt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var dyt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> mean_in: array<f32>;
@group(0) @binding(6) var<storage, read> scale_in: array<f32>; // invstd (train) or running var (eval)
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
@group(0) @binding(8) var<storage, read_write> stat_a: array<f32>; // mean | dgamma
@group(0) @binding(9) var<storage, read_write> stat_b: array<f32>; // invstd | dbeta
@group(0) @binding(10) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(11) var<storage, read_write> run_var: array<f32>;
@group(0) @binding(12) var<storage, read_write> out4: array<vec4<f32>>;

const WG: u32 = 256u;
var<workgroup> red_a: array<f32, 256>;
var<workgroup> red_b: array<f32, 256>;

// Workgroup sums of (a, b); every lane gets the result.
fn reduce2(a: f32, b: f32, lid: u32) -> vec2<f32> {
    red_a[lid] = a;
    red_b[lid] = b;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red_a[lid] += red_a[lid + s];
            red_b[lid] += red_b[lid + s];
        }
        workgroupBarrier();
    }
    let r = vec2<f32>(red_a[0], red_b[0]);
    workgroupBarrier();
    return r;
}

// @include common/linear_tex.wgsl

// A lane's walk over the elements e = lid, lid + WG, ... of one channel,
// as (n, i) = (e / HW, e % HW) advanced by adds: a division per element
// (a scalar loop on lavapipe) measured slower than the whole pass otherwise.
struct Walk {
    n: u32,
    i: u32,
    dn: u32, // WG / HW
    di: u32, // WG % HW
}

fn walk(lid: u32) -> Walk {
    return Walk(lid / p.hw, lid % p.hw, WG / p.hw, WG % p.hw);
}

fn step(w: ptr<function, Walk>) {
    (*w).n += (*w).dn;
    (*w).i += (*w).di;
    if ((*w).i >= p.hw) {
        (*w).i -= p.hw;
        (*w).n += 1u;
    }
}

// flat index of the walk's element in channel c
fn at(w: Walk, c: u32) -> u32 {
    return (w.n * p.c + c) * p.hw + w.i;
}

// One workgroup per channel: batch mean / invstd, running-stat update, y.
@compute @workgroup_size(256)
fn train_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let c = wid.x + wid.y * nwg.x;
    if (c >= p.c) { return; }
    let m = p.n * p.hw;
    // One pass for both moments, shifted by the channel's first element so
    // an offset mean does not cancel catastrophically in E[d²] - E[d]².
    let shift = ld(xt, c * p.hw);
    var s = 0.0;
    var q = 0.0;
    var w = walk(lid);
    for (var e = lid; e < m; e += WG) {
        let d = ld(xt, at(w, c)) - shift;
        s += d;
        q += d * d;
        step(&w);
    }
    let sums = reduce2(s, q, lid) / f32(m);
    let mean = shift + sums.x;
    let var_b = max(sums.y - sums.x * sums.x, 0.0);
    let invstd = inverseSqrt(var_b + p.eps);
    if (lid == 0u) {
        stat_a[c] = mean;
        stat_b[c] = invstd;
        if ((p.flags & 1u) != 0u) {
            let unbiased = var_b * f32(m) / f32(max(m, 2u) - 1u);
            run_mean[c] = (1.0 - p.momentum) * run_mean[c] + p.momentum * mean;
            run_var[c] = (1.0 - p.momentum) * run_var[c] + p.momentum * unbiased;
        }
    }
    let k = invstd * gamma[c];
    let b = beta[c];
    w = walk(lid);
    for (var e = lid; e < m; e += WG) {
        let i = at(w, c);
        out[i] = (ld(xt, i) - mean) * k + b;
        step(&w);
    }
}

// y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta, one thread per element.
@compute @workgroup_size(256)
fn eval_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.n * p.c * p.hw) { return; }
    let c = (i / p.hw) % p.c;
    out[i] = (ld(xt, i) - mean_in[c]) * inverseSqrt(scale_in[c] + p.eps) * gamma[c] + beta[c];
}

// eval_forward for HW % 4 == 0: 4 elements of one channel per thread, so
// the four per-channel values (storage loads, a per-lane loop each on
// llvmpipe) are read once per 4 elements, and one vec4 store.
@compute @workgroup_size(256)
fn eval_forward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i * 4u >= p.n * p.c * p.hw) { return; }
    let c = (i * 4u / p.hw) % p.c;
    let a = inverseSqrt(scale_in[c] + p.eps) * gamma[c];
    out4[i] = (ldt(xt, i) - mean_in[c]) * a + beta[c];
}

// One workgroup per channel: dgamma = sum dy*xhat, dbeta = sum dy, then
// train: dx = gamma*invstd * (dy - dbeta/M - xhat*dgamma/M)
// eval:  dx = gamma*invstd * dy   (statistics are constants)
@compute @workgroup_size(256)
fn backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let c = wid.x + wid.y * nwg.x;
    if (c >= p.c) { return; }
    let is_eval = (p.flags & 1u) != 0u;
    let m = p.n * p.hw;
    let mean = mean_in[c];
    let invstd = select(scale_in[c], inverseSqrt(scale_in[c] + p.eps), is_eval);
    var sg = 0.0;
    var sb = 0.0;
    var w = walk(lid);
    for (var e = lid; e < m; e += WG) {
        let i = at(w, c);
        let g = ld(dyt, i);
        sb += g;
        sg += g * (ld(xt, i) - mean) * invstd;
        step(&w);
    }
    let r = reduce2(sg, sb, lid);
    if (lid == 0u) {
        stat_a[c] = r.x;
        stat_b[c] = r.y;
    }
    let k = gamma[c] * invstd;
    let inv_m = 1.0 / f32(m);
    w = walk(lid);
    for (var e = lid; e < m; e += WG) {
        let i = at(w, c);
        if (is_eval) {
            out[i] = k * ld(dyt, i);
        } else {
            let xhat = (ld(xt, i) - mean) * invstd;
            out[i] = k * (ld(dyt, i) - r.y * inv_m - xhat * r.x * inv_m);
        }
        step(&w);
    }
}

// BatchNorm1d on [N, F] (HW = 1) with many features and a small batch (an
// input BatchNorm over 3,072 pixels): one *lane* per channel walking the N
// rows, so adjacent lanes read adjacent elements and no workgroup reduction
// or barrier runs. The one-workgroup-per-channel kernels above idle 192 of
// 256 lanes at N = 64 and measured 85 ms per call at F = 3072 on lavapipe.
@compute @workgroup_size(64)
fn train_forward_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = gid.x + gid.y * nwg.x * 64u;
    if (c >= p.c) { return; }
    let shift = ld(xt, c);
    var s = 0.0;
    var q = 0.0;
    for (var n = 0u; n < p.n; n++) {
        let d = ld(xt, n * p.c + c) - shift;
        s += d;
        q += d * d;
    }
    let inv_m = 1.0 / f32(p.n);
    let mean_d = s * inv_m;
    let mean = shift + mean_d;
    let var_b = max(q * inv_m - mean_d * mean_d, 0.0);
    let invstd = inverseSqrt(var_b + p.eps);
    stat_a[c] = mean;
    stat_b[c] = invstd;
    if ((p.flags & 1u) != 0u) {
        let unbiased = var_b * f32(p.n) / f32(max(p.n, 2u) - 1u);
        run_mean[c] = (1.0 - p.momentum) * run_mean[c] + p.momentum * mean;
        run_var[c] = (1.0 - p.momentum) * run_var[c] + p.momentum * unbiased;
    }
    let k = invstd * gamma[c];
    let b = beta[c];
    for (var n = 0u; n < p.n; n++) {
        let i = n * p.c + c;
        out[i] = (ld(xt, i) - mean) * k + b;
    }
}

// `backward` above for HW = 1 (the same gradients), one lane per channel.
@compute @workgroup_size(64)
fn backward_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = gid.x + gid.y * nwg.x * 64u;
    if (c >= p.c) { return; }
    let is_eval = (p.flags & 1u) != 0u;
    let mean = mean_in[c];
    let invstd = select(scale_in[c], inverseSqrt(scale_in[c] + p.eps), is_eval);
    var sg = 0.0;
    var sb = 0.0;
    for (var n = 0u; n < p.n; n++) {
        let i = n * p.c + c;
        let g = ld(dyt, i);
        sb += g;
        sg += g * (ld(xt, i) - mean) * invstd;
    }
    stat_a[c] = sg;
    stat_b[c] = sb;
    let k = gamma[c] * invstd;
    let inv_m = 1.0 / f32(p.n);
    for (var n = 0u; n < p.n; n++) {
        let i = n * p.c + c;
        if (is_eval) {
            out[i] = k * ld(dyt, i);
        } else {
            let xhat = (ld(xt, i) - mean) * invstd;
            out[i] = k * (ld(dyt, i) - sb * inv_m - xhat * sg * inv_m);
        }
    }
}

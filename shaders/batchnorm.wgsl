// Batch normalisation over axis 1 of x viewed as [N, C, HW] (HW = 1 for
// BatchNorm1d on [N, F]), PyTorch semantics: biased batch variance for
// normalising, unbiased variance into running_var, eps inside the sqrt.
//
// Training forward and the backward pass run one workgroup per channel: a
// workgroup-memory tree reduction (two barriers per level; a handful of
// levels, cheap even on lavapipe) followed by the element-wise pass, so each
// is one dispatch.

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
// x and dy are read from linear textures (flat element i in texel
// (i/4 % 4096, i/4 / 4096)): on lavapipe a texel fetch is several times
// cheaper than a storage-buffer load.
@group(0) @binding(1) var xt: texture_2d<f32>;
@group(0) @binding(2) var dyt: texture_2d<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> mean_in: array<f32>;
@group(0) @binding(6) var<storage, read> scale_in: array<f32>; // invstd (train) or running var (eval)
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
@group(0) @binding(8) var<storage, read_write> stat_a: array<f32>; // mean | dgamma
@group(0) @binding(9) var<storage, read_write> stat_b: array<f32>; // invstd | dbeta
@group(0) @binding(10) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(11) var<storage, read_write> run_var: array<f32>;

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

fn ld(t: texture_2d<f32>, i: u32) -> f32 {
    return textureLoad(t, vec2<u32>((i >> 2u) & 4095u, i >> 14u), 0)[i & 3u];
}

// flat index of the e-th element (e < N*HW) of channel c
fn at(e: u32, c: u32) -> u32 {
    let n = e / p.hw;
    let i = e - n * p.hw;
    return (n * p.c + c) * p.hw + i;
}

// Elements e..e+3 of channel c (e a multiple of 4; 0 past m = N*HW): one
// texel when HW % 4 == 0 (4 consecutive elements of one plane), else four.
fn ld4(t: texture_2d<f32>, e: u32, c: u32, m: u32) -> vec4<f32> {
    if (p.hw % 4u == 0u) {
        return textureLoad(t, vec2<u32>((at(e, c) >> 2u) & 4095u, at(e, c) >> 14u), 0);
    }
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        if (e + q < m) { v[q] = ld(t, at(e + q, c)); }
    }
    return v;
}

fn valid4(e: u32, m: u32) -> vec4<bool> {
    return vec4<u32>(e) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(m);
}

fn store4(e: u32, c: u32, m: u32, v: vec4<f32>) {
    if (p.hw % 4u == 0u) {
        let i = at(e, c);
        out[i] = v.x;
        out[i + 1u] = v.y;
        out[i + 2u] = v.z;
        out[i + 3u] = v.w;
        return;
    }
    for (var q = 0u; q < 4u; q++) {
        if (e + q < m) { out[at(e + q, c)] = v[q]; }
    }
}

// One workgroup per channel: batch mean / invstd, running-stat update, y.
// Each lane takes 4 elements at a time.
@compute @workgroup_size(256)
fn train_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let c = wid.x + wid.y * nwg.x;
    if (c >= p.c) { return; }
    let m = p.n * p.hw;
    var s = vec4<f32>(0.0);
    for (var e = lid * 4u; e < m; e += WG * 4u) { s += ld4(xt, e, c, m); }
    let mean = reduce2(s.x + s.y + s.z + s.w, 0.0, lid).x / f32(m);
    var q = vec4<f32>(0.0);
    for (var e = lid * 4u; e < m; e += WG * 4u) {
        let d = select(vec4<f32>(0.0), ld4(xt, e, c, m) - mean, valid4(e, m));
        q += d * d;
    }
    let var_b = reduce2(q.x + q.y + q.z + q.w, 0.0, lid).x / f32(m);
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
    for (var e = lid * 4u; e < m; e += WG * 4u) {
        store4(e, c, m, (ld4(xt, e, c, m) - mean) * k + b);
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
    var sg = vec4<f32>(0.0);
    var sb = vec4<f32>(0.0);
    for (var e = lid * 4u; e < m; e += WG * 4u) {
        // dy is 0 past m, so no mask is needed
        let g = ld4(dyt, e, c, m);
        sb += g;
        sg += g * (ld4(xt, e, c, m) - mean) * invstd;
    }
    let r = reduce2(sg.x + sg.y + sg.z + sg.w, sb.x + sb.y + sb.z + sb.w, lid);
    if (lid == 0u) {
        stat_a[c] = r.x;
        stat_b[c] = r.y;
    }
    let k = gamma[c] * invstd;
    let inv_m = 1.0 / f32(m);
    for (var e = lid * 4u; e < m; e += WG * 4u) {
        let g = ld4(dyt, e, c, m);
        if (is_eval) {
            store4(e, c, m, k * g);
        } else {
            let xhat = (ld4(xt, e, c, m) - mean) * invstd;
            store4(e, c, m, k * (g - r.y * inv_m - xhat * r.x * inv_m));
        }
    }
}

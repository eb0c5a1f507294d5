// Local response normalisation across channels (PyTorch
// nn.LocalResponseNorm(size, alpha, beta, k)) on x viewed as [N, C, HW]:
//   s_c = k + alpha/size * sum_{c' = c - size/2 .. c + (size-1)/2} x_{c'}^2
//   y_c = x_c * s_c^-beta
// (window centred, zero-padded at the channel edges). One thread per element.
// The window size is also the override constant SIZE (set by the host), so
// the window loops have a fixed trip count: loops whose bounds differ per
// lane run as divergent loops on llvmpipe, several times slower.

struct Params {
    n: u32,
    c: u32,
    hw: u32,
    size: u32,
    alpha: f32,
    beta: f32,
    k: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var xt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var dyt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var y_int: texture_storage_2d<rgba32float, read>;
@group(0) @binding(4) var s_int: texture_storage_2d<rgba32float, read>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> s_out: array<f32>;

// @include common/linear_tex.wgsl

override SIZE: u32 = 3u;

const WG: u32 = 256u;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// out = y, s_out = s (saved for backward)
@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = index(gid, nwg);
    if (e >= p.n * p.c * p.hw) { return; }
    let i = e % p.hw;
    let r = e / p.hw;
    let c = r % p.c;
    let base = (r - c) * p.hw + i; // element (n, 0, i)
    var sq = 0.0;
    for (var d = 0u; d < SIZE; d++) {
        // channel c - size/2 + d; one below 0 wraps and fails the bound
        let j = c + d - SIZE / 2u;
        if (j < p.c) {
            let v = ld(xt, base + j * p.hw);
            sq += v * v;
        }
    }
    let s = p.k + p.alpha / f32(p.size) * sq;
    s_out[e] = s;
    out[e] = ld(xt, e) * pow(s, -p.beta);
}

// dx_j = dy_j s_j^-beta - 2 alpha beta / size * x_j * sum_{c : j in window(c)} dy_c y_c / s_c
// where j in window(c)  <=>  j - (size-1)/2 <= c <= j + size/2.
@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = index(gid, nwg);
    if (e >= p.n * p.c * p.hw) { return; }
    let i = e % p.hw;
    let r = e / p.hw;
    let j = r % p.c;
    let base = (r - j) * p.hw + i;
    var acc = 0.0;
    for (var d = 0u; d < SIZE; d++) {
        // channel j - (size-1)/2 + d
        let c = j + d - (SIZE - 1u) / 2u;
        if (c < p.c) {
            let o = base + c * p.hw;
            acc += ld(dyt, o) * ld(y_int, o) / ld(s_int, o);
        }
    }
    out[e] = ld(dyt, e) * pow(ld(s_int, e), -p.beta) - 2.0 * p.alpha * p.beta / f32(p.size) * ld(xt, e) * acc;
}

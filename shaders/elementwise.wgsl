// Elementwise kernels, one thread per 4 elements: vec4 loads cut lavapipe's
// per-load cost 4x. Pooled buffers are padded to 256 bytes, so the last
// vec4 is in bounds; padding lanes compute values nobody reads. `mode` picks
// the function so the family costs one JIT compile per entry point.

struct Params {
    n: u32,
    mode: u32,
    a: f32,
    b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var xt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var yt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

// @include common/linear_tex.wgsl

const WG: u32 = 256u;

// Index of this thread's vec4, or n4 when out of range.
fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

fn n4() -> u32 {
    return (p.n + 3u) / 4u;
}

// out = f(x): 0 affine a*x+b, 1 relu, 2 sigmoid, 3 tanh, 4 sign, 5 clamp to [a,b],
// 6 abs, 7 square, 8 broadcast a*x[0]
@compute @workgroup_size(256)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= n4()) { return; }
    if (p.mode == 8u) {
        out[i] = vec4<f32>(p.a * ldt(xt, 0).x);
        return;
    }
    let v = ldt(xt, i);
    var r: vec4<f32>;
    switch p.mode {
        case 0u: { r = p.a * v + p.b; }
        case 1u: { r = max(v, vec4<f32>(0.0)); }
        case 2u: { r = 1.0 / (1.0 + exp(-v)); }
        case 3u: { r = tanh(v); }
        case 4u: { r = sign(v); }
        case 5u: { r = clamp(v, vec4<f32>(p.a), vec4<f32>(p.b)); }
        case 6u: { r = abs(v); }
        case 7u: { r = v * v; }
        default: { r = v; }
    }
    out[i] = r;
}

// out = dy * f'(.) where x is the forward input (relu) or output (sigmoid, tanh):
// 1 relu, 2 sigmoid, 3 tanh. y holds dy.
@compute @workgroup_size(256)
fn unary_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= n4()) { return; }
    let dy = ldt(yt, i);
    let v = ldt(xt, i);
    var r: vec4<f32>;
    switch p.mode {
        case 1u: { r = select(vec4<f32>(0.0), dy, v > vec4<f32>(0.0)); }
        case 2u: { r = dy * v * (1.0 - v); }
        case 3u: { r = dy * (1.0 - v * v); }
        default: { r = dy; }
    }
    out[i] = r;
}

// out = 0: a*x + b*y, 1: x*y, 2: max(x,y), 3: min(x,y)
@compute @workgroup_size(256)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= n4()) { return; }
    let u = ldt(xt, i);
    let v = ldt(yt, i);
    var r: vec4<f32>;
    switch p.mode {
        case 0u: { r = p.a * u + p.b * v; }
        case 1u: { r = u * v; }
        case 2u: { r = max(u, v); }
        default: { r = min(u, v); }
    }
    out[i] = r;
}

// out += a * x (gradient accumulation)
@compute @workgroup_size(256)
fn axpy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= n4()) { return; }
    out[i] = out[i] + p.a * ldt(xt, i);
}

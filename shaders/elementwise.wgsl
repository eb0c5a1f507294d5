// Elementwise kernels. `mode` picks the function so that the whole family
// costs one JIT compile per entry point (lavapipe JIT is 13-150 ms each).

struct Params {
    n: u32,
    mode: u32,
    a: f32,
    b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// out = f(x): 0 affine a*x+b, 1 relu, 2 sigmoid, 3 tanh, 4 sign, 5 clamp to [a,b],
// 6 abs, 7 square, 8 broadcast a*x[0]
@compute @workgroup_size(256)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    var v: f32;
    switch p.mode {
        case 0u: { v = p.a * x[i] + p.b; }
        case 1u: { v = max(x[i], 0.0); }
        case 2u: { v = 1.0 / (1.0 + exp(-x[i])); }
        case 3u: { v = tanh(x[i]); }
        case 4u: { v = sign(x[i]); }
        case 5u: { v = clamp(x[i], p.a, p.b); }
        case 6u: { v = abs(x[i]); }
        case 7u: { v = x[i] * x[i]; }
        case 8u: { v = p.a * x[0]; }
        default: { v = x[i]; }
    }
    out[i] = v;
}

// out = dy * f'(.) where x is the forward input (relu) or output (sigmoid, tanh):
// 1 relu, 2 sigmoid, 3 tanh. y holds dy.
@compute @workgroup_size(256)
fn unary_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    let dy = y[i];
    var v: f32;
    switch p.mode {
        case 1u: { v = select(0.0, dy, x[i] > 0.0); }
        case 2u: { v = dy * x[i] * (1.0 - x[i]); }
        case 3u: { v = dy * (1.0 - x[i] * x[i]); }
        default: { v = dy; }
    }
    out[i] = v;
}

// out = 0: a*x + b*y, 1: x*y, 2: max(x,y), 3: min(x,y)
@compute @workgroup_size(256)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    var v: f32;
    switch p.mode {
        case 0u: { v = p.a * x[i] + p.b * y[i]; }
        case 1u: { v = x[i] * y[i]; }
        case 2u: { v = max(x[i], y[i]); }
        default: { v = min(x[i], y[i]); }
    }
    out[i] = v;
}

// out += a * x (gradient accumulation, SGD-free updates)
@compute @workgroup_size(256)
fn axpy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = out[i] + p.a * x[i];
}

// Optimiser updates, one thread per 4 parameters. Operands are read
// (except by `sgd_small`) from a linear texture copy (see
// Gpu::dispatch_binds; w, m and v are bound twice: a texture to read, a
// storage buffer to write): on lavapipe a
// storage load is a per-lane loop, a texel fetch a few cycles. Pooled
// buffers are padded to 256 bytes, so the last vec4 is always in bounds;
// padding lanes compute garbage that nobody reads.

struct Params {
    n: u32,
    _pad: u32,
    lr: f32,
    momentum: f32,   // SGD momentum, or Adam beta1
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    bc1: f32,        // Adam bias corrections 1 - beta^t
    bc2: f32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<vec4<f32>>;
@group(0) @binding(2) var gt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4<f32>>;

@group(0) @binding(5) var wt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(6) var mt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(7) var vt: texture_storage_2d<rgba32float, read>;
// the gradient as a buffer (`sgd_small`)
@group(0) @binding(8) var<storage, read> gb: array<vec4<f32>>;

// @include common/linear_tex.wgsl

const WG: u32 = 256u;

// PyTorch SGD: d = g + wd*w; m = momentum*m + d; w -= lr*m
@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= (p.n + 3u) / 4u) { return; }
    let wi = ldt(wt, i);
    let d = ldt(gt, i) + p.weight_decay * wi;
    let mi = p.momentum * ldt(mt, i) + d;
    m[i] = mi;
    w[i] = wi - p.lr * mi;
}

// `sgd` for small tensors, reading w, g and m straight from their buffers:
// below a few thousand vec4s the three texture copies (each about as dear
// as a dispatch on lavapipe) cost more than the slow storage loads.
@compute @workgroup_size(256)
fn sgd_small(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= (p.n + 3u) / 4u) { return; }
    let wi = w[i];
    let d = gb[i] + p.weight_decay * wi;
    let mi = p.momentum * m[i] + d;
    m[i] = mi;
    w[i] = wi - p.lr * mi;
}

// PyTorch Adam (L2 weight decay added to the gradient).
@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= (p.n + 3u) / 4u) { return; }
    let wi = ldt(wt, i);
    let d = ldt(gt, i) + p.weight_decay * wi;
    let mi = p.momentum * ldt(mt, i) + (1.0 - p.momentum) * d;
    let vi = p.beta2 * ldt(vt, i) + (1.0 - p.beta2) * d * d;
    m[i] = mi;
    v[i] = vi;
    let mhat = mi / p.bc1;
    let vhat = vi / p.bc2;
    w[i] = wi - p.lr * mhat / (sqrt(vhat) + p.eps);
}

// Softmax cross-entropy over rows of logits [B, K] with integer labels.
// forward: loss[b] = logsumexp(z_b) - z_b[y_b], probs = softmax(z)
// backward: dz[b, k] = dloss[b] * (probs[b, k] - [k == y_b])

struct Params {
    batch: u32,
    classes: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
@group(0) @binding(5) var<storage, read> dloss: array<f32>;
@group(0) @binding(6) var<storage, read_write> dz: array<f32>;

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = gid.x + gid.y * nwg.x * 64u;
    if (b >= p.batch) { return; }
    let base = b * p.classes;
    var m = z[base];
    for (var k = 1u; k < p.classes; k++) { m = max(m, z[base + k]); }
    var s = 0.0;
    for (var k = 0u; k < p.classes; k++) {
        let e = exp(z[base + k] - m);
        probs[base + k] = e;
        s += e;
    }
    let inv = 1.0 / s;
    for (var k = 0u; k < p.classes; k++) { probs[base + k] *= inv; }
    loss[b] = m + log(s) - z[base + labels[b]];
}

@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= p.batch * p.classes) { return; }
    let b = i / p.classes;
    let k = i % p.classes;
    let onehot = select(0.0, 1.0, k == labels[b]);
    dz[i] = dloss[b] * (probs[i] - onehot);
}

@group(0) @binding(7) var<storage, read_write> acc: array<f32>;

// acc[0] += number of rows whose first argmax equals the label. One thread:
// batches are small and this avoids float atomics.
@compute @workgroup_size(1)
fn count_correct() {
    var n = 0.0;
    for (var b = 0u; b < p.batch; b++) {
        let base = b * p.classes;
        var best = 0u;
        for (var k = 1u; k < p.classes; k++) {
            if (z[base + k] > z[base + best]) { best = k; }
        }
        if (best == labels[b]) { n += 1.0; }
    }
    acc[0] += n;
}

// Soft-target cross-entropy against a probability (or any non-negative
// weight) matrix q [B, K]:
// forward_soft: loss[b] = -Σ_k q[b,k] log softmax(z_b)_k
//                       = (Σ_k q[b,k]) logsumexp(z_b) - Σ_k q[b,k] z[b,k]
//               probs = softmax(z)
// backward_soft: dz[b,k] = dloss[b] * ((Σ_j q[b,j]) probs[b,k] - q[b,k])
@group(0) @binding(8) var<storage, read> q: array<f32>;

@compute @workgroup_size(64)
fn forward_soft(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = gid.x + gid.y * nwg.x * 64u;
    if (b >= p.batch) { return; }
    let base = b * p.classes;
    var m = z[base];
    for (var k = 1u; k < p.classes; k++) { m = max(m, z[base + k]); }
    var s = 0.0;
    for (var k = 0u; k < p.classes; k++) {
        let e = exp(z[base + k] - m);
        probs[base + k] = e;
        s += e;
    }
    let inv = 1.0 / s;
    let lse = m + log(s);
    var l = 0.0;
    for (var k = 0u; k < p.classes; k++) {
        probs[base + k] *= inv;
        l += q[base + k] * (lse - z[base + k]);
    }
    loss[b] = l;
}

@compute @workgroup_size(64)
fn backward_soft(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= p.batch * p.classes) { return; }
    let b = i / p.classes;
    let base = b * p.classes;
    var mass = 0.0;
    for (var k = 0u; k < p.classes; k++) { mass += q[base + k]; }
    dz[i] = dloss[b] * (mass * probs[i] - q[i]);
}

// C[M,N] = alpha * op(A) op(B) + beta * C (+ bias[n] when HAS_BIAS)
// Baseline: one thread per output element, strided operands so one entry
// covers the NN, NT and TN variants. (Tuned kernels replace this.)

struct Params {
    m: u32,
    n: u32,
    k: u32,
    flags: u32,      // bit0: add bias, bit1: accumulate into C (beta = 1)
    a_si: u32,       // A element (i, k) at i*a_si + k*a_sk
    a_sk: u32,
    b_sk: u32,       // B element (k, j) at k*b_sk + j*b_sj
    b_sj: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(16, 16)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let i = gid.y;
    if (i >= p.m || j >= p.n) { return; }
    var s = 0.0;
    for (var k = 0u; k < p.k; k++) {
        s += a[i * p.a_si + k * p.a_sk] * b[k * p.b_sk + j * p.b_sj];
    }
    if ((p.flags & 1u) != 0u) { s += bias[j]; }
    if ((p.flags & 2u) != 0u) { s += c[i * p.n + j]; }
    c[i * p.n + j] = s;
}

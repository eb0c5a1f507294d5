// Inverted dropout with a counter-based RNG: element i of a call with seed s
// is kept iff hash(s, i) / 2^32 >= p, so the same seed gives the same mask on
// every adapter and no RNG state lives on the GPU. mask = keep / (1 - p).

struct Params {
    n: u32,
    seed_lo: u32,
    seed_hi: u32,
    threshold: u32, // keep iff hash >= threshold (= p * 2^32, saturated)
    scale: f32,     // 1 / (1 - p)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var xt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;

// @include common/linear_tex.wgsl

const WG: u32 = 256u;

// PCG output permutation (O'Neill), a good 32-bit integer hash.
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn hash(i: u32) -> u32 {
    return pcg(i ^ pcg(p.seed_lo ^ pcg(p.seed_hi)));
}

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.n) { return; }
    let m = select(0.0, p.scale, hash(i) >= p.threshold);
    mask[i] = m;
    out[i] = ld(xt, i) * m;
}

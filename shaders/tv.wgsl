// stAdv flow loss (SPEC §4), flow [N,2,H,W], two reference versions:
//   per pixel (v0.2, default):
//     L_flow[n] = sum_p sum_{s in S} sqrt((r0[p]-r0[p+s])^2 + (r1[p]-r1[p+s])^2 + eps)
//   per shift (v0.1, the code at the thesis' time):
//     L_flow[n] = sum_{s in S} sqrt(Q_s + eps),  Q_s = sum_p |r[p] - r[p+s]|^2
// S = diag4 {(±1,±1)} or cross4 {(±1,0),(0,±1)}; outside the image the
// neighbour flow is 0 (constant padding) or the nearest edge pixel's
// (symmetric padding with a 1-pixel pad = edge replicate).
//
// rows     one thread per (image, row): the row's partial sum (per pixel),
//          or its 4 partial Q_s (per shift, out[(n*4 + s)*H + row]); the
//          host sums the H partials with reduce::sum_rows (deterministic).
// combine  per shift only, one thread per image: sum_s sqrt(Q_s + eps).
// grad     one thread per (image, pixel): d L / d r[p] = g[n] * sum over
//          every term touching p of (r[p] - r[other]) / d, d = the term's
//          square root (per pixel) or sqrt(Q_s + eps) (per shift),
//          gathered (each pixel finds the terms whose neighbour it is), so
//          no scatter; optionally added to what out holds (saves a
//          separate add). A term with d == 0 contributes 0.

struct Params {
    n: u32,
    h: u32,
    w: u32,
    mode: u32,  // bit 0: cross4 (else diag4); bit 1: symmetric padding (else
                // constant); bit 2 (grad): accumulate into out; bit 3: per shift
    eps: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> flow: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> qs: array<f32>;  // Q_s per image, [N, 4]

const WG: u32 = 64u;

// offset k of S as (row, column)
fn offset(k: u32) -> vec2<i32> {
    let sgn = 1 - 2 * i32(k & 1u);
    if ((p.mode & 1u) != 0u) {
        // cross4: (1,0) (-1,0) (0,1) (0,-1)
        return select(vec2<i32>(0, sgn), vec2<i32>(sgn, 0), k < 2u);
    }
    // diag4: (1,1) (1,-1) (-1,1) (-1,-1)
    return vec2<i32>(1 - 2 * i32(k >> 1u), sgn);
}

fn symmetric() -> bool {
    return (p.mode & 2u) != 0u;
}

fn per_shift() -> bool {
    return (p.mode & 8u) != 0u;
}

fn inside(q: vec2<i32>) -> bool {
    return q.x >= 0 && q.y >= 0 && q.x < i32(p.h) && q.y < i32(p.w);
}

// (r0, r1) at pixel q (row q.x, column q.y) of the image whose flow starts at base
fn load(base: u32, q: vec2<i32>) -> vec2<f32> {
    let k = u32(q.x) * p.w + u32(q.y);
    return vec2<f32>(flow[base + k], flow[base + p.h * p.w + k]);
}

// The neighbour's flow under the padding rule. Branch-free: always one
// (clamped, in-bounds) load, zeroed outside the image under constant padding.
fn neighbour(base: u32, q: vec2<i32>) -> vec2<f32> {
    let v = load(base, clamp(q, vec2<i32>(0), vec2<i32>(i32(p.h) - 1, i32(p.w) - 1)));
    return select(v, vec2<f32>(0.0), !inside(q) && !symmetric());
}

// d/d a of sqrt(|a - b|^2 + eps), 0 where the root is 0
fn dterm(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let d = a - b;
    let r = sqrt(dot(d, d) + p.eps);
    return select(vec2<f32>(0.0), d / r, r > 0.0);
}

@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * WG;
    if (t >= p.n * p.h) { return; }
    let n = t / p.h;
    let i = i32(t - n * p.h);
    let base = n * 2u * p.h * p.w;
    let ps = per_shift();
    var s = 0.0;
    var q4 = vec4<f32>(0.0);
    for (var j = 0; j < i32(p.w); j++) {
        let q = vec2<i32>(i, j);
        let r = load(base, q);
        for (var k = 0u; k < 4u; k++) {
            let d = r - neighbour(base, q + offset(k));
            let dd = dot(d, d);
            s += sqrt(dd + p.eps);
            q4[k] += dd;
        }
    }
    if (ps) {
        for (var k = 0u; k < 4u; k++) {
            out[(n * 4u + k) * p.h + u32(i)] = q4[k];
        }
    } else {
        out[t] = s;
    }
}

@compute @workgroup_size(64)
fn combine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = gid.x + gid.y * nwg.x * WG;
    if (n >= p.n) { return; }
    let q = vec4<f32>(qs[4u * n], qs[4u * n + 1u], qs[4u * n + 2u], qs[4u * n + 3u]);
    let r = sqrt(q + vec4<f32>(p.eps));
    out[n] = r.x + r.y + r.z + r.w;
}

// d/d a of the term linking a and b: (a - b) / sqrt(|a - b|^2 + eps) per
// pixel, (a - b) * w (w = 1 / sqrt(Q_s + eps)) per shift
fn tgrad(a: vec2<f32>, b: vec2<f32>, w: f32) -> vec2<f32> {
    if (per_shift()) { return (a - b) * w; }
    return dterm(a, b);
}

@compute @workgroup_size(64)
fn grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * WG;
    let hw = p.h * p.w;
    if (t >= p.n * hw) { return; }
    let n = t / hw;
    let pix = t - n * hw;
    let q = vec2<i32>(i32(pix / p.w), i32(pix % p.w));
    let base = n * 2u * hw;
    let r = load(base, q);
    let hmax = vec2<i32>(i32(p.h) - 1, i32(p.w) - 1);
    let sym = symmetric();
    let ps = per_shift();
    var acc = vec2<f32>(0.0);
    for (var k = 0u; k < 4u; k++) {
        let s = offset(k);
        let e = q + s;
        let ins = inside(e);
        var w = 0.0;
        if (ps) {
            let d = sqrt(qs[4u * n + k] + p.eps);
            w = select(0.0, 1.0 / d, d > 0.0);
            // term (q, s), and term (q - s, s) whose neighbour is q
            acc += w * (r - neighbour(base, e));
            let a = q - s;
            if (inside(a)) {
                acc += w * (r - load(base, a));
            }
        } else {
            // Term (q, s). S is symmetric (-s is in S), so when q + s is
            // inside, the term (q + s, -s) links the same two pixels with
            // the same root: weight 2.
            acc += select(1.0, 2.0, ins) * dterm(r, neighbour(base, e));
        }
        // Symmetric padding: terms (o, s), o != q, whose neighbour o + s
        // falls off an edge and is clamped onto q. Per axis o takes q - s
        // on one axis and q on the axis where q + s is off the edge.
        if (sym && !ins) {
            let off = (e < vec2<i32>(0)) | (e > hmax);
            let a = q - s;
            let ina = (a >= vec2<i32>(0)) & (a <= hmax);
            if (off.y && s.x != 0 && ina.x) {
                acc += tgrad(r, load(base, vec2<i32>(a.x, q.y)), w);
            }
            if (off.x && s.y != 0 && ina.y) {
                acc += tgrad(r, load(base, vec2<i32>(q.x, a.y)), w);
            }
        }
    }
    let gn = g[n];
    let i0 = base + pix;
    let prev = select(vec2<f32>(0.0), vec2<f32>(out[i0], out[i0 + hw]), (p.mode & 4u) != 0u);
    out[i0] = prev.x + gn * acc.x;
    out[i0 + hw] = prev.y + gn * acc.y;
}

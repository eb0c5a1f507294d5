// 2-D max and average pooling over NCHW planes, any kernel, stride and zero
// padding (overlapping windows included), forward and backward. `mode`
// picks max or average at run time; the window shape is an override
// constant, so each distinct window costs one JIT compile per direction.
//
// Max pooling records the argmax as an index into the input plane
// (ih * W + iw, as PyTorch's return_indices). Padding never wins a max.
// Backward is a gather over input positions (no atomics): each input
// element sums dy over the windows that contain it.

struct Params {
    planes: u32, // N * C
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    mode: u32,   // 0 max, 1 avg (count_include_pad), 2 avg (exclude pad)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var xt: texture_storage_2d<rgba32float, read>;
// argmax indices are stored as f32 (exact below 2^24) so they can be read
// as a texture too
@group(0) @binding(2) var idx_int: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> idx_out: array<f32>;
// dx as vec4s (backward)
@group(0) @binding(5) var<storage, read_write> out4: array<vec4<f32>>;

// @include common/linear_tex.wgsl

const WG: u32 = 64u;
const LANE4: vec4<u32> = vec4<u32>(0u, 1u, 2u, 3u);

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Number of in-bounds elements of window (oh, ow), or kh*kw with padding.
fn divisor(oh: u32, ow: u32) -> f32 {
    if (p.mode == 1u) { return f32(p.kh * p.kw); }
    let h0 = i32(oh * p.sh) - i32(p.ph);
    let w0 = i32(ow * p.sw) - i32(p.pw);
    let h1 = min(h0 + i32(p.kh), i32(p.h));
    let w1 = min(w0 + i32(p.kw), i32(p.w));
    return f32(max(h1 - max(h0, 0), 0) * max(w1 - max(w0, 0), 0));
}

// The window, kh x kw, as constants (set by the host per layer) so the
// loops below have fixed trip counts: llvmpipe runs loops whose bounds
// differ per lane as divergent loops, several times slower.
override KH: u32 = 3u;
override KW: u32 = 3u;

// x: input [planes, h, w] -> out [planes, oh, ow] (+ idx_out for max)
@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.planes * p.oh * p.ow) { return; }
    let ow = e % p.ow;
    let r = e / p.ow;
    let oh = r % p.oh;
    let plane = r / p.oh;
    let base = plane * p.h * p.w;
    let h0 = i32(oh * p.sh) - i32(p.ph);
    let w0 = i32(ow * p.sw) - i32(p.pw);
    var best = -3.4028235e38;
    var arg = 0u;
    var first = true;
    var s = 0.0;
    for (var dh = 0u; dh < KH; dh++) {
        // a row above the input wraps and fails the bound
        let ih = u32(h0 + i32(dh));
        for (var dw = 0u; dw < KW; dw++) {
            let iw = u32(w0 + i32(dw));
            if (ih < p.h && iw < p.w) {
                let v = ld(xt, base + ih * p.w + iw);
                if (p.mode == 0u) {
                    // first maximum wins; a NaN wins (as in PyTorch)
                    if (first || v > best || v != v) {
                        best = v;
                        arg = ih * p.w + iw;
                    }
                    first = false;
                } else {
                    s += v;
                }
            }
        }
    }
    if (p.mode == 0u) {
        out[e] = best;
        idx_out[e] = f32(arg);
    } else {
        out[e] = s / divisor(oh, ow);
    }
}

// Backward: an input element (ih, iw) lies in the windows oh with
// oh*sh <= ih + ph < oh*sh + kh, at most NWH = ceil(kh / sh) of them, the
// last being oh = (ih + ph) / sh (likewise for w). The loops run over those
// NWH x NWW candidates: constant trip counts after specialisation, where
// per-lane bounds made llvmpipe run divergent loops (backward 16 -> ~5 ms on
// alexnet-cifar's pools). The host sets NWH, NWW per layer.
override NWH: u32 = 2u;
override NWW: u32 = 2u;

// An invocation's position, walked element by element without divisions:
// hh = ih + ph, qh = hh / sh, rh = hh % sh (the same for w).
struct Pos {
    plane: u32,
    ih: u32,
    hh: u32,
    qh: u32,
    rh: u32,
    iw: u32,
    ww: u32,
    qw: u32,
    rw: u32,
}

fn pos_at(e: u32) -> Pos {
    let iw = e % p.w;
    let r = e / p.w;
    let ih = r % p.h;
    let hh = ih + p.ph;
    let ww = iw + p.pw;
    return Pos(r / p.h, ih, hh, hh / p.sh, hh % p.sh, iw, ww, ww / p.sw, ww % p.sw);
}

fn advance(q: ptr<function, Pos>) {
    (*q).iw += 1u;
    (*q).ww += 1u;
    (*q).rw += 1u;
    if ((*q).rw == p.sw) {
        (*q).rw = 0u;
        (*q).qw += 1u;
    }
    if ((*q).iw == p.w) {
        (*q).iw = 0u;
        (*q).ww = p.pw;
        (*q).qw = p.pw / p.sw;
        (*q).rw = p.pw % p.sw;
        (*q).ih += 1u;
        (*q).hh += 1u;
        (*q).rh += 1u;
        if ((*q).rh == p.sh) {
            (*q).rh = 0u;
            (*q).qh += 1u;
        }
        if ((*q).ih == p.h) {
            (*q).ih = 0u;
            (*q).hh = p.ph;
            (*q).qh = p.ph / p.sh;
            (*q).rh = p.ph % p.sh;
            (*q).plane += 1u;
        }
    }
}

// dx at q: the sum of dy over the windows that contain it (for max, only
// those whose argmax it is).
fn grad_at(q: Pos) -> f32 {
    let here = q.ih * p.w + q.iw;
    let base = q.plane * p.oh * p.ow;
    var s = 0.0;
    for (var a = 0u; a < NWH; a++) {
        // oh = qh - a; a negative one wraps and fails `oh < p.oh`
        let oh = q.qh - a;
        let in_h = oh < p.oh && oh * p.sh + p.kh > q.hh;
        for (var b = 0u; b < NWW; b++) {
            let ow = q.qw - b;
            if (in_h && ow < p.ow && ow * p.sw + p.kw > q.ww) {
                let o = base + oh * p.ow + ow;
                if (p.mode == 0u) {
                    if (u32(ld(idx_int, o)) == here) { s += ld(xt, o); }
                } else {
                    s += ld(xt, o) / divisor(oh, ow);
                }
            }
        }
    }
    return s;
}

// out4 = dx [planes, h, w] from x = dy [planes, oh, ow] (and idx_in for
// max), a gather over input positions. Each invocation writes 4
// consecutive elements as one vec4 (zeros past the end, inside the
// buffer's 256-byte rounding): a quarter of the per-lane storage stores.
@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear(gid, nwg);
    let total = p.planes * p.h * p.w;
    let e0 = t * 4u;
    if (e0 >= total) { return; }
    var q = pos_at(e0);
    var v = vec4<f32>();
    v.x = grad_at(q);
    advance(&q);
    if (e0 + 1u < total) { v.y = grad_at(q); }
    advance(&q);
    if (e0 + 2u < total) { v.z = grad_at(q); }
    advance(&q);
    if (e0 + 3u < total) { v.w = grad_at(q); }
    out4[t] = v;
}

// `backward` for planes whose width is a multiple of 4, so an invocation's 4
// elements lie in one input row: the windows that touch any of them are
// loaded once for all 4 (NWH x NVW of them, NVW = (kw + 2) / sw + 1 along
// the row) instead of once per element. alexnet-cifar's 3x3 stride-2 max
// pool: 6 window loads per 4 elements instead of 16.
override NVW: u32 = 3u;

@compute @workgroup_size(64)
fn backward_row4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear(gid, nwg);
    let e0 = t * 4u;
    if (e0 >= p.planes * p.h * p.w) { return; }
    let iw0 = e0 % p.w;
    let r = e0 / p.w;
    let ih = r % p.h;
    let plane = r / p.h;
    let hh = ih + p.ph;
    // padded columns of the 4 elements, and their in-plane indices
    let ww = vec4<u32>(iw0 + p.pw) + LANE4;
    let here = vec4<u32>(ih * p.w + iw0) + LANE4;
    // the last window along w that can hold element 3; the NVW windows
    // before it cover the other elements (earlier ones wrap past p.ow)
    let qw = (iw0 + p.pw + 3u) / p.sw;
    let base = plane * p.oh * p.ow;
    var v = vec4<f32>();
    for (var a = 0u; a < NWH; a++) {
        let oh = hh / p.sh - a;
        if (oh < p.oh && oh * p.sh + p.kh > hh) {
            for (var b = 0u; b < NVW; b++) {
                let ow = qw - b;
                if (ow < p.ow) {
                    let o = base + oh * p.ow + ow;
                    let lo = ow * p.sw;
                    let inside = (ww >= vec4<u32>(lo)) & (ww < vec4<u32>(lo + p.kw));
                    if (p.mode == 0u) {
                        let won = inside & (here == vec4<u32>(u32(ld(idx_int, o))));
                        v += select(vec4<f32>(0.0), vec4<f32>(ld(xt, o)), won);
                    } else {
                        v += select(vec4<f32>(0.0), vec4<f32>(ld(xt, o) / divisor(oh, ow)), inside);
                    }
                }
            }
        }
    }
    out4[t] = v;
}

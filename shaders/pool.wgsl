// 2-D max and average pooling over NCHW planes, any kernel, stride and zero
// padding (overlapping windows included), forward and backward. `mode`
// picks max (0) or average (1) so the family costs two JIT compiles.
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

// Tensors bound to read-only storage-texture bindings arrive as linear
// textures (see
// Gpu::dispatch_binds): flat element i at texel ((i/4) % 4096, (i/4) / 4096).
// On lavapipe a texel fetch costs a fraction of a storage-buffer load, and a
// storage-texture load skips the per-lane mip-level lookups of a sampled
// texture's.
fn ld(t: texture_storage_2d<rgba32float, read>, i: u32) -> f32 {
    return textureLoad(t, vec2<u32>((i >> 2u) & 4095u, i >> 14u))[i & 3u];
}

const WG: u32 = 64u;

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
    let ha = u32(max(h0, 0));
    let hb = u32(min(h0 + i32(p.kh), i32(p.h)));
    let wa = u32(max(w0, 0));
    let wb = u32(min(w0 + i32(p.kw), i32(p.w)));
    if (p.mode == 0u) {
        var best = -3.4028235e38;
        var arg = ha * p.w + wa;
        var first = true;
        for (var ih = ha; ih < hb; ih++) {
            for (var iw = wa; iw < wb; iw++) {
                let v = ld(xt, base + ih * p.w + iw);
                // first maximum wins; a NaN wins (as in PyTorch)
                if (first || v > best || v != v) {
                    best = v;
                    arg = ih * p.w + iw;
                }
                first = false;
            }
        }
        out[e] = best;
        idx_out[e] = f32(arg);
    } else {
        var s = 0.0;
        for (var ih = ha; ih < hb; ih++) {
            for (var iw = wa; iw < wb; iw++) {
                s += ld(xt, base + ih * p.w + iw);
            }
        }
        out[e] = s / divisor(oh, ow);
    }
}

// out = dx [planes, h, w] from x = dy [planes, oh, ow] (and idx_in for max).
@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.planes * p.h * p.w) { return; }
    let iw = e % p.w;
    let r = e / p.w;
    let ih = r % p.h;
    let plane = r / p.h;
    let here = ih * p.w + iw;
    // windows (oh, ow) with oh*sh - ph <= ih < oh*sh - ph + kh
    let hh = i32(ih + p.ph);
    let ww = i32(iw + p.pw);
    let oha = u32(max(hh - i32(p.kh) + i32(p.sh), 0)) / p.sh; // ceil((hh-kh+1)/sh)
    let ohb = min(u32(hh) / p.sh + 1u, p.oh);
    let owa = u32(max(ww - i32(p.kw) + i32(p.sw), 0)) / p.sw;
    let owb = min(u32(ww) / p.sw + 1u, p.ow);
    let base = plane * p.oh * p.ow;
    var s = 0.0;
    for (var oh = oha; oh < ohb; oh++) {
        for (var ow = owa; ow < owb; ow++) {
            let o = base + oh * p.ow + ow;
            if (p.mode == 0u) {
                if (u32(ld(idx_int, o)) == here) { s += ld(xt, o); }
            } else {
                s += ld(xt, o) / divisor(oh, ow);
            }
        }
    }
    out[e] = s;
}

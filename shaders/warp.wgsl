// Bilinear flow warp (stAdv, SPEC §4), images [N,C,H,W], flow [N,2,H,W]:
// flow channel 0 is the vertical (row) shift, channel 1 the horizontal one.
// Output pixel (i,j) samples the input at the clamped location
// (clamp(i + r0, 0, H-1), clamp(j + r1, 0, W-1)) from the cell whose top-left
// corner is (min(floor(sy), H-2), min(floor(sx), W-2)). Requires H, W >= 2.
//
// forward    one thread per (image, pixel): the sampling cell is computed
//            once and reused for every channel.
// grad_flow  same threads: d out / d flow is block-diagonal (each output
//            pixel depends only on its own flow vector), so no scatter.
// extent     one thread per image: R = ceil(max |r|) per flow channel.
// grad_image the adjoint of the sampling is a scatter; it is done as a
//            deterministic gather instead (no float atomics). An output
//            pixel (i,j) touches input rows within R0+1 of i and columns
//            within R1+1 of j (clamping only moves samples towards the
//            pixel), so each input pixel scans that window, recomputes the
//            cells of the output pixels there and sums its weights. One
//            thread per (image, group of 4 channels, pixel).

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> img: array<f32>;
@group(0) @binding(2) var<storage, read> flow: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> ext: array<u32>;

const WG: u32 = 64u;

struct Cell {
    y0: u32,
    x0: u32,
    a: f32,   // horizontal weight of column x0+1
    b: f32,   // vertical weight of row y0+1
    gy: f32,  // 1 where the vertical clamp is inactive (gradient passes), else 0
    gx: f32,
}

fn cell(i: u32, j: u32, r0: f32, r1: f32) -> Cell {
    let hm = f32(p.h - 1u);
    let wm = f32(p.w - 1u);
    let fy = f32(i) + r0;
    let fx = f32(j) + r1;
    let sy = clamp(fy, 0.0, hm);
    let sx = clamp(fx, 0.0, wm);
    // min() also bounds the index if the flow is NaN
    let y0 = min(u32(floor(sy)), p.h - 2u);
    let x0 = min(u32(floor(sx)), p.w - 2u);
    var c: Cell;
    c.y0 = y0;
    c.x0 = x0;
    c.a = sx - f32(x0);
    c.b = sy - f32(y0);
    c.gy = select(0.0, 1.0, fy >= 0.0 && fy <= hm);
    c.gx = select(0.0, 1.0, fx >= 0.0 && fx <= wm);
    return c;
}

fn thread_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// out[n,c,i,j] = sum over the 4 corners of weight * img[n,c,corner]
@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = thread_index(gid, nwg);
    let hw = p.h * p.w;
    if (t >= p.n * hw) { return; }
    let n = t / hw;
    let pix = t - n * hw;
    let i = pix / p.w;
    let j = pix - i * p.w;
    let fb = n * 2u * hw + pix;
    let s = cell(i, j, flow[fb], flow[fb + hw]);
    // product weights (not lerps): a zero flow gives 1*x + 0*... = x exactly
    let w00 = (1.0 - s.a) * (1.0 - s.b);
    let w10 = (1.0 - s.a) * s.b;
    let w01 = s.a * (1.0 - s.b);
    let w11 = s.a * s.b;
    let off = s.y0 * p.w + s.x0;
    for (var c = 0u; c < p.c; c++) {
        let plane = (n * p.c + c) * hw;
        let q = plane + off;
        out[plane + pix] = w00 * img[q] + w10 * img[q + p.w] + w01 * img[q + 1u] + w11 * img[q + p.w + 1u];
    }
}

// out = d loss / d flow [N,2,H,W] from grad = d loss / d warped [N,C,H,W]
@compute @workgroup_size(64)
fn grad_flow(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = thread_index(gid, nwg);
    let hw = p.h * p.w;
    if (t >= p.n * hw) { return; }
    let n = t / hw;
    let pix = t - n * hw;
    let i = pix / p.w;
    let j = pix - i * p.w;
    let fb = n * 2u * hw + pix;
    let s = cell(i, j, flow[fb], flow[fb + hw]);
    let off = s.y0 * p.w + s.x0;
    var d0 = 0.0;
    var d1 = 0.0;
    for (var c = 0u; c < p.c; c++) {
        let plane = (n * p.c + c) * hw;
        let q = plane + off;
        let x00 = img[q];
        let x01 = img[q + 1u];
        let x10 = img[q + p.w];
        let x11 = img[q + p.w + 1u];
        let g = grad[plane + pix];
        d1 += g * ((1.0 - s.b) * (x01 - x00) + s.b * (x11 - x10));
        d0 += g * ((1.0 - s.a) * (x10 - x00) + s.a * (x11 - x01));
    }
    out[fb] = s.gy * d0;
    out[fb + hw] = s.gx * d1;
}

// ext[2n] = min(ceil(max |r0|), H), ext[2n+1] = min(ceil(max |r1|), W)
@compute @workgroup_size(64)
fn extent(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = thread_index(gid, nwg);
    if (n >= p.n) { return; }
    let hw = p.h * p.w;
    let base = n * 2u * hw;
    var m0 = 0.0;
    var m1 = 0.0;
    var bad = false;
    for (var k = 0u; k < hw; k++) {
        let a = abs(flow[base + k]);
        let b = abs(flow[base + hw + k]);
        // a NaN fails both comparisons: flag it and scan the whole image
        bad = bad || !(a >= 0.0) || !(b >= 0.0);
        m0 = max(m0, a);
        m1 = max(m1, b);
    }
    let fh = f32(p.h);
    let fw = f32(p.w);
    ext[2u * n] = select(u32(ceil(min(m0, fh))), p.h, bad || !(m0 <= fh));
    ext[2u * n + 1u] = select(u32(ceil(min(m1, fw))), p.w, bad || !(m1 <= fw));
}

// out = d loss / d img [N,C,H,W] from grad = d loss / d warped [N,C,H,W].
// Needs ext from `extent` for the same flow.
@compute @workgroup_size(64)
fn grad_image(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = thread_index(gid, nwg);
    let hw = p.h * p.w;
    let chunks = (p.c + 3u) / 4u;
    if (t >= p.n * chunks * hw) { return; }
    let pix = t % hw;
    let nc = t / hw;
    let n = nc / chunks;
    let c0 = (nc - n * chunks) * 4u;
    let nch = min(4u, p.c - c0);
    let y = pix / p.w;
    let x = pix - y * p.w;
    let ry = i32(ext[2u * n]) + 1;
    let rx = i32(ext[2u * n + 1u]) + 1;
    let ilo = u32(max(i32(y) - ry, 0));
    let ihi = u32(min(i32(y) + ry, i32(p.h) - 1));
    let jlo = u32(max(i32(x) - rx, 0));
    let jhi = u32(min(i32(x) + rx, i32(p.w) - 1));
    let fbase = n * 2u * hw;
    let gbase = (n * p.c + c0) * hw;
    var acc = vec4<f32>(0.0);
    for (var i = ilo; i <= ihi; i++) {
        for (var j = jlo; j <= jhi; j++) {
            let q = i * p.w + j;
            let s = cell(i, j, flow[fbase + q], flow[fbase + hw + q]);
            let wy = select(0.0, 1.0 - s.b, s.y0 == y) + select(0.0, s.b, s.y0 + 1u == y);
            let wx = select(0.0, 1.0 - s.a, s.x0 == x) + select(0.0, s.a, s.x0 + 1u == x);
            let wgt = wy * wx;
            if (wgt != 0.0) {
                for (var k = 0u; k < nch; k++) {
                    acc[k] += wgt * grad[gbase + k * hw + q];
                }
            }
        }
    }
    for (var k = 0u; k < nch; k++) {
        out[gbase + k * hw + pix] = acc[k];
    }
}

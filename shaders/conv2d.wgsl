// 2-D convolution, NCHW input [N,C,H,W], weight [O,C,KH,KW] (PyTorch
// layout), zero padding, any stride and kernel size. Host: src/ops/conv2d.rs.
//
// Three families of entry points:
// - fast (`forward_fast`, `backward_weight_fast`, with `pad` and `pack`):
//   vec4 texel fetches from padded copies held in textures, large register
//   tiles, specialised with
//   override constants; stride-1 data gradients reuse `forward_fast`. Used
//   whenever the geometry allows (see the section below).
// - direct (`forward`, `backward_data`, `backward_weight`): implicit GEMM
//   with bounds-checked scalar loads straight from the NCHW tensors, any
//   geometry; the fallback.
// - im2col (`im2col`, `col2im`, `swap01` + ops::gemm): kept for comparison.
// None uses workgroup memory: on lavapipe it costs as much as a storage
// load plus barriers (WGPU-NOTES.md).

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    o: u32,
    kh: u32,
    kw: u32,
    oh: u32,
    ow: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    flags: u32,  // forward/swap01: bit0 add bias (entries say what else)
    chunk: u32,  // backward_weight: pixels per split-K chunk (entries say what else)
    total: u32,  // element-wise kernels: number of threads
}
// (the fast entries reuse these fields with their own meaning, documented
// above each of them)

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
// The fast kernels read the padded input, the packed weights and dy from
// "linear" rgba32float textures (vec4 i at texel (i % 4096, i / 4096)):
// on llvmpipe a texel fetch costs about an eighth of a storage-buffer load
// (see gemm_tex.wgsl). `pack` writes the weights' texture; `pad` writes the
// padded input to a buffer, which the host copies into a texture when a
// fast kernel binds it (a copy is cheaper than llvmpipe's per-lane
// storage-texture stores: pad + copy 2.4 ms against 2.75 ms for pad into a
// texture, alexnet-cifar), and which a conv layer keeps from the forward
// pass for the weight gradient.
@group(0) @binding(10) var xt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(11) var wtt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(12) var lin: texture_storage_2d<rgba32float, write>;
@group(0) @binding(13) var dyt: texture_storage_2d<rgba32float, read>;
// x for `pad`, as a linear texture of scalars (see Gpu::dispatch_binds)
@group(0) @binding(14) var xs: texture_storage_2d<rgba32float, read>;
// `pad`'s output, vec4 i of the padded tensor
@group(0) @binding(15) var<storage, read_write> padded: array<vec4<f32>>;
// forward_fast's output: vec4 stores where a tile's 8 columns are two
// aligned vec4s (llvmpipe stores lane by lane, so 4x fewer stores)
@group(0) @binding(16) var<storage, read_write> out4: array<vec4<f32>>;

// @include common/linear_tex.wgsl

// Direct kernels' register tile: TO = 8 output (or input, in backward_data)
// channels x TP = 8 pixels, held as four mat4x4 (column = pixel, row =
// channel). The
// tile is written out by hand instead of with private arrays: naga bounds
// every loop (force_loop_bounding), so Mesa cannot unroll array loops and
// the arrays would live in scratch memory (measured 20-30x slower).
const TO: u32 = 8u;
const TP: u32 = 8u;
const WG: u32 = 64u;

// outer(a, b)[j][i] = a[i] * b[j]
fn outer(a: vec4<f32>, b: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(a * b.x, a * b.y, a * b.z, a * b.w);
}

fn ldx(j: vec4<i32>, ok: vec4<bool>) -> vec4<f32> {
    let s = select(vec4<i32>(0), j, ok);
    return select(vec4<f32>(0.0), vec4<f32>(x[s.x], x[s.y], x[s.z], x[s.w]), ok);
}

fn ldw(j: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(wt[j.x], wt[j.y], wt[j.z], wt[j.w]);
}

fn ldy(j: vec4<u32>, ok: vec4<bool>) -> vec4<f32> {
    let s = select(vec4<u32>(0u), j, ok);
    return select(vec4<f32>(0.0), vec4<f32>(dy[s.x], dy[s.y], dy[s.z], dy[s.w]), ok);
}

fn below(v: vec4<i32>, n: u32) -> vec4<bool> {
    return vec4<u32>(v) < vec4<u32>(n);
}

const LANE: vec4<u32> = vec4<u32>(0u, 1u, 2u, 3u);

// ---------------------------------------------------------------------------
// Fast path (horizontal stride SW in {1,2}, kernel width KW <= 9). On
// lavapipe every storage load costs ~20 cycles per lane and component while
// arithmetic is nearly free, so this kernel minimises loaded values per FMA:
// - the input is first copied into a zero-padded layout whose rows are whole
//   vec4s (`pad`), the weights into [tap][channel] order padded to a
//   multiple of 8 channels (`pack`): no bounds checks, only vec4 loads;
// - an invocation owns 8 output channels x 4 output rows x 8 columns (256
//   accumulators; spills are cheap next to loads) and keeps, per (input
//   channel, kernel row), one window of NWIN vec4s per output row; with
//   vertical stride 1 the windows of rows kh+1.. are reused for the next kh
//   so each input row is loaded once per channel;
// - each weight vec4 feeds 4 rows x 8 columns: 2 weight + ~3 input vec4s
//   per 256 FMAs at KW = 5. (8x8 tiles without reuse measured 1.6 GFLOP per
//   CPU-second, this 4.2, on Mesa 22.3 lavapipe.)
// - llvmpipe keeps the 256 accumulators in memory (spills), so the FMAs are
//   ordered accumulator column by column, each column taking all KW taps of
//   the kernel row before the next (`acc_col`): one reload and store per
//   column per kernel row instead of per tap. Tap-major order (every
//   accumulator per tap) measured 1.3-1.75x slower (alexnet-cifar conv1
//   forward 38 -> 21.5 ms, data gradient 37 -> 29 ms, batch 64; the
//   alexnet-cifar epoch 18.3 -> 12.8 s at a tenth of CIFAR).
// The taps are unrolled by hand and specialised with the override constants
// KW / SW / SH: naga bounds every loop (force_loop_bounding), so Mesa cannot
// unroll loops itself, and private arrays indexed in a loop would live in
// scratch memory. backward_data at stride 1 is this kernel on padded dy and
// the flipped, transposed kernel.

override KW: u32 = 3u;
override SW: u32 = 1u;
override SH: u32 = 1u;
// output channels per invocation: 8, or 4 when that wastes less (cout = 3)
override TOC: u32 = 8u;
override NWIN: u32 = (8u * SW + KW + 2u) / 4u;

// (private variables start at zero in every invocation)
// input windows: row slot r at win[6r .. 6r+NWIN) (4 slots in forward_fast,
// up to 5 in backward_weight_fast)
var<private> win: array<vec4<f32>, 30>;
// accumulators: acc[4r + 2h + q] = output row r, pixels 4h..4h+3 (rows of
// the matrix), channels 4q..4q+3 (columns)
var<private> acc: array<mat4x4<f32>, 16>;

fn el(r: u32, j: u32) -> f32 {
    return win[6u * r + (j >> 2u)][j & 3u];
}

// the input values that pixels first..first+3 of row r see at tap kw
fn px(r: u32, kw: u32, first: u32) -> vec4<f32> {
    return vec4<f32>(el(r, kw + first * SW), el(r, kw + (first + 1u) * SW), el(r, kw + (first + 2u) * SW), el(r, kw + (first + 3u) * SW));
}

// weights of the current kernel row: wv[2 kw + q] = tap kw, channels 4q..4q+3
var<private> wv: array<vec4<f32>, 18>;

fn wload(kw: u32, wi: u32) {
    if (kw < KW) {
        wv[2u * kw] = ldt(wtt, wi);
        if (TOC == 8u) { wv[2u * kw + 1u] = ldt(wtt, wi + 1u); }
    }
}

// Column j of acc[i], i = 4r + 2h + q (output row r, pixels 4h..4h+3,
// channel 4q + j) += sum over taps kw of px(r, kw, 4h) * wv[2kw + q][j]:
// the column takes all KW taps of the kernel row at once, so llvmpipe,
// which spills the 256 accumulators, reloads it once per kernel row
// instead of once per tap (the GEMM's row-major order,
// build/gemm_tex_gen.rs).
fn acc_col(i: u32, r: u32, h: u32, q: u32, j: u32) {
    var s = acc[i][j];
    s += px(r, 0u, 4u * h) * wv[q][j];
    if (KW > 1u) { s += px(r, 1u, 4u * h) * wv[2u + q][j]; }
    if (KW > 2u) { s += px(r, 2u, 4u * h) * wv[4u + q][j]; }
    if (KW > 3u) { s += px(r, 3u, 4u * h) * wv[6u + q][j]; }
    if (KW > 4u) { s += px(r, 4u, 4u * h) * wv[8u + q][j]; }
    if (KW > 5u) { s += px(r, 5u, 4u * h) * wv[10u + q][j]; }
    if (KW > 6u) { s += px(r, 6u, 4u * h) * wv[12u + q][j]; }
    if (KW > 7u) { s += px(r, 7u, 4u * h) * wv[14u + q][j]; }
    if (KW > 8u) { s += px(r, 8u, 4u * h) * wv[16u + q][j]; }
    acc[i][j] = s;
}

fn acc_taps(r: u32, h: u32, q: u32) {
    let i = 4u * r + 2u * h + q;
    acc_col(i, r, h, q, 0u);
    acc_col(i, r, h, q, 1u);
    acc_col(i, r, h, q, 2u);
    acc_col(i, r, h, q, 3u);
}

fn acc_rows(r: u32) {
    acc_taps(r, 0u, 0u);
    acc_taps(r, 1u, 0u);
    if (TOC == 8u) {
        acc_taps(r, 0u, 1u);
        acc_taps(r, 1u, 1u);
    }
}

fn taps(kb: u32, wq: u32) {
    wload(0u, (kb + 0u) * p.chunk + wq);
    wload(1u, (kb + 1u) * p.chunk + wq);
    wload(2u, (kb + 2u) * p.chunk + wq);
    wload(3u, (kb + 3u) * p.chunk + wq);
    wload(4u, (kb + 4u) * p.chunk + wq);
    wload(5u, (kb + 5u) * p.chunk + wq);
    wload(6u, (kb + 6u) * p.chunk + wq);
    wload(7u, (kb + 7u) * p.chunk + wq);
    wload(8u, (kb + 8u) * p.chunk + wq);
    acc_rows(0u);
    acc_rows(1u);
    acc_rows(2u);
    acc_rows(3u);
}

fn shift_row(r: u32) {
    win[6u * r] = win[6u * r + 6u];
    if (NWIN > 1u) { win[6u * r + 1u] = win[6u * r + 7u]; }
    if (NWIN > 2u) { win[6u * r + 2u] = win[6u * r + 8u]; }
    if (NWIN > 3u) { win[6u * r + 3u] = win[6u * r + 9u]; }
    if (NWIN > 4u) { win[6u * r + 4u] = win[6u * r + 10u]; }
    if (NWIN > 5u) { win[6u * r + 5u] = win[6u * r + 11u]; }
}

fn shift_rows() {
    shift_row(0u);
    shift_row(1u);
    shift_row(2u);
}

fn load_row(r: u32, i: u32) {
    win[6u * r] = ldt(xt, i);
    if (NWIN > 1u) { win[6u * r + 1u] = ldt(xt, i + 1u); }
    if (NWIN > 2u) { win[6u * r + 2u] = ldt(xt, i + 2u); }
    if (NWIN > 3u) { win[6u * r + 3u] = ldt(xt, i + 3u); }
    if (NWIN > 4u) { win[6u * r + 4u] = ldt(xt, i + 4u); }
    if (NWIN > 5u) { win[6u * r + 5u] = ldt(xt, i + 5u); }
}

// Params: n; c = input channels; h = padded rows; w = vec4s per padded row;
// o = output channels; kh; oh, ow; sh = vertical stride; chunk = packed
// weight row length / 4; flags bit0 = add bias, bit2 = ReLU last.
// gid.x: (n, tile of 4 output rows, tile of 8 output columns); gid.y: tile
// of TOC output channels.
@compute @workgroup_size(64)
fn forward_fast(@builtin(global_invocation_id) gid: vec3<u32>) {
    let OWT = (p.ow + 7u) / 8u;
    let OHT = (p.oh + 3u) / 4u;
    let idx = gid.x;
    let o0 = gid.y * TOC;
    if (idx >= p.n * OHT * OWT || o0 >= p.o) { return; }
    let owt = idx % OWT;
    let rest = idx / OWT;
    let oh0 = (rest % OHT) * 4u;
    let n = rest / OHT;
    let col4 = owt * 2u * SW;
    let wq = o0 / 4u;
    if (SH == 1u) {
        // consecutive output rows read consecutive input rows: keep the
        // windows of rows kh+1..kh+3 for the next kh, load one new row.
        for (var c = 0u; c < p.c; c++) {
            let row = ((n * p.c + c) * p.h + oh0) * p.w + col4;
            load_row(0u, row);
            load_row(1u, row + p.w);
            load_row(2u, row + 2u * p.w);
            for (var kh = 0u; kh < p.kh; kh++) {
                load_row(3u, row + (kh + 3u) * p.w);
                taps((c * p.kh + kh) * KW, wq);
                shift_rows();
            }
        }
    } else {
        let rs = SH * p.w; // vec4s between the input rows of consecutive output rows
        for (var c = 0u; c < p.c; c++) {
            let plane = (n * p.c + c) * p.h + oh0 * SH;
            for (var kh = 0u; kh < p.kh; kh++) {
                let row = (plane + kh) * p.w + col4;
                load_row(0u, row);
                load_row(1u, row + rs);
                load_row(2u, row + 2u * rs);
                load_row(3u, row + 3u * rs);
                taps((c * p.kh + kh) * KW, wq);
            }
        }
    }
    let has_bias = (p.flags & 1u) != 0u;
    let ow0 = owt * 8u;
    put_row(0u, n, oh0, ow0, o0, has_bias);
    put_row(1u, n, oh0 + 1u, ow0, o0, has_bias);
    put_row(2u, n, oh0 + 2u, ow0, o0, has_bias);
    put_row(3u, n, oh0 + 3u, ow0, o0, has_bias);
}

fn put_row(r: u32, n: u32, oh: u32, ow0: u32, o0: u32, has_bias: bool) {
    if (oh >= p.oh) { return; }
    let a = acc[4u * r + 0u];
    let b = acc[4u * r + 1u];
    let c = acc[4u * r + 2u];
    let d = acc[4u * r + 3u];
    put_fast(a[0], c[0], o0 + 0u, n, oh, ow0, has_bias);
    put_fast(a[1], c[1], o0 + 1u, n, oh, ow0, has_bias);
    put_fast(a[2], c[2], o0 + 2u, n, oh, ow0, has_bias);
    put_fast(a[3], c[3], o0 + 3u, n, oh, ow0, has_bias);
    if (TOC == 4u) { return; }
    put_fast(b[0], d[0], o0 + 4u, n, oh, ow0, has_bias);
    put_fast(b[1], d[1], o0 + 5u, n, oh, ow0, has_bias);
    put_fast(b[2], d[2], o0 + 6u, n, oh, ow0, has_bias);
    put_fast(b[3], d[3], o0 + 7u, n, oh, ow0, has_bias);
}

// ca / cb: pixels 0..3 / 4..7 of output channel o.
fn put_fast(ca: vec4<f32>, cb: vec4<f32>, o: u32, n: u32, oh: u32, ow0: u32, has_bias: bool) {
    if (o >= p.o) { return; }
    let b = select(0.0, bias[o], has_bias);
    let rowb = ((n * p.o + o) * p.oh + oh) * p.ow;
    var va = ca + b;
    var vb = cb + b;
    if ((p.flags & 4u) != 0u) {
        va = max(va, vec4<f32>(0.0));
        vb = max(vb, vec4<f32>(0.0));
    }
    if ((p.ow & 3u) == 0u && ow0 + 8u <= p.ow) {
        let e4 = (rowb + ow0) >> 2u;
        out4[e4] = va;
        out4[e4 + 1u] = vb;
        return;
    }
    for (var t = 0u; t < 8u; t++) {
        let e = rowb + ow0 + t;
        if (ow0 + t >= p.ow) { return; }
        out4[e >> 2u][e & 3u] = select(va[t & 3u], vb[t & 3u], t >= 4u);
    }
}

// Weight gradient, fast path (KH <= 5, KH*KW <= 25, SW <= 2):
// dw[o, c, kh, kw] = sum_{n,oh,ow} dy[n,o,oh,ow] * xpad[n, c, oh*SH + kh, ow*SW + kw],
// with dy rows a multiple of 8 floats (padded with zeros when needed) and x
// padded as for forward_fast. An invocation owns 8 output channels x one
// input channel x all KH*KW taps (up to 200 accumulators) and walks whole
// columns (n, 8-column tile) of output rows oh = 0..OH-1: per row 16 vec4
// loads of dy, reused by every tap, and (SH = 1) one new input window, the
// other KH-1 carried over from the previous row; 64*KH*KW FMAs.
// Params: n; c; h = padded input rows; w = vec4s per padded input row;
// o; oh; ow = vec4s per padded dy row; chunk = columns per chunk;
// total = number of columns (n * column tiles); flags = number of chunks.
// gid.x: (chunk, c); gid.y: tile of 8 output channels.
// Output: partial sums [chunk][o][c][KH][KW].

override KH: u32 = 3u;
var<private> gw: array<vec4<f32>, 50>;

fn gtap(kh: u32, kw: u32, da: mat4x4<f32>, db: mat4x4<f32>, ea: mat4x4<f32>, eb: mat4x4<f32>) {
    if (kw < KW) {
        let xa = px(kh, kw, 0u);
        let xb = px(kh, kw, 4u);
        let t = 2u * (kh * KW + kw);
        gw[t] += xa * da + xb * db;
        gw[t + 1u] += xa * ea + xb * eb;
    }
}

fn grow(kh: u32, da: mat4x4<f32>, db: mat4x4<f32>, ea: mat4x4<f32>, eb: mat4x4<f32>) {
    if (kh < KH) {
        gtap(kh, 0u, da, db, ea, eb);
        gtap(kh, 1u, da, db, ea, eb);
        gtap(kh, 2u, da, db, ea, eb);
        gtap(kh, 3u, da, db, ea, eb);
        gtap(kh, 4u, da, db, ea, eb);
        gtap(kh, 5u, da, db, ea, eb);
        gtap(kh, 6u, da, db, ea, eb);
        gtap(kh, 7u, da, db, ea, eb);
        gtap(kh, 8u, da, db, ea, eb);
    }
}

// load input row kh (relative to `row`) into slot kh, if the kernel has it
fn wrow(kh: u32, row: u32) {
    if (kh < KH) { load_row(kh, row + kh * p.w); }
}

// slot r <- slot r+1 for r < KH-1
fn wshift(r: u32) {
    if (r + 1u < KH) { shift_row(r); }
}

@compute @workgroup_size(64)
fn backward_weight_fast(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x % p.c;
    let z = gid.x / p.c;
    let o0 = gid.y * 8u;
    if (z >= p.flags || o0 >= p.o) { return; }
    let owt_n = p.ow / 2u; // 8-column tiles per dy row
    let ostep = p.oh * p.ow; // vec4s between channels of dy
    // channels past O read channel O-1 (finite, discarded)
    let om = p.o - 1u;
    let dch = vec4<u32>(min(o0, om), min(o0 + 1u, om), min(o0 + 2u, om), min(o0 + 3u, om)) * ostep;
    let dcg = vec4<u32>(min(o0 + 4u, om), min(o0 + 5u, om), min(o0 + 6u, om), min(o0 + 7u, om)) * ostep;
    let c0 = z * p.chunk;
    let c1 = min(c0 + p.chunk, p.total);
    for (var col = c0; col < c1; col++) {
        let owt = col % owt_n;
        let n = col / owt_n;
        let plane = ((n * p.c + c) * p.h) * p.w + owt * 2u * SW;
        let dcol = (n * p.o * p.oh) * p.ow + owt * 2u;
        if (SH == 1u) {
            wrow(0u, plane);
            wrow(1u, plane);
            wrow(2u, plane);
            wrow(3u, plane);
        }
        for (var oh = 0u; oh < p.oh; oh++) {
            let row = plane + oh * SH * p.w;
            if (SH == 1u) {
                // rows oh..oh+KH-2 are in slots 0..KH-2 already
                if (KH == 1u) { wrow(0u, row); }
                if (KH == 2u) { load_row(1u, row + p.w); }
                if (KH == 3u) { load_row(2u, row + 2u * p.w); }
                if (KH == 4u) { load_row(3u, row + 3u * p.w); }
                if (KH == 5u) { load_row(4u, row + 4u * p.w); }
            } else {
                wrow(0u, row);
                wrow(1u, row);
                wrow(2u, row);
                wrow(3u, row);
                wrow(4u, row);
            }
            let d = dcol + oh * p.ow;
            // columns = channels: (x * da)[i] = sum_j x[j] dy[o0+i, j]
            let da = mat4x4<f32>(ldt(dyt, d + dch.x), ldt(dyt, d + dch.y), ldt(dyt, d + dch.z), ldt(dyt, d + dch.w));
            let db = mat4x4<f32>(ldt(dyt, d + dch.x + 1u), ldt(dyt, d + dch.y + 1u), ldt(dyt, d + dch.z + 1u), ldt(dyt, d + dch.w + 1u));
            let ea = mat4x4<f32>(ldt(dyt, d + dcg.x), ldt(dyt, d + dcg.y), ldt(dyt, d + dcg.z), ldt(dyt, d + dcg.w));
            let eb = mat4x4<f32>(ldt(dyt, d + dcg.x + 1u), ldt(dyt, d + dcg.y + 1u), ldt(dyt, d + dcg.z + 1u), ldt(dyt, d + dcg.w + 1u));
            grow(0u, da, db, ea, eb);
            grow(1u, da, db, ea, eb);
            grow(2u, da, db, ea, eb);
            grow(3u, da, db, ea, eb);
            grow(4u, da, db, ea, eb);
            if (SH == 1u) {
                wshift(0u);
                wshift(1u);
                wshift(2u);
                wshift(3u);
            }
        }
    }
    let ckk = p.c * KH * KW;
    let base = (z * p.o + o0) * ckk + c * KH * KW;
    let nleft = p.o - o0;
    gput(0u, 0u, base, ckk, nleft);
    gput(0u, 1u, base, ckk, nleft);
    gput(0u, 2u, base, ckk, nleft);
    gput(0u, 3u, base, ckk, nleft);
    gput(0u, 4u, base, ckk, nleft);
    gput(0u, 5u, base, ckk, nleft);
    gput(0u, 6u, base, ckk, nleft);
    gput(0u, 7u, base, ckk, nleft);
    gput(0u, 8u, base, ckk, nleft);
    gput(1u, 0u, base, ckk, nleft);
    gput(1u, 1u, base, ckk, nleft);
    gput(1u, 2u, base, ckk, nleft);
    gput(1u, 3u, base, ckk, nleft);
    gput(1u, 4u, base, ckk, nleft);
    gput(1u, 5u, base, ckk, nleft);
    gput(1u, 6u, base, ckk, nleft);
    gput(1u, 7u, base, ckk, nleft);
    gput(1u, 8u, base, ckk, nleft);
    gput(2u, 0u, base, ckk, nleft);
    gput(2u, 1u, base, ckk, nleft);
    gput(2u, 2u, base, ckk, nleft);
    gput(2u, 3u, base, ckk, nleft);
    gput(2u, 4u, base, ckk, nleft);
    gput(2u, 5u, base, ckk, nleft);
    gput(2u, 6u, base, ckk, nleft);
    gput(2u, 7u, base, ckk, nleft);
    gput(2u, 8u, base, ckk, nleft);
    gput(3u, 0u, base, ckk, nleft);
    gput(3u, 1u, base, ckk, nleft);
    gput(3u, 2u, base, ckk, nleft);
    gput(3u, 3u, base, ckk, nleft);
    gput(3u, 4u, base, ckk, nleft);
    gput(3u, 5u, base, ckk, nleft);
    gput(3u, 6u, base, ckk, nleft);
    gput(3u, 7u, base, ckk, nleft);
    gput(3u, 8u, base, ckk, nleft);
    gput(4u, 0u, base, ckk, nleft);
    gput(4u, 1u, base, ckk, nleft);
    gput(4u, 2u, base, ckk, nleft);
    gput(4u, 3u, base, ckk, nleft);
    gput(4u, 4u, base, ckk, nleft);
    gput(4u, 5u, base, ckk, nleft);
    gput(4u, 6u, base, ckk, nleft);
    gput(4u, 7u, base, ckk, nleft);
    gput(4u, 8u, base, ckk, nleft);
}

// store tap (kh, kw) of the (up to) 8 output channels
fn gput(kh: u32, kw: u32, base: u32, ckk: u32, nleft: u32) {
    if (kh < KH && kw < KW) {
        let t = kh * KW + kw;
        let lo = gw[2u * t];
        let hi = gw[2u * t + 1u];
        for (var i = 0u; i < 8u; i++) {
            if (i >= nleft) { return; }
            out[base + i * ckk + t] = select(lo[i & 3u], hi[i & 3u], i >= 4u);
        }
    }
}

// out[n, c, i, j] = x[n, c, i - ph, j - pw] (0 outside), for i < oh, j < ow
// (ow a multiple of 4; one vec4 of the output per invocation); ph, pw are
// signed (bitcast), so a negative pad crops. Source [n,c,h,w]; out is
// `padded` (bound as a linear texture by the fast kernels, see `ldt`).
// vec4 e of that layout, for `pad` (into the buffer) and `pad_tex` (into
// the texture).
fn pad_vec(e: u32) -> vec4<f32> {
    let w4n = p.ow / 4u;
    let j = (e % w4n) * 4u;
    let r1 = e / w4n;
    let i = r1 % p.oh;
    let plane = r1 / p.oh;
    let si = i32(i) - bitcast<i32>(p.ph);
    var v = vec4<f32>();
    if (u32(si) < p.h) {
        let row = i32(plane * p.h * p.w) + si * i32(p.w);
        let sj = vec4<i32>(i32(j) - bitcast<i32>(p.pw)) + vec4<i32>(0, 1, 2, 3);
        let ok = below(sj, p.w);
        let s = vec4<u32>(select(vec4<i32>(0), row + sj, ok));
        v = select(vec4<f32>(0.0), vec4<f32>(ld(xs, s.x), ld(xs, s.y), ld(xs, s.z), ld(xs, s.w)), ok);
    }
    return v;
}

@compute @workgroup_size(64)
fn pad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.total) { return; }
    padded[e] = pad_vec(e);
}

// `pad` straight into the linear texture its readers bind (vec4 e at texel
// (e % 4096, e / 4096)): no buffer write and no copy of it afterwards.
@compute @workgroup_size(64)
fn pad_tex(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.total) { return; }
    textureStore(lin, vec2<u32>(e & 4095u, e >> 12u), pad_vec(e));
}

// Weights for forward_fast: out[k * chunk*4 + j], k = tap (c,kh,kw) of the
// weight [o, c, kh, kw], j = output channel (0 past o). With flags bit1 the
// pack is for backward_data: tap k = (o, kh, kw) of the flipped kernel and
// j = input channel c: out = w[o, j, kh-1-kh', kw-1-kw'].
@compute @workgroup_size(64)
fn pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // one vec4 (4 consecutive j; the width is a multiple of 8) per invocation,
    // into the linear texture `lin`
    let e4 = linear(gid, nwg);
    if (e4 * 4u >= p.total) { return; }
    let width = p.chunk * 4u;
    let KK = p.kh * p.kw;
    var v = vec4<f32>();
    for (var q = 0u; q < 4u; q++) {
        let e = e4 * 4u + q;
        let j = e % width;
        let k = e / width;
        let a = k / KK;
        let r = k - a * KK;
        let kh = r / p.kw;
        let kw = r - kh * p.kw;
        if ((p.flags & 2u) == 0u) {
            // a = c, j = o
            if (j < p.o) { v[q] = wt[((j * p.c + a) * p.kh + kh) * p.kw + kw]; }
        } else {
            // a = o, j = c
            if (j < p.c) { v[q] = wt[((a * p.c + j) * p.kh + (p.kh - 1u - kh)) * p.kw + (p.kw - 1u - kw)]; }
        }
    }
    textureStore(lin, vec2<u32>(e4 & 4095u, e4 >> 12u), v);
}

// ---------------------------------------------------------------------------
// out[n,o,oh,ow] = bias[o] + sum_{c,kh,kw} w[o,c,kh,kw] x[n,c,oh*sh-ph+kh,ow*sw-pw+kw]
// gid.x: tile of TP consecutive output pixels (flattened over n,oh,ow);
// gid.y: tile of TO output channels.
@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let P = p.oh * p.ow;
    let Q = p.n * P;
    let q0 = gid.x * TP;
    let o0 = gid.y * TO;
    if (q0 >= Q || o0 >= p.o) { return; }
    let HW = p.h * p.w;
    let KK = p.kh * p.kw;
    let K = p.c * KK;
    let W = i32(p.w);

    // pixel geometry, lanes a = pixels 0..3, b = 4..7
    let qa = min(vec4<u32>(q0) + LANE, vec4<u32>(Q - 1u));
    let qb = min(vec4<u32>(q0 + 4u) + LANE, vec4<u32>(Q - 1u));
    let na = qa / P;
    let nb = qb / P;
    let ra = qa - na * P;
    let rb = qb - nb * P;
    let oha = ra / p.ow;
    let ohb = rb / p.ow;
    let ih0a = vec4<i32>(oha * p.sh) - i32(p.ph);
    let ih0b = vec4<i32>(ohb * p.sh) - i32(p.ph);
    let iw0a = vec4<i32>((ra - oha * p.ow) * p.sw) - i32(p.pw);
    let iw0b = vec4<i32>((rb - ohb * p.ow) * p.sw) - i32(p.pw);
    let basea = vec4<i32>(na * p.c * HW) + iw0a;
    let baseb = vec4<i32>(nb * p.c * HW) + iw0b;
    let wra = min(vec4<u32>(o0) + LANE, vec4<u32>(p.o - 1u)) * K;
    let wrb = min(vec4<u32>(o0 + 4u) + LANE, vec4<u32>(p.o - 1u)) * K;

    var m00 = mat4x4<f32>();
    var m01 = mat4x4<f32>();
    var m10 = mat4x4<f32>();
    var m11 = mat4x4<f32>();
    for (var c = 0u; c < p.c; c++) {
        let cb = i32(c * HW);
        for (var kh = 0u; kh < p.kh; kh++) {
            let iha = ih0a + i32(kh);
            let ihb = ih0b + i32(kh);
            let rowa = basea + cb + iha * W;
            let rowb = baseb + cb + ihb * W;
            let rka = below(iha, p.h);
            let rkb = below(ihb, p.h);
            let kb = c * KK + kh * p.kw;
            for (var kw = 0u; kw < p.kw; kw++) {
                let ik = i32(kw);
                let xa = ldx(rowa + ik, rka & below(iw0a + ik, p.w));
                let xb = ldx(rowb + ik, rkb & below(iw0b + ik, p.w));
                let wa = ldw(wra + (kb + kw));
                let wb = ldw(wrb + (kb + kw));
                m00 += outer(wa, xa);
                m01 += outer(wa, xb);
                m10 += outer(wb, xa);
                m11 += outer(wb, xb);
            }
        }
    }

    let has_bias = (p.flags & 1u) != 0u;
    for (var i = 0u; i < TO; i++) {
        let o = o0 + i;
        if (o >= p.o) { break; }
        let b = select(0.0, bias[o], has_bias);
        let ii = i & 3u;
        var va: vec4<f32>;
        var vb: vec4<f32>;
        if (i < 4u) {
            va = vec4<f32>(m00[0][ii], m00[1][ii], m00[2][ii], m00[3][ii]);
            vb = vec4<f32>(m01[0][ii], m01[1][ii], m01[2][ii], m01[3][ii]);
        } else {
            va = vec4<f32>(m10[0][ii], m10[1][ii], m10[2][ii], m10[3][ii]);
            vb = vec4<f32>(m11[0][ii], m11[1][ii], m11[2][ii], m11[3][ii]);
        }
        for (var t = 0u; t < TP; t++) {
            let q = q0 + t;
            if (q >= Q) { break; }
            let n = q / P;
            let r = q - n * P;
            let v = select(va[t & 3u], vb[t & 3u], t >= 4u);
            out[(n * p.o + o) * P + r] = v + b;
        }
    }
}

// ---------------------------------------------------------------------------
// dx[n,c,ih,iw] = sum_{o,kh,kw : (ih+ph-kh)/sh, (iw+pw-kw)/sw exact and in range}
//                 w[o,c,kh,kw] dy[n,o,oh,ow]
// A thread owns TO input channels x TP input columns of one row that share a
// phase iw = phi + sw*j (phi < sw), so every column uses the same kw set and
// consecutive j read consecutive ow. gid.x: (n, ih, phi, j-tile); gid.y: c-tile.
@compute @workgroup_size(64)
fn backward_data(@builtin(global_invocation_id) gid: vec3<u32>) {
    let J = (p.w + p.sw - 1u) / p.sw;
    let JT = (J + TP - 1u) / TP;
    let idx = gid.x;
    if (idx >= p.n * p.h * p.sw * JT) { return; }
    let c0 = gid.y * TO;
    if (c0 >= p.c) { return; }
    let jt = idx % JT;
    var rest = idx / JT;
    let phi = rest % p.sw;
    rest = rest / p.sw;
    let ih = rest % p.h;
    let n = rest / p.h;
    let j0 = jt * TP;
    let P = p.oh * p.ow;
    let KK = p.kh * p.kw;
    let CKK = p.c * KK;

    let wca = min(vec4<u32>(c0) + LANE, vec4<u32>(p.c - 1u)) * KK;
    let wcb = min(vec4<u32>(c0 + 4u) + LANE, vec4<u32>(p.c - 1u)) * KK;
    let ja = vec4<i32>(vec4<u32>(j0) + LANE);
    let jb = ja + 4;
    var m00 = mat4x4<f32>();
    var m01 = mat4x4<f32>();
    var m10 = mat4x4<f32>();
    var m11 = mat4x4<f32>();

    let kh0 = (ih + p.ph) % p.sh;
    let kw0 = (phi + p.pw) % p.sw;
    for (var o = 0u; o < p.o; o++) {
        let dyo = (n * p.o + o) * P;
        let wo = o * CKK;
        for (var kh = kh0; kh < p.kh; kh += p.sh) {
            let num = i32(ih + p.ph) - i32(kh);
            if (num < 0) { break; }
            let oh = u32(num) / p.sh;
            if (oh >= p.oh) { continue; }
            let dyrow = dyo + oh * p.ow;
            for (var kw = kw0; kw < p.kw; kw += p.sw) {
                // ow = j + d for column j; d may be negative
                let d = (i32(phi + p.pw) - i32(kw)) / i32(p.sw);
                let owa = ja + d;
                let owb = jb + d;
                let da = ldy(vec4<u32>(owa) + dyrow, below(owa, p.ow));
                let db = ldy(vec4<u32>(owb) + dyrow, below(owb, p.ow));
                let wk = wo + kh * p.kw + kw;
                let wa = ldw(wca + wk);
                let wb = ldw(wcb + wk);
                m00 += outer(wa, da);
                m01 += outer(wa, db);
                m10 += outer(wb, da);
                m11 += outer(wb, db);
            }
        }
    }

    let HW = p.h * p.w;
    for (var i = 0u; i < TO; i++) {
        let c = c0 + i;
        if (c >= p.c) { break; }
        let ii = i & 3u;
        var va: vec4<f32>;
        var vb: vec4<f32>;
        if (i < 4u) {
            va = vec4<f32>(m00[0][ii], m00[1][ii], m00[2][ii], m00[3][ii]);
            vb = vec4<f32>(m01[0][ii], m01[1][ii], m01[2][ii], m01[3][ii]);
        } else {
            va = vec4<f32>(m10[0][ii], m10[1][ii], m10[2][ii], m10[3][ii]);
            vb = vec4<f32>(m11[0][ii], m11[1][ii], m11[2][ii], m11[3][ii]);
        }
        let rowb = (n * p.c + c) * HW + ih * p.w;
        for (var t = 0u; t < TP; t++) {
            let iw = phi + p.sw * (j0 + t);
            if (iw >= p.w) { break; }
            out[rowb + iw] = select(va[t & 3u], vb[t & 3u], t >= 4u);
        }
    }
}

// ---------------------------------------------------------------------------
// Partial weight gradient over one chunk of output pixels (split-K):
// out[z,o,k] = sum_{q in chunk z} dy[n,o,oh,ow] x[n,c,oh*sh-ph+kh,ow*sw-pw+kw],
// k = (c,kh,kw). gid.x: tile of TP k's; gid.y: tile of TO o's; gid.z: chunk.
@compute @workgroup_size(64)
fn backward_weight(@builtin(global_invocation_id) gid: vec3<u32>) {
    let KK = p.kh * p.kw;
    let K = p.c * KK;
    let k0 = gid.x * TP;
    let o0 = gid.y * TO;
    if (k0 >= K || o0 >= p.o) { return; }
    let P = p.oh * p.ow;
    let Q = p.n * P;
    let HW = p.h * p.w;
    let W = i32(p.w);

    let ka = min(vec4<u32>(k0) + LANE, vec4<u32>(K - 1u));
    let kb = min(vec4<u32>(k0 + 4u) + LANE, vec4<u32>(K - 1u));
    let ca = ka / KK;
    let cb = kb / KK;
    let kha = (ka - ca * KK) / p.kw;
    let khb = (kb - cb * KK) / p.kw;
    let kwa = vec4<i32>(ka - ca * KK - kha * p.kw);
    let kwb = vec4<i32>(kb - cb * KK - khb * p.kw);
    let koa = vec4<i32>(ca * HW + kha * p.w) + kwa;
    let kob = vec4<i32>(cb * HW + khb * p.w) + kwb;
    let kha_ = vec4<i32>(kha);
    let khb_ = vec4<i32>(khb);
    let ora = min(vec4<u32>(o0) + LANE, vec4<u32>(p.o - 1u)) * P;
    let orb = min(vec4<u32>(o0 + 4u) + LANE, vec4<u32>(p.o - 1u)) * P;

    var m00 = mat4x4<f32>();
    var m01 = mat4x4<f32>();
    var m10 = mat4x4<f32>();
    var m11 = mat4x4<f32>();
    let qa = gid.z * p.chunk;
    let qb = min(qa + p.chunk, Q);
    var n = qa / P;
    let r0 = qa - n * P;
    var oh = r0 / p.ow;
    var ow = r0 - oh * p.ow;
    let every = vec4<bool>(true);
    for (var q = qa; q < qb; q++) {
        let ih0 = i32(oh * p.sh) - i32(p.ph);
        let iw0 = i32(ow * p.sw) - i32(p.pw);
        let xb = i32(n * p.c * HW) + ih0 * W + iw0;
        let dyb = n * p.o * P + oh * p.ow + ow;
        let da = ldy(ora + dyb, every);
        let db = ldy(orb + dyb, every);
        let xa = ldx(koa + xb, below(kha_ + ih0, p.h) & below(kwa + iw0, p.w));
        let xc = ldx(kob + xb, below(khb_ + ih0, p.h) & below(kwb + iw0, p.w));
        m00 += outer(da, xa);
        m01 += outer(da, xc);
        m10 += outer(db, xa);
        m11 += outer(db, xc);
        ow += 1u;
        if (ow == p.ow) {
            ow = 0u;
            oh += 1u;
            if (oh == p.oh) { oh = 0u; n += 1u; }
        }
    }

    let ob = gid.z * p.o;
    for (var i = 0u; i < TO; i++) {
        let o = o0 + i;
        if (o >= p.o) { break; }
        let ii = i & 3u;
        var va: vec4<f32>;
        var vb: vec4<f32>;
        if (i < 4u) {
            va = vec4<f32>(m00[0][ii], m00[1][ii], m00[2][ii], m00[3][ii]);
            vb = vec4<f32>(m01[0][ii], m01[1][ii], m01[2][ii], m01[3][ii]);
        } else {
            va = vec4<f32>(m10[0][ii], m10[1][ii], m10[2][ii], m10[3][ii]);
            vb = vec4<f32>(m11[0][ii], m11[1][ii], m11[2][ii], m11[3][ii]);
        }
        for (var t = 0u; t < TP; t++) {
            let k = k0 + t;
            if (k >= K) { break; }
            out[(ob + o) * K + k] = select(va[t & 3u], vb[t & 3u], t >= 4u);
        }
    }
}

// ---------------------------------------------------------------------------
// im2col path

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// out[k, q] = x[n, c, oh*sh-ph+kh, ow*sw-pw+kw] (0 in the padding),
// k = (c,kh,kw), q = (n,oh,ow): a [C*KH*KW, N*OH*OW] matrix.
@compute @workgroup_size(64)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.total) { return; }
    let P = p.oh * p.ow;
    let Q = p.n * P;
    let k = e / Q;
    let q = e - k * Q;
    let KK = p.kh * p.kw;
    let c = k / KK;
    let r = k - c * KK;
    let kh = r / p.kw;
    let kw = r - kh * p.kw;
    let n = q / P;
    let rq = q - n * P;
    let oh = rq / p.ow;
    let ow = rq - oh * p.ow;
    let ih = i32(oh * p.sh + kh) - i32(p.ph);
    let iw = i32(ow * p.sw + kw) - i32(p.pw);
    let ok = u32(ih) < p.h && u32(iw) < p.w;
    let src = select(0, i32((n * p.c + c) * p.h * p.w) + ih * i32(p.w) + iw, ok);
    out[e] = select(0.0, ld(xs, u32(src)), ok);
}

// dx[n,c,ih,iw] = sum over the (kh,kw) that reach it of dy[(c,kh,kw), (n,oh,ow)]
// where dy holds the [C*KH*KW, N*OH*OW] column gradient. One thread per dx.
@compute @workgroup_size(64)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.total) { return; }
    let iw = e % p.w;
    var rest = e / p.w;
    let ih = rest % p.h;
    rest = rest / p.h;
    let c = rest % p.c;
    let n = rest / p.c;
    let P = p.oh * p.ow;
    let Q = p.n * P;
    let KK = p.kh * p.kw;
    var s = 0.0;
    for (var kh = (ih + p.ph) % p.sh; kh < p.kh; kh += p.sh) {
        let num = i32(ih + p.ph) - i32(kh);
        if (num < 0) { break; }
        let oh = u32(num) / p.sh;
        if (oh >= p.oh) { continue; }
        for (var kw = (iw + p.pw) % p.sw; kw < p.kw; kw += p.sw) {
            let numw = i32(iw + p.pw) - i32(kw);
            if (numw < 0) { break; }
            let ow = u32(numw) / p.sw;
            if (ow >= p.ow) { continue; }
            s += ld(dyt, (c * KK + kh * p.kw + kw) * Q + n * P + oh * p.ow + ow);
        }
    }
    out[e] = s;
}

// out[b, a, i] = x[a, b, i] (+ bias[a] when flags bit0), x: [A=p.c, B=p.n, I=p.h].
// Turns the GEMM's [O, N*P] into NCHW and NCHW dy into [O, N*P].
@compute @workgroup_size(64)
fn swap01(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear(gid, nwg);
    if (e >= p.total) { return; }
    let I = p.h;
    let i = e % I;
    let rest = e / I;
    let a = rest % p.c;
    let b = rest / p.c;
    let v = ld(xs, (a * p.n + b) * I + i);
    out[e] = v + select(0.0, bias[a], (p.flags & 1u) != 0u);
}

// Pixel-space attack kernels (SPEC §1-3). Per-image state lives in GPU
// buffers; the host reads back only what it must decide on.
//
//   pgd_step    FGSM / PGD step, L∞ or L2, projection + box clip  (1 workgroup per image)
//   pgd_step_inf4  the L∞ step on vec4s (features per image a multiple of 4)
//   cw_prep     C&W change of variables: state (0, 0, 0, w0), x' = x̄ = tanh(w0)·mul+plus
//   cw_eval     C&W loss, compare, best tracking, abort-early, dL/dZ seed (1 lane per image)
//   cw_adam     C&W best copy, chain rule through tanh, TF-style Adam on δ, the next x' and its L2
//   jsma_seed   JSMA stopping test + backward seeds for α (target) and β (others)
//   jsma_pairs  masked pair saliency search with exact row pruning, partial argmax per tile (no n² buffer)
//   jsma_apply  final argmax over tiles, perturb the pair, shrink the domain
//
// Entry points are few on purpose: lavapipe JIT costs 13-150 ms each.

struct Params {
    n: u32,          // features per image (C*H*W)
    batch: u32,
    classes: u32,
    mode: u32,       // pgd: 0 L∞, 1 L2. cw_eval: 0 record, 1 record + abort check, 2 loss only. jsma_seed: 0 probs, 1 logits
    eps: f32,
    step: f32,
    lo: f32,         // pixel box
    hi: f32,
    dir: f32,        // +1 ascend the loss, -1 descend it
    kappa: f32,
    mul: f32,        // (hi-lo)/2
    plus: f32,       // (hi+lo)/2
    lr_t: f32,       // Adam lr·sqrt(1-β2^t)/(1-β1^t)
    beta1: f32,
    beta2: f32,
    adam_eps: f32,
    tiles: u32,
    max_iters: u32,
    theta: f32,
    flags: u32,      // bit0: pgd project / cw targeted; bit1: jsma increase
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;
// Per-image kernels (pgd_step, cw_eval): one workgroup of IWG threads per image.
const IWG: u32 = 64u;
var<workgroup> ired: array<f32, 64>;
var<workgroup> red: array<f32, 256>;
var<workgroup> redk: array<u32, 256>;
var<workgroup> bflag: u32;

// Sum of `v` over an IWG-thread workgroup (every thread gets it). Uniform control flow only.
fn wg_sum(lid: u32, v: f32) -> f32 {
    ired[lid] = v;
    workgroupBarrier();
    for (var s = IWG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) { ired[lid] += ired[lid + s]; }
        workgroupBarrier();
    }
    let r = ired[0];
    workgroupBarrier();
    return r;
}

// tanh without overflow inside exp-based implementations.
fn tanh_s(x: f32) -> f32 {
    return tanh(clamp(x, -20.0, 20.0));
}

// ---- FGSM / PGD -------------------------------------------------------------

@group(0) @binding(1) var<storage, read> x0: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> xk: array<f32>;

// xk <- clip_box( proj_{x0,eps}( xk + step·dir·d(grad) ) ), d = sign (L∞) or
// g/max(1e-12,||g||₂) (L2). Projection only when flags bit0 is set (PGD).
@compute @workgroup_size(64)
fn pgd_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let b = wid.x;
    if (b >= p.batch) { return; }
    let lid = lid3.x;
    let base = b * p.n;
    let project = (p.flags & 1u) != 0u;
    let a = p.step * p.dir;
    if (p.mode == 0u) {
        for (var i = lid; i < p.n; i += IWG) {
            let k = base + i;
            var v = xk[k] + a * sign(grad[k]);
            if (project) { v = clamp(v, x0[k] - p.eps, x0[k] + p.eps); }
            xk[k] = clamp(v, p.lo, p.hi);
        }
        return;
    }
    var s = 0.0;
    for (var i = lid; i < p.n; i += IWG) {
        let g = grad[base + i];
        s += g * g;
    }
    let gn = max(1e-12, sqrt(wg_sum(lid, s)));
    var d = 0.0;
    for (var i = lid; i < p.n; i += IWG) {
        let k = base + i;
        let v = xk[k] + a * (grad[k] / gn);
        xk[k] = v;
        let e = v - x0[k];
        d += e * e;
    }
    var f = 1.0;
    if (project) {
        // cleverhans clip_eta: eta *= min(1, eps / sqrt(max(1e-12, ||eta||²)))
        let dn = sqrt(max(1e-12, wg_sum(lid, d)));
        f = min(1.0, p.eps / dn);
    }
    for (var i = lid; i < p.n; i += IWG) {
        let k = base + i;
        var v = xk[k];
        if (project) { v = x0[k] + (v - x0[k]) * f; }
        xk[k] = clamp(v, p.lo, p.hi);
    }
}

// vec4 view of xk for pgd_step_inf4's stores.
@group(0) @binding(27) var<storage, read_write> xk4: array<vec4<f32>>;

// pgd_step's L∞ step on vec4s (features per image a multiple of 4): no
// reduction, so one lane per 4 features of the flat batch. x0, grad and xk
// are read from linear-texture copies (texel fetches instead of per-lane
// storage loads; x0's copy is kept across PGD steps): 10-12 ms a batch
// with scalar storage loads, 6.5 with vec4 ones, ~1.3 with textures (FGSM
// at 1000 x 784 on lavapipe, --profile).
@group(0) @binding(32) var x0t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(33) var gradt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(34) var xkt: texture_storage_2d<rgba32float, read>;

@compute @workgroup_size(256)
fn pgd_step_inf4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n / 4u * p.batch) { return; }
    var v = ldt(xkt, i) + p.step * p.dir * sign(ldt(gradt, i));
    if ((p.flags & 1u) != 0u) {
        let x = ldt(x0t, i);
        v = clamp(v, x - p.eps, x + p.eps);
    }
    xk4[i] = clamp(v, vec4<f32>(p.lo), vec4<f32>(p.hi));
}

// ---- Carlini-Wagner L2 -----------------------------------------------------

@group(0) @binding(4) var<storage, read> cw_x: array<f32>;
// Per element: (δ, Adam m, Adam v, w0), one vec4 so that cw_adam makes one
// load and one store of it (llvmpipe's cost follows the count of storage
// accesses: seven loads and four stores of separate arrays took 30 ms per
// step at 1000 x 784, cw_eval's L2 pass and best copy another 10 ms).
@group(0) @binding(5) var<storage, read_write> cw_s: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> cw_xp: array<f32>;
@group(0) @binding(8) var<storage, read> logits: array<f32>;
@group(0) @binding(9) var<storage, read> lab: array<u32>;
@group(0) @binding(10) var<storage, read_write> cw_st: array<f32>;
@group(0) @binding(11) var<storage, read_write> cw_best: array<f32>;
@group(0) @binding(12) var<storage, read_write> cw_dz: array<f32>;
@group(0) @binding(13) var<storage, read> cw_gx: array<f32>;
// cw_adam reads the state and the input gradient from linear-texture
// copies of cw_s and cw_gx (see Gpu::dispatch_binds): on lavapipe a texel
// fetch costs a fraction of a per-lane storage load.
@group(0) @binding(30) var cw_st4t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(31) var cw_gxt: texture_storage_2d<rgba32float, read>;

// @include common/linear_tex.wgsl

// Per-image state row of cw_st (ST floats):
const ST: u32 = 12u;
const S_C: u32 = 0u;        // c
const S_BESTL2: u32 = 1u;   // best L2 this outer step (1e10)
const S_BESTSC: u32 = 2u;   // its argmax class (-1: none)
const S_OBESTL2: u32 = 3u;  // best L2 over all steps
const S_OBESTSC: u32 = 4u;  // its argmax class (-1: none)
const S_LOSS: u32 = 5u;     // loss of the last evaluated iterate
const S_PREV: u32 = 6u;     // abort-early reference loss (+inf)
const S_ACTIVE: u32 = 7u;   // 1: still iterating in this outer step
const S_ITERS: u32 = 8u;    // iterates evaluated (all steps)
const S_L2: u32 = 9u;       // ||x' - x̄||² of the current iterate (cw_adam writes it; 0 at δ = 0)
const S_COPY: u32 = 10u;    // 1: cw_eval found x' the best overall, cw_adam copies it

// Lanes per image of cw_adam (a power of two dividing 64, set by the host):
// 1 on CPU adapters, where a lane walks its image alone and the L2 needs no
// barrier; 64 on GPUs, where the lanes of a workgroup share one image and
// its loads coalesce.
override LPI: u32 = 1u;

fn idx1(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

fn cw_xval(w: f32) -> f32 {
    return tanh_s(w) * p.mul + p.plus;
}

// w0 = artanh((x-plus)/mul · 0.999999); state (δ, m, v, w0) = (0, 0, 0, w0);
// x' = x̄ = tanh(w0)·mul + plus. Also the reset at each binary-search step.
@compute @workgroup_size(256)
fn cw_prep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = idx1(gid, nwg);
    if (i >= p.n * p.batch) { return; }
    let w = atanh((cw_x[i] - p.plus) / p.mul * 0.999999);
    cw_s[i] = vec4<f32>(0.0, 0.0, 0.0, w);
    cw_xp[i] = cw_xval(w);
}

// One lane per image: loss of the current iterate from its logits and the
// L2 cw_adam left in the state, abort-early, best tracking (S_COPY asks
// cw_adam to copy x'), and the seed dZ = ∂(c·f)/∂Z.
@compute @workgroup_size(64)
fn cw_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = gid.x + gid.y * nwg.x * 64u;
    if (b >= p.batch) { return; }
    let k = p.classes;
    let zb = b * k;
    let y = lab[b];
    let sb = b * ST;
    let c = cw_st[sb + S_C];
    let l2 = cw_st[sb + S_L2];
    let targeted = (p.flags & 1u) != 0u;
    // kappa-adjusted compare as in Carlini's `compare`: targeted Z_t -= κ, untargeted Z_y += κ
    let adj = select(p.kappa, -p.kappa, targeted);
    var top = 0u;
    var topv = logits[zb];
    var atop = 0u;
    var atopv = logits[zb] + select(0.0, adj, y == 0u);
    var jstar = k;
    var other = 0.0;
    for (var j = 0u; j < k; j++) {
        let z = logits[zb + j];
        if (z > topv) { top = j; topv = z; }
        let za = z + select(0.0, adj, j == y);
        if (za > atopv) { atop = j; atopv = za; }
        if (j != y && (jstar == k || z > other)) { jstar = j; other = z; }
    }
    let real = logits[zb + y];
    var f: f32;
    if (targeted) { f = max(0.0, other - real + p.kappa); } else { f = max(0.0, real - other + p.kappa); }
    let loss = l2 + c * f;
    cw_st[sb + S_LOSS] = loss;
    if (p.mode == 2u) { return; }
    var still_active = cw_st[sb + S_ACTIVE] != 0.0;
    if (still_active && p.mode == 1u) {
        if (loss > cw_st[sb + S_PREV] * 0.9999) {
            still_active = false;
            cw_st[sb + S_ACTIVE] = 0.0;
        } else {
            cw_st[sb + S_PREV] = loss;
        }
    }
    for (var j = 0u; j < k; j++) { cw_dz[zb + j] = 0.0; }
    var copy = 0.0;
    if (still_active) {
        cw_st[sb + S_ITERS] += 1.0;
        let ok = select(atop != y, atop == y, targeted);
        if (ok && l2 < cw_st[sb + S_BESTL2]) {
            cw_st[sb + S_BESTL2] = l2;
            cw_st[sb + S_BESTSC] = f32(top);
        }
        if (ok && l2 < cw_st[sb + S_OBESTL2]) {
            cw_st[sb + S_OBESTL2] = l2;
            cw_st[sb + S_OBESTSC] = f32(top);
            copy = 1.0;
        }
        // d(c·f)/dZ; tf.maximum(0, ·) passes no gradient at 0
        if (f > 0.0 && jstar < k) {
            if (targeted) {
                cw_dz[zb + jstar] = c;
                cw_dz[zb + y] = -c;
            } else {
                cw_dz[zb + y] = c;
                cw_dz[zb + jstar] = -c;
            }
        }
    }
    cw_st[sb + S_COPY] = copy;
}

// Per image (LPI lanes, striding its features): copy x' to the best image
// when cw_eval asked; g_δ = (∂(c·f)/∂x' + 2(x'-x̄))·(1-tanh²)·mul with x'
// and x̄ recomputed from (δ, w0) exactly as they were built; TF Adam on δ;
// the next x' = tanh(δ+w0)·mul + plus and its ||x' - x̄||² into the state.
// Images that aborted are left alone. Dispatch: 64 / LPI images per workgroup.
@compute @workgroup_size(64)
fn cw_adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let lane = gid.x + gid.y * nwg.x * 64u;
    let b = lane / LPI;
    let r = lane % LPI;
    let sb = b * ST;
    var l2 = 0.0;
    let run = b < p.batch && cw_st[sb + S_ACTIVE] != 0.0;
    if (run) {
        let copy = cw_st[sb + S_COPY] != 0.0;
        let base = b * p.n;
        for (var f = r; f < p.n; f += LPI) {
            let i = base + f;
            let s = ldt(cw_st4t, i);
            let t = tanh_s(s.x + s.w);
            let xp = t * p.mul + p.plus;
            if (copy) { cw_best[i] = xp; }
            let xb = cw_xval(s.w);
            let g = (ld(cw_gxt, i) + 2.0 * (xp - xb)) * (1.0 - t * t) * p.mul;
            let m = p.beta1 * s.y + (1.0 - p.beta1) * g;
            let v = p.beta2 * s.z + (1.0 - p.beta2) * g * g;
            let d = s.x - p.lr_t * m / (sqrt(v) + p.adam_eps);
            cw_s[i] = vec4<f32>(d, m, v, s.w);
            let xn = cw_xval(d + s.w);
            cw_xp[i] = xn;
            l2 += (xn - xb) * (xn - xb);
        }
    }
    if (LPI > 1u) {
        // sum the image's LPI partials (segments of LPI lanes in the workgroup)
        let lid = lid3.x;
        ired[lid] = l2;
        workgroupBarrier();
        for (var s = LPI / 2u; s > 0u; s = s >> 1u) {
            if (r < s) { ired[lid] += ired[lid + s]; }
            workgroupBarrier();
        }
        l2 = ired[lid];
    }
    if (run && r == 0u) { cw_st[sb + S_L2] = l2; }
}

// ---- JSMA ------------------------------------------------------------------

// Per-image state row of js_st (4 u32): active, iterations, |Γ|, stop reason
// (0 running, 1 target reached, 2 max iterations, 3 domain < 2, 4 no valid pair).
@group(0) @binding(16) var<storage, read_write> js_st: array<u32>;
@group(0) @binding(17) var<storage, read_write> js_sa: array<f32>;
@group(0) @binding(18) var<storage, read_write> js_sb: array<f32>;
@group(0) @binding(19) var<storage, read> js_alpha: array<f32>;
@group(0) @binding(20) var<storage, read> js_beta: array<f32>;
@group(0) @binding(21) var<storage, read_write> js_dom: array<u32>;
@group(0) @binding(22) var<storage, read_write> js_part: array<u32>;
@group(0) @binding(23) var<storage, read_write> js_x: array<f32>;

// One thread per image: stop test on the current logits, then the backward
// seeds: sa = ∂F_t/∂Z, sb = Σ_{c≠t} ∂F_c/∂Z with F = softmax (mode 0) or Z (mode 1).
@compute @workgroup_size(64)
fn jsma_seed(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = gid.x + gid.y * nwg.x * 64u;
    if (b >= p.batch) { return; }
    let k = p.classes;
    let zb = b * k;
    let t = lab[b];
    let sb = b * 4u;
    for (var j = 0u; j < k; j++) {
        js_sa[zb + j] = 0.0;
        js_sb[zb + j] = 0.0;
    }
    if (js_st[sb] == 0u) { return; }
    var top = 0u;
    var m = logits[zb];
    for (var j = 1u; j < k; j++) {
        if (logits[zb + j] > m) { top = j; m = logits[zb + j]; }
    }
    if (top == t) { js_st[sb] = 0u; js_st[sb + 3u] = 1u; return; }
    if (js_st[sb + 1u] >= p.max_iters) { js_st[sb] = 0u; js_st[sb + 3u] = 2u; return; }
    if (js_st[sb + 2u] < 2u) { js_st[sb] = 0u; js_st[sb + 3u] = 3u; return; }
    if (p.mode == 0u) {
        var s = 0.0;
        for (var j = 0u; j < k; j++) { s += exp(logits[zb + j] - m); }
        let pt = exp(logits[zb + t] - m) / s;
        var so = 0.0;
        for (var j = 0u; j < k; j++) {
            if (j != t) { so += exp(logits[zb + j] - m) / s; }
        }
        for (var j = 0u; j < k; j++) {
            let pj = exp(logits[zb + j] - m) / s;
            // ∂p_t/∂z_j = p_t(δ_tj - p_j);  Σ_{c≠t} ∂p_c/∂z_j = [j≠t]p_j - p_j Σ_{c≠t} p_c
            js_sa[zb + j] = pt * (select(0.0, 1.0, j == t) - pj);
            js_sb[zb + j] = select(pj, 0.0, j == t) - pj * so;
        }
    } else {
        for (var j = 0u; j < k; j++) {
            js_sa[zb + j] = select(0.0, 1.0, j == t);
            js_sb[zb + j] = select(1.0, 0.0, j == t);
        }
    }
}

// better(s1,k1) than (s0,k0): higher score, ties to the smaller pair key
// (the first maximum of cleverhans' row-major n×n argmax).
fn better(s1: f32, k1: u32, s0: f32, k0: u32) -> bool {
    return s1 > s0 || (s1 == s0 && k1 < k0);
}

var<workgroup> r_u: array<f32, 256>;
var<workgroup> r_v: array<f32, 256>;
var<workgroup> r_iu: array<u32, 256>;
var<workgroup> r_iv: array<u32, 256>;
var<workgroup> r_w1: array<f32, 256>;
var<workgroup> r_i1: array<u32, 256>;
var<workgroup> r_w2: array<f32, 256>;
var<workgroup> r_i2: array<u32, 256>;
var<workgroup> w_act: u32;
var<workgroup> w_seed: vec2<u32>;

const NONE: f32 = -3.4e38;

// Score of the pair (p, q) with p != q both in Γ, exactly as the brute force:
// -A·B when A>0, B<0 (increase) or A<0, B>0 (decrease); 0 otherwise.
fn pair_score(base: u32, pp: u32, q: u32, inc: bool) -> f32 {
    let aa = js_alpha[base + pp] + js_alpha[base + q];
    let bb = js_beta[base + pp] + js_beta[base + q];
    let ok = select(aa < 0.0 && bb > 0.0, aa > 0.0 && bb < 0.0, inc);
    return select(0.0, -aa * bb, ok);
}

// Dispatch [tiles = ceil(ceil(n/2)/256), batch]. Thread i of the image
// scans rows p = i and p = n-1-i of the upper triangle (n-1 pairs per
// thread, balanced), both features in the search domain Γ. Writes
// (score bits, key p·n+q) per tile; key u32::MAX and score 0 where no pair
// qualifies.
//
// Exact pruning: with u = ±α and v = ∓β (signs so that a valid pair has
// u_p+u_q > 0 and v_p+v_q > 0, and score = (u_p+u_q)(v_p+v_q)), every pair
// of row p scores at most (u_p + max u)(v_p + max v) (also in f32: rounding
// is monotone). A prologue finds max u, max v over Γ and seeds the best
// score with the best pair among the top features by u, v and u+v; rows
// whose bound is below the best are skipped. With probabilities β ≈ -α,
// so nearly every row is skipped.
@compute @workgroup_size(256)
fn jsma_pairs(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let tile = wid.x;
    let b = wid.y;
    let lid = lid3.x;
    let n = p.n;
    let inc = (p.flags & 2u) != 0u;
    let sgn = select(-1.0, 1.0, inc);
    if (lid == 0u) {
        w_act = select(0u, js_st[b * 4u], b < p.batch);
    }
    let act = workgroupUniformLoad(&w_act);
    var best = 0.0;
    var bkey = 0xffffffffu;
    if (act != 0u) {
        let base = b * n;
        // prologue: max u, max v (with argmax) and the top two of u+v over Γ
        var um = NONE;
        var vm = NONE;
        var iu = 0xffffffffu;
        var iv = 0xffffffffu;
        var w1 = NONE;
        var i1 = 0xffffffffu;
        var w2 = NONE;
        var i2 = 0xffffffffu;
        for (var q = lid; q < n; q += WG) {
            if (js_dom[base + q] != 0u) {
                let u = sgn * js_alpha[base + q];
                let v = -sgn * js_beta[base + q];
                if (u > um) { um = u; iu = q; }
                if (v > vm) { vm = v; iv = q; }
                let w = u + v;
                if (w > w1) { w2 = w1; i2 = i1; w1 = w; i1 = q; } else if (w > w2) { w2 = w; i2 = q; }
            }
        }
        r_u[lid] = um; r_iu[lid] = iu;
        r_v[lid] = vm; r_iv[lid] = iv;
        r_w1[lid] = w1; r_i1[lid] = i1;
        r_w2[lid] = w2; r_i2[lid] = i2;
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s = s >> 1u) {
            if (lid < s) {
                let o = lid + s;
                if (r_u[o] > r_u[lid]) { r_u[lid] = r_u[o]; r_iu[lid] = r_iu[o]; }
                if (r_v[o] > r_v[lid]) { r_v[lid] = r_v[o]; r_iv[lid] = r_iv[o]; }
                // merge two sorted top-2 lists
                if (r_w1[o] > r_w1[lid]) {
                    if (r_w2[o] > r_w1[lid]) {
                        r_w2[lid] = r_w2[o]; r_i2[lid] = r_i2[o];
                    } else {
                        r_w2[lid] = r_w1[lid]; r_i2[lid] = r_i1[lid];
                    }
                    r_w1[lid] = r_w1[o]; r_i1[lid] = r_i1[o];
                } else if (r_w1[o] > r_w2[lid]) {
                    r_w2[lid] = r_w1[o]; r_i2[lid] = r_i1[o];
                }
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            // seed: the best valid pair among the candidate features
            var c: array<u32, 4> = array<u32, 4>(r_iu[0], r_iv[0], r_i1[0], r_i2[0]);
            var sb = 0.0;
            var kb = 0xffffffffu;
            for (var x = 0u; x < 4u; x++) {
                for (var y = 0u; y < 4u; y++) {
                    let f0 = c[x];
                    let f1 = c[y];
                    if (f0 < f1 && f1 < n) {
                        let s = pair_score(base, f0, f1, inc);
                        let key = f0 * n + f1;
                        if (s > 0.0 && better(s, key, sb, kb)) { sb = s; kb = key; }
                    }
                }
            }
            w_seed = vec2<u32>(bitcast<u32>(sb), kb);
        }
        let seed = workgroupUniformLoad(&w_seed);
        best = bitcast<f32>(seed.x);
        bkey = seed.y;
        let umax = r_u[0];
        let vmax = r_v[0];
        let i = tile * WG + lid;
        let half = (n + 1u) / 2u;
        if (i < half) {
            for (var r = 0u; r < 2u; r++) {
                let pp = select(n - 1u - i, i, r == 0u);
                if (r == 1u && pp == i) { break; }
                if (js_dom[base + pp] == 0u) { continue; }
                let ap = js_alpha[base + pp];
                let bp = js_beta[base + pp];
                let bu = sgn * ap + umax;
                let bv = -sgn * bp + vmax;
                if (!(bu > 0.0 && bv > 0.0 && bu * bv >= best)) { continue; }
                for (var q = pp + 1u; q < n; q++) {
                    if (js_dom[base + q] == 0u) { continue; }
                    let aa = ap + js_alpha[base + q];
                    let bb = bp + js_beta[base + q];
                    let ok = select(aa < 0.0 && bb > 0.0, aa > 0.0 && bb < 0.0, inc);
                    if (ok) {
                        let s = -aa * bb;
                        let key = pp * n + q;
                        if (better(s, key, best, bkey)) { best = s; bkey = key; }
                    }
                }
            }
        }
    }
    workgroupBarrier();
    red[lid] = best;
    redk[lid] = bkey;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            if (better(red[lid + s], redk[lid + s], red[lid], redk[lid])) {
                red[lid] = red[lid + s];
                redk[lid] = redk[lid + s];
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u && b < p.batch) {
        let o = (b * p.tiles + tile) * 2u;
        js_part[o] = bitcast<u32>(red[0]);
        js_part[o + 1u] = redk[0];
    }
}

// One thread per active image: best pair over the tiles; no pair with a
// positive score stops the image (SPEC §3 quirk 4: cleverhans would modify
// feature 0); else x_p, x_q move by θ within the box and leave Γ.
@compute @workgroup_size(64)
fn jsma_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = gid.x + gid.y * nwg.x * 64u;
    if (b >= p.batch) { return; }
    let sb = b * 4u;
    if (js_st[sb] == 0u) { return; }
    var best = 0.0;
    var bkey = 0xffffffffu;
    for (var t = 0u; t < p.tiles; t++) {
        let o = (b * p.tiles + t) * 2u;
        let s = bitcast<f32>(js_part[o]);
        let k = js_part[o + 1u];
        if (better(s, k, best, bkey)) { best = s; bkey = k; }
    }
    if (!(best > 0.0) || bkey == 0xffffffffu) {
        js_st[sb] = 0u;
        js_st[sb + 3u] = 4u;
        return;
    }
    let inc = (p.flags & 2u) != 0u;
    let base = b * p.n;
    let f0 = base + bkey / p.n;
    let f1 = base + bkey % p.n;
    let v0 = js_x[f0] + p.theta;
    let v1 = js_x[f1] + p.theta;
    js_x[f0] = select(max(p.lo, v0), min(p.hi, v0), inc);
    js_x[f1] = select(max(p.lo, v1), min(p.hi, v1), inc);
    js_dom[f0] = 0u;
    js_dom[f1] = 0u;
    js_st[sb + 2u] -= 2u;
    js_st[sb + 1u] += 1u;
}

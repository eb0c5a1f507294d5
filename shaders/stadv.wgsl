// stAdv optimisation step kernels (SPEC §4), batched: per-image state only,
// so the host reads nothing back until the end of a run.
//
// objective  one thread per image: the objective and the outcome of this
//            evaluation (cur), L_adv = max(margin, -kappa) from the
//            logits (targeted: max_{k!=t} Z_k - Z_t; untargeted:
//            Z_y - max_{k!=y} Z_k), its gradient d/dZ, the per-image weight
//            of L_flow's gradient (tau, or tau·1[L_flow > E] under the
//            hinge), and best-iterate tracking: strict success (goal met and
//            L_flow <= E) beats soft success (goal met) beats failure;
//            among successes the smaller L_flow wins; a failure is replaced
//            by the latest iterate.
// keep       one thread per flow element: copy the flow of every image whose
//            best iterate is this iteration.

struct Params {
    n: u32,
    k: u32,
    targeted: u32,
    iter: u32,
    kappa: f32,
    budget: f32,
    has_budget: u32,
    per: u32,   // flow elements per image (keep)
    track: u32, // objective: update best
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> cls: array<u32>;
@group(0) @binding(3) var<storage, read> lflow: array<f32>;
@group(0) @binding(4) var<storage, read> tau: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(6) var<storage, read_write> dlflow: array<f32>;
// two vec4 per image: (class 0 none/1 fail/2 soft/3 strict, L_flow, prediction, iteration),
// (margin, objective, 0, 0)
@group(0) @binding(7) var<storage, read_write> best: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> flow: array<f32>;
@group(0) @binding(9) var<storage, read_write> best_flow: array<f32>;
// this evaluation, same layout as best
@group(0) @binding(10) var<storage, read_write> cur: array<vec4<f32>>;

const WG: u32 = 64u;

@compute @workgroup_size(64)
fn objective(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = gid.x + gid.y * nwg.x * WG;
    if (n >= p.n) { return; }
    let base = n * p.k;
    let c = cls[n];
    let zc = logits[base + c];
    var ko = select(0u, 1u, c == 0u);
    var other = logits[base + ko];
    var pred = 0u;
    var zmax = logits[base];
    for (var k = 0u; k < p.k; k++) {
        let v = logits[base + k];
        if (v > zmax) { zmax = v; pred = k; }
        if (k != c && v > other) { other = v; ko = k; }
        dlogits[base + k] = 0.0;
    }
    let targeted = p.targeted != 0u;
    let margin = select(zc - other, other - zc, targeted);
    let ladv = max(margin, -p.kappa);
    if (margin > -p.kappa) {
        let sgn = select(-1.0, 1.0, targeted);
        dlogits[base + ko] = sgn;
        dlogits[base + c] = -sgn;
    }
    let lf = lflow[n];
    let has_budget = p.has_budget != 0u;
    let hinge = select(lf, max(lf - p.budget, 0.0), has_budget);
    dlflow[n] = select(tau[n], select(0.0, tau[n], lf > p.budget), has_budget);
    let soft = select(pred != c, pred == c, targeted);
    let strict = soft && (!has_budget || lf <= p.budget);
    let obj = ladv + tau[n] * hinge;
    let cl = select(select(1.0, 2.0, soft), 3.0, strict);
    let c0 = vec4<f32>(cl, lf, f32(pred), f32(p.iter));
    let c1 = vec4<f32>(margin, obj, 0.0, 0.0);
    cur[2u * n] = c0;
    cur[2u * n + 1u] = c1;
    let b = best[2u * n];
    if (p.track != 0u && (cl > b.x || (cl == b.x && (cl == 1.0 || lf < b.y)))) {
        best[2u * n] = c0;
        best[2u * n + 1u] = c1;
    }
}

@compute @workgroup_size(256)
fn keep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 256u;
    if (t >= p.n * p.per) { return; }
    let n = t / p.per;
    if (best[2u * n].w == f32(p.iter)) {
        best_flow[t] = flow[t];
    }
}

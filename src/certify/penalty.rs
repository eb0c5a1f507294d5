//! The certificate penalty of certified training (SPEC §6 training
//! objective, §7 for flows), on the host in f64:
//!
//!   penalty = weight · κ(ε) · Σ_{pairs i<j} [ D·λ⁺_max(P_ij − diag c_ij) + 1ᵀmax(c_ij, 0) ]
//!
//! with P_ij the bipartite matrix of [`super::bipartite`] (L∞: the corrected
//! M; flow: [[0, B], [Bᵀ, 0]]), κ = ε/4 (L∞) or ε/2 (flow), and one dual
//! vector c_ij per unordered pair (SDP(M(v)) = SDP(M(−v)), so the 90
//! ordered pairs of Raghunathan et al. collapse to 45).
//!
//! λ_max comes from a k-step Lanczos per pair, batched over the pairs (one
//! pass over W per step serves every pair's W·x and Wᵀ·y), warm-started
//! from the previous call's Ritz vector u. Its gradient is uuᵀ
//! (Hellmann–Feynman): with u = [u_l; u_r], uᵀPu = 2·ãᵀW r̃ where ã = Lᵀu_l
//! (L∞: v⊙(u₀ + u_s); flow: γv⊙u_s) and r̃ = R u_r (L∞: u_t; flow:
//! λ⊙(u_Δu + u_Δv)), so ∂/∂W = 2ã r̃ᵀ, ∂/∂v = 2 (Lᵀ-factor)⊙(W r̃), and
//! ∂/∂c = −D·u⊙u·1[λ>0] + 1[c>0]. The Ritz value is ≤ λ_max: the penalty is
//! an estimate for training; bounds that certify come from `advlab certify`.

use super::linalg::{axpy, dot};
use super::network::Threat;

/// Rows of W per cache block in the batched products.
const HB: usize = 16;

/// The MLP's weights as the penalty sees them (row-major, f64).
pub struct PenaltyWeights<'a> {
    pub m: usize,
    pub d: usize,
    pub k: usize,
    /// fc1.weight, m×d
    pub w1: &'a [f64],
    /// fc2.weight, k×m
    pub w2: &'a [f64],
}

/// The penalty's settings and its warm-start state.
pub struct Penalty {
    pub threat: Threat,
    pub eps: f64,
    pub weight: f64,
    /// Lanczos steps per call.
    pub steps: usize,
    /// Flow: the pixel range γ.
    pub gamma: f64,
    /// Per input: λ (flow, repeated over channels) or 1 (L∞).
    pub b: Vec<f64>,
    pub pairs: Vec<(usize, usize)>,
    /// Per pair: the last Ritz vector (length D).
    pub warm: Vec<Vec<f64>>,
}

/// One evaluation: value and gradients (f64), with the per-pair Ritz values.
pub struct PenaltyOut {
    /// weight · κ · Σ_pairs bound_p
    pub value: f64,
    /// Per pair: D·θ⁺ + Σ max(c, 0) (θ the Ritz value).
    pub bounds: Vec<f64>,
    pub theta: Vec<f64>,
    pub grad_w1: Vec<f64>,
    pub grad_w2: Vec<f64>,
    /// pairs × D
    pub grad_c: Vec<f64>,
}

impl Penalty {
    /// `b`: per input, λ for flows (length d), ignored for L∞.
    pub fn new(threat: Threat, eps: f64, weight: f64, steps: usize, gamma: f64, b: Vec<f64>, k: usize) -> Penalty {
        let pairs = super::network::class_pairs(k);
        Penalty { threat, eps, weight, steps: steps.max(1), gamma, b, pairs, warm: Vec::new() }
    }

    fn linf(&self) -> bool {
        self.threat == Threat::Linf
    }
    /// Rows of the left block (constant + hidden for L∞).
    pub fn rows(&self, m: usize) -> usize {
        self.threat.left_rows(m)
    }
    /// Columns of the right block.
    pub fn cols(&self, d: usize) -> usize {
        self.threat.right_cols(d)
    }
    pub fn dim(&self, m: usize, d: usize) -> usize {
        self.rows(m) + self.cols(d)
    }
    /// The factor κ(ε) times the weight.
    pub fn scale(&self) -> f64 {
        self.weight * self.threat.bound_factor(self.eps)
    }

    /// Pair vectors a_p = γ_eff·(V_i − V_j), pairs×m.
    fn pair_vectors(&self, net: &PenaltyWeights) -> Vec<f64> {
        let g = if self.linf() { 1.0 } else { self.gamma };
        let m = net.m;
        self.pairs.iter().flat_map(|&(i, j)| (0..m).map(move |h| g * (net.w2[i * m + h] - net.w2[j * m + h]))).collect()
    }

    /// ã = Lᵀx_l (m) and r̃ = R x_r (d) of one vector x = [x_l; x_r].
    fn reduce(&self, a: &[f64], x: &[f64], m: usize, d: usize, at: &mut [f64], rt: &mut [f64]) {
        let rows = self.rows(m);
        for h in 0..m {
            at[h] = if self.linf() { a[h] * (x[0] + x[1 + h]) } else { a[h] * x[h] };
        }
        for q in 0..d {
            rt[q] = if self.linf() { x[rows + q] } else { self.b[q] * (x[rows + q] + x[rows + d + q]) };
        }
    }

    /// y = (P − diag c)·x for every pair at once; xs, ys, c: pairs × D.
    fn apply_all(&self, net: &PenaltyWeights, a: &[f64], c: &[f64], xs: &[f64], ys: &mut [f64]) {
        let (m, d, np) = (net.m, net.d, self.pairs.len());
        let dim = self.dim(m, d);
        let rows = self.rows(m);
        // Ã (m×np) and R̃ (d×np), pair index fastest
        let mut at = vec![0.0; m * np];
        let mut rt = vec![0.0; d * np];
        let (mut ta, mut tr) = (vec![0.0; m], vec![0.0; d]);
        for p in 0..np {
            self.reduce(&a[p * m..(p + 1) * m], &xs[p * dim..(p + 1) * dim], m, d, &mut ta, &mut tr);
            for h in 0..m {
                at[h * np + p] = ta[h];
            }
            for q in 0..d {
                rt[q * np + p] = tr[q];
            }
        }
        // one pass over W: Y = W R̃ (m×np), Z = Wᵀ Ã (d×np)
        let mut y = vec![0.0; m * np];
        let mut z = vec![0.0; d * np];
        // blocks of HB rows of W keep their Y and Ã rows in L1 while each
        // R̃ and Z row is touched once per block
        for h0 in (0..m).step_by(HB) {
            let h1 = (h0 + HB).min(m);
            for q in 0..d {
                let (rq, zq) = (&rt[q * np..(q + 1) * np], &mut z[q * np..(q + 1) * np]);
                for h in h0..h1 {
                    let w = net.w1[h * d + q];
                    axpy(w, rq, &mut y[h * np..(h + 1) * np]);
                    axpy(w, &at[h * np..(h + 1) * np], zq);
                }
            }
        }
        for p in 0..np {
            let ap = &a[p * m..(p + 1) * m];
            let (x, yo, cp) =
                (&xs[p * dim..(p + 1) * dim], &mut ys[p * dim..(p + 1) * dim], &c[p * dim..(p + 1) * dim]);
            // left block: L·(W r̃)
            if self.linf() {
                yo[0] = (0..m).map(|h| ap[h] * y[h * np + p]).sum();
            }
            for h in 0..m {
                yo[rows - m + h] = ap[h] * y[h * np + p];
            }
            // right block: Rᵀ·(Wᵀ ã)
            for q in 0..d {
                let zq = z[q * np + p];
                if self.linf() {
                    yo[rows + q] = zq;
                } else {
                    yo[rows + q] = self.b[q] * zq;
                    yo[rows + d + q] = self.b[q] * zq;
                }
            }
            for i in 0..dim {
                yo[i] -= cp[i] * x[i];
            }
        }
    }

    /// Ritz pairs (θ_p, u_p) of P_p − diag c_p by `steps` Lanczos steps
    /// (full reorthogonalisation) from the warm vectors, batched.
    pub fn ritz(&mut self, net: &PenaltyWeights, c: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (m, d, np) = (net.m, net.d, self.pairs.len());
        let dim = self.dim(m, d);
        assert_eq!(c.len(), np * dim, "penalty: c must be pairs × D");
        let a = self.pair_vectors(net);
        if self.warm.len() != np || self.warm.iter().any(|w| w.len() != dim) {
            self.warm = (0..np)
                .map(|p| (0..dim).map(|i| 1.0 + ((i * 2654435761 + p * 40503) % 1000) as f64 * 1e-3).collect())
                .collect();
        }
        let steps = self.steps.min(dim);
        let mut q: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(steps); np];
        let mut alpha = vec![Vec::new(); np];
        let mut beta = vec![Vec::new(); np];
        let mut live = vec![true; np];
        let mut xs = vec![0.0; np * dim];
        for p in 0..np {
            let w = &self.warm[p];
            let n = dot(w, w).sqrt();
            xs[p * dim..(p + 1) * dim].iter_mut().zip(w).for_each(|(x, v)| *x = v / n);
        }
        let mut ys = vec![0.0; np * dim];
        for k in 0..steps {
            self.apply_all(net, &a, c, &xs, &mut ys);
            for p in 0..np {
                if !live[p] {
                    continue;
                }
                let v = xs[p * dim..(p + 1) * dim].to_vec();
                let wv = &mut ys[p * dim..(p + 1) * dim];
                let al = dot(&v, wv);
                alpha[p].push(al);
                q[p].push(v);
                for _ in 0..2 {
                    for qi in &q[p] {
                        let hh = dot(qi, wv);
                        axpy(-hh, qi, wv);
                    }
                }
                let bt = dot(wv, wv).sqrt();
                let scale = alpha[p].iter().chain(&beta[p]).fold(1e-300f64, |s, x| s.max(x.abs()));
                if k + 1 == steps || bt.is_nan() || bt <= 1e-10 * scale {
                    live[p] = false;
                    xs[p * dim..(p + 1) * dim].iter_mut().for_each(|x| *x = 0.0);
                    continue;
                }
                beta[p].push(bt);
                let xo = &mut xs[p * dim..(p + 1) * dim];
                xo.iter_mut().zip(wv.iter()).for_each(|(x, w)| *x = w / bt);
            }
            if !live.iter().any(|&l| l) {
                break;
            }
        }
        let mut theta = vec![0.0; np];
        let mut u = vec![0.0; np * dim];
        for p in 0..np {
            let kk = alpha[p].len();
            let (val, s) = tridiag_top(&alpha[p], &beta[p][..kk - 1]);
            theta[p] = val;
            let up = &mut u[p * dim..(p + 1) * dim];
            for (qi, si) in q[p].iter().zip(&s) {
                axpy(*si, qi, up);
            }
            let n = dot(up, up).sqrt();
            up.iter_mut().for_each(|x| *x /= n);
            self.warm[p] = up.to_vec();
        }
        (theta, u)
    }

    /// Value and gradients at (W₁, W₂, c).
    pub fn evaluate(&mut self, net: &PenaltyWeights, c: &[f64]) -> PenaltyOut {
        let (m, d, k, np) = (net.m, net.d, net.k, self.pairs.len());
        let dim = self.dim(m, d);
        let (theta, u) = self.ritz(net, c);
        let a = self.pair_vectors(net);
        let s = self.scale();
        let big_d = dim as f64;
        let mut bounds = vec![0.0; np];
        let mut grad_c = vec![0.0; np * dim];
        let mut grad_w2 = vec![0.0; k * m];
        // per pair: coefficient of uᵀPu in the penalty, ã and r̃
        let mut at = vec![0.0; m * np];
        let mut rt = vec![0.0; d * np];
        let (mut ta, mut tr) = (vec![0.0; m], vec![0.0; d]);
        let g = if self.linf() { 1.0 } else { self.gamma };
        for p in 0..np {
            let cp = &c[p * dim..(p + 1) * dim];
            let up = &u[p * dim..(p + 1) * dim];
            let pos = theta[p] > 0.0;
            bounds[p] = big_d * theta[p].max(0.0) + cp.iter().map(|x| x.max(0.0)).sum::<f64>();
            for i in 0..dim {
                grad_c[p * dim + i] = s * ((cp[i] > 0.0) as u8 as f64 - if pos { big_d * up[i] * up[i] } else { 0.0 });
            }
            if !pos {
                continue;
            }
            let coef = s * big_d;
            // ã without the pair vector: the factor of v in uᵀPu = 2 Σ_h v_h f_h (W r̃)_h
            self.reduce(&vec![1.0; m], up, m, d, &mut ta, &mut tr);
            let wr: Vec<f64> = (0..m).map(|h| dot(&net.w1[h * d..(h + 1) * d], &tr)).collect();
            let (i, j) = self.pairs[p];
            for h in 0..m {
                let gv = coef * 2.0 * ta[h] * wr[h] * g;
                grad_w2[i * m + h] += gv;
                grad_w2[j * m + h] -= gv;
                at[h * np + p] = coef * 2.0 * ta[h] * a[p * m + h];
            }
            for q in 0..d {
                rt[q * np + p] = tr[q];
            }
        }
        // ∂/∂W₁ = Σ_p coef_p·2·ã_p r̃_pᵀ (the coefficients folded into Ã)
        let mut grad_w1 = vec![0.0; m * d];
        for h0 in (0..m).step_by(HB) {
            let h1 = (h0 + HB).min(m);
            for q in 0..d {
                let rq = &rt[q * np..(q + 1) * np];
                for h in h0..h1 {
                    grad_w1[h * d + q] = dot(&at[h * np..(h + 1) * np], rq);
                }
            }
        }
        let value = s * bounds.iter().sum::<f64>();
        PenaltyOut { value, bounds, theta, grad_w1, grad_w2, grad_c }
    }
}

/// The largest eigenpair of the symmetric tridiagonal (alpha, beta) by
/// cyclic Jacobi on the dense k×k matrix (k is a few dozen at most).
pub fn tridiag_top(alpha: &[f64], beta: &[f64]) -> (f64, Vec<f64>) {
    let k = alpha.len();
    let mut a = vec![0.0; k * k];
    for i in 0..k {
        a[i * k + i] = alpha[i];
        if i + 1 < k {
            a[i * k + i + 1] = beta[i];
            a[(i + 1) * k + i] = beta[i];
        }
    }
    let mut v = vec![0.0; k * k];
    for i in 0..k {
        v[i * k + i] = 1.0;
    }
    for _ in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * k + j].powi(2))
            .sum();
        let tot: f64 = a.iter().map(|x| x * x).sum();
        if off <= 1e-30 * tot.max(1e-300) {
            break;
        }
        for p in 0..k {
            for r in p + 1..k {
                let apr = a[p * k + r];
                if apr == 0.0 {
                    continue;
                }
                let th = (a[r * k + r] - a[p * k + p]) / (2.0 * apr);
                let t = th.signum() / (th.abs() + (th * th + 1.0).sqrt());
                let t = if th == 0.0 { 1.0 } else { t };
                let cs = 1.0 / (t * t + 1.0).sqrt();
                let sn = t * cs;
                for i in 0..k {
                    let (aip, air) = (a[i * k + p], a[i * k + r]);
                    a[i * k + p] = cs * aip - sn * air;
                    a[i * k + r] = sn * aip + cs * air;
                }
                for i in 0..k {
                    let (api, ari) = (a[p * k + i], a[r * k + i]);
                    a[p * k + i] = cs * api - sn * ari;
                    a[r * k + i] = sn * api + cs * ari;
                }
                for i in 0..k {
                    let (vip, vir) = (v[i * k + p], v[i * k + r]);
                    v[i * k + p] = cs * vip - sn * vir;
                    v[i * k + r] = sn * vip + cs * vir;
                }
            }
        }
    }
    let top = (0..k).fold(0, |b, i| if a[i * k + i] > a[b * k + b] { i } else { b });
    (a[top * k + top], (0..k).map(|i| v[i * k + top]).collect())
}

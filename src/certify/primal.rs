//! The certificate penalty from the SDP *primal* (Danskin): a low-rank
//! mixing-method factor V_p per class pair, kept across training steps and
//! advanced by a few block sweeps per step on the current weights, and the
//! gradient of ⟨P_p(W), V_p V_pᵀ⟩ at fixed V_p.
//!
//! Why: SDP(P(W)) = max_Z ⟨P(W), Z⟩ over a set that does not depend on W,
//! so at the maximiser Z* its gradient is ∂⟨P(W), Z*⟩/∂W (Danskin). The
//! dual route of [`super::penalty`] reaches the same value only when the
//! jointly trained c_ij sit at their optimum; in practice they lag (a
//! nonsmooth λ_max minimised by Adam) and the rank-one uuᵀ subgradient of
//! a degenerate top eigenspace is a poor direction. Here every iterate is
//! feasible (unit rows, diag Z = 1), so the value is a *lower* bound on the
//! SDP: a training signal, never a certificate. Certificates come from the
//! verified solve after each epoch (as `advlab certify`).
//!
//! With V = [V_l; V_r] (left: constant + hidden for L∞, hidden for flows;
//! right: the inputs, two copies for flows), ã = Lᵀ·V_l (m×r: L∞
//! a_h(v₀ + v_h), flow a_h v_h) and r̃ = R·V_r (d×r: L∞ V_r, flow
//! b_q(v_{Δu,q} + v_{Δv,q})): ⟨P, VVᵀ⟩ = 2·Σ_h ã_h·(W r̃)_h, so
//! ∂/∂W = 2·Σ_p ã_p r̃_pᵀ and ∂/∂a_h = 2·f_h·(W r̃)_h (f_h = v₀ + v_h or v_h).
//! A sweep is exact block coordinate ascent: the right rows from Wᵀã, then
//! the left rows from W r̃ (the two blocks do not interact within).

use super::bipartite::normalize_rows;
use super::linalg::{self, axpy, dot};
use super::network::Threat;
use super::penalty::{PenaltyOut, PenaltyWeights};

/// Rows of W per cache block in the batched products.
const HB: usize = 16;

/// The primal penalty's settings and its factors.
pub struct PrimalPenalty {
    pub threat: Threat,
    pub eps: f64,
    pub weight: f64,
    /// Flow: the pixel range γ.
    pub gamma: f64,
    /// Per input: λ (flow, repeated over channels) or 1 (L∞).
    pub b: Vec<f64>,
    pub pairs: Vec<(usize, usize)>,
    /// Columns of each V_p.
    pub rank: usize,
    /// Block sweeps per evaluation.
    pub sweeps: usize,
    /// V_l: rows × (pairs·rank), pair-major within a row (empty until first use).
    pub vl: Vec<f64>,
    /// V_r: cols × (pairs·rank).
    pub vr: Vec<f64>,
}

impl PrimalPenalty {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        threat: Threat,
        eps: f64,
        weight: f64,
        gamma: f64,
        b: Vec<f64>,
        k: usize,
        rank: usize,
        sweeps: usize,
    ) -> PrimalPenalty {
        let pairs = super::network::class_pairs(k);
        PrimalPenalty {
            threat,
            eps,
            weight,
            gamma,
            b,
            pairs,
            rank: rank.max(1),
            sweeps: sweeps.max(1),
            vl: Vec::new(),
            vr: Vec::new(),
        }
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
    /// weight · κ(ε)
    pub fn scale(&self) -> f64 {
        self.weight * self.threat.bound_factor(self.eps)
    }
    fn width(&self) -> usize {
        self.pairs.len() * self.rank
    }

    /// Seeded unit rows, unless the factors already have the right shape.
    pub fn ensure_init(&mut self, m: usize, d: usize, seed: u64) {
        let w = self.width();
        if self.vl.len() == self.rows(m) * w && self.vr.len() == self.cols(d) * w {
            return;
        }
        // unit chunks of `rank`: read as rows × (pairs·rank), each (row, pair) is a unit row
        self.vl = linalg::random_unit_rows(self.rows(m) * self.pairs.len(), self.rank, seed);
        self.vr = linalg::random_unit_rows(self.cols(d) * self.pairs.len(), self.rank, seed.wrapping_add(1));
    }

    /// Pair vectors a_p = γ_eff·(V_i − V_j), pairs×m.
    fn pair_vectors(&self, net: &PenaltyWeights) -> Vec<f64> {
        let g = if self.linf() { 1.0 } else { self.gamma };
        let m = net.m;
        self.pairs.iter().flat_map(|&(i, j)| (0..m).map(move |h| g * (net.w2[i * m + h] - net.w2[j * m + h]))).collect()
    }

    /// f = v₀ + v_h (L∞) or v_h (flow): m × width, from V_l.
    fn left_factor(&self, m: usize) -> Vec<f64> {
        let w = self.width();
        let off = self.linf() as usize;
        let mut f = vec![0.0; m * w];
        for h in 0..m {
            let row = &mut f[h * w..(h + 1) * w];
            row.copy_from_slice(&self.vl[(off + h) * w..(off + h + 1) * w]);
            if self.linf() {
                axpy(1.0, &self.vl[..w], row);
            }
        }
        f
    }

    /// ã = a ⊙ f per pair: m × width.
    fn a_tilde(&self, a: &[f64], f: &[f64], m: usize) -> Vec<f64> {
        let (w, r) = (self.width(), self.rank);
        let mut at = f.to_vec();
        for h in 0..m {
            for p in 0..self.pairs.len() {
                let ah = a[p * m + h];
                at[h * w + p * r..h * w + (p + 1) * r].iter_mut().for_each(|x| *x *= ah);
            }
        }
        at
    }

    /// r̃ = R·V_r: d × width.
    fn r_tilde(&self, d: usize) -> Vec<f64> {
        let w = self.width();
        if self.linf() {
            return self.vr[..d * w].to_vec();
        }
        let mut rt = vec![0.0; d * w];
        for q in 0..d {
            let row = &mut rt[q * w..(q + 1) * w];
            for (x, (u, v)) in
                row.iter_mut().zip(self.vr[q * w..(q + 1) * w].iter().zip(&self.vr[(d + q) * w..(d + q + 1) * w]))
            {
                *x = self.b[q] * (u + v);
            }
        }
        rt
    }

    /// Y = W·X (m × width) for X d × width.
    fn w_times(net: &PenaltyWeights, x: &[f64], w: usize) -> Vec<f64> {
        let (m, d) = (net.m, net.d);
        let mut y = vec![0.0; m * w];
        for h0 in (0..m).step_by(HB) {
            let h1 = (h0 + HB).min(m);
            for q in 0..d {
                let xq = &x[q * w..(q + 1) * w];
                for h in h0..h1 {
                    axpy(net.w1[h * d + q], xq, &mut y[h * w..(h + 1) * w]);
                }
            }
        }
        y
    }

    /// Z = Wᵀ·X (d × width) for X m × width.
    fn wt_times(net: &PenaltyWeights, x: &[f64], w: usize) -> Vec<f64> {
        let (m, d) = (net.m, net.d);
        let mut z = vec![0.0; d * w];
        for h0 in (0..m).step_by(HB) {
            let h1 = (h0 + HB).min(m);
            for q in 0..d {
                let zq = &mut z[q * w..(q + 1) * w];
                for h in h0..h1 {
                    axpy(net.w1[h * d + q], &x[h * w..(h + 1) * w], zq);
                }
            }
        }
        z
    }

    /// One block sweep: right rows from Wᵀã, then left rows from W r̃.
    /// Returns Y = W r̃ of the new V_r (m × width), reused by `evaluate`.
    fn sweep(&mut self, net: &PenaltyWeights, a: &[f64]) -> Vec<f64> {
        let (m, d, w, r) = (net.m, net.d, self.width(), self.rank);
        let f = self.left_factor(m);
        let at = self.a_tilde(a, &f, m);
        let z = Self::wt_times(net, &at, w);
        if self.linf() {
            self.vr[..d * w].copy_from_slice(&z);
        } else {
            for q in 0..d {
                for (k, &zq) in z[q * w..(q + 1) * w].iter().enumerate() {
                    self.vr[q * w + k] = self.b[q] * zq;
                    self.vr[(d + q) * w + k] = self.b[q] * zq;
                }
            }
        }
        normalize_rows(&mut self.vr, r);
        let y = Self::w_times(net, &self.r_tilde(d), w);
        let off = self.linf() as usize;
        let np = self.pairs.len();
        for h in 0..m {
            for p in 0..np {
                let ah = a[p * m + h];
                for k in 0..r {
                    self.vl[(off + h) * w + p * r + k] = ah * y[h * w + p * r + k];
                }
            }
        }
        if self.linf() {
            for p in 0..np {
                for k in 0..r {
                    self.vl[p * r + k] = (0..m).map(|h| a[p * m + h] * y[h * w + p * r + k]).sum();
                }
            }
        }
        normalize_rows(&mut self.vl, r);
        y
    }

    /// Per pair ⟨P_p, V_p V_pᵀ⟩ at the current factors (no sweep).
    pub fn values(&self, net: &PenaltyWeights) -> Vec<f64> {
        let a = self.pair_vectors(net);
        let y = Self::w_times(net, &self.r_tilde(net.d), self.width());
        self.values_from(&a, &y, &self.left_factor(net.m), net.m)
    }

    fn values_from(&self, a: &[f64], y: &[f64], f: &[f64], m: usize) -> Vec<f64> {
        let (w, r) = (self.width(), self.rank);
        (0..self.pairs.len())
            .map(|p| {
                2.0 * (0..m)
                    .map(|h| {
                        a[p * m + h]
                            * dot(&f[h * w + p * r..h * w + (p + 1) * r], &y[h * w + p * r..h * w + (p + 1) * r])
                    })
                    .sum::<f64>()
            })
            .collect()
    }

    /// `sweeps` block sweeps on the current weights, then the value
    /// weight·κ·Σ_p ⟨P_p, V_pV_pᵀ⟩ and its gradients at the new V (fixed).
    /// `bounds`/`theta` of the output hold the per-pair values (lower
    /// bounds on each SDP); `grad_c` is empty.
    pub fn evaluate(&mut self, net: &PenaltyWeights) -> PenaltyOut {
        let (vals, tangent) = self.advance(net);
        self.out_from(vals, &tangent)
    }

    /// Value and gradients at fixed V (no sweep).
    pub fn evaluate_fixed(&mut self, net: &PenaltyWeights) -> PenaltyOut {
        self.ensure_init(net.m, net.d, 0);
        let a = self.pair_vectors(net);
        let y = Self::w_times(net, &self.r_tilde(net.d), self.width());
        let (vals, tangent) = self.tangent(net, &a, y);
        self.out_from(vals, &tangent)
    }

    /// `sweeps` block sweeps on the current weights; the per-pair values
    /// ⟨P_p, V_pV_pᵀ⟩ at the new V and what their gradients need.
    pub fn advance(&mut self, net: &PenaltyWeights) -> (Vec<f64>, PrimalTangent) {
        self.ensure_init(net.m, net.d, 0);
        let a = self.pair_vectors(net);
        let mut y = Vec::new();
        for _ in 0..self.sweeps {
            y = self.sweep(net, &a);
        }
        self.tangent(net, &a, y)
    }

    fn tangent(&self, net: &PenaltyWeights, a: &[f64], y: Vec<f64>) -> (Vec<f64>, PrimalTangent) {
        let f = self.left_factor(net.m);
        let vals = self.values_from(a, &y, &f, net.m);
        let at = self.a_tilde(a, &f, net.m);
        let tangent = PrimalTangent {
            m: net.m,
            d: net.d,
            k: net.k,
            rank: self.rank,
            pairs: self.pairs.clone(),
            gamma: if self.linf() { 1.0 } else { self.gamma },
            f,
            y,
            at,
            rt: self.r_tilde(net.d),
        };
        (vals, tangent)
    }

    fn out_from(&self, vals: Vec<f64>, tangent: &PrimalTangent) -> PenaltyOut {
        let s = self.scale();
        let (grad_w1, grad_w2) = tangent.grads(&vec![s; vals.len()]);
        let value = s * vals.iter().sum::<f64>();
        PenaltyOut { value, bounds: vals.clone(), theta: vals, grad_w1, grad_w2, grad_c: Vec::new() }
    }
}

/// What the gradient of Σ_p α_p·⟨P_p(W), V_pV_pᵀ⟩ at fixed V needs, kept
/// so that α can come later (the robust loss knows its per-pair weights
/// only in the backward pass).
pub struct PrimalTangent {
    m: usize,
    d: usize,
    k: usize,
    rank: usize,
    pairs: Vec<(usize, usize)>,
    /// 1 (L∞) or the pixel range γ (flow).
    gamma: f64,
    /// The left factor f (m × width), Y = W r̃ (m × width), ã (m × width), r̃ (d × width).
    f: Vec<f64>,
    y: Vec<f64>,
    at: Vec<f64>,
    rt: Vec<f64>,
}

impl PrimalTangent {
    /// ∂/∂W1 and ∂/∂W2 of Σ_p α_p·⟨P_p, V_pV_pᵀ⟩: ∂/∂W1 = 2·Σ_p α_p ã_p r̃_pᵀ,
    /// ∂/∂V_i = +2γα_p f⊙Y and ∂/∂V_j = −2γα_p f⊙Y for pair p = (i, j).
    pub fn grads(&self, alpha: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (m, d, k, r) = (self.m, self.d, self.k, self.rank);
        let w = self.pairs.len() * r;
        let mut grad_w2 = vec![0.0; k * m];
        for (p, &(i, j)) in self.pairs.iter().enumerate() {
            for h in 0..m {
                let seg = h * w + p * r..h * w + (p + 1) * r;
                let gv = alpha[p] * 2.0 * self.gamma * dot(&self.f[seg.clone()], &self.y[seg]);
                grad_w2[i * m + h] += gv;
                grad_w2[j * m + h] -= gv;
            }
        }
        let mut at = self.at.clone();
        for h in 0..m {
            for (p, &ap) in alpha.iter().enumerate() {
                at[h * w + p * r..h * w + (p + 1) * r].iter_mut().for_each(|x| *x *= ap);
            }
        }
        let mut grad_w1 = vec![0.0; m * d];
        for h0 in (0..m).step_by(HB) {
            let h1 = (h0 + HB).min(m);
            for q in 0..d {
                let rq = &self.rt[q * w..(q + 1) * w];
                for h in h0..h1 {
                    grad_w1[h * d + q] = 2.0 * dot(&at[h * w..(h + 1) * w], rq);
                }
            }
        }
        (grad_w1, grad_w2)
    }
}

impl PrimalPenalty {
    /// `n` block sweeps on `net` without evaluating (the start of training).
    pub fn warm_up(&mut self, net: &PenaltyWeights, n: usize) {
        self.ensure_init(net.m, net.d, 0);
        let a = self.pair_vectors(net);
        for _ in 0..n {
            self.sweep(net, &a);
        }
    }

    /// The factors as one rows+cols × (pairs·rank) array (for saving).
    pub fn factors(&self) -> (Vec<usize>, Vec<f64>) {
        let w = self.width();
        let rows = (self.vl.len() + self.vr.len()) / w.max(1);
        (vec![rows, w], self.vl.iter().chain(&self.vr).copied().collect())
    }

    /// Restore `factors()` output for a net with m hidden units and d inputs;
    /// false (and nothing changed) when the shape does not match.
    pub fn set_factors(&mut self, m: usize, d: usize, shape: &[usize], v: &[f64]) -> bool {
        let (rows, cols, w) = (self.rows(m), self.cols(d), self.width());
        if shape != [rows + cols, w] || v.len() != (rows + cols) * w {
            return false;
        }
        self.vl = v[..rows * w].to_vec();
        self.vr = v[rows * w..].to_vec();
        true
    }
}

impl PrimalPenalty {
    /// The dual vectors c_p = diag(P_p V_p V_pᵀ) of the current factors
    /// (pairs × D, D = rows + cols, in `pairs` order): the KKT estimate that
    /// `advlab certify --duals` verifies in f64 (any c gives a sound bound).
    pub fn duals(&self, net: &PenaltyWeights) -> Vec<f64> {
        let (m, d, w, r, np) = (net.m, net.d, self.width(), self.rank, self.pairs.len());
        let (rows, cols) = (self.rows(m), self.cols(d));
        let dim = rows + cols;
        let a = self.pair_vectors(net);
        let y = Self::w_times(net, &self.r_tilde(d), w);
        let z = Self::wt_times(net, &self.a_tilde(&a, &self.left_factor(m), m), w);
        let off = self.linf() as usize;
        let seg = |v: &[f64], row: usize, p: usize| -> Vec<f64> { v[row * w + p * r..row * w + (p + 1) * r].to_vec() };
        let mut c = vec![0.0; np * dim];
        for p in 0..np {
            let cp = &mut c[p * dim..(p + 1) * dim];
            let mut g0 = vec![0.0; r];
            for h in 0..m {
                let ah = a[p * m + h];
                let yh = seg(&y, h, p);
                cp[off + h] = ah * dot(&seg(&self.vl, off + h, p), &yh);
                axpy(ah, &yh, &mut g0);
            }
            if self.linf() {
                cp[0] = dot(&seg(&self.vl, 0, p), &g0);
            }
            for q in 0..d {
                let zq = seg(&z, q, p);
                if self.linf() {
                    cp[rows + q] = dot(&seg(&self.vr, q, p), &zq);
                } else {
                    cp[rows + q] = self.b[q] * dot(&seg(&self.vr, q, p), &zq);
                    cp[rows + d + q] = self.b[q] * dot(&seg(&self.vr, d + q, p), &zq);
                }
            }
        }
        c
    }
}

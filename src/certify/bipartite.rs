//! Bipartite certificate matrices P = [[0, B], [Bᵀ, 0]] with B = L·W·R
//! (SPEC §6, §7), never formed densely:
//!
//! - W: m×n, the first layer's weight (f32 values, held in f64);
//! - L: `Left::Diag` = diag(a) (flow: a = γ·v), or `Left::ConstPlusDiag` =
//!   [aᵀ; diag(a)] (pixel L∞, the corrected M of SPEC §6 in the ordering
//!   y = (1, ŝ, t));
//! - R = [diag(b), …, diag(b)] (`copies` blocks; flow: b = λ, copies = 2 for
//!   Δu and Δv; L∞: b = 1, copies = 1).
//!
//! The mixing method on a bipartite P is two block updates per sweep
//! (left ← normalize(B V_right), right ← normalize(Bᵀ V_left)); the dual
//! bound is verified through the Schur complement of the right block:
//! tI − (P − diag c) ⪰ 0  ⇔  S(t) = diag(c_l + t) − B diag(1/(c_r + t)) Bᵀ ⪰ 0
//! (given c_r + t > 0), and S(t) ⪰ S(t₀) + (t − t₀)I for t ≥ t₀, so one
//! product B diag(1/(c_r + t₀)) Bᵀ and cheap Cholesky tests of S(t₀) + sI
//! bound λ_max(P − diag c) ≤ t₀ + s.

use std::time::Instant;

use super::linalg::{self, axpy, dot};
use super::sdp::{default_rank, gap_ok, shifted_upper, SdpOptions, SdpResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Left {
    Diag,
    ConstPlusDiag,
}

/// One certificate problem (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Bipartite<'a> {
    pub m: usize,
    pub n: usize,
    /// m×n row-major
    pub w: &'a [f64],
    /// m
    pub a: &'a [f64],
    pub left: Left,
    /// n
    pub b: &'a [f64],
    pub copies: usize,
}

impl<'a> Bipartite<'a> {
    pub fn rows(&self) -> usize {
        self.m + (self.left == Left::ConstPlusDiag) as usize
    }
    pub fn cols(&self) -> usize {
        self.copies * self.n
    }
    /// D = rows + cols.
    pub fn dim(&self) -> usize {
        self.rows() + self.cols()
    }

    /// B₁ = L·W (rows×n), in f64.
    pub fn b1(&self) -> Vec<f64> {
        let (m, n) = (self.m, self.n);
        let off = self.rows() - m;
        let mut out = vec![0.0; self.rows() * n];
        for i in 0..m {
            let row = &self.w[i * n..(i + 1) * n];
            for q in 0..n {
                out[(off + i) * n + q] = self.a[i] * row[q];
            }
            if off == 1 {
                axpy(self.a[i], row, &mut out[..n]);
            }
        }
        out
    }

    /// B = B₁R as a dense rows×cols matrix (tests, small problems).
    pub fn b_dense(&self) -> Vec<f64> {
        let (rows, cols, n) = (self.rows(), self.cols(), self.n);
        let b1 = self.b1();
        let mut out = vec![0.0; rows * cols];
        for i in 0..rows {
            for c in 0..self.copies {
                for q in 0..n {
                    out[i * cols + c * n + q] = b1[i * n + q] * self.b[q];
                }
            }
        }
        out
    }

    /// P as a dense D×D matrix (tests, small problems).
    pub fn dense(&self) -> Vec<f64> {
        let (rows, cols) = (self.rows(), self.cols());
        let d = rows + cols;
        let b = self.b_dense();
        let mut p = vec![0.0; d * d];
        for i in 0..rows {
            for j in 0..cols {
                p[i * d + rows + j] = b[i * cols + j];
                p[(rows + j) * d + i] = b[i * cols + j];
            }
        }
        p
    }

    /// B·X for X (cols×r) → rows×r.
    pub fn apply(&self, b1: &[f64], x: &[f64], r: usize) -> Vec<f64> {
        let n = self.n;
        let mut xs = vec![0.0; n * r];
        for c in 0..self.copies {
            for q in 0..n {
                axpy(self.b[q], &x[(c * n + q) * r..(c * n + q + 1) * r], &mut xs[q * r..(q + 1) * r]);
            }
        }
        let mut out = vec![0.0; self.rows() * r];
        for i in 0..self.rows() {
            let o = &mut out[i * r..(i + 1) * r];
            for q in 0..n {
                let bq = b1[i * n + q];
                if bq != 0.0 {
                    axpy(bq, &xs[q * r..(q + 1) * r], o);
                }
            }
        }
        out
    }

    /// Bᵀ·Y for Y (rows×r) → cols×r.
    pub fn apply_t(&self, b1: &[f64], y: &[f64], r: usize) -> Vec<f64> {
        let n = self.n;
        let mut z = vec![0.0; n * r];
        for i in 0..self.rows() {
            let yi = &y[i * r..(i + 1) * r];
            for q in 0..n {
                let bq = b1[i * n + q];
                if bq != 0.0 {
                    axpy(bq, yi, &mut z[q * r..(q + 1) * r]);
                }
            }
        }
        let mut out = vec![0.0; self.cols() * r];
        for c in 0..self.copies {
            for q in 0..n {
                for k in 0..r {
                    out[(c * n + q) * r + k] = self.b[q] * z[q * r + k];
                }
            }
        }
        out
    }

    /// (lower = ⟨P, VVᵀ⟩, c = diag(P VVᵀ) as [left; right]) for unit rows
    /// V = [V_l; V_r] (renormalised here in f64).
    pub fn dual(&self, b1: &[f64], vl: &mut [f64], vr: &mut [f64], r: usize) -> (f64, Vec<f64>) {
        normalize_rows(vl, r);
        normalize_rows(vr, r);
        let gl = self.apply(b1, vr, r);
        let gr = self.apply_t(b1, vl, r);
        let mut c = Vec::with_capacity(self.dim());
        c.extend((0..self.rows()).map(|i| dot(&vl[i * r..(i + 1) * r], &gl[i * r..(i + 1) * r])));
        c.extend((0..self.cols()).map(|j| dot(&vr[j * r..(j + 1) * r], &gr[j * r..(j + 1) * r])));
        (c.iter().sum(), c)
    }

    /// Estimate λ_max(P − diag c) by Lanczos (not a certificate).
    pub fn lambda_estimate(&self, b1: &[f64], c: &[f64]) -> f64 {
        let (rows, d) = (self.rows(), self.dim());
        let mut mv = |x: &[f64], y: &mut [f64]| {
            let yl = self.apply(b1, &x[rows..], 1);
            let yr = self.apply_t(b1, &x[..rows], 1);
            for i in 0..d {
                y[i] = if i < rows { yl[i] } else { yr[i - rows] } - c[i] * x[i];
            }
        };
        let start: Vec<f64> = (0..d).map(|i| 1.0 + ((i * 2654435761) % 1000) as f64 * 1e-3).collect();
        linalg::lanczos_max(d, 80, &start, &mut mv)
    }

    /// A verified t ≥ λ_max(P − diag c), targeting `eta0` above the estimate
    /// (see the module docs for the Schur-complement argument).
    pub fn verified_lambda(&self, b1: &[f64], c: &[f64], eta0: f64) -> f64 {
        let (rows, n, m) = (self.rows(), self.n, self.m);
        let (cl, cr) = c.split_at(rows);
        let theta = self.lambda_estimate(b1, c);
        // t0: the estimate, raised so that every c_r + t0 > 0
        let cr_min = cr.iter().fold(f64::INFINITY, |a, &x| a.min(x));
        let scale = c.iter().fold(0.0f64, |a, x| a.max(x.abs())).max(1e-300);
        let t0 = theta.max(-cr_min + 1e-9 * scale);
        // w_q = b_q² Σ_c 1/(c_{c,q} + t0)
        let mut wq = vec![0.0; n];
        for c in 0..self.copies {
            for q in 0..n {
                wq[q] += 1.0 / (cr[c * n + q] + t0);
            }
        }
        let mut dmax = 0.0f64;
        for q in 0..n {
            wq[q] *= self.b[q] * self.b[q];
            for c in 0..self.copies {
                dmax = dmax.max((cr[c * n + q] + t0).abs());
            }
        }
        // G = B₁ diag(w) B₁ᵀ (rows×rows), lower triangle, and its error bound
        let mut scaled = vec![0.0; rows * n];
        for i in 0..rows {
            for q in 0..n {
                scaled[i * n + q] = b1[i * n + q] * wq[q];
            }
        }
        let mut g = vec![0.0; rows * rows];
        let mut tr_abs = 0.0;
        for i in 0..rows {
            for j in 0..=i {
                g[i * rows + j] = dot(&scaled[i * n..(i + 1) * n], &b1[j * n..(j + 1) * n]);
            }
            tr_abs += g[i * rows + i].abs();
        }
        let e_g = linalg::gamma(n + self.copies + 8) * tr_abs * 1.01;
        // error of B₁ = L·W against the exact product, and so of P
        let mut abs_lw2 = 0.0;
        for q in 0..n {
            let col_const: f64 = if self.left == Left::ConstPlusDiag {
                (0..m).map(|i| (self.a[i] * self.w[i * n + q]).abs()).sum()
            } else {
                0.0
            };
            let own: f64 = (0..m).map(|i| (self.a[i] * self.w[i * n + q]).powi(2)).sum();
            abs_lw2 += (col_const * col_const + own) * self.b[q] * self.b[q] * self.copies as f64;
        }
        let e_b = linalg::gamma(m + 2) * abs_lw2.sqrt() * 1.01;
        // S(t0) = diag(c_l + t0) − G; estimate λ_min by Lanczos on −S
        let s_of = |s: f64, g: &[f64]| -> (Vec<f64>, f64) {
            let mut k = vec![0.0; rows * rows];
            let mut dl = 0.0f64;
            for i in 0..rows {
                for j in 0..i {
                    k[i * rows + j] = -g[i * rows + j];
                }
                let dv = (cl[i] + t0) + s;
                dl = dl.max(dv.abs());
                k[i * rows + i] = dv - g[i * rows + i];
            }
            (k, dl)
        };
        let mut neg_s = |x: &[f64], y: &mut [f64]| {
            for i in 0..rows {
                let mut acc = -(cl[i] + t0) * x[i];
                for j in 0..rows {
                    let gij = if j <= i { g[i * rows + j] } else { g[j * rows + i] };
                    acc += gij * x[j];
                }
                y[i] = acc;
            }
        };
        let start: Vec<f64> = (0..rows).map(|i| 1.0 + (i % 11) as f64 * 0.05).collect();
        let neg_lmin = linalg::lanczos_max(rows, 80, &start, &mut neg_s);
        let s_est = neg_lmin.max(0.0);
        let mut eta = eta0.max(1e-15 * scale);
        for _ in 0..40 {
            let s = s_est + eta;
            let (mut k, dl) = s_of(s, &g);
            if let Some(e_chol) = linalg::cholesky(&mut k, rows) {
                let e_diag = linalg::U * (dl + dmax) * 2.0;
                return t0 + s + 2.0 * (e_chol + e_g + e_diag + e_b);
            }
            eta *= 8.0;
        }
        // last resort: Gershgorin on P − diag c (row sums of |B|)
        let bd = self.b_dense();
        let cols = self.cols();
        let mut gmax = f64::NEG_INFINITY;
        for i in 0..rows {
            gmax = gmax.max(-cl[i] + bd[i * cols..(i + 1) * cols].iter().map(|x| x.abs()).sum::<f64>());
        }
        for j in 0..cols {
            gmax = gmax.max(-cr[j] + (0..rows).map(|i| bd[i * cols + j].abs()).sum::<f64>());
        }
        gmax + 2.0 * e_b + linalg::gamma(rows + cols + 4) * (scale + abs_lw2.sqrt()) * 2.0
    }

    /// The verified certificate for the iterate (vl, vr): (lower, upper, shifted c).
    pub fn certificate(&self, b1: &[f64], vl: &mut [f64], vr: &mut [f64], r: usize, tol: f64) -> (f64, f64, Vec<f64>) {
        let (lower, c) = self.dual(b1, vl, vr, r);
        let eta0 = 1e-3 * tol * lower.abs().max(1e-12) / self.dim() as f64;
        let t = self.verified_lambda(b1, &c, eta0);
        let (upper, cs) = shifted_upper(&c, t);
        (lower, upper, cs)
    }

    /// The f64 CPU reference solver (two block updates per sweep).
    pub fn solve_cpu(&self, opts: &SdpOptions) -> SdpResult {
        let start = Instant::now();
        let r = opts.rank.unwrap_or_else(|| default_rank(self.dim())).max(1);
        let b1 = self.b1();
        let mut vl = linalg::random_unit_rows(self.rows(), r, opts.seed);
        let mut vr = linalg::random_unit_rows(self.cols(), r, opts.seed.wrapping_add(1));
        let (mut sweeps, mut last_obj) = (0, f64::NEG_INFINITY);
        let mut best: Option<(f64, f64, Vec<f64>)> = None;
        loop {
            let gl = self.apply(&b1, &vr, r);
            update_rows(&mut vl, &gl, r);
            let gr = self.apply_t(&b1, &vl, r);
            update_rows(&mut vr, &gr, r);
            sweeps += 1;
            let last = sweeps >= opts.max_sweeps;
            if sweeps % opts.check_every.max(1) != 0 && !last {
                continue;
            }
            let obj =
                2.0 * (0..self.rows()).map(|i| dot(&vl[i * r..(i + 1) * r], &gl[i * r..(i + 1) * r])).sum::<f64>();
            let stalled = (obj - last_obj).abs() <= 1e-3 * opts.tol * obj.abs().max(1e-300);
            last_obj = obj;
            let (lower, upper, c) = self.certificate(&b1, &mut vl, &mut vr, r, opts.tol);
            if best.as_ref().is_none_or(|b| upper - lower < b.1 - b.0) {
                best = Some((lower, upper, c));
            }
            let b = best.as_ref().unwrap();
            if gap_ok(b.1 - b.0, b.0, opts.tol) || last || stalled {
                break;
            }
        }
        let (lower, upper, c) = best.unwrap();
        SdpResult {
            lower,
            upper,
            gap: upper - lower,
            sweeps,
            seconds: start.elapsed().as_secs_f64(),
            converged: gap_ok(upper - lower, lower, opts.tol),
            c,
        }
    }
}

/// Scale each row of `v` (rows×r) to unit norm (zero rows left alone).
pub fn normalize_rows(v: &mut [f64], r: usize) {
    for row in v.chunks_mut(r) {
        let n = dot(row, row).sqrt();
        if n > 0.0 {
            row.iter_mut().for_each(|x| *x /= n);
        }
    }
}

/// v_i ← g_i / ‖g_i‖ where g_i ≠ 0 (else v_i is kept).
pub fn update_rows(v: &mut [f64], g: &[f64], r: usize) {
    for (row, gi) in v.chunks_mut(r).zip(g.chunks(r)) {
        let n = dot(gi, gi).sqrt();
        if n > 0.0 {
            row.iter_mut().zip(gi).for_each(|(x, y)| *x = y / n);
        }
    }
}

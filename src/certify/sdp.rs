//! The SDP  max ⟨P, Z⟩  s.t.  diag Z ≤ 1, Z ⪰ 0  for a dense symmetric P
//! (SPEC §6–7): the f64 reference solver behind `advlab sdp`.
//!
//! - Primal (lower bound): the mixing method (Burer–Monteiro with rank
//!   r = ⌈√(2D)⌉ + 1, Wang–Chang–Kolter): V ∈ R^{D×r}, Z = VVᵀ, one row at a
//!   time v_i ← argmax_{‖v‖≤1} 2 v·g_i + P_ii‖v‖², g_i = Σ_{j≠i} P_ij v_j.
//!   For P_ii ≥ 0 that is g/‖g‖ (the usual update; diag Z = 1); for P_ii < 0
//!   it is g/(−P_ii) when that lies inside the ball (diag Z < 1 is then
//!   optimal), so any diagonal is handled. Every iterate is feasible.
//! - Dual (upper bound, rigorous): c_i = (PZ)_ii; Lanczos estimates
//!   θ ≈ λ_max(P − diag c); a completed f64 Cholesky of (θ + η)I − (P − diag c)
//!   with its rounding bound proves λ_max ≤ t; the reported dual is
//!   c' = c + t, so P − diag c' ⪯ 0 and U = Σ max(c', 0) ≥ SDP(P).

use std::time::Instant;

use serde::Serialize;

use super::linalg::{self, axpy, dot};

/// Solver settings (shared with the bipartite and GPU solvers).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SdpOptions {
    /// Stop once (upper − lower) ≤ tol·|lower|.
    pub tol: f64,
    pub max_sweeps: usize,
    /// Columns of V; default ⌈√(2D)⌉ + 1.
    pub rank: Option<usize>,
    pub seed: u64,
    /// Sweeps between convergence checks.
    pub check_every: usize,
}

impl Default for SdpOptions {
    fn default() -> Self {
        SdpOptions { tol: 1e-3, max_sweeps: 5000, rank: None, seed: 0, check_every: 10 }
    }
}

/// The default rank for dimension `d`.
pub fn default_rank(d: usize) -> usize {
    (((2 * d) as f64).sqrt().ceil() as usize + 1).min(d.max(1))
}

/// A solved SDP: bounds, the dual vector behind `upper`, and effort.
#[derive(Clone, Debug, Serialize)]
pub struct SdpResult {
    /// ⟨P, VVᵀ⟩ of the final feasible iterate.
    pub lower: f64,
    /// Σ max(c, 0) with P − diag c ⪯ 0 verified in f64.
    pub upper: f64,
    pub gap: f64,
    /// Sweeps over all rows.
    pub sweeps: usize,
    pub seconds: f64,
    /// gap ≤ tol·|lower| reached.
    pub converged: bool,
    #[serde(skip)]
    pub c: Vec<f64>,
}

/// Is `gap` within the relative tolerance of `lower`?
pub fn gap_ok(gap: f64, lower: f64, tol: f64) -> bool {
    gap <= tol * lower.abs() || gap <= 0.0
}

/// A verified upper bound on λ_max(P − diag c) of a dense symmetric P, or
/// `None` when Cholesky of tI − (P − diag c) fails.
pub fn dense_verify(p: &[f64], d: usize, c: &[f64], t: f64) -> Option<f64> {
    let mut k: Vec<f64> = p.iter().map(|x| -x).collect();
    let mut ediag = 0.0f64;
    for i in 0..d {
        let v = (t + c[i]) - p[i * d + i];
        k[i * d + i] = v;
        ediag = ediag.max(linalg::gamma(2) * (t.abs() + c[i].abs() + p[i * d + i].abs()));
    }
    let echol = linalg::cholesky(&mut k, d)?;
    Some(t + 2.0 * (echol + ediag))
}

/// Gershgorin bound on λ_max(P − diag c) (always valid; a last resort).
pub fn dense_gershgorin(p: &[f64], d: usize, c: &[f64]) -> f64 {
    let mut g = f64::NEG_INFINITY;
    for i in 0..d {
        let off: f64 = (0..d).filter(|&j| j != i).map(|j| p[i * d + j].abs()).sum();
        g = g.max(p[i * d + i] - c[i] + off);
    }
    let scale: f64 = p.iter().map(|x| x.abs()).sum::<f64>() + c.iter().map(|x| x.abs()).sum::<f64>();
    g + linalg::gamma(d + 2) * scale
}

/// Upper = Σ max(c + t, 0), rounded up; returns (upper, shifted c).
pub fn shifted_upper(c: &[f64], t: f64) -> (f64, Vec<f64>) {
    let cs: Vec<f64> = c.iter().map(|x| x + t).collect();
    let s: f64 = cs.iter().map(|x| x.max(0.0)).sum();
    // rounding of c + t (one op each) and of the sum
    let abs: f64 = c.iter().map(|x| x.abs()).sum::<f64>() + c.len() as f64 * t.abs();
    let margin = linalg::gamma(c.len() + 2) * abs;
    // the shifted c must carry the margin too, so that Σ max(c', 0) = upper is
    // recomputable from c' alone: spread it over the coordinates
    let per = margin / c.len().max(1) as f64;
    let cs: Vec<f64> = cs.iter().map(|x| x + per).collect();
    (s + 2.0 * margin, cs)
}

/// Given a dual estimate c and a λ_max estimate θ of A = P − diag c, find a
/// verified t ≥ λ_max(A) by testing θ + η with η growing ×8; falls back to
/// `fallback()` (e.g. Gershgorin). `eta0` should make D·eta0 small against
/// the tolerance.
pub fn verify_growing(
    theta: f64,
    eta0: f64,
    mut test: impl FnMut(f64) -> Option<f64>,
    fallback: impl FnOnce() -> f64,
) -> f64 {
    let mut eta = eta0.max(f64::MIN_POSITIVE);
    for _ in 0..40 {
        if let Some(t) = test(theta + eta) {
            return t;
        }
        eta *= 8.0;
        if !eta.is_finite() {
            break;
        }
    }
    fallback()
}

/// Check that P is a square, symmetric, finite matrix; returns D. The error
/// is one line naming `what`.
pub fn check_matrix(what: &str, shape: &[usize], p: &[f64]) -> anyhow::Result<usize> {
    use anyhow::bail;
    let [a, b] = shape[..] else {
        bail!("{what}: expected a square 2-D matrix, found shape {shape:?}");
    };
    if a != b || a == 0 {
        bail!("{what}: expected a non-empty square matrix, found shape [{a}, {b}]");
    }
    if let Some(i) = p.iter().position(|x| !x.is_finite()) {
        bail!("{what}: {} at ({}, {}); the matrix must be finite", p[i], i / a, i % a);
    }
    let scale = p.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    for i in 0..a {
        for j in 0..i {
            let (x, y) = (p[i * a + j], p[j * a + i]);
            if (x - y).abs() > 1e-12 * scale {
                bail!("{what}: not symmetric: P[{i},{j}] = {x} but P[{j},{i}] = {y}");
            }
        }
    }
    Ok(a)
}

/// Solve the SDP for a dense symmetric P (D×D, row-major, f64).
pub fn solve_dense(p: &[f64], d: usize, opts: &SdpOptions) -> SdpResult {
    let start = Instant::now();
    let r = opts.rank.unwrap_or_else(|| default_rank(d)).max(1);
    let mut v = linalg::random_unit_rows(d, r, opts.seed);
    let mut g = vec![0.0; r];
    let mut sweeps = 0;
    let mut best: Option<(f64, f64, Vec<f64>)> = None; // (lower, upper, c)
    let mut last_lower = f64::NEG_INFINITY;
    loop {
        // one sweep of the mixing method
        for i in 0..d {
            g.iter_mut().for_each(|x| *x = 0.0);
            for j in 0..d {
                let pij = p[i * d + j];
                if j != i && pij != 0.0 {
                    axpy(pij, &v[j * r..(j + 1) * r], &mut g);
                }
            }
            let nrm = dot(&g, &g).sqrt();
            let pii = p[i * d + i];
            let row = &mut v[i * r..(i + 1) * r];
            if pii < 0.0 && nrm <= -pii {
                row.iter_mut().zip(&g).for_each(|(x, gi)| *x = gi / -pii);
            } else if nrm > 0.0 {
                row.iter_mut().zip(&g).for_each(|(x, gi)| *x = gi / nrm);
            }
        }
        sweeps += 1;
        let last = sweeps >= opts.max_sweeps;
        if sweeps % opts.check_every.max(1) != 0 && !last {
            continue;
        }
        let (lower, c) = dense_dual(p, d, &v, r);
        let stalled = (lower - last_lower).abs() <= 1e-3 * opts.tol * lower.abs().max(1e-300);
        last_lower = lower;
        let a_mv = |x: &[f64], y: &mut [f64]| {
            for i in 0..d {
                y[i] = dot(&p[i * d..(i + 1) * d], x) - c[i] * x[i];
            }
        };
        let start_vec: Vec<f64> = (0..d).map(|i| 1.0 + ((i * 2654435761) % 1000) as f64 * 1e-3).collect();
        let theta = linalg::lanczos_max(d, 80, &start_vec, &mut { a_mv });
        let est_upper: f64 = c.iter().map(|x| (x + theta).max(0.0)).sum();
        if !(gap_ok(est_upper - lower, lower, 0.5 * opts.tol) || last || stalled) {
            continue;
        }
        let eta0 = 1e-3 * opts.tol * lower.abs().max(1e-12) / d as f64;
        let t = verify_growing(theta, eta0, |t| dense_verify(p, d, &c, t), || dense_gershgorin(p, d, &c));
        let (upper, cs) = shifted_upper(&c, t);
        if best.as_ref().is_none_or(|b| upper - lower < b.1 - b.0) {
            best = Some((lower, upper, cs));
        }
        let b = best.as_ref().unwrap();
        if gap_ok(b.1 - b.0, b.0, opts.tol) || last || stalled {
            break;
        }
    }
    let (lower, upper, c) = best.unwrap();
    let gap = upper - lower;
    SdpResult {
        lower,
        upper,
        gap,
        sweeps,
        seconds: start.elapsed().as_secs_f64(),
        converged: gap_ok(gap, lower, opts.tol),
        c,
    }
}

/// (⟨P, VVᵀ⟩, c = diag(P VVᵀ)) in f64.
pub fn dense_dual(p: &[f64], d: usize, v: &[f64], r: usize) -> (f64, Vec<f64>) {
    let mut c = vec![0.0; d];
    let mut g = vec![0.0; r];
    for i in 0..d {
        g.iter_mut().for_each(|x| *x = 0.0);
        for j in 0..d {
            if p[i * d + j] != 0.0 {
                axpy(p[i * d + j], &v[j * r..(j + 1) * r], &mut g);
            }
        }
        c[i] = dot(&v[i * r..(i + 1) * r], &g);
    }
    (c.iter().sum(), c)
}

/// The dual bound D·λ⁺_max(P − diag c) + Σ max(c, 0) recomputed from scratch
/// for a given c (dense, verified λ bound): what a checker does with c.npy.
pub fn dense_upper_from_c(p: &[f64], d: usize, c: &[f64]) -> f64 {
    let a_mv = |x: &[f64], y: &mut [f64]| {
        for i in 0..d {
            y[i] = dot(&p[i * d..(i + 1) * d], x) - c[i] * x[i];
        }
    };
    let start_vec: Vec<f64> = (0..d).map(|i| 1.0 + (i % 7) as f64 * 0.1).collect();
    let theta = linalg::lanczos_max(d, 100.min(d), &start_vec, &mut { a_mv });
    let scale: f64 = c.iter().map(|x| x.abs()).sum::<f64>().max(1e-300);
    let t = verify_growing(theta, 1e-12 * scale / d as f64, |t| dense_verify(p, d, c, t), || dense_gershgorin(p, d, c));
    d as f64 * t.max(0.0) + c.iter().map(|x| x.max(0.0)).sum::<f64>()
}

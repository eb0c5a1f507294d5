//! Small dense f64 linear algebra for the certificates, with the rounding
//! bounds the rigorous upper bound needs (no external BLAS/LAPACK).
//!
//! - [`cholesky`]: in-place lower Cholesky; on success returns a bound on
//!   ‖ΔA‖₂ where L·Lᵀ = A + ΔA (Higham, *Accuracy and Stability*, Thm 10.3:
//!   |ΔA| ≤ γ_{n+1}|L||Lᵀ|, and ‖|L||Lᵀ|‖₂ ≤ ‖L‖_F²), so a completed
//!   factorisation proves λ_min(A) ≥ −bound.
//! - [`lanczos_max`]: an *estimate* of λ_max (a Ritz value, ≤ λ_max); never
//!   used as a certificate, only to choose the shift that Cholesky verifies.

/// Unit roundoff of f64.
pub const U: f64 = f64::EPSILON / 2.0;

/// γ_k = k·u / (1 − k·u).
pub fn gamma(k: usize) -> f64 {
    let ku = k as f64 * U;
    ku / (1.0 - ku)
}

/// Dot product (the compiler vectorises the 4-way split).
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut s = [0.0f64; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        for l in 0..4 {
            s[l] += a[4 * c + l] * b[4 * c + l];
        }
    }
    let mut t = (s[0] + s[1]) + (s[2] + s[3]);
    for i in 4 * chunks..n {
        t += a[i] * b[i];
    }
    t
}

/// `y += alpha * x`
#[inline]
pub fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// In-place lower Cholesky of the symmetric n×n row-major `a` (only the
/// lower triangle is read; the strict upper triangle is left as is). On
/// success returns `Some(e)` with L·Lᵀ = A + ΔA, ‖ΔA‖₂ ≤ e; `None` when a
/// pivot is not positive (or not finite).
pub fn cholesky(a: &mut [f64], n: usize) -> Option<f64> {
    assert_eq!(a.len(), n * n, "cholesky: matrix size");
    for i in 0..n {
        for j in 0..=i {
            let s = a[i * n + j] - dot(&a[i * n..i * n + j], &a[j * n..j * n + j]);
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                a[i * n + i] = s.sqrt();
            } else {
                a[i * n + j] = s / a[j * n + j];
            }
        }
    }
    let fro2: f64 = (0..n).map(|i| dot(&a[i * n..i * n + i + 1], &a[i * n..i * n + i + 1])).sum();
    // 1.01 covers the rounding of the sum of squares itself.
    Some(gamma(n + 1) * fro2 * 1.01)
}

/// diag(A⁻¹) of a symmetric positive definite A from its Cholesky factor
/// (as left in place by [`cholesky`]): (A⁻¹)_ii = ‖column i of L⁻¹‖².
pub fn inverse_diag_from_cholesky(l: &[f64], n: usize) -> Vec<f64> {
    // Solve L X = I column by column; X = L⁻¹ is lower triangular.
    let mut diag = vec![0.0; n];
    let mut x = vec![0.0; n];
    for j in 0..n {
        x[..j].iter_mut().for_each(|v| *v = 0.0);
        for i in j..n {
            let rhs = if i == j { 1.0 } else { 0.0 };
            let s = rhs - dot(&l[i * n + j..i * n + i], &x[j..i]);
            x[i] = s / l[i * n + i];
        }
        diag[j] = dot(&x[j..], &x[j..]);
    }
    diag
}

/// The largest eigenvalue of the symmetric tridiagonal matrix with diagonal
/// `alpha` and off-diagonal `beta` (len alpha.len() − 1), by Sturm-sequence
/// bisection to full precision.
pub fn tridiag_max_eig(alpha: &[f64], beta: &[f64]) -> f64 {
    let k = alpha.len();
    assert!(k > 0 && beta.len() + 1 == k);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..k {
        let r = beta.get(i).map_or(0.0, |b| b.abs()) + if i > 0 { beta[i - 1].abs() } else { 0.0 };
        lo = lo.min(alpha[i] - r);
        hi = hi.max(alpha[i] + r);
    }
    // count of eigenvalues < x
    let count_below = |x: f64| -> usize {
        let mut c = 0;
        let mut q = alpha[0] - x;
        if q < 0.0 {
            c += 1;
        }
        for i in 1..k {
            let qp = if q == 0.0 { f64::MIN_POSITIVE } else { q };
            q = alpha[i] - x - beta[i - 1] * beta[i - 1] / qp;
            if q < 0.0 {
                c += 1;
            }
        }
        c
    };
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if count_below(mid) >= k {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Lanczos with full reorthogonalisation: an estimate (a Ritz value, so
/// ≤ λ_max up to rounding) of the largest eigenvalue of the symmetric
/// operator `matvec` (y = A x) of size n, from start vector `start`.
pub fn lanczos_max(n: usize, steps: usize, start: &[f64], matvec: &mut dyn FnMut(&[f64], &mut [f64])) -> f64 {
    assert_eq!(start.len(), n);
    let steps = steps.min(n).max(1);
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(steps);
    let nrm = dot(start, start).sqrt();
    let mut v: Vec<f64> = if nrm > 0.0 {
        start.iter().map(|x| x / nrm).collect()
    } else {
        (0..n).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect()
    };
    let (mut alpha, mut beta) = (Vec::new(), Vec::new());
    let mut w = vec![0.0; n];
    for k in 0..steps {
        matvec(&v, &mut w);
        let a = dot(&v, &w);
        alpha.push(a);
        q.push(v.clone());
        // full reorthogonalisation (twice is enough)
        for _ in 0..2 {
            for qi in &q {
                let h = dot(qi, &w);
                axpy(-h, qi, &mut w);
            }
        }
        let b = dot(&w, &w).sqrt();
        if k + 1 == steps || b.is_nan() || b <= 1e-13 * a.abs().max(1e-300) || !b.is_finite() {
            break;
        }
        beta.push(b);
        v = w.iter().map(|x| x / b).collect();
    }
    beta.truncate(alpha.len() - 1);
    tridiag_max_eig(&alpha, &beta)
}

/// Rows of a seeded standard normal matrix (Box–Muller on ChaCha8), each
/// row scaled to unit norm: the mixing method's starting point.
pub fn random_unit_rows(rows: usize, cols: usize, seed: u64) -> Vec<f64> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut v = vec![0.0; rows * cols];
    for x in v.iter_mut() {
        let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random::<f64>());
        *x = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    }
    for r in 0..rows {
        let row = &mut v[r * cols..(r + 1) * cols];
        let n = dot(row, row).sqrt();
        row.iter_mut().for_each(|x| *x /= n);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_accepts_pd_and_rejects_indefinite() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let e = cholesky(&mut a, 2).unwrap();
        assert!((a[0] - 2.0).abs() < 1e-15 && (a[2] - 1.0).abs() < 1e-15 && (a[3] - 2f64.sqrt()).abs() < 1e-15);
        assert!(e > 0.0 && e < 1e-14);
        let mut b = vec![1.0, 2.0, 2.0, 1.0];
        assert!(cholesky(&mut b, 2).is_none());
    }

    #[test]
    fn inverse_diag_matches_2x2() {
        // [[4,2],[2,3]]⁻¹ = [[3,-2],[-2,4]]/8
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        cholesky(&mut a, 2).unwrap();
        let d = inverse_diag_from_cholesky(&a, 2);
        assert!((d[0] - 3.0 / 8.0).abs() < 1e-15 && (d[1] - 0.5).abs() < 1e-15, "{d:?}");
    }

    #[test]
    fn lanczos_and_tridiag_find_the_top_eigenvalue() {
        // diag(1..=30) rotated by nothing: Lanczos from a dense start finds 30.
        let n = 30;
        let start: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 * 0.01).collect();
        let mut mv = |x: &[f64], y: &mut [f64]| {
            for i in 0..n {
                y[i] = (i + 1) as f64 * x[i];
            }
        };
        let t = lanczos_max(n, 30, &start, &mut mv);
        assert!((t - 30.0).abs() < 1e-9, "{t}");
        assert!((tridiag_max_eig(&[2.0, 2.0], &[1.0]) - 3.0).abs() < 1e-14);
    }
}

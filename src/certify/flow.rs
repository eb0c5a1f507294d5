//! The flow operator N of the spatial certificate (SPEC §7) and the
//! per-pixel box half-widths λ = sqrt(diag((NᵀN)⁻¹)).
//!
//! N₁ has one row per (pixel p, offset s ∈ S): (N₁r)_{p,s} = r_p − r_{p+s},
//! with r := 0 outside the image (constant padding) — the same neighbour
//! sets and padding as stAdv's L_flow (src/ops/tv.rs, shaders/tv.wgsl), so
//! L_flow ≥ ‖N r‖₂ and the attack's budget lies inside the certified set.
//! N = blockdiag(N₁, N₁) on [Δu; Δv], so λ_u = λ_v.
//!
//! Symmetric (edge-replicate) padding makes NᵀN singular (constant flows
//! cost nothing), so it is refused.

use anyhow::{bail, Result};

use super::linalg;
use crate::ops::tv::{Neighbours, Padding};

/// The offsets S as (row, column), in the order shaders/tv.wgsl uses.
pub fn offsets(nb: Neighbours) -> [(i32, i32); 4] {
    match nb {
        Neighbours::Diag4 => [(1, 1), (1, -1), (-1, 1), (-1, -1)],
        Neighbours::Cross4 => [(1, 0), (-1, 0), (0, 1), (0, -1)],
    }
}

/// Refuse what the certificate cannot use: symmetric padding, images under 1×1.
pub fn check(h: usize, w: usize, padding: Padding) -> Result<()> {
    if padding == Padding::Symmetric {
        bail!(
            "--padding symmetric: the flow certificate needs constant (zero) padding; with symmetric padding NᵀN is singular (a constant flow has ‖N r‖ = 0), so λ = sqrt(diag((NᵀN)⁻¹)) is infinite"
        );
    }
    if h == 0 || w == 0 {
        bail!("flow certificate: image of size {h}×{w} is empty");
    }
    Ok(())
}

/// ‖N₁ r‖₂² for one flow channel r (H×W, row-major); an oracle for tests.
pub fn n1_norm2(r: &[f64], h: usize, w: usize, nb: Neighbours) -> f64 {
    let mut s = 0.0;
    for i in 0..h as i32 {
        for j in 0..w as i32 {
            let p = r[(i as usize) * w + j as usize];
            for (di, dj) in offsets(nb) {
                let (qi, qj) = (i + di, j + dj);
                let q = if qi >= 0 && qj >= 0 && (qi as usize) < h && (qj as usize) < w {
                    r[qi as usize * w + qj as usize]
                } else {
                    0.0
                };
                s += (p - q) * (p - q);
            }
        }
    }
    s
}

/// N₁ᵀN₁ as a dense n×n row-major matrix (n = H·W), constant padding.
pub fn gram(h: usize, w: usize, nb: Neighbours) -> Vec<f64> {
    let n = h * w;
    let mut g = vec![0.0; n * n];
    for i in 0..h as i32 {
        for j in 0..w as i32 {
            let p = i as usize * w + j as usize;
            for (di, dj) in offsets(nb) {
                g[p * n + p] += 1.0;
                let (qi, qj) = (i + di, j + dj);
                if qi >= 0 && qj >= 0 && (qi as usize) < h && (qj as usize) < w {
                    let q = qi as usize * w + qj as usize;
                    g[q * n + q] += 1.0;
                    g[p * n + q] -= 1.0;
                    g[q * n + p] -= 1.0;
                }
            }
        }
    }
    g
}

/// λ_p = sqrt(((N₁ᵀN₁)⁻¹)_pp) for every pixel (H·W values, row-major), in f64.
pub fn lambda(h: usize, w: usize, nb: Neighbours, padding: Padding) -> Result<Vec<f64>> {
    check(h, w, padding)?;
    let n = h * w;
    let mut g = gram(h, w, nb);
    if linalg::cholesky(&mut g, n).is_none() {
        bail!("flow certificate: NᵀN for a {h}×{w} image with {nb:?} neighbours is not positive definite");
    }
    Ok(linalg::inverse_diag_from_cholesky(&g, n).into_iter().map(f64::sqrt).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gram_matches_norm_oracle() {
        let (h, w) = (4, 5);
        let r: Vec<f64> = (0..h * w).map(|i| ((i * 7919) % 13) as f64 / 7.0 - 0.8).collect();
        for nb in [Neighbours::Diag4, Neighbours::Cross4] {
            let g = gram(h, w, nb);
            let n = h * w;
            let q: f64 = (0..n).map(|i| r[i] * (0..n).map(|j| g[i * n + j] * r[j]).sum::<f64>()).sum();
            assert!((q - n1_norm2(&r, h, w, nb)).abs() < 1e-12, "{nb:?}");
        }
    }

    #[test]
    fn symmetric_padding_is_refused() {
        let e = lambda(4, 4, Neighbours::Diag4, Padding::Symmetric).unwrap_err().to_string();
        assert!(e.contains("symmetric") && !e.contains('\n'), "{e}");
    }
}

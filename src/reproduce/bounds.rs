//! Issue 13 item 7: every attacked image against the spatial certificate.
//!
//! For a one-hidden-layer MLP f, a flow r and the warped image x̂ = warp(x, r),
//! SPEC §7 gives, for every pair (j, y),
//!   f^{jy}(x̂) ≤ f^{jy}(x) + (ε/2)·U_{jy}   whenever ‖N r‖₂ ≤ ε,
//! with f^{jy} = f_j − f_y, N = blockdiag(N₁, N₁) (the neighbours S, constant
//! padding) and U_{jy} the pair's verified SDP upper bound (the P of SPEC §7,
//! γ = 1 for [0,1] pixels). Taking ε = ‖N r‖₂ itself, the change of the
//! target-vs-label margin an attack achieved must satisfy
//!   Δ = (f_t − f_y)(x̂) − (f_t − f_y)(x) ≤ (‖N r‖₂ / 2)·U_{ty}.
//! Everything here is f64 on the host: x̂ is recomputed from x and the flow
//! with the bilinear warp of SPEC §4 (so the check does not rest on the
//! GPU's f32 warp), the logits from the f32 weights widened to f64.

use serde::Serialize;

use crate::certify::flow::n1_norm2;
use crate::certify::network::Mlp;
use crate::ops::tv::Neighbours;

/// The bilinear warp of SPEC §4 in f64 for one image `x` ([C, H, W]) and
/// its flow `r` ([2, H, W]; channel 0 vertical, 1 horizontal).
pub fn warp_f64(x: &[f64], r: &[f64], c: usize, h: usize, w: usize) -> Vec<f64> {
    let n = h * w;
    let mut out = vec![0.0; c * n];
    for i in 0..h {
        for j in 0..w {
            let p = i * w + j;
            let sy = (i as f64 + r[p]).clamp(0.0, (h - 1) as f64);
            let sx = (j as f64 + r[n + p]).clamp(0.0, (w - 1) as f64);
            let x0 = (sx.floor() as usize).min(w - 2);
            let y0 = (sy.floor() as usize).min(h - 2);
            let (a, b) = (sx - x0 as f64, sy - y0 as f64);
            for ch in 0..c {
                let q = |yy: usize, xx: usize| x[ch * n + yy * w + xx];
                out[ch * n + p] = (1.0 - a) * (1.0 - b) * q(y0, x0)
                    + (1.0 - a) * b * q(y0 + 1, x0)
                    + a * (1.0 - b) * q(y0, x0 + 1)
                    + a * b * q(y0 + 1, x0 + 1);
            }
        }
    }
    out
}

/// The MLP's logits of an f64 input.
pub fn logits_f64(mlp: &Mlp, x: &[f64]) -> Vec<f64> {
    let (d, m) = (mlp.d, mlp.m);
    let hid: Vec<f64> = (0..m)
        .map(|i| (mlp.w1[i * d..(i + 1) * d].iter().zip(x).map(|(w, xi)| w * xi).sum::<f64>() + mlp.b1[i]).max(0.0))
        .collect();
    (0..mlp.k)
        .map(|c| mlp.w2[c * m..(c + 1) * m].iter().zip(&hid).map(|(w, h)| w * h).sum::<f64>() + mlp.b2[c])
        .collect()
}

/// ‖N r‖₂ of one flow [2, H, W] (N = blockdiag(N₁, N₁), constant padding).
pub fn n_norm(r: &[f64], h: usize, w: usize, nb: Neighbours) -> f64 {
    let n = h * w;
    (n1_norm2(&r[..n], h, w, nb) + n1_norm2(&r[n..2 * n], h, w, nb)).sqrt()
}

/// One image's check.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ImageCheck {
    /// Δ(f_t − f_y): the margin change the flow achieved.
    pub delta: f64,
    /// ‖N r‖₂.
    pub n_norm: f64,
    /// (‖N r‖₂ / 2)·U_ty.
    pub bound: f64,
    /// Δ > bound.
    pub violated: bool,
}

/// All images of one attack.
#[derive(Clone, Debug, Serialize)]
pub struct BoundCheck {
    pub images: usize,
    pub violations: usize,
    /// max Δ / bound over images with bound > 0 (the tightest case; ≤ 1
    /// when nothing is violated), and where it occurs (position in the sample).
    pub max_ratio: Option<f64>,
    pub max_ratio_at: Option<usize>,
    /// Images whose flow is exactly 0 (Δ must then be 0; it is checked).
    pub zero_flows: usize,
    /// max |x̂_host − x̂_gpu| over all pixels: how far the GPU's f32 warp
    /// (adv.npy) is from the f64 warp the check uses.
    pub max_warp_diff: f64,
    #[serde(skip)]
    pub per_image: Vec<ImageCheck>,
}

/// Check images `x` ([N, C, H, W]), their flows ([N, 2, H, W]) and the GPU's
/// adversarial images `adv` ([N, C, H, W]) against the 10×10 bounds `u`
/// (row-major, symmetric, U_{ty} at t·k + y), labels y and targets t.
#[allow(clippy::too_many_arguments)]
pub fn check(
    mlp: &Mlp,
    u: &[f64],
    x: &[f32],
    flows: &[f32],
    adv: &[f32],
    labels: &[u32],
    targets: &[u32],
    nb: Neighbours,
) -> BoundCheck {
    let [c, h, w] = mlp.input;
    let (per, perf, k) = (c * h * w, 2 * h * w, mlp.k);
    let n = labels.len();
    let mut out = BoundCheck {
        images: n,
        violations: 0,
        max_ratio: None,
        max_ratio_at: None,
        zero_flows: 0,
        max_warp_diff: 0.0,
        per_image: Vec::with_capacity(n),
    };
    for i in 0..n {
        let xi: Vec<f64> = x[i * per..(i + 1) * per].iter().map(|&v| v as f64).collect();
        let r: Vec<f64> = flows[i * perf..(i + 1) * perf].iter().map(|&v| v as f64).collect();
        let xh = warp_f64(&xi, &r, c, h, w);
        for (a, b) in xh.iter().zip(&adv[i * per..(i + 1) * per]) {
            out.max_warp_diff = out.max_warp_diff.max((a - *b as f64).abs());
        }
        let (y, t) = (labels[i] as usize, targets[i] as usize);
        let (l0, l1) = (logits_f64(mlp, &xi), logits_f64(mlp, &xh));
        let delta = (l1[t] - l1[y]) - (l0[t] - l0[y]);
        let nn = n_norm(&r, h, w, nb);
        let bound = 0.5 * nn * u[t * k + y];
        let violated = delta > bound;
        out.violations += violated as usize;
        out.zero_flows += r.iter().all(|&v| v == 0.0) as usize;
        if bound > 0.0 {
            let ratio = delta / bound;
            if out.max_ratio.is_none_or(|m| ratio > m) {
                out.max_ratio = Some(ratio);
                out.max_ratio_at = Some(i);
            }
        }
        out.per_image.push(ImageCheck { delta, n_norm: nn, bound, violated });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_flow_is_identity_and_integer_flow_shifts() {
        let (c, h, w) = (1, 3, 4);
        let x: Vec<f64> = (0..12).map(|v| v as f64 / 11.0).collect();
        assert_eq!(warp_f64(&x, &[0.0; 24], c, h, w), x);
        // every pixel samples one column to the right (the last clamps)
        let mut r = vec![0.0; 24];
        r[12..].iter_mut().for_each(|v| *v = 1.0);
        let y = warp_f64(&x, &r, c, h, w);
        for i in 0..h {
            for j in 0..w {
                assert!((y[i * w + j] - x[i * w + (j + 1).min(w - 1)]).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn n_norm_sums_both_channels() {
        let (h, w) = (3, 3);
        let mut r = vec![0.0; 18];
        r[4] = 1.0; // centre, vertical channel: 4 own edges + 4 neighbours' edges to it
        assert!((n_norm(&r, h, w, Neighbours::Diag4) - 8f64.sqrt()).abs() < 1e-12);
        r[9 + 4] = 1.0;
        assert!((n_norm(&r, h, w, Neighbours::Diag4) - 16f64.sqrt()).abs() < 1e-12);
    }
}

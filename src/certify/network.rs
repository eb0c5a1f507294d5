//! A one-hidden-layer ReLU MLP f(x) = V·relu(Wx + b₁) + b₂ as the
//! certificates see it: its 45 pair problems (SPEC §6 pixel L∞, §7 flow),
//! f64 logits and margins, and the certification rule.

use std::path::Path;

use anyhow::{bail, Result};
use serde::Serialize;

use super::bipartite::{Bipartite, Left};
use crate::nn::arch::{Arch, Layer};
use crate::nn::checkpoint::Checkpoint;

/// The threat model of a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Threat {
    /// Spatial flows with ‖N r‖₂ ≤ ε (SPEC §7).
    Flow,
    /// Pixels with ‖x̃ − x‖_∞ ≤ ε (SPEC §6).
    Linf,
}

impl Threat {
    /// The factor κ(ε) in f^{jy}(x̃) ≤ f^{jy}(x) + κ(ε)·U_{jy}:
    /// ε/2 for flows (P of SPEC §7), ε/4 for L∞ (the corrected M of SPEC §6).
    pub fn bound_factor(self, eps: f64) -> f64 {
        match self {
            Threat::Flow => eps / 2.0,
            Threat::Linf => eps / 4.0,
        }
    }

    /// Rows of the left block of a pair matrix for m hidden units (a constant
    /// coordinate and the hidden units for L∞, the hidden units for flows).
    pub fn left_rows(self, m: usize) -> usize {
        m + (self == Threat::Linf) as usize
    }

    /// Columns of the right block for d inputs (both flow components for flows).
    pub fn right_cols(self, d: usize) -> usize {
        match self {
            Threat::Linf => d,
            Threat::Flow => 2 * d,
        }
    }
}

/// The class pairs (i, j), i < j, of a k-class network: 45 for k = 10.
pub fn class_pairs(k: usize) -> Vec<(usize, usize)> {
    (0..k).flat_map(|i| (i + 1..k).map(move |j| (i, j))).collect()
}

/// The MLP's weights in f64 (from the f32 file).
pub struct Mlp {
    /// input C, H, W
    pub input: [usize; 3],
    /// inputs d, hidden m, classes k
    pub d: usize,
    pub m: usize,
    pub k: usize,
    /// fc1.weight m×d
    pub w1: Vec<f64>,
    pub b1: Vec<f64>,
    /// fc2.weight k×m
    pub w2: Vec<f64>,
    pub b2: Vec<f64>,
}

impl Mlp {
    /// The (d, m, k) of `mlp:d-m-k`, or a one-line error for anything else.
    pub fn sizes(arch: &Arch) -> Result<(usize, usize, usize)> {
        let lin: Vec<(usize, usize)> = arch
            .layers
            .iter()
            .filter_map(|l| if let Layer::Linear { inp, out, .. } = l { Some((*inp, *out)) } else { None })
            .collect();
        let ok = arch.spec.starts_with("mlp:")
            && lin.len() == 2
            && arch.layers.iter().all(|l| matches!(l, Layer::Flatten | Layer::Linear { .. } | Layer::Relu));
        if !ok {
            bail!(
                "--arch {}: the certificates need a one-hidden-layer ReLU MLP, mlp:D-H-K (like mlp:784-500-10)",
                arch.spec
            );
        }
        Ok((lin[0].0, lin[0].1, lin[1].1))
    }

    pub fn load(arch: &Arch, path: &Path) -> Result<Mlp> {
        let (d, m, k) = Self::sizes(arch)?;
        let ck = Checkpoint::load(path)?;
        let f = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<f64>>();
        Ok(Mlp {
            input: arch.input,
            d,
            m,
            k,
            w1: f(ck.get("fc1.weight", &[m, d])?),
            b1: f(ck.get("fc1.bias", &[m])?),
            w2: f(ck.get("fc2.weight", &[k, m])?),
            b2: f(ck.get("fc2.bias", &[k])?),
        })
    }

    /// Logits in f64.
    pub fn logits(&self, x: &[f32]) -> Vec<f64> {
        let (d, m) = (self.d, self.m);
        let h: Vec<f64> = (0..m)
            .map(|i| {
                let s: f64 = self.w1[i * d..(i + 1) * d].iter().zip(x).map(|(w, &xi)| w * xi as f64).sum();
                (s + self.b1[i]).max(0.0)
            })
            .collect();
        (0..self.k)
            .map(|c| self.w2[c * m..(c + 1) * m].iter().zip(&h).map(|(w, hi)| w * hi).sum::<f64>() + self.b2[c])
            .collect()
    }

    /// The pairs (i, j), i < j, in the order the certificates use.
    pub fn pairs(&self) -> Vec<(usize, usize)> {
        (0..self.k).flat_map(|i| (i + 1..self.k).map(move |j| (i, j))).collect()
    }

    /// v = V_i − V_j (times the pixel range γ for flows).
    pub fn pair_vector(&self, i: usize, j: usize, gamma: f64) -> Vec<f64> {
        let m = self.m;
        (0..m).map(|h| gamma * (self.w2[i * m + h] - self.w2[j * m + h])).collect()
    }
}

/// What one threat needs besides W: the left map's kind, the right scaling
/// b (flow: λ per input, repeated over channels and inflated by 1e-9 to
/// cover λ's own rounding; L∞: 1) and the number of right blocks.
pub struct PairSetup {
    pub threat: Threat,
    pub left: Left,
    pub b: Vec<f64>,
    pub copies: usize,
}

impl PairSetup {
    /// `lambda` (H·W, flow only) per pixel.
    pub fn new(threat: Threat, mlp: &Mlp, lambda: Option<&[f64]>) -> PairSetup {
        match threat {
            Threat::Flow => {
                let lam = lambda.expect("flow certificate needs λ");
                let hw = lam.len();
                let b = (0..mlp.d).map(|q| lam[q % hw] * (1.0 + 1e-9)).collect();
                PairSetup { threat, left: Left::Diag, b, copies: 2 }
            }
            Threat::Linf => PairSetup { threat, left: Left::ConstPlusDiag, b: vec![1.0; mlp.d], copies: 1 },
        }
    }

    pub fn problem<'a>(&'a self, mlp: &'a Mlp, a: &'a [f64]) -> Bipartite<'a> {
        Bipartite { m: mlp.m, n: mlp.d, w: &mlp.w1, a, left: self.left, b: &self.b, copies: self.copies }
    }
}

/// One image's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct ImageVerdict {
    pub index: usize,
    pub label: usize,
    pub prediction: usize,
    /// f_label(x) − f_j(x) for every class j (0 at the label), f64.
    pub margins: Vec<f64>,
    /// One per ε: f_j − f_label + κ(ε)·U_{j,label} < 0 for every j ≠ label.
    pub certified: Vec<bool>,
    /// The largest ε this rule certifies (0 when misclassified).
    pub max_certified_eps: f64,
}

/// Certify one image from its f64 logits and the 10×10 upper bounds.
pub fn verdict(
    index: usize,
    label: usize,
    logits: &[f64],
    bounds: &[f64],
    threat: Threat,
    eps: &[f64],
) -> ImageVerdict {
    let k = logits.len();
    let prediction = (0..k).fold(0, |b, c| if logits[c] > logits[b] { c } else { b });
    let margins: Vec<f64> = (0..k).map(|j| logits[label] - logits[j]).collect();
    let certified = eps
        .iter()
        .map(|&e| {
            (0..k).filter(|&j| j != label).all(|j| -margins[j] + threat.bound_factor(e) * bounds[j * k + label] < 0.0)
        })
        .collect();
    let unit = threat.bound_factor(1.0);
    let max_certified_eps = if (0..k).filter(|&j| j != label).all(|j| margins[j] > 0.0) {
        (0..k)
            .filter(|&j| j != label)
            .map(|j| margins[j] / (unit * bounds[j * k + label]).max(1e-300))
            .fold(f64::INFINITY, f64::min)
    } else {
        0.0
    };
    ImageVerdict { index, label, prediction, margins, certified, max_certified_eps }
}

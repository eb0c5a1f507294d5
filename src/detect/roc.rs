//! Detection rates of a flag and a score against a benign and an
//! adversarial set: TP = P(flag | adversarial), TN = P(no flag | benign),
//! the ROC curve of the score (adversarial = positive) and its AUC, and the
//! ROC plot.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use image::{Rgb, RgbImage};
use plotters::prelude::*;
use serde::Serialize;

use crate::grid::{draw_text, save_png, text_width};

#[derive(Clone, Debug, Serialize)]
pub struct Detection {
    pub adversarial: usize,
    pub benign: usize,
    pub adversarial_flagged: usize,
    pub benign_flagged: usize,
    /// adversarial_flagged / adversarial
    pub tp: f64,
    /// 1 − benign_flagged / benign
    pub tn: f64,
    /// Area under the score's ROC curve: P(score(adv) > score(benign)), ties counted ½.
    pub auc: f64,
    /// (false-positive rate, true-positive rate) from (0,0) to (1,1), one
    /// point per distinct score threshold.
    pub roc: Vec<(f64, f64)>,
}

/// Rates of `flags`/`scores` on the adversarial set against the benign one.
pub fn detection(adv_flags: &[bool], adv_scores: &[f64], ben_flags: &[bool], ben_scores: &[f64]) -> Result<Detection> {
    if adv_flags.is_empty() || ben_flags.is_empty() {
        bail!("detection rates need at least one adversarial and one benign image");
    }
    if adv_flags.len() != adv_scores.len() || ben_flags.len() != ben_scores.len() {
        bail!("detection rates: flags and scores differ in length");
    }
    if adv_scores.iter().chain(ben_scores).any(|s| !s.is_finite()) {
        bail!("detection rates: a score is not finite");
    }
    let af = adv_flags.iter().filter(|&&f| f).count();
    let bf = ben_flags.iter().filter(|&&f| f).count();
    Ok(Detection {
        adversarial: adv_flags.len(),
        benign: ben_flags.len(),
        adversarial_flagged: af,
        benign_flagged: bf,
        tp: af as f64 / adv_flags.len() as f64,
        tn: 1.0 - bf as f64 / ben_flags.len() as f64,
        auc: auc(adv_scores, ben_scores),
        roc: roc_curve(adv_scores, ben_scores),
    })
}

/// Mann–Whitney AUC from average ranks: P(pos > neg) + ½·P(pos = neg).
pub fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    let mut all: Vec<(f64, bool)> = pos.iter().map(|&s| (s, true)).chain(neg.iter().map(|&s| (s, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0; // ranks i+1 ..= j
        rank_sum += mean_rank * all[i..j].iter().filter(|e| e.1).count() as f64;
        i = j;
    }
    let (p, n) = (pos.len() as f64, neg.len() as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

/// ROC points: flag when score ≥ t, for every distinct score t from the
/// highest down, after (0, 0).
pub fn roc_curve(pos: &[f64], neg: &[f64]) -> Vec<(f64, f64)> {
    let mut all: Vec<(f64, bool)> = pos.iter().map(|&s| (s, true)).chain(neg.iter().map(|&s| (s, false))).collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (p, n) = (pos.len().max(1) as f64, neg.len().max(1) as f64);
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut out = vec![(0.0, 0.0)];
    let mut i = 0;
    while i < all.len() {
        let t = all[i].0;
        while i < all.len() && all[i].0 == t {
            if all[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push((fp as f64 / n, tp as f64 / p));
    }
    out
}

/// Trapezoidal area under ROC points (equals [`auc`] on [`roc_curve`]'s points).
pub fn trapezoid_area(points: &[(f64, f64)]) -> f64 {
    points.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum()
}

const W: u32 = 420;
const H: u32 = 440;
const M: u32 = 56;

/// The ROC curve with the chance diagonal, the flag rule's operating point
/// (1 − TN, TP) and the AUC in the title, as a PNG.
pub fn save_roc_png(path: &Path, d: &Detection, title: &str) -> Result<()> {
    let mut buf = vec![255u8; (W * H * 3) as usize];
    let err = |e: &dyn std::fmt::Display| anyhow!("ROC plot: {e}");
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin_left(M)
            .margin_right(20)
            .margin_top(M)
            .margin_bottom(M - 20)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(|e| err(&e))?;
        let grey = RGBColor(200, 200, 200);
        chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], grey)).map_err(|e| err(&e))?;
        chart
            .draw_series(LineSeries::new([(0.0, 1.0), (0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)], BLACK))
            .map_err(|e| err(&e))?;
        let blue = RGBColor(40, 90, 200);
        chart.draw_series(LineSeries::new(d.roc.clone(), blue.stroke_width(2))).map_err(|e| err(&e))?;
        let red = RGBColor(210, 40, 40);
        chart.draw_series([Circle::new((1.0 - d.tn, d.tp), 5, red.filled())]).map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    let mut img = RgbImage::from_raw(W, H, buf).ok_or_else(|| anyhow!("ROC plot: buffer size"))?;
    let ink = Rgb([20, 20, 20]);
    draw_text(&mut img, 8, 8, &title.to_ascii_uppercase(), 2, ink);
    let line = format!("AUC {:.3}  FLAG: TP {:.3} TN {:.3}", d.auc, d.tp, d.tn);
    draw_text(&mut img, 8, 26, &line, 2, Rgb([210, 40, 40]));
    let x_label = "FALSE POSITIVE RATE (BENIGN FLAGGED)";
    draw_text(&mut img, (W - text_width(x_label, 1)) / 2, H - 14, x_label, 1, ink);
    draw_text(&mut img, 4, H / 2, "TPR", 2, ink);
    draw_text(&mut img, M - 10, H - M + 24, "0", 1, ink);
    draw_text(&mut img, W - 24, H - M + 24, "1", 1, ink);
    draw_text(&mut img, M - 12, M - 2, "1", 1, ink);
    save_png(path, &img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_rates_auc_and_curve() {
        // adversarial scores 0.9, 0.8, 0.4, 0.1; benign 0.8, 0.3, 0.2
        let pos = [0.9, 0.8, 0.4, 0.1];
        let neg = [0.8, 0.3, 0.2];
        // pairs pos > neg: 0.9:3, 0.8:2 (+ a tie), 0.4:2, 0.1:0 → (7 + 0.5)/12
        assert!((auc(&pos, &neg) - 7.5 / 12.0).abs() < 1e-12);
        let roc = roc_curve(&pos, &neg);
        let want =
            [(0.0, 0.0), (0.0, 0.25), (1.0 / 3.0, 0.5), (1.0 / 3.0, 0.75), (2.0 / 3.0, 0.75), (1.0, 0.75), (1.0, 1.0)];
        assert_eq!(roc.len(), want.len());
        for (a, b) in roc.iter().zip(want) {
            assert!((a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12, "{roc:?}");
        }
        assert!((trapezoid_area(&roc) - 7.5 / 12.0).abs() < 1e-12);
        let d = detection(&[true, true, false, false], &pos, &[true, false, false], &neg).unwrap();
        assert_eq!((d.adversarial_flagged, d.benign_flagged), (2, 1));
        assert!((d.tp - 0.5).abs() < 1e-12 && (d.tn - 2.0 / 3.0).abs() < 1e-12);
        // perfect and inverted separation
        assert_eq!(auc(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        assert_eq!(auc(&[0.1], &[0.2, 0.3]), 0.0);
        assert_eq!(auc(&[0.5, 0.5], &[0.5]), 0.5);
        assert!(detection(&[], &[], &[true], &[0.1]).is_err());
        assert!(detection(&[true], &[f64::NAN], &[true], &[0.1]).is_err());
    }

    #[test]
    fn auc_equals_the_area_under_the_curve_on_random_scores() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // scores on a coarse grid so that ties occur
        let mut draw = |n: usize, shift: f64| -> Vec<f64> {
            (0..n).map(|_| ((rng.random_range(0.0..1.0) + shift) * 10.0).floor() / 10.0).collect()
        };
        let (pos, neg) = (draw(57, 0.3), draw(41, 0.0));
        let brute = pos
            .iter()
            .flat_map(|p| {
                neg.iter().map(move |n| {
                    if p > n {
                        1.0
                    } else if p == n {
                        0.5
                    } else {
                        0.0
                    }
                })
            })
            .sum::<f64>()
            / (57.0 * 41.0);
        assert!((auc(&pos, &neg) - brute).abs() < 1e-12);
        assert!((trapezoid_area(&roc_curve(&pos, &neg)) - brute).abs() < 1e-12);
    }
}

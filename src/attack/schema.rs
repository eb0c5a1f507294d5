//! The one results schema every attack writes (fgsm, pgd, cw, jsma, stadv).
//!
//! `results.json` is [`crate::report::envelope`] with `results` =
//! [`AttackResults`]: a [`Summary`], the wall-clock [`Timing`], an optional
//! robust-accuracy [`SweepPoint`] list and one [`Record`] per image. The
//! summary is computed from the records alone, so `advlab merge` recomputes
//! exactly the summary of an unsharded run from the shards' records.
//!
//! Success rate counts only the images the model classified correctly:
//! an untargeted attack on a misclassified image "succeeds" without doing
//! anything, so those images are reported apart (`misclassified`,
//! `misclassified_successes`) and left out of `success_rate` and of the
//! norm statistics.

use serde::{Deserialize, Serialize};

use super::{norm_stats, perturbation_norms, AttackResult, NormStats};

/// One image's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The image's position in its split (`--data`) or in `--input`.
    pub index: usize,
    pub label: u32,
    pub clean_pred: u32,
    pub adv_pred: u32,
    /// The target class (null when untargeted).
    pub target: Option<u32>,
    /// Targeted: adv_pred == target. Untargeted: adv_pred differs from the
    /// class the attack moved away from. stAdv: strict success (goal reached
    /// and L_flow within the flow budget).
    pub success: bool,
    /// Features that differ from the input.
    pub l0: usize,
    pub l2: f64,
    pub linf: f64,
    /// stAdv: the flow loss of the returned flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l_flow: Option<f64>,
    /// stAdv: the goal reached, whatever L_flow (= success without a budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_soft: Option<bool>,
    /// stAdv: τ of the run that produced the returned flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f64>,
    /// Gradient steps (FGSM 1, PGD iters, C&W iterates, JSMA pairs, stAdv
    /// the iteration that found the returned flow).
    pub iterations: u32,
}

impl Record {
    pub fn clean_correct(&self) -> bool {
        self.clean_pred == self.label
    }
}

/// Aggregates over the records (no timing: equal for equal records).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub images: usize,
    /// Images the model classified correctly before the attack.
    pub clean_correct: usize,
    /// Images it did not (excluded from `success_rate` and the norms).
    pub misclassified: usize,
    /// Successes among the correctly classified images.
    pub successes: usize,
    /// successes / clean_correct (null when no image was classified correctly).
    pub success_rate: Option<f64>,
    /// Successes among the misclassified images, reported apart.
    pub misclassified_successes: usize,
    pub clean_accuracy: f64,
    /// Accuracy on the adversarial images against the labels.
    pub adv_accuracy: f64,
    /// Images classified correctly both before and after the attack, over all images.
    pub robust_accuracy: f64,
    /// Norms over the counted successes (null if none).
    pub l0: Option<NormStats>,
    pub l2: Option<NormStats>,
    pub linf: Option<NormStats>,
    /// stAdv: L_flow over the counted successes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l_flow: Option<NormStats>,
    /// stAdv: soft successes (goal reached, any L_flow) among the correctly classified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_successes: Option<usize>,
    pub mean_iterations: f64,
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl Summary {
    pub fn from_records(r: &[Record]) -> Summary {
        let n = r.len();
        let counted: Vec<&Record> = r.iter().filter(|i| i.clean_correct() && i.success).collect();
        let clean_correct = r.iter().filter(|i| i.clean_correct()).count();
        let col = |f: fn(&Record) -> Option<f64>| -> Option<NormStats> {
            let mut v: Vec<f64> = counted.iter().filter_map(|i| f(i)).collect();
            norm_stats(&mut v)
        };
        let stadv = r.first().is_some_and(|i| i.l_flow.is_some());
        Summary {
            images: n,
            clean_correct,
            misclassified: n - clean_correct,
            successes: counted.len(),
            success_rate: ratio(counted.len(), clean_correct),
            misclassified_successes: r.iter().filter(|i| !i.clean_correct() && i.success).count(),
            clean_accuracy: ratio(clean_correct, n).unwrap_or(0.0),
            adv_accuracy: ratio(r.iter().filter(|i| i.adv_pred == i.label).count(), n).unwrap_or(0.0),
            robust_accuracy: ratio(r.iter().filter(|i| i.clean_correct() && i.adv_pred == i.label).count(), n)
                .unwrap_or(0.0),
            l0: col(|i| Some(i.l0 as f64)),
            l2: col(|i| Some(i.l2)),
            linf: col(|i| Some(i.linf)),
            l_flow: if stadv { col(|i| i.l_flow) } else { None },
            soft_successes: stadv
                .then(|| r.iter().filter(|i| i.clean_correct() && i.success_soft.unwrap_or(i.success)).count()),
            mean_iterations: r.iter().map(|i| i.iterations as f64).sum::<f64>() / n.max(1) as f64,
        }
    }
}

/// Wall clock (differs between runs; kept out of the summary).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub seconds: f64,
    pub images_per_sec: f64,
}

impl Timing {
    pub fn new(seconds: f64, images: usize) -> Timing {
        Timing { seconds, images_per_sec: images as f64 / seconds.max(1e-9) }
    }
}

/// Robust accuracy at one ε of a sweep (counts, so shards add up).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    pub eps: f64,
    pub images: usize,
    pub clean_correct: usize,
    /// Correctly classified images the attack did not break at this ε.
    pub robust_correct: usize,
    /// Correctly classified images it broke.
    pub successes: usize,
    pub robust_accuracy: f64,
    pub success_rate: Option<f64>,
}

impl SweepPoint {
    pub fn new(eps: f64, images: usize, clean_correct: usize, robust_correct: usize, successes: usize) -> SweepPoint {
        SweepPoint {
            eps,
            images,
            clean_correct,
            robust_correct,
            successes,
            robust_accuracy: ratio(robust_correct, images).unwrap_or(0.0),
            success_rate: ratio(successes, clean_correct),
        }
    }

    /// From the records of an attack run at `eps` (FGSM / PGD).
    pub fn from_records(eps: f64, r: &[Record]) -> SweepPoint {
        let cc = r.iter().filter(|i| i.clean_correct()).count();
        let robust = r.iter().filter(|i| i.clean_correct() && i.adv_pred == i.label).count();
        let succ = r.iter().filter(|i| i.clean_correct() && i.success).count();
        SweepPoint::new(eps, r.len(), cc, robust, succ)
    }

    /// C&W: an L2 bound on the perturbations found. An image counts as
    /// robust at `eps` when it was classified correctly and its C&W
    /// adversarial either was not found or has L2 > eps.
    pub fn from_l2_bound(eps: f64, r: &[Record]) -> SweepPoint {
        let cc = r.iter().filter(|i| i.clean_correct()).count();
        let succ = r.iter().filter(|i| i.clean_correct() && i.success && i.l2 <= eps).count();
        SweepPoint::new(eps, r.len(), cc, cc - succ, succ)
    }

    /// Sum of the same ε over shards.
    pub fn add(&self, o: &SweepPoint) -> SweepPoint {
        SweepPoint::new(
            self.eps,
            self.images + o.images,
            self.clean_correct + o.clean_correct,
            self.robust_correct + o.robust_correct,
            self.successes + o.successes,
        )
    }
}

/// `results` of an attack's results.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackResults {
    pub summary: Summary,
    pub timing: Timing,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Vec<SweepPoint>>,
    pub per_image: Vec<Record>,
}

impl AttackResults {
    pub fn new(per_image: Vec<Record>, seconds: f64, sweep: Option<Vec<SweepPoint>>) -> AttackResults {
        AttackResults {
            summary: Summary::from_records(&per_image),
            timing: Timing::new(seconds, per_image.len()),
            sweep,
            per_image,
        }
    }
}

/// Records of a pixel attack run (indices already the images' positions).
pub fn records(res: &AttackResult) -> Vec<Record> {
    res.images
        .iter()
        .map(|i| Record {
            index: i.index,
            label: i.label,
            clean_pred: i.clean_pred,
            adv_pred: i.adv_pred,
            target: i.target,
            success: i.success,
            l0: i.l0,
            l2: i.l2,
            linf: i.linf,
            l_flow: None,
            success_soft: None,
            tau: None,
            iterations: i.iterations,
        })
        .collect()
}

/// Records of a stAdv run on `images` (flat N×C×H×W) with their `labels`,
/// clean predictions, targets and positions `index`.
pub fn stadv_records(
    out: &crate::stadv::StadvOutcome,
    images: &[f32],
    labels: &[u32],
    clean_pred: &[u32],
    targets: Option<&[u32]>,
    index: &[usize],
) -> Vec<Record> {
    let per = out.shape[1] * out.shape[2] * out.shape[3];
    (0..out.len())
        .map(|i| {
            let (l0, l2, linf) = perturbation_norms(&images[i * per..(i + 1) * per], &out.adv[i * per..(i + 1) * per]);
            Record {
                index: index[i],
                label: labels[i],
                clean_pred: clean_pred[i],
                adv_pred: out.pred[i],
                target: targets.map(|t| t[i]),
                success: out.success_strict[i],
                l0,
                l2,
                linf,
                l_flow: Some(out.l_flow[i] as f64),
                success_soft: Some(out.success_soft[i]),
                tau: Some(out.tau[i] as f64),
                iterations: out.iterations[i],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(index: usize, label: u32, clean: u32, adv: u32, success: bool, l2: f64) -> Record {
        Record {
            index,
            label,
            clean_pred: clean,
            adv_pred: adv,
            target: None,
            success,
            l0: 3,
            l2,
            linf: l2 / 2.0,
            l_flow: None,
            success_soft: None,
            tau: None,
            iterations: 1,
        }
    }

    #[test]
    fn misclassified_images_are_counted_apart() {
        let r = vec![
            rec(0, 1, 1, 2, true, 1.0),  // broken
            rec(1, 2, 2, 2, false, 0.5), // robust
            rec(2, 3, 4, 5, true, 9.0),  // misclassified: apart
            rec(3, 4, 4, 7, true, 3.0),  // broken
        ];
        let s = Summary::from_records(&r);
        assert_eq!((s.images, s.clean_correct, s.misclassified, s.successes), (4, 3, 1, 2));
        assert_eq!(s.success_rate, Some(2.0 / 3.0));
        assert_eq!(s.misclassified_successes, 1);
        assert_eq!((s.clean_accuracy, s.adv_accuracy, s.robust_accuracy), (0.75, 0.25, 0.25));
        assert_eq!(s.l2, Some(NormStats { mean: 2.0, median: 2.0 }));
        assert_eq!(s.l_flow, None);
        let all_wrong = Summary::from_records(&[rec(0, 1, 2, 2, true, 1.0)]);
        assert_eq!((all_wrong.success_rate, all_wrong.l2), (None, None));
        let p = SweepPoint::from_l2_bound(1.5, &r);
        assert_eq!((p.robust_correct, p.successes, p.robust_accuracy), (2, 1, 0.5));
        let q = SweepPoint::from_records(0.1, &r);
        assert_eq!((q.robust_correct, q.successes), (1, 2));
        assert_eq!(p.add(&p), SweepPoint::new(1.5, 8, 6, 4, 2));
    }

    #[test]
    fn records_round_trip_through_json_exactly() {
        let mut r = rec(7, 1, 1, 2, true, 0.1 + 0.2);
        r.linf = 1.0 / 3.0;
        r.l_flow = Some(std::f64::consts::PI * 1e-7);
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.contains("\"target\":null"), "{s}");
        let back: Record = serde_json::from_str(&s).unwrap();
        assert_eq!(back, r);
        let plain = rec(1, 1, 1, 1, false, 0.0);
        assert!(!serde_json::to_string(&plain).unwrap().contains("l_flow"));
    }
}

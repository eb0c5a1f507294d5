//! The detector of thesis §3.2: flag x when f1's class differs from the
//! mask classifier's class of g(x); the continuous score is
//! 1 − p_f2(f1's class | g(x)) (high = suspicious).

use std::sync::Arc;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::gpu::Gpu;
use crate::nn::Model;
use crate::ops::{reduce, softmax_xent};

/// f1, the LAN g and the mask classifier f2, checked to fit together.
pub struct Detector {
    pub f1: Model,
    pub lan: Model,
    pub f2: Model,
}

impl Detector {
    /// Refuses a LAN whose masks are not f1's images' shape and an f2 that
    /// does not take those masks or has another class count.
    pub fn new(f1: Model, lan: Model, f2: Model) -> Result<Detector> {
        f1.arch.expect_classifier("--arch (f1)")?;
        super::lan::check_pair(&lan, &f1, "--lan")?;
        if f2.arch.is_mask() {
            bail!("--f2-arch {}: a mask network, not a classifier", f2.arch.spec);
        }
        if f2.arch.input != lan.arch.input {
            let [c, h, w] = f2.arch.input;
            let [mc, mh, mw] = lan.arch.input;
            bail!("--f2: --f2-arch {} takes {c}×{h}×{w} inputs but the LAN makes {mc}×{mh}×{mw} masks", f2.arch.spec);
        }
        if f2.arch.classes != f1.arch.classes {
            bail!(
                "--f2: --f2-arch {} has {} classes, --arch {} has {}",
                f2.arch.spec,
                f2.arch.classes,
                f1.arch.spec,
                f1.arch.classes
            );
        }
        Ok(Detector { f1, lan, f2 })
    }

    /// One record per image of `images` (N·C·H·W values in f1's shape).
    pub fn run(&self, gpu: &Arc<Gpu>, images: &[f32], batch: usize) -> Result<Vec<Record>> {
        let [c, h, w] = self.f1.arch.input;
        let d = c * h * w;
        if !images.len().is_multiple_of(d) {
            bail!("{} values are not whole {c}×{h}×{w} images", images.len());
        }
        let k = self.f1.arch.classes;
        let mut out = Vec::with_capacity(images.len() / d);
        for chunk in images.chunks(batch.max(1) * d) {
            let n = chunk.len() / d;
            let x = gpu.upload(chunk, &[n, c, h, w]);
            let p1 = reduce::argmax_rows(gpu, &self.f1.logits(gpu, &x));
            let m = self.lan.logits(gpu, &x);
            let z2 = self.f2.logits(gpu, &m);
            let p2 = reduce::argmax_rows(gpu, &z2);
            let prob = gpu.read(&softmax_xent::softmax(gpu, &z2));
            for i in 0..n {
                let (a, b) = (p1[i], p2[i]);
                out.push(Record {
                    index: out.len(),
                    f1_pred: a,
                    f2_pred: b,
                    flag: a != b,
                    score: 1.0 - prob[i * k + a as usize] as f64,
                    label: None,
                });
            }
        }
        Ok(out)
    }
}

/// One image's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// Position in the input file.
    pub index: usize,
    /// The true label, when given.
    pub label: Option<u32>,
    /// argmax f1(x)
    pub f1_pred: u32,
    /// argmax f2(g(x))
    pub f2_pred: u32,
    /// f1_pred ≠ f2_pred: flagged as adversarial.
    pub flag: bool,
    /// 1 − softmax(f2(g(x)))[f1_pred]
    pub score: f64,
}

/// Counts over a set of records.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub images: usize,
    pub flagged: usize,
    pub flag_rate: f64,
    /// With labels: f1's accuracy, f2's accuracy on the masks (its recovery
    /// of the true class), both correct.
    pub f1_accuracy: Option<f64>,
    pub f2_accuracy: Option<f64>,
    pub mean_score: f64,
}

pub fn summarize(records: &[Record]) -> Summary {
    let n = records.len().max(1) as f64;
    let flagged = records.iter().filter(|r| r.flag).count();
    let labelled = records.iter().all(|r| r.label.is_some()) && !records.is_empty();
    let acc =
        |f: fn(&Record) -> u32| labelled.then(|| records.iter().filter(|r| Some(f(r)) == r.label).count() as f64 / n);
    Summary {
        images: records.len(),
        flagged,
        flag_rate: flagged as f64 / n,
        f1_accuracy: acc(|r| r.f1_pred),
        f2_accuracy: acc(|r| r.f2_pred),
        mean_score: records.iter().map(|r| r.score).sum::<f64>() / n,
    }
}

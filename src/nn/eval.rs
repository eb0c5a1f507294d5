//! Scoring a model on labelled images: accuracy, mean loss, per-class
//! accuracy and the confusion matrix; and plain logits for `predict`. Both
//! run in device batches that fit the adapter (see [`super::capacity`]).

use std::sync::Arc;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::capacity::DeviceBatch;
use super::Model;
use crate::data::{check_classes, Dataset};
use crate::gpu::Gpu;
use crate::report;

/// Accuracy of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    pub class: usize,
    /// Images whose label is this class.
    pub n: usize,
    pub correct: usize,
    /// `correct / n` (0 when the class has no images).
    pub accuracy: f64,
}

/// What `advlab eval` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassEval {
    pub n: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Mean cross-entropy (computed in f64 from the logits).
    pub mean_loss: f64,
    pub per_class: Vec<ClassAccuracy>,
    /// `confusion[label][prediction]`: image counts, classes × classes.
    pub confusion: Vec<Vec<usize>>,
}

/// Logits [n, classes] for `n` images (`images` holds n × C·H·W values),
/// `batch.size` images per device batch.
pub fn predict_logits(gpu: &Arc<Gpu>, model: &Model, images: &[f32], batch: DeviceBatch) -> Result<Vec<f32>> {
    let per = model.arch.input_len();
    if batch.size == 0 || !images.len().is_multiple_of(per) {
        bail!("predict: {} values are not whole images of {per} values (batch {})", images.len(), batch.size);
    }
    let [c, h, w] = model.arch.input;
    let mut logits = Vec::with_capacity(images.len() / per * model.arch.classes);
    for chunk in images.chunks(batch.size * per) {
        let x = gpu.upload(chunk, &[chunk.len() / per, c, h, w]);
        logits.extend(gpu.read(&model.logits(gpu, &x)));
    }
    Ok(logits)
}

/// One scored image, as `advlab eval` records it in `per_image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// The image's position in its split (or `--input`).
    pub index: usize,
    pub label: u32,
    /// The first largest logit's class.
    pub pred: u32,
    /// Cross-entropy of the logits against the label (f64 from f32 logits).
    pub loss: f64,
}

/// What `advlab eval` writes under `results`: the summary, per-class
/// accuracy, the confusion matrix, timing and every image's record. The
/// summary is a function of the records alone ([`EvalResults::from_records`]),
/// so the merge of sharded evals equals the unsharded eval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalResults {
    pub eval: EvalSummary,
    pub per_class: Vec<ClassAccuracy>,
    /// `confusion[label][prediction]`: image counts, classes × classes.
    pub confusion: Vec<Vec<usize>>,
    pub seconds: f64,
    pub per_image: Vec<EvalRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    pub n: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub mean_loss: f64,
}

impl EvalResults {
    pub fn from_records(per_image: Vec<EvalRecord>, classes: usize, seconds: f64) -> EvalResults {
        let e = score_records(&per_image, classes);
        EvalResults {
            eval: EvalSummary { n: e.n, correct: e.correct, accuracy: e.accuracy, mean_loss: e.mean_loss },
            per_class: e.per_class,
            confusion: e.confusion,
            seconds,
            per_image,
        }
    }
}

/// Score `model` on `data`; `what` names the data in errors (labels
/// outside the model's classes are an error, see [`check_classes`]).
pub fn evaluate_classes(
    gpu: &Arc<Gpu>,
    model: &Model,
    data: &Dataset,
    what: &str,
    batch: DeviceBatch,
) -> Result<ClassEval> {
    let index: Vec<usize> = (0..data.n).collect();
    Ok(score_records(&evaluate_records(gpu, model, data, &index, what, batch)?, model.arch.classes))
}

/// One record per image of `data`; `index[i]` is image i's position in its source.
pub fn evaluate_records(
    gpu: &Arc<Gpu>,
    model: &Model,
    data: &Dataset,
    index: &[usize],
    what: &str,
    batch: DeviceBatch,
) -> Result<Vec<EvalRecord>> {
    model.check_input(what, &[data.n, data.c, data.h, data.w])?;
    let k = model.arch.classes;
    check_classes(what, &data.labels, k)?;
    if index.len() != data.n {
        bail!("{what}: {} indices for {} images", index.len(), data.n);
    }
    let logits = predict_logits(gpu, model, &data.images, batch)?;
    Ok(records(&logits, &data.labels, index, k))
}

/// Per-image records from host logits [n, k], labels (each < k) and
/// source positions.
pub fn records(logits: &[f32], labels: &[u32], index: &[usize], k: usize) -> Vec<EvalRecord> {
    logits
        .chunks(k)
        .zip(labels)
        .zip(index)
        .map(|((row, &label), &index)| {
            let pred = row.iter().enumerate().fold(0, |b, (j, &v)| if v > row[b] { j } else { b });
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v)) as f64;
            let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
            EvalRecord { index, label, pred: pred as u32, loss: lse - row[label as usize] as f64 }
        })
        .collect()
}

/// Accuracy, loss, per-class accuracy and confusion from host logits
/// [n, k] and labels (each < k). The prediction is the first largest logit.
pub fn score(logits: &[f32], labels: &[u32], k: usize) -> ClassEval {
    let index: Vec<usize> = (0..labels.len()).collect();
    score_records(&records(logits, labels, &index, k), k)
}

/// [`score`] from per-image records (losses summed in record order).
pub fn score_records(recs: &[EvalRecord], k: usize) -> ClassEval {
    let n = recs.len();
    let mut confusion = vec![vec![0usize; k]; k];
    let mut loss = 0.0f64;
    for r in recs {
        confusion[r.label as usize][r.pred as usize] += 1;
        loss += r.loss;
    }
    let per_class: Vec<ClassAccuracy> = (0..k)
        .map(|c| {
            let n = confusion[c].iter().sum::<usize>();
            let correct = confusion[c][c];
            ClassAccuracy { class: c, n, correct, accuracy: if n == 0 { 0.0 } else { correct as f64 / n as f64 } }
        })
        .collect();
    let correct = per_class.iter().map(|c| c.correct).sum::<usize>();
    ClassEval {
        n,
        correct,
        accuracy: correct as f64 / n.max(1) as f64,
        mean_loss: loss / n.max(1) as f64,
        per_class,
        confusion,
    }
}

impl ClassEval {
    /// Per-class accuracy as a markdown table (class, images, correct, accuracy).
    pub fn per_class_markdown(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .per_class
            .iter()
            .map(|c| vec![c.class.to_string(), c.n.to_string(), c.correct.to_string(), pct(c.accuracy)])
            .collect();
        report::markdown_table(&["class", "images", "correct", "accuracy"], &rows)
    }

    /// The confusion matrix as a markdown table: one row per label, one
    /// column per prediction.
    pub fn confusion_markdown(&self) -> String {
        let k = self.confusion.len();
        let mut header = vec!["label \\ predicted".to_string()];
        header.extend((0..k).map(|j| j.to_string()));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = self
            .confusion
            .iter()
            .enumerate()
            .map(|(i, r)| std::iter::once(i.to_string()).chain(r.iter().map(|v| v.to_string())).collect())
            .collect();
        report::markdown_table(&header, &rows)
    }
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_counts_confusion_and_loss() {
        // 3 classes, 4 images: labels 0,1,2,2; predictions 0,2,2,0 (ties go to the first).
        let logits = [5.0, 1.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 1.0, 1.0, 1.0];
        let e = score(&logits, &[0, 1, 2, 2], 3);
        assert_eq!(e.confusion, vec![vec![1, 0, 0], vec![0, 0, 1], vec![1, 0, 1]]);
        assert_eq!((e.n, e.correct, e.accuracy), (4, 2, 0.5));
        let acc: Vec<(usize, usize)> = e.per_class.iter().map(|c| (c.n, c.correct)).collect();
        assert_eq!(acc, vec![(1, 1), (1, 0), (2, 1)]);
        let xent = |row: &[f64], y: usize| row.iter().map(|v| v.exp()).sum::<f64>().ln() - row[y];
        let want = (xent(&[5.0, 1.0, 1.0], 0)
            + xent(&[0.0, 1.0, 2.0], 1)
            + xent(&[0.0, 0.0, 3.0], 2)
            + xent(&[1.0, 1.0, 1.0], 2))
            / 4.0;
        assert!((e.mean_loss - want).abs() < 1e-12, "{} vs {want}", e.mean_loss);
        let md = e.confusion_markdown();
        assert!(md.starts_with("| label \\ predicted | 0 | 1 | 2 |\n|---|---|---|---|\n| 0 | 1 | 0 | 0 |"), "{md}");
        assert!(e.per_class_markdown().contains("| 2 | 2 | 1 | 50.00% |"));
    }
}

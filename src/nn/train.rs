//! Training a classifier on labels: the cross-entropy objective for
//! [`fit`](super::fit::fit), one-epoch and evaluation helpers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

pub use super::augment::{augment_images, augment_rng, Augment, AUGMENT_PAD};
use super::capacity::{device_batch, Pass};
pub use super::fit::{epoch_order, EpochStats, FitConfig as TrainConfig};
use super::fit::{fit_epoch, Batch, FitHooks, Objective, StepOut};
use super::model::{Mode, Model};
use super::optim::Optimizer;
use super::Arch;
use crate::autograd::{Graph, Var};
use crate::data::{DataSpec, Dataset};
use crate::gpu::Gpu;
use crate::ops::{elementwise as ew, softmax_xent};
use crate::tensor::Tensor;

#[derive(Clone, Debug, Serialize)]
pub struct EvalStats {
    pub n: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub mean_loss: f64,
}

/// Upload images [B, C, H, W] and labels for the given dataset indices.
pub fn upload_batch(gpu: &Arc<Gpu>, data: &Dataset, idx: &[usize], host: &mut Vec<f32>) -> (Tensor, Tensor) {
    let per = data.image_len();
    host.clear();
    for &i in idx {
        host.extend_from_slice(data.image(i));
    }
    let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i]).collect();
    let x = gpu.upload(host, &[idx.len(), data.c, data.h, data.w]);
    debug_assert_eq!(host.len(), idx.len() * per);
    (x, gpu.upload_u32(&labels, &[idx.len()]))
}

/// The classifier objective: mean softmax cross-entropy of `model`'s
/// logits (train mode: batch statistics, dropout seeded per step) against
/// the batch labels. `params` must be `model`'s, bound in its order.
pub fn classifier_objective(model: &Model) -> impl FnMut(&mut Graph, &[Var], &Batch) -> Result<StepOut> + '_ {
    move |g, params, batch| {
        let xv = g.leaf(batch.x.clone(), false);
        let logits = model.forward_mode(g, xv, params, Mode::Train { seed: batch.seed });
        let per_row = g.softmax_xent(logits, &batch.labels);
        let loss = g.mean(per_row);
        Ok(StepOut { loss, logits: Some(logits), metrics: Vec::new() })
    }
}

/// One epoch of classifier training (what `fit` runs per epoch for
/// `advlab train`), for benchmarks and tests that drive epochs themselves.
/// The model runs in `Mode::Train` with dropout seeded by
/// `step_seed(cfg.seed, global step)`, so a run resumed at an epoch boundary
/// replays bit for bit.
#[allow(clippy::too_many_arguments)]
pub fn train_epoch(
    gpu: &Arc<Gpu>,
    model: &Model,
    opt: &mut Optimizer,
    data: &Dataset,
    cfg: &TrainConfig,
    epoch: usize,
    lr: f32,
    mut on_step: impl FnMut(usize, f64, f64),
) -> Result<EpochStats> {
    let mut objective = classifier_objective(model);
    let objective: &mut dyn Objective = &mut objective;
    fit_epoch(gpu, model, opt, data, cfg, epoch, lr, objective, |seen, loss, acc| {
        on_step(seen, loss, acc.unwrap_or(f64::NAN))
    })
}

/// Accuracy and mean loss over a whole dataset, `batch` images at a time
/// (capped at what the adapter holds; the result does not depend on it).
pub fn evaluate(gpu: &Arc<Gpu>, model: &Model, data: &Dataset, batch: usize) -> Result<EvalStats> {
    model.check_input("evaluation data", &[data.n, data.c, data.h, data.w])?;
    let batch = device_batch(&model.arch, gpu, batch, Pass::Forward)?.size;
    let loss_sum = gpu.zeros(&[1]);
    let correct = gpu.zeros(&[1]);
    let mut host = Vec::new();
    let all: Vec<usize> = (0..data.n).collect();
    for idx in all.chunks(batch) {
        let (x, y) = upload_batch(gpu, data, idx, &mut host);
        let logits = model.logits(gpu, &x);
        softmax_xent::count_correct(gpu, &logits, &y, &correct);
        let (loss, _) = softmax_xent::forward(gpu, &logits, &y);
        let s = crate::ops::reduce::sum_all(gpu, &loss, 1.0);
        ew::axpy(gpu, 1.0, &s, &loss_sum);
    }
    let c = gpu.read(&correct)[0] as usize;
    Ok(EvalStats {
        n: data.n,
        correct: c,
        accuracy: c as f64 / data.n.max(1) as f64,
        mean_loss: gpu.read(&loss_sum)[0] as f64 / data.n.max(1) as f64,
    })
}

/// Where the optimiser state for `--resume` lives next to the model.
pub fn state_path(model_path: &Path) -> PathBuf {
    let mut s = model_path.as_os_str().to_owned();
    s.push(".train-state");
    PathBuf::from(s)
}

/// The model's predicted class for every image of `data`, in device
/// batches of at most `batch` images.
pub fn predict_labels(gpu: &Arc<Gpu>, model: &Model, data: &Dataset, batch: usize) -> Result<Vec<u32>> {
    model.check_input("prediction data", &[data.n, data.c, data.h, data.w])?;
    let batch = device_batch(&model.arch, gpu, batch, Pass::Forward)?.size;
    let mut host = Vec::new();
    let mut out = Vec::with_capacity(data.n);
    let all: Vec<usize> = (0..data.n).collect();
    for idx in all.chunks(batch) {
        let (x, _) = upload_batch(gpu, data, idx, &mut host);
        out.extend(crate::ops::reduce::argmax_rows(gpu, &model.logits(gpu, &x)));
    }
    Ok(out)
}

/// Where the best-validation model goes: `M.safetensors` → `M.best.safetensors`.
pub fn best_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!("{stem}.best.safetensors"))
}

/// After each epoch: accuracy on the validation split (the selection
/// score) and on the test split, then the model checkpoints.
pub struct ClassifierHooks<'a> {
    pub gpu: &'a Arc<Gpu>,
    pub model: &'a Model,
    pub val: Option<&'a Dataset>,
    pub test: &'a Dataset,
    pub out: &'a Path,
    pub seed: u64,
}

impl FitHooks for ClassifierHooks<'_> {
    fn validate(&mut self, _epoch: usize) -> Result<(BTreeMap<String, f64>, Option<f64>)> {
        let mut m = BTreeMap::new();
        let mut score = None;
        if let Some(v) = self.val {
            let ev = evaluate(self.gpu, self.model, v, 1000)?;
            m.insert("val_accuracy".to_string(), ev.accuracy);
            score = Some(ev.accuracy);
        }
        let ev = evaluate(self.gpu, self.model, self.test, 1000)?;
        m.insert("test_accuracy".to_string(), ev.accuracy);
        Ok((m, score))
    }

    fn save(&mut self, st: &EpochStats, best: bool) -> Result<()> {
        let mut meta = BTreeMap::new();
        meta.insert("epochs_done".into(), (st.epoch + 1).to_string());
        meta.insert("seed".into(), self.seed.to_string());
        self.model.save(self.gpu, self.out, meta.clone())?;
        if best {
            meta.insert("best_val_accuracy".into(), format!("{}", st.score.unwrap_or(f64::NAN)));
            self.model.save(self.gpu, &best_path(self.out), meta)?;
        }
        Ok(())
    }
}

/// Labels must be classes of the model: a 7-class MLP on 10-class data
/// would otherwise train silently to chance.
pub fn check_labels(spec: &DataSpec, d: &Dataset, arch: &Arch) -> Result<()> {
    if let Some((i, &l)) = d.labels.iter().enumerate().find(|(_, &l)| l as usize >= arch.classes) {
        anyhow::bail!(
            "--data {spec}: label {l} at training image {i} is not a class of --arch {} ({} classes)",
            arch.spec,
            arch.classes
        );
    }
    Ok(())
}

//! The training loop and evaluation. One submit per step; the only
//! read-backs are the running loss/accuracy every `log_every` steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::checkpoint::{self, Checkpoint};
use super::model::Model;
use super::optim::{OptimConfig, Optimizer};
use crate::autograd::Graph;
use crate::data::Dataset;
use crate::gpu::Gpu;
use crate::ops::{elementwise as ew, softmax_xent};
use crate::tensor::Tensor;

#[derive(Clone, Debug, Serialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub optim: OptimConfig,
    pub seed: u64,
    /// Steps between read-backs of the running loss and accuracy.
    pub log_every: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct EpochStats {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: Option<f64>,
    pub seconds: f64,
    pub images_per_sec: f64,
}

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

/// The per-epoch order: a seeded shuffle, so `--resume` at an epoch
/// boundary replays exactly.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    order
}

/// One epoch of minibatch training. `on_step(done_images, running_loss,
/// running_acc)` is called after each read-back.
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
    if data.n == 0 {
        bail!("training set is empty");
    }
    let start = Instant::now();
    let order = epoch_order(data.n, cfg.seed, epoch);
    let loss_sum = gpu.zeros(&[1]);
    let correct = gpu.zeros(&[1]);
    let mut host = Vec::new();
    let mut seen = 0usize;
    let steps = data.n.div_ceil(cfg.batch);
    for (step, idx) in order.chunks(cfg.batch).enumerate() {
        let (x, y) = upload_batch(gpu, data, idx, &mut host);
        let mut g = Graph::new(gpu);
        let params = model.bind(&mut g, true);
        let xv = g.leaf(x, false);
        let logits = model.forward(&mut g, xv, &params);
        softmax_xent::count_correct(gpu, g.value(logits), &y, &correct);
        let per_row = g.softmax_xent(logits, &y);
        let loss = g.mean(per_row);
        ew::axpy(gpu, idx.len() as f32, g.value(loss), &loss_sum);
        let mut grads = g.backward(loss, None);
        let grads: Vec<Tensor> = params.iter().map(|&p| grads.take(p).expect("parameter gradient")).collect();
        opt.step(gpu, model, &grads, lr);
        seen += idx.len();
        if (step + 1) % cfg.log_every == 0 || step + 1 == steps {
            let l = gpu.read(&loss_sum)[0] as f64 / seen as f64;
            if !l.is_finite() {
                bail!("training diverged at epoch {epoch}, step {step}: loss is {l} (lower --lr)");
            }
            on_step(seen, l, gpu.read(&correct)[0] as f64 / seen as f64);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(EpochStats {
        epoch,
        train_loss: gpu.read(&loss_sum)[0] as f64 / seen as f64,
        train_accuracy: gpu.read(&correct)[0] as f64 / seen as f64,
        test_accuracy: None,
        seconds,
        images_per_sec: seen as f64 / seconds,
    })
}

/// Accuracy and mean loss over a whole dataset.
pub fn evaluate(gpu: &Arc<Gpu>, model: &Model, data: &Dataset, batch: usize) -> Result<EvalStats> {
    model.check_input("evaluation data", &[data.n, data.c, data.h, data.w])?;
    let loss_sum = gpu.zeros(&[1]);
    let correct = gpu.zeros(&[1]);
    let mut host = Vec::new();
    let all: Vec<usize> = (0..data.n).collect();
    for idx in all.chunks(batch.max(1)) {
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

/// Save the optimiser state and the epoch count (for `--resume`).
pub fn save_state(gpu: &Gpu, model: &Model, opt: &Optimizer, path: &Path, epoch_done: usize, cfg: &TrainConfig) -> Result<()> {
    let state = opt.state(model);
    let host: Vec<(String, Vec<usize>, Vec<f32>)> =
        state.iter().map(|(n, t)| (n.clone(), t.shape().to_vec(), gpu.read(t))).collect();
    let refs: Vec<(String, Vec<usize>, &[f32])> = host.iter().map(|(n, s, d)| (n.clone(), s.clone(), d.as_slice())).collect();
    let mut meta = BTreeMap::new();
    meta.insert("epochs_done".into(), epoch_done.to_string());
    meta.insert("adam_t".into(), opt.t.to_string());
    meta.insert("config".into(), serde_json::to_string(cfg)?);
    checkpoint::save(path, &refs, &meta)
}

/// Restore optimiser state; returns the number of epochs already done.
pub fn load_state(gpu: &Arc<Gpu>, model: &Model, opt: &mut Optimizer, path: &Path) -> Result<usize> {
    let ck = Checkpoint::load(path)?;
    let names: Vec<(String, Tensor)> = opt.state(model);
    for (i, (name, t)) in names.iter().enumerate() {
        let data = ck.get(name, t.shape())?;
        let fresh = gpu.upload(&data, t.shape());
        if name.starts_with("m.") {
            opt.m[i / if opt.v.is_empty() { 1 } else { 2 }] = fresh;
        } else {
            opt.v[i / 2] = fresh;
        }
    }
    let meta = ck.metadata();
    opt.t = meta.get("adam_t").and_then(|s| s.parse().ok()).unwrap_or(0);
    meta.get("epochs_done")
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{}: no epochs_done in metadata", path.display()))
}

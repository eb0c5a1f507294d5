//! The training loop and evaluation. One submit per step; the only
//! read-backs are the running loss/accuracy every `log_every` steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::checkpoint::{self, Checkpoint};
use super::model::{step_seed, Mode, Model};
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

crate::names::named_enum! {
/// Training-set augmentation, drawn on the host per image from (seed, epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Augment {
    /// None: the images as stored.
    #[default]
    None,
    /// Random crop with 4-pixel zero padding + horizontal flip (CIFAR-style).
    CropFlip,
    /// Horizontal flip only: half the regularisation of crop-flip, for small
    /// nets that underfit with crops.
    Flip,
}
}

impl Augment {
    /// Pixels of zero padding for the random crop (0: no crop).
    pub fn pad(self) -> usize {
        match self {
            Augment::CropFlip => AUGMENT_PAD,
            Augment::None | Augment::Flip => 0,
        }
    }
}

/// Per-run training options beyond [`TrainConfig`].
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct EpochOptions {
    pub augment: Augment,
}

/// Pixels of zero padding for the random crop of `--augment crop-flip`.
pub const AUGMENT_PAD: usize = 4;

/// The per-epoch augmentation stream: independent of the shuffle's.
pub fn augment_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(step_seed(seed ^ 0xA5A5_5A5A_C3C3_3C3C, epoch as u64))
}

/// In place on `n` images [C, H, W] laid out back to back: shift by a
/// random (dy, dx) in [-pad, pad]² with zeros shifted in (= a random crop of
/// the image zero-padded by `pad`; none when `pad` is 0), then mirror
/// left-right with probability 1/2. Draws its numbers per image from `rng`,
/// in image order.
#[allow(clippy::too_many_arguments)]
pub fn augment_images(
    images: &mut [f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    pad: usize,
    rng: &mut ChaCha8Rng,
    scratch: &mut Vec<f32>,
) {
    let per = c * h * w;
    assert_eq!(images.len(), n * per, "augment_images: {} values for {n} images of {c}x{h}x{w}", images.len());
    let p = pad as i64;
    for img in images.chunks_mut(per) {
        let (oy, ox) =
            if p > 0 { (rng.random_range(-p..=p) as isize, rng.random_range(-p..=p) as isize) } else { (0, 0) };
        let flip = rng.random_bool(0.5);
        scratch.clear();
        scratch.extend_from_slice(img);
        for ch in 0..c {
            for y in 0..h {
                let sy = y as isize + oy;
                for x in 0..w {
                    let xx = if flip { w - 1 - x } else { x };
                    let sx = xx as isize + ox;
                    let v = if sy >= 0 && sy < h as isize && sx >= 0 && sx < w as isize {
                        scratch[(ch * h + sy as usize) * w + sx as usize]
                    } else {
                        0.0
                    };
                    img[(ch * h + y) * w + x] = v;
                }
            }
        }
    }
}

/// One epoch of minibatch training. `on_step(done_images, running_loss,
/// running_acc)` is called after each read-back.
#[allow(clippy::too_many_arguments)]
pub fn train_epoch(
    gpu: &Arc<Gpu>,
    model: &Model,
    opt: &mut Optimizer,
    data: &Dataset,
    cfg: &TrainConfig,
    epoch: usize,
    lr: f32,
    on_step: impl FnMut(usize, f64, f64),
) -> Result<EpochStats> {
    train_epoch_with(gpu, model, opt, data, cfg, epoch, lr, &EpochOptions::default(), on_step)
}

/// [`train_epoch`] with options (augmentation). The model runs in
/// `Mode::Train` with dropout seeded by `step_seed(cfg.seed, global step)`,
/// global step = epoch × steps per epoch + step, so a run resumed at an
/// epoch boundary replays bit for bit.
#[allow(clippy::too_many_arguments)]
pub fn train_epoch_with(
    gpu: &Arc<Gpu>,
    model: &Model,
    opt: &mut Optimizer,
    data: &Dataset,
    cfg: &TrainConfig,
    epoch: usize,
    lr: f32,
    opts: &EpochOptions,
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
    let mut aug_rng = augment_rng(cfg.seed, epoch);
    let mut scratch = Vec::new();
    for (step, idx) in order.chunks(cfg.batch).enumerate() {
        let (x, y) = if opts.augment != Augment::None {
            host.clear();
            for &i in idx {
                host.extend_from_slice(data.image(i));
            }
            augment_images(
                &mut host,
                idx.len(),
                data.c,
                data.h,
                data.w,
                opts.augment.pad(),
                &mut aug_rng,
                &mut scratch,
            );
            let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i]).collect();
            (gpu.upload(&host, &[idx.len(), data.c, data.h, data.w]), gpu.upload_u32(&labels, &[idx.len()]))
        } else {
            upload_batch(gpu, data, idx, &mut host)
        };
        let mut g = Graph::new(gpu);
        let params = model.bind(&mut g, true);
        let xv = g.leaf(x, false);
        let global_step = (epoch * steps + step) as u64;
        let logits = model.forward_mode(&mut g, xv, &params, Mode::Train { seed: step_seed(cfg.seed, global_step) });
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
pub fn save_state(
    gpu: &Gpu,
    model: &Model,
    opt: &Optimizer,
    path: &Path,
    epoch_done: usize,
    cfg: &TrainConfig,
) -> Result<()> {
    let state = opt.state(model);
    let host: Vec<(String, Vec<usize>, Vec<f32>)> =
        state.iter().map(|(n, t)| (n.clone(), t.shape().to_vec(), gpu.read(t))).collect();
    let refs: Vec<(String, Vec<usize>, &[f32])> =
        host.iter().map(|(n, s, d)| (n.clone(), s.clone(), d.as_slice())).collect();
    let mut meta = BTreeMap::new();
    meta.insert("epochs_done".into(), epoch_done.to_string());
    meta.insert("adam_t".into(), opt.t.to_string());
    meta.insert("config".into(), serde_json::to_string(cfg)?);
    checkpoint::save(path, &refs, &meta)
}

/// Restore optimiser state; returns the number of epochs already done.
pub fn load_state(gpu: &Arc<Gpu>, model: &Model, opt: &mut Optimizer, path: &Path) -> Result<usize> {
    let ck = Checkpoint::load(path)?;
    for (j, p) in model.params.iter().enumerate() {
        let shape = p.tensor.shape();
        opt.m[j] = gpu.upload(&ck.get(&format!("m.{}", p.name), shape)?, shape);
        if let Some(v) = opt.v.get_mut(j) {
            *v = gpu.upload(&ck.get(&format!("v.{}", p.name), shape)?, shape);
        }
    }
    let meta = ck.metadata();
    opt.t = meta.get("adam_t").and_then(|s| s.parse().ok()).unwrap_or(0);
    meta.get("epochs_done")
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{}: no epochs_done in metadata", path.display()))
}

/// The model's predicted class for every image of `data`.
pub fn predict_labels(gpu: &Arc<Gpu>, model: &Model, data: &Dataset, batch: usize) -> Result<Vec<u32>> {
    model.check_input("prediction data", &[data.n, data.c, data.h, data.w])?;
    let mut host = Vec::new();
    let mut out = Vec::with_capacity(data.n);
    let all: Vec<usize> = (0..data.n).collect();
    for idx in all.chunks(batch.max(1)) {
        let (x, _) = upload_batch(gpu, data, idx, &mut host);
        out.extend(crate::ops::reduce::argmax_rows(gpu, &model.logits(gpu, &x)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn augment_shifts_flips_and_pads_with_zeros() {
        let (c, h, w) = (2, 5, 6);
        let img: Vec<f32> = (0..c * h * w).map(|i| i as f32 + 1.0).collect();
        let mut rng = augment_rng(1, 0);
        let mut seen_flip = [false; 2];
        let mut scratch = Vec::new();
        for _ in 0..64 {
            let mut probe = rng.clone();
            let oy = probe.random_range(-4i64..=4) as isize;
            let ox = probe.random_range(-4i64..=4) as isize;
            let flip = probe.random_bool(0.5);
            seen_flip[flip as usize] = true;
            let mut out = img.clone();
            augment_images(&mut out, 1, c, h, w, AUGMENT_PAD, &mut rng, &mut scratch);
            for ch in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        let xx = if flip { w - 1 - x } else { x };
                        let (sy, sx) = (y as isize + oy, xx as isize + ox);
                        let want = if (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx) {
                            img[(ch * h + sy as usize) * w + sx as usize]
                        } else {
                            0.0
                        };
                        assert_eq!(out[(ch * h + y) * w + x], want);
                    }
                }
            }
        }
        assert!(seen_flip[0] && seen_flip[1]);
        // same seed and epoch, same draws; another epoch, others
        let (mut a, mut b) = (img.repeat(8), img.repeat(8));
        augment_images(&mut a, 8, c, h, w, AUGMENT_PAD, &mut augment_rng(3, 2), &mut scratch);
        augment_images(&mut b, 8, c, h, w, AUGMENT_PAD, &mut augment_rng(3, 2), &mut scratch);
        assert_eq!(a, b);
        let mut d = img.repeat(8);
        augment_images(&mut d, 8, c, h, w, AUGMENT_PAD, &mut augment_rng(3, 3), &mut scratch);
        assert_ne!(a, d);
    }

    #[test]
    fn flip_only_augment_mirrors_or_keeps_each_image() {
        let (c, h, w) = (3, 4, 5);
        let img: Vec<f32> = (0..c * h * w).map(|i| i as f32 + 1.0).collect();
        let mirror: Vec<f32> = (0..c * h * w).map(|i| img[(i / w) * w + (w - 1 - i % w)]).collect();
        let mut out = img.repeat(64);
        augment_images(&mut out, 64, c, h, w, Augment::Flip.pad(), &mut augment_rng(5, 1), &mut Vec::new());
        let (mut kept, mut flipped) = (0, 0);
        for o in out.chunks(c * h * w) {
            if o == img.as_slice() {
                kept += 1;
            } else if o == mirror.as_slice() {
                flipped += 1;
            } else {
                panic!("flip-only augmentation shifted an image: {o:?}");
            }
        }
        assert!(kept > 10 && flipped > 10, "kept {kept}, flipped {flipped} of 64");
    }
}

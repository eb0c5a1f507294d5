//! `advlab lan train` (the LAN g against a frozen f1, through `fit`) and
//! `advlab lan masks` (g's masks of a split as an npydir data set + PNG).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::data::{self, DataSpec, Dataset, Selection, Split};
use crate::detect::lan::{self, LanEval, LanLoss, LossKind};
use crate::detect::masks;
use crate::detect::noise::{Noise, NoiseKind};
use crate::fsutil::check_writable;
use crate::gpu::{Gpu, GpuOptions};
use crate::nn::checkpoint::Checkpoint;
use crate::nn::fit::{fit, EpochStats, FitConfig, FitHooks, FitRun};
use crate::nn::optim::{OptimConfig, OptimKind, Schedule};
use crate::nn::train::best_path;
use crate::nn::{train, Arch, Model};
use crate::report;

#[derive(Subcommand)]
pub enum LanCmd {
    /// Train the LAN g (mask network) against a frozen classifier f1 (SPEC §5 loss), with checkpoints and --resume
    Train(LanTrainArgs),
    /// g's masks A(x) of one split: SPLIT_x.npy / SPLIT_y.npy (an npydir for f2), masks.npy, labels.npy, a PNG grid
    Masks(LanMasksArgs),
}

fn parse<T: std::str::FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>().map_err(|e| e.to_string())
}

#[derive(Args)]
pub struct LanTrainArgs {
    /// Architecture of the frozen classifier f1, e.g. alexnet-cifar
    #[arg(long)]
    pub arch: String,
    /// f1's weights (safetensors)
    #[arg(long)]
    pub model: PathBuf,
    /// Training data, e.g. cifar10:../shared/data/cifar-10-batches-bin (its train split)
    #[arg(long)]
    pub data: String,
    /// β, the reward for mean mask size in loss = E[L_F] − β·mean A (>= 0)
    #[arg(long, allow_negative_numbers = true)]
    pub beta: f32,
    /// The LAN file to write (checkpointed atomically every epoch; tensors fc1…fcN)
    #[arg(long)]
    pub out: PathBuf,
    /// The mask network [default: mask:CxHxW-1024-1024 with f1's input shape]
    #[arg(long)]
    pub lan_arch: Option<String>,
    /// Noise H: marginal (each pixel from its empirical marginal over the training set) or uniform (U[0,1])
    #[arg(long, value_parser = parse::<NoiseKind>, default_value = "marginal")]
    pub noise: NoiseKind,
    /// L_F: xent (soft-target cross-entropy against f1's softmax) or mse (f1's logits)
    #[arg(long, value_parser = parse::<LossKind>, default_value = "xent")]
    pub loss: LossKind,
    /// Hold out N training images (drawn with --seed): their loss is logged every epoch and the best
    /// epoch's LAN is also saved as OUT.best.safetensors
    #[arg(long, default_value_t = 0)]
    pub val: usize,
    /// Train on the first N images of the (remaining) training split only (reduced-scale runs)
    #[arg(long)]
    pub count: Option<usize>,
    /// Passes over the training images
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Images per Adam step
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Adam learning rate
    #[arg(long, default_value_t = 5e-4, allow_negative_numbers = true)]
    pub lr: f32,
    /// Seed of the initialisation, shuffles, noise and --val split
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue from the checkpoint at --out (and its .train-state); refused if the settings differ
    #[arg(long)]
    pub resume: bool,
    /// Where to write results.json
    #[arg(long, default_value = "results.json")]
    pub results: PathBuf,
}

#[derive(Args)]
pub struct LanMasksArgs {
    /// The LAN (safetensors written by `advlab lan train`)
    #[arg(long)]
    pub lan: PathBuf,
    /// The LAN's architecture [default: the `arch` in the file's metadata]
    #[arg(long)]
    pub lan_arch: Option<String>,
    /// Data whose images to mask, e.g. cifar10:DIR
    #[arg(long)]
    pub data: String,
    /// Which split: train or test (run once per split into the same --out-dir for an npydir)
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Only these positions of the split (1-D integer .npy)
    #[arg(long)]
    pub indices: Option<PathBuf>,
    /// Only the first N images (of the split or --indices)
    #[arg(long)]
    pub count: Option<usize>,
    /// Output directory: SPLIT_x.npy, SPLIT_y.npy, masks.npy, labels.npy, SPLIT_grid.png, SPLIT_results.json
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Images per GPU batch
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Image / mask pairs in the PNG grid
    #[arg(long, default_value_t = 16)]
    pub grid: usize,
}

/// Load a mask network: its arch from `arch` or else the file's metadata.
pub fn load_lan(gpu: &Arc<Gpu>, path: &Path, arch: Option<&str>) -> Result<Model> {
    let spec = match arch {
        Some(a) => a.to_string(),
        None => match Checkpoint::load(path)?.metadata().get("arch") {
            Some(a) => a.clone(),
            None => bail!("{}: no arch in its metadata; pass --lan-arch mask:CxHxW-H1-...", path.display()),
        },
    };
    let arch = Arch::parse(&spec)?;
    if !arch.is_mask() {
        bail!("{}: arch {spec} is not a mask network (expected mask:CxHxW-H1-...)", path.display());
    }
    Model::load(gpu, arch, path)
}

struct LanHooks<'a> {
    gpu: &'a Arc<Gpu>,
    lan: &'a Model,
    f1: &'a Model,
    val: Option<(&'a Dataset, Noise<'a>)>,
    cfg: LanLoss,
    seed: u64,
    out: &'a Path,
    meta: BTreeMap<String, String>,
}

impl FitHooks for LanHooks<'_> {
    fn validate(&mut self, _epoch: usize) -> Result<(BTreeMap<String, f64>, Option<f64>)> {
        let Some((v, noise)) = self.val else { return Ok((BTreeMap::new(), None)) };
        // the same noise every epoch, so epochs compare
        let e: LanEval = lan::evaluate(self.gpu, self.lan, self.f1, v, noise, &self.cfg, self.seed ^ 0x5eed, 500)?;
        let m = BTreeMap::from([
            ("val_loss".to_string(), e.loss),
            ("val_l_f".to_string(), e.l_f),
            ("val_mean_mask".to_string(), e.mean_mask),
            ("val_f1_agreement".to_string(), e.f1_agreement),
        ]);
        Ok((m, Some(-e.loss)))
    }

    fn save(&mut self, st: &EpochStats, best: bool) -> Result<()> {
        let mut meta = self.meta.clone();
        meta.insert("epochs_done".into(), (st.epoch + 1).to_string());
        self.lan.save(self.gpu, self.out, meta.clone())?;
        if best {
            meta.insert("best_val_loss".into(), format!("{}", -st.score.unwrap_or(f64::NAN)));
            self.lan.save(self.gpu, &best_path(self.out), meta)?;
        }
        Ok(())
    }
}

pub fn run_train(gpu_opts: &GpuOptions, a: &LanTrainArgs) -> Result<()> {
    let cfg_loss = LanLoss::new(a.beta, a.loss)?;
    let f1_arch = Arch::parse(&a.arch)?;
    f1_arch.expect_classifier("lan train --arch (f1)")?;
    let [c, h, w] = f1_arch.input;
    let lan_spec = a.lan_arch.clone().unwrap_or(format!("mask:{c}x{h}x{w}-1024-1024"));
    let lan_arch = Arch::parse(&lan_spec)?;
    if a.epochs == 0 || a.batch == 0 || !(a.lr.is_finite() && a.lr > 0.0) {
        bail!("--epochs and --batch must be at least 1 and --lr positive (got {}, {}, {})", a.epochs, a.batch, a.lr);
    }
    let spec = DataSpec::parse(&a.data)?;
    check_writable("--out", &a.out)?;
    check_writable("--results", &a.results)?;
    report::check_results_path(&a.results, "lan train")?;
    let full = data::load(&spec, Split::Train)?;
    let (mut train_set, val_set) = if a.val > 0 {
        let (tr, va) = data::holdout(full.n, a.val, a.seed)?;
        (full.select(&tr), Some(full.select(&va)))
    } else {
        (full, None)
    };
    if let Some(n) = a.count {
        if n == 0 {
            bail!("--count 0: expected at least one image");
        }
        train_set = train_set.take_first(n);
    }
    let gpu = super::open_gpu(gpu_opts)?;
    let f1 = Model::load(&gpu, f1_arch, &a.model)?;
    f1.check_input(&format!("--data {spec}"), &[train_set.n, train_set.c, train_set.h, train_set.w])?;
    let resuming = a.resume && a.out.exists() && train::state_path(&a.out).exists();
    let g = if resuming { Model::load(&gpu, lan_arch, &a.out)? } else { Model::init(&gpu, lan_arch, a.seed) };
    lan::check_pair(&g, &f1, "--lan-arch")?;
    // the noise pool is the training images the LAN sees (never the validation ones)
    let noise = Noise::new(a.noise, &train_set)?;
    let cfg = FitConfig {
        epochs: a.epochs,
        batch: a.batch,
        optim: OptimConfig::new(OptimKind::Adam, a.lr),
        schedule: Schedule::Constant,
        seed: a.seed,
        augment: Default::default(),
        log_every: 20,
    };
    eprintln!(
        "training LAN {lan_spec} against {} ({}) on {} train / {} validation images: beta {}, noise {}, L_F {}, {} epochs, batch {}, adam lr {}",
        a.arch,
        a.model.display(),
        train_set.n,
        val_set.as_ref().map_or(0, |v| v.n),
        a.beta,
        a.noise,
        a.loss,
        a.epochs,
        a.batch,
        a.lr
    );
    let identity = json!({"lan_arch": lan_spec, "arch": a.arch, "model": a.model, "data": spec.to_string(),
        "val": a.val, "count": a.count, "beta": a.beta, "noise": a.noise, "loss": a.loss});
    let meta = BTreeMap::from([
        ("seed".to_string(), a.seed.to_string()),
        ("beta".to_string(), a.beta.to_string()),
        ("noise".to_string(), a.noise.to_string()),
        ("loss".to_string(), a.loss.to_string()),
        ("f1_arch".to_string(), a.arch.clone()),
        ("f1_model".to_string(), a.model.display().to_string()),
    ]);
    let state = train::state_path(&a.out);
    let run = FitRun { state_path: Some(&state), resume: a.resume, identity, verbose: true };
    let val_noise = match &val_set {
        Some(v) => Some((v, Noise::new(a.noise, &train_set)?)),
        None => None,
    };
    let mut hooks =
        LanHooks { gpu: &gpu, lan: &g, f1: &f1, val: val_noise, cfg: cfg_loss, seed: a.seed, out: &a.out, meta };
    // f1 is frozen and the images are not augmented: its clean logits once
    let clean = lan::clean_logits(&gpu, &f1, &train_set, 500);
    let mut objective = lan::lan_objective(&g, &f1, noise, cfg_loss, Some(&clean));
    let t0 = Instant::now();
    let rep = fit(&gpu, &g, &train_set, &cfg, &run, &mut objective, &mut hooks)?;
    let seconds = t0.elapsed().as_secs_f64();
    let last = rep.epochs.last();
    let metric = |k: &str| last.and_then(|e| e.metrics.get(k)).map_or("-".into(), |v| format!("{v:.4}"));
    println!(
        "{}",
        report::markdown_table(
            &[
                "lan",
                "beta",
                "noise",
                "L_F",
                "epochs",
                "loss",
                "L_F value",
                "mean mask",
                "best val loss (epoch)",
                "s/epoch"
            ],
            &[vec![
                lan_spec.clone(),
                a.beta.to_string(),
                a.noise.to_string(),
                a.loss.to_string(),
                a.epochs.to_string(),
                last.map_or("-".into(), |e| format!("{:.4}", e.train_loss)),
                metric("l_f"),
                metric("mean_mask"),
                rep.best.map_or("-".into(), |(e, s)| format!("{:.4} ({})", -s, e + 1)),
                format!("{:.1}", seconds / rep.epochs.len().max(1) as f64),
            ]]
        )
    );
    let v = report::envelope(
        "lan train",
        Some(&gpu),
        json!({"arch": a.arch, "model": a.model, "lan_arch": lan_spec, "data": spec.to_string(),
               "beta": a.beta, "noise": a.noise, "loss": a.loss, "val": a.val, "count": a.count,
               "train_images": train_set.n, "val_images": val_set.as_ref().map_or(0, |v| v.n),
               "config": cfg, "seed": a.seed, "out": a.out, "resumed_from_epoch": rep.start_epoch}),
        json!({"epochs": rep.epochs, "best_val": rep.best.map(|(e, s)| json!({"epoch": e + 1, "val_loss": -s})),
               "seconds": seconds}),
    );
    report::write_json(&a.results, &v)?;
    super::print_profile(&gpu);
    Ok(())
}

pub fn run_masks(gpu_opts: &GpuOptions, a: &LanMasksArgs) -> Result<()> {
    let spec = DataSpec::parse(&a.data)?;
    let split: Split = a.split.trim().parse()?;
    let results = a.out_dir.join(format!("{split}_results.json"));
    report::check_results_path(&results, "lan masks")?;
    let sel = data::load_selected(&spec, &Selection { split, indices: a.indices.clone(), count: a.count })?;
    let gpu = super::open_gpu(gpu_opts)?;
    let g = load_lan(&gpu, &a.lan, a.lan_arch.as_deref())?;
    let d = &sel.data;
    if [d.c, d.h, d.w] != g.arch.input {
        let [c, h, w] = g.arch.input;
        bail!(
            "--lan {}: the LAN ({}) makes {c}×{h}×{w} masks but --data {spec} has {}×{}×{} images",
            a.lan.display(),
            g.arch.spec,
            d.c,
            d.h,
            d.w
        );
    }
    let t0 = Instant::now();
    let m = lan::masks(&gpu, &g, d, a.batch)?;
    let seconds = t0.elapsed().as_secs_f64();
    std::fs::create_dir_all(&a.out_dir)
        .map_err(|e| anyhow::anyhow!("--out-dir {}: cannot create it: {e}", a.out_dir.display()))?;
    masks::write_split(&a.out_dir, split, &m, &d.labels, [d.c, d.h, d.w])?;
    let names = crate::grid::class_names([d.c, d.h, d.w], 10);
    let captions: Vec<String> = d
        .labels
        .iter()
        .zip(&sel.index)
        .map(|(&l, &i)| match names {
            Some(n) => format!("{i} {}", n[l as usize % 10].to_ascii_uppercase()),
            None => format!("{i} CLASS {l}"),
        })
        .collect();
    let png = a.out_dir.join(format!("{split}_grid.png"));
    masks::save_mask_grid(&png, &d.images, &m, [d.c, d.h, d.w], &captions, a.grid)?;
    let mean = m.iter().map(|&v| v as f64).sum::<f64>() / m.len().max(1) as f64;
    let n_half = m.iter().filter(|&&v| v > 0.5).count() as f64 / m.len().max(1) as f64;
    println!(
        "{}",
        report::markdown_table(
            &["split", "images", "mean A", "share A > 0.5", "seconds", "written"],
            &[vec![
                split.to_string(),
                d.n.to_string(),
                format!("{mean:.4}"),
                format!("{n_half:.4}"),
                format!("{seconds:.1}"),
                format!("{}/{split}_x.npy, {split}_y.npy", a.out_dir.display()),
            ]]
        )
    );
    let v = report::envelope(
        "lan masks",
        Some(&gpu),
        json!({"lan": a.lan, "lan_arch": g.arch.spec, "data": spec.to_string(), "split": split.to_string(),
               "indices": a.indices, "count": a.count, "images": d.n, "batch": a.batch}),
        json!({"mean_mask": mean, "share_above_half": n_half, "seconds": seconds,
               "files": [format!("{split}_x.npy"), format!("{split}_y.npy"), "masks.npy", "labels.npy",
                         format!("{split}_grid.png")]}),
    );
    report::write_json(&results, &v)?;
    Ok(())
}

//! `advlab train`: flags → [`fit`] with the classifier objective.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde_json::json;

use crate::data::{self, DataSpec, Split};
use crate::fsutil::check_writable;
use crate::gpu::GpuOptions;
use crate::nn::augment::Augment;
use crate::nn::fit::{fit, EpochStats, FitConfig, FitRun};
use crate::nn::optim::{OptimConfig, OptimKind, ScheduleKind};
use crate::nn::recipe::{recipe, Recipe};
use crate::nn::train::{self, best_path, check_labels, classifier_objective, ClassifierHooks};
use crate::nn::{Arch, Model};
use crate::report;

/// `advlab train`'s settings; `None` takes the value of the arch's
/// [`Recipe`].
pub struct TrainArgs {
    pub arch: String,
    pub data: DataSpec,
    pub epochs: Option<usize>,
    pub batch: Option<usize>,
    pub optim: Option<OptimKind>,
    pub lr: Option<f32>,
    pub momentum: Option<f32>,
    pub weight_decay: Option<f32>,
    pub seed: u64,
    pub out: PathBuf,
    pub resume: bool,
    pub results: PathBuf,
    /// Training-image augmentation.
    pub augment: Option<Augment>,
    /// Initial weights for a fresh run (fine-tuning).
    pub init: Option<PathBuf>,
    /// Learning-rate schedule: constant, step or cosine.
    pub schedule: Option<ScheduleKind>,
    /// Epochs between decays of the step schedule.
    pub step_size: usize,
    /// Decay factor of the step schedule.
    pub gamma: f32,
    /// Training images held out (seeded) for validation and model selection.
    pub val: usize,
    /// Certified training (`--certify`), see [`super::certtrain`].
    pub cert: super::certtrain::CertFlags,
}

impl TrainArgs {
    /// The fit settings: flags over the arch's recipe.
    pub fn config(&self, r: &Recipe) -> Result<FitConfig> {
        let epochs = self.epochs.unwrap_or(r.epochs);
        let optim = self.optim.unwrap_or(r.optim);
        let mut o = OptimConfig::new(optim, self.lr.unwrap_or(if optim == r.optim { r.lr } else { default_lr(optim) }));
        o.momentum = if optim == OptimKind::Adam { 0.9 } else { self.momentum.unwrap_or(r.momentum) };
        o.weight_decay = self.weight_decay.unwrap_or(r.weight_decay);
        let cfg = FitConfig {
            epochs,
            batch: self.batch.unwrap_or(r.batch),
            optim: o,
            schedule: self.schedule.unwrap_or(r.schedule).schedule(epochs, self.step_size, self.gamma)?,
            seed: self.seed,
            augment: self.augment.unwrap_or(r.augment),
            log_every: 50,
        };
        check_flags(&cfg)?;
        Ok(cfg)
    }
}

fn default_lr(o: OptimKind) -> f32 {
    match o {
        OptimKind::Sgd => 0.05,
        OptimKind::Adam => 1e-3,
    }
}

/// Flag values that can be refused before any work.
fn check_flags(c: &FitConfig) -> Result<()> {
    if c.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    if c.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let o = &c.optim;
    // lr 0 is allowed: it keeps the weights, e.g. to check an --init file.
    if !(o.lr.is_finite() && o.lr >= 0.0) {
        bail!("--lr {} must be a number >= 0", o.lr);
    }
    if !(o.momentum.is_finite() && (0.0..1.0).contains(&o.momentum)) {
        bail!("--momentum {} must be in [0, 1)", o.momentum);
    }
    if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
        bail!("--weight-decay {} must be a number >= 0", o.weight_decay);
    }
    Ok(())
}

pub fn run(gpu_opts: &GpuOptions, a: &TrainArgs) -> Result<()> {
    let arch = Arch::parse(&a.arch)?;
    arch.expect_classifier("advlab train")?;
    a.cert.check(&arch)?;
    let r = recipe(&arch);
    let cfg = a.config(&r)?;
    check_writable("--out", &a.out)?;
    check_writable("--results", &a.results)?;
    let full_train = data::load(&a.data, Split::Train)?;
    let test_set = data::load(&a.data, Split::Test)?;
    check_labels(&a.data, &full_train, &arch)?;
    let (train_set, val_set) = if a.val > 0 {
        let (tr, va) = data::holdout(full_train.n, a.val, a.seed)?;
        (full_train.select(&tr), Some(full_train.select(&va)))
    } else {
        (full_train, None)
    };
    let gpu = super::open_gpu(gpu_opts)?;
    let model = match (&a.init, a.resume && a.out.exists() && train::state_path(&a.out).exists()) {
        (_, true) => Model::load(&gpu, arch, &a.out)?,
        (Some(path), false) => {
            let m = Model::load(&gpu, arch, path)?;
            eprintln!("starting from the weights in {} (fresh optimiser state)", path.display());
            m
        }
        (None, false) => Model::init(&gpu, arch, a.seed),
    };
    model.check_input(&format!("--data {}", a.data), &[train_set.n, train_set.c, train_set.h, train_set.w])?;
    crate::nn::capacity::check_train_batch(&model.arch, &gpu, cfg.batch)?;
    eprintln!(
        "training {} on {} train / {} validation / {} test images: {} epochs, batch {}, {} lr {} ({}), momentum {}, weight decay {}, augment {}",
        a.arch,
        train_set.n,
        val_set.as_ref().map_or(0, |v| v.n),
        test_set.n,
        cfg.epochs,
        cfg.batch,
        cfg.optim.kind,
        cfg.optim.lr,
        cfg.schedule,
        cfg.optim.momentum,
        cfg.optim.weight_decay,
        cfg.augment,
    );

    let mut identity = json!({"arch": a.arch, "data": a.data.to_string(), "val": a.val, "init": a.init});
    if let Some(c) = a.cert.config() {
        identity["certify"] = json!(c);
    }
    let state_path = train::state_path(&a.out);
    let run = FitRun { state_path: Some(&state_path), resume: a.resume, identity: identity.clone(), verbose: true };
    let mut hooks =
        ClassifierHooks { gpu: &gpu, model: &model, val: val_set.as_ref(), test: &test_set, out: &a.out, seed: a.seed };
    let (rep, cert) = if a.cert.certify.is_some() {
        let resuming = a.resume && state_path.exists();
        let (r, c) = super::certtrain::fit_certified(
            &gpu,
            &model,
            &train_set,
            val_set.as_ref().unwrap_or(&test_set),
            val_set.is_some(),
            &cfg,
            &run,
            &mut hooks,
            &a.cert,
            &a.out,
            resuming,
        )?;
        (r, Some(c))
    } else {
        (fit(&gpu, &model, &train_set, &cfg, &run, &mut classifier_objective(&model), &mut hooks)?, None)
    };
    let final_eval = train::evaluate(&gpu, &model, &test_set, 1000)?;
    let h = &rep.epochs;
    let mean = |f: fn(&EpochStats) -> f64| h.iter().map(f).sum::<f64>() / h.len().max(1) as f64;
    println!(
        "{}",
        report::markdown_table(
            &["arch", "epochs", "test accuracy", "best val accuracy (epoch)", "mean s/epoch", "images/s"],
            &[vec![
                a.arch.clone(),
                cfg.epochs.to_string(),
                format!("{:.2}%", 100.0 * final_eval.accuracy),
                rep.best.map_or("-".into(), |(e, s)| format!("{:.2}% ({})", 100.0 * s, e + 1)),
                format!("{:.2}", mean(|e| e.seconds)),
                format!("{:.0}", mean(|e| e.images_per_sec)),
            ]]
        )
    );
    if let Some((e, _)) = rep.best {
        eprintln!("best validation epoch {} saved as {}", e + 1, best_path(&a.out).display());
    }
    let v = report::envelope(
        "train",
        Some(&gpu),
        json!({"arch": a.arch, "data": a.data.to_string(), "train_images": train_set.n,
               "val_images": val_set.as_ref().map_or(0, |v| v.n), "test_images": test_set.n,
               "config": cfg, "recipe": r, "init": a.init, "out": a.out, "resumed_from_epoch": rep.start_epoch}),
        json!({"epochs": rep.epochs, "best_val": rep.best.map(|(e, s)| json!({"epoch": e + 1, "val_accuracy": s})),
               "test": final_eval, "certified_training": cert}),
    );
    report::write_json(&a.results, &v)?;
    super::print_profile(&gpu);
    Ok(())
}

//! `advlab train`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::data::{self, DataSpec, Split};
use crate::gpu::GpuOptions;
use crate::nn::optim::{lr_at, OptimConfig, OptimKind, Optimizer, Schedule};
use crate::nn::train::{self, Augment, EpochOptions, TrainConfig};
use crate::nn::{Arch, Model};
use crate::report;

pub struct TrainArgs {
    pub arch: String,
    pub data: DataSpec,
    pub epochs: usize,
    pub batch: usize,
    pub optim: OptimKind,
    pub lr: Option<f32>,
    pub momentum: f32,
    pub weight_decay: f32,
    pub seed: u64,
    pub out: PathBuf,
    pub resume: bool,
    pub results: PathBuf,
    /// Training-image augmentation.
    pub augment: Augment,
    /// Initial weights for a fresh run (fine-tuning).
    pub init: Option<PathBuf>,
    /// Learning-rate schedule: constant, step or cosine.
    pub schedule: ScheduleKind,
    /// Epochs between decays of the step schedule.
    pub step_size: usize,
    /// Decay factor of the step schedule.
    pub gamma: f32,
}

/// `--schedule`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleKind {
    #[default]
    Constant,
    Step,
    Cosine,
}

impl TrainArgs {
    /// The schedule these flags describe.
    pub fn schedule(&self) -> Result<Schedule> {
        Ok(match self.schedule {
            ScheduleKind::Constant => Schedule::Constant,
            ScheduleKind::Step => {
                if self.step_size == 0 {
                    bail!("--step-size must be at least 1");
                }
                if !(self.gamma.is_finite() && self.gamma > 0.0) {
                    bail!("--gamma {} must be a positive number", self.gamma);
                }
                Schedule::Step { step_size: self.step_size, gamma: self.gamma }
            }
            ScheduleKind::Cosine => Schedule::Cosine { epochs: self.epochs },
        })
    }
}

pub fn run(gpu_opts: &GpuOptions, a: &TrainArgs) -> Result<()> {
    if a.epochs == 0 || a.batch == 0 {
        bail!("--epochs and --batch must be at least 1");
    }
    let arch = Arch::parse(&a.arch)?;
    let schedule = a.schedule()?;
    let opts = EpochOptions { augment: a.augment };
    let train_set = data::load(&a.data, Split::Train)?;
    let test_set = data::load(&a.data, Split::Test)?;
    let gpu = super::open_gpu(gpu_opts)?;
    let lr = a.lr.unwrap_or(match a.optim {
        OptimKind::Sgd => 0.05,
        OptimKind::Adam => 1e-3,
    });
    let mut ocfg = OptimConfig::new(a.optim, lr);
    ocfg.momentum = if a.optim == OptimKind::Adam { 0.9 } else { a.momentum };
    ocfg.weight_decay = a.weight_decay;
    let cfg = TrainConfig { epochs: a.epochs, batch: a.batch, optim: ocfg, seed: a.seed, log_every: 50 };

    let state_path = train::state_path(&a.out);
    let (model, mut opt, start_epoch) = if a.resume && a.out.exists() && state_path.exists() {
        let model = Model::load(&gpu, arch, &a.out)?;
        let mut opt = Optimizer::new(&gpu, &model, ocfg);
        let done = train::load_state(&gpu, &model, &mut opt, &state_path)?;
        eprintln!("resuming {} after epoch {done}", a.out.display());
        (model, opt, done)
    } else {
        if a.resume {
            eprintln!("--resume: no checkpoint at {} yet, starting fresh", a.out.display());
        }
        let model = match &a.init {
            Some(path) => {
                let m = Model::load(&gpu, arch, path)?;
                eprintln!("starting from the weights in {} (fresh optimiser state)", path.display());
                m
            }
            None => Model::init(&gpu, arch, a.seed),
        };
        let opt = Optimizer::new(&gpu, &model, ocfg);
        (model, opt, 0)
    };
    model.check_input(&format!("--data {}", a.data), &[train_set.n, train_set.c, train_set.h, train_set.w])?;
    eprintln!(
        "training {} on {} train / {} test images, {} epochs, batch {}, {} lr {} ({}){}",
        a.arch,
        train_set.n,
        test_set.n,
        a.epochs,
        a.batch,
        a.optim,
        lr,
        schedule,
        match a.augment {
            Augment::None => String::new(),
            other => format!(", augment {other}"),
        }
    );

    let mut history = Vec::new();
    for epoch in start_epoch..a.epochs {
        let pb = ProgressBar::new(train_set.n as u64);
        pb.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {per_sec} {msg}")
                .unwrap()
                .progress_chars("=> "),
        );
        pb.set_prefix(format!("{}/{}", epoch + 1, a.epochs));
        let lr_e = lr_at(lr, &schedule, epoch);
        let mut st = train::train_epoch_with(
            &gpu,
            &model,
            &mut opt,
            &train_set,
            &cfg,
            epoch,
            lr_e,
            &opts,
            |seen, loss, acc| {
                pb.set_position(seen as u64);
                pb.set_message(format!("loss {loss:.4} acc {:.2}%", 100.0 * acc));
            },
        )?;
        pb.finish_and_clear();
        let ev = train::evaluate(&gpu, &model, &test_set, 1000)?;
        st.test_accuracy = Some(ev.accuracy);
        eprintln!(
            "epoch {}/{}: lr {:.3e}, loss {:.4}, train acc {:.2}%, test acc {:.2}%, {:.1} s ({:.0} images/s)",
            epoch + 1,
            a.epochs,
            lr_e,
            st.train_loss,
            100.0 * st.train_accuracy,
            100.0 * ev.accuracy,
            st.seconds,
            st.images_per_sec
        );
        let mut meta = BTreeMap::new();
        meta.insert("epochs_done".into(), (epoch + 1).to_string());
        meta.insert("seed".into(), a.seed.to_string());
        model.save(&gpu, &a.out, meta)?;
        train::save_state(&gpu, &model, &opt, &state_path, epoch + 1, &cfg)?;
        history.push(st);
    }
    let final_eval = train::evaluate(&gpu, &model, &test_set, 1000)?;
    println!(
        "{}",
        report::markdown_table(
            &["arch", "epochs", "test accuracy", "mean s/epoch", "images/s"],
            &[vec![
                a.arch.clone(),
                a.epochs.to_string(),
                format!("{:.2}%", 100.0 * final_eval.accuracy),
                format!("{:.2}", history.iter().map(|h| h.seconds).sum::<f64>() / history.len().max(1) as f64),
                format!("{:.0}", history.iter().map(|h| h.images_per_sec).sum::<f64>() / history.len().max(1) as f64),
            ]]
        )
    );
    let v = report::envelope(
        "train",
        Some(&gpu),
        json!({"arch": a.arch, "data": format!("{:?}", a.data), "train_images": train_set.n, "test_images": test_set.n,
               "config": cfg, "schedule": schedule, "augment": a.augment, "init": a.init, "out": a.out, "resumed_from_epoch": start_epoch}),
        json!({"epochs": history, "test": final_eval}),
    );
    report::write_json(&a.results, &v)?;
    super::print_profile(&gpu);
    Ok(())
}

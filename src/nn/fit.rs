//! `fit`: the one training driver. It takes an objective — a closure that
//! puts one minibatch's loss on a tape — and a [`ParamSet`] that need not
//! belong to one model (a mask network against a frozen classifier; a
//! network plus free dual vectors), and owns everything around it: epochs,
//! the learning-rate schedule, shuffling and augmentation, logging, atomic
//! checkpoints of the train state and a bit-for-bit `--resume` that refuses
//! a run whose settings differ from the checkpoint's.
//!
//! One submit per step; the only read-backs are the running sums every
//! `log_every` steps and at the end of an epoch.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::Value;

use super::augment::{augment_images, augment_rng, Augment};
use super::checkpoint::{self, Checkpoint};
use super::model::step_seed;
use super::optim::{lr_at, OptimConfig, OptimKind, Optimizer, ParamSet, Schedule};
use crate::autograd::{Graph, Var};
use crate::data::Dataset;
use crate::gpu::Gpu;
use crate::ops::{elementwise as ew, softmax_xent};
use crate::tensor::Tensor;

/// What `fit` needs to know about a run; all of it must match on `--resume`
/// except `epochs` (a run may be extended) and `log_every`.
#[derive(Clone, Debug, Serialize)]
pub struct FitConfig {
    pub epochs: usize,
    pub batch: usize,
    pub optim: OptimConfig,
    /// Learning rate per epoch from `optim.lr`.
    pub schedule: Schedule,
    pub seed: u64,
    pub augment: Augment,
    /// Steps between read-backs of the running loss and accuracy.
    pub log_every: usize,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 1,
            batch: 64,
            optim: OptimConfig::new(OptimKind::Sgd, 0.05),
            schedule: Schedule::Constant,
            seed: 0,
            augment: Augment::None,
            log_every: 50,
        }
    }
}

/// One minibatch, as the objective sees it.
pub struct Batch<'a> {
    /// Images [B, C, H, W] (augmented if the run augments).
    pub x: Tensor,
    /// u32 labels [B].
    pub labels: Tensor,
    /// The images' positions in the training set.
    pub index: &'a [usize],
    pub epoch: usize,
    /// Step within the epoch.
    pub step: usize,
    /// A seed for this step's randomness (dropout, noise): `step_seed(run
    /// seed, global step)`, so a resumed run draws the same numbers.
    pub seed: u64,
}

/// What an objective returns for one batch.
pub struct StepOut {
    /// The scalar [1] loss to minimise (a mean over the batch).
    pub loss: Var,
    /// Logits [B, K] to count training accuracy against the batch labels.
    pub logits: Option<Var>,
    /// Further [1] scalars (batch means) averaged over the epoch and logged,
    /// e.g. a certificate penalty beside the cross-entropy.
    pub metrics: Vec<(&'static str, Var)>,
}

impl StepOut {
    pub fn loss(loss: Var) -> StepOut {
        StepOut { loss, logits: None, metrics: Vec::new() }
    }
}

/// The loss of one minibatch on a tape. `params` are the [`ParamSet`]'s
/// tensors bound as leaves, in its order. Any `FnMut` of that shape is one.
pub trait Objective {
    fn step(&mut self, g: &mut Graph, params: &[Var], batch: &Batch) -> Result<StepOut>;
}

impl<F: FnMut(&mut Graph, &[Var], &Batch) -> Result<StepOut>> Objective for F {
    fn step(&mut self, g: &mut Graph, params: &[Var], batch: &Batch) -> Result<StepOut> {
        self(g, params, batch)
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct EpochStats {
    pub epoch: usize,
    pub lr: f32,
    pub train_loss: f64,
    /// Present when the objective returned logits.
    pub train_accuracy: Option<f64>,
    /// The objective's extra metrics, epoch means.
    pub metrics: BTreeMap<String, f64>,
    /// What [`FitHooks::validate`] measured after the epoch.
    pub eval: BTreeMap<String, f64>,
    /// The model-selection score (higher is better), if validated.
    pub score: Option<f64>,
    pub seconds: f64,
    pub images_per_sec: f64,
}

/// After-epoch work that belongs to the caller.
pub trait FitHooks {
    /// Measure after `epoch` (0-based): numbers for the log and results, and
    /// optionally a score to select the model by (higher is better), e.g.
    /// validation accuracy.
    fn validate(&mut self, _epoch: usize) -> Result<(BTreeMap<String, f64>, Option<f64>)> {
        Ok((BTreeMap::new(), None))
    }
    /// Save what the caller owns (model files) once `stats.epoch` is done;
    /// `best`: its score is the best so far. Called before the train state
    /// is written, so a checkpoint never runs ahead of its model.
    fn save(&mut self, _stats: &EpochStats, _best: bool) -> Result<()> {
        Ok(())
    }
}

/// Hooks that do nothing.
pub struct NoHooks;
impl FitHooks for NoHooks {}

/// Where and whether `fit` checkpoints.
#[derive(Clone, Debug, Default)]
pub struct FitRun<'a> {
    /// The train state file (parameters, optimiser moments, settings),
    /// written atomically after every epoch; `None`: no checkpoints.
    pub state_path: Option<&'a Path>,
    /// Continue from `state_path` if it exists.
    pub resume: bool,
    /// Settings outside [`FitConfig`] that a resume must match too (the
    /// architecture, the data, the validation split...).
    pub identity: Value,
    /// A progress bar and one line per epoch on stderr.
    pub verbose: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FitReport {
    /// Epochs already done when this run started (non-zero on resume).
    pub start_epoch: usize,
    pub epochs: Vec<EpochStats>,
    /// (epoch, score) of the best validated epoch, this run or before.
    pub best: Option<(usize, f64)>,
}

/// Train the parameters of `set` on `data` by minimising `objective`.
pub fn fit<S: ParamSet + ?Sized>(
    gpu: &Arc<Gpu>,
    set: &S,
    data: &Dataset,
    cfg: &FitConfig,
    run: &FitRun,
    objective: &mut dyn Objective,
    hooks: &mut dyn FitHooks,
) -> Result<FitReport> {
    check_config(cfg)?;
    check_names(set)?;
    let mut opt = Optimizer::new(gpu, set, cfg.optim);
    let mut report = FitReport::default();
    if let Some(path) = run.state_path {
        if run.resume && path.exists() {
            let (done, best) = load_state(gpu, set, &mut opt, path, cfg, &run.identity)?;
            if run.verbose {
                eprintln!("resuming after epoch {done} from {}", path.display());
            }
            report.start_epoch = done;
            report.best = best;
        } else if run.resume && run.verbose {
            eprintln!("--resume: no train state at {} yet, starting fresh", path.display());
        }
    }
    for epoch in report.start_epoch..cfg.epochs {
        let lr = lr_at(cfg.optim.lr, &cfg.schedule, epoch);
        let pb = progress_bar(run.verbose, data.n, epoch, cfg.epochs);
        let mut st = fit_epoch(gpu, set, &mut opt, data, cfg, epoch, lr, objective, |seen, loss, acc| {
            pb.set_position(seen as u64);
            pb.set_message(match acc {
                Some(a) => format!("loss {loss:.4} acc {:.2}%", 100.0 * a),
                None => format!("loss {loss:.4}"),
            });
        })?;
        pb.finish_and_clear();
        let (eval, score) = hooks.validate(epoch)?;
        st.eval = eval;
        st.score = score;
        let best = match (score, report.best) {
            (Some(s), Some((_, b))) => s > b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if best {
            report.best = Some((epoch, score.unwrap()));
        }
        if run.verbose {
            eprintln!("{}", epoch_line(&st, cfg.epochs));
        }
        hooks.save(&st, best)?;
        if let Some(path) = run.state_path {
            save_state(gpu, set, &opt, path, epoch + 1, cfg, &run.identity, report.best)?;
        }
        report.epochs.push(st);
    }
    Ok(report)
}

fn progress_bar(verbose: bool, n: usize, epoch: usize, epochs: usize) -> ProgressBar {
    if !verbose {
        return ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::hidden());
    }
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {per_sec} {msg}")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    pb.set_prefix(format!("{}/{}", epoch + 1, epochs));
    pb
}

/// "epoch 3/10: lr 5.000e-2, loss 0.1234, train acc 97.12%, val acc ..., 8.1 s (7400 images/s)"
pub fn epoch_line(st: &EpochStats, epochs: usize) -> String {
    let mut s = format!("epoch {}/{}: lr {:.3e}, loss {:.4}", st.epoch + 1, epochs, st.lr, st.train_loss);
    if let Some(a) = st.train_accuracy {
        s += &format!(", train acc {:.2}%", 100.0 * a);
    }
    for (k, v) in &st.metrics {
        s += &format!(", {k} {v:.4}");
    }
    for (k, v) in &st.eval {
        if k.ends_with("accuracy") {
            s += &format!(", {} {:.2}%", k.replace('_', " "), 100.0 * v);
        } else {
            s += &format!(", {} {v:.4}", k.replace('_', " "));
        }
    }
    s + &format!(", {:.1} s ({:.0} images/s)", st.seconds, st.images_per_sec)
}

fn check_config(cfg: &FitConfig) -> Result<()> {
    if cfg.epochs == 0 || cfg.batch == 0 {
        bail!("epochs and batch must be at least 1 (got epochs {}, batch {})", cfg.epochs, cfg.batch);
    }
    let o = &cfg.optim;
    for (name, v) in [("learning rate", o.lr), ("momentum", o.momentum), ("weight decay", o.weight_decay)] {
        if !v.is_finite() || v < 0.0 {
            bail!("{name} {v} must be a finite number >= 0");
        }
    }
    Ok(())
}

fn check_names<S: ParamSet + ?Sized>(set: &S) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for p in set.param_list() {
        if !seen.insert(p.name.as_str()) {
            bail!("parameter name {:?} appears twice in the trained set (names key the train state)", p.name);
        }
    }
    Ok(())
}

/// One epoch of minibatch training of `set` (seeded shuffle, augmentation,
/// the objective, one optimiser step per batch). `on_step(images seen,
/// running loss, running accuracy)` is called after each read-back.
#[allow(clippy::too_many_arguments)]
pub fn fit_epoch<S: ParamSet + ?Sized>(
    gpu: &Arc<Gpu>,
    set: &S,
    opt: &mut Optimizer,
    data: &Dataset,
    cfg: &FitConfig,
    epoch: usize,
    lr: f32,
    objective: &mut dyn Objective,
    mut on_step: impl FnMut(usize, f64, Option<f64>),
) -> Result<EpochStats> {
    if data.n == 0 {
        bail!("training set is empty");
    }
    let start = Instant::now();
    let order = epoch_order(data.n, cfg.seed, epoch);
    let loss_sum = gpu.zeros(&[1]);
    let correct = gpu.zeros(&[1]);
    let mut counts_correct = false;
    let mut metric_sums: Vec<(&'static str, Tensor)> = Vec::new();
    let mut host = Vec::new();
    let mut scratch = Vec::new();
    let mut labels = Vec::new();
    let mut seen = 0usize;
    let steps = data.n.div_ceil(cfg.batch);
    let mut aug_rng = augment_rng(cfg.seed, epoch);
    let params = set.param_list();
    for (step, idx) in order.chunks(cfg.batch).enumerate() {
        host.clear();
        for &i in idx {
            host.extend_from_slice(data.image(i));
        }
        if cfg.augment != Augment::None {
            let pad = cfg.augment.pad();
            augment_images(&mut host, idx.len(), data.c, data.h, data.w, pad, &mut aug_rng, &mut scratch);
        }
        labels.clear();
        labels.extend(idx.iter().map(|&i| data.labels[i]));
        let batch = Batch {
            x: gpu.upload(&host, &[idx.len(), data.c, data.h, data.w]),
            labels: gpu.upload_u32(&labels, &[idx.len()]),
            index: idx,
            epoch,
            step,
            seed: step_seed(cfg.seed, (epoch * steps + step) as u64),
        };
        let mut g = Graph::new(gpu);
        let vars: Vec<Var> = params.iter().map(|p| g.leaf(p.tensor.clone(), true)).collect();
        let out = objective.step(&mut g, &vars, &batch)?;
        if let Some(z) = out.logits {
            softmax_xent::count_correct(gpu, g.value(z), &batch.labels, &correct);
            counts_correct = true;
        }
        ew::axpy(gpu, idx.len() as f32, g.value(out.loss), &loss_sum);
        for (name, v) in &out.metrics {
            let pos = match metric_sums.iter().position(|(n, _)| n == name) {
                Some(p) => p,
                None => {
                    metric_sums.push((name, gpu.zeros(&[1])));
                    metric_sums.len() - 1
                }
            };
            ew::axpy(gpu, idx.len() as f32, g.value(*v), &metric_sums[pos].1);
        }
        let mut grads = g.backward(out.loss, None);
        let grads: Vec<Tensor> = vars
            .iter()
            .zip(&params)
            .map(|(&v, p)| {
                grads.take(v).with_context(|| format!("the objective's loss does not depend on parameter {}", p.name))
            })
            .collect::<Result<_>>()?;
        opt.step(gpu, set, &grads, lr);
        seen += idx.len();
        if (step + 1) % cfg.log_every.max(1) == 0 || step + 1 == steps {
            let l = gpu.read(&loss_sum)[0] as f64 / seen as f64;
            if !l.is_finite() {
                bail!("training diverged at epoch {epoch}, step {step}: loss is {l} (lower --lr)");
            }
            let acc = counts_correct.then(|| gpu.read(&correct)[0] as f64 / seen as f64);
            on_step(seen, l, acc);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(EpochStats {
        epoch,
        lr,
        train_loss: gpu.read(&loss_sum)[0] as f64 / seen as f64,
        train_accuracy: counts_correct.then(|| gpu.read(&correct)[0] as f64 / seen as f64),
        metrics: metric_sums.iter().map(|(n, t)| (n.to_string(), gpu.read(t)[0] as f64 / seen as f64)).collect(),
        seconds,
        images_per_sec: seen as f64 / seconds,
        ..Default::default()
    })
}

/// The per-epoch order: a seeded shuffle, so `--resume` at an epoch
/// boundary replays exactly.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    order
}

/// The settings a resume must match: the config less `epochs` and
/// `log_every`, plus the caller's identity.
fn resume_key(cfg: &FitConfig, identity: &Value) -> Value {
    // through text, so f32 settings read as written (0.05, not 0.0500000007)
    let mut c: Value = serde_json::from_str(&serde_json::to_string(cfg).expect("FitConfig serialises"))
        .expect("serde_json reads what it wrote");
    if let Value::Object(m) = &mut c {
        m.remove("epochs");
        m.remove("log_every");
    }
    serde_json::json!({"config": c, "identity": identity})
}

/// Write the train state: every parameter of `set` (`p.{name}`), the
/// optimiser moments (`m.{name}`, `v.{name}`), and in the metadata the
/// epochs done, Adam's t, the settings and the best score so far.
#[allow(clippy::too_many_arguments)]
pub fn save_state<S: ParamSet + ?Sized>(
    gpu: &Gpu,
    set: &S,
    opt: &Optimizer,
    path: &Path,
    epochs_done: usize,
    cfg: &FitConfig,
    identity: &Value,
    best: Option<(usize, f64)>,
) -> Result<()> {
    let mut named: Vec<(String, Tensor)> =
        set.param_list().iter().map(|p| (format!("p.{}", p.name), p.tensor.clone())).collect();
    named.extend(opt.state(set));
    let host: Vec<(String, Vec<usize>, Vec<f32>)> =
        named.iter().map(|(n, t)| (n.clone(), t.shape().to_vec(), gpu.read(t))).collect();
    let refs: Vec<(String, Vec<usize>, &[f32])> =
        host.iter().map(|(n, s, d)| (n.clone(), s.clone(), d.as_slice())).collect();
    let mut meta = BTreeMap::new();
    meta.insert("epochs_done".into(), epochs_done.to_string());
    meta.insert("adam_t".into(), opt.t.to_string());
    meta.insert("resume_key".into(), resume_key(cfg, identity).to_string());
    meta.insert("config".into(), serde_json::to_string(cfg)?);
    if let Some((e, s)) = best {
        meta.insert("best_epoch".into(), e.to_string());
        meta.insert("best_score".into(), format!("{s:e}"));
    }
    checkpoint::save(path, &refs, &meta)
}

/// Restore parameters and optimiser state from `path` after checking that
/// it was written by a run with the same settings. Returns the epochs done
/// and the best (epoch, score). A state written before `fit` existed (no
/// `resume_key`, no `p.` tensors) restores the moments only.
fn load_state<S: ParamSet + ?Sized>(
    gpu: &Arc<Gpu>,
    set: &S,
    opt: &mut Optimizer,
    path: &Path,
    cfg: &FitConfig,
    identity: &Value,
) -> Result<(usize, Option<(usize, f64)>)> {
    let ck = Checkpoint::load(path)?;
    let meta = ck.metadata();
    match meta.get("resume_key") {
        Some(saved) => {
            let saved: Value =
                serde_json::from_str(saved).with_context(|| format!("{}: resume_key", path.display()))?;
            // compare what a round trip through the file gives (f32 settings
            // are written as their shortest f64 decimal)
            let want: Value = serde_json::from_str(&resume_key(cfg, identity).to_string())?;
            if saved != want {
                bail!(
                    "--resume: {} was written with other settings ({}); rerun with the same settings, or without --resume to start over",
                    path.display(),
                    first_difference(&saved, &want, "")
                );
            }
        }
        None => eprintln!("{}: a train state from before settings were recorded; not checked", path.display()),
    }
    for (j, p) in set.param_list().iter().enumerate() {
        let shape = p.tensor.shape();
        let pname = format!("p.{}", p.name);
        if ck.contains(&pname) {
            gpu.write(&p.tensor, bytemuck::cast_slice(&ck.get(&pname, shape)?));
        }
        opt.m[j] = gpu.upload(&ck.get(&format!("m.{}", p.name), shape)?, shape);
        if let Some(v) = opt.v.get_mut(j) {
            *v = gpu.upload(&ck.get(&format!("v.{}", p.name), shape)?, shape);
        }
    }
    opt.t = meta.get("adam_t").and_then(|s| s.parse().ok()).unwrap_or(0);
    let done = meta
        .get("epochs_done")
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{}: no epochs_done in metadata", path.display()))?;
    let best = match (meta.get("best_epoch"), meta.get("best_score")) {
        (Some(e), Some(s)) => Some((
            e.parse().with_context(|| format!("{}: best_epoch {e:?}", path.display()))?,
            s.parse().with_context(|| format!("{}: best_score {s:?}", path.display()))?,
        )),
        _ => None,
    };
    Ok((done, best))
}

/// "optim.lr: 0.05 then, 0.1 now" for the first leaf where two JSON values differ.
fn first_difference(old: &Value, new: &Value, at: &str) -> String {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for k in a.keys().chain(b.keys()) {
                let (x, y) = (a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
                if x != y {
                    let path = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                    return first_difference(x, y, &path);
                }
            }
            format!("{at}: differs")
        }
        _ => {
            let at = at.strip_prefix("config.").or_else(|| at.strip_prefix("identity.")).unwrap_or(at);
            format!("{at}: {old} then, {new} now")
        }
    }
}

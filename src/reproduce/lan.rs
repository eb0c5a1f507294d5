//! `advlab reproduce lan`: thesis §3 on CIFAR-10 (SPEC §5). β chosen on a
//! validation split of the training set, the LAN g against f1, f2 on
//! g(x_train), Tables 1–4 for FGSM, JSMA (random targets) and C&W, direct
//! and transferred from a second model, ROC/AUC, and the adaptive attacker
//! of [`crate::detect::adaptive`]. Every stage's time is recorded; with
//! `resume` the trained stages (sweep, LAN, f2) and the attacks already in
//! the output directory are reused when their settings match.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use super::stats::Rate;
use crate::attack::{self, AttackConfig, CwConfig, FgsmConfig, ImageResult, JsmaConfig, LabelSource, Norm, RunOptions};
use crate::data::{self, npy, DataSpec, Dataset, Split};
use crate::detect::adaptive::{self, AdaptiveConfig};
use crate::detect::detector::{Detector, Record};
use crate::detect::lan::{self as lanmod, LanLoss, LossKind};
use crate::detect::masks;
use crate::detect::noise::{Noise, NoiseKind};
use crate::detect::roc;
use crate::gpu::Gpu;
use crate::nn::fit::{fit, FitConfig, FitRun, NoHooks};
use crate::nn::optim::{OptimConfig, OptimKind, Schedule};
use crate::nn::{train, Arch, Model};
use crate::report;

/// Everything `reproduce lan` can be told. The CLI's defaults are the run in
/// results/lan: LAN and f2 on the whole training split less the validation
/// images, about 50 minutes on a 2-core lavapipe machine; the attacks run on
/// a few hundred test images with C&W cut to 2 binary steps × 50 iterations.
#[derive(Clone, Debug, Serialize)]
pub struct LanReproConfig {
    pub data: String,
    pub f1_arch: String,
    pub f1_model: PathBuf,
    pub src_arch: String,
    pub src_model: PathBuf,
    pub seed: u64,
    /// Held-out validation images of the training split (β selection).
    pub val: usize,
    pub betas: Vec<f32>,
    /// Skip the sweep and use this β.
    pub beta: Option<f32>,
    pub sweep_count: usize,
    pub sweep_epochs: usize,
    pub sweep_val: usize,
    pub sweep_f2_epochs: usize,
    pub lan_arch: String,
    pub lan_count: usize,
    pub lan_epochs: usize,
    pub lan_batch: usize,
    pub lan_lr: f32,
    pub noise: NoiseKind,
    pub loss: LossKind,
    pub f2_arch: String,
    pub f2_count: usize,
    pub f2_epochs: usize,
    pub f2_lr: f32,
    pub fgsm_eps: f32,
    pub fgsm_count: usize,
    pub jsma_count: usize,
    pub jsma_gamma: f64,
    pub cw_count: usize,
    pub cw_iters: usize,
    pub cw_steps: usize,
    pub cw_c0: f64,
    pub transfer_fgsm_count: usize,
    pub transfer_jsma_count: usize,
    pub transfer_cw_count: usize,
    pub transfer_cw_kappa: f32,
    pub adaptive_count: usize,
    pub adaptive: AdaptiveConfig,
    pub attack_batch: usize,
    pub grid: usize,
    pub keep_adv: usize,
    pub resume: bool,
}

impl LanReproConfig {
    pub fn validate(&self) -> Result<()> {
        if self.betas.is_empty() && self.beta.is_none() {
            bail!("--betas: give at least one β (or --beta)");
        }
        for &b in self.betas.iter().chain(self.beta.iter()) {
            LanLoss::new(b, self.loss)?;
        }
        for (flag, v) in [
            ("--sweep-count", self.sweep_count),
            ("--sweep-epochs", self.sweep_epochs),
            ("--sweep-val", self.sweep_val),
            ("--sweep-f2-epochs", self.sweep_f2_epochs),
            ("--lan-count", self.lan_count),
            ("--lan-epochs", self.lan_epochs),
            ("--lan-batch", self.lan_batch),
            ("--f2-count", self.f2_count),
            ("--f2-epochs", self.f2_epochs),
            ("--attack-batch", self.attack_batch),
        ] {
            if v == 0 {
                bail!("{flag} 0: must be at least 1");
            }
        }
        if self.sweep_val > self.val {
            bail!("--sweep-val {}: more than the {} held-out images (--val)", self.sweep_val, self.val);
        }
        if !(self.lan_lr > 0.0 && self.f2_lr > 0.0) {
            bail!("--lan-lr and --f2-lr must be > 0");
        }
        self.adaptive.validate()
    }
}

/// One stage's time in this run and, for a stage reused from the cache, the
/// time it took when it was run (so a resumed run still reports what a
/// fresh one costs).
struct StageTime {
    name: String,
    seconds: f64,
    cached: Option<f64>,
}

impl StageTime {
    fn first_run_seconds(&self) -> f64 {
        self.cached.unwrap_or(self.seconds)
    }
}

/// The time of each stage, in order.
#[derive(Default)]
struct Timer {
    stages: Vec<StageTime>,
    t0: Option<Instant>,
}

impl Timer {
    fn start(&mut self) {
        self.t0 = Some(Instant::now());
    }
    fn elapsed(&self) -> f64 {
        self.t0.map_or(0.0, |t| t.elapsed().as_secs_f64())
    }
    /// Ends a stage (`cached`: the first run's time of a reused stage) and
    /// returns its first run's time.
    fn stop(&mut self, name: &str, cached: Option<f64>) -> f64 {
        let seconds = self.elapsed();
        self.t0 = None;
        eprintln!("[reproduce lan] {name}: {seconds:.1} s{}", if cached.is_some() { " (reused)" } else { "" });
        let t = StageTime { name: name.to_string(), seconds, cached };
        let first = t.first_run_seconds();
        self.stages.push(t);
        first
    }
    /// What a fresh run would take: every stage at its first run's time.
    fn fresh_total(&self) -> f64 {
        self.stages.iter().map(StageTime::first_run_seconds).sum()
    }
}

/// The first run's time of a reused stage record (0 when not recorded).
fn cached_seconds(v: &Value) -> f64 {
    v["seconds"].as_f64().unwrap_or(0.0)
}

fn data_set(images: Vec<f32>, labels: Vec<u32>, chw: [usize; 3]) -> Result<Dataset> {
    Dataset::new(images, labels, chw[0], chw[1], chw[2])
}

/// A reused stage's record if `resume` and `path` holds the same settings.
fn reusable(resume: bool, path: &Path, settings: &Value) -> Option<Value> {
    if !resume {
        return None;
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    (v.get("settings") == Some(settings)).then_some(v)
}

/// A stage's cache record. Not a results.json (no command, no adapter), so it
/// is replaced whenever its settings change, unlike the run's results.
fn write_stage(path: &Path, settings: &Value, results: Value, seconds: f64) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the stage cache", dir.display()))?;
    }
    crate::fsutil::write_atomic(
        path,
        serde_json::to_string_pretty(&json!({"settings": settings, "results": results, "seconds": seconds}))?
            .as_bytes(),
    )
}

/// Train a LAN on `train_set` (clean logits precomputed).
#[allow(clippy::too_many_arguments)]
fn train_lan(
    gpu: &Arc<Gpu>,
    f1: &Model,
    lan_arch: &str,
    train_set: &Dataset,
    beta: f32,
    cfg: &LanReproConfig,
    epochs: usize,
) -> Result<(Model, Value)> {
    let lan = Model::init(gpu, Arch::parse(lan_arch)?, cfg.seed);
    lanmod::check_pair(&lan, f1, "--lan-arch")?;
    let loss = LanLoss::new(beta, cfg.loss)?;
    let noise = Noise::new(cfg.noise, train_set)?;
    let clean = lanmod::clean_logits(gpu, f1, train_set, 500);
    let fc = FitConfig {
        epochs,
        batch: cfg.lan_batch,
        optim: OptimConfig::new(OptimKind::Adam, cfg.lan_lr),
        schedule: Schedule::Constant,
        seed: cfg.seed,
        augment: Default::default(),
        log_every: 50,
    };
    let run = FitRun { state_path: None, resume: false, identity: Value::Null, verbose: true };
    let rep = {
        let mut obj = lanmod::lan_objective(&lan, f1, noise, loss, Some(&clean));
        fit(gpu, &lan, train_set, &fc, &run, &mut obj, &mut NoHooks)?
    };
    Ok((lan, json!(rep.epochs)))
}

/// Train f2 on masks with Adam; returns the model and its accuracy on `val`.
fn train_f2(
    gpu: &Arc<Gpu>,
    arch: &str,
    masks: &Dataset,
    epochs: usize,
    cfg: &LanReproConfig,
) -> Result<(Model, Value)> {
    let f2 = Model::init(gpu, Arch::parse(arch)?, cfg.seed);
    f2.check_input("f2 masks", &[masks.n, masks.c, masks.h, masks.w])?;
    let fc = FitConfig {
        epochs,
        batch: 64,
        optim: OptimConfig::new(OptimKind::Adam, cfg.f2_lr),
        schedule: Schedule::Constant,
        seed: cfg.seed,
        augment: Default::default(),
        log_every: 100,
    };
    let run = FitRun { state_path: None, resume: false, identity: Value::Null, verbose: true };
    let rep = fit(gpu, &f2, masks, &fc, &run, &mut train::classifier_objective(&f2), &mut NoHooks)?;
    Ok((f2, json!(rep.epochs)))
}

/// Mean A, and the mean over pixels of A's standard deviation across
/// images (≈ 0 for an image-independent mask).
fn mask_stats(m: &[f32], d: usize) -> Value {
    let n = m.len() / d.max(1);
    let mean = m.iter().map(|&v| v as f64).sum::<f64>() / m.len().max(1) as f64;
    let mut sd = 0.0;
    for i in 0..d {
        let (mut s, mut s2) = (0.0, 0.0);
        for r in 0..n {
            let v = m[r * d + i] as f64;
            s += v;
            s2 += v * v;
        }
        let mu = s / n.max(1) as f64;
        sd += (s2 / n.max(1) as f64 - mu * mu).max(0.0).sqrt();
    }
    json!({"mean_mask": mean, "per_pixel_sd_across_images": sd / d.max(1) as f64})
}

/// One attack's result, from the cache in `dir` when `resume` and the
/// settings match, else run and cached.
#[allow(clippy::too_many_arguments)]
fn attack_cached(
    gpu: &Arc<Gpu>,
    model: &Model,
    test: &Dataset,
    count: usize,
    acfg: &AttackConfig,
    targets: Option<&[u32]>,
    dir: &Path,
    name: &str,
    cfg: &LanReproConfig,
) -> Result<(Vec<f32>, Vec<ImageResult>, f64, bool)> {
    let n = count.min(test.n);
    let settings = json!({"attack": acfg, "model": model.arch.spec, "count": n, "seed": cfg.seed});
    let jpath = dir.join(format!("{name}.json"));
    let apath = dir.join(format!("{name}_adv.npy"));
    if let Some(v) = reusable(cfg.resume, &jpath, &settings) {
        if let Ok((_, adv)) = npy::read_npy_f32(&apath) {
            let imgs: Vec<ImageResult> = serde_json::from_value(v["results"]["images"].clone())?;
            return Ok((adv, imgs, v["results"]["seconds"].as_f64().unwrap_or(0.0), true));
        }
    }
    let d = test.image_len();
    let opts = RunOptions { batch: cfg.attack_batch, seed: cfg.seed, label_source: LabelSource::True };
    let index: Vec<usize> = (0..n).collect();
    let r = attack::run_attack_indexed(
        gpu,
        model,
        &test.images[..n * d],
        &test.labels[..n],
        &index,
        targets.map(|t| &t[..n]),
        acfg,
        &opts,
        |_, _| {},
    )?;
    npy::write_npy_f32(&apath, &r.shape, &r.adv)?;
    write_stage(&jpath, &settings, json!({"images": r.images, "seconds": r.seconds}), r.seconds)?;
    Ok((r.adv, r.images, r.seconds, false))
}

/// Tables 1, 2 and 4 (and 3's rates) of one attack over its kept x*.
struct Evaluated {
    json: Value,
    row: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn evaluate_attack(
    gpu: &Arc<Gpu>,
    det: &Detector,
    test_recs: &[Record],
    test: &Dataset,
    adv: &[f32],
    imgs: &[ImageResult],
    kept: &[usize],
    name: &str,
    out: &Path,
    cfg: &LanReproConfig,
) -> Result<Evaluated> {
    let d = test.image_len();
    let kept_adv: Vec<f32> = kept.iter().flat_map(|&p| adv[p * d..(p + 1) * d].iter().copied()).collect();
    let mut recs = if kept.is_empty() { Vec::new() } else { det.run(gpu, &kept_adv, 500)? };
    for (r, &p) in recs.iter_mut().zip(kept) {
        r.index = imgs[p].index;
        r.label = Some(test.labels[imgs[p].index]);
    }
    let orig: Vec<&Record> = kept.iter().map(|&p| &test_recs[imgs[p].index]).collect();
    let t1 = Rate::of(recs.iter().zip(&orig).map(|(a, o)| a.f2_pred == o.f2_pred));
    let tp = Rate::of(recs.iter().map(|r| r.flag));
    let tn = Rate::of(orig.iter().map(|r| !r.flag));
    let filt: Vec<usize> = (0..recs.len()).filter(|&i| Some(orig[i].f2_pred) == orig[i].label).collect();
    let tp4 = Rate::of(filt.iter().map(|&i| recs[i].flag));
    let tn4 = Rate::of(filt.iter().map(|&i| !orig[i].flag));
    let rec4 = Rate::of(filt.iter().map(|&i| Some(recs[i].f2_pred) == recs[i].label));
    let flags = |r: &[&Record]| r.iter().map(|r| r.flag).collect::<Vec<_>>();
    let scores = |r: &[&Record]| r.iter().map(|r| r.score).collect::<Vec<_>>();
    let adv_refs: Vec<&Record> = recs.iter().collect();
    let detection = if recs.is_empty() {
        None
    } else {
        let dt = roc::detection(&flags(&adv_refs), &scores(&adv_refs), &flags(&orig), &scores(&orig))?;
        roc::save_roc_png(&out.join(format!("roc_{name}.png")), &dt, &format!("{name}: kept x* vs their originals"))?;
        Some(dt)
    };
    // the first keep_adv kept x* and their test indices
    let m = kept.len().min(cfg.keep_adv);
    if m > 0 {
        let [c, h, w] = det.f1.arch.input;
        npy::write_npy_f32(&out.join(format!("adv_{name}.npy")), &[m, c, h, w], &kept_adv[..m * d])?;
        let idx: Vec<i64> = kept[..m].iter().map(|&p| imgs[p].index as i64).collect();
        npy::write_npy_i64(&out.join(format!("adv_{name}_indices.npy")), &[m], &idx)?;
    }
    let auc = detection.as_ref().map(|d| d.auc);
    let row = vec![
        name.to_string(),
        kept.len().to_string(),
        t1.cell(),
        tp.cell(),
        tn.cell(),
        auc.map_or("-".into(), |a| format!("{a:.3}")),
    ];
    let json = json!({
        "kept": kept.len(), "table1_f2_mask_class_kept": t1, "tp": tp, "tn_originals": tn,
        "tp_plus_tn": tp.rate.zip(tn.rate).map(|(a, b)| a + b),
        "auc": auc, "roc": detection.as_ref().map(|d| &d.roc),
        "table4": {"filter": "clean mask classified correctly by f2 (f2(g(x)) = y; f1(x) = y as for every kept x*)",
                   "images": filt.len(), "tp": tp4, "tn": tn4, "recovery": rec4},
        "per_image": recs, "originals_per_image": orig,
    });
    Ok(Evaluated { json, row })
}

/// Kept x* of a direct attack: f1 right on x, wrong on x*.
fn kept_direct(imgs: &[ImageResult]) -> Vec<usize> {
    (0..imgs.len()).filter(|&p| imgs[p].clean_pred == imgs[p].label && imgs[p].adv_pred != imgs[p].label).collect()
}

/// f1's class of each image of `x` (flat).
fn predict(gpu: &Arc<Gpu>, f1: &Model, x: &[f32], labels: &[u32]) -> Result<Vec<u32>> {
    let [c, h, w] = f1.arch.input;
    let ds = data_set(x.to_vec(), labels.to_vec(), [c, h, w])?;
    train::predict_labels(gpu, f1, &ds, 500)
}

/// The `command` of its results.json (the full command line is `command_line`).
pub const COMMAND: &str = "reproduce lan";

/// Run everything; writes into `out` and returns results.json's value.
pub fn run(gpu: &Arc<Gpu>, cfg: &LanReproConfig, out: &Path, command_line: &str) -> Result<Value> {
    cfg.validate()?;
    // before any work: a results.json of another command in --out-dir is refused
    report::check_results_path(&out.join("results.json"), COMMAND)?;
    let total = Instant::now();
    let mut tm = Timer::default();
    let spec = DataSpec::parse(&cfg.data)?;
    let f1_arch = Arch::parse(&cfg.f1_arch)?;
    f1_arch.expect_classifier("--arch (f1)")?;
    let src_arch = Arch::parse(&cfg.src_arch)?;
    src_arch.expect_classifier("--src-arch")?;
    let lan_arch = Arch::parse(&cfg.lan_arch)?;
    let f2_arch = Arch::parse(&cfg.f2_arch)?;
    let dims = |a: [usize; 3]| format!("{}×{}×{}", a[0], a[1], a[2]);
    if lan_arch.input != f1_arch.input {
        bail!(
            "--lan-arch {}: makes {} masks but --arch {} takes {} images",
            cfg.lan_arch,
            dims(lan_arch.input),
            cfg.f1_arch,
            dims(f1_arch.input)
        );
    }
    if f2_arch.input != lan_arch.input {
        bail!(
            "--f2-arch {}: takes {} inputs but the LAN makes {} masks",
            cfg.f2_arch,
            dims(f2_arch.input),
            dims(lan_arch.input)
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("--out-dir {}: cannot create it", out.display()))?;
    let cache = out.join("stages");
    std::fs::create_dir_all(&cache)?;

    tm.start();
    let full = data::load(&spec, Split::Train)?;
    let test = data::load(&spec, Split::Test)?;
    let chw = [test.c, test.h, test.w];
    if chw != f1_arch.input {
        bail!("--data {spec}: {chw:?} images, --arch {} takes {:?}", cfg.f1_arch, f1_arch.input);
    }
    let (tr_idx, va_idx) = data::holdout(full.n, cfg.val, cfg.seed)?;
    let train_set = full.select(&tr_idx);
    let val_set = full.select(&va_idx);
    let f1 = Model::load(gpu, f1_arch.clone(), &cfg.f1_model)?;
    let src = Model::load(gpu, src_arch, &cfg.src_model)?;
    tm.stop("load data and models", None);

    // ---- β sweep on the validation split ----
    tm.start();
    let sweep_settings = json!({"betas": cfg.betas, "sweep_count": cfg.sweep_count, "sweep_epochs": cfg.sweep_epochs,
        "sweep_val": cfg.sweep_val, "sweep_f2_epochs": cfg.sweep_f2_epochs, "lan_arch": cfg.lan_arch,
        "lan_batch": cfg.lan_batch, "lan_lr": cfg.lan_lr, "noise": cfg.noise, "loss": cfg.loss, "f2_arch": cfg.f2_arch,
        "f2_lr": cfg.f2_lr, "val": cfg.val, "seed": cfg.seed, "f1": cfg.f1_model});
    let sweep_path = cache.join("sweep.json");
    let (sweep, sweep_cached) = if cfg.beta.is_some() {
        (json!([]), None)
    } else if let Some(v) = reusable(cfg.resume, &sweep_path, &sweep_settings) {
        (v["results"].clone(), Some(cached_seconds(&v)))
    } else {
        let sw_train = train_set.take_first(cfg.sweep_count.min(train_set.n));
        let sw_val = val_set.take_first(cfg.sweep_val);
        let mut rows = Vec::new();
        for &beta in &cfg.betas {
            let t = Instant::now();
            eprintln!("[reproduce lan] β sweep: β = {beta}");
            let (lan, _) = train_lan(gpu, &f1, &cfg.lan_arch, &sw_train, beta, cfg, cfg.sweep_epochs)?;
            let mt = lanmod::masks(gpu, &lan, &sw_train, 500)?;
            let mv = lanmod::masks(gpu, &lan, &sw_val, 500)?;
            let (f2, _) =
                train_f2(gpu, &cfg.f2_arch, &data_set(mt, sw_train.labels.clone(), chw)?, cfg.sweep_f2_epochs, cfg)?;
            let vset = data_set(mv.clone(), sw_val.labels.clone(), chw)?;
            let acc = train::evaluate(gpu, &f2, &vset, 1000)?.accuracy;
            let ev = lanmod::evaluate(
                gpu,
                &lan,
                &f1,
                &sw_val,
                Noise::new(cfg.noise, &sw_train)?,
                &LanLoss::new(beta, cfg.loss)?,
                cfg.seed ^ 0x5eed,
                500,
            )?;
            rows.push(json!({"beta": beta, "f2_val_accuracy": acc, "val_lan": ev,
                             "val_masks": mask_stats(&mv, sw_val.image_len()), "seconds": t.elapsed().as_secs_f64()}));
        }
        let v = json!(rows);
        write_stage(&sweep_path, &sweep_settings, v.clone(), tm.elapsed())?;
        (v, None)
    };
    let beta = match cfg.beta {
        Some(b) => b,
        None => {
            let rows = sweep.as_array().cloned().unwrap_or_default();
            // max_by keeps the last of equal maxima: ties go to the last β listed
            let best = rows
                .iter()
                .max_by(|a, b| {
                    a["f2_val_accuracy"]
                        .as_f64()
                        .unwrap_or(0.0)
                        .total_cmp(&b["f2_val_accuracy"].as_f64().unwrap_or(0.0))
                })
                .context("β sweep: no rows")?;
            best["beta"].as_f64().context("β sweep row without beta")? as f32
        }
    };
    tm.stop("beta sweep", sweep_cached);
    eprintln!("[reproduce lan] β = {beta}");

    // ---- the LAN ----
    tm.start();
    let lan_path = out.join("lan.safetensors");
    let lan_settings = json!({"beta": beta, "lan_arch": cfg.lan_arch, "lan_count": cfg.lan_count, "lan_epochs": cfg.lan_epochs,
        "lan_batch": cfg.lan_batch, "lan_lr": cfg.lan_lr, "noise": cfg.noise, "loss": cfg.loss, "val": cfg.val,
        "seed": cfg.seed, "f1": cfg.f1_model});
    let lan_stage = cache.join("lan.json");
    let lan_train = train_set.take_first(cfg.lan_count.min(train_set.n));
    let (lan, lan_log, lan_cached) = match reusable(cfg.resume, &lan_stage, &lan_settings) {
        Some(v) if lan_path.exists() => {
            (Model::load(gpu, lan_arch.clone(), &lan_path)?, v["results"].clone(), Some(cached_seconds(&v)))
        }
        _ => {
            let (lan, log) = train_lan(gpu, &f1, &cfg.lan_arch, &lan_train, beta, cfg, cfg.lan_epochs)?;
            // `arch` in the metadata: `lan masks` and `detect` need no --lan-arch
            let meta = BTreeMap::from([
                ("arch".to_string(), cfg.lan_arch.clone()),
                ("beta".to_string(), beta.to_string()),
                ("seed".to_string(), cfg.seed.to_string()),
                ("f1_arch".to_string(), cfg.f1_arch.clone()),
                ("noise".to_string(), cfg.noise.to_string()),
                ("loss".to_string(), cfg.loss.to_string()),
            ]);
            lan.save(gpu, &lan_path, meta)?;
            write_stage(&lan_stage, &lan_settings, log.clone(), tm.elapsed())?;
            (lan, log, None)
        }
    };
    let lan_reused = lan_cached.is_some();
    let lan_secs = tm.stop("LAN training", lan_cached);

    // ---- masks, f2 ----
    tm.start();
    let f2_train = train_set.take_first(cfg.f2_count.min(train_set.n));
    let m_train = lanmod::masks(gpu, &lan, &f2_train, 500)?;
    let m_test = lanmod::masks(gpu, &lan, &test, 500)?;
    let d = test.image_len();
    let caption = |ds: &Dataset, i: usize| {
        let names = crate::grid::class_names(chw, 10);
        names.map_or(format!("{i}"), |n| format!("{i} {}", n[ds.labels[i] as usize % 10].to_ascii_uppercase()))
    };
    let caps: Vec<String> = (0..cfg.grid.min(test.n)).map(|i| caption(&test, i)).collect();
    masks::save_mask_grid(&out.join("masks_test_grid.png"), &test.images, &m_test, chw, &caps, cfg.grid)?;
    let caps: Vec<String> = (0..cfg.grid.min(f2_train.n)).map(|i| caption(&f2_train, i)).collect();
    masks::save_mask_grid(&out.join("masks_train_grid.png"), &f2_train.images, &m_train, chw, &caps, cfg.grid)?;
    npy::write_npy_f32(
        &out.join("masks_test_first100.npy"),
        &[100usize.min(test.n), chw[0], chw[1], chw[2]],
        &m_test[..100usize.min(test.n) * d],
    )?;
    let mstats = json!({"train": mask_stats(&m_train, d), "test": mask_stats(&m_test, d)});
    tm.stop("masks", None);

    tm.start();
    let f2_path = out.join("f2.safetensors");
    let f2_settings = json!({"lan": lan_settings, "f2_arch": cfg.f2_arch, "f2_count": cfg.f2_count,
        "f2_epochs": cfg.f2_epochs, "f2_lr": cfg.f2_lr, "seed": cfg.seed});
    let f2_stage = cache.join("f2.json");
    let (f2, f2_log, f2_cached) = match reusable(cfg.resume && lan_reused, &f2_stage, &f2_settings) {
        Some(v) if f2_path.exists() => {
            (Model::load(gpu, f2_arch.clone(), &f2_path)?, v["results"].clone(), Some(cached_seconds(&v)))
        }
        _ => {
            let (f2, log) = train_f2(
                gpu,
                &cfg.f2_arch,
                &data_set(m_train.clone(), f2_train.labels.clone(), chw)?,
                cfg.f2_epochs,
                cfg,
            )?;
            // `arch` in the metadata: `detect` needs no --f2-arch
            let meta =
                BTreeMap::from([("seed".to_string(), cfg.seed.to_string()), ("arch".to_string(), cfg.f2_arch.clone())]);
            f2.save(gpu, &f2_path, meta)?;
            write_stage(&f2_stage, &f2_settings, log.clone(), tm.elapsed())?;
            (f2, log, None)
        }
    };
    let f2_secs = tm.stop("f2 training", f2_cached);
    drop(m_train);

    // ---- the detector on every test image ----
    tm.start();
    let det = Detector::new(f1, lan, f2)?;
    let mut test_recs = det.run(gpu, &test.images, 500)?;
    for r in test_recs.iter_mut() {
        r.label = Some(test.labels[r.index]);
    }
    let f1_acc = Rate::of(test_recs.iter().map(|r| Some(r.f1_pred) == r.label));
    let f2_acc = Rate::of(test_recs.iter().map(|r| Some(r.f2_pred) == r.label));
    let tn_all = Rate::of(test_recs.iter().map(|r| !r.flag));
    tm.stop("detector on the test set", None);

    // ---- direct attacks on f1 ----
    let targets = attack::random_targets(&test.labels, f1_arch.classes, cfg.seed)?;
    let fgsm = AttackConfig::Fgsm(FgsmConfig { eps: cfg.fgsm_eps, norm: Norm::Inf });
    let jsma = AttackConfig::Jsma(JsmaConfig { gamma: cfg.jsma_gamma, ..Default::default() });
    let cw = AttackConfig::Cw(CwConfig {
        c0: cfg.cw_c0,
        binary_steps: cfg.cw_steps,
        iters: cfg.cw_iters,
        ..Default::default()
    });
    let cw_t = AttackConfig::Cw(CwConfig {
        c0: cfg.cw_c0,
        binary_steps: cfg.cw_steps,
        iters: cfg.cw_iters,
        kappa: cfg.transfer_cw_kappa,
        ..Default::default()
    });
    let direct = [
        ("fgsm", &fgsm, cfg.fgsm_count, false),
        ("jsma", &jsma, cfg.jsma_count, true),
        ("cw", &cw, cfg.cw_count, false),
    ];
    let mut direct_json = serde_json::Map::new();
    let mut t2_rows = Vec::new();
    let mut t4_rows = Vec::new();
    let mut cw_direct: Option<(Vec<f32>, Vec<ImageResult>)> = None;
    for (name, acfg, count, targeted) in direct {
        tm.start();
        let tg = targeted.then_some(&targets[..]);
        let (adv, imgs, secs, reused) =
            attack_cached(gpu, &det.f1, &test, count, acfg, tg, &cache, &format!("direct_{name}"), cfg)?;
        tm.stop(&format!("attack {name} on f1"), reused.then_some(secs));
        tm.start();
        let kept = kept_direct(&imgs);
        let ev = evaluate_attack(gpu, &det, &test_recs, &test, &adv, &imgs, &kept, name, out, cfg)?;
        let s = attack::summarize(&attack::AttackResult {
            adv: Vec::new(),
            shape: [0; 4],
            images: imgs.clone(),
            seconds: secs,
        });
        let mut j = ev.json;
        j["attack"] = json!({"config": acfg, "targets": if targeted { "random (seeded), never the true label" } else { "untargeted" },
                             "images": imgs.len(), "summary": s, "seconds": secs, "reused": reused});
        t4_rows.push(vec![
            name.to_string(),
            j["table4"]["images"].to_string(),
            cell(&j["table4"]["tp"]),
            cell(&j["table4"]["tn"]),
            cell(&j["table4"]["recovery"]),
        ]);
        t2_rows.push(ev.row);
        direct_json.insert(name.to_string(), j);
        tm.stop(&format!("detect {name}"), None);
        if name == "cw" {
            cw_direct = Some((adv, imgs));
        }
    }

    // ---- transfer from the source model ----
    let mut transfer_json = serde_json::Map::new();
    let mut t3_rows = Vec::new();
    let transfer = [
        ("fgsm", &fgsm, cfg.transfer_fgsm_count, false),
        ("jsma", &jsma, cfg.transfer_jsma_count, true),
        ("cw", &cw_t, cfg.transfer_cw_count, false),
    ];
    for (name, acfg, count, targeted) in transfer {
        if count == 0 {
            continue;
        }
        tm.start();
        let tg = targeted.then_some(&targets[..]);
        let (adv, imgs, secs, reused) =
            attack_cached(gpu, &src, &test, count, acfg, tg, &cache, &format!("transfer_{name}"), cfg)?;
        tm.stop(&format!("attack {name} on the source"), reused.then_some(secs));
        tm.start();
        let n = imgs.len();
        let f1_adv = predict(gpu, &det.f1, &adv, &test.labels[..n])?;
        // fooled the source, with both models right on the clean image
        let base: Vec<usize> = (0..n)
            .filter(|&p| {
                let r = &imgs[p];
                r.clean_pred == r.label && r.adv_pred != r.label && test_recs[r.index].f1_pred == r.label
            })
            .collect();
        let kept: Vec<usize> = base.iter().copied().filter(|&p| f1_adv[p] != imgs[p].label).collect();
        let rate = Rate::new(kept.len(), base.len());
        let tname = format!("transfer_{name}");
        let ev = evaluate_attack(gpu, &det, &test_recs, &test, &adv, &imgs, &kept, &tname, out, cfg)?;
        let mut j = ev.json;
        j["transfer_rate"] = json!(rate);
        j["transfer_rule"] = json!("kept: source right on x and wrong on x*, f1 right on x and wrong on x*; rate = kept / (source fooled, both right on x)");
        j["attack"] = json!({"config": acfg, "source": cfg.src_arch, "images": n, "seconds": secs, "reused": reused,
                             "f1_adv_pred": f1_adv});
        let mut row = ev.row;
        row.insert(2, rate.cell());
        t3_rows.push(row);
        transfer_json.insert(name.to_string(), j);
        tm.stop(&format!("detect transfer {name}"), None);
    }

    // ---- the adaptive attacker ----
    tm.start();
    let na = cfg.adaptive_count.min(test.n);
    let idx: Vec<usize> = (0..na).filter(|&i| test_recs[i].f1_pred == test.labels[i]).collect();
    let xs: Vec<f32> = idx.iter().flat_map(|&i| test.image(i).iter().copied()).collect();
    let ys: Vec<u32> = idx.iter().map(|&i| test.labels[i]).collect();
    let adaptive_json = if idx.is_empty() {
        json!(null)
    } else {
        let (adv, res) =
            adaptive::run(gpu, &det.f1, &det.lan, &det.f2, &xs, &ys, &idx, &cfg.adaptive, cfg.attack_batch)?;
        let mut recs = det.run(gpu, &adv, 500)?;
        for (r, &i) in recs.iter_mut().zip(&idx) {
            r.index = i;
            r.label = Some(test.labels[i]);
        }
        let fooled: Vec<usize> = (0..idx.len()).filter(|&p| recs[p].f1_pred != test.labels[idx[p]]).collect();
        let success = Rate::new(fooled.len(), idx.len());
        let detected = Rate::of(fooled.iter().map(|&p| recs[p].flag));
        let evades = Rate::of((0..idx.len()).map(|p| recs[p].f1_pred != test.labels[idx[p]] && !recs[p].flag));
        let kept_adv: Vec<f32> =
            fooled.iter().take(cfg.keep_adv).flat_map(|&p| adv[p * d..(p + 1) * d].iter().copied()).collect();
        if !fooled.is_empty() {
            let m = fooled.len().min(cfg.keep_adv);
            npy::write_npy_f32(&out.join("adv_adaptive.npy"), &[m, chw[0], chw[1], chw[2]], &kept_adv)?;
            let ii: Vec<i64> = fooled.iter().take(m).map(|&p| idx[p] as i64).collect();
            npy::write_npy_i64(&out.join("adv_adaptive_indices.npy"), &[m], &ii)?;
        }
        // the non-adaptive C&W on the same images, for comparison
        let cmp = cw_direct.as_ref().map(|(_, imgs)| {
            let on: Vec<&ImageResult> = imgs.iter().filter(|r| idx.contains(&r.index)).collect();
            let kept: Vec<&ImageResult> = on.iter().copied().filter(|r| r.adv_pred != r.label).collect();
            let flagged = direct_json
                .get("cw")
                .and_then(|v| v["per_image"].as_array())
                .map(|a| a.iter().filter(|r| kept.iter().any(|k| Some(k.index as u64) == r["index"].as_u64()) && r["flag"] == true).count())
                .unwrap_or(0);
            json!({"images": on.len(), "success": Rate::new(kept.len(), on.len()), "detected": Rate::new(flagged, kept.len())})
        });
        let l2: Vec<f64> = res.iter().filter(|r| r.fools_f1).map(|r| r.l2).collect();
        json!({"config": cfg.adaptive, "images": idx.len(), "rule": "images: f1 right on x among the first adaptive_count test images",
               "success_f1": success, "detected_among_successes": detected, "undetected_success": evades,
               "mean_l2_of_successes": if l2.is_empty() { None } else { Some(l2.iter().sum::<f64>() / l2.len() as f64) },
               "nonadaptive_cw_same_images": cmp, "per_image": res, "detector_per_image": recs})
    };
    tm.stop("adaptive attack", None);

    // ---- tables ----
    let sweep_rows: Vec<Vec<String>> = sweep
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    vec![
                        r["beta"].as_f64().map_or("-".into(), |b| (b as f32).to_string()),
                        format!("{:.4}", r["f2_val_accuracy"].as_f64().unwrap_or(f64::NAN)),
                        format!("{:.4}", r["val_masks"]["mean_mask"].as_f64().unwrap_or(f64::NAN)),
                        format!("{:.4}", r["val_masks"]["per_pixel_sd_across_images"].as_f64().unwrap_or(f64::NAN)),
                        format!("{:.4}", r["val_lan"]["f1_agreement"].as_f64().unwrap_or(f64::NAN)),
                        format!("{:.0}", r["seconds"].as_f64().unwrap_or(0.0)),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let mut md = String::new();
    md.push_str(&format!(
        "# reproduce lan: thesis §3 tables\n\nf1 {} clean accuracy on the {} test images: {}; f2 ({}) on their masks: {} (thesis: 0.82 and 0.60). β = {beta}. TN over all test images: {}.\n\n\
         LAN {} on {} training images × {} epochs, f2 on {} × {} epochs. Attacks (reduced to fit lavapipe): FGSM ε {} on {} test images, \
         JSMA γ {} on {}, C&W {} binary steps × {} iterations on {}; transfer counts {} / {} / {}.\n\n",
        cfg.f1_arch, test.n, f1_acc.cell(), cfg.f2_arch, f2_acc.cell(), tn_all.cell(),
        cfg.lan_arch, cfg.lan_count, cfg.lan_epochs, cfg.f2_count, cfg.f2_epochs, cfg.fgsm_eps, cfg.fgsm_count,
        cfg.jsma_gamma, cfg.jsma_count, cfg.cw_steps, cfg.cw_iters, cfg.cw_count,
        cfg.transfer_fgsm_count, cfg.transfer_jsma_count, cfg.transfer_cw_count
    ));
    md.push_str("## β sweep (validation split of the training set)\n\n");
    md.push_str(&report::markdown_table(
        &["β", "f2 val accuracy", "mean A", "per-pixel sd of A across images", "f1 agreement on x̃", "s"],
        &sweep_rows,
    ));
    md.push_str(
        "\n\n## Tables 1–2 (direct, on f1): kept x* = f1 right on x and wrong on x*; TN on their clean originals\n\n",
    );
    md.push_str(&report::markdown_table(
        &["attack", "kept", "T1 P(f2(g(x*)) = f2(g(x)))", "TP", "TN", "AUC"],
        &t2_rows,
    ));
    md.push_str(
        "\n\nThesis: T1 0.863 / 0.878 / 0.997; T2 TP/TN 0.878/0.614, 0.960/0.614, 0.860/0.614 (FGSM, JSMA, C&W).\n\n",
    );
    md.push_str(&format!("## Table 3 (transfer from {})\n\n", cfg.src_arch));
    md.push_str(&report::markdown_table(&["attack", "kept", "transfer rate", "T1", "TP", "TN", "AUC"], &t3_rows));
    md.push_str("\n\nThesis: TP/TN 0.843/0.665, 0.853/0.647, 0.917/0.750.\n\n");
    md.push_str("## Table 4 (filter: only kept x* whose clean mask f2 classifies correctly; TN = 1 here largely follows from the filter, since f1 is right on these x too)\n\n");
    md.push_str(&report::markdown_table(&["attack", "images", "TP", "TN", "recovery P(f2(g(x*)) = y)"], &t4_rows));
    md.push_str("\n\nThesis: 1.000 / 1.000 for every attack.\n\n");
    if !adaptive_json.is_null() {
        md.push_str("## Adaptive attacker (C&W with a term driving f2(g(x*)) to f1's new class)\n\n");
        let c = &adaptive_json["nonadaptive_cw_same_images"];
        md.push_str(&report::markdown_table(
            &["attack", "images", "success against f1", "detected among successes", "undetected success"],
            &[
                vec![
                    "adaptive C&W".into(),
                    adaptive_json["images"].to_string(),
                    cell(&adaptive_json["success_f1"]),
                    cell(&adaptive_json["detected_among_successes"]),
                    cell(&adaptive_json["undetected_success"]),
                ],
                vec![
                    "C&W (non-adaptive), same images".into(),
                    c["images"].to_string(),
                    cell(&c["success"]),
                    cell(&c["detected"]),
                    "-".into(),
                ],
            ],
        ));
        md.push('\n');
    }
    md.push_str("\n## Stage times (s)\n\n");
    let trows: Vec<Vec<String>> = tm
        .stages
        .iter()
        .map(|t| {
            let first = t.cached.map_or("-".into(), |c| format!("{c:.1}"));
            vec![t.name.clone(), format!("{:.1}", t.seconds), t.cached.is_some().to_string(), first]
        })
        .collect();
    md.push_str(&report::markdown_table(&["stage", "seconds", "reused", "seconds when first run"], &trows));
    let fresh = tm.fresh_total();
    md.push_str(&format!(
        "\n\nTotal: {:.1} s this run; {fresh:.1} s with every reused stage at its first run's time\n",
        total.elapsed().as_secs_f64()
    ));
    crate::fsutil::write_atomic(&out.join("tables.md"), md.as_bytes())?;
    println!("{md}");

    let mut v = report::envelope(
        COMMAND,
        Some(gpu.as_ref()),
        json!({"config": cfg, "beta_chosen": beta, "beta_rule": "highest f2 accuracy on the masks of the validation images; ties go to the last β listed",
               "kept_rule": "f1 right on x and wrong on x*",
               "rule": "flag iff argmax f1(x) != argmax f2(g(x)); score = 1 - softmax(f2(g(x)))[argmax f1(x)]",
               "intervals": "95% Wilson score"}),
        json!({"f1_test_accuracy": f1_acc, "f2_test_accuracy_on_masks": f2_acc, "tn_all_test": tn_all,
               "beta_sweep": sweep, "lan_training": lan_log, "lan_seconds": lan_secs, "f2_training": f2_log,
               "f2_seconds": f2_secs, "mask_stats": mstats,
               "direct": direct_json, "transfer": transfer_json, "adaptive": adaptive_json,
               "test_per_image": test_recs, "stages": tm.stages.iter().map(|t| json!({"stage": t.name, "seconds": t.seconds, "reused": t.cached.is_some(),
                   "first_run_seconds": t.first_run_seconds()})).collect::<Vec<_>>(),
               "total_seconds": total.elapsed().as_secs_f64(), "total_seconds_fresh": fresh}),
    );
    v["command_line"] = json!(command_line);
    report::write_json(&out.join("results.json"), &v)?;
    Ok(v)
}

fn cell(v: &Value) -> String {
    match serde_json::from_value::<RateJ>(v.clone()) {
        Ok(r) => Rate { k: r.k, n: r.n, rate: r.rate, lo: r.lo, hi: r.hi }.cell(),
        Err(_) => "-".into(),
    }
}

#[derive(serde::Deserialize)]
struct RateJ {
    k: usize,
    n: usize,
    rate: Option<f64>,
    lo: Option<f64>,
    hi: Option<f64>,
}

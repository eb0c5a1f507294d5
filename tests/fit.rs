//! The training driver `fit` on the two shapes detection and certification
//! need — a mask network trained against a frozen classifier (SPEC §5) and
//! a model trained jointly with a free parameter vector — and its
//! checkpoint / `--resume` contract.

mod common;

use std::path::Path;

use advlab::autograd::{Graph, Var};
use advlab::data::{self, DataSpec, Dataset, Split};
use advlab::nn::fit::{fit, Batch, FitConfig, FitHooks, FitRun, NoHooks, StepOut};
use advlab::nn::model::Param;
use advlab::nn::optim::{OptimConfig, OptimKind, Schedule};
use advlab::nn::train::{self, classifier_objective};
use advlab::nn::{Arch, Model};
use advlab::ops::softmax_xent;
use common::*;
use rand::{Rng, SeedableRng};

fn subset(n: usize) -> Dataset {
    data::load(&DataSpec::Bundled, Split::Train).unwrap().take_first(n)
}

/// A fresh directory for one test (left in the temp dir for inspection).
fn tmp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn quiet() -> FitRun<'static> {
    FitRun::default()
}

fn config(epochs: usize, kind: OptimKind, lr: f32) -> FitConfig {
    FitConfig { epochs, batch: 32, optim: OptimConfig::new(kind, lr), seed: 11, log_every: 10, ..Default::default() }
}

fn read_all(gpu: &advlab::Gpu, ps: &[Param]) -> Vec<Vec<f32>> {
    ps.iter().map(|p| gpu.read(&p.tensor)).collect()
}

/// The LAN objective of SPEC §5 on a batch: x̃ = x + A ⊙ (η − x) with
/// η ~ U[0,1] drawn from the batch seed; loss = mean soft-xent(f1(x̃),
/// softmax f1(x)) − β·mean(A). f1's parameters are constants on the tape.
fn lan_step(g: &mut Graph, params: &[Var], b: &Batch, mask: &Model, f1: &Model, beta: f32) -> StepOut {
    let gpu = g.gpu().clone();
    let x = g.leaf(b.x.clone(), false);
    let a = mask.forward(g, x, params);
    let n = b.x.len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(b.seed);
    let host_x = gpu.read(&b.x);
    let eta_minus_x: Vec<f32> = host_x.iter().map(|&v| rng.random_range(0.0f32..1.0) - v).collect();
    let d = g.leaf(gpu.upload(&eta_minus_x, b.x.shape()), false);
    let shift = g.mul(a, d);
    let corrupted = g.add(x, shift);
    let f1p = f1.bind(g, false);
    let z = f1.forward(g, corrupted, &f1p);
    let q = softmax_xent::softmax(&gpu, &f1.logits(&gpu, &b.x));
    let xent = g.softmax_xent_soft(z, &q);
    let lf = g.mean(xent);
    let mean_a = g.mean(a);
    let reg = g.scale(mean_a, -beta);
    let loss = g.add(lf, reg);
    assert_eq!(g.value(a).len(), n);
    StepOut { loss, logits: None, metrics: vec![("l_f", lf), ("mean_mask", mean_a)] }
}

#[test]
fn mask_network_trains_against_a_frozen_classifier() {
    let gpu = gpu();
    let data = subset(320);
    // f1: a small MLP trained for two epochs, then frozen
    let f1 = Model::init(&gpu, Arch::parse("mlp:784-32-10").unwrap(), 1);
    let mut obj = classifier_objective(&f1);
    fit(&gpu, &f1, &data, &config(2, OptimKind::Sgd, 0.05), &quiet(), &mut obj, &mut NoHooks).unwrap();
    let f1_before = read_all(&gpu, &f1.params);

    let mut mean_masks = Vec::new();
    for beta in [0.0f32, 5.0] {
        let mask = Model::init(&gpu, Arch::parse("mask:1x28x28-16").unwrap(), 2);
        let mut obj = |g: &mut Graph, p: &[Var], b: &Batch| Ok(lan_step(g, p, b, &mask, &f1, beta));
        let rep = fit(&gpu, &mask, &data, &config(3, OptimKind::Adam, 5e-3), &quiet(), &mut obj, &mut NoHooks).unwrap();
        let first = &rep.epochs[0].metrics;
        let last = &rep.epochs[2].metrics;
        eprintln!("beta {beta}: epoch metrics {first:?} -> {last:?}");
        assert!(last["l_f"].is_finite() && last["mean_mask"] > 0.0 && last["mean_mask"] < 1.0);
        assert!(rep.epochs[2].train_loss < rep.epochs[0].train_loss, "beta {beta}: loss did not fall");
        assert!(rep.epochs[0].train_accuracy.is_none());
        mean_masks.push(last["mean_mask"]);
    }
    // β rewards replaceable pixels: a large β yields larger masks than β = 0
    assert!(mean_masks[1] > mean_masks[0] + 0.1, "mean masks {mean_masks:?}");
    assert_eq!(read_all(&gpu, &f1.params), f1_before, "the frozen classifier changed");
}

/// Model weights and a free vector `c` trained together: loss = xent +
/// λ·Σc². With plain SGD (no momentum) c follows c·(1 − 2λ·lr) per step
/// exactly, and the classifier still learns.
#[test]
fn model_and_free_vector_train_jointly_and_resume() {
    let gpu = gpu();
    let data = subset(384);
    let (lambda, lr) = (0.5f32, 0.1f32);
    let c0: Vec<f32> = (0..10).map(|i| i as f32 - 4.5).collect();
    let mut cfg = config(2, OptimKind::Sgd, lr);
    cfg.optim.momentum = 0.0;
    let steps = 2 * data.n.div_ceil(cfg.batch);

    let run = |model: &Model, dual: &Param, cfg: &FitConfig, state: Option<&Path>| {
        let set: Vec<&Param> = model.params.iter().chain(std::iter::once(dual)).collect();
        let k = model.params.len();
        let mut ce = classifier_objective(model);
        let mut obj = |g: &mut Graph, p: &[Var], b: &Batch| {
            let mut out = ce(g, &p[..k], b)?;
            let sq = g.mul(p[k], p[k]);
            let pen = g.sum(sq, lambda);
            out.loss = g.add(out.loss, pen);
            out.metrics.push(("penalty", pen));
            Ok(out)
        };
        let run = FitRun { state_path: state, resume: state.is_some(), ..Default::default() };
        fit(&gpu, &set, &data, cfg, &run, &mut obj, &mut NoHooks).unwrap()
    };
    let arch = || Arch::parse("mlp:784-16-10").unwrap();
    let model = Model::init(&gpu, arch(), 4);
    let before = train::evaluate(&gpu, &model, &data, 256).unwrap().accuracy;
    let dual = Param { name: "dual.c".into(), tensor: gpu.upload(&c0, &[10]) };
    let rep = run(&model, &dual, &cfg, None);
    let after = train::evaluate(&gpu, &model, &data, 256).unwrap().accuracy;
    assert!(after > before + 0.25, "accuracy {before} -> {after}");
    assert!(rep.epochs[1].metrics["penalty"] < rep.epochs[0].metrics["penalty"]);
    let factor = (1.0 - 2.0 * lambda as f64 * lr as f64).powi(steps as i32);
    let want: Vec<f64> = c0.iter().map(|&v| v as f64 * factor).collect();
    assert_close("c after joint training", &gpu.read(&dual.tensor), &want, 1e-5);

    // one epoch, then resume into fresh tensors: the state restores both
    // the model's parameters and the free vector (which no model file holds)
    let dir = tmp_dir("fit-joint");
    let state = dir.join("joint.train-state");
    let (m1, d1) = (Model::init(&gpu, arch(), 4), Param { name: "dual.c".into(), tensor: gpu.upload(&c0, &[10]) });
    let mut one = cfg.clone();
    one.epochs = 1;
    run(&m1, &d1, &one, Some(&state));
    let (m2, d2) = (Model::init(&gpu, arch(), 99), Param { name: "dual.c".into(), tensor: gpu.zeros(&[10]) });
    let rep2 = run(&m2, &d2, &cfg, Some(&state));
    assert_eq!(rep2.start_epoch, 1);
    assert_eq!(gpu.read(&d2.tensor), gpu.read(&dual.tensor), "free vector after resume");
    assert_eq!(read_all(&gpu, &m2.params), read_all(&gpu, &model.params), "model after resume");
}

/// Saves the model file like `advlab train` does, so buffers (BatchNorm
/// running statistics) survive a resume.
struct SaveModel<'a>(&'a advlab::Gpu, &'a Model, &'a Path);
impl FitHooks for SaveModel<'_> {
    fn save(&mut self, _: &advlab::nn::fit::EpochStats, _: bool) -> anyhow::Result<()> {
        self.1.save(self.0, self.2, Default::default())
    }
}

#[test]
fn resume_replays_bit_for_bit() {
    let gpu = gpu();
    let dir = tmp_dir("fit-resume");
    let tiny_bn = || {
        use advlab::nn::arch::Layer;
        let layers = vec![
            Layer::Conv2d { name: "conv1".into(), inp: 1, out: 4, k: 3, stride: 2, pad: 1 },
            Layer::BatchNorm2d { name: "bn1".into(), c: 4 },
            Layer::Relu,
            Layer::MaxPool { k: 2, stride: 2 },
            Layer::Flatten,
            Layer::Dropout { p: 0.25 },
            Layer::Linear { name: "fc1".into(), inp: 4 * 7 * 7, out: 10 },
        ];
        Arch { spec: "tiny-bn".into(), input: [1, 28, 28], classes: 10, layers }
    };
    type Case = (&'static str, Box<dyn Fn() -> Arch>, OptimKind, advlab::nn::augment::Augment);
    let cases: [Case; 3] = [
        ("mlp sgd", Box::new(|| Arch::parse("mlp:784-16-10").unwrap()), OptimKind::Sgd, Default::default()),
        ("mlp adam", Box::new(|| Arch::parse("mlp:784-16-10").unwrap()), OptimKind::Adam, Default::default()),
        ("bn dropout crop-flip", Box::new(tiny_bn), OptimKind::Sgd, advlab::nn::augment::Augment::CropFlip),
    ];
    let data = subset(192);
    for (what, arch, kind, augment) in cases {
        let mut cfg = config(2, kind, 0.01);
        cfg.augment = augment;
        cfg.schedule = Schedule::Cosine { epochs: 2 };
        cfg.optim.weight_decay = 5e-4;
        let m1 = Model::init(&gpu, arch(), 3);
        let mut obj = classifier_objective(&m1);
        fit(&gpu, &m1, &data, &cfg, &quiet(), &mut obj, &mut NoHooks).unwrap();

        let path = dir.join(format!("{}.safetensors", what.replace(' ', "-")));
        let state = train::state_path(&path);
        let m2 = Model::init(&gpu, arch(), 3);
        let mut one = cfg.clone();
        one.epochs = 1;
        let run = FitRun { state_path: Some(&state), resume: true, ..Default::default() };
        let mut obj = classifier_objective(&m2);
        fit(&gpu, &m2, &data, &one, &run, &mut obj, &mut SaveModel(&gpu, &m2, &path)).unwrap();
        let m3 = Model::load(&gpu, arch(), &path).unwrap();
        let mut obj = classifier_objective(&m3);
        let rep = fit(&gpu, &m3, &data, &cfg, &run, &mut obj, &mut NoHooks).unwrap();
        assert_eq!((rep.start_epoch, rep.epochs.len()), (1, 1), "{what}");
        for (a, b) in m1.params.iter().chain(&m1.buffers).zip(m3.params.iter().chain(&m3.buffers)) {
            assert_eq!(gpu.read(&a.tensor), gpu.read(&b.tensor), "{what}: {} differs after resume", a.name);
        }
    }
}

#[test]
fn resume_refuses_other_settings() {
    let gpu = gpu();
    let dir = tmp_dir("fit-refuse");
    let state = dir.join("m.train-state");
    let data = subset(64);
    let model = Model::init(&gpu, Arch::parse("mlp:784-8-10").unwrap(), 1);
    let cfg = config(1, OptimKind::Sgd, 0.01);
    let ident = serde_json::json!({"arch": "mlp:784-8-10"});
    let run = FitRun { state_path: Some(&state), resume: true, identity: ident.clone(), verbose: false };
    let mut obj = classifier_objective(&model);
    fit(&gpu, &model, &data, &cfg, &run, &mut obj, &mut NoHooks).unwrap();
    // more epochs with the same settings: allowed
    let mut more = cfg.clone();
    more.epochs = 2;
    assert_eq!(fit(&gpu, &model, &data, &more, &run, &mut obj, &mut NoHooks).unwrap().start_epoch, 1);
    // another learning rate, batch, or identity: refused in one line naming the setting
    let mut lr = more.clone();
    lr.optim.lr = 0.1;
    let mut batch = more.clone();
    batch.batch = 16;
    for (c, id, key) in
        [(&lr, &ident, "optim.lr"), (&batch, &ident, "batch"), (&more, &serde_json::json!({"arch": "x"}), "arch")]
    {
        let r = FitRun { identity: id.clone(), ..run.clone() };
        let e = fit(&gpu, &model, &data, c, &r, &mut obj, &mut NoHooks).expect_err("resume with other settings");
        let msg = format!("{e:#}");
        assert!(msg.contains(key) && msg.contains("--resume") && !msg.contains('\n'), "{msg}");
    }
}

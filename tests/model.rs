//! Models: PyTorch-convention fixture, training smoke test, resume,
//! steady-state allocation.

mod common;

use std::path::PathBuf;

use advlab::data::{self, npy, DataSpec, Split};
use advlab::nn::optim::{OptimConfig, OptimKind, Optimizer};
use advlab::nn::train::{self, TrainConfig};
use advlab::nn::{Arch, Model};
use common::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn pytorch_mlp_fixture_gives_the_same_logits() {
    let gpu = gpu();
    let dir = fixture("mlp_784_32_16_10");
    let model = Model::load(&gpu, Arch::parse("mlp:784-32-16-10").unwrap(), &dir.join("model.safetensors")).unwrap();
    let (xs, x) = npy::read_npy_f32(&dir.join("x.npy")).unwrap();
    let (ls, want) = npy::read_npy_f32(&dir.join("logits.npy")).unwrap();
    let got = gpu.read(&model.logits(&gpu, &gpu.upload(&x, &xs)));
    assert_eq!(got.len(), ls.iter().product::<usize>());
    let max = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(max <= 1e-4, "max abs logit difference {max} > 1e-4");
}

#[test]
fn wrong_architecture_for_checkpoint_is_an_error() {
    let gpu = gpu();
    let path = fixture("mlp_784_32_16_10").join("model.safetensors");
    let e = Model::load(&gpu, Arch::parse("mlp:784-32-10").unwrap(), &path).err().expect("must fail");
    let msg = format!("{e:#}");
    assert!(msg.contains("fc2.weight") && !msg.contains('\n'), "{msg}");
}

fn small_config(epochs: usize) -> TrainConfig {
    TrainConfig { epochs, batch: 32, optim: OptimConfig::new(OptimKind::Sgd, 0.05), seed: 7, log_every: 10 }
}

#[test]
fn training_learns_the_bundled_subset() {
    let gpu = gpu();
    let train_set = data::load(&DataSpec::Bundled, Split::Train).unwrap().take_first(640);
    let test_set = data::load(&DataSpec::Bundled, Split::Test).unwrap().take_first(500);
    let model = Model::init(&gpu, Arch::parse("mlp:784-64-10").unwrap(), 1);
    let before = train::evaluate(&gpu, &model, &test_set, 250).unwrap().accuracy;
    let cfg = small_config(3);
    let mut opt = Optimizer::new(&gpu, &model, cfg.optim);
    let mut losses = Vec::new();
    let st = train::train_epoch(&gpu, &model, &mut opt, &train_set, &cfg, 0, 0.05, |_, _, _| {}).unwrap();
    losses.push(st.train_loss);
    for e in 1..3 {
        let st = train::train_epoch(&gpu, &model, &mut opt, &train_set, &cfg, e, 0.05, |_, _, _| {}).unwrap();
        losses.push(st.train_loss);
    }
    let after = train::evaluate(&gpu, &model, &test_set, 250).unwrap().accuracy;
    assert!(losses[2] < losses[0], "loss did not fall: {losses:?}");
    assert!(after > 0.75 && after > before + 0.4, "accuracy {before} -> {after}");
}

#[test]
fn training_allocates_nothing_in_steady_state() {
    // A private device so other tests cannot touch its pool.
    let gpu = advlab::Gpu::new(&Default::default()).unwrap();
    let train_set = data::load(&DataSpec::Bundled, Split::Train).unwrap().take_first(320);
    let model = Model::init(&gpu, Arch::parse("mlp:784-16-10").unwrap(), 1);
    let cfg = small_config(2);
    let mut opt = Optimizer::new(&gpu, &model, cfg.optim);
    train::train_epoch(&gpu, &model, &mut opt, &train_set, &cfg, 0, 0.05, |_, _, _| {}).unwrap();
    let created = gpu.pool().created();
    train::train_epoch(&gpu, &model, &mut opt, &train_set, &cfg, 1, 0.05, |_, _, _| {}).unwrap();
    assert_eq!(gpu.pool().created(), created, "the second epoch created new buffers");
}

#[test]
fn resume_replays_bit_for_bit() {
    let gpu = gpu();
    let dir = std::env::temp_dir().join(format!("advlab-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let train_set = data::load(&DataSpec::Bundled, Split::Train).unwrap().take_first(256);
    let arch = || Arch::parse("mlp:784-16-10").unwrap();
    let cfg = small_config(2);
    for kind in [OptimKind::Sgd, OptimKind::Adam] {
        let mut c = cfg.clone();
        c.optim = OptimConfig::new(kind, 0.01);
        // straight through: 2 epochs
        let m1 = Model::init(&gpu, arch(), 3);
        let mut o1 = Optimizer::new(&gpu, &m1, c.optim);
        for e in 0..2 {
            train::train_epoch(&gpu, &m1, &mut o1, &train_set, &c, e, 0.01, |_, _, _| {}).unwrap();
        }
        // 1 epoch, save, load, 1 more
        let m2 = Model::init(&gpu, arch(), 3);
        let mut o2 = Optimizer::new(&gpu, &m2, c.optim);
        train::train_epoch(&gpu, &m2, &mut o2, &train_set, &c, 0, 0.01, |_, _, _| {}).unwrap();
        let path = dir.join("m.safetensors");
        m2.save(&gpu, &path, Default::default()).unwrap();
        train::save_state(&gpu, &m2, &o2, &train::state_path(&path), 1, &c).unwrap();
        let m3 = Model::load(&gpu, arch(), &path).unwrap();
        let mut o3 = Optimizer::new(&gpu, &m3, c.optim);
        assert_eq!(train::load_state(&gpu, &m3, &mut o3, &train::state_path(&path)).unwrap(), 1);
        train::train_epoch(&gpu, &m3, &mut o3, &train_set, &c, 1, 0.01, |_, _, _| {}).unwrap();
        for (a, b) in m1.params.iter().zip(&m3.params) {
            assert_eq!(gpu.read(&a.tensor), gpu.read(&b.tensor), "{kind:?}: {} differs after resume", a.name);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

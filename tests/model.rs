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
    TrainConfig {
        epochs,
        batch: 32,
        optim: OptimConfig::new(OptimKind::Sgd, 0.05),
        seed: 7,
        log_every: 10,
        ..Default::default()
    }
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

// ---- convolutional networks ------------------------------------------------

fn assert_fixture_logits(dir: &str, spec: &str) -> Model {
    let gpu = gpu();
    let dir = fixture(dir);
    let model = Model::load(&gpu, Arch::parse(spec).unwrap(), &dir.join("model.safetensors")).unwrap();
    let (xs, x) = npy::read_npy_f32(&dir.join("x.npy")).unwrap();
    let (ls, want) = npy::read_npy_f32(&dir.join("logits.npy")).unwrap();
    let got = gpu.read(&model.logits(&gpu, &gpu.upload(&x, &xs)));
    assert_eq!(got.len(), ls.iter().product::<usize>());
    let max = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    eprintln!("{spec}: max abs logit difference {max:.2e}");
    assert!(max <= 1e-4, "{spec}: max abs logit difference {max} > 1e-4");
    model
}

#[test]
fn pytorch_lenet_fixture_gives_the_same_logits() {
    assert_fixture_logits("lenet", "lenet");
}

#[test]
fn pytorch_alexnet_cifar_fixture_gives_the_same_logits() {
    assert_fixture_logits("alexnet_cifar", "alexnet-cifar");
}

/// BatchNorm in eval mode with running statistics, and PyTorch's int64
/// `num_batches_tracked` tensors accepted on load; save + load keeps the
/// buffers.
#[test]
fn pytorch_vgg_cifar_fixture_with_batchnorm_buffers() {
    let gpu = gpu();
    let model = assert_fixture_logits("vgg_cifar_32", "vgg-cifar:32");
    assert_eq!(model.buffers.len(), 28);
    assert_eq!(model.buffers[0].name, "bn1.running_mean");
    let path = std::env::temp_dir().join(format!("advlab-vgg-{}.safetensors", std::process::id()));
    model.save(&gpu, &path, Default::default()).unwrap();
    let again = Model::load(&gpu, Arch::parse("vgg-cifar:32").unwrap(), &path).unwrap();
    for (a, b) in model.params.iter().chain(&model.buffers).zip(again.params.iter().chain(&again.buffers)) {
        assert_eq!(a.name, b.name);
        assert_eq!(gpu.read(&a.tensor), gpu.read(&b.tensor), "{}", a.name);
    }
    // a checkpoint without the BatchNorm buffers is an error naming them
    let e =
        Model::load(&gpu, Arch::parse("vgg-cifar:32").unwrap(), &fixture("alexnet_cifar").join("model.safetensors"))
            .err()
            .unwrap();
    assert!(format!("{e:#}").contains("conv1.weight"), "{e:#}");
    std::fs::remove_file(&path).ok();
}

/// A small net with every new layer: Normalize, conv, BatchNorm2d, LRN,
/// pooling, Dropout, BatchNorm1d.
fn tiny_conv_bn_arch() -> Arch {
    use advlab::nn::arch::Layer;
    let layers = vec![
        Layer::Normalize { mean: vec![0.13], std: vec![0.31] },
        Layer::Conv2d { name: "conv1".into(), inp: 1, out: 4, k: 3, stride: 1, pad: 1 },
        Layer::BatchNorm2d { name: "bn1".into(), c: 4 },
        Layer::Relu,
        Layer::MaxPool { k: 2, stride: 2 },
        Layer::Lrn { size: 3, alpha: 1e-3, beta: 0.75, k: 1.0 },
        Layer::Conv2d { name: "conv2".into(), inp: 4, out: 8, k: 3, stride: 2, pad: 0 },
        Layer::Relu,
        Layer::AvgPool { k: 2, stride: 2 },
        Layer::Flatten,
        Layer::Dropout { p: 0.25 },
        Layer::Linear { name: "fc1".into(), inp: 8 * 3 * 3, out: 16 },
        Layer::BatchNorm1d { name: "bn2".into(), c: 16 },
        Layer::Relu,
        Layer::Linear { name: "fc2".into(), inp: 16, out: 10 },
    ];
    Arch { spec: "tiny-conv-bn".into(), input: [1, 28, 28], classes: 10, layers }
}

/// Eval mode is deterministic and ignores dropout; train mode applies it
/// with a seed-determined mask.
#[test]
fn train_and_eval_modes() {
    use advlab::autograd::Graph;
    use advlab::nn::model::Mode;
    let gpu = gpu();
    let model = Model::init(&gpu, tiny_conv_bn_arch(), 5);
    let set = data::load(&DataSpec::Bundled, Split::Test).unwrap().take_first(16);
    let x = gpu.upload(&set.images, &[16, 1, 28, 28]);
    let run = |mode: Mode| {
        let mut g = Graph::new(&gpu);
        let p = model.bind(&mut g, false);
        let xv = g.leaf(x.clone(), false);
        let y = model.forward_mode(&mut g, xv, &p, mode);
        gpu.read(g.value(y))
    };
    let e1 = run(Mode::Eval);
    assert_eq!(e1, gpu.read(&model.logits(&gpu, &x)));
    let rm0 = gpu.read(&model.buffers[0].tensor);
    let t1 = run(Mode::Train { seed: 1 });
    let rm1 = gpu.read(&model.buffers[0].tensor);
    assert_ne!(rm0, rm1, "train mode must update running stats");
    let t2 = run(Mode::Train { seed: 2 });
    assert_ne!(t1, t2, "different dropout seeds, same output");
    assert_ne!(e1, t1);
    assert!(t1.iter().chain(&e1).all(|v| v.is_finite()));
}

/// LeNet on 640 bundled MNIST images: 2 epochs of Adam (80 steps) reach
/// > 70% on 500 test images (82% on lavapipe; one epoch gives 65-75%).
#[test]
fn lenet_learns_the_bundled_subset() {
    let gpu = gpu();
    let train_set = data::load(&DataSpec::Bundled, Split::Train).unwrap().take_first(640);
    let test_set = data::load(&DataSpec::Bundled, Split::Test).unwrap().take_first(500);
    let model = Model::init(&gpu, Arch::parse("lenet").unwrap(), 1);
    let mut cfg = small_config(2);
    cfg.batch = 16;
    cfg.optim = OptimConfig::new(OptimKind::Adam, 3e-3);
    let mut opt = Optimizer::new(&gpu, &model, cfg.optim);
    let mut secs = Vec::new();
    for e in 0..2 {
        let st = train::train_epoch(&gpu, &model, &mut opt, &train_set, &cfg, e, 3e-3, |_, _, _| {}).unwrap();
        secs.push(st.seconds);
    }
    let acc = train::evaluate(&gpu, &model, &test_set, 250).unwrap().accuracy;
    eprintln!("lenet: epochs of 640 images in {secs:.2?} s, test accuracy {acc:.3}");
    assert!(acc > 0.7, "lenet test accuracy {acc} after 2 epochs");
}

fn shared_cifar() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cifar-10-batches-bin");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

/// alexnet-cifar and vgg-cifar:8 take training steps on real CIFAR images:
/// finite loss, parameters (and BatchNorm running stats) move.
#[test]
fn cifar_convnets_take_a_training_step() {
    let Some(dir) = shared_cifar() else { return };
    let gpu = gpu();
    let set = data::load(&DataSpec::Cifar10(dir), Split::Test).unwrap().take_first(32);
    for spec in ["alexnet-cifar", "vgg-cifar:8"] {
        let model = Model::init(&gpu, Arch::parse(spec).unwrap(), 0);
        let mut cfg = small_config(1);
        cfg.batch = 16;
        let mut opt = Optimizer::new(&gpu, &model, cfg.optim);
        let before: Vec<Vec<f32>> = model.params.iter().chain(&model.buffers).map(|p| gpu.read(&p.tensor)).collect();
        let t = std::time::Instant::now();
        cfg.augment = train::Augment::CropFlip;
        let st = train::train_epoch(&gpu, &model, &mut opt, &set, &cfg, 0, 0.01, |_, _, _| {}).unwrap();
        eprintln!(
            "{spec}: 2 steps of 16 CIFAR images in {:.2} s, loss {:.3}",
            t.elapsed().as_secs_f64(),
            st.train_loss
        );
        assert!(
            st.train_loss.is_finite() && st.train_loss > 0.5 && st.train_loss < 10.0,
            "{spec}: loss {}",
            st.train_loss
        );
        for (p, b) in model.params.iter().chain(&model.buffers).zip(&before) {
            assert_ne!(&gpu.read(&p.tensor), b, "{spec}: {} did not change", p.name);
        }
        let ev = train::evaluate(&gpu, &model, &set, 16).unwrap();
        assert!(ev.mean_loss.is_finite(), "{spec}: eval loss {}", ev.mean_loss);
    }
}

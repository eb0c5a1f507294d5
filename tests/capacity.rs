//! A batch larger than the adapter's storage binding limit runs as several
//! device batches instead of panicking in `Gpu::alloc`.

mod common;

use advlab::nn::capacity::{self, Pass};
use advlab::nn::{eval, Arch, Model};
use common::*;

#[test]
fn a_batch_beyond_the_binding_limit_runs_as_device_batches() {
    let gpu = gpu();
    let arch = Arch::parse("alexnet-cifar").unwrap();
    let max = capacity::max_batch(&arch, &gpu, Pass::Forward);
    // 1024 on lavapipe (128 MiB bindings, conv1's output 32·32·32 floats per image)
    if max > 2048 {
        eprintln!("skipped: this adapter runs {max} alexnet-cifar images at once; the test would take too long");
        return;
    }
    let b = capacity::device_batch(&arch, &gpu, 100_000, Pass::Forward).unwrap();
    assert_eq!((b.size, b.requested, b.is_split()), (max, 100_000, true));
    assert!(b.note().unwrap().contains("--batch 100000"));
    // max + 3 images: one full device batch and one of 3. Before device
    // batches, one batch of all of them panicked in Gpu::alloc.
    let n = max + 3;
    let per = arch.input_len();
    let x: Vec<f32> = (0..n * per).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let model = Model::init(&gpu, arch, 1);
    let got = eval::predict_logits(&gpu, &model, &x, b).unwrap();
    assert_eq!(got.len(), n * 10);
    let three = capacity::DeviceBatch { size: 3, requested: 3 };
    let head = eval::predict_logits(&gpu, &model, &x[..3 * per], three).unwrap();
    let tail = eval::predict_logits(&gpu, &model, &x[(n - 3) * per..], three).unwrap();
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + y.abs()));
    assert!(close(&got[..30], &head), "{:?} vs {head:?}", &got[..30]);
    assert!(close(&got[(n - 3) * 10..], &tail), "{:?} vs {tail:?}", &got[(n - 3) * 10..]);
}

#[test]
fn max_batch_bounds_every_architecture() {
    let gpu = gpu();
    for spec in ["mlp:784-500-10", "lenet", "lenet:3x32x32", "alexnet-cifar", "vgg-cifar:8"] {
        let arch = Arch::parse(spec).unwrap();
        let fwd = capacity::max_batch(&arch, &gpu, Pass::Forward);
        let bwd = capacity::max_batch(&arch, &gpu, Pass::Backward);
        assert!(bwd >= 1 && bwd <= fwd, "{spec}: forward {fwd}, backward {bwd}");
        let model = Model::init(&gpu, arch, 0);
        assert_eq!(model.max_batch(&gpu), bwd);
    }
}

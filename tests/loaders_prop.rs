//! Property tests of every file loader (IDX raw and gzip, CIFAR-10 batches,
//! .npy, safetensors) on random bytes and on valid files with mutated or
//! truncated bytes: a loader never panics; it returns data or a one-line
//! error that names the file. A few thousand cases per loader here; the
//! `#[ignore]`d `*_1e5` tests run 10⁵ each
//! (`cargo test --release --test loaders_prop -- --ignored`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use advlab::data::{cifar, idx, npy};
use advlab::nn::checkpoint::{self, Checkpoint};
use anyhow::Result;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const CASES: u32 = 2000;
const CASES_IGNORED: u32 = 100_000;

fn file(tag: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-prop-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Random bytes, or `valid` with a few bytes overwritten (anywhere, or in
/// the header where a mutation changes what the rest is read as) and
/// possibly truncated.
fn bytes(valid: Vec<u8>) -> BoxedStrategy<Vec<u8>> {
    let n = valid.len();
    let head = n.min(160);
    let mutated = (
        prop::collection::vec((0..n, any::<u8>()), 0..6),
        prop::collection::vec((0..head, any::<u8>()), 0..4),
        prop::option::weighted(0.3, 0..=n),
    )
        .prop_map(move |(any_pos, head_pos, cut)| {
            let mut b = valid.clone();
            for (i, v) in any_pos.into_iter().chain(head_pos) {
                b[i] = v;
            }
            if let Some(c) = cut {
                b.truncate(c);
            }
            b
        });
    prop_oneof![1 => prop::collection::vec(any::<u8>(), 0..300), 3 => mutated].boxed()
}

/// Runs `load` on `cases` byte strings written to `path`: Ok, or an error
/// of one line that names the file.
fn check<T>(cases: u32, valid: Vec<u8>, path: &Path, load: impl Fn(&Path, &[u8]) -> Result<T>) {
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&bytes(valid), |b| {
            std::fs::write(path, &b).unwrap();
            if let Err(e) = load(path, &b) {
                let msg = format!("{e:#}");
                if msg.contains('\n') || !msg.contains(&name) {
                    return Err(TestCaseError::fail(format!("error is not one line naming {name}: {msg}")));
                }
            }
            Ok(())
        })
        .unwrap();
}

fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        b.extend(d.to_be_bytes());
    }
    b.extend((0..n * rows * cols).map(|i| (i * 37 % 256) as u8));
    b
}

fn idx_labels(n: u32) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 1];
    b.extend(n.to_be_bytes());
    b.extend((0..n).map(|i| (i % 10) as u8));
    b
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn idx_all(cases: u32) {
    let p = file("idx", "train-images-idx3-ubyte");
    check(cases, idx_images(3, 4, 5), &p, |p, _| idx::read_idx_images(p));
    let p = file("idx", "train-labels-idx1-ubyte");
    check(cases, idx_labels(7), &p, |p, _| idx::read_idx_labels(p));
    let p = file("idx", "t10k-images-idx3-ubyte.gz");
    check(cases / 4, gz(&idx_images(2, 3, 3)), &p, |p, _| idx::read_idx_images(p));
}

fn cifar_all(cases: u32) {
    let mut valid = Vec::new();
    for r in 0..2u8 {
        valid.push(r * 3);
        valid.extend((0..3072).map(|i| (i % 251) as u8));
    }
    let p = file("cifar", "data_batch_1.bin");
    check(cases, valid, &p, |p, b| {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        cifar::decode_batch(p, b, &mut x, &mut y)
    });
}

fn npy_all(cases: u32) {
    let p = file("npy", "x.npy");
    npy::write_npy_f32(&p, &[2, 1, 3, 3], &[0.5; 18]).unwrap();
    check(cases, std::fs::read(&p).unwrap(), &p, |p, _| npy::read_npy_f32(p));
    let p = file("npy", "y.npy");
    npy::write_npy_i64(&p, &[5], &[0, 1, 2, 3, 9]).unwrap();
    check(cases, std::fs::read(&p).unwrap(), &p, |p, _| npy::read_npy_labels(p));
}

fn safetensors_all(cases: u32) {
    let p = file("st", "model.safetensors");
    let (w, b) = (vec![0.25f32; 12], vec![-1.0f32; 3]);
    let mut meta = BTreeMap::new();
    meta.insert("epochs_done".to_string(), "1".to_string());
    checkpoint::save(&p, &[("fc1.weight".into(), vec![3, 4], &w), ("fc1.bias".into(), vec![3], &b)], &meta).unwrap();
    check(cases, std::fs::read(&p).unwrap(), &p, |p, _| {
        let c = Checkpoint::load(p)?;
        c.get("fc1.weight", &[3, 4])
    });
}

#[test]
fn idx_never_panics() {
    idx_all(CASES);
}

#[test]
fn cifar_never_panics() {
    cifar_all(CASES);
}

#[test]
fn npy_never_panics() {
    npy_all(CASES);
}

#[test]
fn safetensors_never_panics() {
    safetensors_all(CASES);
}

#[test]
#[ignore]
fn idx_never_panics_1e5() {
    idx_all(CASES_IGNORED);
}

#[test]
#[ignore]
fn cifar_never_panics_1e5() {
    cifar_all(CASES_IGNORED);
}

#[test]
#[ignore]
fn npy_never_panics_1e5() {
    npy_all(CASES_IGNORED);
}

#[test]
#[ignore]
fn safetensors_never_panics_1e5() {
    safetensors_all(CASES_IGNORED);
}

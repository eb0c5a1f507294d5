//! Property tests of every loader (IDX raw and gzip, CIFAR-10 binary,
//! .npy images / labels / indices, safetensors checkpoints) on random bytes
//! and on mutated valid files (flipped and overwritten bytes, header fields
//! set to extreme values, truncation, extension, insertion): never a panic,
//! only an error of one line that names the file.
//!
//! `cargo test --test loader_props` runs `CASES` per loader; the `#[ignore]`d
//! `*_long` tests run `LONG_CASES` (`cargo test --release --test loader_props -- --ignored`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use advlab::data::{self, cifar, idx, npy};
use advlab::nn::checkpoint::{self, Checkpoint};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const CASES: u32 = 1000;
const LONG_CASES: u32 = 100_000;

/// A per-test directory (removed at the end of a passing run).
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("advlab-props-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    /// XOR a byte anywhere.
    Flip(Index, u8),
    /// Overwrite a byte in the first 160 (the headers) with a likely character.
    HeadSet(Index, u8),
    /// Overwrite 4 bytes in the first 32 with an extreme value (big- and little-endian).
    Field(Index, u32, bool),
    /// Overwrite 8 bytes at the start with a little-endian u64 (safetensors header length).
    Len64(u64),
    Truncate(Index),
    Extend(Vec<u8>),
    Insert(Index, Vec<u8>),
}

fn extreme_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(2),
        Just(255),
        Just(0x7fff_ffff),
        Just(0xffff_ffff),
        Just(0x0001_0000),
        Just(2049),
        Just(2051),
        any::<u32>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let chars = prop::sample::select(b"0123456789(),' :{}[]LTFfiu<>|\"\n\x00\xff".to_vec());
    prop_oneof![
        3 => (any::<Index>(), 1u8..).prop_map(|(i, b)| Mutation::Flip(i, b)),
        3 => (any::<Index>(), chars).prop_map(|(i, b)| Mutation::HeadSet(i, b)),
        2 => (any::<Index>(), extreme_u32(), any::<bool>()).prop_map(|(i, v, be)| Mutation::Field(i, v, be)),
        1 => prop_oneof![Just(0u64), Just(8), Just(u64::MAX), Just(1 << 40), any::<u64>(), 0u64..400]
            .prop_map(Mutation::Len64),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Extend),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

fn apply(base: &[u8], ms: &[Mutation]) -> Vec<u8> {
    let mut b = base.to_vec();
    for m in ms {
        let len = b.len();
        match m {
            Mutation::Flip(i, x) if len > 0 => b[i.index(len)] ^= x,
            Mutation::HeadSet(i, x) if len > 0 => b[i.index(len.min(160))] = *x,
            Mutation::Field(i, v, be) if len >= 4 => {
                let at = i.index(len.min(32) - 3);
                let bytes = if *be { v.to_be_bytes() } else { v.to_le_bytes() };
                b[at..at + 4].copy_from_slice(&bytes);
            }
            Mutation::Len64(v) if len >= 8 => b[..8].copy_from_slice(&v.to_le_bytes()),
            Mutation::Truncate(i) => b.truncate(i.index(len + 1)),
            Mutation::Extend(v) => b.extend_from_slice(v),
            Mutation::Insert(i, v) => {
                let at = i.index(len + 1);
                b.splice(at..at, v.iter().copied());
            }
            _ => {}
        }
    }
    b
}

/// Random bytes, or a mutation of one of `bases`.
fn inputs(bases: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let mutated =
        (prop::sample::select(bases), prop::collection::vec(mutation(), 1..5)).prop_map(|(base, ms)| apply(&base, &ms));
    prop_oneof![1 => prop::collection::vec(any::<u8>(), 0..300), 6 => mutated]
}

/// An `Err` must be one line naming `file`.
fn check_err<T>(r: anyhow::Result<T>, file: &Path) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        let s = format!("{e:#}");
        let name = file.file_name().unwrap().to_str().unwrap();
        prop_assert!(s.contains(name), "error does not name {name}: {s}");
        prop_assert!(!s.contains('\n') && !s.contains('\r'), "error is not one line: {s:?}");
    }
    Ok(())
}

fn run(cases: u32, bases: Vec<Vec<u8>>, f: impl Fn(&[u8]) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner.run(&inputs(bases), |b| f(&b)).unwrap();
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_bases() -> Vec<Vec<u8>> {
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3];
    images.extend((0..18u8).map(|i| i * 14));
    let labels = vec![0, 0, 8, 1, 0, 0, 0, 2, 7, 3];
    vec![gz(&images), gz(&labels), images, labels]
}

fn idx_props(cases: u32) {
    let d = Dir::new("idx");
    let (raw, gzp) = (d.join("train-images-idx3-ubyte"), d.join("t10k-labels-idx1-ubyte.gz"));
    run(cases, idx_bases(), |b| {
        for p in [&raw, &gzp] {
            std::fs::write(p, b).unwrap();
            check_err(idx::read_idx_images(p), p)?;
            check_err(idx::read_idx_labels(p), p)?;
        }
        Ok(())
    });
}

fn cifar_bases() -> Vec<Vec<u8>> {
    let rec = |l: u8| std::iter::once(l).chain((0..3072).map(|i| (i % 251) as u8)).collect::<Vec<u8>>();
    vec![rec(3), [rec(9), rec(0)].concat()]
}

fn cifar_props(cases: u32) {
    let d = Dir::new("cifar");
    let p = d.join("test_batch.bin");
    run(cases, cifar_bases(), |b| {
        let (mut imgs, mut labels) = (Vec::new(), Vec::new());
        check_err(cifar::decode_batch(&p, b, &mut imgs, &mut labels), &p)?;
        // through the directory loader too (the file itself on disk)
        std::fs::write(&p, b).unwrap();
        check_err(cifar::load_cifar10(&d.0, data::Split::Test), &p)
    });
}

fn npy_bases(d: &Dir) -> Vec<Vec<u8>> {
    let (x, y) = (d.join("base_x.npy"), d.join("base_y.npy"));
    npy::write_npy_f32(&x, &[2, 1, 2, 2], &[0.0, 0.25, 0.5, 1.0, 0.1, 0.2, 0.3, 0.4]).unwrap();
    npy::write_npy_i64(&y, &[2], &[1, 0]).unwrap();
    let bases = vec![std::fs::read(&x).unwrap(), std::fs::read(&y).unwrap()];
    std::fs::remove_file(x).unwrap();
    std::fs::remove_file(y).unwrap();
    bases
}

fn npy_props(cases: u32) {
    let d = Dir::new("npy");
    let bases = npy_bases(&d);
    let (gx, gy) = (d.join("good_x.npy"), d.join("good_y.npy"));
    std::fs::write(&gx, &bases[0]).unwrap();
    std::fs::write(&gy, &bases[1]).unwrap();
    let (x, y) = (d.join("fuzz_x.npy"), d.join("fuzz_y.npy"));
    run(cases, bases, |b| {
        std::fs::write(&x, b).unwrap();
        std::fs::write(&y, b).unwrap();
        check_err(npy::read_npy_f32(&x), &x)?;
        check_err(npy::read_npy_labels(&y), &y)?;
        check_err(data::read_indices(&y, 2), &y)?;
        check_err(npy::load_npy_dataset(&x, &gy), &x)?;
        check_err(npy::load_npy_dataset(&gx, &y), &y)
    });
}

fn safetensors_base(d: &Dir) -> Vec<u8> {
    let p = d.join("base.safetensors");
    let meta = BTreeMap::from([("arch".to_string(), "mlp:4-2".to_string())]);
    let (w, b) = ([0.5f32, -1.0, 2.0, 0.0, 1.5, 3.0, -0.25, 1.0], [0.1f32, 0.2]);
    checkpoint::save(&p, &[("fc1.weight".into(), vec![2, 4], &w[..]), ("fc1.bias".into(), vec![2], &b[..])], &meta)
        .unwrap();
    let bytes = std::fs::read(&p).unwrap();
    std::fs::remove_file(p).unwrap();
    bytes
}

fn safetensors_props(cases: u32) {
    let d = Dir::new("st");
    let base = safetensors_base(&d);
    let p = d.join("fuzz.safetensors");
    run(cases, vec![base], |b| {
        std::fs::write(&p, b).unwrap();
        let ck = Checkpoint::load(&p);
        if let Ok(ck) = &ck {
            let names: Vec<String> = ck.names().iter().map(|s| s.to_string()).collect();
            for n in names {
                check_err(ck.get_any(&n), &p)?;
                check_err(ck.get(&n, &[2, 4]), &p)?;
            }
        }
        check_err(ck, &p)
    });
}

#[test]
fn idx_never_panics() {
    idx_props(CASES);
}

#[test]
fn cifar_never_panics() {
    cifar_props(CASES);
}

#[test]
fn npy_never_panics() {
    npy_props(CASES);
}

#[test]
fn safetensors_never_panics() {
    safetensors_props(CASES);
}

#[test]
#[ignore = "long: 100,000 cases per loader"]
fn idx_never_panics_long() {
    idx_props(LONG_CASES);
}

#[test]
#[ignore = "long: 100,000 cases per loader"]
fn cifar_never_panics_long() {
    cifar_props(LONG_CASES);
}

#[test]
#[ignore = "long: 100,000 cases per loader"]
fn npy_never_panics_long() {
    npy_props(LONG_CASES);
}

#[test]
#[ignore = "long: 100,000 cases per loader"]
fn safetensors_never_panics_long() {
    safetensors_props(LONG_CASES);
}

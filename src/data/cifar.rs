//! CIFAR-10 in the "binary version" layout: `data_batch_1.bin` ..
//! `data_batch_5.bin` (train) and `test_batch.bin` (test). Each record is
//! 3073 bytes: one label byte, then 3072 pixel bytes (R, G, B planes, each
//! 32×32 row-major), which is exactly the C×H×W layout.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

use super::{Dataset, Split, NUM_CLASSES};

pub const CIFAR_C: usize = 3;
pub const CIFAR_H: usize = 32;
pub const CIFAR_W: usize = 32;
pub const CIFAR_PIXELS: usize = CIFAR_C * CIFAR_H * CIFAR_W;
/// Bytes per record: 1 label + 3072 pixels.
pub const CIFAR_RECORD: usize = 1 + CIFAR_PIXELS;

/// The batch file names of a split.
pub fn batch_names(split: Split) -> Vec<String> {
    match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".to_string()],
    }
}

/// Resolve the directory holding the batches: `dir` itself, or
/// `dir/cifar-10-batches-bin` (the folder the official tarball unpacks to).
fn resolve_dir(dir: &Path) -> Result<PathBuf> {
    if !dir.is_dir() {
        bail!("{}: not a directory (expected a directory of CIFAR-10 binary batches)", dir.display());
    }
    if dir.join("test_batch.bin").is_file() || dir.join("data_batch_1.bin").is_file() {
        return Ok(dir.to_path_buf());
    }
    let nested = dir.join("cifar-10-batches-bin");
    if nested.is_dir() {
        return Ok(nested);
    }
    Ok(dir.to_path_buf())
}

/// Decode one batch file's bytes, appending pixels (as [0,1] f32) and labels.
pub fn decode_batch(path: &Path, bytes: &[u8], images: &mut Vec<f32>, labels: &mut Vec<u32>) -> Result<()> {
    if bytes.is_empty() {
        bail!("{}: empty CIFAR-10 batch file (expected records of {CIFAR_RECORD} bytes)", path.display());
    }
    if !bytes.len().is_multiple_of(CIFAR_RECORD) {
        bail!(
            "{}: not a CIFAR-10 binary batch: size {} bytes is not a multiple of the {CIFAR_RECORD}-byte record ({} whole records + {} bytes)",
            path.display(),
            bytes.len(),
            bytes.len() / CIFAR_RECORD,
            bytes.len() % CIFAR_RECORD
        );
    }
    let n = bytes.len() / CIFAR_RECORD;
    images.reserve(n * CIFAR_PIXELS);
    labels.reserve(n);
    for (i, rec) in bytes.chunks_exact(CIFAR_RECORD).enumerate() {
        let l = rec[0];
        if l as usize >= NUM_CLASSES {
            bail!(
                "{}: label {} in record {} is out of range (expected 0..={}); is this a CIFAR-10 (not CIFAR-100) batch?",
                path.display(),
                l,
                i,
                NUM_CLASSES - 1
            );
        }
        labels.push(l as u32);
        images.extend(rec[1..].iter().map(|&p| p as f32 / 255.0));
    }
    Ok(())
}

/// Load one split of CIFAR-10 from a directory of binary batches.
pub fn load_cifar10(dir: &Path, split: Split) -> Result<Dataset> {
    let dir = resolve_dir(dir)?;
    let names = batch_names(split);
    let mut paths = Vec::new();
    for n in &names {
        let p = dir.join(n);
        if !p.is_file() {
            bail!("{}: missing CIFAR-10 batch file (the {split} split needs {})", p.display(), names.join(", "));
        }
        paths.push(p);
    }
    let total: u64 = paths.iter().filter_map(|p| fs::metadata(p).ok()).map(|m| m.len()).sum();
    let recs = (total / CIFAR_RECORD as u64) as usize;
    let mut images = Vec::with_capacity(recs.saturating_mul(CIFAR_PIXELS));
    let mut labels = Vec::with_capacity(recs);
    for p in &paths {
        let bytes = fs::read(p).map_err(|e| anyhow!("{}: cannot read: {e}", p.display()))?;
        decode_batch(p, &bytes, &mut images, &mut labels)?;
    }
    Dataset::new(images, labels, CIFAR_C, CIFAR_H, CIFAR_W)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::{msg, TempDir};

    fn record(label: u8, seed: usize) -> Vec<u8> {
        let mut r = vec![label];
        r.extend((0..CIFAR_PIXELS).map(|i| ((i * 7 + seed * 13) % 256) as u8));
        r
    }

    fn write_batch(p: &Path, labels: &[u8]) {
        let mut b = Vec::new();
        for (i, &l) in labels.iter().enumerate() {
            b.extend(record(l, i));
        }
        fs::write(p, b).unwrap();
    }

    #[test]
    fn train_and_test_round_trip() {
        let d = TempDir::new("cifar");
        for i in 1..=5 {
            write_batch(&d.join(&format!("data_batch_{i}.bin")), &[i as u8, 9, 0]);
        }
        write_batch(&d.join("test_batch.bin"), &[3, 4]);
        let tr = load_cifar10(d.path(), Split::Train).unwrap();
        assert_eq!((tr.n, tr.c, tr.h, tr.w), (15, 3, 32, 32));
        assert_eq!(&tr.labels[..6], &[1, 9, 0, 2, 9, 0]);
        let te = load_cifar10(d.path(), Split::Test).unwrap();
        assert_eq!(te.n, 2);
        assert_eq!(te.labels, vec![3, 4]);
        let r1 = record(4, 1);
        // R plane first, row-major: pixel (c=0,y=0,x=1) is byte 2 of the record
        assert_eq!(te.image(1)[1], r1[2] as f32 / 255.0);
        // G plane starts at 1024
        assert_eq!(te.image(1)[1024], r1[1025] as f32 / 255.0);
    }

    #[test]
    fn nested_dir_is_found() {
        let d = TempDir::new("cifar");
        let inner = d.join("cifar-10-batches-bin");
        fs::create_dir_all(&inner).unwrap();
        write_batch(&inner.join("test_batch.bin"), &[1]);
        assert_eq!(load_cifar10(d.path(), Split::Test).unwrap().n, 1);
    }

    #[test]
    fn bad_size_label_and_missing() {
        let d = TempDir::new("cifar");
        let p = d.join("test_batch.bin");
        let mut b = record(1, 0);
        b.extend([1, 2, 3]);
        fs::write(&p, &b).unwrap();
        let s = msg(load_cifar10(d.path(), Split::Test));
        assert!(s.contains("test_batch.bin: not a CIFAR-10 binary batch: size 3076 bytes"), "{s}");
        write_batch(&p, &[1, 42]);
        let s = msg(load_cifar10(d.path(), Split::Test));
        assert!(s.contains("test_batch.bin: label 42 in record 1 is out of range"), "{s}");
        fs::write(&p, b"").unwrap();
        let s = msg(load_cifar10(d.path(), Split::Test));
        assert!(s.contains("empty CIFAR-10 batch"), "{s}");
        let s = msg(load_cifar10(d.path(), Split::Train));
        assert!(s.contains("data_batch_1.bin: missing CIFAR-10 batch file"), "{s}");
        let s = msg(load_cifar10(&d.join("nope"), Split::Train));
        assert!(s.contains("nope: not a directory"), "{s}");
    }

    #[test]
    fn shared_cifar_test_batch_if_present() {
        // Uses the prepared data set in the workspace when it exists; skipped otherwise.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cifar-10-batches-bin");
        if !dir.join("test_batch.bin").is_file() {
            return;
        }
        let te = load_cifar10(&dir, Split::Test).unwrap();
        assert_eq!(te.n, 10_000);
        assert_eq!(te.class_counts(), [1000; 10]);
    }
}

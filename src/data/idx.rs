//! MNIST IDX files (LeCun's format), raw or gzip-compressed.
//!
//! Gzip is detected by its magic bytes (1f 8b), not by the file name.
//! Headers, magic numbers and exact byte lengths are validated; no input
//! makes these readers panic or allocate more than the header promises.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use flate2::read::MultiGzDecoder;

use super::{check_labels, Dataset, Split};

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Raw images from an IDX file: `n` images of `rows`×`cols` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub n: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Open a file, transparently decompressing it if it starts with the gzip magic.
fn open_maybe_gz(path: &Path) -> Result<(Box<dyn Read>, bool)> {
    let mut f = File::open(path).map_err(|e| anyhow!("{}: cannot open: {e}", path.display()))?;
    let mut magic = [0u8; 2];
    let got = read_fully(&mut f, &mut magic).map_err(|e| anyhow!("{}: read failed: {e}", path.display()))?;
    let head = io::Cursor::new(magic[..got].to_vec());
    let chained = head.chain(f);
    if got == 2 && magic == [0x1f, 0x8b] {
        Ok((Box::new(MultiGzDecoder::new(BufReader::new(chained))), true))
    } else {
        Ok((Box::new(BufReader::new(chained)), false))
    }
}

/// Read until `buf` is full or EOF; returns bytes read. Errors other than
/// `Interrupted` are returned.
fn read_fully(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut off = 0;
    while off < buf.len() {
        match r.read(&mut buf[off..]) {
            Ok(0) => break,
            Ok(k) => off += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(off)
}

/// Outcome of reading a payload of known size.
enum Payload {
    Exact(Vec<u8>),
    Short(Vec<u8>, Option<io::Error>),
    Long,
}

/// Read exactly `expected` bytes and check that nothing follows.
/// A gzip stream that ends early reports as `Short` with the decoder's error.
fn read_payload(r: &mut dyn Read, expected: u64) -> io::Result<Payload> {
    let mut data = Vec::new();
    let mut limited = r.take(expected);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match limited.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => data.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Payload::Short(data, Some(e))),
            Err(e) => return Err(e),
        }
    }
    if (data.len() as u64) < expected {
        return Ok(Payload::Short(data, None));
    }
    let r = limited.into_inner();
    let mut one = [0u8; 1];
    match read_fully(r, &mut one) {
        Ok(0) => Ok(Payload::Exact(data)),
        Ok(_) => Ok(Payload::Long),
        // trailing garbage after a complete payload inside a gzip stream
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Payload::Exact(data)),
        Err(e) => Err(e),
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn file_label(path: &Path) -> String {
    path.display().to_string()
}

/// Read the header (magic + dims) and the payload of an IDX file.
fn read_idx(path: &Path, magic: u32, kind: &str, ndims: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    let name = file_label(path);
    let (mut r, gz) = open_maybe_gz(path)?;
    let io_err = |e: io::Error| {
        if gz {
            anyhow!("{name}: corrupt gzip data: {e}")
        } else {
            anyhow!("{name}: read failed: {e}")
        }
    };
    let hlen = 4 + 4 * ndims;
    let mut header = vec![0u8; hlen];
    let got = match read_fully(&mut r, &mut header) {
        Ok(k) => k,
        Err(e) if gz && e.kind() == io::ErrorKind::UnexpectedEof => {
            bail!("{name}: truncated gzip stream inside the IDX header")
        }
        Err(e) => return Err(io_err(e)),
    };
    if got >= 4 {
        let m = be_u32(&header[0..4]);
        if m != magic {
            bail!("{name}: not an IDX {kind} file (magic 0x{magic:08x} expected, found 0x{m:08x})");
        }
    }
    if got < hlen {
        bail!("{name}: truncated IDX header: expected {hlen} bytes, found {got}");
    }
    let dims: Vec<usize> = (0..ndims).map(|i| be_u32(&header[4 + 4 * i..8 + 4 * i]) as usize).collect();
    let expected = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    let dims_str = dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×");
    let Some(expected) = expected.filter(|&e| usize::try_from(e).is_ok()) else {
        bail!("{name}: IDX header dimensions {dims_str} are too large");
    };
    let what = if ndims == 1 { "bytes of labels" } else { "bytes of pixels" };
    let shown = if ndims == 1 { format!("{expected}") } else { format!("{dims_str} = {expected}") };
    match read_payload(&mut r, expected).map_err(io_err)? {
        Payload::Exact(data) => Ok((dims, data)),
        Payload::Short(data, gz_err) => {
            let tail = if gz_err.is_some() { " (gzip stream ends early)" } else { "" };
            bail!("{name}: truncated IDX file: header says {shown} {what}, found {}{tail}", data.len())
        }
        Payload::Long => {
            bail!("{name}: IDX file is longer than its header says: header says {shown} {what}, found more (trailing data)")
        }
    }
}

/// Read an IDX image file (magic 2051, dims N×rows×cols, unsigned bytes).
pub fn read_idx_images(path: &Path) -> Result<IdxImages> {
    let (dims, pixels) = read_idx(path, IDX_IMAGES_MAGIC, "image", 3)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if n == 0 {
        bail!("{}: IDX image file holds no images", path.display());
    }
    if rows == 0 || cols == 0 {
        bail!("{}: IDX image file has empty images ({rows}×{cols})", path.display());
    }
    Ok(IdxImages { n, rows, cols, pixels })
}

/// Read an IDX label file (magic 2049, dims N, unsigned bytes); every label must be 0..=9.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    let (_dims, labels) = read_idx(path, IDX_LABELS_MAGIC, "label", 1)?;
    check_labels(path, &labels)?;
    Ok(labels)
}

/// The four canonical MNIST file stems.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Candidate file names for a canonical stem, in search order:
/// `train-images-idx3-ubyte`, `train-images-idx3-ubyte.gz`,
/// `train-images.idx3-ubyte`, `train-images.idx3-ubyte.gz`.
pub fn candidate_names(stem: &str) -> Vec<String> {
    let dotted = match stem.rfind("-idx") {
        Some(i) => format!("{}.{}", &stem[..i], &stem[i + 1..]),
        None => stem.to_string(),
    };
    vec![stem.to_string(), format!("{stem}.gz"), dotted.clone(), format!("{dotted}.gz")]
}

/// Find the file for `stem` in `dir` under any of its accepted names.
pub fn find_mnist_file(dir: &Path, stem: &str) -> Result<PathBuf> {
    if !dir.is_dir() {
        bail!("{}: not a directory (expected a directory of MNIST IDX files)", dir.display());
    }
    let names = candidate_names(stem);
    for n in &names {
        let p = dir.join(n);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!("{}: no MNIST file {} (looked for {})", dir.display(), stem, names.join(", "))
}

/// Load one split of MNIST from a directory of IDX files.
pub fn load_mnist(dir: &Path, split: Split) -> Result<Dataset> {
    let (is, ls) = match split {
        Split::Train => (TRAIN_IMAGES, TRAIN_LABELS),
        Split::Test => (TEST_IMAGES, TEST_LABELS),
    };
    let ip = find_mnist_file(dir, is)?;
    let lp = find_mnist_file(dir, ls)?;
    let imgs = read_idx_images(&ip)?;
    let labels = read_idx_labels(&lp)?;
    if imgs.n != labels.len() {
        bail!(
            "{}: image/label count mismatch: {} holds {} images, {} holds {} labels",
            dir.display(),
            ip.display(),
            imgs.n,
            lp.display(),
            labels.len()
        );
    }
    let images: Vec<f32> = imgs.pixels.iter().map(|&p| p as f32 / 255.0).collect();
    let labels: Vec<u32> = labels.into_iter().map(u32::from).collect();
    Dataset::new(images, labels, 1, imgs.rows, imgs.cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::{msg, TempDir};
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn idx_images_bytes(n: u32, r: u32, c: u32, pixels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(IDX_IMAGES_MAGIC.to_be_bytes());
        v.extend(n.to_be_bytes());
        v.extend(r.to_be_bytes());
        v.extend(c.to_be_bytes());
        v.extend_from_slice(pixels);
        v
    }

    fn idx_labels_bytes(labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(IDX_LABELS_MAGIC.to_be_bytes());
        v.extend((labels.len() as u32).to_be_bytes());
        v.extend_from_slice(labels);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn write(p: &Path, b: &[u8]) {
        std::fs::write(p, b).unwrap();
    }

    fn sample(n: usize) -> (Vec<u8>, Vec<u8>) {
        let pixels: Vec<u8> = (0..n * 4 * 3).map(|i| (i * 37 % 256) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        (pixels, labels)
    }

    #[test]
    fn raw_and_gz_read_identically() {
        let d = TempDir::new("idx");
        let (px, lb) = sample(3);
        let img = idx_images_bytes(3, 4, 3, &px);
        write(&d.join("raw.idx"), &img);
        write(&d.join("comp.idx"), &gz(&img)); // no .gz extension: detected by magic
        write(&d.join("comp2.gz"), &gz(&img));
        let a = read_idx_images(&d.join("raw.idx")).unwrap();
        let b = read_idx_images(&d.join("comp.idx")).unwrap();
        let c = read_idx_images(&d.join("comp2.gz")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!((a.n, a.rows, a.cols), (3, 4, 3));
        assert_eq!(a.pixels, px);
        write(&d.join("l.raw"), &idx_labels_bytes(&lb));
        write(&d.join("l.gz"), &gz(&idx_labels_bytes(&lb)));
        assert_eq!(read_idx_labels(&d.join("l.raw")).unwrap(), lb);
        assert_eq!(read_idx_labels(&d.join("l.gz")).unwrap(), lb);
    }

    #[test]
    fn multi_member_gzip_reads() {
        let d = TempDir::new("idx");
        let (px, _) = sample(2);
        let img = idx_images_bytes(2, 4, 3, &px);
        let mut two = gz(&img[..10]);
        two.extend(gz(&img[10..]));
        write(&d.join("m.gz"), &two);
        assert_eq!(read_idx_images(&d.join("m.gz")).unwrap().pixels, px);
    }

    #[test]
    fn truncated_raw_and_gz() {
        let d = TempDir::new("idx");
        let (px, _) = sample(3);
        let img = idx_images_bytes(3, 4, 3, &px[..20]);
        let p = d.join("t10k-images-idx3-ubyte");
        write(&p, &img);
        let s = msg(read_idx_images(&p));
        assert!(
            s.ends_with("t10k-images-idx3-ubyte: truncated IDX file: header says 3×4×3 = 36 bytes of pixels, found 20"),
            "{s}"
        );
        // gz of a short payload
        let pg = d.join("t10k-images-idx3-ubyte.gz");
        write(&pg, &gz(&img));
        let s = msg(read_idx_images(&pg));
        assert!(
            s.contains(
                "t10k-images-idx3-ubyte.gz: truncated IDX file: header says 3×4×3 = 36 bytes of pixels, found 20"
            ),
            "{s}"
        );
        // a gz file cut in the middle of the stream
        let full = gz(&idx_images_bytes(3, 4, 3, &px));
        let pc = d.join("cut.gz");
        write(&pc, &full[..full.len() - 10]);
        let s = msg(read_idx_images(&pc));
        assert!(s.contains("cut.gz"), "{s}");
        // truncated header
        let ph = d.join("h");
        write(&ph, &img[..9]);
        let s = msg(read_idx_images(&ph));
        assert!(s.contains("truncated IDX header"), "{s}");
        // empty file
        let pe = d.join("empty");
        write(&pe, b"");
        let s = msg(read_idx_images(&pe));
        assert!(s.contains("truncated IDX header"), "{s}");
        // labels truncated
        let pl = d.join("labels");
        let mut lb = idx_labels_bytes(&[1, 2, 3, 4]);
        lb.truncate(lb.len() - 1);
        write(&pl, &lb);
        let s = msg(read_idx_labels(&pl));
        assert!(s.contains("truncated IDX file: header says 4 bytes of labels, found 3"), "{s}");
    }

    #[test]
    fn trailing_bytes_rejected() {
        let d = TempDir::new("idx");
        let (px, _) = sample(1);
        let mut img = idx_images_bytes(1, 4, 3, &px);
        img.push(0);
        let p = d.join("long");
        write(&p, &img);
        let s = msg(read_idx_images(&p));
        assert!(s.contains("longer than its header says"), "{s}");
        let pg = d.join("long.gz");
        write(&pg, &gz(&img));
        let s = msg(read_idx_images(&pg));
        assert!(s.contains("longer than its header says"), "{s}");
    }

    #[test]
    fn wrong_magic() {
        let d = TempDir::new("idx");
        let p = d.join("labels-as-images");
        write(&p, &idx_labels_bytes(&[1, 2, 3]));
        let s = msg(read_idx_images(&p));
        assert!(
            s.ends_with("labels-as-images: not an IDX image file (magic 0x00000803 expected, found 0x00000801)"),
            "{s}"
        );
        let p2 = d.join("images-as-labels");
        write(&p2, &idx_images_bytes(1, 1, 1, &[0]));
        let s = msg(read_idx_labels(&p2));
        assert!(s.contains("not an IDX label file (magic 0x00000801 expected, found 0x00000803)"), "{s}");
        let p3 = d.join("garbage.gz");
        write(&p3, &gz(b"hello world, this is not idx"));
        let s = msg(read_idx_images(&p3));
        assert!(s.contains("garbage.gz: not an IDX image file"), "{s}");
        // gzip magic followed by garbage
        let p4 = d.join("badgz");
        write(&p4, &[0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let s = msg(read_idx_images(&p4));
        assert!(s.contains("badgz"), "{s}");
    }

    #[test]
    fn huge_header_dims_do_not_allocate_or_panic() {
        let d = TempDir::new("idx");
        let p = d.join("huge");
        write(&p, &idx_images_bytes(u32::MAX, u32::MAX, u32::MAX, &[1, 2, 3]));
        let s = msg(read_idx_images(&p));
        assert!(s.contains("too large"), "{s}");
        write(&p, &idx_images_bytes(100_000_000, 28, 28, &[1, 2, 3]));
        let s = msg(read_idx_images(&p));
        assert!(s.contains("found 3"), "{s}");
    }

    #[test]
    fn label_out_of_range() {
        let d = TempDir::new("idx");
        let p = d.join("lab");
        write(&p, &idx_labels_bytes(&[1, 2, 10]));
        let s = msg(read_idx_labels(&p));
        assert!(s.contains("lab: label 10 at index 2 is out of range (expected 0..=9)"), "{s}");
    }

    #[test]
    fn mnist_dir_names_and_mismatch() {
        let d = TempDir::new("idx");
        let (px, lb) = sample(3);
        // dotted names, one raw one gz
        write(&d.join("train-images.idx3-ubyte"), &idx_images_bytes(3, 4, 3, &px));
        write(&d.join("train-labels.idx1-ubyte.gz"), &gz(&idx_labels_bytes(&lb)));
        let ds = load_mnist(d.path(), Split::Train).unwrap();
        assert_eq!((ds.n, ds.c, ds.h, ds.w), (3, 1, 4, 3));
        assert_eq!(ds.labels, vec![0, 1, 2]);
        assert_eq!(ds.images[1], px[1] as f32 / 255.0);
        // test split missing
        let s = msg(load_mnist(d.path(), Split::Test));
        assert!(s.contains("t10k-images-idx3-ubyte") && s.contains("t10k-images.idx3-ubyte.gz"), "{s}");
        // count mismatch
        write(&d.join("t10k-images-idx3-ubyte"), &idx_images_bytes(3, 4, 3, &px));
        write(&d.join("t10k-labels-idx1-ubyte"), &idx_labels_bytes(&lb[..2]));
        let s = msg(load_mnist(d.path(), Split::Test));
        assert!(s.contains("count mismatch") && s.contains("3 images") && s.contains("2 labels"), "{s}");
        // not a directory
        let s = msg(load_mnist(&d.join("nope"), Split::Test));
        assert!(s.contains("nope: not a directory"), "{s}");
    }

    #[test]
    fn candidate_names_order() {
        assert_eq!(
            candidate_names(TRAIN_IMAGES),
            vec![
                "train-images-idx3-ubyte",
                "train-images-idx3-ubyte.gz",
                "train-images.idx3-ubyte",
                "train-images.idx3-ubyte.gz"
            ]
        );
        assert_eq!(candidate_names(TEST_LABELS)[2], "t10k-labels.idx1-ubyte");
    }

    #[test]
    fn random_garbage_never_panics() {
        use rand::{Rng, SeedableRng};
        let d = TempDir::new("idx");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (px, lb) = sample(2);
        let good = idx_images_bytes(2, 4, 3, &px);
        let goodl = idx_labels_bytes(&lb);
        let p = d.join("fuzz");
        for i in 0..300 {
            let mut b = match i % 4 {
                0 => good.clone(),
                1 => goodl.clone(),
                2 => gz(&good),
                _ => (0..rng.random_range(0..64)).map(|_| rng.random()).collect(),
            };
            if !b.is_empty() {
                for _ in 0..rng.random_range(1..4) {
                    let k = rng.random_range(0..b.len());
                    b[k] = rng.random();
                }
                if rng.random_bool(0.3) {
                    let k = rng.random_range(0..b.len());
                    b.truncate(k);
                }
            }
            write(&p, &b);
            if let Err(e) = read_idx_images(&p) {
                assert!(!format!("{e:#}").contains('\n'));
            }
            if let Err(e) = read_idx_labels(&p) {
                assert!(!format!("{e:#}").contains('\n'));
            }
        }
    }
}

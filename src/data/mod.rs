//! Data sets: MNIST IDX (raw or gzip), CIFAR-10 binary batches, `.npy`
//! arrays, and the MNIST subset bundled in `assets/mnist/`.
//!
//! Every loader returns a [`Dataset`]: images N×C×H×W row-major f32 with
//! pixels in [0,1] (u8 / 255 for the byte formats), labels 0..=9.
//! Every error is one line that names the file and what was expected.

pub mod cifar;
pub mod idx;
pub mod npy;
pub mod select;

pub use select::{check_classes, holdout, load_selected, read_indices, Selected, Selection};

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Result};

/// Number of classes in every supported data set (MNIST, CIFAR-10).
pub const NUM_CLASSES: usize = 10;

/// An in-memory image classification data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// N×C×H×W, row-major, values in [0,1].
    pub images: Vec<f32>,
    /// N labels, each in 0..NUM_CLASSES.
    pub labels: Vec<u32>,
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Dataset {
    /// Build a data set, checking that the buffer sizes agree with the shape.
    pub fn new(images: Vec<f32>, labels: Vec<u32>, c: usize, h: usize, w: usize) -> Result<Dataset> {
        let n = labels.len();
        let per = c
            .checked_mul(h)
            .and_then(|x| x.checked_mul(w))
            .ok_or_else(|| anyhow!("image shape {c}×{h}×{w} overflows"))?;
        if n.checked_mul(per) != Some(images.len()) {
            bail!(
                "data set has {} labels and {} pixel values, expected {} × {c}×{h}×{w} = {}",
                n,
                images.len(),
                n,
                n.saturating_mul(per)
            );
        }
        Ok(Dataset { images, labels, n, c, h, w })
    }

    /// Number of f32 values in one image (C·H·W).
    pub fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// `[C, H, W]` of one image.
    pub fn image_shape(&self) -> [usize; 3] {
        [self.c, self.h, self.w]
    }

    /// The pixels of image `i` (C·H·W values). Panics if `i >= n`.
    pub fn image(&self, i: usize) -> &[f32] {
        let l = self.image_len();
        &self.images[i * l..(i + 1) * l]
    }

    /// Images `start .. start+count`, clamped to the data set's end
    /// (so the result may hold fewer than `count` images, or none).
    pub fn subset(&self, start: usize, count: usize) -> Dataset {
        let s = start.min(self.n);
        let e = s.saturating_add(count).min(self.n);
        let l = self.image_len();
        Dataset {
            images: self.images[s * l..e * l].to_vec(),
            labels: self.labels[s..e].to_vec(),
            n: e - s,
            c: self.c,
            h: self.h,
            w: self.w,
        }
    }

    /// The first `min(count, n)` images.
    pub fn take_first(&self, count: usize) -> Dataset {
        self.subset(0, count)
    }

    /// Images per class, indexed by label.
    pub fn class_counts(&self) -> [usize; NUM_CLASSES] {
        let mut c = [0usize; NUM_CLASSES];
        for &l in &self.labels {
            if let Some(x) = c.get_mut(l as usize) {
                *x += 1;
            }
        }
        c
    }
}

/// Which half of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Test,
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

/// Where the data comes from (the `--data` flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSpec {
    /// The MNIST subset in the crate's `assets/mnist/` (2,000 train, 1,000 test).
    Bundled,
    /// A directory of MNIST IDX files (raw or .gz).
    Mnist(PathBuf),
    /// A directory of CIFAR-10 binary batches.
    Cifar10(PathBuf),
    /// Images and labels as `.npy`; both splits load the same files.
    Npy { images: PathBuf, labels: PathBuf },
    /// A directory holding `train_x.npy`, `train_y.npy`, `test_x.npy`, `test_y.npy`.
    NpyDir(PathBuf),
}

const ACCEPTED_FORMS: &str = "expected one of: bundled, mnist:DIR, cifar10:DIR, npy:X.npy,Y.npy, npydir:DIR";

impl DataSpec {
    /// Parse `mnist:DIR`, `cifar10:DIR`, `npy:X.npy,Y.npy`, `npydir:DIR` (or `bundled`).
    pub fn parse(s: &str) -> Result<DataSpec> {
        let t = s.trim();
        if t == "bundled" {
            return Ok(DataSpec::Bundled);
        }
        let Some((kind, rest)) = t.split_once(':') else {
            bail!("--data {s:?}: {ACCEPTED_FORMS}");
        };
        let rest = rest.trim();
        match kind.trim().to_ascii_lowercase().as_str() {
            "mnist" | "cifar10" | "cifar-10" | "npydir" if rest.is_empty() => {
                bail!("--data {s:?}: missing directory after '{kind}:' ({ACCEPTED_FORMS})")
            }
            "mnist" => Ok(DataSpec::Mnist(PathBuf::from(rest))),
            "cifar10" | "cifar-10" => Ok(DataSpec::Cifar10(PathBuf::from(rest))),
            "npydir" => Ok(DataSpec::NpyDir(PathBuf::from(rest))),
            "npy" => {
                let Some((x, y)) = rest.split_once(',') else {
                    bail!("--data {s:?}: npy needs two files separated by a comma, npy:X.npy,Y.npy");
                };
                let (x, y) = (x.trim(), y.trim());
                if x.is_empty() || y.is_empty() || y.contains(',') {
                    bail!("--data {s:?}: npy needs exactly two files, npy:X.npy,Y.npy");
                }
                Ok(DataSpec::Npy { images: PathBuf::from(x), labels: PathBuf::from(y) })
            }
            _ => bail!("--data {s:?}: unknown data kind '{kind}' ({ACCEPTED_FORMS})"),
        }
    }
}

impl FromStr for DataSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<DataSpec> {
        DataSpec::parse(s)
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSpec::Bundled => f.write_str("bundled"),
            DataSpec::Mnist(d) => write!(f, "mnist:{}", d.display()),
            DataSpec::Cifar10(d) => write!(f, "cifar10:{}", d.display()),
            DataSpec::Npy { images, labels } => write!(f, "npy:{},{}", images.display(), labels.display()),
            DataSpec::NpyDir(d) => write!(f, "npydir:{}", d.display()),
        }
    }
}

/// The directory holding the bundled MNIST subset: `$CARGO_MANIFEST_DIR/assets/mnist`
/// (fixed at compile time), else `./assets/mnist`.
pub fn bundled_dir() -> Result<PathBuf> {
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets").join("mnist");
    let local = PathBuf::from("assets").join("mnist");
    for d in [&compiled, &local] {
        if d.is_dir() {
            return Ok(d.clone());
        }
    }
    bail!(
        "bundled MNIST subset not found (looked in {} and {}); pass --data mnist:DIR",
        compiled.display(),
        local.display()
    )
}

/// Load one split of a data set.
pub fn load(spec: &DataSpec, split: Split) -> Result<Dataset> {
    match spec {
        DataSpec::Bundled => idx::load_mnist(&bundled_dir()?, split),
        DataSpec::Mnist(dir) => idx::load_mnist(dir, split),
        DataSpec::Cifar10(dir) => cifar::load_cifar10(dir, split),
        DataSpec::Npy { images, labels } => npy::load_npy_dataset(images, labels),
        DataSpec::NpyDir(dir) => {
            if !dir.is_dir() {
                bail!(
                    "{}: not a directory (expected {split}_x.npy and {split}_y.npy in it for --data npydir:DIR)",
                    dir.display()
                );
            }
            npy::load_npy_dataset(&dir.join(format!("{split}_x.npy")), &dir.join(format!("{split}_y.npy")))
        }
    }
}

impl DataSpec {
    /// A warning to print when this data is used for training, if its test
    /// split is not separate from its training split (`npy:` reads the same
    /// files for both).
    pub fn train_warning(&self) -> Option<String> {
        match self {
            DataSpec::Npy { .. } => Some(format!(
                "--data {self}: npy: uses the same files for both splits, so the test accuracy reported is \
                 measured on the training images (use npydir:DIR with train_x/train_y/test_x/test_y.npy for a real test split)"
            )),
            _ => None,
        }
    }
}

/// Check that every label is below [`NUM_CLASSES`]; the error names `what`.
pub(crate) fn check_labels<T: Copy + Into<i64>>(what: &Path, labels: &[T]) -> Result<()> {
    for (i, &l) in labels.iter().enumerate() {
        let v: i64 = l.into();
        if !(0..NUM_CLASSES as i64).contains(&v) {
            bail!("{}: label {} at index {} is out of range (expected 0..={})", what.display(), v, i, NUM_CLASSES - 1);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::msg;

    #[test]
    fn parse_specs() {
        assert_eq!(DataSpec::parse("mnist:/a/b").unwrap(), DataSpec::Mnist("/a/b".into()));
        assert_eq!(DataSpec::parse("cifar10:data/c").unwrap(), DataSpec::Cifar10("data/c".into()));
        assert_eq!(
            DataSpec::parse("npy:x.npy,y.npy").unwrap(),
            DataSpec::Npy { images: "x.npy".into(), labels: "y.npy".into() }
        );
        assert_eq!(DataSpec::parse("bundled").unwrap(), DataSpec::Bundled);
        assert_eq!("mnist:d".parse::<DataSpec>().unwrap(), DataSpec::Mnist("d".into()));
        // Display round-trips
        assert_eq!(DataSpec::parse("npydir:d/n").unwrap(), DataSpec::NpyDir("d/n".into()));
        for s in ["mnist:/a/b", "cifar10:c", "npy:x.npy,y.npy", "npydir:d", "bundled"] {
            assert_eq!(DataSpec::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn parse_bad_specs() {
        for bad in ["", "mnist", "foo:bar", "npy:x.npy", "npy:x.npy,", "npy:a,b,c", "mnist:", "npydir:", "/some/dir"] {
            let s = msg(DataSpec::parse(bad));
            assert!(s.contains("--data"), "{bad:?}: {s}");
        }
        let s = msg(DataSpec::parse("imagenet:/x"));
        assert!(
            s.contains("mnist:DIR")
                && s.contains("cifar10:DIR")
                && s.contains("npy:X.npy,Y.npy")
                && s.contains("npydir:DIR"),
            "{s}"
        );
    }

    #[test]
    fn dataset_subset_and_take_first() {
        let imgs: Vec<f32> = (0..5 * 4).map(|x| x as f32 / 20.0).collect();
        let d = Dataset::new(imgs, vec![0, 1, 2, 3, 4], 1, 2, 2).unwrap();
        assert_eq!(d.image_len(), 4);
        let s = d.subset(1, 2);
        assert_eq!((s.n, s.labels.clone()), (2, vec![1, 2]));
        assert_eq!(s.images, d.images[4..12].to_vec());
        assert_eq!(d.take_first(3).n, 3);
        assert_eq!(d.take_first(100).n, 5);
        assert_eq!(d.subset(4, 10).n, 1);
        assert_eq!(d.subset(9, 10).n, 0);
        assert_eq!(d.image(2), &d.images[8..12]);
        assert!(Dataset::new(vec![0.0; 7], vec![0, 1], 1, 2, 2).is_err());
    }

    #[test]
    fn bundled_subset_loads() {
        let tr = load(&DataSpec::Bundled, Split::Train).unwrap();
        let te = load(&DataSpec::Bundled, Split::Test).unwrap();
        assert_eq!((tr.n, tr.c, tr.h, tr.w), (2000, 1, 28, 28));
        assert_eq!((te.n, te.c, te.h, te.w), (1000, 1, 28, 28));
        assert_eq!(tr.images.len(), 2000 * 784);
        assert_eq!(te.images.len(), 1000 * 784);
        assert_eq!(tr.labels[0], 5);
        assert_eq!(te.labels[0], 7);
        // histograms from shared/data/SOURCES.md
        assert_eq!(tr.class_counts(), [191, 220, 198, 191, 214, 180, 200, 224, 172, 210]);
        assert_eq!(te.class_counts(), [85, 126, 116, 107, 110, 87, 87, 99, 89, 94]);
        assert!(tr.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
        let max = tr.images.iter().cloned().fold(0.0f32, f32::max);
        assert_eq!(max, 1.0);
    }
}

//! Choosing images: a split, an optional `.npy` list of indices into it, an
//! optional count; seeded hold-out of validation images; the check that a
//! data set's labels fit a model's class count.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};

use super::{load, npy, DataSpec, Dataset, Split};

impl FromStr for Split {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Split> {
        match s {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            _ => bail!("--split {s:?}: expected train or test"),
        }
    }
}

/// Which images of a data set a command works on (`--split`, `--indices`, `--count`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub split: Split,
    /// A 1-D integer `.npy` of positions in the split (duplicates allowed, order kept).
    pub indices: Option<PathBuf>,
    /// Keep only the first N images of the selection.
    pub count: Option<usize>,
}

impl Selection {
    /// The whole of one split.
    pub fn split(split: Split) -> Selection {
        Selection { split, indices: None, count: None }
    }
}

/// The selected images and where each came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    pub data: Dataset,
    /// `index[i]` is image i's position in its split.
    pub index: Vec<usize>,
}

/// Load the images `sel` names from `spec`.
pub fn load_selected(spec: &DataSpec, sel: &Selection) -> Result<Selected> {
    if sel.count == Some(0) {
        bail!("--count 0: expected at least one image");
    }
    let all = load(spec, sel.split)?;
    let mut index = match &sel.indices {
        Some(p) => read_indices(p, all.n)?,
        None => (0..all.n).collect(),
    };
    if let Some(c) = sel.count {
        index.truncate(c);
    }
    let data = if sel.indices.is_none() && index.len() == all.n { all } else { all.select(&index) };
    Ok(Selected { data, index })
}

/// Read a 1-D integer `.npy` of positions in a split of `n` images.
/// Every value must be in `0..n`; the error names the file, the value and its position.
pub fn read_indices(path: &Path, n: usize) -> Result<Vec<usize>> {
    let raw = npy::read_npy_ints(path, "indices", "index")?;
    if raw.is_empty() {
        bail!("{}: holds no indices (expected a 1-D integer array of image positions)", path.display());
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, &v) in raw.iter().enumerate() {
        match usize::try_from(v) {
            Ok(u) if u < n => out.push(u),
            _ => bail!(
                "{}: index {v} at position {i} is out of range (the split holds {n} images, expected 0..={})",
                path.display(),
                n.saturating_sub(1)
            ),
        }
    }
    Ok(out)
}

/// Split `0..n` into (training, validation) positions: `val` of them chosen
/// at random with `seed`, the rest for training. Deterministic, disjoint, both sorted.
pub fn holdout(n: usize, val: usize, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if val >= n {
        bail!("--val {val}: the training split holds {n} images, expected fewer than {n} held out");
    }
    // Partial Fisher-Yates: the first `val` slots end up a uniform sample.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut perm: Vec<usize> = (0..n).collect();
    for i in 0..val {
        let j = rng.random_range(i..n);
        perm.swap(i, j);
    }
    let mut v = perm[..val].to_vec();
    let mut t = perm[val..].to_vec();
    v.sort_unstable();
    t.sort_unstable();
    Ok((t, v))
}

impl Dataset {
    /// The images at positions `idx`, in that order (repeats allowed).
    /// Panics if a position is `>= n`, like [`Dataset::image`].
    pub fn select(&self, idx: &[usize]) -> Dataset {
        let l = self.image_len();
        let mut images = Vec::with_capacity(idx.len() * l);
        for &i in idx {
            images.extend_from_slice(self.image(i));
        }
        Dataset {
            images,
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            n: idx.len(),
            c: self.c,
            h: self.h,
            w: self.w,
        }
    }
}

/// Check that every label is below the model's class count; the error names
/// `what` (the data), the label, its position and the class count.
pub fn check_classes(what: &str, labels: &[u32], classes: usize) -> Result<()> {
    if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| l as usize >= classes) {
        bail!(
            "{what}: label {l} at position {i} is outside the model's {classes} classes (expected 0..={}; does --arch match the data?)",
            classes.saturating_sub(1)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::npy::{write_npy_f32, write_npy_i64};
    use crate::fsutil::testutil::{msg, TempDir};

    fn tiny(n: usize) -> Dataset {
        let imgs: Vec<f32> = (0..n * 4).map(|x| x as f32 / (n * 4) as f32).collect();
        Dataset::new(imgs, (0..n as u32).map(|i| i % 10).collect(), 1, 2, 2).unwrap()
    }

    #[test]
    fn split_from_str() {
        assert_eq!("train".parse::<Split>().unwrap(), Split::Train);
        assert_eq!("test".parse::<Split>().unwrap(), Split::Test);
        for bad in ["Train", "TEST", "val", ""] {
            let s = msg(bad.parse::<Split>());
            assert!(s.contains("--split") && s.contains("expected train or test") && !s.contains('\n'), "{s}");
        }
    }

    #[test]
    fn select_keeps_order_and_repeats() {
        let d = tiny(5);
        let s = d.select(&[3, 1, 3]);
        assert_eq!((s.n, s.labels.clone()), (3, vec![3, 1, 3]));
        assert_eq!(s.image(0), d.image(3));
        assert_eq!(s.image(1), d.image(1));
        assert_eq!(s.image(2), d.image(3));
        assert_eq!(d.select(&[]).n, 0);
    }

    #[test]
    fn indices_any_int_dtype_and_range_errors() {
        let d = TempDir::new("select");
        let p = d.join("I.npy");
        write_npy_i64(&p, &[4], &[4, 0, 4, 2]).unwrap();
        assert_eq!(read_indices(&p, 5).unwrap(), vec![4, 0, 4, 2]);
        let s = msg(read_indices(&p, 4));
        assert!(s.contains("I.npy: index 4 at position 0 is out of range") && s.contains("holds 4 images"), "{s}");
        write_npy_i64(&p, &[2], &[1, -3]).unwrap();
        let s = msg(read_indices(&p, 4));
        assert!(s.contains("I.npy: index -3 at position 1"), "{s}");
        // uint8 written by hand through the label reader's sibling format
        let pu = d.join("u8.npy");
        let mut h = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }".to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((h.len() as u16).to_le_bytes());
        b.extend(h.as_bytes());
        b.extend([2u8, 2, 0]);
        std::fs::write(&pu, b).unwrap();
        assert_eq!(read_indices(&pu, 3).unwrap(), vec![2, 2, 0]);
        // float / 2-D / empty rejected, naming the file
        write_npy_f32(&p, &[2], &[1.0, 2.0]).unwrap();
        let s = msg(read_indices(&p, 4));
        assert!(s.contains("I.npy: expected integer indices"), "{s}");
        write_npy_i64(&p, &[1, 2], &[1, 2]).unwrap();
        let s = msg(read_indices(&p, 4));
        assert!(s.contains("I.npy: expected a 1-D array of indices"), "{s}");
        write_npy_i64(&p, &[0], &[]).unwrap();
        assert!(msg(read_indices(&p, 4)).contains("I.npy: holds no indices"));
    }

    #[test]
    fn load_selected_indices_and_count() {
        let spec = DataSpec::Bundled;
        let test = load(&spec, Split::Test).unwrap();
        let all = load_selected(&spec, &Selection::split(Split::Test)).unwrap();
        assert_eq!(all.data, test);
        assert_eq!(all.index, (0..1000).collect::<Vec<_>>());
        let first = load_selected(&spec, &Selection { split: Split::Train, indices: None, count: Some(7) }).unwrap();
        assert_eq!(first.index, (0..7).collect::<Vec<_>>());
        assert_eq!(first.data, load(&spec, Split::Train).unwrap().take_first(7));
        let d = TempDir::new("select");
        let p = d.join("I.npy");
        write_npy_i64(&p, &[4], &[999, 5, 5, 0]).unwrap();
        let sel = Selection { split: Split::Test, indices: Some(p.clone()), count: Some(3) };
        let got = load_selected(&spec, &sel).unwrap();
        assert_eq!(got.index, vec![999, 5, 5]);
        assert_eq!(got.data, test.select(&[999, 5, 5]));
        write_npy_i64(&p, &[1], &[1000]).unwrap();
        let s = msg(load_selected(&spec, &Selection { split: Split::Test, indices: Some(p), count: None }));
        assert!(s.contains("I.npy: index 1000 at position 0 is out of range"), "{s}");
        let s = msg(load_selected(&spec, &Selection { split: Split::Test, indices: None, count: Some(0) }));
        assert!(s.contains("--count 0"), "{s}");
    }

    #[test]
    fn holdout_is_seeded_disjoint_sorted() {
        let (t, v) = holdout(100, 10, 7).unwrap();
        assert_eq!((t.len(), v.len()), (90, 10));
        assert!(t.windows(2).all(|w| w[0] < w[1]) && v.windows(2).all(|w| w[0] < w[1]));
        let mut all: Vec<usize> = t.iter().chain(&v).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(holdout(100, 10, 7).unwrap(), (t.clone(), v.clone()));
        assert_ne!(holdout(100, 10, 8).unwrap().1, v);
        assert_eq!(holdout(5, 0, 1).unwrap(), ((0..5).collect(), vec![]));
        assert_eq!(holdout(5, 4, 1).unwrap().0.len(), 1);
        for (n, val) in [(5, 5), (5, 6), (0, 0)] {
            let s = msg(holdout(n, val, 0));
            assert!(s.contains(&format!("--val {val}")) && s.contains(&format!("holds {n} images")), "{s}");
        }
    }

    #[test]
    fn check_classes_names_input_label_position_classes() {
        check_classes("data", &[0, 6, 2], 7).unwrap();
        let s = msg(check_classes("mnist:d (test split)", &[0, 6, 9, 8], 7));
        assert!(s.starts_with("mnist:d (test split): label 9 at position 2 is outside the model's 7 classes"), "{s}");
        assert!(!s.contains('\n'));
    }
}

//! What an attack runs on: the images (from `--data` or `--input/--labels`,
//! narrowed by `--split`, `--indices`, `--count` and `--shard`) and the
//! targets (`--targets T.npy` or drawn with `--target random|next`).
//! Everything is checked against the architecture before any GPU work.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::data::{self, npy, DataSpec, Dataset, Split};
use crate::nn::Arch;
use crate::shard::Shard;

/// Where the images come from and which of them to attack.
#[derive(Clone, Debug, Default)]
pub struct InputSpec {
    /// `--data` (default: the bundled MNIST subset).
    pub data: Option<DataSpec>,
    /// `--input X.npy` with `--labels Y.npy` instead of `--data`.
    pub input: Option<PathBuf>,
    pub labels: Option<PathBuf>,
    /// `--split` of `--data` (default: test).
    pub split: Option<Split>,
    /// `--indices I.npy`: attack exactly these positions of the split / input.
    pub indices: Option<PathBuf>,
    /// `--count N`: the first N of the selection.
    pub count: Option<usize>,
    /// `--shard K/N`: this slice of the selection.
    pub shard: Option<Shard>,
}

/// The images an attack runs on.
pub struct Inputs {
    pub data: Dataset,
    /// index[i]: image i's position in its split or in `--input`.
    pub index: Vec<usize>,
    /// `--data` spec or `npy:X,Y`, for results.json.
    pub source: String,
    /// How error messages name the source (a file or `--data SPEC`).
    pub what: String,
    /// Images in the source split / input.
    pub total: usize,
    /// Images selected before `--shard` (what an unsharded run attacks).
    pub selected: usize,
}

/// Load, select and check the images of `spec` for `arch`.
pub fn load_inputs(spec: &InputSpec, arch: &Arch) -> Result<Inputs> {
    let (data, source, what) = match (&spec.data, &spec.input, &spec.labels) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => bail!("give either --data or --input/--labels, not both"),
        (None, Some(x), Some(y)) => {
            if let Some(s) = spec.split {
                bail!("--split {s}: only with --data (--input {} is one set of images)", x.display());
            }
            (npy::load_npy_dataset(x, y)?, format!("npy:{},{}", x.display(), y.display()), x.display().to_string())
        }
        (None, Some(x), None) => bail!("--input {}: needs --labels Y.npy (1-D integer labels)", x.display()),
        (None, None, Some(y)) => bail!("--labels {}: needs --input X.npy", y.display()),
        (d, None, None) => {
            let d = d.clone().unwrap_or(DataSpec::Bundled);
            let split = spec.split.unwrap_or(Split::Test);
            let what = format!("--data {d} ({split} split)");
            (data::load(&d, split)?, d.to_string(), what)
        }
    };
    if data.image_len() != arch.input_len() {
        bail!(
            "{what}: images of shape {}×{}×{} do not fit --arch {} (expected {}×{}×{})",
            data.c,
            data.h,
            data.w,
            arch.spec,
            arch.input[0],
            arch.input[1],
            arch.input[2]
        );
    }
    super::check_labels(&what, &data.labels, data.n, arch.classes)?;
    let total = data.n;
    let mut index: Vec<usize> = match &spec.indices {
        Some(p) => data::read_indices(p, total)?,
        None => (0..total).collect(),
    };
    match spec.count {
        Some(0) => bail!("--count 0: must be at least 1"),
        Some(k) if k > index.len() => bail!("--count {k}: {what} holds only {} selected images", index.len()),
        Some(k) => index.truncate(k),
        None => {}
    }
    if index.is_empty() {
        bail!("{what}: no images selected");
    }
    let selected = index.len();
    let data =
        if index.len() == total && index.iter().enumerate().all(|(i, &j)| i == j) { data } else { data.select(&index) };
    let sel = crate::shard::shard_selected(data::Selected { data, index }, spec.shard.unwrap_or(Shard::ALL))?;
    Ok(Inputs { data: sel.data, index: sel.index, source, what, total, selected })
}

/// How targets are chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    /// Untargeted (JSMA, which has no untargeted form, then draws random targets).
    None,
    /// `--targets T.npy`: one per image of the source (split or `--input`).
    File(PathBuf),
    /// Uniform over the classes other than the label, from each image's (seed, index) stream.
    Random,
    /// (label + 1) mod classes.
    Next,
}

/// The targets of `inputs` (None: untargeted) and how they were chosen.
/// `needs_targets`: the attack has no untargeted form (JSMA).
pub fn load_targets(
    spec: &TargetSpec,
    needs_targets: bool,
    method: &str,
    inputs: &Inputs,
    classes: usize,
    seed: u64,
) -> Result<Option<(Vec<u32>, String)>> {
    let labels = &inputs.data.labels;
    let t = match spec {
        TargetSpec::File(p) => {
            let raw = npy::read_npy_labels(p)?;
            let what = p.display().to_string();
            if raw.len() != inputs.total {
                bail!("{what}: {} targets for the {} images of {}", raw.len(), inputs.total, inputs.what);
            }
            let mut t = Vec::with_capacity(labels.len());
            for &i in &inputs.index {
                let v = raw[i];
                if v < 0 || v as usize >= classes {
                    bail!(
                        "{what}: target {v} at index {i} is out of range (the model has {classes} classes: 0..={})",
                        classes - 1
                    );
                }
                t.push(v as u32);
            }
            super::check_targets(&what, &t, labels, classes)?;
            Some((t, what))
        }
        TargetSpec::Random => Some((super::random_targets_at(labels, &inputs.index, classes, seed)?, "random".into())),
        TargetSpec::Next => Some((super::next_targets(labels, classes), "next".into())),
        TargetSpec::None if needs_targets => Some((
            super::random_targets_at(labels, &inputs.index, classes, seed)?,
            format!("random (default for {method})"),
        )),
        TargetSpec::None => None,
    };
    Ok(t)
}

//! `--shard K/N`: a deterministic contiguous slice of the selected images,
//! so one job can be split over a Slurm job array or a Kubernetes Indexed
//! Job and joined again with `advlab merge`.
//!
//! Shard K of N (1-based, K in 1..=N) of `total` images is the range
//! `total·(K−1)/N .. total·K/N` (integer division): every image lands in
//! exactly one shard, the shards differ in size by at most one image, and
//! the slice depends only on (K, N, total), never on the batch size.
//!
//! `--shard auto` reads the index from the scheduler:
//! - Slurm job arrays: K = SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN + 1
//!   (so `--array=0-3` and `--array=1-4` both work; MIN defaults to 0 when
//!   unset), N = SLURM_ARRAY_TASK_COUNT;
//! - Kubernetes Indexed Jobs: K = JOB_COMPLETION_INDEX + 1 (the index is
//!   0-based), N from `--shards N` (Kubernetes exports no count).
//!
//! `--shards N` overrides the count from the environment in both cases.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::data::Selected;

/// The seed of image `index`'s own random stream for purpose `salt`: the
/// draws for an image depend on (seed, index) only, never on its position
/// in a batch or shard, so sharded runs merge into the unsharded result.
pub fn image_seed(seed: u64, index: usize, salt: u64) -> u64 {
    seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt
}

/// One slice: shard `k` (1-based) of `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl Shard {
    /// The whole selection (shard 1 of 1).
    pub const ALL: Shard = Shard { k: 1, n: 1 };

    pub fn new(k: usize, n: usize) -> Result<Shard> {
        if n == 0 || k == 0 || k > n {
            bail!("--shard {k}/{n}: expected K/N with 1 <= K <= N");
        }
        Ok(Shard { k, n })
    }

    /// Positions `total·(k−1)/n .. total·k/n` of the selection.
    pub fn range(&self, total: usize) -> Range<usize> {
        let at = |j: usize| ((total as u128 * j as u128) / self.n as u128) as usize;
        at(self.k - 1)..at(self.k)
    }

    pub fn is_all(&self) -> bool {
        self.n == 1
    }
}

/// Narrow a selection (`data::load_selected`) to `shard`: the images at
/// positions `shard.range(n)` of it, with their split positions. For
/// `advlab eval --shard` (and every command that reads images).
pub fn shard_selected(sel: Selected, shard: Shard) -> Result<Selected> {
    if shard.is_all() {
        return Ok(sel);
    }
    let r = shard.range(sel.index.len());
    if r.is_empty() {
        bail!("--shard {shard}: the selection holds only {} images, so this shard would be empty", sel.index.len());
    }
    let pos: Vec<usize> = r.collect();
    Ok(Selected { data: sel.data.select(&pos), index: pos.iter().map(|&p| sel.index[p]).collect() })
}

/// `PATH` itself if it is a file, else `PATH/results.json`: where a shard's
/// results are (`advlab merge` takes attack --out-dirs and eval --results).
pub fn results_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    }
}

/// One shard's results.json, read: which shard it is and the whole file.
#[derive(Debug, Clone)]
pub struct ShardOutput {
    pub path: PathBuf,
    pub shard: Shard,
    pub command: String,
    pub envelope: Value,
}

/// Read `results_file(path)` of a sharded run.
pub fn read_shard_output(path: &Path) -> Result<ShardOutput> {
    let path = results_file(path);
    let text = std::fs::read_to_string(&path).map_err(|e| anyhow!("{}: cannot read ({e})", path.display()))?;
    let envelope: Value = serde_json::from_str(&text).map_err(|e| anyhow!("{}: not JSON ({e})", path.display()))?;
    let shard = match envelope.pointer("/settings/shard") {
        Some(Value::String(s)) => match s.parse::<ShardSpec>() {
            Ok(ShardSpec::Fixed(sh)) => sh,
            _ => bail!("{}: settings.shard {s:?} is not K/N", path.display()),
        },
        _ => bail!("{}: not the output of a sharded run (settings.shard is missing or null)", path.display()),
    };
    let command = envelope.get("command").and_then(Value::as_str).unwrap_or("").to_string();
    Ok(ShardOutput { path, shard, command, envelope })
}

/// settings without `shard`, to compare shards.
pub fn settings_but_shard(v: &Value) -> Value {
    let mut s = v.get("settings").cloned().unwrap_or(Value::Null);
    if let Some(o) = s.as_object_mut() {
        o.remove("shard");
    }
    s
}

/// Sort `parts` by K and check they are shards 1..N of one run: the same
/// command and settings (but --shard), each K exactly once.
pub fn check_shard_set(parts: &mut [ShardOutput]) -> Result<()> {
    if parts.is_empty() {
        bail!("merge: give the shards' outputs");
    }
    parts.sort_by_key(|p| p.shard.k);
    let first = &parts[0];
    let n = first.shard.n;
    let settings = settings_but_shard(&first.envelope);
    for p in parts.iter() {
        if p.shard.n != n {
            bail!(
                "{}: shard {} does not belong to the {n}-shard run of {}",
                p.path.display(),
                p.shard,
                first.path.display()
            );
        }
        if p.command != first.command {
            bail!(
                "{}: results of `advlab {}`, but {} holds `advlab {}`",
                p.path.display(),
                p.command,
                first.path.display(),
                first.command
            );
        }
        if settings_but_shard(&p.envelope) != settings {
            bail!(
                "{}: settings differ from {}'s (shards must share every setting but --shard)",
                p.path.display(),
                first.path.display()
            );
        }
    }
    for (want, p) in (1..=n).zip(parts.iter()) {
        if p.shard.k != want {
            let what = if p.shard.k < want { "given twice" } else { "missing" };
            bail!("merge: shard {want}/{n} is {what} ({} outputs given for {n} shards)", parts.len());
        }
    }
    if parts.len() != n {
        bail!("merge: {} outputs given for {n} shards (shard {}/{n} is missing)", parts.len(), parts.len() + 1);
    }
    Ok(())
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The `--shard` flag as given: `K/N` or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardSpec {
    Fixed(Shard),
    Auto,
}

impl FromStr for ShardSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<ShardSpec> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(ShardSpec::Auto);
        }
        let bad = || anyhow!("--shard {s:?}: expected K/N with 1 <= K <= N (e.g. 2/3), or auto");
        let (k, n) = t.split_once('/').ok_or_else(bad)?;
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n).map(ShardSpec::Fixed).map_err(|_| bad())
    }
}

/// The shard to process from `--shard` and `--shards`, reading the
/// scheduler's variables through `env` (pass `|k| std::env::var(k).ok()`).
/// None of the flags: the whole selection.
pub fn resolve(spec: Option<ShardSpec>, shards: Option<usize>, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
    let num = |name: &str| -> Result<Option<usize>> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map(Some)
                .map_err(|_| anyhow!("--shard auto: {name}={v:?} is not a non-negative integer")),
        }
    };
    match (spec, shards) {
        (None, None) => Ok(Shard::ALL),
        (None, Some(n)) => bail!("--shards {n}: needs --shard auto"),
        (Some(ShardSpec::Fixed(s)), None) => Ok(s),
        (Some(ShardSpec::Fixed(s)), Some(n)) => {
            bail!("--shards {n}: only with --shard auto (--shard {s} already gives the count)")
        }
        (Some(ShardSpec::Auto), shards) => {
            let (index0, env_count) = if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
                let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                if id < min {
                    bail!("--shard auto: SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}");
                }
                (id - min, num("SLURM_ARRAY_TASK_COUNT")?)
            } else if let Some(i) = num("JOB_COMPLETION_INDEX")? {
                (i, None)
            } else {
                bail!(
                    "--shard auto: neither SLURM_ARRAY_TASK_ID (Slurm job array) nor JOB_COMPLETION_INDEX \
                     (Kubernetes Indexed Job) is set; give --shard K/N"
                );
            };
            let n = match (shards, env_count) {
                (Some(n), _) | (None, Some(n)) => n,
                (None, None) => bail!(
                    "--shard auto: the shard count is unknown (SLURM_ARRAY_TASK_COUNT is not set); give --shards N"
                ),
            };
            if n == 0 || index0 >= n {
                bail!("--shard auto: shard index {} (0-based {index0}) is not below the shard count {n}", index0 + 1);
            }
            Shard::new(index0 + 1, n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::msg;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn ranges_cover_every_image_once() {
        for total in [0usize, 1, 2, 7, 10, 1000, 1001] {
            for n in 1..=7 {
                let mut next = 0;
                for k in 1..=n {
                    let r = Shard::new(k, n).unwrap().range(total);
                    assert_eq!(r.start, next, "total {total} shard {k}/{n}");
                    assert!(r.len() == total / n || r.len() == total / n + 1, "{r:?}");
                    next = r.end;
                }
                assert_eq!(next, total);
            }
        }
        assert_eq!(Shard::new(2, 3).unwrap().range(10), 3..6);
        assert_eq!(Shard::ALL.range(5), 0..5);
    }

    #[test]
    fn parse_and_resolve() {
        assert_eq!("2/3".parse::<ShardSpec>().unwrap(), ShardSpec::Fixed(Shard { k: 2, n: 3 }));
        assert_eq!("auto".parse::<ShardSpec>().unwrap(), ShardSpec::Auto);
        for bad in ["0/3", "4/3", "1/0", "x", "1/", "/2", "-1/2", "1/2/3"] {
            let e = msg(bad.parse::<ShardSpec>());
            assert!(e.contains("--shard") && e.contains("K/N"), "{bad}: {e}");
        }
        let none = env(&[]);
        assert_eq!(resolve(None, None, &none).unwrap(), Shard::ALL);
        assert!(msg(resolve(Some(ShardSpec::Auto), Some(3), &none)).contains("JOB_COMPLETION_INDEX"));
        assert!(msg(resolve(None, Some(3), &none)).contains("--shard auto"));
        let slurm =
            env(&[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_MIN", "4"), ("SLURM_ARRAY_TASK_COUNT", "3")]);
        assert_eq!(resolve(Some(ShardSpec::Auto), None, &slurm).unwrap(), Shard { k: 2, n: 3 });
        let slurm0 = env(&[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "4")]);
        assert_eq!(resolve(Some(ShardSpec::Auto), None, &slurm0).unwrap(), Shard { k: 1, n: 4 });
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2")]);
        assert_eq!(resolve(Some(ShardSpec::Auto), Some(3), &k8s).unwrap(), Shard { k: 3, n: 3 });
        assert!(msg(resolve(Some(ShardSpec::Auto), None, &k8s)).contains("--shards N"));
        assert!(msg(resolve(Some(ShardSpec::Auto), Some(2), &k8s)).contains("not below the shard count 2"));
        let d =
            crate::data::Dataset::new((0..6).map(|v| v as f32 / 10.0).collect(), (0..6).collect(), 1, 1, 1).unwrap();
        let sel = Selected { data: d, index: vec![10, 11, 12, 13, 14, 15] };
        let s2 = shard_selected(sel.clone(), Shard::new(2, 3).unwrap()).unwrap();
        assert_eq!((s2.index, s2.data.labels), (vec![12, 13], vec![2, 3]));
        assert!(msg(shard_selected(sel, Shard::new(1, 7).unwrap())).contains("empty"));
        let junk = env(&[("JOB_COMPLETION_INDEX", "two")]);
        assert!(msg(resolve(Some(ShardSpec::Auto), Some(3), &junk)).contains("JOB_COMPLETION_INDEX=\"two\""));
    }
}

//! `advlab merge DIR... --out-dir D`: join the output directories of the
//! shards of one attack (`--shard K/N`, K = 1..N) into the output of the
//! unsharded run: adv.npy, labels.npy (and flow.npy for stAdv)
//! concatenated in shard order, so byte-identical to the unsharded run's;
//! results.json with the records concatenated and the summary (and sweep)
//! recomputed from them, so equal to the unsharded run's; timing summed
//! over the shards. grid.png is shard 1's (its first images are the
//! unsharded run's first images); a sweep's plot is redrawn.
//!
//! The shards must come from the same command with the same settings
//! (everything but `settings.shard`), and every K of 1..N exactly once.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::schema::{AttackResults, SweepPoint, Timing};
use crate::data::npy;
use crate::report;
use crate::shard::{Shard, ShardSpec};

/// One shard's output directory, read.
struct Part {
    dir: PathBuf,
    shard: Shard,
    envelope: Value,
    results: AttackResults,
}

fn read_part(dir: &Path) -> Result<Part> {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let envelope: Value = serde_json::from_str(&text).map_err(|e| anyhow!("{}: not JSON ({e})", path.display()))?;
    let shard = match envelope.pointer("/settings/shard") {
        Some(Value::String(s)) => match s.parse::<ShardSpec>() {
            Ok(ShardSpec::Fixed(sh)) => sh,
            _ => bail!("{}: settings.shard {s:?} is not K/N", path.display()),
        },
        _ => bail!("{}: not the output of a sharded attack (settings.shard is missing or null)", path.display()),
    };
    let results: AttackResults = serde_json::from_value(envelope.get("results").cloned().unwrap_or(Value::Null))
        .map_err(|e| anyhow!("{}: results are not an attack's results ({e})", path.display()))?;
    Ok(Part { dir: dir.to_path_buf(), shard, envelope, results })
}

/// settings without `shard`, to compare shards.
fn settings_but_shard(v: &Value) -> Value {
    let mut s = v.get("settings").cloned().unwrap_or(Value::Null);
    if let Some(o) = s.as_object_mut() {
        o.remove("shard");
    }
    s
}

/// What a merge joined.
#[derive(Debug)]
pub struct Merged {
    pub command: String,
    pub shards: usize,
    pub images: usize,
    pub results: AttackResults,
}

/// Merge the shard directories `dirs` (any order) into `out_dir`.
pub fn merge_dirs(dirs: &[PathBuf], out_dir: &Path) -> Result<Merged> {
    if dirs.is_empty() {
        bail!("merge: give the shards' output directories");
    }
    let mut parts = dirs.iter().map(|d| read_part(d)).collect::<Result<Vec<_>>>()?;
    parts.sort_by_key(|p| p.shard.k);
    let first = &parts[0];
    let n = first.shard.n;
    let command = first.envelope.get("command").and_then(Value::as_str).unwrap_or("").to_string();
    let settings = settings_but_shard(&first.envelope);
    for p in &parts {
        if p.shard.n != n {
            bail!(
                "{}: shard {} does not belong to the {n}-shard run of {}",
                p.dir.display(),
                p.shard,
                first.dir.display()
            );
        }
        let c = p.envelope.get("command").and_then(Value::as_str).unwrap_or("");
        if c != command {
            bail!("{}: results of `advlab {c}`, but {} holds `advlab {command}`", p.dir.display(), first.dir.display());
        }
        if settings_but_shard(&p.envelope) != settings {
            bail!(
                "{}: settings differ from {}'s (shards must share every setting but --shard)",
                p.dir.display(),
                first.dir.display()
            );
        }
    }
    for (want, p) in (1..=n).zip(&parts) {
        if p.shard.k != want {
            let what = if p.shard.k < want { "given twice" } else { "missing" };
            bail!("merge: shard {want}/{n} is {what} ({} directories given for {n} shards)", parts.len());
        }
    }
    if parts.len() != n {
        bail!("merge: {} directories given for {n} shards (shard {}/{n} is missing)", parts.len(), parts.len() + 1);
    }

    // Arrays: concatenated in shard order.
    let cat_f32 = |name: &str| -> Result<Option<(Vec<usize>, Vec<f32>)>> {
        if !parts[0].dir.join(name).exists() {
            return Ok(None);
        }
        let mut shape: Option<Vec<usize>> = None;
        let mut all = Vec::new();
        for p in &parts {
            let (s, v) = npy::read_npy_f32(&p.dir.join(name))?;
            match &mut shape {
                None => shape = Some(s),
                Some(sh) => {
                    if sh.get(1..) != s.get(1..) || s.is_empty() {
                        bail!(
                            "{}: shape {s:?} does not match {}'s {sh:?}",
                            p.dir.join(name).display(),
                            first.dir.display()
                        );
                    }
                    sh[0] += s[0];
                }
            }
            all.extend(v);
        }
        Ok(shape.map(|s| (s, all)))
    };
    let adv = cat_f32("adv.npy")?.ok_or_else(|| anyhow!("{}: no adv.npy", first.dir.display()))?;
    let flow = cat_f32("flow.npy")?;
    let mut labels = Vec::new();
    for p in &parts {
        labels.extend(npy::read_npy_labels(&p.dir.join("labels.npy"))?);
    }

    // Records, summary, sweep and timing.
    let per_image: Vec<_> = parts.iter().flat_map(|p| p.results.per_image.iter().cloned()).collect();
    if per_image.len() != adv.0[0] || labels.len() != adv.0[0] {
        bail!(
            "merge: {} records, {} labels and {} adversarial images do not agree",
            per_image.len(),
            labels.len(),
            adv.0[0]
        );
    }
    let sweep = match &parts[0].results.sweep {
        None => None,
        Some(s0) => {
            let mut acc: Vec<SweepPoint> = s0.clone();
            for p in &parts[1..] {
                let s = p.results.sweep.as_ref().filter(|s| s.len() == acc.len()).ok_or_else(|| {
                    anyhow!("{}: its sweep does not match {}'s", p.dir.display(), first.dir.display())
                })?;
                acc = acc.iter().zip(s).map(|(a, b)| a.add(b)).collect();
            }
            Some(acc)
        }
    };
    let seconds: f64 = parts.iter().map(|p| p.results.timing.seconds).sum();
    let mut results = AttackResults::new(per_image, seconds, sweep);
    results.timing = Timing::new(seconds, results.per_image.len());

    let mut env = first.envelope.clone();
    if let Some(s) = env.pointer_mut("/settings/shard") {
        *s = Value::Null;
    }
    let adapters: Vec<&Value> = parts.iter().map(|p| p.envelope.get("adapter").unwrap_or(&Value::Null)).collect();
    if adapters.iter().any(|a| *a != adapters[0]) {
        env["adapter"] = Value::String(format!(
            "mixed: {}",
            adapters.iter().map(|a| a.as_str().unwrap_or("?")).collect::<Vec<_>>().join("; ")
        ));
    }
    env["merged_from"] = Value::Array(parts.iter().map(|p| Value::String(p.dir.display().to_string())).collect());
    env["results"] = serde_json::to_value(&results)?;

    let results_path = out_dir.join("results.json");
    report::check_results_path(&results_path, &command)?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("--out-dir {}: cannot create", out_dir.display()))?;
    npy::write_npy_f32(&out_dir.join("adv.npy"), &adv.0, &adv.1)?;
    npy::write_npy_i64(&out_dir.join("labels.npy"), &[labels.len()], &labels)?;
    if let Some((s, f)) = &flow {
        npy::write_npy_f32(&out_dir.join("flow.npy"), s, f)?;
    }
    let grid = first.dir.join("grid.png");
    if grid.exists() {
        crate::fsutil::write_atomic(&out_dir.join("grid.png"), &std::fs::read(&grid)?)?;
    }
    if let Some(s) = &results.sweep {
        report::plot::save_robust_accuracy(&out_dir.join(report::plot::SWEEP_PNG), s, &command)?;
    }
    report::write_json(&results_path, &env)?;
    Ok(Merged { command, shards: n, images: results.per_image.len(), results })
}

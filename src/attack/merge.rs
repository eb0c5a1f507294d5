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
use crate::shard::{check_shard_set, read_shard_output, ShardOutput};

/// One shard's output directory, read.
struct Part {
    dir: PathBuf,
    envelope: Value,
    results: AttackResults,
}

fn read_part(out: ShardOutput) -> Result<Part> {
    let results: AttackResults = serde_json::from_value(out.envelope.get("results").cloned().unwrap_or(Value::Null))
        .map_err(|e| anyhow!("{}: results are not an attack's results ({e})", out.path.display()))?;
    let dir = out.path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Part { dir, envelope: out.envelope, results })
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
    let mut outs = dirs.iter().map(|d| read_shard_output(&d.join("results.json"))).collect::<Result<Vec<_>>>()?;
    check_shard_set(&mut outs)?;
    let command = outs[0].command.clone();
    let parts = outs.into_iter().map(read_part).collect::<Result<Vec<_>>>()?;
    let first = &parts[0];

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
    Ok(Merged { command, shards: parts.len(), images: results.per_image.len(), results })
}

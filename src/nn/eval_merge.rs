//! `advlab merge` of sharded evals (`advlab eval --shard K/N`): the
//! records concatenated in shard order and the summary, per-class accuracy
//! and confusion recomputed from them, so the merged results.json equals
//! the unsharded eval's (timing apart: the shards' seconds are summed).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use serde_json::Value;

use super::eval::EvalResults;
use crate::report;
use crate::shard::{check_shard_set, read_shard_output};

/// Merge the results of eval shards (`--results` files, or directories
/// holding results.json) into `out_dir/results.json`.
pub fn merge_eval(paths: &[PathBuf], out_dir: &Path) -> Result<EvalResults> {
    let mut parts = paths.iter().map(|p| read_shard_output(p)).collect::<Result<Vec<_>>>()?;
    check_shard_set(&mut parts)?;
    let mut per_image = Vec::new();
    let mut seconds = 0.0;
    let mut classes = 0;
    for p in &parts {
        let r: EvalResults = serde_json::from_value(p.envelope.get("results").cloned().unwrap_or(Value::Null))
            .map_err(|e| anyhow!("{}: results are not an eval's results ({e})", p.path.display()))?;
        classes = r.confusion.len();
        seconds += r.seconds;
        per_image.extend(r.per_image);
    }
    let results = EvalResults::from_records(per_image, classes, seconds);
    let mut env = parts[0].envelope.clone();
    if let Some(s) = env.pointer_mut("/settings/shard") {
        *s = Value::Null;
    }
    env["merged_from"] = Value::Array(parts.iter().map(|p| Value::String(p.path.display().to_string())).collect());
    env["results"] = serde_json::to_value(&results)?;
    let out = out_dir.join("results.json");
    report::check_results_path(&out, "eval")?;
    report::write_json(&out, &env)?;
    Ok(results)
}

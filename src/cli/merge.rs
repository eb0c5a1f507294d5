//! `advlab merge DIR... --out-dir D`: join sharded attack outputs
//! (`attack::merge`) or sharded evals (`nn::eval_merge`) and print the
//! merged summary.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::attack::merge::merge_dirs;
use crate::report;

pub fn run(dirs: &[PathBuf], out_dir: &Path) -> Result<()> {
    if let Some(first) = dirs.first() {
        if crate::shard::read_shard_output(first)?.command == "eval" {
            return merge_eval(dirs, out_dir);
        }
    }
    let m = merge_dirs(dirs, out_dir)?;
    let s = &m.results.summary;
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", 100.0 * v));
    println!(
        "{}",
        report::markdown_table(
            &["command", "shards", "images", "clean acc", "success (of correct)", "robust acc"],
            &[vec![
                m.command.clone(),
                m.shards.to_string(),
                m.images.to_string(),
                pct(Some(s.clean_accuracy)),
                format!("{} ({})", s.successes, pct(s.success_rate)),
                pct(Some(s.robust_accuracy)),
            ]]
        )
    );
    println!("(merged into {})", out_dir.display());
    Ok(())
}

fn merge_eval(paths: &[PathBuf], out_dir: &Path) -> Result<()> {
    let r = crate::nn::eval_merge::merge_eval(paths, out_dir)?;
    println!(
        "{}",
        report::markdown_table(
            &["command", "shards", "images", "correct", "accuracy", "mean loss"],
            &[vec![
                "eval".into(),
                paths.len().to_string(),
                r.eval.n.to_string(),
                r.eval.correct.to_string(),
                format!("{:.2}%", 100.0 * r.eval.accuracy),
                format!("{:.4}", r.eval.mean_loss),
            ]]
        )
    );
    println!("(merged into {})", out_dir.join("results.json").display());
    Ok(())
}

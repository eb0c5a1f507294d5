//! `advlab eval` and `advlab predict`.

use std::path::Path;

use anyhow::{bail, Result};
use serde_json::json;

use crate::data::{self, check_classes, npy, DataSpec, Selection};
use crate::gpu::GpuOptions;
use crate::nn::{capacity, eval, Arch, Model};
use crate::report;
use crate::shard::{shard_selected, Shard};

/// What `advlab eval` scores.
pub struct EvalArgs<'a> {
    pub arch: &'a str,
    pub model: &'a Path,
    pub data: &'a DataSpec,
    pub selection: &'a Selection,
    pub batch: usize,
    pub results: &'a Path,
    /// `--shard K/N` (`Shard::ALL` without it).
    pub shard: Shard,
}

pub fn eval(gpu_opts: &GpuOptions, a: &EvalArgs) -> Result<()> {
    let arch = Arch::parse(a.arch)?;
    capacity::check_batch(a.batch)?;
    report::check_results_path(a.results, "eval")?;
    let sel = shard_selected(data::load_selected(a.data, a.selection)?, a.shard)?;
    let what = match &a.selection.indices {
        Some(p) => format!("--data {} ({} split, --indices {})", a.data, a.selection.split, p.display()),
        None => format!("--data {} ({} split)", a.data, a.selection.split),
    };
    check_classes(&what, &sel.data.labels, arch.classes)?;
    let gpu = super::open_gpu(gpu_opts)?;
    let model = Model::load(&gpu, arch, a.model)?;
    let batch = capacity::device_batch(&model.arch, &gpu, a.batch, capacity::Pass::Forward)?;
    if let Some(note) = batch.note() {
        eprintln!("{note}");
    }
    let t = std::time::Instant::now();
    let recs = eval::evaluate_records(&gpu, &model, &sel.data, &sel.index, &what, batch)?;
    let secs = t.elapsed().as_secs_f64();
    let ev = eval::score_records(&recs, model.arch.classes);
    println!(
        "{}",
        report::markdown_table(
            &["model", "split", "shard", "images", "correct", "accuracy", "mean loss", "images/s"],
            &[vec![
                a.model.display().to_string(),
                a.selection.split.to_string(),
                if a.shard.is_all() { "-".into() } else { a.shard.to_string() },
                ev.n.to_string(),
                ev.correct.to_string(),
                format!("{:.2}%", 100.0 * ev.accuracy),
                format!("{:.4}", ev.mean_loss),
                format!("{:.0}", ev.n as f64 / secs)
            ]]
        )
    );
    println!("{}", ev.per_class_markdown());
    println!("{}", ev.confusion_markdown());
    let results = eval::EvalResults::from_records(recs, model.arch.classes, secs);
    report::write_json(
        a.results,
        &report::envelope(
            "eval",
            Some(&gpu),
            json!({
                "arch": model.arch.spec,
                "model": a.model,
                "data": a.data.to_string(),
                "split": a.selection.split.to_string(),
                "indices": a.selection.indices,
                "shard": (!a.shard.is_all()).then(|| a.shard.to_string()),
                "batch": a.batch,
                "device_batch": batch.size,
            }),
            serde_json::to_value(&results)?,
        ),
    )?;
    super::print_profile(&gpu);
    Ok(())
}

pub fn predict(
    gpu_opts: &GpuOptions,
    arch: &str,
    model_path: &Path,
    input: &Path,
    out: &Path,
    batch: usize,
) -> Result<()> {
    let arch = Arch::parse(arch)?;
    capacity::check_batch(batch)?;
    let (shape, x) = npy::read_npy_f32(input)?;
    let per = arch.input_len();
    if shape.is_empty() || shape.iter().skip(1).product::<usize>() != per {
        bail!(
            "{}: shape {:?} does not fit --arch {} (expected N×{}×{}×{} or N×{})",
            input.display(),
            shape,
            arch.spec,
            arch.input[0],
            arch.input[1],
            arch.input[2],
            per
        );
    }
    npy::check_pixels(input, &x)?;
    let n = shape[0];
    let gpu = super::open_gpu(gpu_opts)?;
    let model = Model::load(&gpu, arch, model_path)?;
    let k = model.arch.classes;
    let batch = capacity::device_batch(&model.arch, &gpu, batch, capacity::Pass::Forward)?;
    if let Some(note) = batch.note() {
        eprintln!("{note}");
    }
    let logits = eval::predict_logits(&gpu, &model, &x, batch)?;
    npy::write_npy_f32(out, &[n, k], &logits)?;
    eprintln!("wrote {} ({n}×{k} logits)", out.display());
    super::print_profile(&gpu);
    Ok(())
}

//! `advlab eval` and `advlab predict`.

use std::path::Path;

use anyhow::{bail, Result};
use serde_json::json;

use crate::data::{self, npy, DataSpec, Split};
use crate::gpu::GpuOptions;
use crate::nn::train;
use crate::nn::{Arch, Model};
use crate::report;

pub fn eval(
    gpu_opts: &GpuOptions,
    arch: &str,
    model_path: &Path,
    spec: &DataSpec,
    batch: usize,
    results: &Path,
) -> Result<()> {
    let arch = Arch::parse(arch)?;
    let test = data::load(spec, Split::Test)?;
    let gpu = super::open_gpu(gpu_opts)?;
    let model = Model::load(&gpu, arch, model_path)?;
    let t = std::time::Instant::now();
    let ev = train::evaluate(&gpu, &model, &test, batch)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{}",
        report::markdown_table(
            &["model", "images", "correct", "accuracy", "mean loss", "images/s"],
            &[vec![
                model_path.display().to_string(),
                ev.n.to_string(),
                ev.correct.to_string(),
                format!("{:.2}%", 100.0 * ev.accuracy),
                format!("{:.4}", ev.mean_loss),
                format!("{:.0}", ev.n as f64 / secs)
            ]]
        )
    );
    report::write_json(
        results,
        &report::envelope(
            "eval",
            Some(&gpu),
            json!({"arch": model.arch.spec, "model": model_path, "data": format!("{spec:?}"), "batch": batch}),
            json!({"eval": ev, "seconds": secs}),
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
    let mut logits = Vec::with_capacity(n * k);
    for start in (0..n).step_by(batch.max(1)) {
        let m = batch.min(n - start);
        let [c, h, w] = model.arch.input;
        let xt = gpu.upload(&x[start * per..(start + m) * per], &[m, c, h, w]);
        logits.extend(gpu.read(&model.logits(&gpu, &xt)));
    }
    npy::write_npy_f32(out, &[n, k], &logits)?;
    eprintln!("wrote {} ({n}×{k} logits)", out.display());
    super::print_profile(&gpu);
    Ok(())
}

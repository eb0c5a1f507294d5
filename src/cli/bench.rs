//! `advlab bench train` (and `bench gemm`, see crate::bench).

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use crate::data::{self, DataSpec, Split};
use crate::gpu::GpuOptions;
use crate::nn::optim::{OptimConfig, OptimKind, Optimizer};
use crate::nn::train::{self, TrainConfig};
use crate::nn::{Arch, Model};
use crate::report;

/// Training throughput: one warm-up epoch (JIT, pool fill), then `epochs`
/// timed epochs.
pub fn train(gpu_opts: &GpuOptions, arch: &str, spec: &DataSpec, batch: usize, epochs: usize, results: &Path) -> Result<()> {
    let arch_p = Arch::parse(arch)?;
    let data = data::load(spec, Split::Train)?;
    let gpu = super::open_gpu(gpu_opts)?;
    let model = Model::init(&gpu, arch_p, 0);
    let cfg = TrainConfig { epochs, batch, optim: OptimConfig::new(OptimKind::Sgd, 0.01), seed: 0, log_every: usize::MAX };
    let mut opt = Optimizer::new(&gpu, &model, cfg.optim);
    model.check_input("bench data", &[data.n, data.c, data.h, data.w])?;
    let warm = train::train_epoch(&gpu, &model, &mut opt, &data, &cfg, 0, 0.01, |_, _, _| {})?;
    let mut rows = Vec::new();
    for e in 0..epochs {
        let st = train::train_epoch(&gpu, &model, &mut opt, &data, &cfg, e + 1, 0.01, |_, _, _| {})?;
        rows.push(st);
    }
    let ips: Vec<f64> = rows.iter().map(|r| r.images_per_sec).collect();
    let best = ips.iter().cloned().fold(0.0, f64::max);
    let secs_60k = 60_000.0 / best;
    println!(
        "{}",
        report::markdown_table(
            &["adapter", "arch", "batch", "images", "warm-up images/s", "best images/s", "s per 60k-image epoch"],
            &[vec![
                gpu.adapter_name(),
                arch.to_string(),
                batch.to_string(),
                data.n.to_string(),
                format!("{:.0}", warm.images_per_sec),
                format!("{best:.0}"),
                format!("{secs_60k:.2}"),
            ]]
        )
    );
    println!("reference on the 2-core CI machine (lavapipe): Burn wgpu 17 s/epoch, PyTorch CPU 0.73 s/epoch");
    report::write_json(
        results,
        &report::envelope(
            "bench train",
            Some(&gpu),
            json!({"arch": arch, "data": format!("{spec:?}"), "batch": batch, "epochs": epochs, "seed": 0, "optim": "sgd lr 0.01"}),
            json!({"warmup_images_per_sec": warm.images_per_sec, "images_per_sec": ips, "best_images_per_sec": best, "seconds_per_60k_epoch": secs_60k}),
        ),
    )?;
    super::print_profile(&gpu);
    Ok(())
}

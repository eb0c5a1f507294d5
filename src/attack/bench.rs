//! Attack throughput (`advlab bench attack`).

use std::sync::Arc;

use anyhow::{bail, Result};
use serde::Serialize;

use super::{
    random_targets, run_attack, summarize, AttackConfig, CwConfig, FgsmConfig, JsmaConfig, PgdConfig, RunOptions,
};
use crate::data::Dataset;
use crate::gpu::Gpu;
use crate::nn::Model;

/// One benchmark row.
#[derive(Clone, Debug, Serialize)]
pub struct AttackBench {
    pub method: &'static str,
    pub settings: AttackConfig,
    pub targeted: bool,
    pub images: usize,
    pub batch: usize,
    pub seconds: f64,
    pub images_per_sec: f64,
    pub success_rate: f64,
    pub mean_iterations: f64,
    pub mean_l2_success: Option<f64>,
}

/// Every method at its CLI defaults (SPEC §1-3): FGSM ε 0.3; PGD ε 0.3,
/// a 0.01, 40 steps, random start; C&W 5×1000, lr 5e-3, c0 1e-2, abort
/// early; JSMA θ 1, γ 0.1, probabilities.
pub fn default_bench_configs() -> Vec<AttackConfig> {
    vec![
        AttackConfig::Fgsm(FgsmConfig::default()),
        AttackConfig::Pgd(PgdConfig::default()),
        AttackConfig::Cw(CwConfig::default()),
        AttackConfig::Jsma(JsmaConfig::default()),
    ]
}

/// Images/s of each attack in `configs` on the first `count` images of
/// `data`. FGSM and PGD run untargeted against the labels; C&W and JSMA
/// run targeted at seeded random targets (the thesis protocol). Each
/// method first runs once on 2 images so kernel compilation is not timed.
pub fn bench_attacks(
    gpu: &Arc<Gpu>,
    model: &Model,
    data: &Dataset,
    configs: &[AttackConfig],
    count: usize,
    batch: usize,
    seed: u64,
) -> Result<Vec<AttackBench>> {
    let data = data.take_first(count);
    if data.n == 0 {
        bail!("bench attack: no images (count {count})");
    }
    model.check_input("bench attack data", &[data.n, data.c, data.h, data.w])?;
    let targets = random_targets(&data.labels, model.arch.classes, seed)?;
    let opts = RunOptions { batch, seed, ..Default::default() };
    let mut rows = Vec::new();
    for cfg in configs {
        let targeted = matches!(cfg, AttackConfig::Cw(_) | AttackConfig::Jsma(_));
        let t = targeted.then_some(targets.as_slice());
        let warm = data.take_first(2);
        run_attack(gpu, model, &warm.images, &warm.labels, t.map(|t| &t[..warm.n]), cfg, &opts)?;
        let r = run_attack(gpu, model, &data.images, &data.labels, t, cfg, &opts)?;
        let s = summarize(&r);
        rows.push(AttackBench {
            method: cfg.name(),
            settings: cfg.clone(),
            targeted,
            images: data.n,
            batch,
            seconds: s.seconds,
            images_per_sec: s.images_per_sec,
            success_rate: s.success_rate,
            mean_iterations: s.mean_iterations,
            mean_l2_success: s.l2_success.map(|x| x.mean),
        });
    }
    Ok(rows)
}

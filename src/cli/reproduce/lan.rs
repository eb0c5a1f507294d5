//! `advlab reproduce lan`: flags only; the work is in `crate::reproduce::lan`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::detect::adaptive::AdaptiveConfig;
use crate::detect::lan::LossKind;
use crate::detect::noise::NoiseKind;
use crate::gpu::GpuOptions;
use crate::reproduce::lan::LanReproConfig;

fn parse<T: std::str::FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>().map_err(|e| e.to_string())
}

fn list<T: std::str::FromStr>(flag: &str, s: &str) -> Result<Vec<T>> {
    s.split(',')
        .map(|v| v.trim().parse::<T>().map_err(|_| anyhow::anyhow!("{flag} {s}: {v:?} is not a number")))
        .collect()
}

/// Defaults are the run in results/lan (about 50 minutes on a 2-core lavapipe
/// machine; attacks on a few hundred test images with C&W cut to 2 binary
/// steps × 50 iterations); results/lan/README.md gives the reasons.
#[derive(Args)]
pub struct ReproduceLanArgs {
    /// Output directory (tables.md, results.json, lan/f2 safetensors, PNGs, adv_*.npy, stages/)
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Data set (CIFAR-10)
    #[arg(long, default_value = "cifar10:../shared/data/cifar-10-batches-bin")]
    pub data: String,
    /// f1's architecture
    #[arg(long, default_value = "alexnet-cifar")]
    pub arch: String,
    /// f1's weights
    #[arg(long, default_value = "results/alexnet-cifar/alexnet-cifar-final.safetensors")]
    pub model: PathBuf,
    /// Transfer source architecture
    #[arg(long, default_value = "vgg-cifar:8:d0.25")]
    pub src_arch: String,
    /// Transfer source weights
    #[arg(long, default_value = "results/vgg-cifar/run-d0.25/vgg-cifar8-d025.safetensors")]
    pub src_model: PathBuf,
    /// Seed of the validation split, initialisations, noise, shuffles and JSMA targets
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training images held out for choosing β
    #[arg(long, default_value_t = 5000)]
    pub val: usize,
    /// β values of the sweep (comma-separated, each >= 0)
    #[arg(long, default_value = "0.1,0.5,1,2,5", allow_hyphen_values = true)]
    pub betas: String,
    /// Use this β and skip the sweep
    #[arg(long, allow_negative_numbers = true)]
    pub beta: Option<f32>,
    /// Sweep: training images per β
    #[arg(long, default_value_t = 5000)]
    pub sweep_count: usize,
    /// Sweep: LAN epochs per β
    #[arg(long, default_value_t = 2)]
    pub sweep_epochs: usize,
    /// Sweep: validation images whose masks score f2
    #[arg(long, default_value_t = 2000)]
    pub sweep_val: usize,
    /// Sweep: f2 epochs per β
    #[arg(long, default_value_t = 15)]
    pub sweep_f2_epochs: usize,
    /// The mask network
    #[arg(long, default_value = "mask:3x32x32-1024-1024")]
    pub lan_arch: String,
    /// LAN: training images (first N of the training split less the validation images)
    #[arg(long, default_value_t = 45000)]
    pub lan_count: usize,
    /// LAN: epochs
    #[arg(long, default_value_t = 5)]
    pub lan_epochs: usize,
    /// LAN: images per Adam step
    #[arg(long, default_value_t = 64)]
    pub lan_batch: usize,
    /// LAN: Adam learning rate
    #[arg(long, default_value_t = 1e-3)]
    pub lan_lr: f32,
    /// Noise H: marginal or uniform
    #[arg(long, value_parser = parse::<NoiseKind>, default_value = "marginal")]
    pub noise: NoiseKind,
    /// L_F: xent or mse
    #[arg(long, value_parser = parse::<LossKind>, default_value = "xent")]
    pub loss: LossKind,
    /// f2's architecture (takes the masks); `:bn` standardises each mask pixel first
    #[arg(long, default_value = "lenet:3x32x32:bn")]
    pub f2_arch: String,
    /// f2: training images whose masks it learns from
    #[arg(long, default_value_t = 45000)]
    pub f2_count: usize,
    /// f2: epochs
    #[arg(long, default_value_t = 15)]
    pub f2_epochs: usize,
    /// f2: Adam learning rate
    #[arg(long, default_value_t = 1e-3)]
    pub f2_lr: f32,
    /// FGSM: L∞ ε
    #[arg(long, default_value_t = 0.03)]
    pub fgsm_eps: f32,
    /// FGSM on f1: test images (the first N)
    #[arg(long, default_value_t = 500)]
    pub fgsm_count: usize,
    /// JSMA on f1: test images (random targets)
    #[arg(long, default_value_t = 100)]
    pub jsma_count: usize,
    /// JSMA: largest fraction of features changed
    #[arg(long, default_value_t = 0.1)]
    pub jsma_gamma: f64,
    /// C&W on f1: test images
    #[arg(long, default_value_t = 200)]
    pub cw_count: usize,
    /// C&W: iterations per binary step
    #[arg(long, default_value_t = 50)]
    pub cw_iters: usize,
    /// C&W: binary search steps
    #[arg(long, default_value_t = 2)]
    pub cw_steps: usize,
    /// C&W: initial constant c
    #[arg(long, default_value_t = 0.1)]
    pub cw_c0: f64,
    /// Transfer FGSM: test images attacked on the source
    #[arg(long, default_value_t = 500)]
    pub transfer_fgsm_count: usize,
    /// Transfer JSMA: test images (0 skips)
    #[arg(long, default_value_t = 300)]
    pub transfer_jsma_count: usize,
    /// Transfer C&W: test images (0 skips)
    #[arg(long, default_value_t = 200)]
    pub transfer_cw_count: usize,
    /// Transfer C&W: confidence κ (high-confidence examples transfer)
    #[arg(long, default_value_t = 5.0)]
    pub transfer_cw_kappa: f32,
    /// Adaptive attack: test images (first N that f1 classifies correctly)
    #[arg(long, default_value_t = 100)]
    pub adaptive_count: usize,
    /// Adaptive attack: constants c (comma-separated, tried in order)
    #[arg(long, default_value = "1,10", allow_hyphen_values = true)]
    pub adaptive_c: String,
    /// Adaptive attack: Adam steps per constant
    #[arg(long, default_value_t = 50)]
    pub adaptive_iters: usize,
    /// Adaptive attack: Adam learning rate (pixels)
    #[arg(long, default_value_t = 0.01)]
    pub adaptive_lr: f32,
    /// Adaptive attack: margin κ
    #[arg(long, default_value_t = 0.0)]
    pub adaptive_kappa: f32,
    /// Images per attack batch
    #[arg(long, default_value_t = 100)]
    pub attack_batch: usize,
    /// Image / mask pairs in the PNG grids
    #[arg(long, default_value_t = 16)]
    pub grid: usize,
    /// Kept x* saved per attack (adv_NAME.npy with adv_NAME_indices.npy)
    #[arg(long, default_value_t = 100)]
    pub keep_adv: usize,
    /// Reuse the sweep, LAN, f2 and attacks already in --out-dir when their settings match
    #[arg(long)]
    pub resume: bool,
}

impl ReproduceLanArgs {
    pub fn config(&self) -> Result<LanReproConfig> {
        Ok(LanReproConfig {
            data: self.data.clone(),
            f1_arch: self.arch.clone(),
            f1_model: self.model.clone(),
            src_arch: self.src_arch.clone(),
            src_model: self.src_model.clone(),
            seed: self.seed,
            val: self.val,
            betas: list("--betas", &self.betas)?,
            beta: self.beta,
            sweep_count: self.sweep_count,
            sweep_epochs: self.sweep_epochs,
            sweep_val: self.sweep_val,
            sweep_f2_epochs: self.sweep_f2_epochs,
            lan_arch: self.lan_arch.clone(),
            lan_count: self.lan_count,
            lan_epochs: self.lan_epochs,
            lan_batch: self.lan_batch,
            lan_lr: self.lan_lr,
            noise: self.noise,
            loss: self.loss,
            f2_arch: self.f2_arch.clone(),
            f2_count: self.f2_count,
            f2_epochs: self.f2_epochs,
            f2_lr: self.f2_lr,
            fgsm_eps: self.fgsm_eps,
            fgsm_count: self.fgsm_count,
            jsma_count: self.jsma_count,
            jsma_gamma: self.jsma_gamma,
            cw_count: self.cw_count,
            cw_iters: self.cw_iters,
            cw_steps: self.cw_steps,
            cw_c0: self.cw_c0,
            transfer_fgsm_count: self.transfer_fgsm_count,
            transfer_jsma_count: self.transfer_jsma_count,
            transfer_cw_count: self.transfer_cw_count,
            transfer_cw_kappa: self.transfer_cw_kappa,
            adaptive_count: self.adaptive_count,
            adaptive: AdaptiveConfig {
                cs: list("--adaptive-c", &self.adaptive_c)?,
                iters: self.adaptive_iters,
                lr: self.adaptive_lr,
                kappa: self.adaptive_kappa,
            },
            attack_batch: self.attack_batch,
            grid: self.grid,
            keep_adv: self.keep_adv,
            resume: self.resume,
        })
    }
}

pub fn run(gpu_opts: &GpuOptions, a: &ReproduceLanArgs) -> Result<()> {
    let cfg = a.config()?;
    cfg.validate()?;
    let gpu = super::super::open_gpu(gpu_opts)?;
    let command: String = std::env::args().collect::<Vec<_>>().join(" ");
    crate::reproduce::lan::run(&gpu, &cfg, &a.out_dir, &command)?;
    super::super::print_profile(&gpu);
    Ok(())
}

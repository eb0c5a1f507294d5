//! `advlab reproduce …`: the thesis' experiments as one command each (flags
//! only; the work is in `crate::reproduce`).

use anyhow::Result;
use clap::Subcommand;

use crate::gpu::GpuOptions;

pub mod fig6;
pub mod lan;

// Parsed once per process, so the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum ReproduceCmd {
    /// Thesis Fig. 6 (SPEC §8): targeted stAdv with the τ search on a plain and a certified MLP, same images and targets; soft/strict success per flow-loss setting, certificate bound checked on every image
    Fig6(fig6::Fig6Args),
    /// Thesis §3 on CIFAR-10: β sweep, LAN, f2, Tables 1–4 (FGSM, JSMA, C&W; direct and transfer), ROC, adaptive attack
    Lan(lan::ReproduceLanArgs),
}

pub fn run(gpu_opts: &GpuOptions, cmd: &ReproduceCmd) -> Result<()> {
    match cmd {
        ReproduceCmd::Fig6(a) => fig6::run(gpu_opts, a),
        ReproduceCmd::Lan(a) => lan::run(gpu_opts, a),
    }
}

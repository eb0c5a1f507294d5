//! `advlab certify`: SDP certificates of a one-hidden-layer MLP against
//! spatial flows (SPEC §7) or pixel L∞ (SPEC §6); the work is
//! certify::run::certify.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::certify::batch::Solver;
use crate::certify::network::Threat;
use crate::certify::run::{self, CertifyOptions};
use crate::certify::sdp::SdpOptions;
use crate::data::DataSpec;
use crate::gpu::GpuOptions;
use crate::ops::tv::{Neighbours, Padding};
use crate::report;

fn parse_data(s: &str) -> Result<DataSpec, String> {
    DataSpec::parse(s).map_err(|e| e.to_string())
}

/// `advlab certify`
#[derive(Args, Clone, Debug)]
pub struct CertifyCmd {
    /// Architecture: mlp:D-H-K (one hidden ReLU layer), like mlp:784-500-10
    #[arg(long)]
    pub arch: String,
    /// Model file (safetensors)
    #[arg(long)]
    pub model: PathBuf,
    /// flow (‖N r‖₂ ≤ ε, bound ε/2·U) or linf (‖x̃ − x‖∞ ≤ ε, bound ε/4·U)
    #[arg(long, value_enum)]
    pub threat: Threat,
    /// Budgets ε, comma-separated, each > 0
    #[arg(long, value_delimiter = ',', required = true, allow_negative_numbers = true)]
    pub eps: Vec<f64>,
    /// Neighbour set S of N (flow; the same as the attack's L_flow)
    #[arg(long, value_enum, default_value_t = Neighbours::Diag4)]
    pub neighbours: Neighbours,
    /// Flow outside the image (flow): only constant works, symmetric makes NᵀN singular
    #[arg(long, value_enum, default_value_t = Padding::Constant)]
    pub padding: Padding,
    /// Pixel range γ bounding the image gradient (flow; 1 for [0,1] pixels)
    #[arg(long, default_value_t = 1.0)]
    pub gamma: f64,
    /// Data: mnist:DIR, npy:X.npy,Y.npy (default: bundled MNIST subset); the test split is used
    #[arg(long, value_parser = parse_data, default_value = "bundled")]
    pub data: DataSpec,
    /// Certify the first N test images
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Certify these test-set indices instead (.npy of integers)
    #[arg(long)]
    pub indices: Option<PathBuf>,
    /// Output directory (created)
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Per-pair relative gap: upper − lower ≤ tol·|lower|
    #[arg(long, default_value_t = 1e-3)]
    pub tol: f64,
    /// Sweep limit of the mixing method per pair
    #[arg(long, default_value_t = 3000)]
    pub max_sweeps: usize,
    /// Columns of each pair's factor (default ⌈√(2D)⌉ + 1)
    #[arg(long)]
    pub rank: Option<usize>,
    /// Seed of the starting factors
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sweeps between convergence checks
    #[arg(long, default_value_t = 10)]
    pub check_every: usize,
    /// gpu: batched f32 sweeps on the adapter; cpu: f64 sweeps on the host (certificates are f64 either way)
    #[arg(long, value_enum, default_value_t = Solver::Gpu)]
    pub solver: Solver,
    /// Also verify these dual vectors (pairs × D .npy, e.g. the OUT.cert-duals.npy of `train --certify`);
    /// each pair keeps the lower of the two verified bounds
    #[arg(long)]
    pub duals: Option<PathBuf>,
}

pub fn run(gpu_opts: &GpuOptions, c: &CertifyCmd) -> Result<()> {
    let o = CertifyOptions {
        arch: c.arch.clone(),
        model: c.model.clone(),
        threat: c.threat,
        eps: c.eps.clone(),
        neighbours: c.neighbours,
        padding: c.padding,
        gamma: c.gamma,
        data: c.data.clone(),
        count: c.count,
        indices: c.indices.clone(),
        out_dir: c.out_dir.clone(),
        solver: c.solver,
        sdp: SdpOptions {
            tol: c.tol,
            max_sweeps: c.max_sweeps,
            rank: c.rank,
            seed: c.seed,
            check_every: c.check_every,
        },
        duals: c.duals.clone(),
        command_line: super::sdp::command_line(),
    };
    let s = run::certify(gpu_opts, &o)?;
    let worst = s.pairs.iter().map(|p| p.gap / p.lower.abs().max(1e-300)).fold(0.0, f64::max);
    let sweeps = s.pairs.iter().map(|p| p.sweeps).max().unwrap_or(0);
    eprintln!(
        "{} pair certificates in {:.1} s (max {sweeps} sweeps, worst relative gap {worst:.2e}); clean accuracy {:.2}%",
        s.pairs.len(),
        s.seconds_pairs,
        100.0 * s.clean_accuracy
    );
    let rows: Vec<Vec<String>> = s
        .eps
        .iter()
        .zip(&s.certified_accuracy)
        .map(|(e, a)| vec![format!("{e}"), format!("{:.2}%", 100.0 * a)])
        .collect();
    println!("{}", report::markdown_table(&["eps", "certified accuracy"], &rows));
    eprintln!("wrote {}", c.out_dir.display());
    Ok(())
}

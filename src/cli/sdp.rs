//! `advlab sdp`: the generic SDP max ⟨P, Z⟩, diag Z ≤ 1, Z ⪰ 0 for a dense
//! symmetric P from an .npy file (f64 reference solver, certify::sdp).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

use crate::certify::sdp::{self, SdpOptions};
use crate::data::npy;
use crate::report;

/// `advlab sdp`
#[derive(Args, Clone, Debug)]
pub struct SdpCmd {
    /// Symmetric matrix P, D×D, float64 or float32 (any diagonal: a negative
    /// diagonal entry lets Z_ii < 1 at the optimum)
    #[arg(long)]
    pub matrix: PathBuf,
    /// Directory for results.json and c.npy (created)
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Stop once upper − lower ≤ tol·|lower|
    #[arg(long, default_value_t = 1e-3)]
    pub tol: f64,
    /// Sweep limit of the mixing method
    #[arg(long, default_value_t = 5000)]
    pub max_sweeps: usize,
    /// Columns of the factor V (default ⌈√(2D)⌉ + 1)
    #[arg(long)]
    pub rank: Option<usize>,
    /// Seed of the starting factor
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The command line as typed, for results.json.
pub fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// Check the numeric flags shared by `sdp` and `certify`.
pub fn check_opts(tol: f64, max_sweeps: usize, rank: Option<usize>) -> Result<()> {
    if !(tol > 0.0 && tol.is_finite()) {
        bail!("--tol {tol}: must be finite and > 0");
    }
    if max_sweeps == 0 {
        bail!("--max-sweeps 0: must be at least 1");
    }
    if rank == Some(0) {
        bail!("--rank 0: must be at least 1");
    }
    Ok(())
}

pub fn run(c: &SdpCmd) -> Result<()> {
    check_opts(c.tol, c.max_sweeps, c.rank)?;
    let (shape, p) = npy::read_npy_f64(&c.matrix)?;
    let d = sdp::check_matrix(&c.matrix.display().to_string(), &shape, &p)?;
    // symmetrise exactly (the check allowed 1e-12 relative asymmetry)
    let mut p = p;
    for i in 0..d {
        for j in 0..i {
            let v = 0.5 * (p[i * d + j] + p[j * d + i]);
            p[i * d + j] = v;
            p[j * d + i] = v;
        }
    }
    let opts = SdpOptions { tol: c.tol, max_sweeps: c.max_sweeps, rank: c.rank, seed: c.seed, check_every: 10 };
    let r = sdp::solve_dense(&p, d, &opts);
    write_outputs(&c.out_dir, c, d, &opts, &r)?;
    println!(
        "{}",
        report::markdown_table(
            &["D", "lower", "upper", "gap", "sweeps", "seconds", "converged"],
            &[vec![
                d.to_string(),
                format!("{:.6}", r.lower),
                format!("{:.6}", r.upper),
                format!("{:.3e}", r.gap),
                r.sweeps.to_string(),
                format!("{:.2}", r.seconds),
                r.converged.to_string(),
            ]]
        )
    );
    Ok(())
}

fn write_outputs(dir: &Path, c: &SdpCmd, d: usize, opts: &SdpOptions, r: &sdp::SdpResult) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: cannot create directory: {e}", dir.display()))?;
    npy::write_npy_f64(&dir.join("c.npy"), &[d], &r.c)?;
    let settings = json!({
        "matrix": c.matrix.display().to_string(),
        "dimension": d,
        "tol": opts.tol,
        "max_sweeps": opts.max_sweeps,
        "rank": opts.rank.unwrap_or_else(|| sdp::default_rank(d)),
        "seed": opts.seed,
        "check_every": opts.check_every,
    });
    let results = json!({
        "lower": r.lower,
        "upper": r.upper,
        "gap": r.gap,
        "iterations": r.sweeps,
        "seconds": r.seconds,
        "converged": r.converged,
        "certificate": "P − diag(c) ⪯ 0 verified by f64 Cholesky with its rounding bound; upper = Σ max(c, 0)",
    });
    let mut v = report::envelope("sdp", None, settings, results);
    v["command_line"] = json!(command_line());
    report::write_json(&dir.join("results.json"), &v)
}

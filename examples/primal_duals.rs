//! Duals diag(P VVᵀ) of a primal certified-training run's factors
//! (OUT.cert-primal.npy) on its model, for `advlab certify --duals`:
//! `cargo run --release --example primal_duals -- MODEL ARCH FACTORS OUT.npy` (L∞).
//! Runs of `train --cert-method primal` from this commit on write
//! OUT.cert-duals.npy themselves; this serves runs made before.

use advlab::certify::network::{Mlp, Threat};
use advlab::certify::penalty::PenaltyWeights;
use advlab::certify::primal::PrimalPenalty;

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    anyhow::ensure!(a.len() == 5, "usage: primal_duals MODEL ARCH FACTORS.npy OUT.npy");
    let arch = advlab::nn::Arch::parse(&a[2])?;
    let mlp = Mlp::load(&arch, std::path::Path::new(&a[1]))?;
    let (shape, v) = advlab::data::npy::read_npy_f64(std::path::Path::new(&a[3]))?;
    let pairs = mlp.k * (mlp.k - 1) / 2;
    let rank = shape[1] / pairs;
    let mut pen = PrimalPenalty::new(Threat::Linf, 0.1, 1.0, 1.0, vec![1.0; mlp.d], mlp.k, rank, 1);
    anyhow::ensure!(pen.set_factors(mlp.m, mlp.d, &shape, &v), "{}: shape {shape:?} does not fit {}", a[3], a[2]);
    let net = PenaltyWeights { m: mlp.m, d: mlp.d, k: mlp.k, w1: &mlp.w1, w2: &mlp.w2 };
    let c = pen.duals(&net);
    let vals = pen.values(&net);
    eprintln!(
        "mean <P, VV^T> {:.3}, mean sum(c) {:.3}",
        vals.iter().sum::<f64>() / pairs as f64,
        c.iter().sum::<f64>() / pairs as f64
    );
    advlab::data::npy::write_npy_f64(std::path::Path::new(&a[4]), &[pairs, c.len() / pairs], &c)?;
    Ok(())
}

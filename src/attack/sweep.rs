//! Robust-accuracy sweeps: `--eps 0.05,0.1,0.2,0.3`.
//!
//! FGSM and PGD run once per ε (each run an ordinary attack with that
//! budget); the adversarial images and per-image records kept are those of
//! the largest ε. C&W runs once, unbounded, and ε is an L2 bound on what
//! it found: an image is robust at ε when it was classified correctly and
//! its C&W adversarial was not found or has L2 > ε.

use std::sync::Arc;

use anyhow::{bail, Result};

use super::schema::{records, SweepPoint};
use super::{run_attack_indexed, AttackConfig, AttackResult, RunOptions};
use crate::gpu::Gpu;
use crate::nn::Model;

/// Parse `--eps`: one value, or a comma list of distinct finite values >= 0.
pub fn parse_eps_list(s: &str) -> Result<Vec<f32>> {
    let bad = |p: &str| {
        anyhow::anyhow!(
            "--eps {s:?}: {p:?} is not a finite number >= 0 (give one value or a comma list, e.g. 0.05,0.1,0.2)"
        )
    };
    let mut v = Vec::new();
    for p in s.split(',').map(str::trim) {
        let e: f32 = p.parse().map_err(|_| bad(p))?;
        if !(e.is_finite() && e >= 0.0) {
            return Err(bad(p));
        }
        if v.contains(&e) {
            bail!("--eps {s:?}: {p} is listed twice");
        }
        v.push(e);
    }
    Ok(v)
}

/// `e` as the f64 with the same shortest decimal form (0.05f32 -> 0.05, not 0.05000000074505806).
fn decimal(e: f32) -> f64 {
    e.to_string().parse().unwrap_or(e as f64)
}

impl AttackConfig {
    /// Whether `--eps` may be a list (FGSM, PGD budgets; C&W L2 bounds).
    pub fn sweepable(&self) -> bool {
        matches!(self, AttackConfig::Fgsm(_) | AttackConfig::Pgd(_) | AttackConfig::Cw(_))
    }

    /// The same attack with budget `eps` (FGSM / PGD; others unchanged).
    pub fn with_eps(&self, eps: f32) -> AttackConfig {
        match self {
            AttackConfig::Fgsm(f) => AttackConfig::Fgsm(super::FgsmConfig { eps, ..*f }),
            AttackConfig::Pgd(p) => AttackConfig::Pgd(super::PgdConfig { eps, ..*p }),
            c => c.clone(),
        }
    }
}

/// An attack run, with its sweep when one was asked for.
pub struct SweepRun {
    /// FGSM / PGD: the run at the largest ε; C&W: the one run.
    pub result: AttackResult,
    /// One point per ε, in the order given.
    pub sweep: Vec<SweepPoint>,
    /// Wall time of all runs.
    pub seconds: f64,
}

/// Run `cfg` at every ε of `eps` (see the module doc). Arguments as
/// [`run_attack_indexed`]; `progress(eps, done, total)`.
#[allow(clippy::too_many_arguments)]
pub fn run_sweep(
    gpu: &Arc<Gpu>,
    model: &Model,
    images: &[f32],
    labels: &[u32],
    index: &[usize],
    targets: Option<&[u32]>,
    cfg: &AttackConfig,
    eps: &[f32],
    opts: &RunOptions,
    mut progress: impl FnMut(f32, usize, usize),
) -> Result<SweepRun> {
    if eps.is_empty() {
        bail!("--eps: give at least one value");
    }
    if !cfg.sweepable() {
        bail!("--eps: {} has no ε to sweep (fgsm, pgd and cw do)", cfg.name());
    }
    if let AttackConfig::Cw(_) = cfg {
        let r = run_attack_indexed(gpu, model, images, labels, index, targets, cfg, opts, |d, t| progress(0.0, d, t))?;
        let recs = records(&r);
        let sweep = eps.iter().map(|&e| SweepPoint::from_l2_bound(decimal(e), &recs)).collect();
        return Ok(SweepRun { seconds: r.seconds, result: r, sweep });
    }
    let largest = eps.iter().cloned().fold(f32::MIN, f32::max);
    let mut sweep = Vec::with_capacity(eps.len());
    let mut kept = None;
    let mut seconds = 0.0;
    for &e in eps {
        let c = cfg.with_eps(e);
        let r = run_attack_indexed(gpu, model, images, labels, index, targets, &c, opts, |d, t| progress(e, d, t))?;
        seconds += r.seconds;
        sweep.push(SweepPoint::from_records(decimal(e), &records(&r)));
        if e == largest {
            kept = Some(r);
        }
    }
    Ok(SweepRun { result: kept.expect("the largest ε was run"), sweep, seconds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::msg;

    #[test]
    fn eps_lists() {
        assert_eq!(parse_eps_list("0.3").unwrap(), vec![0.3]);
        assert_eq!(parse_eps_list("0.05, 0.1,0.2").unwrap(), vec![0.05, 0.1, 0.2]);
        for bad in ["", "x", "0.1,,0.2", "-0.1", "nan", "inf", "0.1,0.1"] {
            assert!(msg(parse_eps_list(bad)).contains("--eps"), "{bad}");
        }
        let f = AttackConfig::Fgsm(Default::default());
        assert_eq!(f.with_eps(0.1), AttackConfig::Fgsm(super::super::FgsmConfig { eps: 0.1, ..Default::default() }));
        assert!(!AttackConfig::Jsma(Default::default()).sweepable());
    }
}

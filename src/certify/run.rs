//! `advlab certify` as a library call: the 45 pair certificates of a
//! one-hidden-layer MLP, the per-image verdicts over a list of ε, and the
//! output files (results.json, lambda.npy, duals.npy, bounds.npy,
//! certified.npy, certified.png), each written to a temp file and renamed.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use serde_json::json;

use super::batch::{self, PairResult, Solver};
use super::flow;
use super::network::{self, ImageVerdict, Mlp, PairSetup, Threat};
use super::plot;
use super::sdp::{default_rank, SdpOptions};
use crate::data::{self, npy, DataSpec, Split};
use crate::gpu::GpuOptions;
use crate::nn::arch::Arch;
use crate::ops::tv::{Neighbours, Padding};
use crate::report;

/// Everything `advlab certify` takes.
#[derive(Clone, Debug)]
pub struct CertifyOptions {
    pub arch: String,
    pub model: PathBuf,
    pub threat: Threat,
    pub eps: Vec<f64>,
    pub neighbours: Neighbours,
    pub padding: Padding,
    /// Pixel range γ bounding |∂x̂/∂r| (1 for [0,1] images).
    pub gamma: f64,
    pub data: DataSpec,
    /// First `count` test images (ignored with `indices`).
    pub count: usize,
    pub indices: Option<PathBuf>,
    pub out_dir: PathBuf,
    pub solver: Solver,
    pub sdp: SdpOptions,
    /// Dual vectors (pairs × D .npy, e.g. OUT.cert-duals.npy of certified
    /// training) whose verified bound replaces the solver's where lower.
    pub duals: Option<PathBuf>,
    /// The command line, recorded in results.json.
    pub command_line: String,
}

/// What the command prints.
pub struct CertifySummary {
    pub pairs: Vec<PairResult>,
    pub eps: Vec<f64>,
    pub certified_accuracy: Vec<f64>,
    pub clean_accuracy: f64,
    pub seconds_pairs: f64,
    pub adapter: Option<String>,
}

fn check(o: &CertifyOptions) -> Result<()> {
    if o.eps.is_empty() {
        bail!("--eps: give at least one ε, like --eps 0.001,0.01");
    }
    if let Some(e) = o.eps.iter().find(|e| !(e.is_finite() && **e > 0.0)) {
        bail!("--eps {e}: every ε must be finite and > 0");
    }
    if !(o.gamma.is_finite() && o.gamma > 0.0) {
        bail!("--gamma {}: must be finite and > 0", o.gamma);
    }
    if o.threat == Threat::Flow && o.padding == Padding::Symmetric {
        flow::check(1, 1, o.padding)?;
    }
    if o.indices.is_none() && o.count == 0 {
        bail!("--count 0: certify at least one image");
    }
    crate::cli::sdp::check_opts(o.sdp.tol, o.sdp.max_sweeps, o.sdp.rank)
}

/// Validate, solve, certify, write. Nothing is written when an input is bad.
pub fn certify(gpu_opts: &GpuOptions, o: &CertifyOptions) -> Result<CertifySummary> {
    check(o)?;
    let arch = Arch::parse(&o.arch)?;
    Mlp::sizes(&arch)?;
    let mlp = Mlp::load(&arch, &o.model)?;
    if mlp.k < 2 {
        bail!("--arch {}: a classifier needs at least 2 classes", o.arch);
    }
    // data: the test split, first --count images or --indices
    let ds = data::load(&o.data, Split::Test)?;
    if ds.image_len() != mlp.d {
        bail!(
            "--data: images of {}×{}×{} = {} values do not fit --arch {} (input {})",
            ds.c,
            ds.h,
            ds.w,
            ds.image_len(),
            o.arch,
            mlp.d
        );
    }
    let idx: Vec<usize> = match &o.indices {
        Some(p) => {
            let v = npy::read_npy_labels(p)?;
            if v.is_empty() {
                bail!("{}: no indices", p.display());
            }
            v.iter()
                .enumerate()
                .map(|(i, &x)| {
                    usize::try_from(x).ok().filter(|&x| x < ds.n).ok_or_else(|| {
                        anyhow!("{}: index {x} at position {i} is outside the test set (0..{})", p.display(), ds.n)
                    })
                })
                .collect::<Result<_>>()?
        }
        None => (0..o.count.min(ds.n)).collect(),
    };
    let [_, h, w] = arch.input;
    let lambda = match o.threat {
        Threat::Flow => Some(flow::lambda(h, w, o.neighbours, o.padding)?),
        Threat::Linf => None,
    };
    // the pair problems
    let setup = PairSetup::new(o.threat, &mlp, lambda.as_deref());
    let ids = mlp.pairs();
    let gamma = if o.threat == Threat::Flow { o.gamma } else { 1.0 };
    let avecs: Vec<Vec<f64>> = ids.iter().map(|&(i, j)| mlp.pair_vector(i, j, gamma)).collect();
    let problems: Vec<_> = avecs.iter().map(|a| setup.problem(&mlp, a)).collect();
    let d = problems[0].dim();
    let given = match &o.duals {
        Some(p) => {
            let (shape, c) = npy::read_npy_f64(p)?;
            if shape != [ids.len(), d] || c.iter().any(|x| !x.is_finite()) {
                bail!(
                    "--duals {}: expected {}×{d} finite values (one dual vector per class pair), got shape {shape:?}",
                    p.display(),
                    ids.len()
                );
            }
            Some(c)
        }
        None => None,
    };
    let t0 = Instant::now();
    let (pairs, stats, adapter) = match o.solver {
        Solver::Gpu => {
            let gpu = crate::cli::open_gpu(gpu_opts)?;
            let (r, st) = batch::solve_gpu(&gpu, &problems, &ids, &o.sdp);
            crate::cli::print_profile(&gpu);
            (r, Some(st), Some(gpu.adapter_name()))
        }
        Solver::Cpu => (batch::solve_cpu(&problems, &ids, &o.sdp), None, None),
    };
    let mut pairs = pairs;
    let mut from_duals = Vec::new();
    if let Some(c) = &given {
        // the given duals, verified like the solver's (Schur-complement Cholesky)
        for (k, (p, prob)) in pairs.iter_mut().zip(&problems).enumerate() {
            let ck = &c[k * d..(k + 1) * d];
            let scale = ck.iter().map(|x| x.abs()).sum::<f64>().max(1e-12);
            let t = prob.verified_lambda(&prob.b1(), ck, 1e-7 * scale / d as f64);
            let (u, cs) = super::sdp::shifted_upper(ck, t);
            if u < p.upper {
                (p.upper, p.c, p.gap) = (u, cs, u - p.lower);
                from_duals.push(k);
            }
        }
    }
    let seconds_pairs = t0.elapsed().as_secs_f64();
    // bounds and verdicts
    let k = mlp.k;
    let mut bounds = vec![0.0; k * k];
    for p in &pairs {
        bounds[p.i * k + p.j] = p.upper;
        bounds[p.j * k + p.i] = p.upper;
    }
    let verdicts: Vec<ImageVerdict> = idx
        .iter()
        .map(|&i| {
            let logits = mlp.logits(ds.image(i));
            network::verdict(i, ds.labels[i] as usize, &logits, &bounds, o.threat, &o.eps)
        })
        .collect();
    let n = verdicts.len();
    let certified_accuracy: Vec<f64> =
        (0..o.eps.len()).map(|e| verdicts.iter().filter(|v| v.certified[e]).count() as f64 / n as f64).collect();
    let clean_accuracy = verdicts.iter().filter(|v| v.prediction == v.label).count() as f64 / n as f64;
    // outputs
    let dir = &o.out_dir;
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("{}: cannot create directory: {e}", dir.display()))?;
    if let Some(l) = &lambda {
        let two: Vec<f64> = l.iter().chain(l.iter()).copied().collect();
        npy::write_npy_f64(&dir.join("lambda.npy"), &[2, h, w], &two)?;
    }
    let duals: Vec<f64> = pairs.iter().flat_map(|p| p.c.iter().copied()).collect();
    npy::write_npy_f64(&dir.join("duals.npy"), &[pairs.len(), d], &duals)?;
    npy::write_npy_f64(&dir.join("bounds.npy"), &[k, k], &bounds)?;
    let cert: Vec<i64> = verdicts.iter().flat_map(|v| v.certified.iter().map(|&b| b as i64)).collect();
    npy::write_npy_i64(&dir.join("certified.npy"), &[n, o.eps.len()], &cert)?;
    let title = format!("{} {} CERTIFIED ACCURACY N={n}", o.arch, threat_name(o.threat));
    plot::accuracy_curve(&dir.join("certified.png"), &title, &o.eps, &certified_accuracy)?;
    let settings = json!({
        "arch": o.arch,
        "model": o.model.display().to_string(),
        "threat": o.threat,
        "eps": o.eps,
        "neighbours": if o.threat == Threat::Flow { Some(o.neighbours) } else { None },
        "padding": if o.threat == Threat::Flow { Some(o.padding) } else { None },
        "gamma": gamma,
        "data": format!("{:?}", o.data),
        "indices": o.indices.as_ref().map(|p| p.display().to_string()),
        "count": n,
        "solver": o.solver,
        "tol": o.sdp.tol,
        "max_sweeps": o.sdp.max_sweeps,
        "rank": o.sdp.rank.unwrap_or_else(|| default_rank(d)),
        "seed": o.sdp.seed,
        "check_every": o.sdp.check_every,
        "duals": o.duals.as_ref().map(|p| p.display().to_string()),
        "dimension": d,
        "bound_factor": match o.threat { Threat::Flow => "eps/2", Threat::Linf => "eps/4" },
    });
    let results = json!({
        "pairs": pairs,
        "seconds_all_pairs": seconds_pairs,
        "batch": stats,
        "max_sweeps_used": pairs.iter().map(|p| p.sweeps).max(),
        "pairs_bounded_by_given_duals": from_duals,
        "all_pairs_converged": pairs.iter().all(|p| p.converged),
        "clean_accuracy": clean_accuracy,
        "certified_accuracy": o.eps.iter().zip(&certified_accuracy).map(|(e, a)| json!({"eps": e, "accuracy": a})).collect::<Vec<_>>(),
        "per_image": verdicts,
        "rule": "certified at eps iff for all j != label: f_j(x) - f_label(x) + bound_factor(eps) * U[j][label] < 0; U = bounds.npy, each a verified SDP upper bound (P - diag(c) <= 0 checked by f64 Cholesky with rounding bounds, c = duals.npy row)",
    });
    let mut v = report::envelope("certify", None, settings, results);
    v["adapter"] = json!(adapter);
    v["command_line"] = json!(o.command_line);
    report::write_json(&dir.join("results.json"), &v)?;
    Ok(CertifySummary { pairs, eps: o.eps.clone(), certified_accuracy, clean_accuracy, seconds_pairs, adapter })
}

fn threat_name(t: Threat) -> &'static str {
    match t {
        Threat::Flow => "FLOW",
        Threat::Linf => "LINF",
    }
}

/// For tests and checkers: the dense P of pair `(i, j)` (flow or L∞).
pub fn pair_matrix(mlp: &Mlp, threat: Threat, lambda: Option<&[f64]>, gamma: f64, i: usize, j: usize) -> Vec<f64> {
    let setup = PairSetup::new(threat, mlp, lambda);
    let a = mlp.pair_vector(i, j, if threat == Threat::Flow { gamma } else { 1.0 });
    setup.problem(mlp, &a).dense()
}

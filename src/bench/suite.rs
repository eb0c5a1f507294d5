//! `advlab bench suite`: the five workloads of issue 15's table in one run
//! (MLP and LeNet-5 training epochs on MNIST, FGSM and C&W-L2 on MNIST
//! test images, an alexnet-cifar training epoch on CIFAR-10), each with
//! images/s, seconds, GFLOP/s and the fraction of this adapter's measured
//! GEMM peak; and, when PyTorch is importable, the same workloads through
//! `bench/torch_peer.py` (2 threads) in the same run, with the ratio.
//!
//! FLOPs count the model's multiply-adds only, 2 FLOP per MAC per pass:
//! a training step is 3 passes (forward, backward-data, backward-weight),
//! an attack gradient 2 (forward, backward-data). Elementwise work, the
//! optimiser and data upload are not counted, so the GFLOP/s is a lower
//! bound on what the kernels do and comparable across engines.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;

use crate::attack::{random_targets, run_attack, AttackConfig, CwConfig, FgsmConfig, Norm, RunOptions};
use crate::data::{self, DataSpec, Dataset, Split};
use crate::gpu::Gpu;
use crate::names::Named;
use crate::nn::arch::Layer;
use crate::nn::optim::{OptimConfig, OptimKind, Optimizer};
use crate::nn::train::{self, TrainConfig};
use crate::nn::{Arch, Model};

/// The PyTorch peer, embedded so the suite runs from any directory.
pub const TORCH_PEER: &str = include_str!("../../bench/torch_peer.py");

crate::names::named_enum! {
/// One workload of the suite (`--only`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// mlp:784-500-10, one epoch of MNIST train, batch 128, SGD lr 0.01 momentum 0.9.
    Mlp,
    /// LeNet-5, one epoch of MNIST train, batch 128, SGD lr 0.01 momentum 0.9.
    Lenet,
    /// FGSM L∞ ε 0.1 on the mlp, 10,000 MNIST test images, batch 1000.
    Fgsm,
    /// C&W-L2 on the mlp, c = 1, 100 Adam steps (lr 5e-3, no abort), 1000 test images, batch 1000, random targets.
    Cw,
    /// alexnet-cifar, one epoch of CIFAR-10 train (50k), batch 128, SGD lr 0.01 momentum 0.9.
    Alexnet,
}
}

impl Workload {
    /// Architecture, whether it uses CIFAR (else MNIST), split, full image
    /// count (None: the whole split), batch.
    fn plan(self) -> (&'static str, bool, Split, Option<usize>, usize) {
        match self {
            Workload::Mlp => ("mlp:784-500-10", false, Split::Train, None, 128),
            Workload::Lenet => ("lenet", false, Split::Train, None, 128),
            Workload::Fgsm => ("mlp:784-500-10", false, Split::Test, Some(10_000), 1000),
            Workload::Cw => ("mlp:784-500-10", false, Split::Test, Some(1000), 1000),
            Workload::Alexnet => ("alexnet-cifar", true, Split::Train, None, 128),
        }
    }

    /// Model passes per image (2 FLOP per MAC each): see the module doc.
    fn passes(self) -> f64 {
        match self {
            Workload::Mlp | Workload::Lenet | Workload::Alexnet => 3.0,
            Workload::Fgsm => 2.0,
            Workload::Cw => 2.0 * CW_STEPS as f64,
        }
    }

    pub fn attack(self) -> Option<AttackConfig> {
        match self {
            Workload::Fgsm => Some(AttackConfig::Fgsm(FgsmConfig { eps: 0.1, norm: Norm::Inf })),
            Workload::Cw => Some(AttackConfig::Cw(CwConfig {
                c0: 1.0,
                binary_steps: 1,
                iters: CW_STEPS,
                abort_early: false,
                ..CwConfig::default()
            })),
            _ => None,
        }
    }
}

/// C&W iterations per image.
pub const CW_STEPS: usize = 100;
/// Learning rate of the training workloads (SGD, momentum 0.9).
pub const TRAIN_LR: f32 = 0.01;

#[derive(Clone, Debug)]
pub struct SuiteConfig {
    pub only: Vec<Workload>,
    /// Share of each workload's images to run (1 = the table).
    pub fraction: f64,
    pub mnist: DataSpec,
    pub cifar: DataSpec,
    /// M = N = K of the GEMM whose best GFLOP/s is the adapter's peak.
    pub peak_size: usize,
    /// Run the PyTorch peer when `import torch` works.
    pub peer: bool,
    /// Runs of each workload, advlab's and the peer's alternating; the
    /// fastest of each is the figure (the machine's speed drifts: the
    /// fastest run is the least disturbed one).
    pub repeat: usize,
    pub seed: u64,
}

impl SuiteConfig {
    /// The settings as results.json records them.
    pub fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "only": self.only, "fraction": self.fraction, "mnist": self.mnist.to_string(),
            "cifar": self.cifar.to_string(), "peak_size": self.peak_size, "peer": self.peer, "repeat": self.repeat, "seed": self.seed,
            "workloads": self.only.iter().map(|w| {
                let (arch, _, split, full, batch) = w.plan();
                serde_json::json!({"workload": w, "arch": arch, "split": format!("{split:?}"), "full_images": full, "batch": batch, "attack": w.attack()})
            }).collect::<Vec<_>>(),
        })
    }
}

/// The peer's figures for one workload.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct PeerRow {
    pub workload: String,
    pub images: usize,
    pub seconds: f64,
    pub images_per_sec: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SuiteRow {
    pub workload: Workload,
    pub arch: String,
    pub batch: usize,
    pub images: usize,
    /// The fastest of `runs`.
    pub seconds: f64,
    /// Seconds of every run (`--repeat`).
    pub runs: Vec<f64>,
    pub images_per_sec: f64,
    pub gflop: f64,
    pub gflops: f64,
    /// gflops / the adapter's measured GEMM peak.
    pub peak_fraction: f64,
    /// The peer's fastest run.
    pub torch: Option<PeerRow>,
    /// Seconds of every peer run.
    pub torch_runs: Vec<f64>,
    /// advlab seconds / PyTorch seconds per image (> 1: advlab is slower).
    pub ratio: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SuiteReport {
    pub gemm_peak_gflops: f64,
    pub rows: Vec<SuiteRow>,
    /// Why the peer did not run (None when it ran or was switched off).
    pub peer_skipped: Option<String>,
    pub torch_version: Option<String>,
}

/// Forward multiply-adds of one image through `arch`.
pub fn forward_macs(arch: &Arch) -> u64 {
    use crate::ops::conv2d::out_size;
    let [mut c, mut h, mut w] = arch.input;
    let mut macs = 0u64;
    for l in &arch.layers {
        match l {
            Layer::Conv2d { inp, out, k, stride, pad, .. } => {
                let (ho, wo) = (out_size(h, *k, *stride, *pad), out_size(w, *k, *stride, *pad));
                macs += (out * inp * k * k * ho * wo) as u64;
                (c, h, w) = (*out, ho, wo);
            }
            Layer::MaxPool { k, stride } | Layer::AvgPool { k, stride } => {
                (h, w) = (out_size(h, *k, *stride, 0), out_size(w, *k, *stride, 0));
            }
            Layer::Linear { inp, out, .. } => {
                macs += (inp * out) as u64;
                (c, h, w) = (*out, 1, 1);
            }
            _ => {}
        }
    }
    let _ = c;
    macs
}

/// The workload's images: the first `fraction` of its full count (at
/// least one batch's worth is not required; at least one image is).
fn workload_data(cfg: &SuiteConfig, wl: Workload) -> Result<Dataset> {
    let (_, cifar, split, full, _) = wl.plan();
    let spec = if cifar { &cfg.cifar } else { &cfg.mnist };
    let flag = if cifar { "--cifar" } else { "--mnist" };
    let d = data::load(spec, split).with_context(|| format!("bench suite {wl}: {flag} {spec}"))?;
    let full = full.unwrap_or(d.n).min(d.n);
    let n = ((full as f64 * cfg.fraction).round() as usize).clamp(1, full.max(1));
    Ok(d.take_first(n))
}

/// Best GFLOP/s over NN/NT/TN products of `size`³ (3 timed reps each).
pub fn gemm_peak(gpu: &Arc<Gpu>, size: usize) -> Result<f64> {
    let rows = super::gemm::bench_gemm(gpu, &[size], 3)?;
    Ok(rows.iter().map(|r| r.gflops).fold(0.0, f64::max))
}

/// Time one workload on the GPU: a warm-up on a few images (kernel
/// compilation, pool fill), then the timed run.
fn run_one(gpu: &Arc<Gpu>, cfg: &SuiteConfig, wl: Workload) -> Result<(String, usize, usize, f64)> {
    let (arch_s, _, _, _, batch) = wl.plan();
    let data = workload_data(cfg, wl)?;
    let arch = Arch::parse(arch_s)?;
    let model = Model::init(gpu, arch, cfg.seed);
    model.check_input(&format!("bench suite {wl} data"), &[data.n, data.c, data.h, data.w])?;
    let batch = batch.min(data.n);
    let secs = match wl.attack() {
        Some(acfg) => {
            // C&W runs targeted at seeded random targets (the thesis protocol).
            let targets = (wl == Workload::Cw).then(|| random_targets(&data.labels, model.arch.classes, cfg.seed));
            let targets = targets.transpose()?;
            let opts = RunOptions { batch, seed: cfg.seed, ..Default::default() };
            let warm = data.take_first(2.min(data.n));
            let wt = targets.as_ref().map(|t| &t[..warm.n]);
            // two iterations compile every kernel the timed run uses
            let warm_cfg = match &acfg {
                AttackConfig::Cw(c) => AttackConfig::Cw(CwConfig { iters: 2, ..*c }),
                other => other.clone(),
            };
            run_attack(gpu, &model, &warm.images, &warm.labels, wt, &warm_cfg, &opts)?;
            gpu.sync();
            let t0 = Instant::now();
            run_attack(gpu, &model, &data.images, &data.labels, targets.as_deref(), &acfg, &opts)?;
            gpu.sync();
            t0.elapsed().as_secs_f64()
        }
        None => {
            crate::nn::capacity::check_train_batch(&model.arch, gpu, batch)?;
            let tcfg = TrainConfig {
                epochs: 1,
                batch,
                optim: OptimConfig::new(OptimKind::Sgd, TRAIN_LR),
                seed: cfg.seed,
                log_every: usize::MAX,
                ..Default::default()
            };
            let mut opt = Optimizer::new(gpu, &model, tcfg.optim);
            let warm = data.take_first((2 * batch).min(data.n));
            train::train_epoch(gpu, &model, &mut opt, &warm, &tcfg, 0, TRAIN_LR, |_, _, _| {})?;
            gpu.sync();
            let t0 = Instant::now();
            train::train_epoch(gpu, &model, &mut opt, &data, &tcfg, 1, TRAIN_LR, |_, _, _| {})?;
            gpu.sync();
            t0.elapsed().as_secs_f64()
        }
    };
    Ok((arch_s.to_string(), batch, data.n, secs))
}

/// `python3 -c 'import torch'`: Ok(version) or Err(why not).
pub fn torch_available() -> std::result::Result<String, String> {
    let out = Command::new("python3")
        .args(["-c", "import torch; print(torch.__version__)"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run python3 ({e})"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(format!("python3 -c 'import torch' failed: {}", err.trim().lines().last().unwrap_or("no message")))
}

/// The data source the peer reads: the same directory for mnist:/cifar10:
/// specs, else "random" (images of the same shape, uniform in [0,1]).
fn peer_source(spec: &DataSpec) -> String {
    match spec {
        DataSpec::Mnist(d) => format!("mnist:{}", d.display()),
        DataSpec::Cifar10(d) => format!("cifar10:{}", d.display()),
        _ => "random".into(),
    }
}

/// Run `bench/torch_peer.py` on the same workloads and image counts.
fn run_peer(cfg: &SuiteConfig, counts: &[(Workload, usize)]) -> Result<Vec<PeerRow>> {
    let job = serde_json::json!({
        "workloads": counts.iter().map(|(w, n)| serde_json::json!({"workload": w.to_string(), "images": n})).collect::<Vec<_>>(),
        "mnist": peer_source(&cfg.mnist),
        "cifar": peer_source(&cfg.cifar),
        "seed": cfg.seed,
        "threads": 2,
        "cw_steps": CW_STEPS,
        "lr": TRAIN_LR,
    });
    let mut child = Command::new("python3")
        .args(["-", &job.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("bench suite: cannot start python3 for the PyTorch peer")?;
    child.stdin.take().unwrap().write_all(TORCH_PEER.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("bench suite: the PyTorch peer (bench/torch_peer.py) failed with {}", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('['))
        .context("bench suite: no JSON from the PyTorch peer")?;
    serde_json::from_str(line).context("bench suite: unreadable JSON from the PyTorch peer")
}

/// Run the suite: GEMM peak, then each workload, each followed by the
/// peer's run of it, then the GEMM peak again (the better one counts).
pub fn run_suite(gpu: &Arc<Gpu>, cfg: &SuiteConfig) -> Result<SuiteReport> {
    ensure!(cfg.fraction > 0.0 && cfg.fraction <= 1.0, "--fraction {}: expected a number in (0, 1]", cfg.fraction);
    ensure!(!cfg.only.is_empty(), "--only: expected at least one workload of {}", Workload::NAMES.join(","));
    ensure!(cfg.peak_size >= 64, "--peak-size {}: expected at least 64", cfg.peak_size);
    ensure!(cfg.repeat >= 1, "--repeat {}: expected at least 1", cfg.repeat);
    let peak = gemm_peak(gpu, cfg.peak_size)?;
    let (mut peer_skipped, mut torch_version) = (None, None);
    if !cfg.peer {
        peer_skipped = Some("--no-peer".to_string());
    } else {
        match torch_available() {
            Err(why) => {
                eprintln!("bench suite: PyTorch is not importable ({why}): skipping the PyTorch peer");
                peer_skipped = Some(why);
            }
            Ok(v) => {
                eprintln!("bench suite: PyTorch {v} peer (2 threads) runs right after each workload");
                torch_version = Some(v);
            }
        }
    }
    let mut rows = Vec::new();
    for &wl in &cfg.only {
        let mut row: Option<SuiteRow> = None;
        for run in 0..cfg.repeat {
            let (arch, batch, images, seconds) = run_one(gpu, cfg, wl)?;
            eprintln!("bench suite: {wl} (run {}): {images} images in {seconds:.2} s", run + 1);
            let r = row.get_or_insert_with(|| SuiteRow {
                workload: wl,
                arch,
                batch,
                images,
                seconds,
                runs: Vec::new(),
                images_per_sec: 0.0,
                gflop: 0.0,
                gflops: 0.0,
                peak_fraction: 0.0,
                torch: None,
                torch_runs: Vec::new(),
                ratio: None,
            });
            r.runs.push(seconds);
            r.seconds = r.seconds.min(seconds);
            // The peer runs each workload right after advlab's, so both see
            // the same machine (load from other jobs drifts over a long suite).
            if torch_version.is_some() && peer_skipped.is_none() {
                match run_peer(cfg, &[(wl, images)]) {
                    Ok(peer) => {
                        if let Some(p) = peer.into_iter().find(|p| p.workload == wl.to_string()) {
                            r.torch_runs.push(p.seconds);
                            if r.torch.as_ref().is_none_or(|t| p.seconds < t.seconds) {
                                r.torch = Some(p);
                            }
                        }
                    }
                    // advlab's figures stand without the peer's: say why, keep going
                    Err(e) => {
                        eprintln!("bench suite: {e:#}: no PyTorch figures");
                        peer_skipped = Some(format!("{e:#}"));
                    }
                }
            }
        }
        let mut r = row.expect("at least one run");
        r.gflop = forward_macs(&Arch::parse(&r.arch)?) as f64 * 2.0 * wl.passes() * r.images as f64 / 1e9;
        r.gflops = r.gflop / r.seconds;
        r.images_per_sec = r.images as f64 / r.seconds;
        if let Some(p) = &r.torch {
            r.ratio = Some(r.seconds / r.images as f64 / (p.seconds / p.images.max(1) as f64));
        }
        rows.push(r);
    }
    if peer_skipped.is_some() {
        torch_version = None;
    }
    // The peak again at the end, the better of the two: the machine's speed
    // drifts, and a peak taken in a slow minute put MLP training at 102% of it.
    let peak = peak.max(gemm_peak(gpu, cfg.peak_size)?);
    for r in &mut rows {
        r.peak_fraction = r.gflops / peak;
    }
    Ok(SuiteReport { gemm_peak_gflops: peak, rows, peer_skipped, torch_version })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MACs by hand: the MLP's two products, LeNet-5's convs and dense layers.
    #[test]
    fn forward_macs_by_hand() {
        assert_eq!(forward_macs(&Arch::parse("mlp:784-500-10").unwrap()), 784 * 500 + 500 * 10);
        let lenet = 6 * 25 * 28 * 28 + 16 * 6 * 25 * 10 * 10 + 400 * 120 + 120 * 84 + 84 * 10;
        assert_eq!(forward_macs(&Arch::parse("lenet").unwrap()), lenet as u64);
        let alex = 32 * 3 * 25 * 32 * 32 + 32 * 32 * 25 * 15 * 15 + 64 * 32 * 25 * 7 * 7 + 576 * 10;
        assert_eq!(forward_macs(&Arch::parse("alexnet-cifar").unwrap()), alex as u64);
    }
}

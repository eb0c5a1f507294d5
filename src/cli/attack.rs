//! `advlab attack fgsm|pgd|cw|jsma` (and the body of `advlab bench attack`).
//!
//! Writes to `--out-dir`: `adv.npy` (N×C×H×W f32), `labels.npy` (int64),
//! `results.json` (the schema of `attack::schema`), `grid.png` and, for an
//! ε sweep, `robust_accuracy.png`. The work is the library's
//! (`attack::inputs`, `attack::sweep`, `attack::output`); this file maps
//! flags onto it and prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::attack::cw::AbortScope;
use crate::attack::inputs::{load_inputs, load_targets, InputSpec, Inputs, TargetSpec};
use crate::attack::jsma::JacobianKind;
use crate::attack::schema::{self, AttackResults};
use crate::attack::sweep::{parse_eps_list, run_sweep};
use crate::attack::{
    self, output, AttackConfig, CwConfig, FgsmConfig, JsmaConfig, LabelSource, Norm, PgdConfig, RunOptions,
};
use crate::data::{self, DataSpec, Split};
use crate::gpu::{Gpu, GpuOptions};
use crate::nn::{capacity, Arch, Model};
use crate::shard::{Shard, ShardSpec};
use crate::{grid, report};

/// `--target`: how to draw targets when no `--targets` file is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetMode {
    /// Uniform over the classes other than the label (seeded by --seed).
    Random,
    /// (label + 1) mod classes.
    Next,
}

#[derive(Subcommand, Clone, Debug)]
pub enum AttackCmd {
    /// Fast gradient (sign) method: one step of size eps (SPEC §1)
    Fgsm(FgsmArgs),
    /// Projected gradient descent / BIM (Madry et al.) (SPEC §1)
    Pgd(PgdArgs),
    /// Carlini-Wagner L2 with per-image binary search on c (SPEC §2)
    Cw(CwArgs),
    /// Jacobian-based saliency map attack (targeted; SPEC §3)
    Jsma(JsmaArgs),
}

#[derive(Args, Clone, Debug)]
pub struct CommonArgs {
    /// Architecture of the model, e.g. mlp:784-500-10, lenet, alexnet-cifar (see the README's Models table)
    #[arg(long)]
    pub arch: String,
    /// Model to attack: safetensors with PyTorch's tensor names (as `advlab train` writes)
    #[arg(long)]
    pub model: PathBuf,
    /// Data: mnist:DIR, cifar10:DIR, npy:X.npy,Y.npy, bundled (default: the bundled MNIST subset)
    #[arg(long)]
    pub data: Option<String>,
    /// Split of --data to attack: train or test (default: test)
    #[arg(long)]
    pub split: Option<String>,
    /// Attack exactly these images: 1-D integer .npy of positions in the split (or in --input), order kept
    #[arg(long)]
    pub indices: Option<PathBuf>,
    /// Images to attack, N×C×H×W (or N×784 / N×3072) f32 in [0,1]; needs --labels
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Labels for --input: 1-D integers
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Targets (1-D integers, one per image of the split or --input, each different from its label): makes the attack targeted
    #[arg(long)]
    pub targets: Option<PathBuf>,
    /// Draw targets instead of reading --targets (targeted attack). JSMA defaults to random
    #[arg(long, value_enum)]
    pub target: Option<TargetMode>,
    /// Attack the first N selected images (default: all)
    #[arg(long)]
    pub count: Option<usize>,
    /// Process only slice K of N of the selected images (contiguous, independent of --batch), or `auto`
    /// (K from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX); join the shards with `advlab merge`
    #[arg(long)]
    pub shard: Option<String>,
    /// Shard count for --shard auto (default: SLURM_ARRAY_TASK_COUNT)
    #[arg(long)]
    pub shards: Option<usize>,
    /// Seed of the random targets and random starts (each image draws from its own (seed, index) stream)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Images per GPU batch (memory only: results do not depend on it)
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Untargeted attacks move away from the true label or from the clean prediction (cleverhans' default)
    #[arg(long, value_enum, default_value_t = LabelSource::True)]
    pub label_source: LabelSource,
    /// Rows in grid.png
    #[arg(long, default_value_t = 8)]
    pub grid: usize,
    /// Output directory (adv.npy, labels.npy, results.json, grid.png); created only once the inputs and model check out
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Where to write results.json (default: OUT_DIR/results.json); never overwrites another command's results
    #[arg(long)]
    pub results: Option<PathBuf>,
}

impl CommonArgs {
    /// The library's view of the input flags.
    pub fn input_spec(&self) -> Result<InputSpec> {
        let shard = self.shard.as_deref().map(str::parse::<ShardSpec>).transpose()?;
        let shard = crate::shard::resolve(shard, self.shards, |k| std::env::var(k).ok())?;
        Ok(InputSpec {
            data: self.data.as_deref().map(DataSpec::parse).transpose()?,
            input: self.input.clone(),
            labels: self.labels.clone(),
            split: self.split.as_deref().map(|v| v.trim().parse::<Split>()).transpose()?,
            indices: self.indices.clone(),
            count: self.count,
            shard: (!shard.is_all() || self.shard.is_some()).then_some(shard),
        })
    }

    pub fn target_spec(&self) -> Result<TargetSpec> {
        Ok(match (&self.targets, self.target) {
            (Some(_), Some(_)) => bail!("give either --targets T.npy or --target, not both"),
            (Some(p), None) => TargetSpec::File(p.clone()),
            (None, Some(TargetMode::Random)) => TargetSpec::Random,
            (None, Some(TargetMode::Next)) => TargetSpec::Next,
            (None, None) => TargetSpec::None,
        })
    }

    pub fn results_path(&self) -> PathBuf {
        self.results.clone().unwrap_or_else(|| self.out_dir.join("results.json"))
    }

    /// Settings every attack records (the shard apart, the same for every shard).
    pub fn settings(&self, inputs: &Inputs, targets: Option<&(Vec<u32>, String)>, shard: Option<Shard>) -> Value {
        json!({
            "arch": self.arch,
            "model": self.model,
            "data": inputs.source,
            "split": if self.input.is_some() { None } else { Some(self.split.clone().unwrap_or("test".into())) },
            "indices": self.indices,
            "count": self.count,
            "selected": inputs.selected,
            "shard": shard.map(|s| s.to_string()),
            "targets": targets.map(|t| t.1.clone()),
            "targeted": targets.is_some(),
            "label_source": self.label_source,
            "seed": self.seed,
            "batch": self.batch,
        })
    }
}

#[derive(Args, Clone, Debug)]
pub struct FgsmArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Step size / budget; a comma list (e.g. 0.05,0.1,0.2,0.3) runs a robust-accuracy sweep
    #[arg(long, default_value = "0.3", allow_hyphen_values = true)]
    pub eps: String,
    /// Norm of the step and the budget: inf (sign steps, L∞ box) or 2 (normalised steps, L2 ball)
    #[arg(long, value_enum, default_value_t = Norm::Inf)]
    pub norm: Norm,
}

#[derive(Args, Clone, Debug)]
pub struct PgdArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Budget: radius of the L∞ box or L2 ball around x; a comma list runs a robust-accuracy sweep
    #[arg(long, default_value = "0.3", allow_hyphen_values = true)]
    pub eps: String,
    /// Step size a
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    pub step: f32,
    /// Gradient steps
    #[arg(long, default_value_t = 40)]
    pub iters: usize,
    /// Start from a uniform random point of the budget (true|false)
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    pub random_start: bool,
    /// Norm of the step and the budget: inf (sign steps, L∞ box) or 2 (normalised steps, L2 ball)
    #[arg(long, value_enum, default_value_t = Norm::Inf)]
    pub norm: Norm,
}

#[derive(Args, Clone, Debug)]
pub struct CwArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Initial c
    #[arg(long, default_value_t = 1e-2, allow_negative_numbers = true)]
    pub c0: f64,
    /// Binary-search steps on c
    #[arg(long, default_value_t = 5)]
    pub binary_steps: usize,
    /// Adam iterations per binary-search step
    #[arg(long, default_value_t = 1000)]
    pub iters: usize,
    /// Adam learning rate
    #[arg(long, default_value_t = 5e-3, allow_negative_numbers = true)]
    pub lr: f32,
    /// Confidence margin κ
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub kappa: f32,
    /// Stop a binary-search step when the loss stalls (true|false)
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    pub abort_early: bool,
    /// Abort-early on each image's loss or on the batch-summed loss of the original code (batch: results depend on --batch)
    #[arg(long, value_enum, default_value_t = AbortScope::Image)]
    pub abort_scope: AbortScope,
    /// L2 bounds for a robust-accuracy sweep (comma list): robust at ε = classified correctly and no C&W
    /// adversarial with L2 <= ε found
    #[arg(long, allow_hyphen_values = true)]
    pub eps: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct JsmaArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Change per modified feature (> 0 increases, < 0 decreases)
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub theta: f32,
    /// Largest fraction of features to change
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub gamma: f64,
    /// Differentiate softmax probabilities or logits
    #[arg(long, value_enum, default_value_t = JacobianKind::Probs)]
    pub jacobian: JacobianKind,
}

impl AttackCmd {
    /// The common flags, the attack, and the ε sweep (None: a single run).
    pub fn split(&self) -> Result<(&CommonArgs, AttackConfig, Option<Vec<f32>>)> {
        let sweep_of = |eps: Vec<f32>| (eps.len() > 1).then_some(eps);
        Ok(match self {
            AttackCmd::Fgsm(a) => {
                let eps = parse_eps_list(&a.eps)?;
                (&a.common, AttackConfig::Fgsm(FgsmConfig { eps: eps[0], norm: a.norm }), sweep_of(eps))
            }
            AttackCmd::Pgd(a) => {
                let eps = parse_eps_list(&a.eps)?;
                let cfg = AttackConfig::Pgd(PgdConfig {
                    eps: eps[0],
                    step: a.step,
                    iters: a.iters,
                    random_start: a.random_start,
                    norm: a.norm,
                });
                (&a.common, cfg, sweep_of(eps))
            }
            AttackCmd::Cw(a) => (
                &a.common,
                AttackConfig::Cw(CwConfig {
                    c0: a.c0,
                    binary_steps: a.binary_steps,
                    iters: a.iters,
                    lr: a.lr,
                    kappa: a.kappa,
                    abort_early: a.abort_early,
                    abort_scope: a.abort_scope,
                }),
                a.eps.as_deref().map(parse_eps_list).transpose()?,
            ),
            AttackCmd::Jsma(a) => (
                &a.common,
                AttackConfig::Jsma(JsmaConfig { theta: a.theta, gamma: a.gamma, jacobian: a.jacobian }),
                None,
            ),
        })
    }
}

/// Everything an attack command checks before it opens the device: the
/// inputs, the targets, the results path (so nothing is created when one
/// of them is wrong).
pub struct Prepared {
    pub arch: Arch,
    pub inputs: Inputs,
    pub targets: Option<(Vec<u32>, String)>,
    pub shard: Option<Shard>,
    pub results: PathBuf,
}

pub fn prepare(c: &CommonArgs, command: &str, method: &str, needs_targets: bool) -> Result<Prepared> {
    if c.batch == 0 {
        bail!("--batch 0: must be at least 1");
    }
    let arch = Arch::parse(&c.arch)?;
    let spec = c.input_spec()?;
    let inputs = load_inputs(&spec, &arch)?;
    let targets = load_targets(&c.target_spec()?, needs_targets, method, &inputs, arch.classes, c.seed)?;
    let results = c.results_path();
    report::check_results_path(&results, command)?;
    Ok(Prepared { arch, inputs, targets, shard: spec.shard, results })
}

/// Open the device, load the model and size its device batches for `cfg`
/// (C&W keeps a state 4x its input per image), then create `--out-dir`: a
/// bad model leaves no directory behind.
pub fn open_model(gpu_opts: &GpuOptions, c: &CommonArgs, arch: Arch, cfg: &AttackConfig) -> Result<(Arc<Gpu>, Model)> {
    open_model_sized(gpu_opts, c, arch, |m, g| attack::attack_device_batch(&m.arch, g, c.batch, cfg))
}

/// [`open_model`] with the attack's own device-batch rule (stAdv's flows).
pub fn open_model_sized(
    gpu_opts: &GpuOptions,
    c: &CommonArgs,
    arch: Arch,
    size: impl Fn(&Model, &Gpu) -> Result<capacity::DeviceBatch>,
) -> Result<(Arc<Gpu>, Model)> {
    let gpu = super::open_gpu(gpu_opts)?;
    let model = Model::load(&gpu, arch, &c.model)?;
    let batch = size(&model, &gpu)?;
    if let Some(note) = batch.note() {
        eprintln!("{note}");
    }
    std::fs::create_dir_all(&c.out_dir).with_context(|| format!("--out-dir {}: cannot create", c.out_dir.display()))?;
    Ok((gpu, model))
}

fn fmt_stat(s: Option<attack::NormStats>, digits: usize) -> String {
    match s {
        Some(s) => format!("{:.*}", digits, s.mean),
        None => "-".into(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v))
}

pub fn run(gpu_opts: &GpuOptions, cmd: &AttackCmd) -> Result<()> {
    let (c, cfg, sweep_eps) = cmd.split()?;
    cfg.validate()?;
    let command = format!("attack {}", cfg.name());
    let p = prepare(c, &command, cfg.name(), cfg.needs_targets())?;
    let (gpu, model) = open_model(gpu_opts, c, p.arch, &cfg)?;
    let data = &p.inputs.data;
    let opts = RunOptions { batch: c.batch, seed: c.seed, label_source: c.label_source };
    eprintln!(
        "{} on {} images from {} ({}), batch {}{}",
        cfg.name(),
        data.n,
        p.inputs.source,
        if p.targets.is_some() { "targeted" } else { "untargeted" },
        c.batch,
        p.shard.map(|s| format!(", shard {s} of {} selected", p.inputs.selected)).unwrap_or_default()
    );
    let targets = p.targets.as_ref().map(|t| t.0.as_slice());
    let (res, sweep, seconds) = match &sweep_eps {
        Some(eps) => {
            let r = run_sweep(
                &gpu,
                &model,
                &data.images,
                &data.labels,
                &p.inputs.index,
                targets,
                &cfg,
                eps,
                &opts,
                |e, done, total| eprintln!("  eps {e}: {done}/{total} images"),
            )?;
            (r.result, Some(r.sweep), r.seconds)
        }
        None => {
            let r = attack::run_attack_indexed(
                &gpu,
                &model,
                &data.images,
                &data.labels,
                &p.inputs.index,
                targets,
                &cfg,
                &opts,
                |done, total| eprintln!("  {done}/{total} images"),
            )?;
            let s = r.seconds;
            (r, None, s)
        }
    };
    // With a sweep the kept run is the largest ε's: record that ε as the attack's.
    let cfg = match (&sweep_eps, &cfg) {
        (Some(e), AttackConfig::Fgsm(_) | AttackConfig::Pgd(_)) => cfg.with_eps(e.iter().cloned().fold(0.0, f32::max)),
        _ => cfg,
    };
    let out = AttackResults::new(schema::records(&res), seconds, sweep);
    let names = grid::class_names([data.c, data.h, data.w], model.arch.classes);
    output::write_pixel_outputs(&c.out_dir, &res, data, names, c.grid)?;
    if let Some(s) = &out.sweep {
        report::plot::save_robust_accuracy(&c.out_dir.join(report::plot::SWEEP_PNG), s, &command)?;
    }
    let s = &out.summary;
    println!(
        "{}",
        report::markdown_table(
            &[
                "attack",
                "images",
                "clean acc",
                "success (of correct)",
                "misclassified (apart)",
                "adv acc",
                "robust acc",
                "mean L0",
                "mean L2",
                "mean L∞",
                "mean iters",
                "seconds",
                "images/s"
            ],
            &[vec![
                cfg.name().to_string(),
                s.images.to_string(),
                pct(Some(s.clean_accuracy)),
                format!("{} ({})", s.successes, pct(s.success_rate)),
                s.misclassified.to_string(),
                pct(Some(s.adv_accuracy)),
                pct(Some(s.robust_accuracy)),
                fmt_stat(s.l0, 1),
                fmt_stat(s.l2, 3),
                fmt_stat(s.linf, 3),
                format!("{:.1}", s.mean_iterations),
                format!("{:.2}", out.timing.seconds),
                format!("{:.1}", out.timing.images_per_sec),
            ]]
        )
    );
    if let Some(sw) = &out.sweep {
        println!(
            "\n{}",
            report::markdown_table(
                &["eps", "robust acc", "success (of correct)"],
                &sw.iter()
                    .map(|p| vec![p.eps.to_string(), pct(Some(p.robust_accuracy)), pct(p.success_rate)])
                    .collect::<Vec<_>>()
            )
        );
    }
    println!("(norms over successes on correctly classified images; results in {})", c.out_dir.display());
    let mut settings = c.settings(&p.inputs, p.targets.as_ref(), p.shard);
    settings["attack"] = json!(cfg);
    settings["eps"] = json!(sweep_eps);
    settings["pixel_box"] = json!([attack::PIXEL_BOX.0, attack::PIXEL_BOX.1]);
    report::write_json(&p.results, &report::envelope(&command, Some(&gpu), settings, serde_json::to_value(&out)?))?;
    super::print_profile(&gpu);
    Ok(())
}

/// `advlab bench attack`: images/s of every method at its defaults on the
/// first `count` test images of `spec`, on a saved model (or a seeded
/// random initialisation when `model` is None).
#[allow(clippy::too_many_arguments)]
pub fn bench(
    gpu_opts: &GpuOptions,
    arch: &str,
    model_path: Option<&Path>,
    spec: &DataSpec,
    count: usize,
    batch: usize,
    seed: u64,
    results: &Path,
) -> Result<()> {
    let arch = Arch::parse(arch)?;
    let data = data::load(spec, Split::Test)?;
    let gpu = super::open_gpu(gpu_opts)?;
    let model = match model_path {
        Some(p) => Model::load(&gpu, arch, p)?,
        None => Model::init(&gpu, arch, seed),
    };
    let rows = attack::bench_attacks(&gpu, &model, &data, &attack::default_bench_configs(), count, batch, seed)?;
    println!(
        "{}",
        report::markdown_table(
            &[
                "adapter",
                "arch",
                "method",
                "targeted",
                "images",
                "batch",
                "seconds",
                "images/s",
                "success",
                "mean iters"
            ],
            &rows
                .iter()
                .map(|r| vec![
                    gpu.adapter_name(),
                    model.arch.spec.clone(),
                    r.method.to_string(),
                    r.targeted.to_string(),
                    r.images.to_string(),
                    r.batch.to_string(),
                    format!("{:.2}", r.seconds),
                    format!("{:.1}", r.images_per_sec),
                    format!("{:.1}%", 100.0 * r.success_rate),
                    format!("{:.1}", r.mean_iterations),
                ])
                .collect::<Vec<_>>()
        )
    );
    report::write_json(
        results,
        &report::envelope(
            "bench attack",
            Some(&gpu),
            json!({"arch": model.arch.spec, "model": model_path.map(|p| p.display().to_string()), "data": spec.to_string(), "count": count, "batch": batch, "seed": seed}),
            json!({"rows": rows}),
        ),
    )?;
    super::print_profile(&gpu);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Attack {
        #[command(subcommand)]
        cmd: Sub,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        #[command(flatten)]
        Pixel(super::AttackCmd),
        Stadv(crate::cli::stadv::StadvArgs),
    }

    #[test]
    fn every_attack_flag_has_help() {
        let cmd = Attack::command();
        let mut seen = 0;
        let mut missing = Vec::new();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                if arg.get_id() == "help" {
                    continue;
                }
                seen += 1;
                if arg.get_help().is_none() {
                    missing.push(format!("{} --{}", sub.get_name(), arg.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "attack flags without help text: {missing:?}");
        assert!(seen > 5 * 15, "{seen}");
    }
}

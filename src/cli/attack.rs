//! `advlab attack fgsm|pgd|cw|jsma` (and the body of `advlab bench attack`).
//!
//! Writes to `--out-dir`: `adv.npy` (N×C×H×W f32), `results.json`
//! (settings, adapter, seed, summary, per-image results) and `grid.png`
//! (original / adversarial / amplified difference for the first images).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::attack::cw::AbortScope;
use crate::attack::jsma::JacobianKind;
use crate::attack::{self, AttackConfig, CwConfig, FgsmConfig, JsmaConfig, LabelSource, Norm, PgdConfig, RunOptions};
use crate::data::{self, npy, DataSpec, Dataset, Split};
use crate::gpu::GpuOptions;
use crate::nn::{Arch, Model};
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
    /// Architecture, e.g. mlp:784-500-10
    #[arg(long)]
    pub arch: String,
    /// Model file (safetensors, PyTorch names)
    #[arg(long)]
    pub model: PathBuf,
    /// Data: mnist:DIR, cifar10:DIR, npy:X.npy,Y.npy, bundled (the test split is used; default: bundled MNIST subset)
    #[arg(long)]
    pub data: Option<String>,
    /// Images to attack, N×C×H×W (or N×784 / N×3072) f32 in [0,1]; needs --labels
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Labels for --input: 1-D integers
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Targets (1-D integers, one per image, each different from its label): makes the attack targeted
    #[arg(long)]
    pub targets: Option<PathBuf>,
    /// Draw targets instead of reading --targets (targeted attack). JSMA defaults to random
    #[arg(long, value_enum)]
    pub target: Option<TargetMode>,
    /// Attack the first N images (default: all)
    #[arg(long)]
    pub count: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Images per GPU batch
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Untargeted attacks move away from the true label or from the clean prediction (cleverhans' default)
    #[arg(long, value_enum, default_value_t = LabelSource::True)]
    pub label_source: LabelSource,
    /// Rows in grid.png
    #[arg(long, default_value_t = 8)]
    pub grid: usize,
    /// Output directory (adv.npy, results.json, grid.png)
    #[arg(long)]
    pub out_dir: PathBuf,
}

#[derive(Args, Clone, Debug)]
pub struct FgsmArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Step size / budget
    #[arg(long, default_value_t = 0.3, allow_negative_numbers = true)]
    pub eps: f32,
    #[arg(long, value_enum, default_value_t = Norm::Inf)]
    pub norm: Norm,
}

#[derive(Args, Clone, Debug)]
pub struct PgdArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Budget: radius of the L∞ box or L2 ball around x
    #[arg(long, default_value_t = 0.3, allow_negative_numbers = true)]
    pub eps: f32,
    /// Step size a
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    pub step: f32,
    #[arg(long, default_value_t = 40)]
    pub iters: usize,
    /// Start from a uniform random point of the budget (true|false)
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    pub random_start: bool,
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
    /// Abort-early on each image's loss or on the batch-summed loss of the original code
    #[arg(long, value_enum, default_value_t = AbortScope::Image)]
    pub abort_scope: AbortScope,
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
    pub fn split(&self) -> (&CommonArgs, AttackConfig) {
        match self {
            AttackCmd::Fgsm(a) => (&a.common, AttackConfig::Fgsm(FgsmConfig { eps: a.eps, norm: a.norm })),
            AttackCmd::Pgd(a) => (
                &a.common,
                AttackConfig::Pgd(PgdConfig {
                    eps: a.eps,
                    step: a.step,
                    iters: a.iters,
                    random_start: a.random_start,
                    norm: a.norm,
                }),
            ),
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
            ),
            AttackCmd::Jsma(a) => {
                (&a.common, AttackConfig::Jsma(JsmaConfig { theta: a.theta, gamma: a.gamma, jacobian: a.jacobian }))
            }
        }
    }
}

/// The images and labels an attack command runs on, and where they came from.
pub struct Inputs {
    pub data: Dataset,
    pub source: String,
    /// Images in the source before --count.
    pub total: usize,
}

/// Load `--data` (test split) or `--input/--labels`, take `--count`, and
/// check the image shape against the architecture (before any GPU work).
pub fn load_inputs(c: &CommonArgs, arch: &Arch) -> Result<Inputs> {
    let (data, source, what) = match (&c.data, &c.input, &c.labels) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => bail!("give either --data or --input/--labels, not both"),
        (None, Some(x), Some(y)) => {
            (npy::load_npy_dataset(x, y)?, format!("npy:{},{}", x.display(), y.display()), x.display().to_string())
        }
        (None, Some(x), None) => bail!("--input {}: needs --labels Y.npy (1-D integer labels)", x.display()),
        (None, None, Some(y)) => bail!("--labels {}: needs --input X.npy", y.display()),
        (spec, None, None) => {
            let spec = match spec {
                Some(s) => DataSpec::parse(s)?,
                None => DataSpec::Bundled,
            };
            (data::load(&spec, Split::Test)?, spec.to_string(), format!("--data {spec}"))
        }
    };
    if data.image_len() != arch.input_len() {
        bail!(
            "{what}: images of shape {}×{}×{} do not fit --arch {} (expected {}×{}×{})",
            data.c,
            data.h,
            data.w,
            arch.spec,
            arch.input[0],
            arch.input[1],
            arch.input[2]
        );
    }
    attack::check_labels(&what, &data.labels, data.n, arch.classes)?;
    let total = data.n;
    let data = match c.count {
        Some(0) => bail!("--count 0: must be at least 1"),
        Some(k) if k > data.n => bail!("--count {k}: {what} holds only {} images", data.n),
        Some(k) => data.take_first(k),
        None => data,
    };
    Ok(Inputs { data, source, total })
}

/// Targets from `--targets` / `--target`, checked against the labels.
/// `total`: images in the source before `--count` (a targets file must match it).
pub fn load_targets(
    c: &CommonArgs,
    cfg: &AttackConfig,
    labels: &[u32],
    classes: usize,
    total: usize,
) -> Result<Option<(Vec<u32>, String)>> {
    let t = match (&c.targets, c.target) {
        (Some(_), Some(_)) => bail!("give either --targets T.npy or --target, not both"),
        (Some(p), None) => {
            let raw = npy::read_npy_labels(p)?;
            let what = p.display().to_string();
            if raw.len() != total {
                bail!("{what}: {} targets for {total} images", raw.len());
            }
            let raw = &raw[..labels.len()];
            if let Some((i, v)) = raw.iter().enumerate().find(|(_, &v)| v < 0 || v as usize >= classes) {
                bail!(
                    "{what}: target {v} at index {i} is out of range (the model has {classes} classes: 0..={})",
                    classes - 1
                );
            }
            let t: Vec<u32> = raw.iter().map(|&v| v as u32).collect();
            attack::check_targets(&what, &t, labels, classes)?;
            Some((t, what))
        }
        (None, Some(TargetMode::Random)) => Some((attack::random_targets(labels, classes, c.seed)?, "random".into())),
        (None, Some(TargetMode::Next)) => Some((attack::next_targets(labels, classes), "next".into())),
        (None, None) if cfg.needs_targets() => {
            Some((attack::random_targets(labels, classes, c.seed)?, format!("random (default for {})", cfg.name())))
        }
        (None, None) => None,
    };
    Ok(t)
}

fn fmt_stat(s: Option<attack::NormStats>, digits: usize) -> String {
    match s {
        Some(s) => format!("{:.*}", digits, s.mean),
        None => "-".into(),
    }
}

pub fn run(gpu_opts: &GpuOptions, cmd: &AttackCmd) -> Result<()> {
    let (c, cfg) = cmd.split();
    cfg.validate()?;
    if c.batch == 0 {
        bail!("--batch 0: must be at least 1");
    }
    let arch = Arch::parse(&c.arch)?;
    let inputs = load_inputs(c, &arch)?;
    let data = &inputs.data;
    let targets = load_targets(c, &cfg, &data.labels, arch.classes, inputs.total)?;
    std::fs::create_dir_all(&c.out_dir).with_context(|| format!("--out-dir {}: cannot create", c.out_dir.display()))?;

    let gpu = super::open_gpu(gpu_opts)?;
    let model = Model::load(&gpu, arch, &c.model)?;
    let opts = RunOptions { batch: c.batch, seed: c.seed, label_source: c.label_source };
    eprintln!(
        "{} on {} images from {} ({}), batch {}",
        cfg.name(),
        data.n,
        inputs.source,
        if targets.is_some() { "targeted" } else { "untargeted" },
        c.batch
    );
    let res = attack::run_attack_with(
        &gpu,
        &model,
        &data.images,
        &data.labels,
        targets.as_ref().map(|t| t.0.as_slice()),
        &cfg,
        &opts,
        |done, total| eprintln!("  {done}/{total} images"),
    )?;
    let s = attack::summarize(&res);
    write_outputs(&c.out_dir, &res, &data.images, c.grid)?;

    println!(
        "{}",
        report::markdown_table(
            &[
                "attack",
                "images",
                "success",
                "clean acc",
                "adv acc",
                "mean L0",
                "mean L2",
                "mean L∞",
                "mean iters",
                "seconds",
                "images/s"
            ],
            &[vec![
                cfg.name().to_string(),
                s.n.to_string(),
                format!("{:.1}%", 100.0 * s.success_rate),
                format!("{:.1}%", 100.0 * s.clean_accuracy),
                format!("{:.1}%", 100.0 * s.adv_accuracy),
                fmt_stat(s.l0_success, 1),
                fmt_stat(s.l2_success, 3),
                fmt_stat(s.linf_success, 3),
                format!("{:.1}", s.mean_iterations),
                format!("{:.2}", s.seconds),
                format!("{:.1}", s.images_per_sec),
            ]]
        )
    );
    println!("(norms over successful examples; results in {})", c.out_dir.display());
    let settings = json!({
        "attack": cfg,
        "arch": model.arch.spec,
        "model": c.model,
        "data": inputs.source,
        "count": data.n,
        "targets": targets.as_ref().map(|t| t.1.clone()),
        "targeted": targets.is_some(),
        "label_source": c.label_source,
        "seed": c.seed,
        "batch": c.batch,
        "pixel_box": [attack::PIXEL_BOX.0, attack::PIXEL_BOX.1],
    });
    let results = json!({
        "summary": s,
        "wall_seconds": s.seconds,
        "images_per_sec": s.images_per_sec,
        "per_image": res.images,
    });
    report::write_json(
        &c.out_dir.join("results.json"),
        &report::envelope(&format!("attack {}", cfg.name()), Some(&gpu), settings, results),
    )?;
    super::print_profile(&gpu);
    Ok(())
}

/// adv.npy and grid.png (first `grid_rows` images) in `dir`; `orig` are
/// the attacked images, same layout as `res.adv`.
pub fn write_outputs(dir: &Path, res: &attack::AttackResult, orig: &[f32], grid_rows: usize) -> Result<()> {
    npy::write_npy_f32(&dir.join("adv.npy"), &res.shape, &res.adv)?;
    let [_, c, h, w] = res.shape;
    let per = c * h * w;
    let rows: Vec<grid::GridRow> = res
        .images
        .iter()
        .take(grid_rows)
        .enumerate()
        .map(|(i, r)| grid::GridRow {
            orig: &orig[i * per..(i + 1) * per],
            adv: &res.adv[i * per..(i + 1) * per],
            label: r.label,
            target: r.target,
            clean_pred: r.clean_pred,
            adv_pred: r.adv_pred,
            success: r.success,
        })
        .collect();
    grid::save_png(&dir.join("grid.png"), &grid::attack_grid(&rows, [c, h, w]))
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

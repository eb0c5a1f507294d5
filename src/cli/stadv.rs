//! `advlab attack stadv`: spatially transformed adversarial examples
//! (SPEC §4) on the same command line as the pixel attacks. The optimiser is
//! `crate::stadv`, inputs, records and outputs are `crate::attack`'s; this
//! file maps flags onto them and prints.

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

use super::attack::{open_model_sized, prepare, CommonArgs};
use crate::attack::output;
use crate::attack::schema::{self, AttackResults};
use crate::gpu::GpuOptions;
use crate::grid;
use crate::ops::tv::{FlowLossOpts, Neighbours, Padding, Variant};
use crate::report;
use crate::stadv::{self, Goal, StadvConfig, StadvOptimizer, TauSearch};

#[derive(Args, Clone, Debug)]
pub struct StadvArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Weight τ of the flow loss (ignored with --tau-search)
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub tau: f32,
    /// Binary search on τ per image: LO,HI,STEPS (thesis: 0,1000,10)
    #[arg(long)]
    pub tau_search: Option<String>,
    /// Flow budget E: hinge max(L_flow - E, 0); strict success needs L_flow <= E (thesis: 7.0)
    #[arg(long, allow_negative_numbers = true)]
    pub flow_budget: Option<f32>,
    /// Margin κ of the adversarial loss
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub kappa: f32,
    /// Flow optimiser: lbfgs (per image, the reference; needed under a budget) or adam (batched, no host round trips)
    #[arg(long, value_enum, default_value_t = StadvOptimizer::Lbfgs)]
    pub optimizer: StadvOptimizer,
    /// Adam steps, or L-BFGS function evaluations, per run
    #[arg(long, default_value_t = 200)]
    pub iters: usize,
    /// Adam learning rate
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    pub lr: f32,
    /// L_flow neighbour set
    #[arg(long, value_enum, default_value_t = Neighbours::Diag4)]
    pub neighbours: Neighbours,
    /// L_flow border padding
    #[arg(long, value_enum, default_value_t = Padding::Constant)]
    pub padding: Padding,
    /// ε inside L_flow's square root
    #[arg(long, default_value_t = 1e-8, allow_negative_numbers = true)]
    pub flow_eps: f32,
    /// L_flow form: pixel (stAdv v0.2, per-pixel roots) or shift (v0.1, one root per offset; what a budget of 7 was set for)
    #[arg(long, value_enum, default_value_t = Variant::Pixel)]
    pub variant: Variant,
}

pub fn run(gpu_opts: &GpuOptions, a: &StadvArgs) -> Result<()> {
    let c = &a.common;
    if let Some(e) = a.flow_budget {
        if !(e >= 0.0 && e.is_finite()) {
            bail!("--flow-budget {e}: must be a finite number >= 0");
        }
    }
    if !(a.tau >= 0.0 && a.tau.is_finite()) {
        bail!("--tau {}: must be a finite number >= 0", a.tau);
    }
    if a.iters == 0 {
        bail!("--iters 0: must be at least 1");
    }
    let tau_search = a.tau_search.as_deref().map(TauSearch::parse).transpose()?;
    let command = "attack stadv";
    let p = prepare(c, command, "stadv", false)?;
    let data = &p.inputs.data;
    if data.h < 2 || data.w < 2 {
        bail!("stadv needs images at least 2×2, got {}×{}", data.h, data.w);
    }
    let (h, w) = (data.h, data.w);
    let (gpu, model) = open_model_sized(gpu_opts, c, p.arch, |m, g| stadv::flow_device_batch(m, g, c.batch, h, w))?;
    let cfg = StadvConfig {
        tau: a.tau,
        budget: a.flow_budget,
        kappa: a.kappa,
        optimizer: a.optimizer,
        iterations: a.iters,
        lr: a.lr,
        flow_loss: FlowLossOpts { neighbours: a.neighbours, padding: a.padding, eps: a.flow_eps, variant: a.variant },
        tau_search,
        batch: c.batch,
        seed: c.seed,
        ..StadvConfig::default()
    };
    let shape = [data.n, data.c, data.h, data.w];
    let targets = p.targets.as_ref().map(|t| t.0.as_slice());
    let goal = match targets {
        Some(t) => Goal::Targeted(t),
        None => Goal::Untargeted,
    };
    eprintln!(
        "stadv on {} images from {} ({}), {:?}, {}{}",
        data.n,
        p.inputs.source,
        if targets.is_some() { "targeted" } else { "untargeted" },
        a.optimizer,
        match (&tau_search, a.flow_budget) {
            (Some(s), b) => format!("τ search {}..{} in {} steps, budget {:?}", s.lo, s.hi, s.steps, b),
            (None, b) => format!("τ {}, budget {:?}", a.tau, b),
        },
        p.shard.map(|s| format!(", shard {s} of {} selected", p.inputs.selected)).unwrap_or_default()
    );
    let clean_pred = crate::nn::train::predict_labels(&gpu, &model, data, c.batch)?;
    let out = stadv::attack_indexed(&gpu, &model, &data.images, shape, &data.labels, &p.inputs.index, goal, &cfg)?;
    let recs = schema::stadv_records(&out, &data.images, &data.labels, &clean_pred, targets, &p.inputs.index);
    let res = AttackResults::new(recs, out.seconds, None);
    let names = grid::class_names([data.c, data.h, data.w], model.arch.classes);
    output::write_stadv_outputs(&c.out_dir, &out, data, &clean_pred, targets, names, c.grid)?;

    let s = &res.summary;
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", 100.0 * v));
    let rate = |k: usize| pct((s.clean_correct > 0).then(|| k as f64 / s.clean_correct as f64));
    println!(
        "{}",
        report::markdown_table(
            &[
                "attack",
                "images",
                "clean acc",
                "strict success (of correct)",
                "soft success (of correct)",
                "misclassified (apart)",
                "adv acc",
                "mean L_flow (strict successes)",
                "seconds",
                "s/image"
            ],
            &[vec![
                "stadv".into(),
                s.images.to_string(),
                pct(Some(s.clean_accuracy)),
                format!("{} ({})", s.successes, rate(s.successes)),
                s.soft_successes.map_or("-".into(), |k| format!("{k} ({})", rate(k))),
                s.misclassified.to_string(),
                pct(Some(s.adv_accuracy)),
                s.l_flow.map_or("-".into(), |v| format!("{:.3}", v.mean)),
                format!("{:.1}", res.timing.seconds),
                format!("{:.3}", res.timing.seconds / s.images.max(1) as f64),
            ]]
        )
    );
    println!("(results in {})", c.out_dir.display());
    let mut settings = c.settings(&p.inputs, p.targets.as_ref(), p.shard);
    settings["attack"] = json!("stadv");
    settings["config"] = json!(cfg);
    report::write_json(&p.results, &report::envelope(command, Some(&gpu), settings, serde_json::to_value(&res)?))?;
    super::print_profile(&gpu);
    Ok(())
}

//! `advlab reproduce fig6`: maps flags onto `crate::reproduce::fig6` and prints.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::certify::sdp::SdpOptions;
use crate::data::DataSpec;
use crate::gpu::GpuOptions;
use crate::ops::tv::Neighbours;
use crate::report;
use crate::reproduce::fig6::{self, Fig6Options, SearchOn, Setting};
use crate::stadv::TauSearch;

// clap values from the library enums' names and docs (as cli/choice.rs does)
macro_rules! value_enum {
    ($($t:ty),*) => {$(
        impl clap::ValueEnum for $t {
            fn value_variants<'a>() -> &'a [Self] {
                <$t as crate::names::Named>::ALL
            }
            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(super::super::choice::possible_value(*self))
            }
        }
    )*};
}
value_enum!(Setting, SearchOn);

#[derive(Args, Clone, Debug)]
pub struct Fig6Args {
    /// Architecture of both models: a one-hidden-layer MLP, mlp:D-H-K
    #[arg(long, default_value = "mlp:784-500-10")]
    pub arch: String,
    /// The plain model (safetensors)
    #[arg(long, default_value = "results/fig6/mlp-plain.safetensors")]
    pub plain: PathBuf,
    /// The certificate-trained model (safetensors)
    #[arg(long, default_value = "results/fig6/mlp-certified.safetensors")]
    pub certified: PathBuf,
    /// Data whose test split is sampled: mnist:DIR, npy:X.npy,Y.npy, bundled (the MNIST subset in assets/)
    #[arg(long, default_value = "mnist:../shared/data/mnist")]
    pub data: String,
    /// Test images in the sample (thesis: 1000)
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Seed of the sample, the targets and the SDP start
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Flow-loss settings to run (comma-separated)
    #[arg(long, value_enum, value_delimiter = ',', default_value = "thesis,certificate")]
    pub settings: Vec<Setting>,
    /// Which success moves the τ search's lower end up (thesis: soft)
    #[arg(long, value_enum, default_value_t = SearchOn::Soft)]
    pub tau_search_on: SearchOn,
    /// τ binary search LO,HI,STEPS (thesis: 0,1000; steps unstated)
    #[arg(long, default_value = "0,1000,10")]
    pub tau_search: String,
    /// Flow budget: hinge max(L_flow - E, 0), strict success needs L_flow <= E (thesis: 7.0)
    #[arg(long, default_value_t = 7.0, allow_negative_numbers = true)]
    pub flow_budget: f32,
    /// Margin κ of the adversarial loss
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub kappa: f32,
    /// L-BFGS function evaluations per τ step
    #[arg(long, default_value_t = 200)]
    pub iters: usize,
    /// Neighbours of the certificate's N (and of the certificate setting's L_flow)
    #[arg(long, value_enum, default_value_t = Neighbours::Diag4)]
    pub neighbours: Neighbours,
    /// Images per GPU batch (memory only: results do not depend on it)
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Verified flow bounds of the plain model: bounds.npy of `advlab certify --threat flow` on it (same
    /// --neighbours, constant padding); skips its SDP solve
    #[arg(long)]
    pub plain_bounds: Option<PathBuf>,
    /// Verified flow bounds of the certified model (as --plain-bounds)
    #[arg(long)]
    pub certified_bounds: Option<PathBuf>,
    /// Sweep limit of the SDP solves behind the bounds U (each bound is verified whatever the limit)
    #[arg(long, default_value_t = 1000)]
    pub sdp_sweeps: usize,
    /// Output directory: indices.npy, targets.npy, MODEL/SETTING/{adv,flow}.npy, fig6.png, results.json
    #[arg(long)]
    pub out_dir: PathBuf,
}

pub fn run(gpu_opts: &GpuOptions, a: &Fig6Args) -> Result<()> {
    let o = Fig6Options {
        arch: a.arch.clone(),
        models: vec![("plain".into(), a.plain.clone()), ("certified".into(), a.certified.clone())],
        bounds: vec![a.plain_bounds.clone(), a.certified_bounds.clone()],
        data: DataSpec::parse(&a.data)?,
        count: a.count,
        seed: a.seed,
        settings: a.settings.clone(),
        search_on: a.tau_search_on,
        tau_search: TauSearch::parse(&a.tau_search)?,
        budget: a.flow_budget,
        kappa: a.kappa,
        iterations: a.iters,
        neighbours: a.neighbours,
        batch: a.batch,
        sdp: SdpOptions { max_sweeps: a.sdp_sweeps, seed: a.seed, ..SdpOptions::default() },
        out_dir: a.out_dir.clone(),
        command_line: super::super::sdp::command_line(),
    };
    let s = fig6::run(gpu_opts, &o)?;
    let pct = |r: f64| format!("{:.1}%", 100.0 * r);
    for (n, sample, test) in &s.clean_accuracy {
        println!("{n}: clean accuracy {} on the sample, {} on the test set", pct(*sample), pct(*test));
    }
    let rows: Vec<Vec<String>> = s
        .cells
        .iter()
        .map(|c| {
            vec![
                c.setting.to_string(),
                c.model.clone(),
                c.images.to_string(),
                format!("{} [{}, {}]", c.soft, pct(c.soft_rate.lo), pct(c.soft_rate.hi)),
                format!("{} [{}, {}]", c.strict, pct(c.strict_rate.lo), pct(c.strict_rate.hi)),
                c.check.violations.to_string(),
                c.check.max_ratio.map_or("-".into(), |r| format!("{r:.3e}")),
                format!("{:.0}", c.seconds),
            ]
        })
        .collect();
    println!(
        "{}",
        report::markdown_table(
            &[
                "setting",
                "model",
                "images",
                "soft successes [95% CI]",
                "strict successes [95% CI]",
                "bound violations",
                "max Δ/bound",
                "seconds"
            ],
            &rows
        )
    );
    println!("(results in {}, {:.0} s in all)", a.out_dir.display(), s.seconds);
    Ok(())
}

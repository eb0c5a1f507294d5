//! `advlab attack stadv`: spatially transformed adversarial examples
//! (SPEC §4) on the same command line as the pixel attacks. The optimiser is
//! `crate::stadv`; this file parses flags, picks targets, writes outputs.

use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Args;
use image::{Rgb, RgbImage};
use serde_json::json;

use super::attack::{load_inputs, CommonArgs, TargetMode};
use crate::attack;
use crate::data::npy;
use crate::gpu::GpuOptions;
use crate::grid;
use crate::nn::{Arch, Model};
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
    if a.iters == 0 || c.batch == 0 {
        bail!("--iters and --batch must be at least 1");
    }
    let tau_search = a.tau_search.as_deref().map(TauSearch::parse).transpose()?;
    let arch = Arch::parse(&c.arch)?;
    let inputs = load_inputs(c, &arch)?;
    let data = &inputs.data;
    if data.h < 2 || data.w < 2 {
        bail!("stadv needs images at least 2×2, got {}×{}", data.h, data.w);
    }
    let targets: Option<(Vec<u32>, String)> = match (&c.targets, c.target) {
        (Some(_), Some(_)) => bail!("give either --targets T.npy or --target, not both"),
        (Some(p), None) => {
            let raw = npy::read_npy_labels(p)?;
            if raw.len() < data.n {
                bail!("{}: {} targets for {} images", p.display(), raw.len(), data.n);
            }
            let t: Vec<u32> = raw[..data.n]
                .iter()
                .map(|&v| u32::try_from(v).ok().filter(|&v| (v as usize) < arch.classes))
                .collect::<Option<_>>()
                .with_context(|| format!("{}: targets must be in 0..{}", p.display(), arch.classes))?;
            attack::check_targets(&p.display().to_string(), &t, &data.labels, arch.classes)?;
            Some((t, p.display().to_string()))
        }
        (None, Some(TargetMode::Random)) => {
            Some((attack::random_targets(&data.labels, arch.classes, c.seed)?, "random".into()))
        }
        (None, Some(TargetMode::Next)) => Some((attack::next_targets(&data.labels, arch.classes), "next".into())),
        (None, None) => None,
    };
    std::fs::create_dir_all(&c.out_dir).with_context(|| format!("--out-dir {}: cannot create", c.out_dir.display()))?;

    let gpu = super::open_gpu(gpu_opts)?;
    let model = Model::load(&gpu, arch, &c.model)?;
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
    let goal = match &targets {
        Some((t, _)) => Goal::Targeted(t),
        None => Goal::Untargeted,
    };
    eprintln!(
        "stadv on {} images from {} ({}), {:?}, {}",
        data.n,
        inputs.source,
        if targets.is_some() { "targeted" } else { "untargeted" },
        a.optimizer,
        match (&tau_search, a.flow_budget) {
            (Some(s), b) => format!("τ search {}..{} in {} steps, budget {:?}", s.lo, s.hi, s.steps, b),
            (None, b) => format!("τ {}, budget {:?}", a.tau, b),
        }
    );
    let clean_pred = crate::nn::train::predict_labels(&gpu, &model, data, c.batch)?;
    let out = stadv::attack(&gpu, &model, &data.images, shape, &data.labels, goal, &cfg)?;

    let n = data.n as f64;
    let strict = out.success_strict.iter().filter(|&&s| s).count();
    let soft = out.success_soft.iter().filter(|&&s| s).count();
    let clean_correct = clean_pred.iter().zip(&data.labels).filter(|(p, y)| p == y).count();
    let adv_correct = out.pred.iter().zip(&data.labels).filter(|(p, y)| p == y).count();
    let mean = |v: &[f32], keep: &[bool]| {
        let s: Vec<f64> = v.iter().zip(keep).filter(|(_, &k)| k).map(|(&x, _)| x as f64).collect();
        (!s.is_empty()).then(|| s.iter().sum::<f64>() / s.len() as f64)
    };
    let all = vec![true; data.n];
    let lflow_soft = mean(&out.l_flow, &out.success_soft);
    npy::write_npy_f32(&c.out_dir.join("adv.npy"), &shape, &out.adv)?;
    npy::write_npy_f32(&c.out_dir.join("flow.npy"), &[data.n, 2, data.h, data.w], &out.flow)?;
    write_grid(&c.out_dir.join("grid.png"), data, &out, &clean_pred, targets.as_ref().map(|t| t.0.as_slice()), c.grid)?;

    println!(
        "{}",
        report::markdown_table(
            &[
                "attack",
                "images",
                "strict success",
                "soft success",
                "clean acc",
                "adv acc",
                "mean L_flow (soft successes)",
                "mean L_flow (all)",
                "seconds",
                "s/image"
            ],
            &[vec![
                "stadv".into(),
                data.n.to_string(),
                format!("{strict} ({:.1}%)", 100.0 * strict as f64 / n),
                format!("{soft} ({:.1}%)", 100.0 * soft as f64 / n),
                format!("{:.1}%", 100.0 * clean_correct as f64 / n),
                format!("{:.1}%", 100.0 * adv_correct as f64 / n),
                lflow_soft.map(|v| format!("{v:.3}")).unwrap_or("-".into()),
                mean(&out.l_flow, &all).map(|v| format!("{v:.3}")).unwrap_or("-".into()),
                format!("{:.1}", out.seconds),
                format!("{:.3}", out.seconds / n),
            ]]
        )
    );
    println!("(results in {})", c.out_dir.display());
    let settings = json!({
        "attack": "stadv", "config": cfg, "arch": model.arch.spec, "model": c.model, "data": inputs.source,
        "count": data.n, "targets": targets.as_ref().map(|t| t.1.clone()), "targeted": targets.is_some(),
        "seed": c.seed, "batch": c.batch,
    });
    let results = json!({
        "strict_success": strict, "soft_success": soft, "strict_rate": strict as f64 / n, "soft_rate": soft as f64 / n,
        "clean_accuracy": clean_correct as f64 / n, "adv_accuracy": adv_correct as f64 / n,
        "mean_l_flow_soft_successes": lflow_soft, "wall_seconds": out.seconds, "seconds_per_image": out.seconds / n,
        "per_image": out,
    });
    report::write_json(
        &c.out_dir.join("results.json"),
        &report::envelope("attack stadv", Some(&gpu), settings, results),
    )?;
    super::print_profile(&gpu);
    Ok(())
}

/// grid.png: original / warped / difference (as for the pixel attacks) and
/// a fourth column with the flow as a colour wheel (hue = direction,
/// brightness = length relative to the largest shift in that image).
fn write_grid(
    path: &Path,
    data: &crate::data::Dataset,
    out: &stadv::StadvOutcome,
    clean: &[u32],
    targets: Option<&[u32]>,
    rows: usize,
) -> Result<()> {
    let (c, h, w) = (data.c, data.h, data.w);
    let per = c * h * w;
    let k = rows.min(data.n);
    let grid_rows: Vec<grid::GridRow> = (0..k)
        .map(|i| grid::GridRow {
            orig: &data.images[i * per..(i + 1) * per],
            adv: &out.adv[i * per..(i + 1) * per],
            label: data.labels[i],
            target: targets.map(|t| t[i]),
            clean_pred: clean[i],
            adv_pred: out.pred[i],
            success: out.success_strict[i],
        })
        .collect();
    let base = grid::attack_grid(&grid_rows, [c, h, w]);
    // Same geometry as attack_grid: cells of scale×(h, w) in rows of fixed pitch.
    let scale = (84 / h.max(w).max(1)).max(1) as u32;
    let (cw, ch) = (w as u32 * scale, h as u32 * scale);
    let pad = 4u32;
    let pitch = if k > 0 { (base.height() - pad - (6 * if cw >= 72 { 2 } else { 1 }) - pad) / k as u32 } else { 0 };
    let mut img = RgbImage::from_pixel(base.width() + cw + pad, base.height(), Rgb([32, 32, 32]));
    image::imageops::replace(&mut img, &base, 0, 0);
    let x0 = base.width();
    let y_first = base.height() - pitch * k as u32;
    grid::draw_text(&mut img, x0, pad, "FLOW", 1, Rgb([235, 235, 235]));
    for i in 0..k {
        let f = &out.flow[i * 2 * h * w..(i + 1) * 2 * h * w];
        let m = (0..h * w).map(|p| f[p].hypot(f[h * w + p])).fold(0f32, f32::max).max(1e-12);
        for yy in 0..h {
            for xx in 0..w {
                let p = yy * w + xx;
                let (dv, du) = (f[p], f[h * w + p]);
                let rgb = wheel(du.atan2(dv), du.hypot(dv) / m);
                for sy in 0..scale {
                    for sx in 0..scale {
                        img.put_pixel(
                            x0 + xx as u32 * scale + sx,
                            y_first + i as u32 * pitch + yy as u32 * scale + sy,
                            rgb,
                        );
                    }
                }
            }
        }
        let _ = ch;
    }
    grid::save_png(path, &img)
}

/// HSV colour with hue = angle, value = magnitude in [0,1], full saturation.
fn wheel(angle: f32, mag: f32) -> Rgb<u8> {
    let hue = (angle.to_degrees() + 360.0) % 360.0 / 60.0;
    let x = 1.0 - (hue % 2.0 - 1.0).abs();
    let (r, g, b) = match hue as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    let v = mag.clamp(0.0, 1.0) * 255.0;
    Rgb([(r * v) as u8, (g * v) as u8, (b * v) as u8])
}

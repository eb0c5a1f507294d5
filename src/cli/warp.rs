//! `advlab warp` (apply flows to images) and `advlab flow-loss` (per-image
//! L_flow of flows), on the GPU.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use crate::data::npy;
use crate::gpu::{Gpu, GpuOptions};
use crate::ops::tv::{self, FlowLossOpts, Neighbours, Padding, Variant};
use crate::ops::warp as warp_op;
use crate::report;

/// `advlab warp`
#[derive(Args, Clone, Debug)]
pub struct WarpCmd {
    /// Images, N×C×H×W (or N×H×W, N×784, N×3072) f32 in [0,1]
    #[arg(long)]
    pub input: PathBuf,
    /// Flows, N×2×H×W f32 (channel 0 vertical, channel 1 horizontal shift, in pixels)
    #[arg(long)]
    pub flow: PathBuf,
    /// Warped images, f32, same shape as --input
    #[arg(long)]
    pub out: PathBuf,
    /// Also write results.json here (adapter, settings, timing); never over another command's file
    #[arg(long)]
    pub results: Option<PathBuf>,
}

/// `advlab flow-loss`
#[derive(Args, Clone, Debug)]
pub struct FlowLossCmd {
    /// Flows, N×2×H×W f32
    #[arg(long)]
    pub flow: PathBuf,
    /// Neighbour set S
    #[arg(long, value_enum, default_value_t = Neighbours::Diag4)]
    pub neighbours: Neighbours,
    /// Flow outside the image: constant (zero) or symmetric (edge replicate)
    #[arg(long, value_enum, default_value_t = Padding::Constant)]
    pub padding: Padding,
    /// ε inside each square root
    #[arg(long, default_value_t = 1e-8)]
    pub eps: f32,
    /// Square root per pixel and offset (pixel, stAdv v0.2) or per offset over the image (shift, stAdv v0.1)
    #[arg(long, value_enum, default_value_t = Variant::Pixel)]
    pub variant: Variant,
    /// Also write results.json here (adapter, settings, per-image L_flow); never over another command's file
    #[arg(long)]
    pub results: Option<PathBuf>,
}

impl FlowLossCmd {
    pub fn opts(&self) -> FlowLossOpts {
        FlowLossOpts { neighbours: self.neighbours, padding: self.padding, eps: self.eps, variant: self.variant }
    }
}

pub use crate::data::npy::read_flow;

/// Warp images with flows; returns the warped images in the input's shape.
pub fn warp_files(gpu_opts: &GpuOptions, input: &Path, flow: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let (shape, y, _) = warp_on_device(gpu_opts, input, flow)?;
    Ok((shape, y))
}

/// [`warp_files`], also returning the device it ran on (for results.json).
fn warp_on_device(gpu_opts: &GpuOptions, input: &Path, flow: &Path) -> Result<(Vec<usize>, Vec<f32>, Arc<Gpu>)> {
    let (shape, x) = npy::read_npy_f32(input)?;
    let (n, c, h, w) = npy::image_shape_from(input, &shape)?;
    npy::check_pixels(input, &x)?;
    let ([fn_, fh, fw], f) = read_flow(flow)?;
    if (fn_, fh, fw) != (n, h, w) {
        bail!(
            "{}: flow shape [{fn_}, 2, {fh}, {fw}] does not match the images in {} (N×C×H×W = {n}×{c}×{h}×{w}; expected [{n}, 2, {h}, {w}])",
            flow.display(),
            input.display()
        );
    }
    if h < 2 || w < 2 {
        bail!("{}: images must be at least 2×2 to warp, found {h}×{w}", input.display());
    }
    let gpu = super::open_gpu(gpu_opts)?;
    let xt = gpu.try_upload(&x, &[n, c, h, w]).with_context(|| input.display().to_string())?;
    let ft = gpu.try_upload(&f, &[n, 2, h, w]).with_context(|| flow.display().to_string())?;
    let y = gpu.read(&warp_op::forward(&gpu, &xt, &ft));
    super::print_profile(&gpu);
    Ok((shape, y, gpu))
}

/// `advlab warp --input X.npy --flow F.npy --out Y.npy`
pub fn warp(gpu_opts: &GpuOptions, input: &Path, flow: &Path, out: &Path) -> Result<()> {
    warp_with_results(gpu_opts, input, flow, out, None)
}

fn warp_with_results(
    gpu_opts: &GpuOptions,
    input: &Path,
    flow: &Path,
    out: &Path,
    results: Option<&Path>,
) -> Result<()> {
    if let Some(r) = results {
        report::check_results_path(r, "warp")?;
    }
    let t = Instant::now();
    let (shape, y, gpu) = warp_on_device(gpu_opts, input, flow)?;
    let secs = t.elapsed().as_secs_f64();
    npy::write_npy_f32(out, &shape, &y)?;
    eprintln!("wrote {} ({} warped images)", out.display(), shape[0]);
    if let Some(r) = results {
        let settings = json!({"input": input, "flow": flow, "out": out, "shape": shape, "seed": null});
        report::write_json(
            r,
            &report::envelope("warp", Some(&gpu), settings, json!({"images": shape[0], "seconds": secs})),
        )?;
    }
    Ok(())
}

/// L_flow per image of the flows in `flow`.
pub fn flow_loss_values(gpu_opts: &GpuOptions, flow: &Path, opts: &FlowLossOpts) -> Result<Vec<f32>> {
    Ok(flow_loss_on_device(gpu_opts, flow, opts)?.0)
}

fn flow_loss_on_device(gpu_opts: &GpuOptions, flow: &Path, opts: &FlowLossOpts) -> Result<(Vec<f32>, Arc<Gpu>)> {
    if !(opts.eps >= 0.0 && opts.eps.is_finite()) {
        bail!("--eps {}: must be finite and >= 0", opts.eps);
    }
    let ([n, h, w], f) = read_flow(flow)?;
    let gpu = super::open_gpu(gpu_opts)?;
    let ft = gpu.try_upload(&f, &[n, 2, h, w]).with_context(|| flow.display().to_string())?;
    let l = gpu.read(&tv::forward(&gpu, &ft, opts));
    super::print_profile(&gpu);
    Ok((l, gpu))
}

/// `advlab flow-loss --flow F.npy`: prints a table of per-image L_flow.
pub fn flow_loss(gpu_opts: &GpuOptions, flow: &Path, opts: &FlowLossOpts) -> Result<()> {
    flow_loss_with_results(gpu_opts, flow, opts, None)
}

fn flow_loss_with_results(
    gpu_opts: &GpuOptions,
    flow: &Path,
    opts: &FlowLossOpts,
    results: Option<&Path>,
) -> Result<()> {
    if let Some(r) = results {
        report::check_results_path(r, "flow-loss")?;
    }
    let (l, gpu) = flow_loss_on_device(gpu_opts, flow, opts)?;
    let rows: Vec<Vec<String>> = l.iter().enumerate().map(|(i, v)| vec![i.to_string(), format!("{v:.6}")]).collect();
    println!("L_flow ({opts})\n");
    println!("{}", report::markdown_table(&["image", "L_flow"], &rows));
    if let Some(r) = results {
        let settings = json!({"flow": flow, "neighbours": opts.neighbours, "padding": opts.padding,
                              "eps": opts.eps, "variant": opts.variant, "seed": null});
        let mean = l.iter().map(|&v| v as f64).sum::<f64>() / l.len().max(1) as f64;
        let results = json!({"images": l.len(), "mean_l_flow": mean, "l_flow": l});
        report::write_json(r, &report::envelope("flow-loss", Some(&gpu), settings, results))?;
    }
    Ok(())
}

/// Dispatch for main.rs: `Cmd::Warp(w) => cli::warp::run_warp(&g, &w)`.
pub fn run_warp(gpu_opts: &GpuOptions, c: &WarpCmd) -> Result<()> {
    warp_with_results(gpu_opts, &c.input, &c.flow, &c.out, c.results.as_deref())
}

/// Dispatch for main.rs: `Cmd::FlowLoss(f) => cli::warp::run_flow_loss(&g, &f)`.
pub fn run_flow_loss(gpu_opts: &GpuOptions, c: &FlowLossCmd) -> Result<()> {
    flow_loss_with_results(gpu_opts, &c.flow, &c.opts(), c.results.as_deref())
}

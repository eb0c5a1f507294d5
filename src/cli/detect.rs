//! `advlab detect`: per-image verdicts of the f1 / LAN / f2 detector, and
//! TP, TN, ROC and AUC against a benign set.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

use crate::data::{self, npy, DataSpec, Selection, Split};
use crate::detect::detector::{summarize, Detector, Record};
use crate::detect::roc;
use crate::gpu::GpuOptions;
use crate::nn::checkpoint::Checkpoint;
use crate::nn::{Arch, Model};
use crate::report;

#[derive(Args)]
pub struct DetectArgs {
    /// Architecture of the classifier f1, e.g. alexnet-cifar
    #[arg(long)]
    pub arch: String,
    /// f1's weights
    #[arg(long)]
    pub model: PathBuf,
    /// The LAN g (from `advlab lan train`)
    #[arg(long)]
    pub lan: PathBuf,
    /// The LAN's architecture [default: the `arch` in its file's metadata]
    #[arg(long)]
    pub lan_arch: Option<String>,
    /// The mask classifier f2 (trained on g's masks with `advlab train --data npydir:DIR`)
    #[arg(long)]
    pub f2: PathBuf,
    /// f2's architecture [default: the `arch` in the f2 file's metadata, else lenet:3x32x32]
    #[arg(long)]
    pub f2_arch: Option<String>,
    /// Images to judge, N×C×H×W f32 in [0,1] (with --benign: the adversarial set)
    #[arg(long)]
    pub input: PathBuf,
    /// True labels of --input (1-D integers): adds f1's and f2's accuracy
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Benign images (N×C×H×W): then TP = flagged share of --input, TN = unflagged share of these, ROC and AUC
    #[arg(long)]
    pub benign: Option<PathBuf>,
    /// True labels of --benign (1-D integers)
    #[arg(long)]
    pub benign_labels: Option<PathBuf>,
    /// Benign images from a data set instead of --benign, e.g. cifar10:DIR (with --benign-split, --benign-count)
    #[arg(long)]
    pub benign_data: Option<String>,
    /// Split of --benign-data
    #[arg(long, default_value = "test")]
    pub benign_split: String,
    /// The first N images of --benign-data's split (default: all)
    #[arg(long)]
    pub benign_count: Option<usize>,
    /// Output directory (results.json, roc.png); created once the inputs and models check out
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Images per GPU batch
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
}

/// Images of `path` in `chw`, and optional labels of the same count.
fn read_set(
    flag: &str,
    path: &std::path::Path,
    labels: Option<&std::path::Path>,
    chw: [usize; 3],
) -> Result<(Vec<f32>, usize, Option<Vec<u32>>)> {
    let (shape, data) = npy::read_npy_f32(path)?;
    let (n, c, h, w) = npy::image_shape_from(path, &shape)?;
    if [c, h, w] != chw {
        bail!("{flag} {}: {c}×{h}×{w} images, expected {}×{}×{} for --arch", path.display(), chw[0], chw[1], chw[2]);
    }
    npy::check_pixels(path, &data)?;
    let labels = match labels {
        None => None,
        Some(p) => {
            let l = npy::read_npy_labels(p)?;
            if l.len() != n {
                bail!("{}: {} labels for {n} images in {}", p.display(), l.len(), path.display());
            }
            if let Some((i, v)) = l.iter().enumerate().find(|(_, &v)| !(0..10).contains(&v)) {
                bail!("{}: label {v} at position {i} is not a class 0..9", p.display());
            }
            Some(l.iter().map(|&v| v as u32).collect())
        }
    };
    Ok((data, n, labels))
}

fn with_labels(mut r: Vec<Record>, labels: &Option<Vec<u32>>) -> Vec<Record> {
    if let Some(l) = labels {
        for (rec, &y) in r.iter_mut().zip(l) {
            rec.label = Some(y);
        }
    }
    r
}

pub fn run(gpu_opts: &GpuOptions, a: &DetectArgs) -> Result<()> {
    let f1_arch = Arch::parse(&a.arch)?;
    let f2_spec = match &a.f2_arch {
        Some(s) => s.clone(),
        None => Checkpoint::load(&a.f2)?.metadata().get("arch").cloned().unwrap_or_else(|| "lenet:3x32x32".into()),
    };
    let f2_arch = Arch::parse(&f2_spec)?;
    let results_path = a.out_dir.join("results.json");
    report::check_results_path(&results_path, "detect")?;
    let (x, _, labels) = read_set("--input", &a.input, a.labels.as_deref(), f1_arch.input)?;
    let benign = match (&a.benign, &a.benign_data) {
        (Some(_), Some(_)) => bail!("give either --benign B.npy or --benign-data, not both"),
        (Some(b), None) => Some(read_set("--benign", b, a.benign_labels.as_deref(), f1_arch.input)?),
        (None, Some(spec)) => {
            let spec = DataSpec::parse(spec)?;
            let split: Split = a.benign_split.trim().parse()?;
            let sel = data::load_selected(&spec, &Selection { split, indices: None, count: a.benign_count })?;
            let d = sel.data;
            if [d.c, d.h, d.w] != f1_arch.input {
                bail!("--benign-data {spec}: {}×{}×{} images, expected {:?} for --arch", d.c, d.h, d.w, f1_arch.input);
            }
            Some((d.images, d.n, Some(d.labels)))
        }
        (None, None) => {
            if a.benign_labels.is_some() {
                bail!("--benign-labels: only with --benign");
            }
            None
        }
    };
    let gpu = super::open_gpu(gpu_opts)?;
    let f1 = Model::load(&gpu, f1_arch, &a.model)?;
    let lan = super::lan::load_lan(&gpu, &a.lan, a.lan_arch.as_deref())?;
    let f2 = Model::load(&gpu, f2_arch, &a.f2)?;
    let det = Detector::new(f1, lan, f2)?;
    let t0 = Instant::now();
    let recs = with_labels(det.run(&gpu, &x, a.batch)?, &labels);
    let ben = match &benign {
        Some((b, _, bl)) => Some(with_labels(det.run(&gpu, b, a.batch)?, bl)),
        None => None,
    };
    let seconds = t0.elapsed().as_secs_f64();
    std::fs::create_dir_all(&a.out_dir)
        .map_err(|e| anyhow::anyhow!("--out-dir {}: cannot create it: {e}", a.out_dir.display()))?;
    let summary = summarize(&recs);
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v));
    let mut rows = vec![vec![
        "input".to_string(),
        summary.images.to_string(),
        format!("{:.2}%", 100.0 * summary.flag_rate),
        pct(summary.f1_accuracy),
        pct(summary.f2_accuracy),
    ]];
    let (detection, ben_summary) = match &ben {
        Some(b) => {
            let flags = |r: &[Record]| r.iter().map(|r| r.flag).collect::<Vec<_>>();
            let scores = |r: &[Record]| r.iter().map(|r| r.score).collect::<Vec<_>>();
            let d = roc::detection(&flags(&recs), &scores(&recs), &flags(b), &scores(b))?;
            roc::save_roc_png(&a.out_dir.join("roc.png"), &d, "detector ROC (adversarial = positive)")?;
            let s = summarize(b);
            rows.push(vec![
                "benign".into(),
                s.images.to_string(),
                format!("{:.2}%", 100.0 * s.flag_rate),
                pct(s.f1_accuracy),
                pct(s.f2_accuracy),
            ]);
            (Some(d), Some(s))
        }
        None => (None, None),
    };
    println!("{}", report::markdown_table(&["set", "images", "flagged", "f1 accuracy", "f2 accuracy (masks)"], &rows));
    if let Some(d) = &detection {
        println!(
            "{}",
            report::markdown_table(
                &["TP", "TN", "AUC", "adversarial flagged", "benign flagged"],
                &[vec![
                    format!("{:.4}", d.tp),
                    format!("{:.4}", d.tn),
                    format!("{:.4}", d.auc),
                    format!("{}/{}", d.adversarial_flagged, d.adversarial),
                    format!("{}/{}", d.benign_flagged, d.benign),
                ]]
            )
        );
    }
    let v = report::envelope(
        "detect",
        Some(&gpu),
        json!({"arch": a.arch, "model": a.model, "lan": a.lan, "lan_arch": det.lan.arch.spec, "f2": a.f2,
               "f2_arch": f2_spec, "input": a.input, "labels": a.labels, "benign": a.benign,
               "benign_labels": a.benign_labels,
               "benign_data": a.benign_data, "benign_split": a.benign_split, "benign_count": a.benign_count, "batch": a.batch, "seed": null,
               "rule": "flag iff argmax f1(x) != argmax f2(g(x)); score = 1 - softmax(f2(g(x)))[argmax f1(x)]"}),
        json!({"summary": summary, "benign_summary": ben_summary, "detection": detection,
               "timing": {"seconds": seconds}, "per_image": recs, "benign_per_image": ben}),
    );
    report::write_json(&results_path, &v)?;
    Ok(())
}

//! The arrays and grids an attack writes to its --out-dir: `adv.npy`
//! (N×C×H×W f32, input order), `labels.npy` (the images' labels, int64, so
//! `advlab eval --data npy:adv.npy,labels.npy` scores the adversarial set),
//! `grid.png`, and for stAdv `flow.npy` (N×2×H×W) with the flow column in
//! the grid. Every file is written atomically.

use std::path::Path;

use anyhow::Result;

use super::AttackResult;
use crate::data::{npy, Dataset};
use crate::grid::{self, GridRow};
use crate::stadv::StadvOutcome;

fn write_labels(dir: &Path, labels: &[u32]) -> Result<()> {
    let l: Vec<i64> = labels.iter().map(|&v| v as i64).collect();
    npy::write_npy_i64(&dir.join("labels.npy"), &[l.len()], &l)
}

/// adv.npy, labels.npy and grid.png (first `grid_rows` images) of a pixel
/// attack on `data`; `names`: class names for the captions.
pub fn write_pixel_outputs(
    dir: &Path,
    res: &AttackResult,
    data: &Dataset,
    names: Option<&[&str]>,
    grid_rows: usize,
) -> Result<()> {
    npy::write_npy_f32(&dir.join("adv.npy"), &res.shape, &res.adv)?;
    write_labels(dir, &data.labels)?;
    let per = data.image_len();
    let rows: Vec<GridRow> = res
        .images
        .iter()
        .take(grid_rows)
        .enumerate()
        .map(|(i, r)| GridRow {
            orig: data.image(i),
            adv: &res.adv[i * per..(i + 1) * per],
            label: r.label,
            target: r.target,
            clean_pred: r.clean_pred,
            adv_pred: r.adv_pred,
            success: r.success,
        })
        .collect();
    grid::save_png(&dir.join("grid.png"), &grid::attack_grid_with(&rows, data.image_shape(), names, 0).0)
}

/// adv.npy, flow.npy, labels.npy and grid.png (with the flow column) of a
/// stAdv run on `data`.
pub fn write_stadv_outputs(
    dir: &Path,
    out: &StadvOutcome,
    data: &Dataset,
    clean_pred: &[u32],
    targets: Option<&[u32]>,
    names: Option<&[&str]>,
    grid_rows: usize,
) -> Result<()> {
    npy::write_npy_f32(&dir.join("adv.npy"), &out.shape, &out.adv)?;
    npy::write_npy_f32(&dir.join("flow.npy"), &[data.n, 2, data.h, data.w], &out.flow)?;
    write_labels(dir, &data.labels)?;
    let per = data.image_len();
    let k = grid_rows.min(data.n);
    let rows: Vec<GridRow> = (0..k)
        .map(|i| GridRow {
            orig: data.image(i),
            adv: &out.adv[i * per..(i + 1) * per],
            label: data.labels[i],
            target: targets.map(|t| t[i]),
            clean_pred: clean_pred[i],
            adv_pred: out.pred[i],
            success: out.success_strict[i],
        })
        .collect();
    let img = grid::flow::flow_grid(&rows, data.image_shape(), names, &out.flow[..k * 2 * data.h * data.w]);
    grid::save_png(&dir.join("grid.png"), &img)
}

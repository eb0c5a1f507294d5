//! Masks as a data set and as a picture: `{split}_x.npy` / `{split}_y.npy`
//! in one directory (so `--data npydir:DIR` trains f2 on them), and a PNG
//! of images beside their importance maps 1 − A (thesis Figs. 2, 4, 5).

use std::path::Path;

use anyhow::{Context, Result};
use image::{Rgb, RgbImage};

use crate::data::npy;
use crate::data::Split;
use crate::grid::{draw_text, save_png};

/// Write `{split}_x.npy` (masks, N×C×H×W f32) and `{split}_y.npy` (int64
/// labels) into `dir`, and make `masks.npy` / `labels.npy` hard links to
/// them (copies where links are not possible).
pub fn write_split(dir: &Path, split: Split, masks: &[f32], labels: &[u32], chw: [usize; 3]) -> Result<()> {
    let [c, h, w] = chw;
    let xs = dir.join(format!("{split}_x.npy"));
    let ys = dir.join(format!("{split}_y.npy"));
    npy::write_npy_f32(&xs, &[labels.len(), c, h, w], masks)?;
    let l: Vec<i64> = labels.iter().map(|&v| v as i64).collect();
    npy::write_npy_i64(&ys, &[l.len()], &l)?;
    for (from, to) in [(&xs, "masks.npy"), (&ys, "labels.npy")] {
        let to = dir.join(to);
        let _ = std::fs::remove_file(&to);
        if std::fs::hard_link(from, &to).is_err() {
            std::fs::copy(from, &to).with_context(|| format!("{}: cannot copy {}", to.display(), from.display()))?;
        }
    }
    Ok(())
}

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn blit(img: &mut RgbImage, x0: u32, y0: u32, data: &[f32], [c, h, w]: [usize; 3], s: u32, f: impl Fn(f32) -> f32) {
    for y in 0..h {
        for x in 0..w {
            let px = |ch: usize| to_u8(f(data[(ch * h + y) * w + x]));
            let rgb = if c >= 3 { [px(0), px(1), px(2)] } else { [px(0); 3] };
            for dy in 0..s {
                for dx in 0..s {
                    img.put_pixel(x0 + x as u32 * s + dx, y0 + y as u32 * s + dy, Rgb(rgb));
                }
            }
        }
    }
}

/// `count` images in pairs (image | 1 − A, and 1 − A averaged over the
/// channels in grey), four pairs to a row, captioned with `captions`.
pub fn mask_grid(images: &[f32], masks: &[f32], chw: [usize; 3], captions: &[String], count: usize) -> RgbImage {
    let [c, h, w] = chw;
    let d = c * h * w;
    let n = count.min(images.len() / d.max(1));
    let s = (64 / h.max(w).max(1)).max(1) as u32;
    let (cw, ch) = (w as u32 * s, h as u32 * s);
    let pad = 6u32;
    let per_row = 4u32;
    let cell_w = 3 * cw + 2 * 2 + pad;
    let cell_h = ch + 14 + pad;
    let rows = (n as u32).div_ceil(per_row).max(1);
    let mut img = RgbImage::from_pixel(pad + per_row * cell_w, 24 + rows * cell_h, Rgb([32, 32, 32]));
    let fg = Rgb([235, 235, 235]);
    draw_text(&mut img, pad, 6, "IMAGE, IMPORTANCE 1-A (RGB), 1-A (CHANNEL MEAN)", 2, fg);
    for i in 0..n {
        let (x0, y0) = (pad + (i as u32 % per_row) * cell_w, 24 + (i as u32 / per_row) * cell_h);
        let (im, m) = (&images[i * d..(i + 1) * d], &masks[i * d..(i + 1) * d]);
        blit(&mut img, x0, y0, im, chw, s, |v| v);
        blit(&mut img, x0 + cw + 2, y0, m, chw, s, |a| 1.0 - a);
        let mean: Vec<f32> = (0..h * w).map(|p| (0..c).map(|k| m[k * h * w + p]).sum::<f32>() / c as f32).collect();
        blit(&mut img, x0 + 2 * (cw + 2), y0, &mean, [1, h, w], s, |a| 1.0 - a);
        if let Some(t) = captions.get(i) {
            draw_text(&mut img, x0, y0 + ch + 3, t, 1, fg);
        }
    }
    img
}

/// Save [`mask_grid`] as a PNG.
pub fn save_mask_grid(
    path: &Path,
    images: &[f32],
    masks: &[f32],
    chw: [usize; 3],
    captions: &[String],
    count: usize,
) -> Result<()> {
    save_png(path, &mask_grid(images, masks, chw, captions, count))
}

//! PNG image grids: original / adversarial / amplified difference per row,
//! with captions drawn in a built-in 3×5 pixel font (no font files needed),
//! class names where the classes are CIFAR-10's, and a legend for the
//! difference scale. [`flow`] adds stAdv's flow column and colour wheel.

pub mod flow;

use std::io::Cursor;
use std::path::Path;

use anyhow::{anyhow, Result};
use image::{Rgb, RgbImage};

/// 3×5 glyphs, one row per byte, bit 2 = left column.
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [3, 4, 4, 4, 3],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [3, 4, 5, 5, 3],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 2],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [6, 5, 6, 4, 4],
        'Q' => [2, 5, 5, 6, 3],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        '.' => [0, 0, 0, 0, 2],
        ',' => [0, 0, 0, 2, 4],
        ':' => [0, 2, 0, 2, 0],
        '-' => [0, 0, 7, 0, 0],
        '=' => [0, 7, 0, 7, 0],
        '>' => [4, 2, 1, 2, 4],
        '/' => [1, 1, 2, 4, 4],
        '+' => [0, 2, 7, 2, 0],
        '(' => [1, 2, 2, 2, 1],
        ')' => [4, 2, 2, 2, 4],
        ' ' => [0; 5],
        _ => [7, 1, 2, 0, 2], // '?'
    }
}

/// Width in pixels of `text` at font scale `s`.
pub fn text_width(text: &str, s: u32) -> u32 {
    (text.chars().count() as u32 * 4).saturating_sub(1) * s
}

/// Draw `text` with its top-left corner at (x, y), clipped to the image.
pub fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str, s: u32, color: Rgb<u8>) {
    for (i, ch) in text.chars().enumerate() {
        let g = glyph(ch);
        let x0 = x + i as u32 * 4 * s;
        for (r, bits) in g.iter().enumerate() {
            for col in 0..3u32 {
                if bits & (4 >> col) == 0 {
                    continue;
                }
                for dy in 0..s {
                    for dx in 0..s {
                        let (px, py) = (x0 + col * s + dx, y + r as u32 * s + dy);
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, color);
                        }
                    }
                }
            }
        }
    }
}

/// One row of an attack grid.
#[derive(Clone, Copy)]
pub struct GridRow<'a> {
    /// C·H·W values in [0,1].
    pub orig: &'a [f32],
    pub adv: &'a [f32],
    pub label: u32,
    pub target: Option<u32>,
    pub clean_pred: u32,
    pub adv_pred: u32,
    pub success: bool,
}

const BG: Rgb<u8> = Rgb([32, 32, 32]);
const FG: Rgb<u8> = Rgb([235, 235, 235]);
const OK: Rgb<u8> = Rgb([120, 220, 120]);
const BAD: Rgb<u8> = Rgb([230, 110, 110]);

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn blit(img: &mut RgbImage, x0: u32, y0: u32, data: &[f32], [c, h, w]: [usize; 3], scale: u32) {
    for yy in 0..h {
        for xx in 0..w {
            let px = |ch: usize| data[(ch * h + yy) * w + xx];
            let rgb = if c >= 3 { [to_u8(px(0)), to_u8(px(1)), to_u8(px(2))] } else { [to_u8(px(0)); 3] };
            for dy in 0..scale {
                for dx in 0..scale {
                    img.put_pixel(x0 + xx as u32 * scale + dx, y0 + yy as u32 * scale + dy, Rgb(rgb));
                }
            }
        }
    }
}

/// CIFAR-10's class names, by label.
pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// Class names for captions: CIFAR-10's for 3×32×32 images with 10
/// classes, else None (captions show class numbers).
pub fn class_names(chw: [usize; 3], classes: usize) -> Option<&'static [&'static str]> {
    (chw == [3, 32, 32] && classes == 10).then_some(&CIFAR10_CLASSES[..])
}

/// Where the cells of a grid are.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub pad: u32,
    /// Pixels per image pixel.
    pub scale: u32,
    /// Cell width and height.
    pub cw: u32,
    pub ch: u32,
    /// Caption font scale and line height.
    pub fs: u32,
    pub line: u32,
    /// Image rows.
    pub rows: u32,
    /// Top of the legend band.
    pub legend_y: u32,
}

impl Layout {
    pub fn new(chw: [usize; 3], rows: usize) -> Layout {
        let [_, h, w] = chw;
        let scale = (84 / h.max(w).max(1)).max(1) as u32;
        let (cw, ch) = (w as u32 * scale, h as u32 * scale);
        let fs = if cw >= 72 { 2 } else { 1 };
        let line = 6 * fs;
        let pad = 4u32;
        let mut l = Layout { pad, scale, cw, ch, fs, line, rows: rows as u32, legend_y: 0 };
        l.legend_y = l.row_y(rows);
        l
    }
    /// Left edge of column `c`.
    pub fn col_x(&self, c: u32) -> u32 {
        self.pad + c * (self.cw + self.pad)
    }
    /// Top of image row `r`.
    pub fn row_y(&self, r: usize) -> u32 {
        self.pad + self.line + self.pad + r as u32 * (self.ch + 2 * self.line + self.pad + self.pad)
    }
    /// Height of the legend band.
    pub fn legend_h(&self) -> u32 {
        3 * self.line + 3 * self.pad + 8
    }
    pub fn height(&self) -> u32 {
        self.legend_y + self.legend_h()
    }
}

/// A class as a caption: its name (upper case, 10 letters at most) or number.
fn class_text(prefix: &str, c: u32, names: Option<&[&str]>) -> String {
    match names.and_then(|n| n.get(c as usize)) {
        Some(n) => format!("{prefix} {}", n.to_ascii_uppercase()),
        None => format!("{prefix}{c}"),
    }
}

/// [`attack_grid_with`] without class names or extra columns.
pub fn attack_grid(rows: &[GridRow], chw: [usize; 3]) -> RgbImage {
    attack_grid_with(rows, chw, None, 0).0
}

/// Columns: original (caption: label Y, prediction P), adversarial
/// (prediction P, target T; green on success, red otherwise), and the
/// difference adv − orig amplified to fill [0,1] around mid-grey (caption:
/// L2 norm and the gain), then `extra_cols` empty columns for the caller;
/// class names from `names` (see [`class_names`]); a legend band at the
/// bottom explains the difference scale.
pub fn attack_grid_with(
    rows: &[GridRow],
    chw: [usize; 3],
    names: Option<&[&str]>,
    extra_cols: u32,
) -> (RgbImage, Layout) {
    let lay = Layout::new(chw, rows.len());
    let Layout { pad, scale, cw, ch, fs, line, .. } = lay;
    let width = pad + (3 + extra_cols) * (cw + pad);
    let mut img = RgbImage::from_pixel(width.max(1), lay.height().max(1), BG);
    for (i, t) in ["ORIGINAL", "ADVERSARIAL", "DIFF"].iter().enumerate() {
        draw_text(&mut img, pad + i as u32 * (cw + pad), pad, t, fs.min(if cw >= 90 { 2 } else { 1 }), FG);
    }
    diff_legend(&mut img, &lay);
    let n = chw.iter().product::<usize>();
    for (r, row) in rows.iter().enumerate() {
        let y0 = lay.row_y(r);
        blit(&mut img, pad, y0, row.orig, chw, scale);
        blit(&mut img, pad + cw + pad, y0, row.adv, chw, scale);
        let d: Vec<f32> = row.adv.iter().zip(row.orig).map(|(a, o)| a - o).collect();
        let m = d.iter().fold(0f32, |a, v| a.max(v.abs()));
        let gain = if m > 0.0 { 0.5 / m } else { 1.0 };
        let shown: Vec<f32> = d.iter().map(|v| 0.5 + gain * v).collect();
        blit(&mut img, pad + 2 * (cw + pad), y0, &shown, chw, scale);
        let l2 = d.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        let ty = y0 + ch + pad / 2;
        let color = if row.success { OK } else { BAD };
        draw_text(&mut img, pad, ty, &class_text("Y", row.label, names), fs, FG);
        draw_text(&mut img, pad, ty + line, &class_text("P", row.clean_pred, names), fs, FG);
        let xa = pad + cw + pad;
        draw_text(&mut img, xa, ty, &class_text("P", row.adv_pred, names), fs, color);
        if let Some(t) = row.target {
            draw_text(&mut img, xa, ty + line, &class_text("T", t, names), fs, FG);
        }
        let xd = pad + 2 * (cw + pad);
        draw_text(&mut img, xd, ty, &format!("L2 {l2:.2}"), fs, FG);
        draw_text(&mut img, xd, ty + line, &format!("X{gain:.1}"), fs, FG);
        debug_assert_eq!(row.orig.len(), n);
    }
    let _ = scale;
    (img, lay)
}

/// The difference column's scale: a bar from −M (black) through 0 (grey)
/// to +M (white), M = 0.5 / gain of the row (its largest |adv − orig|).
fn diff_legend(img: &mut RgbImage, lay: &Layout) {
    let (x0, y0) = (lay.col_x(2), lay.legend_y + lay.pad);
    let fs = 1;
    draw_text(img, lay.pad, y0, "DIFF SCALE: 0.5 + X (ADV - ORIG)", fs, FG);
    let by = y0 + 6 + lay.pad;
    for dx in 0..lay.cw {
        let v = (255.0 * dx as f32 / (lay.cw.max(2) - 1) as f32).round() as u8;
        for dy in 0..8 {
            img.put_pixel(x0 + dx, by + dy, Rgb([v, v, v]));
        }
    }
    let ty = by + 8 + 2;
    draw_text(img, x0, ty, "-M", fs, FG);
    draw_text(img, x0 + lay.cw / 2 - 1, ty, "0", fs, FG);
    draw_text(img, x0 + lay.cw - text_width("+M", fs), ty, "+M", fs, FG);
    draw_text(img, lay.pad, ty, "M = 0.5/X PER ROW", fs, FG);
}

/// Encode as PNG and write atomically.
pub fn save_png(path: &Path, img: &RgbImage) -> Result<()> {
    let mut buf = Vec::new();
    img.write_to(&mut Cursor::new(&mut buf), image::ImageFormat::Png)
        .map_err(|e| anyhow!("{}: cannot encode PNG: {e}", path.display()))?;
    crate::fsutil::write_atomic(path, &buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_expected_size_and_content() {
        let orig = vec![0.0f32; 784];
        let mut adv = orig.clone();
        adv[100] = 1.0;
        let rows = vec![
            GridRow {
                orig: &orig,
                adv: &adv,
                label: 7,
                target: Some(3),
                clean_pred: 7,
                adv_pred: 3,
                success: true
            };
            2
        ];
        let img = attack_grid(&rows, [1, 28, 28]);
        assert_eq!(img.width(), 4 + 3 * (84 + 4));
        // the changed pixel shows in the adversarial column (white) and the diff column (bright)
        let y0 = 4 + 12 + 4;
        let (yy, xx) = (100 / 28, 100 % 28);
        assert_eq!(img.get_pixel(4 + 84 + 4 + xx * 3, y0 + yy * 3), &Rgb([255, 255, 255]));
        assert_eq!(img.get_pixel(4 + 2 * 88 + xx * 3, y0 + yy * 3), &Rgb([255, 255, 255]));
        assert_eq!(img.get_pixel(4 + 2 * 88, y0), &Rgb([128, 128, 128]));
    }

    #[test]
    fn text_width_counts_glyphs() {
        assert_eq!(text_width("P7", 2), 14);
        assert_eq!(text_width("", 1), 0);
    }
}

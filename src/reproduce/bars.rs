//! The Fig. 6 bar chart: successful attacks per model, one group of bars per
//! setting; each bar is the soft count (as the thesis counts) with its strict
//! part (L_flow within the budget) drawn darker. Drawn with the built-in
//! font of src/grid (no plotting dependency).

use std::path::Path;

use anyhow::Result;
use image::{Rgb, RgbImage};

use crate::grid::{draw_text, save_png, text_width};

/// One bar: a label under it, soft and strict counts.
pub struct Bar {
    pub label: String,
    pub soft: usize,
    pub strict: usize,
}

/// One group of bars (a setting) with its caption.
pub struct Group {
    pub caption: String,
    pub bars: Vec<Bar>,
}

const H: u32 = 440;
const L: u32 = 70;
const T: u32 = 50;
const B: u32 = 80;
const BAR: u32 = 70;
const GAP: u32 = 50;

fn rect(img: &mut RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb<u8>) {
    for y in y0.min(img.height())..y1.min(img.height()) {
        for x in x0.min(img.width())..x1.min(img.width()) {
            img.put_pixel(x, y, c);
        }
    }
}

/// Draw the chart: y from 0 to `total` (the images attacked).
pub fn chart(path: &Path, title: &str, total: usize, groups: &[Group]) -> Result<()> {
    let nbars: u32 = groups.iter().map(|g| g.bars.len() as u32).sum();
    let w = (L + GAP + nbars * (BAR + 10) + groups.len() as u32 * GAP + 20).max(text_width(title, 2) + 40).max(420);
    let mut img = RgbImage::from_pixel(w, H, Rgb([255, 255, 255]));
    let (black, grey) = (Rgb([0, 0, 0]), Rgb([210, 210, 210]));
    let soft_c = [Rgb([140, 170, 230]), Rgb([240, 170, 120])];
    let strict_c = [Rgb([30, 70, 170]), Rgb([190, 90, 20])];
    let ph = (H - T - B) as f64;
    let total = total.max(1);
    let py = |v: usize| T + ((1.0 - v as f64 / total as f64) * ph).round() as u32;
    for k in 0..=4 {
        let v = total * k / 4;
        rect(&mut img, L, py(v), w - 10, py(v) + 1, grey);
        let lab = v.to_string();
        draw_text(&mut img, L - 8 - text_width(&lab, 2), py(v).saturating_sub(5), &lab, 2, black);
    }
    rect(&mut img, L, T, L + 1, T + ph as u32, black);
    let mut x = L + GAP;
    for g in groups.iter().filter(|g| !g.bars.is_empty()) {
        let x_start = x;
        for (b, bar) in g.bars.iter().enumerate() {
            let ci = b % 2;
            rect(&mut img, x, py(bar.soft), x + BAR, py(0), soft_c[ci]);
            rect(&mut img, x, py(bar.strict), x + BAR, py(0), strict_c[ci]);
            let n = bar.soft.to_string();
            draw_text(&mut img, x + (BAR - text_width(&n, 2)) / 2, py(bar.soft).saturating_sub(14), &n, 2, black);
            let s = format!("({})", bar.strict);
            if py(bar.strict) + 16 < py(0) {
                draw_text(
                    &mut img,
                    x + (BAR.saturating_sub(text_width(&s, 2))) / 2,
                    py(bar.strict) + 4,
                    &s,
                    2,
                    Rgb([255, 255, 255]),
                );
            }
            draw_text(
                &mut img,
                x + (BAR.saturating_sub(text_width(&bar.label, 2))) / 2,
                py(0) + 8,
                &bar.label,
                2,
                black,
            );
            x += BAR + 10;
        }
        let gw = x - 10 - x_start;
        draw_text(
            &mut img,
            x_start + gw.saturating_sub(text_width(&g.caption, 2)) / 2,
            py(0) + 30,
            &g.caption,
            2,
            black,
        );
        x += GAP;
    }
    rect(&mut img, L, py(0), w - 10, py(0) + 1, black);
    draw_text(&mut img, (w - text_width(title, 2)) / 2, 10, title, 2, black);
    let note = "BARS: SOFT SUCCESSES (TARGET REACHED), DARK: STRICT (AND LFLOW WITHIN BUDGET)";
    draw_text(&mut img, 10, H - 22, note, 1, black);
    draw_text(&mut img, 6, T - 24, "SUCCESSFUL ATTACKS", 2, black);
    save_png(path, &img)
}

//! Certified accuracy against ε as a PNG line plot, drawn with the built-in
//! font of src/grid.rs (no plotting dependency).

use std::path::Path;

use anyhow::Result;
use image::{Rgb, RgbImage};

use crate::grid::{draw_text, save_png, text_width};

const W: u32 = 640;
const H: u32 = 420;
const L: u32 = 70;
const R: u32 = 30;
const T: u32 = 40;
const B: u32 = 60;

fn line(img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb<u8>) {
    let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        for (dx, dy) in [(0i64, 0i64), (1, 0), (0, 1)] {
            let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
            if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                img.put_pixel(px as u32, py as u32, c);
            }
        }
    }
}

/// Plot `acc` (fractions in [0,1]) against `eps` (in the given order),
/// with `title` on top; x is linear from 0 to max ε.
pub fn accuracy_curve(path: &Path, title: &str, eps: &[f64], acc: &[f64]) -> Result<()> {
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    let black = Rgb([0, 0, 0]);
    let grey = Rgb([200, 200, 200]);
    let blue = Rgb([30, 90, 200]);
    let (pw, ph) = ((W - L - R) as f64, (H - T - B) as f64);
    let xmax = eps.iter().cloned().fold(0.0f64, f64::max).max(1e-300);
    let px = |e: f64| L as f64 + e / xmax * pw;
    let py = |a: f64| T as f64 + (1.0 - a) * ph;
    for k in 0..=4 {
        let a = k as f64 / 4.0;
        line(&mut img, (L as f64, py(a)), (L as f64 + pw, py(a)), grey);
        let lab = format!("{}", (a * 100.0) as u32);
        draw_text(&mut img, L - 8 - text_width(&lab, 2), py(a) as u32 - 5, &lab, 2, black);
    }
    line(&mut img, (L as f64, T as f64), (L as f64, T as f64 + ph), black);
    line(&mut img, (L as f64, T as f64 + ph), (L as f64 + pw, T as f64 + ph), black);
    for &e in eps {
        let x = px(e);
        line(&mut img, (x, T as f64 + ph), (x, T as f64 + ph + 5.0), black);
    }
    let lab_max = format!("{xmax}");
    draw_text(&mut img, (px(xmax) as u32).saturating_sub(text_width(&lab_max, 2)), H - B + 12, &lab_max, 2, black);
    draw_text(&mut img, L - 4, H - B + 12, "0", 2, black);
    let xl = "EPSILON";
    draw_text(&mut img, L + (pw as u32 - text_width(xl, 2)) / 2, H - 24, xl, 2, black);
    draw_text(&mut img, 6, T - 30, "CERTIFIED %", 2, black);
    draw_text(&mut img, (W - text_width(title, 2)) / 2, 8, title, 2, black);
    let mut pts: Vec<(f64, f64)> = eps.iter().zip(acc).map(|(&e, &a)| (px(e), py(a))).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in pts.windows(2) {
        line(&mut img, w[0], w[1], blue);
    }
    for &(x, y) in &pts {
        for d in -3i64..=3 {
            line(&mut img, (x + d as f64, y - 3.0), (x + d as f64, y + 3.0), blue);
        }
    }
    save_png(path, &img)
}

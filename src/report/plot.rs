//! The robust-accuracy plot of an ε sweep (`robust_accuracy.png`).
//!
//! Lines, markers and axes are drawn with `plotters` into an RGB buffer;
//! plotters is built without its font features (they need system fonts or
//! a bundled font file), so the titles and tick labels are drawn with the
//! 3×5 pixel font of [`crate::grid::draw_text`].

use std::path::Path;

use anyhow::{anyhow, Result};
use image::{Rgb, RgbImage};
use plotters::prelude::*;

use crate::attack::schema::SweepPoint;
use crate::grid::{draw_text, save_png, text_width};

/// File name of the sweep plot in an attack's --out-dir.
pub const SWEEP_PNG: &str = "robust_accuracy.png";

const W: u32 = 560;
const H: u32 = 360;
const LEFT: u32 = 64;
const RIGHT: u32 = 24;
const TOP: u32 = 40;
const BOTTOM: u32 = 48;

/// Robust accuracy (y, 0..1) against ε (x) for `points`; `command` names
/// the attack in the title (C&W's ε is an L2 bound).
pub fn robust_accuracy_plot(points: &[SweepPoint], command: &str) -> Result<RgbImage> {
    let mut pts: Vec<(f64, f64)> = points.iter().map(|p| (p.eps, p.robust_accuracy)).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let xmax = pts.iter().map(|p| p.0).fold(0.0, f64::max);
    let xmax = if xmax > 0.0 { xmax * 1.05 } else { 1.0 };
    let mut buf = vec![255u8; (W * H * 3) as usize];
    let err = |e: &dyn std::fmt::Display| anyhow!("robust-accuracy plot: {e}");
    let (xticks, yticks) = {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin_left(LEFT)
            .margin_right(RIGHT)
            .margin_top(TOP)
            .margin_bottom(BOTTOM)
            .build_cartesian_2d(0f64..xmax, 0f64..1f64)
            .map_err(|e| err(&e))?;
        let grey = RGBColor(225, 225, 225);
        let ys: Vec<f64> = (0..=5).map(|i| i as f64 / 5.0).collect();
        for &y in &ys {
            chart.draw_series(LineSeries::new([(0.0, y), (xmax, y)], grey)).map_err(|e| err(&e))?;
        }
        for &(x, _) in &pts {
            chart.draw_series(LineSeries::new([(x, 0.0), (x, 1.0)], grey)).map_err(|e| err(&e))?;
        }
        chart.draw_series(LineSeries::new([(0.0, 1.0), (0.0, 0.0), (xmax, 0.0)], BLACK)).map_err(|e| err(&e))?;
        let blue = RGBColor(40, 90, 200);
        chart.draw_series(LineSeries::new(pts.clone(), blue.stroke_width(2))).map_err(|e| err(&e))?;
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, blue.filled()))).map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
        let xt: Vec<(i32, f64)> = pts.iter().map(|&(x, _)| (chart.backend_coord(&(x, 0.0)).0, x)).collect();
        let yt: Vec<(i32, f64)> = ys.iter().map(|&y| (chart.backend_coord(&(0.0, y)).1, y)).collect();
        (xt, yt)
    };
    let mut img = RgbImage::from_raw(W, H, buf).ok_or_else(|| anyhow!("robust-accuracy plot: buffer size"))?;
    let ink = Rgb([20, 20, 20]);
    let cw = command.starts_with("attack cw");
    let method = command.strip_prefix("attack ").unwrap_or(command);
    draw_text(&mut img, LEFT, 12, &format!("{method}: ROBUST ACCURACY VS EPS"), 2, ink);
    let mut last_end = 0i64;
    for (px, x) in xticks {
        let t = format!("{x}");
        let tw = text_width(&t, 1) as i64;
        let x0 = (px as i64 - tw / 2).max(0);
        if x0 > last_end + 2 {
            draw_text(&mut img, x0 as u32, H - BOTTOM + 6, &t, 1, ink);
            last_end = x0 + tw;
        }
    }
    for (py, y) in yticks {
        let t = format!("{:.0}", 100.0 * y);
        draw_text(&mut img, LEFT - 6 - text_width(&t, 1), (py - 2).max(0) as u32, &t, 1, ink);
    }
    let xl = if cw { "EPS = L2 BOUND ON THE CW PERTURBATION" } else { "EPS (ATTACK BUDGET)" };
    draw_text(&mut img, LEFT + (W - LEFT - RIGHT - text_width(xl, 1)) / 2, H - 20, xl, 1, ink);
    draw_text(&mut img, 6, TOP - 12, "ROBUST ACC (PCT)", 1, ink);
    Ok(img)
}

/// [`robust_accuracy_plot`] written atomically as PNG.
pub fn save_robust_accuracy(path: &Path, points: &[SweepPoint], command: &str) -> Result<()> {
    save_png(path, &robust_accuracy_plot(points, command)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plot_falls_with_eps() {
        let pts = vec![
            SweepPoint::new(0.3, 10, 10, 1, 9),
            SweepPoint::new(0.05, 10, 10, 9, 1),
            SweepPoint::new(0.1, 10, 10, 5, 5),
        ];
        let img = robust_accuracy_plot(&pts, "attack fgsm").unwrap();
        assert_eq!((img.width(), img.height()), (W, H));
        // the line is drawn: blue pixels exist, higher (smaller y) on the left than on the right
        let blue: Vec<(u32, u32)> =
            img.enumerate_pixels().filter(|(_, _, p)| p.0 == [40, 90, 200]).map(|(x, y, _)| (x, y)).collect();
        assert!(!blue.is_empty());
        let left = blue.iter().filter(|p| p.0 < W / 3).map(|p| p.1).min().unwrap();
        let right = blue.iter().filter(|p| p.0 > 2 * W / 3).map(|p| p.1).max().unwrap();
        assert!(left < right, "left {left} right {right}");
        let single = robust_accuracy_plot(&[SweepPoint::new(0.0, 1, 1, 1, 0)], "attack cw").unwrap();
        assert_eq!(single.width(), W);
    }
}

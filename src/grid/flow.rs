//! stAdv's grid: the attack grid plus a fourth column showing each flow as
//! a colour wheel (hue = direction, brightness = length relative to the
//! largest shift in that image), with the wheel itself as the legend.

use image::{Rgb, RgbImage};

use super::{attack_grid_with, draw_text, GridRow, Layout, FG};

/// HSV colour with hue = `angle` (radians; 0 = down, the flow's +v
/// direction, π/2 = right), value = `mag` in [0,1], full saturation.
pub fn wheel(angle: f32, mag: f32) -> Rgb<u8> {
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

/// The attack grid of `rows` with the flows (`flows`: [rows, 2, H, W]
/// flattened, channel 0 vertical, 1 horizontal) in a fourth column and a
/// colour-wheel legend under it.
pub fn flow_grid(rows: &[GridRow], chw: [usize; 3], names: Option<&[&str]>, flows: &[f32]) -> RgbImage {
    let [_, h, w] = chw;
    let (mut img, lay) = attack_grid_with(rows, chw, names, 1);
    let x0 = lay.col_x(3);
    draw_text(&mut img, x0, lay.pad, "FLOW", 1, FG);
    let s = lay.scale;
    for (i, f) in flows.chunks(2 * h * w).take(rows.len()).enumerate() {
        let m = (0..h * w).map(|p| f[p].hypot(f[h * w + p])).fold(0f32, f32::max).max(1e-12);
        let y0 = lay.row_y(i);
        for yy in 0..h {
            for xx in 0..w {
                let p = yy * w + xx;
                let (dv, du) = (f[p], f[h * w + p]);
                let rgb = wheel(du.atan2(dv), du.hypot(dv) / m);
                for sy in 0..s {
                    for sx in 0..s {
                        img.put_pixel(x0 + xx as u32 * s + sx, y0 + yy as u32 * s + sy, rgb);
                    }
                }
            }
        }
    }
    wheel_legend(&mut img, &lay, x0);
    img
}

/// A disc coloured by [`wheel`] (the centre: no flow) with the directions marked.
fn wheel_legend(img: &mut RgbImage, lay: &Layout, x0: u32) {
    let y0 = lay.legend_y + lay.pad;
    let r = ((lay.legend_h() - 2 * lay.pad - 12) / 2).min(lay.cw / 2 - 6).max(4) as i32;
    let (cx, cy) = (x0 as i32 + lay.cw as i32 / 2, y0 as i32 + 6 + r);
    for dy in -r..=r {
        for dx in -r..=r {
            let d = ((dx * dx + dy * dy) as f32).sqrt();
            if d <= r as f32 {
                // image y grows downwards = +v; x rightwards = +u
                let c = wheel((dx as f32).atan2(dy as f32), d / r as f32);
                let (px, py) = ((cx + dx) as u32, (cy + dy) as u32);
                if px < img.width() && py < img.height() {
                    img.put_pixel(px, py, c);
                }
            }
        }
    }
    draw_text(img, x0, y0, "DIRECTION", 1, FG);
    draw_text(img, (cx - r - 5).max(0) as u32, (cy - 2) as u32, "L", 1, FG);
    draw_text(img, (cx + r + 2) as u32, (cy - 2) as u32, "R", 1, FG);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_column_and_legend() {
        let orig = vec![0.5f32; 3 * 32 * 32];
        let row =
            GridRow { orig: &orig, adv: &orig, label: 3, target: None, clean_pred: 3, adv_pred: 5, success: true };
        let mut flow = vec![0f32; 2 * 32 * 32];
        flow[32 * 32 + 5] = 1.0; // pixel 5 moves right
        let names = super::super::class_names([3, 32, 32], 10);
        assert_eq!(names.unwrap()[3], "cat");
        let img = flow_grid(&[row], [3, 32, 32], names, &flow);
        let lay = Layout::new([3, 32, 32], 1);
        assert_eq!(img.width(), lay.col_x(4));
        assert_eq!(img.height(), lay.height());
        // rightward flow at full length: hue 90° (yellow-green), full value
        let p = img.get_pixel(lay.col_x(3) + 5 * lay.scale, lay.row_y(0));
        assert_eq!(p, &wheel(std::f32::consts::FRAC_PI_2, 1.0));
        assert!(p.0.contains(&255));
        // no flow is black
        assert_eq!(img.get_pixel(lay.col_x(3), lay.row_y(0)), &Rgb([0, 0, 0]));
    }
}

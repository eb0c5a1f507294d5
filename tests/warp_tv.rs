//! stAdv flow warp and flow loss (SPEC §4, §7) against f64 oracles and
//! finite differences, plus the stAdv optimisation core on a tiny MLP.

mod common;

use advlab::autograd::Graph;
use advlab::ops::tv::{self, FlowLossOpts, Neighbours, Padding, Variant};
use advlab::ops::warp;
use common::*;
use rand::Rng;

// ---- f64 oracles -----------------------------------------------------------

/// The SPEC §4 reference warp, pixel by pixel, in f64.
fn warp_oracle(img: &[f64], flow: &[f64], [n, c, h, w]: [usize; 4]) -> Vec<f64> {
    let mut out = vec![0.0; n * c * h * w];
    let hw = h * w;
    for b in 0..n {
        for i in 0..h {
            for j in 0..w {
                let r0 = flow[b * 2 * hw + i * w + j];
                let r1 = flow[b * 2 * hw + hw + i * w + j];
                let sy = (i as f64 + r0).clamp(0.0, (h - 1) as f64);
                let sx = (j as f64 + r1).clamp(0.0, (w - 1) as f64);
                let y0 = (sy.floor() as usize).min(h - 2);
                let x0 = (sx.floor() as usize).min(w - 2);
                let (a, be) = (sx - x0 as f64, sy - y0 as f64);
                for ch in 0..c {
                    let x = |y: usize, xx: usize| img[(b * c + ch) * hw + y * w + xx];
                    out[(b * c + ch) * hw + i * w + j] = (1.0 - a) * (1.0 - be) * x(y0, x0)
                        + (1.0 - a) * be * x(y0 + 1, x0)
                        + a * (1.0 - be) * x(y0, x0 + 1)
                        + a * be * x(y0 + 1, x0 + 1);
                }
            }
        }
    }
    out
}

/// Σ g · warp(img, flow) in f64.
fn warp_dot(img: &[f64], flow: &[f64], g: &[f64], dims: [usize; 4]) -> f64 {
    warp_oracle(img, flow, dims).iter().zip(g).map(|(a, b)| a * b).sum()
}

/// The adjoint of the warp in the image (a scatter), in f64.
fn warp_image_grad_oracle(flow: &[f64], g: &[f64], [n, c, h, w]: [usize; 4]) -> Vec<f64> {
    let hw = h * w;
    let mut out = vec![0.0; n * c * hw];
    for b in 0..n {
        for i in 0..h {
            for j in 0..w {
                let r0 = flow[b * 2 * hw + i * w + j];
                let r1 = flow[b * 2 * hw + hw + i * w + j];
                let sy = (i as f64 + r0).clamp(0.0, (h - 1) as f64);
                let sx = (j as f64 + r1).clamp(0.0, (w - 1) as f64);
                let y0 = (sy.floor() as usize).min(h - 2);
                let x0 = (sx.floor() as usize).min(w - 2);
                let (a, be) = (sx - x0 as f64, sy - y0 as f64);
                for ch in 0..c {
                    let gv = g[(b * c + ch) * hw + i * w + j];
                    let base = (b * c + ch) * hw;
                    out[base + y0 * w + x0] += gv * (1.0 - a) * (1.0 - be);
                    out[base + (y0 + 1) * w + x0] += gv * (1.0 - a) * be;
                    out[base + y0 * w + x0 + 1] += gv * a * (1.0 - be);
                    out[base + (y0 + 1) * w + x0 + 1] += gv * a * be;
                }
            }
        }
    }
    out
}

fn offsets(nb: Neighbours) -> [(i64, i64); 4] {
    match nb {
        Neighbours::Diag4 => [(1, 1), (1, -1), (-1, 1), (-1, -1)],
        Neighbours::Cross4 => [(1, 0), (-1, 0), (0, 1), (0, -1)],
    }
}

/// L_flow per image by a plain pixel loop (stAdv tests/test_losses.py style),
/// either reference version.
fn tv_oracle(flow: &[f64], [n, h, w]: [usize; 3], o: &FlowLossOpts) -> Vec<f64> {
    let hw = h * w;
    (0..n)
        .map(|b| {
            let at = |ch: usize, y: i64, x: i64| -> f64 {
                let inside = y >= 0 && x >= 0 && y < h as i64 && x < w as i64;
                let (y, x) = match (inside, o.padding) {
                    (true, _) => (y, x),
                    (false, Padding::Constant) => return 0.0,
                    (false, Padding::Symmetric) => (y.clamp(0, h as i64 - 1), x.clamp(0, w as i64 - 1)),
                };
                flow[b * 2 * hw + ch * hw + y as usize * w + x as usize]
            };
            let mut s = 0.0;
            let mut q = [0.0f64; 4];
            for i in 0..h as i64 {
                for j in 0..w as i64 {
                    for (k, (dy, dx)) in offsets(o.neighbours).into_iter().enumerate() {
                        let d0 = at(0, i, j) - at(0, i + dy, j + dx);
                        let d1 = at(1, i, j) - at(1, i + dy, j + dx);
                        s += (d0 * d0 + d1 * d1 + o.eps as f64).sqrt();
                        q[k] += d0 * d0 + d1 * d1;
                    }
                }
            }
            match o.variant {
                Variant::Pixel => s,
                Variant::Shift => q.iter().map(|v| (v + o.eps as f64).sqrt()).sum(),
            }
        })
        .collect()
}

/// ||N r||_2 per image (SPEC §7: zero padding, the same offset set).
fn n_norm(flow: &[f64], [n, h, w]: [usize; 3], nb: Neighbours) -> Vec<f64> {
    let o = FlowLossOpts { neighbours: nb, padding: Padding::Constant, eps: 0.0, ..Default::default() };
    let hw = h * w;
    (0..n)
        .map(|b| {
            let mut s = 0.0;
            for ch in 0..2 {
                let at = |y: i64, x: i64| {
                    if y >= 0 && x >= 0 && y < h as i64 && x < w as i64 {
                        flow[b * 2 * hw + ch * hw + y as usize * w + x as usize]
                    } else {
                        0.0
                    }
                };
                for i in 0..h as i64 {
                    for j in 0..w as i64 {
                        for (dy, dx) in offsets(o.neighbours) {
                            let d = at(i, j) - at(i + dy, j + dx);
                            s += d * d;
                        }
                    }
                }
            }
            s.sqrt()
        })
        .collect()
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn uniform(rng: &mut rand_chacha::ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Flows whose sampling coordinates stay ≥ `margin` away from integers and
/// from the clamp bounds (where the warp is not differentiable), reaching
/// up to `reach` pixels outside the image.
fn smooth_flow(rng: &mut rand_chacha::ChaCha8Rng, [n, h, w]: [usize; 3], reach: i64, margin: f32) -> Vec<f32> {
    let hw = h * w;
    let mut f = vec![0f32; n * 2 * hw];
    for b in 0..n {
        for (ch, size) in [(0usize, h), (1, w)] {
            for i in 0..h {
                for j in 0..w {
                    let base = rng.random_range(-reach..size as i64 + reach - 1) as f32;
                    let target = base + rng.random_range(margin..1.0 - margin);
                    let here = if ch == 0 { i } else { j } as f32;
                    f[b * 2 * hw + ch * hw + i * w + j] = target - here;
                }
            }
        }
    }
    f
}

const SHAPES: [[usize; 4]; 5] = [[2, 1, 28, 28], [3, 3, 5, 7], [1, 5, 2, 2], [2, 2, 9, 3], [1, 4, 6, 11]];

// ---- warp ------------------------------------------------------------------

#[test]
fn zero_flow_returns_the_input_exactly() {
    let gpu = gpu();
    for (s, dims) in SHAPES.iter().enumerate() {
        let [n, c, h, w] = *dims;
        let img = uniform(&mut rng(s as u64), n * c * h * w, 0.0, 1.0);
        let out = warp::forward(&gpu, &gpu.upload(&img, dims), &gpu.zeros(&[n, 2, h, w]));
        assert_eq!(gpu.read(&out), img, "{dims:?}");
    }
}

#[test]
fn integer_flows_are_clamped_shifts() {
    let gpu = gpu();
    let mut r = rng(7);
    for dims in SHAPES {
        let [n, c, h, w] = dims;
        let hw = h * w;
        let img = uniform(&mut r, n * c * hw, 0.0, 1.0);
        // per pixel random integer shifts, reaching well outside the image
        let mut flow = vec![0f32; n * 2 * hw];
        for v in flow.iter_mut() {
            *v = r.random_range(-12i32..=12) as f32;
        }
        // and one image with a constant shift
        for k in 0..hw {
            flow[k] = 1.0;
            flow[hw + k] = -2.0;
        }
        let got = gpu.read(&warp::forward(&gpu, &gpu.upload(&img, &dims), &gpu.upload(&flow, &[n, 2, h, w])));
        for b in 0..n {
            for i in 0..h {
                for j in 0..w {
                    let dy = flow[b * 2 * hw + i * w + j] as i64;
                    let dx = flow[b * 2 * hw + hw + i * w + j] as i64;
                    let y = (i as i64 + dy).clamp(0, h as i64 - 1) as usize;
                    let x = (j as i64 + dx).clamp(0, w as i64 - 1) as usize;
                    for ch in 0..c {
                        assert_eq!(
                            got[(b * c + ch) * hw + i * w + j],
                            img[(b * c + ch) * hw + y * w + x],
                            "{dims:?} image {b} channel {ch} pixel ({i},{j}) shift ({dy},{dx})"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn warp_forward_matches_oracle() {
    let gpu = gpu();
    let mut r = rng(11);
    for dims in SHAPES {
        let [n, c, h, w] = dims;
        let img = uniform(&mut r, n * c * h * w, 0.0, 1.0);
        for scale in [0.3f32, 2.5, 40.0] {
            let flow = randn(&mut r, n * 2 * h * w, scale);
            let got = gpu.read(&warp::forward(&gpu, &gpu.upload(&img, &dims), &gpu.upload(&flow, &[n, 2, h, w])));
            assert_close(
                &format!("warp {dims:?} scale {scale}"),
                &got,
                &warp_oracle(&f64s(&img), &f64s(&flow), dims),
                1e-5,
            );
        }
    }
}

#[test]
fn warp_flow_gradient_matches_finite_differences() {
    let gpu = gpu();
    let mut r = rng(12);
    for dims in SHAPES {
        let [n, c, h, w] = dims;
        let img = uniform(&mut r, n * c * h * w, 0.0, 1.0);
        let g = randn(&mut r, n * c * h * w, 1.0);
        let flow = smooth_flow(&mut r, [n, h, w], 2, 0.05);
        let (it, ft, gt) = (gpu.upload(&img, &dims), gpu.upload(&flow, &[n, 2, h, w]), gpu.upload(&g, &dims));
        let got = gpu.read(&warp::backward_flow(&gpu, &it, &ft, &gt));
        let (imgd, gd) = (f64s(&img), f64s(&g));
        let mut fd = vec![0.0; flow.len()];
        let eps = 1e-4;
        for k in 0..flow.len() {
            let mut fp = f64s(&flow);
            fp[k] += eps;
            let up = warp_dot(&imgd, &fp, &gd, dims);
            fp[k] -= 2.0 * eps;
            let dn = warp_dot(&imgd, &fp, &gd, dims);
            fd[k] = (up - dn) / (2.0 * eps);
        }
        assert_close(&format!("d/dflow {dims:?}"), &got, &fd, 2e-5);
        // |d warped / d r| <= 1 for pixels in [0,1] (SPEC §4, §7): one
        // channel with g = 1 exposes each partial derivative directly
        if c == 1 {
            let ones = gpu.upload(&vec![1.0; n * h * w], &dims);
            let j = gpu.read(&warp::backward_flow(&gpu, &it, &ft, &ones));
            assert!(j.iter().all(|v| v.abs() <= 1.0 + 1e-6), "|jacobian| > 1");
        }
    }
}

#[test]
fn warp_flow_gradient_at_integer_coordinates_is_one_sided() {
    // At integer coordinates: the forward difference, except in the last
    // row/column (backward difference, because of the H-2 / W-2 clamp).
    let gpu = gpu();
    let (h, w) = (4usize, 5usize);
    let img: Vec<f32> = (0..h * w).map(|k| ((k * 7) % 11) as f32 / 10.0).collect();
    let flow = vec![0f32; 2 * h * w];
    let ones = vec![1f32; h * w];
    let got = gpu.read(&warp::backward_flow(
        &gpu,
        &gpu.upload(&img, &[1, 1, h, w]),
        &gpu.upload(&flow, &[1, 2, h, w]),
        &gpu.upload(&ones, &[1, 1, h, w]),
    ));
    let x = |i: usize, j: usize| img[i * w + j];
    for i in 0..h {
        for j in 0..w {
            let dy = if i + 1 < h { x(i + 1, j) - x(i, j) } else { x(i, j) - x(i - 1, j) };
            let dx = if j + 1 < w { x(i, j + 1) - x(i, j) } else { x(i, j) - x(i, j - 1) };
            assert!((got[i * w + j] - dy).abs() < 1e-6, "d/dr0 at ({i},{j})");
            assert!((got[h * w + i * w + j] - dx).abs() < 1e-6, "d/dr1 at ({i},{j})");
        }
    }
}

#[test]
fn warp_image_gradient_matches_scatter_oracle_and_finite_differences() {
    let gpu = gpu();
    let mut r = rng(13);
    for dims in SHAPES {
        let [n, c, h, w] = dims;
        let g = randn(&mut r, n * c * h * w, 1.0);
        for scale in [0.0f32, 0.7, 3.0, 60.0] {
            let mut flow = randn(&mut r, n * 2 * h * w, scale);
            if scale == 3.0 {
                // integer sampling coordinates and exact clamp bounds too
                for v in flow.iter_mut().step_by(3) {
                    *v = v.round();
                }
            }
            let got = gpu.read(&warp::backward_image(&gpu, &gpu.upload(&flow, &[n, 2, h, w]), &gpu.upload(&g, &dims)));
            let want = warp_image_grad_oracle(&f64s(&flow), &f64s(&g), dims);
            assert_close(&format!("d/dimg {dims:?} scale {scale}"), &got, &want, 1e-5);
        }
        // finite differences (the warp is linear in the image)
        let img = uniform(&mut r, n * c * h * w, 0.0, 1.0);
        let flow = randn(&mut r, n * 2 * h * w, 1.5);
        let got = gpu.read(&warp::backward_image(&gpu, &gpu.upload(&flow, &[n, 2, h, w]), &gpu.upload(&g, &dims)));
        let (fd64, gd) = (f64s(&flow), f64s(&g));
        let mut fd = vec![0.0; img.len()];
        for (k, v) in fd.iter_mut().enumerate().take(200) {
            let mut ip = f64s(&img);
            ip[k] += 0.5;
            let up = warp_dot(&ip, &fd64, &gd, dims);
            ip[k] -= 1.0;
            *v = (up - warp_dot(&ip, &fd64, &gd, dims)) / 1.0;
        }
        let m = img.len().min(200);
        assert_close(&format!("d/dimg fd {dims:?}"), &got[..m], &fd[..m], 1e-5);
    }
}

#[test]
fn warp_autograd_op_gives_both_gradients() {
    let gpu = gpu();
    let mut r = rng(14);
    let dims = [2usize, 3, 6, 5];
    let [n, c, h, w] = dims;
    let img = uniform(&mut r, n * c * h * w, 0.0, 1.0);
    let flow = randn(&mut r, n * 2 * h * w, 1.2);
    let mut g = Graph::new(&gpu);
    let iv = g.leaf(gpu.upload(&img, &dims), true);
    let fv = g.leaf(gpu.upload(&flow, &[n, 2, h, w]), true);
    let out = warp::warp(&mut g, iv, fv);
    let loss = g.sum(out, 1.0);
    let grads = g.backward(loss, None);
    let ones = vec![1.0; n * c * h * w];
    let want_i = warp_image_grad_oracle(&f64s(&flow), &f64s(&ones), dims);
    assert_close("autograd d/dimg", &gpu.read(grads.get(iv).unwrap()), &want_i, 1e-5);
    let want_f = gpu.read(&warp::backward_flow(&gpu, g.value(iv), g.value(fv), &gpu.upload(&ones, &dims)));
    assert_eq!(gpu.read(grads.get(fv).unwrap()), want_f);
    // only the flow needs a gradient: the image pass is skipped
    let mut g2 = Graph::new(&gpu);
    let iv = g2.leaf(gpu.upload(&img, &dims), false);
    let fv = g2.leaf(gpu.upload(&flow, &[n, 2, h, w]), true);
    let out = warp::warp(&mut g2, iv, fv);
    let loss = g2.sum(out, 1.0);
    let grads = g2.backward(loss, None);
    assert!(grads.get(iv).is_none());
    assert_eq!(gpu.read(grads.get(fv).unwrap()), want_f);
}

// ---- flow loss -------------------------------------------------------------

fn all_opts() -> Vec<FlowLossOpts> {
    let mut v = Vec::new();
    for variant in [Variant::Pixel, Variant::Shift] {
        for neighbours in [Neighbours::Diag4, Neighbours::Cross4] {
            for padding in [Padding::Constant, Padding::Symmetric] {
                for eps in [0.0f32, 1e-8, 0.05] {
                    v.push(FlowLossOpts { neighbours, padding, eps, variant });
                }
            }
        }
    }
    v
}

const TV_SHAPES: [[usize; 3]; 5] = [[2, 5, 7], [1, 2, 2], [3, 28, 28], [1, 1, 6], [2, 9, 1]];

#[test]
fn flow_loss_matches_pixel_loop_oracle() {
    let gpu = gpu();
    let mut r = rng(21);
    for [n, h, w] in TV_SHAPES {
        let flow = randn(&mut r, n * 2 * h * w, 1.5);
        let ft = gpu.upload(&flow, &[n, 2, h, w]);
        for o in all_opts() {
            let got = gpu.read(&tv::forward(&gpu, &ft, &o));
            let want = tv_oracle(&f64s(&flow), [n, h, w], &o);
            assert_close(&format!("L_flow {:?} {o}", [n, h, w]), &got, &want, 2e-5);
        }
    }
}

#[test]
fn flow_loss_gradient_matches_finite_differences() {
    let gpu = gpu();
    let mut r = rng(22);
    for [n, h, w] in TV_SHAPES {
        if n * h * w > 200 {
            continue; // the f64 finite differences are O(size²)
        }
        let flow = randn(&mut r, n * 2 * h * w, 1.5);
        let up = randn(&mut r, n, 2.0);
        let (ft, ut) = (gpu.upload(&flow, &[n, 2, h, w]), gpu.upload(&up, &[n]));
        for o in all_opts() {
            let got = gpu.read(&tv::backward(&gpu, &ft, &ut, &o));
            let f =
                |fl: &[f64]| -> f64 { tv_oracle(fl, [n, h, w], &o).iter().zip(&up).map(|(a, &b)| a * b as f64).sum() };
            let mut fd = vec![0.0; flow.len()];
            for (k, v) in fd.iter_mut().enumerate() {
                let mut fp = f64s(&flow);
                fp[k] += 1e-6;
                let a = f(&fp);
                fp[k] -= 2e-6;
                *v = (a - f(&fp)) / 2e-6;
            }
            assert_close(&format!("dL_flow {:?} {o}", [n, h, w]), &got, &fd, 1e-4);
        }
    }
    // the 28×28 case against a smaller set of finite differences
    let (n, h, w) = (1usize, 28usize, 28usize);
    let flow = randn(&mut r, n * 2 * h * w, 0.8);
    let ft = gpu.upload(&flow, &[n, 2, h, w]);
    let ut = gpu.upload(&[1.0], &[1]);
    for o in all_opts() {
        let got = gpu.read(&tv::backward(&gpu, &ft, &ut, &o));
        for k in [0usize, 1, 27, 28, 29, 300, 783, 784, 785, 811, 1000, 1567] {
            let mut fp = f64s(&flow);
            fp[k] += 1e-6;
            let a = tv_oracle(&fp, [n, h, w], &o)[0];
            fp[k] -= 2e-6;
            let fd = (a - tv_oracle(&fp, [n, h, w], &o)[0]) / 2e-6;
            assert!((got[k] as f64 - fd).abs() <= 1e-4 * (1.0 + fd.abs()), "28×28 {o} element {k}: {} vs {fd}", got[k]);
        }
    }
}

#[test]
fn flow_loss_degenerate_flows() {
    let gpu = gpu();
    let (n, h, w) = (2usize, 6usize, 5usize);
    let hw = h * w;
    // constant flow with symmetric padding costs 0 (eps = 0) and has zero,
    // finite gradient; zero flow with constant padding too
    let mut flow = vec![0f32; n * 2 * hw];
    for k in 0..hw {
        flow[k] = 0.7;
        flow[hw + k] = -1.3;
    }
    let ones = gpu.upload(&[1.0, 1.0], &[n]);
    for nb in [Neighbours::Diag4, Neighbours::Cross4] {
        for variant in [Variant::Pixel, Variant::Shift] {
            let sym = FlowLossOpts { neighbours: nb, padding: Padding::Symmetric, eps: 0.0, variant };
            let ft = gpu.upload(&flow, &[n, 2, h, w]);
            let l = gpu.read(&tv::forward(&gpu, &ft, &sym));
            assert_eq!(l[0], 0.0, "{sym}");
            assert!(l[1] == 0.0);
            let gr = gpu.read(&tv::backward(&gpu, &ft, &ones, &sym));
            assert!(gr.iter().all(|&v| v == 0.0), "{sym}: gradient of a constant flow");
            // constant padding: a constant flow costs something (the image border)
            let con = FlowLossOpts { padding: Padding::Constant, ..sym };
            assert!(gpu.read(&tv::forward(&gpu, &ft, &con))[0] > 1.0);
            let z = gpu.zeros(&[n, 2, h, w]);
            assert_eq!(gpu.read(&tv::forward(&gpu, &z, &con)), vec![0.0, 0.0]);
            assert!(gpu.read(&tv::backward(&gpu, &z, &ones, &con)).iter().all(|&v| v == 0.0));
            // eps shows up as |S|·n·sqrt(eps) (per pixel) or |S|·sqrt(eps)
            // (per shift) on a zero flow
            let e = FlowLossOpts { eps: 1e-4, ..con };
            let l = gpu.read(&tv::forward(&gpu, &z, &e))[0] as f64;
            let want = if variant == Variant::Pixel { 4.0 * hw as f64 * 1e-2 } else { 4.0 * 1e-2 };
            assert!((l - want).abs() < 1e-5, "{e}: {l}");
        }
    }
}

#[test]
fn flow_loss_autograd_op() {
    let gpu = gpu();
    let mut r = rng(23);
    let (n, h, w) = (3usize, 7usize, 6usize);
    let flow = randn(&mut r, n * 2 * h * w, 1.0);
    let o = FlowLossOpts { neighbours: Neighbours::Cross4, ..Default::default() };
    let mut g = Graph::new(&gpu);
    let fv = g.leaf(gpu.upload(&flow, &[n, 2, h, w]), true);
    let l = tv::flow_loss(&mut g, fv, o);
    assert_eq!(g.value(l).shape(), &[n]);
    let total = g.sum(l, 2.0);
    let grads = g.backward(total, None);
    let want = gpu.read(&tv::backward(&gpu, g.value(fv), &gpu.upload(&[2.0, 2.0, 2.0], &[n]), &o));
    assert_eq!(gpu.read(grads.get(fv).unwrap()), want);
}

#[test]
fn flow_loss_bounds_the_n_norm() {
    // SPEC §7: L_flow >= ||N r||_2 (same S, zero padding, any eps >= 0)
    let gpu = gpu();
    let mut r = rng(24);
    for [n, h, w] in [[4usize, 28usize, 28usize], [3, 5, 9], [2, 2, 2]] {
        for scale in [0.01f32, 0.5, 3.0, 20.0] {
            let mut flow = randn(&mut r, n * 2 * h * w, scale);
            // one image is sparse: a few isolated non-zero flow vectors
            let per = 2 * h * w;
            for (k, v) in flow[..per].iter_mut().enumerate() {
                if k % 37 != 0 {
                    *v = 0.0;
                }
            }
            let ft = gpu.upload(&flow, &[n, 2, h, w]);
            for nb in [Neighbours::Diag4, Neighbours::Cross4] {
                let nn = n_norm(&f64s(&flow), [n, h, w], nb);
                for (eps, variant) in
                    [(0.0f32, Variant::Pixel), (1e-8, Variant::Pixel), (0.0, Variant::Shift), (1e-8, Variant::Shift)]
                {
                    let o = FlowLossOpts { neighbours: nb, padding: Padding::Constant, eps, variant };
                    let l = gpu.read(&tv::forward(&gpu, &ft, &o));
                    for b in 0..n {
                        assert!(
                            l[b] as f64 >= nn[b] * (1.0 - 1e-5),
                            "{o} scale {scale} image {b}: L_flow {} < ||N r|| {}",
                            l[b],
                            nn[b]
                        );
                    }
                }
            }
        }
    }
}

// ---- the stAdv optimisation core -------------------------------------------

mod stadv_core {
    use super::*;
    use advlab::data::{self, DataSpec, Split};
    use advlab::nn::optim::{OptimConfig, OptimKind, Optimizer};
    use advlab::nn::train::{self, TrainConfig};
    use advlab::nn::{Arch, Model};
    use advlab::ops::reduce;
    use advlab::stadv::{self, Goal, StadvConfig, TauSearch};
    use std::sync::{Arc, OnceLock};

    /// A small MLP trained on 640 bundled MNIST images (shared by the tests).
    fn model() -> &'static (Model, Vec<f32>, Vec<u32>) {
        static M: OnceLock<(Model, Vec<f32>, Vec<u32>)> = OnceLock::new();
        M.get_or_init(|| {
            let gpu = gpu();
            let tr = data::load(&DataSpec::Bundled, Split::Train).unwrap().take_first(640);
            let te = data::load(&DataSpec::Bundled, Split::Test).unwrap().take_first(64);
            let model = Model::init(&gpu, Arch::parse("mlp:784-32-10").unwrap(), 3);
            let cfg = TrainConfig {
                epochs: 4,
                batch: 32,
                optim: OptimConfig::new(OptimKind::Sgd, 0.05),
                seed: 5,
                log_every: 100,
                ..Default::default()
            };
            let mut opt = Optimizer::new(&gpu, &model, cfg.optim);
            for e in 0..cfg.epochs {
                train::train_epoch(&gpu, &model, &mut opt, &tr, &cfg, e, 0.05, |_, _, _| {}).unwrap();
            }
            // keep the correctly classified test images
            let pred = reduce::argmax_rows(&gpu, &model.logits(&gpu, &gpu.upload(&te.images, &[te.n, 1, 28, 28])));
            let (mut x, mut y) = (Vec::new(), Vec::new());
            for (i, (&p, &l)) in pred.iter().zip(&te.labels).enumerate() {
                if p == l {
                    x.extend_from_slice(te.image(i));
                    y.push(l);
                }
            }
            eprintln!("stadv test model: {}/{} test images correct", y.len(), te.n);
            (model, x, y)
        })
    }

    fn predict(gpu: &Arc<advlab::Gpu>, m: &Model, x: &[f32], n: usize) -> Vec<u32> {
        reduce::argmax_rows(gpu, &m.logits(gpu, &gpu.upload(x, &[n, 1, 28, 28])))
    }

    /// The outcome agrees with an independent recomputation: adv = warp(x,
    /// flow), the prediction, L_flow, and the success flags.
    fn check_outcome(m: &Model, x: &[f32], y: &[u32], goal: Goal, cfg: &StadvConfig, o: &stadv::StadvOutcome) {
        let budget = cfg.budget;
        let gpu = gpu();
        let n = o.len();
        let (xt, ft) = (gpu.upload(x, &[n, 1, 28, 28]), gpu.upload(&o.flow, &[n, 2, 28, 28]));
        assert_eq!(gpu.read(&warp::forward(&gpu, &xt, &ft)), o.adv, "adv != warp(x, flow)");
        assert_eq!(predict(&gpu, m, &o.adv, n), o.pred, "predictions");
        let lf = gpu.read(&tv::forward(&gpu, &ft, &cfg.flow_loss));
        assert_close("reported L_flow", &o.l_flow, &f64s(&lf), 1e-5);
        for i in 0..n {
            let reached = match goal {
                Goal::Untargeted => o.pred[i] != y[i],
                Goal::Targeted(t) => o.pred[i] == t[i],
            };
            assert_eq!(o.success_soft[i], reached, "image {i}: soft success flag");
            let within = budget.is_none_or(|e| o.l_flow[i] <= e);
            assert_eq!(o.success_strict[i], reached && within, "image {i}: strict success flag");
            assert_eq!(
                reached,
                o.margin[i] < 0.0 || (o.margin[i] == 0.0 && reached),
                "image {i}: margin {}",
                o.margin[i]
            );
        }
    }

    #[test]
    fn untargeted_stadv_flips_most_predictions_with_small_flows() {
        let gpu = gpu();
        let (m, x, y) = model();
        let n = y.len().min(32);
        let (x, y) = (&x[..n * 784], &y[..n]);
        let cfg = StadvConfig { tau: 0.005, lr: 0.05, iterations: 100, ..Default::default() };
        let t = std::time::Instant::now();
        let o = stadv::attack(&gpu, m, x, [n, 1, 28, 28], y, Goal::Untargeted, &cfg).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let mean_abs = o.flow.iter().map(|v| v.abs()).sum::<f32>() / o.flow.len() as f32;
        let max_abs = o.flow.iter().map(|v| v.abs()).fold(0.0, f32::max);
        eprintln!(
            "untargeted Adam: {n} images × {} iterations in {secs:.2} s; success {:.2}; mean L_flow {:.1}; mean |r| {mean_abs:.4} px, max |r| {max_abs:.2} px",
            cfg.iterations,
            o.soft_rate(),
            o.l_flow.iter().sum::<f32>() / n as f32
        );
        check_outcome(m, x, y, Goal::Untargeted, &cfg, &o);
        assert!(o.soft_rate() >= 0.8, "only {:.2} of the predictions flipped", o.soft_rate());
        assert_eq!(o.strict_rate(), o.soft_rate(), "without a budget strict = soft");
        assert!(mean_abs < 0.1 && max_abs < 3.0, "flows are not small: mean |r| {mean_abs}, max {max_abs}");
        // the zero flow is the first iterate: no image was already flipped
        assert!(o.iterations.iter().all(|&i| i > 0));
    }

    #[test]
    fn hinge_keeps_lbfgs_within_the_budget_and_the_tau_search_keeps_successes() {
        let gpu = gpu();
        let (m, x, y) = model();
        let n = y.len().min(24);
        let (x, y) = (&x[..n * 784], &y[..n]);
        // the thesis protocol: hinge at E = 7 with the per-shift (v0.1) L_flow
        let e = 7.0;
        let base = StadvConfig {
            optimizer: stadv::StadvOptimizer::Lbfgs,
            iterations: 80,
            tau: 500.0,
            budget: Some(e),
            flow_loss: FlowLossOpts { variant: Variant::Shift, ..Default::default() },
            ..Default::default()
        };
        let t = std::time::Instant::now();
        let single = stadv::attack(&gpu, m, x, [n, 1, 28, 28], y, Goal::Untargeted, &base).unwrap();
        let t1 = t.elapsed().as_secs_f64();
        check_outcome(m, x, y, Goal::Untargeted, &base, &single);
        assert!(single.strict_rate() > 0.0, "no success at all within the budget");
        // τ = 500 makes the hinge a near-hard constraint
        assert!(single.l_flow.iter().all(|&l| l <= 1.02 * e), "L_flow above the budget: {:?}", single.l_flow);
        let cfg = StadvConfig { tau_search: Some(TauSearch::parse("0,1000,3").unwrap()), ..base.clone() };
        let t = std::time::Instant::now();
        let s = stadv::attack(&gpu, m, x, [n, 1, 28, 28], y, Goal::Untargeted, &cfg).unwrap();
        eprintln!(
            "untargeted L-BFGS, E = {e}: single run τ=500 {t1:.2} s strict {:.2} soft {:.2}; τ search (3 steps) {:.2} s strict {:.2} soft {:.2}; τ {:?}",
            single.strict_rate(),
            single.soft_rate(),
            t.elapsed().as_secs_f64(),
            s.strict_rate(),
            s.soft_rate(),
            s.tau
        );
        check_outcome(m, x, y, Goal::Untargeted, &cfg, &s);
        // the first search step is the single run (same τ, same start):
        // every image that succeeded there still succeeds, at a τ >= 500
        for i in 0..n {
            if single.success_strict[i] {
                assert!(s.success_strict[i] && s.tau[i] >= 500.0, "image {i} lost its success");
            }
            assert!([500.0, 250.0, 750.0, 125.0, 375.0, 625.0, 875.0].contains(&s.tau[i]), "τ {}", s.tau[i]);
        }
        assert!(s.strict_rate() >= single.strict_rate());
    }

    #[test]
    fn targeted_stadv_reaches_targets_and_rejects_bad_input() {
        let gpu = gpu();
        let (m, x, y) = model();
        let n = y.len().min(16);
        let (x, y) = (&x[..n * 784], &y[..n]);
        let tg: Vec<u32> = y.iter().map(|&l| (l + 3) % 10).collect();
        let cfg = StadvConfig { tau: 0.001, lr: 0.1, iterations: 120, ..Default::default() };
        let o = stadv::attack(&gpu, m, x, [n, 1, 28, 28], y, Goal::Targeted(&tg), &cfg).unwrap();
        eprintln!(
            "targeted Adam: success {:.2}, mean L_flow {:.1}",
            o.soft_rate(),
            o.l_flow.iter().sum::<f32>() / n as f32
        );
        check_outcome(m, x, y, Goal::Targeted(&tg), &cfg, &o);
        assert!(o.soft_rate() >= 0.75, "targeted success {:.2}", o.soft_rate());
        // chunked batches give the same kind of answer
        let small = StadvConfig { batch: 5, iterations: 5, ..cfg.clone() };
        let o = stadv::attack(&gpu, m, x, [n, 1, 28, 28], y, Goal::Targeted(&tg), &small).unwrap();
        assert_eq!((o.len(), o.flow.len(), o.adv.len()), (n, n * 2 * 784, n * 784));
        check_outcome(m, x, y, Goal::Targeted(&tg), &small, &o);
        // errors, one line each
        let err = |r: anyhow::Result<stadv::StadvOutcome>| format!("{:#}", r.expect_err("must fail"));
        let bad_t = vec![10u32; n];
        assert!(err(stadv::attack(&gpu, m, x, [n, 1, 28, 28], y, Goal::Targeted(&bad_t), &cfg)).contains("target 10"));
        assert!(err(stadv::attack(&gpu, m, x, [n, 1, 28, 28], &y[1..], Goal::Untargeted, &cfg)).contains("labels"));
        assert!(
            err(stadv::attack(&gpu, m, &x[1..], [n, 1, 28, 28], y, Goal::Untargeted, &cfg)).contains("pixel values")
        );
        let z = StadvConfig { iterations: 0, ..cfg.clone() };
        assert!(err(stadv::attack(&gpu, m, x, [n, 1, 28, 28], y, Goal::Untargeted, &z)).contains("iterations"));
        assert!(
            TauSearch::parse("0,1000").is_err()
                && TauSearch::parse("5,1,3").is_err()
                && TauSearch::parse("0,1000,0").is_err()
        );
        assert_eq!(TauSearch::parse(" 0, 1000 ,10").unwrap(), TauSearch { lo: 0.0, hi: 1000.0, steps: 10 });
    }
}

// ---- advlab warp / flow-loss -----------------------------------------------

mod cli_cmds {
    use super::*;
    use advlab::cli::warp as cw;
    use advlab::data::npy;
    use advlab::GpuOptions;
    use std::path::PathBuf;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("advlab-warp-tv-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn msg(r: anyhow::Result<()>) -> String {
        let s = format!("{:#}", r.expect_err("must fail"));
        assert!(!s.contains('\n'), "{s}");
        s
    }

    #[test]
    fn warp_and_flow_loss_commands() {
        let d = dir();
        let (x, f, out) = (d.join("x.npy"), d.join("f.npy"), d.join("y.npy"));
        let g = GpuOptions::default();
        let mut r = rng(31);
        let img = uniform(&mut r, 3 * 784, 0.0, 1.0);
        let flow = randn(&mut r, 3 * 2 * 784, 1.5);
        npy::write_npy_f32(&x, &[3, 784], &img).unwrap();
        npy::write_npy_f32(&f, &[3, 2, 28, 28], &flow).unwrap();
        cw::warp(&g, &x, &f, &out).unwrap();
        let (shape, got) = npy::read_npy_f32(&out).unwrap();
        assert_eq!(shape, vec![3, 784], "output keeps the input's shape");
        assert_close("warp command", &got, &warp_oracle(&f64s(&img), &f64s(&flow), [3, 1, 28, 28]), 1e-5);
        let o = FlowLossOpts {
            neighbours: Neighbours::Cross4,
            padding: Padding::Symmetric,
            eps: 0.0,
            variant: Variant::Pixel,
        };
        let l = cw::flow_loss_values(&g, &f, &o).unwrap();
        assert_close("flow-loss command", &l, &tv_oracle(&f64s(&flow), [3, 28, 28], &o), 2e-5);
        let o = FlowLossOpts { variant: Variant::Shift, ..o };
        let l = cw::flow_loss_values(&g, &f, &o).unwrap();
        assert_close("flow-loss command", &l, &tv_oracle(&f64s(&flow), [3, 28, 28], &o), 2e-5);
        cw::flow_loss(&g, &f, &FlowLossOpts::default()).unwrap();

        // one-line errors naming the file
        let f2 = d.join("f2.npy");
        npy::write_npy_f32(&f2, &[3, 2, 28, 27], &vec![0.0; 3 * 2 * 28 * 27]).unwrap();
        let s = msg(cw::warp(&g, &x, &f2, &out));
        assert!(s.contains("f2.npy") && s.contains("does not match the images") && s.contains("[3, 2, 28, 28]"), "{s}");
        npy::write_npy_f32(&f2, &[2, 2, 28, 28], &vec![0.0; 2 * 2 * 784]).unwrap();
        assert!(msg(cw::warp(&g, &x, &f2, &out)).contains("does not match"));
        npy::write_npy_f32(&f2, &[3, 3, 28, 28], &vec![0.0; 3 * 3 * 784]).unwrap();
        let s = msg(cw::warp(&g, &x, &f2, &out));
        assert!(s.contains("expected a flow of shape [N, 2, H, W]"), "{s}");
        let mut bad = flow.clone();
        bad[784 + 28 * 5 + 7] = f32::NAN;
        npy::write_npy_f32(&f2, &[3, 2, 28, 28], &bad).unwrap();
        let s = msg(cw::warp(&g, &x, &f2, &out));
        assert!(s.contains("f2.npy: NaN at flat index 931 (image 0, channel 1, pixel (5, 7))"), "{s}");
        assert!(msg(cw::flow_loss(&g, &f2, &FlowLossOpts::default())).contains("NaN"));
        npy::write_npy_i64(&f2, &[3, 2, 28, 28], &vec![0; 3 * 2 * 784]).unwrap();
        let s = msg(cw::warp(&g, &x, &f2, &out));
        assert!(s.contains("f2.npy: expected dtype float32"), "{s}");
        assert!(msg(cw::flow_loss(&g, &f, &FlowLossOpts { eps: -1.0, ..Default::default() })).contains("--eps"));

        // the binary: a table on stdout, one `error:` line on bad input
        let bin = |args: &[&str]| {
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_advlab"))
                .args(args)
                .env("NODEVICE_SELECT", "1")
                .output()
                .unwrap();
            (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).to_string(),
                String::from_utf8_lossy(&o.stderr).to_string(),
            )
        };
        let (ok, out_s, _) =
            bin(&["flow-loss", "--flow", f.to_str().unwrap(), "--neighbours", "cross4", "--variant", "shift"]);
        assert!(ok && out_s.contains("| image | L_flow |") && out_s.contains("| 2 |"), "{out_s}");
        let (ok, _, err) = bin(&[
            "warp",
            "--input",
            x.to_str().unwrap(),
            "--flow",
            f2.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let errs: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert!(!ok && errs.len() == 1 && errs[0].contains("f2.npy"), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// Per-kernel timings at MNIST size (run with --ignored --nocapture).
#[test]
#[ignore]
fn timings() {
    let gpu = advlab::Gpu::new(&advlab::GpuOptions { profile: true, ..Default::default() }).unwrap();
    let mut r = rng(41);
    let (n, c, h, w) = (100usize, 1usize, 28usize, 28usize);
    let img = gpu.upload(&uniform(&mut r, n * c * h * w, 0.0, 1.0), &[n, c, h, w]);
    let flow = gpu.upload(&randn(&mut r, n * 2 * h * w, 1.0), &[n, 2, h, w]);
    let g = gpu.upload(&randn(&mut r, n * c * h * w, 1.0), &[n, c, h, w]);
    let up = gpu.upload(&vec![1.0; n], &[n]);
    let reps = 20;
    for _ in 0..reps {
        let _ = warp::forward(&gpu, &img, &flow);
        let _ = warp::backward_flow(&gpu, &img, &flow, &g);
        let _ = warp::backward_image(&gpu, &flow, &g);
        for variant in [Variant::Pixel, Variant::Shift] {
            let o = FlowLossOpts { variant, ..Default::default() };
            let _ = tv::forward(&gpu, &flow, &o);
            let _ = tv::backward(&gpu, &flow, &up, &o);
        }
    }
    gpu.sync();
    eprintln!(
        "{n}×{c}×{h}×{w}, {reps} reps each (Shift variant adds one rows + sum_rows to backward)\n{}",
        gpu.profile_report().unwrap()
    );
    // whole stAdv runs (wall clock, untrained mlp:784-32-10, 100 images)
    let gpu = common::gpu();
    let model = advlab::nn::Model::init(&gpu, advlab::nn::Arch::parse("mlp:784-32-10").unwrap(), 1);
    let x = uniform(&mut r, n * 784, 0.0, 1.0);
    let y: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
    for opt in [advlab::stadv::StadvOptimizer::Adam, advlab::stadv::StadvOptimizer::Lbfgs] {
        let cfg = advlab::stadv::StadvConfig { optimizer: opt, iterations: 50, ..Default::default() };
        let _ =
            advlab::stadv::attack(&gpu, &model, &x, [n, 1, 28, 28], &y, advlab::stadv::Goal::Untargeted, &cfg).unwrap();
        let t = std::time::Instant::now();
        let _ =
            advlab::stadv::attack(&gpu, &model, &x, [n, 1, 28, 28], &y, advlab::stadv::Goal::Untargeted, &cfg).unwrap();
        let s = t.elapsed().as_secs_f64();
        eprintln!("stAdv {opt:?}: {n} images × 50 iterations: {s:.2} s ({:.1} ms per iteration)", 1000.0 * s / 50.0);
    }
}

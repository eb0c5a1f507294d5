//! Pooling, batch norm, local response norm and dropout against f64 CPU
//! oracles; every backward against central finite differences.

mod common;

use advlab::ops::batchnorm as bn;
use advlab::ops::dropout;
use advlab::ops::lrn::{self, Lrn};
use advlab::ops::pool::{self, Pool2d};
use common::*;

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| a as f64).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Central differences of L(v) = <dy, f(v)> w.r.t. every element of v.
fn fd_grad(v: &[f64], dy: &[f64], h: f64, f: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    let mut v = v.to_vec();
    (0..v.len())
        .map(|i| {
            let o = v[i];
            v[i] = o + h;
            let lp = dot(dy, &f(&v));
            v[i] = o - h;
            let lm = dot(dy, &f(&v));
            v[i] = o;
            (lp - lm) / (2.0 * h)
        })
        .collect()
}

// ---------------------------------------------------------------- pooling

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Max,
    AvgInclude,
    AvgExclude,
}

/// f64 pooling oracle: (out, argmax index ih*W+iw per window).
fn pool_ref(x: &[f64], s: [usize; 4], pl: &Pool2d, mode: Mode) -> (Vec<f64>, Vec<u32>) {
    let [n, c, h, w] = s;
    let o = pl.out_shape(&s);
    let (oh, ow) = (o[2], o[3]);
    let (kh, kw) = pl.kernel;
    let mut out = Vec::new();
    let mut idx = Vec::new();
    for plane in 0..n * c {
        for y in 0..oh {
            for xo in 0..ow {
                let h0 = (y * pl.stride.0) as isize - pl.pad.0 as isize;
                let w0 = (xo * pl.stride.1) as isize - pl.pad.1 as isize;
                let (mut best, mut arg, mut sum, mut cnt) = (f64::NEG_INFINITY, 0u32, 0.0, 0usize);
                for a in 0..kh as isize {
                    for b in 0..kw as isize {
                        let (ih, iw) = (h0 + a, w0 + b);
                        if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                            continue;
                        }
                        let v = x[plane * h * w + ih as usize * w + iw as usize];
                        if v > best {
                            best = v;
                            arg = (ih as usize * w + iw as usize) as u32;
                        }
                        sum += v;
                        cnt += 1;
                    }
                }
                out.push(match mode {
                    Mode::Max => best,
                    Mode::AvgInclude => sum / (kh * kw) as f64,
                    Mode::AvgExclude => sum / cnt as f64,
                });
                idx.push(arg);
            }
        }
    }
    (out, idx)
}

/// ([n,c,h,w], kernel, stride, pad)
type PoolCase = ([usize; 4], (usize, usize), (usize, usize), (usize, usize));

const POOL_CASES: [PoolCase; 17] = [
    ([1, 1, 4, 4], (2, 2), (2, 2), (0, 0)),
    ([3, 2, 7, 9], (3, 3), (2, 2), (1, 1)),
    ([2, 3, 13, 13], (3, 3), (2, 2), (0, 0)),
    ([1, 2, 8, 8], (3, 3), (1, 1), (1, 1)),
    ([3, 1, 5, 7], (1, 1), (1, 1), (0, 0)),
    ([1, 2, 9, 6], (5, 5), (2, 2), (2, 2)),
    ([2, 2, 6, 11], (2, 3), (1, 2), (1, 1)),
    ([1, 3, 7, 7], (5, 5), (3, 3), (2, 2)),
    ([3, 2, 1, 5], (1, 3), (1, 1), (0, 1)),
    // stride above the kernel: some inputs are in no window
    ([2, 3, 9, 10], (2, 2), (3, 3), (0, 0)),
    // 3x3 planes: the backward's 4-element groups straddle rows and planes
    ([5, 3, 3, 3], (2, 3), (3, 2), (1, 1)),
    ([2, 4, 32, 32], (3, 3), (2, 2), (1, 1)),
    // widths a multiple of 4 take `backward_row4`: overlapping, stride 1
    // (NVW = 8), stride above the kernel, uneven kernel and stride
    ([2, 3, 5, 8], (3, 3), (2, 2), (1, 1)),
    ([1, 2, 5, 8], (5, 5), (1, 1), (2, 2)),
    ([2, 2, 6, 12], (2, 2), (3, 3), (0, 0)),
    ([2, 2, 4, 4], (3, 2), (1, 3), (1, 0)),
    ([1, 3, 3, 8], (2, 3), (2, 2), (1, 1)),
];

#[test]
fn pool_forward_matches_oracle() {
    let gpu = gpu();
    for (ci, &(s, k, st, pd)) in POOL_CASES.iter().enumerate() {
        let pl = Pool2d::new(k, st, pd);
        let x = randn(&mut rng(400 + ci as u64), s.iter().product(), 1.0);
        let tx = gpu.upload(&x, &s);
        let xd = f64s(&x);
        let (out, idx) = pool::max_pool2d_forward(&gpu, &tx, &pl);
        assert_eq!(out.shape(), &pl.out_shape(&s));
        let (want, want_idx) = pool_ref(&xd, s, &pl, Mode::Max);
        assert_close(&format!("max {s:?} {k:?} {st:?} {pd:?}"), &gpu.read(&out), &want, 0.0);
        assert_eq!(
            gpu.read(&idx).iter().map(|&v| v as u32).collect::<Vec<_>>(),
            want_idx,
            "argmax {s:?} {k:?} {st:?} {pd:?}"
        );
        for (mode, inc) in [(Mode::AvgInclude, true), (Mode::AvgExclude, false)] {
            let out = pool::avg_pool2d_forward(&gpu, &tx, &pl, inc);
            let (want, _) = pool_ref(&xd, s, &pl, mode);
            assert_close(&format!("avg include_pad={inc} {s:?} {k:?} {st:?} {pd:?}"), &gpu.read(&out), &want, 1e-6);
        }
    }
}

#[test]
fn pool_backward_matches_finite_differences() {
    let gpu = gpu();
    for (ci, &(s, k, st, pd)) in POOL_CASES.iter().enumerate() {
        if s.iter().product::<usize>() > 2000 {
            continue; // the large case is checked in pool_backward_large
        }
        let pl = Pool2d::new(k, st, pd);
        let os = pl.out_shape(&s);
        let mut r = rng(500 + ci as u64);
        let x = randn(&mut r, s.iter().product(), 1.0);
        let dy = randn(&mut r, os.iter().product(), 1.0);
        let (xd, dyd) = (f64s(&x), f64s(&dy));
        let (tx, tdy) = (gpu.upload(&x, &s), gpu.upload(&dy, &os));
        let (_, idx) = pool::max_pool2d_forward(&gpu, &tx, &pl);
        let dx = pool::max_pool2d_backward(&gpu, &tdy, &idx, &s, &pl);
        assert_eq!(dx.shape(), &s);
        let fd = fd_grad(&xd, &dyd, 1e-7, |v| pool_ref(v, s, &pl, Mode::Max).0);
        assert_close(&format!("max backward {s:?} {k:?} {st:?} {pd:?}"), &gpu.read(&dx), &fd, 1e-5);
        for (mode, inc) in [(Mode::AvgInclude, true), (Mode::AvgExclude, false)] {
            let dx = pool::avg_pool2d_backward(&gpu, &tdy, &s, &pl, inc);
            let fd = fd_grad(&xd, &dyd, 1e-3, |v| pool_ref(v, s, &pl, mode).0);
            assert_close(&format!("avg backward include_pad={inc} {s:?} {k:?}"), &gpu.read(&dx), &fd, 1e-5);
        }
    }
}

/// Overlapping 3x3/2 windows on a larger input, against the exact scatter.
#[test]
fn pool_backward_large() {
    let gpu = gpu();
    let s = [4, 8, 31, 32];
    let pl = Pool2d::square(3, 2, 1);
    let os = pl.out_shape(&s);
    let mut r = rng(77);
    let x = randn(&mut r, s.iter().product(), 1.0);
    let dy = randn(&mut r, os.iter().product(), 1.0);
    let (tx, tdy) = (gpu.upload(&x, &s), gpu.upload(&dy, &os));
    let (_, idx) = pool::max_pool2d_forward(&gpu, &tx, &pl);
    let (_, want_idx) = pool_ref(&f64s(&x), s, &pl, Mode::Max);
    let plane_in = s[2] * s[3];
    let plane_out = os[2] * os[3];
    let mut want = vec![0f64; x.len()];
    for (o, &i) in want_idx.iter().enumerate() {
        want[(o / plane_out) * plane_in + i as usize] += dy[o] as f64;
    }
    let dx = pool::max_pool2d_backward(&gpu, &tdy, &idx, &s, &pl);
    assert_close("max backward large", &gpu.read(&dx), &want, 1e-6);
}

// -------------------------------------------------------------- batch norm

/// f64 batch norm, training mode: (y, mean, biased var) per channel.
fn bn_ref(x: &[f64], g: &[f64], b: &[f64], s: &[usize], eps: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (n, c) = (s[0], s[1]);
    let hw: usize = s[2..].iter().product();
    let m = (n * hw) as f64;
    let mut mean = vec![0f64; c];
    let mut var = vec![0f64; c];
    for ci in 0..c {
        let vals: Vec<f64> = (0..n).flat_map(|ni| (0..hw).map(move |i| (ni * c + ci) * hw + i)).map(|i| x[i]).collect();
        mean[ci] = vals.iter().sum::<f64>() / m;
        var[ci] = vals.iter().map(|v| (v - mean[ci]).powi(2)).sum::<f64>() / m;
    }
    let y = (0..x.len())
        .map(|i| {
            let ci = (i / hw) % c;
            (x[i] - mean[ci]) / (var[ci] + eps).sqrt() * g[ci] + b[ci]
        })
        .collect();
    (y, mean, var)
}

fn bn_eval_ref(x: &[f64], g: &[f64], b: &[f64], rm: &[f64], rv: &[f64], s: &[usize], eps: f64) -> Vec<f64> {
    let c = s[1];
    let hw: usize = s[2..].iter().product();
    (0..x.len())
        .map(|i| {
            let ci = (i / hw) % c;
            (x[i] - rm[ci]) / (rv[ci] + eps).sqrt() * g[ci] + b[ci]
        })
        .collect()
}

// HW % 4 == 0 and not (the shader once had separate paths for them);
// [8, 5, 32, 32] spans several texture rows. [N, F] with N <= 1024 takes
// the lane-per-channel kernels ([6, 3072]: an input BatchNorm over CIFAR
// pixels), [1030, 3] the workgroup-per-channel ones.
const BN_SHAPES: [&[usize]; 11] = [
    &[6, 3072],
    &[1030, 3],
    &[3, 4, 5, 6],
    &[5, 7],
    &[2, 3, 1, 1],
    &[1, 2, 7, 3],
    &[4, 3, 10],
    &[16, 3, 33, 33],
    &[3, 2, 2, 2],
    &[2, 3, 4, 8],
    &[8, 5, 32, 32],
];

#[test]
fn batch_norm_train_forward_and_running_stats() {
    let gpu = gpu();
    let eps = bn::DEFAULT_EPS;
    for (si, s) in BN_SHAPES.iter().enumerate() {
        let c = s[1];
        let mut r = rng(600 + si as u64);
        // an offset mean makes a one-pass variance visibly wrong
        let x: Vec<f32> = randn(&mut r, s.iter().product(), 2.0).iter().map(|v| v + 3.0).collect();
        let g = randn(&mut r, c, 1.5);
        let b = randn(&mut r, c, 1.0);
        let rm0 = randn(&mut r, c, 1.0);
        let rv0: Vec<f32> = randn(&mut r, c, 0.5).iter().map(|v| v + 1.0).collect();
        let (tx, tg, tb) = (gpu.upload(&x, s), gpu.upload(&g, &[c]), gpu.upload(&b, &[c]));
        let (rm, rv) = (gpu.upload(&rm0, &[c]), gpu.upload(&rv0, &[c]));
        let out = bn::batch_norm_train_forward(&gpu, &tx, &tg, &tb, Some((&rm, &rv)), bn::DEFAULT_MOMENTUM, eps);
        let (y, mean, var) = bn_ref(&f64s(&x), &f64s(&g), &f64s(&b), s, eps as f64);
        assert_close(&format!("bn y {s:?}"), &gpu.read(&out.y), &y, 2e-5);
        assert_close(&format!("bn mean {s:?}"), &gpu.read(&out.mean), &mean, 2e-6);
        let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps as f64).sqrt()).collect();
        assert_close(&format!("bn invstd {s:?}"), &gpu.read(&out.invstd), &invstd, 2e-5);
        let m = (s[0] * s[2..].iter().product::<usize>()) as f64;
        let want_rm: Vec<f64> = (0..c).map(|i| 0.9 * rm0[i] as f64 + 0.1 * mean[i]).collect();
        let want_rv: Vec<f64> = (0..c).map(|i| 0.9 * rv0[i] as f64 + 0.1 * var[i] * m / (m - 1.0)).collect();
        assert_close(&format!("running_mean {s:?}"), &gpu.read(&rm), &want_rm, 2e-6);
        assert_close(&format!("running_var {s:?}"), &gpu.read(&rv), &want_rv, 2e-5);
        // without running buffers nothing else changes
        let out2 = bn::batch_norm_train_forward(&gpu, &tx, &tg, &tb, None, 0.1, eps);
        assert_close(&format!("bn y no-running {s:?}"), &gpu.read(&out2.y), &y, 2e-5);
        // eval mode with the updated running stats
        let ye = bn::batch_norm_eval_forward(&gpu, &tx, &tg, &tb, &rm, &rv, eps);
        let want =
            bn_eval_ref(&f64s(&x), &f64s(&g), &f64s(&b), &f64s(&gpu.read(&rm)), &f64s(&gpu.read(&rv)), s, eps as f64);
        assert_close(&format!("bn eval {s:?}"), &gpu.read(&ye), &want, 2e-5);
    }
}

#[test]
fn batch_norm_backward_matches_finite_differences() {
    let gpu = gpu();
    let eps = bn::DEFAULT_EPS;
    for (si, s) in BN_SHAPES.iter().enumerate() {
        let numel: usize = s.iter().product();
        let c = s[1];
        let mut r = rng(700 + si as u64);
        let x: Vec<f32> = randn(&mut r, numel, 2.0).iter().map(|v| v + 1.0).collect();
        let g = randn(&mut r, c, 1.5);
        let b = randn(&mut r, c, 1.0);
        let dy = randn(&mut r, numel, 1.0);
        let rm = randn(&mut r, c, 1.0);
        let rv: Vec<f32> = randn(&mut r, c, 0.5).iter().map(|v| v + 1.0).collect();
        let (xd, gd, bd, dyd) = (f64s(&x), f64s(&g), f64s(&b), f64s(&dy));
        let (tx, tg, tb, tdy) = (gpu.upload(&x, s), gpu.upload(&g, &[c]), gpu.upload(&b, &[c]), gpu.upload(&dy, s));
        let (trm, trv) = (gpu.upload(&rm, &[c]), gpu.upload(&rv, &[c]));

        // training mode
        let out = bn::batch_norm_train_forward(&gpu, &tx, &tg, &tb, None, 0.1, eps);
        let (dx, dg, db) = bn::batch_norm_train_backward(&gpu, &tdy, &tx, &tg, &out.mean, &out.invstd);
        let h = 1e-5;
        let e = eps as f64;
        let want_dx = if numel <= 400 {
            fd_grad(&xd, &dyd, h, |v| bn_ref(v, &gd, &bd, s, e).0)
        } else {
            bn_train_dx_ref(&xd, &gd, &dyd, s, e)
        };
        let want_dg = fd_grad(&gd, &dyd, h, |v| bn_ref(&xd, v, &bd, s, e).0);
        let want_db = fd_grad(&bd, &dyd, h, |v| bn_ref(&xd, &gd, v, s, e).0);
        assert_close(&format!("bn train dx {s:?}"), &gpu.read(&dx), &want_dx, 1e-4);
        assert_close(&format!("bn train dgamma {s:?}"), &gpu.read(&dg), &want_dg, 1e-4);
        assert_close(&format!("bn train dbeta {s:?}"), &gpu.read(&db), &want_db, 1e-4);

        // eval mode
        let (rmd, rvd) = (f64s(&rm), f64s(&rv));
        let (dx, dg, db) = bn::batch_norm_eval_backward(&gpu, &tdy, &tx, &tg, &trm, &trv, eps);
        let want_dx = if numel <= 400 {
            fd_grad(&xd, &dyd, h, |v| bn_eval_ref(v, &gd, &bd, &rmd, &rvd, s, e))
        } else {
            let hw: usize = s[2..].iter().product();
            (0..numel).map(|i| dyd[i] * gd[(i / hw) % c] / (rvd[(i / hw) % c] + e).sqrt()).collect()
        };
        let want_dg = fd_grad(&gd, &dyd, h, |v| bn_eval_ref(&xd, v, &bd, &rmd, &rvd, s, e));
        let want_db = fd_grad(&bd, &dyd, h, |v| bn_eval_ref(&xd, &gd, v, &rmd, &rvd, s, e));
        assert_close(&format!("bn eval dx {s:?}"), &gpu.read(&dx), &want_dx, 1e-4);
        assert_close(&format!("bn eval dgamma {s:?}"), &gpu.read(&dg), &want_dg, 1e-4);
        assert_close(&format!("bn eval dbeta {s:?}"), &gpu.read(&db), &want_db, 1e-4);
    }
}

/// Closed-form training-mode dx (for shapes too big for finite differences).
fn bn_train_dx_ref(x: &[f64], g: &[f64], dy: &[f64], s: &[usize], eps: f64) -> Vec<f64> {
    let (n, c) = (s[0], s[1]);
    let hw: usize = s[2..].iter().product();
    let m = (n * hw) as f64;
    let (_, mean, var) = bn_ref(x, g, &vec![0.0; c], s, eps);
    let mut sdy = vec![0f64; c];
    let mut sdyx = vec![0f64; c];
    for i in 0..x.len() {
        let ci = (i / hw) % c;
        let xh = (x[i] - mean[ci]) / (var[ci] + eps).sqrt();
        sdy[ci] += dy[i];
        sdyx[ci] += dy[i] * xh;
    }
    (0..x.len())
        .map(|i| {
            let ci = (i / hw) % c;
            let is = 1.0 / (var[ci] + eps).sqrt();
            let xh = (x[i] - mean[ci]) * is;
            g[ci] * is * (dy[i] - sdy[ci] / m - xh * sdyx[ci] / m)
        })
        .collect()
}

// --------------------------------------------------------------------- LRN

fn lrn_ref(x: &[f64], s: &[usize], l: &Lrn) -> Vec<f64> {
    let c = s[1];
    let hw: usize = s[2..].iter().product();
    (0..x.len())
        .map(|e| {
            let i = e % hw;
            let ci = (e / hw) % c;
            let ni = e / hw / c;
            let lo = ci as isize - (l.size / 2) as isize;
            let hi = ci as isize + ((l.size - 1) / 2) as isize;
            let mut sq = 0.0;
            for j in lo..=hi {
                if j >= 0 && (j as usize) < c {
                    let v = x[(ni * c + j as usize) * hw + i];
                    sq += v * v;
                }
            }
            x[e] / (l.k as f64 + l.alpha as f64 / l.size as f64 * sq).powf(l.beta as f64)
        })
        .collect()
}

#[test]
fn lrn_matches_oracle_and_finite_differences() {
    let gpu = gpu();
    let cases: [(&[usize], Lrn); 6] = [
        (&[2, 7, 3, 4], Lrn::new(5, 0.5, 0.75, 2.0)),
        (&[1, 6, 2, 3], Lrn::new(2, 1.0, 0.6, 1.0)),
        (&[3, 4, 3, 2], Lrn::new(1, 0.3, 0.75, 1.0)),
        (&[2, 4, 5], Lrn::new(9, 2.0, 0.9, 1.5)),
        (&[3, 6], Lrn::new(4, 0.8, 0.75, 1.0)),
        (&[2, 5, 1, 1], Lrn::new(5, 1e-4, 0.75, 1.0)),
    ];
    for (ci, (s, l)) in cases.iter().enumerate() {
        let numel: usize = s.iter().product();
        let mut r = rng(800 + ci as u64);
        let x = randn(&mut r, numel, 2.0);
        let dy = randn(&mut r, numel, 1.0);
        let (xd, dyd) = (f64s(&x), f64s(&dy));
        let (tx, tdy) = (gpu.upload(&x, s), gpu.upload(&dy, s));
        let (y, scale) = lrn::lrn_forward(&gpu, &tx, l);
        assert_close(&format!("lrn {s:?} {l:?}"), &gpu.read(&y), &lrn_ref(&xd, s, l), 1e-5);
        let dx = lrn::lrn_backward(&gpu, &tdy, &tx, &y, &scale, l);
        let fd = fd_grad(&xd, &dyd, 1e-6, |v| lrn_ref(v, s, l));
        assert_close(&format!("lrn backward {s:?} {l:?}"), &gpu.read(&dx), &fd, 1e-5);
    }
}

// ----------------------------------------------------------------- dropout

#[test]
fn dropout_masks_are_seeded_and_scaled() {
    let gpu = gpu();
    let n = 100_003;
    let x = randn(&mut rng(900), n, 1.0);
    let dy = randn(&mut rng(901), n, 1.0);
    let (tx, tdy) = (gpu.upload(&x, &[n]), gpu.upload(&dy, &[n]));
    let p = 0.3f32;
    let scale = 1.0 / (1.0 - p);
    let (out, mask) = dropout::dropout_forward(&gpu, &tx, p, 42);
    let (m, o) = (gpu.read(&mask), gpu.read(&out));
    assert!(m.iter().all(|&v| v == 0.0 || v == scale), "mask values other than 0 and 1/(1-p)");
    let kept = m.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
    assert!((kept - 0.7).abs() < 0.01, "kept fraction {kept}");
    for i in 0..n {
        assert_eq!(o[i], x[i] * m[i], "out != x * mask at {i}");
    }
    // same seed, same mask; another seed, an independent one
    let (_, mask2) = dropout::dropout_forward(&gpu, &tx, p, 42);
    assert_eq!(gpu.read(&mask2), m, "same seed gave a different mask");
    let (_, mask3) = dropout::dropout_forward(&gpu, &tx, p, 43);
    let m3 = gpu.read(&mask3);
    let agree = m.iter().zip(&m3).filter(|(a, b)| (**a == 0.0) == (**b == 0.0)).count() as f64 / n as f64;
    assert!((agree - (0.7 * 0.7 + 0.3 * 0.3)).abs() < 0.01, "masks of seeds 42 and 43 agree on {agree}");
    let (_, mask4) = dropout::dropout_forward(&gpu, &tx, p, 42 + (1 << 32));
    assert_ne!(gpu.read(&mask4), m, "high seed bits ignored");
    // backward
    let dx = gpu.read(&dropout::dropout_backward(&gpu, &tdy, &mask));
    for i in 0..n {
        assert_eq!(dx[i], dy[i] * m[i], "dx != dy * mask at {i}");
    }
    // p = 0 is the identity, p = 1 drops everything
    let (o0, m0) = dropout::dropout_forward(&gpu, &tx, 0.0, 7);
    assert_eq!(gpu.read(&o0), x);
    assert!(gpu.read(&m0).iter().all(|&v| v == 1.0));
    let (o1, _) = dropout::dropout_forward(&gpu, &tx, 1.0, 7);
    assert!(gpu.read(&o1).iter().all(|&v| v == 0.0));
}

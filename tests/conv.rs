//! 2-D convolution forward and backward against f64 CPU oracles and central
//! finite differences, both algorithms (direct and im2col + GEMM).

mod common;

use std::time::Instant;

use advlab::ops::conv2d::{self as cv, ConvAlgo};
use common::*;

/// (n, c, h, w, o, kh, kw, sh, sw, ph, pw)
type Case = (usize, usize, usize, usize, usize, usize, usize, usize, usize, usize, usize);

fn osz(size: usize, k: usize, s: usize, p: usize) -> usize {
    (size + 2 * p - k) / s + 1
}

/// f64 oracle, straight from the definition.
fn conv_ref(x: &[f64], w: &[f64], b: Option<&[f64]>, cs: Case) -> Vec<f64> {
    let (n, c, h, wd, o, kh, kw, sh, sw, ph, pw) = cs;
    let (oh, ow) = (osz(h, kh, sh, ph), osz(wd, kw, sw, pw));
    let mut y = vec![0f64; n * o * oh * ow];
    for ni in 0..n {
        for oi in 0..o {
            for y0 in 0..oh {
                for x0 in 0..ow {
                    let mut s = b.map_or(0.0, |b| b[oi]);
                    for ci in 0..c {
                        for a in 0..kh {
                            for bb in 0..kw {
                                let ih = (y0 * sh + a) as isize - ph as isize;
                                let iw = (x0 * sw + bb) as isize - pw as isize;
                                if ih < 0 || iw < 0 || ih >= h as isize || iw >= wd as isize {
                                    continue;
                                }
                                s += w[((oi * c + ci) * kh + a) * kw + bb]
                                    * x[((ni * c + ci) * h + ih as usize) * wd + iw as usize];
                            }
                        }
                    }
                    y[((ni * o + oi) * oh + y0) * ow + x0] = s;
                }
            }
        }
    }
    y
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| a as f64).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Central differences of L(v) = <dy, f(v)> w.r.t. every element of v.
fn fd_grad(v: &[f64], dy: &[f64], f: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    let h = 1e-3;
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

struct Data {
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    dy: Vec<f32>,
}

fn data(cs: Case, seed: u64) -> Data {
    let (n, c, h, wd, o, kh, kw, sh, sw, ph, pw) = cs;
    let ny = n * o * osz(h, kh, sh, ph) * osz(wd, kw, sw, pw);
    let mut r = rng(seed);
    Data {
        x: randn(&mut r, n * c * h * wd, 1.0),
        w: randn(&mut r, o * c * kh * kw, 1.0),
        b: randn(&mut r, o, 1.0),
        dy: randn(&mut r, ny, 1.0),
    }
}

fn tol(cs: Case) -> f64 {
    let k = (cs.1 * cs.5 * cs.6) as f64;
    2e-6 * k.sqrt().max(1.0) * 4.0
}

const ALGOS: [ConvAlgo; 3] = [ConvAlgo::Auto, ConvAlgo::Direct, ConvAlgo::Im2col];

// Widths that are multiples of 4 with pads 0, 1, 2 and 3 (every alignment
// of a padded row against the source texels).
const FWD_CASES: [Case; 16] = [
    (1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0),
    (1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0),
    (3, 2, 7, 9, 5, 3, 3, 1, 1, 1, 1),
    (1, 3, 8, 8, 4, 3, 3, 2, 2, 1, 1),
    (3, 4, 9, 7, 9, 5, 5, 1, 1, 2, 2),
    (2, 3, 11, 10, 17, 5, 5, 2, 2, 2, 2),
    (3, 5, 6, 7, 3, 1, 1, 1, 1, 0, 0),
    (2, 5, 7, 6, 3, 1, 1, 2, 2, 0, 0),
    (1, 2, 6, 6, 2, 1, 1, 1, 1, 1, 1),
    (2, 3, 9, 11, 6, 3, 5, 2, 1, 0, 2),
    (1, 4, 13, 5, 7, 2, 4, 1, 3, 1, 0),
    (3, 1, 28, 28, 6, 5, 5, 1, 1, 0, 0),
    (2, 6, 12, 12, 16, 5, 5, 1, 1, 0, 0),
    (1, 3, 32, 32, 64, 5, 5, 1, 1, 2, 2),
    (2, 2, 8, 12, 3, 7, 7, 1, 1, 3, 3),
    // the widest fast-path kernel row (KW = 9: all nine taps of `acc_col`)
    (1, 2, 5, 13, 9, 2, 9, 1, 1, 0, 2),
];

#[test]
fn forward_matches_oracle() {
    let gpu = gpu();
    for (ci, &cs) in FWD_CASES.iter().enumerate() {
        let (n, c, h, wd, o, kh, kw, sh, sw, ph, pw) = cs;
        let d = data(cs, 100 + ci as u64);
        let tx = gpu.upload(&d.x, &[n, c, h, wd]);
        let tw = gpu.upload(&d.w, &[o, c, kh, kw]);
        let tb = gpu.upload(&d.b, &[o]);
        let want_nb = conv_ref(&f64s(&d.x), &f64s(&d.w), None, cs);
        let want_b = conv_ref(&f64s(&d.x), &f64s(&d.w), Some(&f64s(&d.b)), cs);
        for algo in ALGOS {
            for bias in [false, true] {
                let y = cv::conv2d_forward_algo(&gpu, algo, &tx, &tw, bias.then_some(&tb), (sh, sw), (ph, pw));
                assert_eq!(y.shape(), &[n, o, osz(h, kh, sh, ph), osz(wd, kw, sw, pw)], "{cs:?} output shape");
                let want = if bias { &want_b } else { &want_nb };
                assert_close(&format!("forward {algo:?} {cs:?} bias={bias}"), &gpu.read(&y), want, tol(cs));
            }
        }
    }
}

const BWD_CASES: [Case; 12] = [
    (1, 1, 4, 4, 1, 1, 1, 1, 1, 0, 0),
    (3, 2, 5, 6, 3, 3, 3, 1, 1, 1, 1),
    (1, 2, 7, 7, 3, 3, 3, 2, 2, 1, 1),
    (2, 2, 7, 6, 9, 5, 5, 1, 1, 2, 2),
    (1, 3, 9, 8, 2, 5, 5, 2, 2, 2, 2),
    (2, 3, 5, 7, 2, 1, 1, 2, 2, 0, 0),
    (1, 2, 6, 7, 3, 3, 2, 1, 2, 0, 1),
    (3, 1, 8, 5, 2, 2, 3, 3, 1, 1, 2),
    (1, 9, 5, 5, 2, 3, 3, 1, 1, 1, 1),
    (1, 2, 9, 9, 3, 7, 7, 1, 1, 3, 3),
    (2, 1, 6, 11, 2, 2, 3, 1, 3, 0, 1),
    (1, 2, 4, 5, 2, 1, 1, 1, 1, 1, 1),
];

#[test]
fn backward_matches_finite_differences() {
    let gpu = gpu();
    for (ci, &cs) in BWD_CASES.iter().enumerate() {
        let (n, c, h, wd, o, kh, kw, sh, sw, ph, pw) = cs;
        let (oh, ow) = (osz(h, kh, sh, ph), osz(wd, kw, sw, pw));
        let d = data(cs, 200 + ci as u64);
        let (xd, wdd, dyd) = (f64s(&d.x), f64s(&d.w), f64s(&d.dy));
        let fd_x = fd_grad(&xd, &dyd, |v| conv_ref(v, &wdd, None, cs));
        let fd_w = fd_grad(&wdd, &dyd, |v| conv_ref(&xd, v, None, cs));
        let fd_b = fd_grad(&f64s(&d.b), &dyd, |v| conv_ref(&xd, &wdd, Some(v), cs));
        let tx = gpu.upload(&d.x, &[n, c, h, wd]);
        let tw = gpu.upload(&d.w, &[o, c, kh, kw]);
        let tdy = gpu.upload(&d.dy, &[n, o, oh, ow]);
        let tl = tol(cs) * 4.0;
        for algo in ALGOS {
            let dx = cv::conv2d_backward_data_algo(&gpu, algo, &tdy, &tw, &[n, c, h, wd], (sh, sw), (ph, pw));
            assert_eq!(dx.shape(), &[n, c, h, wd]);
            assert_close(&format!("dx {algo:?} {cs:?}"), &gpu.read(&dx), &fd_x, tl);
            let dw = cv::conv2d_backward_weight_algo(
                &gpu,
                algo,
                &tdy,
                &cv::ConvInput::new(&tx),
                &[o, c, kh, kw],
                (sh, sw),
                (ph, pw),
            );
            assert_eq!(dw.shape(), &[o, c, kh, kw]);
            assert_close(&format!("dw {algo:?} {cs:?}"), &gpu.read(&dw), &fd_w, tl);
        }
        let db = cv::conv2d_backward_bias(&gpu, &tdy);
        assert_close(&format!("db {cs:?}"), &gpu.read(&db), &fd_b, tl);
    }
}

/// Exact adjoint oracles (the transposes of `conv_ref`), for shapes too big
/// for finite differences: they cross tile edges and split-K chunks.
fn conv_ref_grads(x: &[f64], w: &[f64], dy: &[f64], cs: Case) -> (Vec<f64>, Vec<f64>) {
    let (n, c, h, wd, o, kh, kw, sh, sw, ph, pw) = cs;
    let (oh, ow) = (osz(h, kh, sh, ph), osz(wd, kw, sw, pw));
    let mut dx = vec![0f64; x.len()];
    let mut dw = vec![0f64; w.len()];
    for ni in 0..n {
        for oi in 0..o {
            for y0 in 0..oh {
                for x0 in 0..ow {
                    let g = dy[((ni * o + oi) * oh + y0) * ow + x0];
                    for ci in 0..c {
                        for a in 0..kh {
                            for bb in 0..kw {
                                let ih = (y0 * sh + a) as isize - ph as isize;
                                let iw = (x0 * sw + bb) as isize - pw as isize;
                                if ih < 0 || iw < 0 || ih >= h as isize || iw >= wd as isize {
                                    continue;
                                }
                                let xi = ((ni * c + ci) * h + ih as usize) * wd + iw as usize;
                                let wi = ((oi * c + ci) * kh + a) * kw + bb;
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                        }
                    }
                }
            }
        }
    }
    (dx, dw)
}

#[test]
fn backward_large_shapes_match_adjoint_oracle() {
    let gpu = gpu();
    // (2, 3, 8, 12, ..): x padded by 1 and dy by 3 (shifts 3 and 1 in `pad`)
    let cases: [Case; 5] = [
        (2, 3, 8, 12, 6, 5, 5, 1, 1, 1, 1),
        (3, 5, 17, 17, 10, 3, 3, 1, 1, 1, 1),
        (3, 3, 32, 32, 64, 5, 5, 1, 1, 2, 2),
        (2, 7, 15, 13, 11, 3, 3, 2, 2, 1, 1),
        (3, 6, 12, 12, 16, 5, 5, 1, 1, 0, 0),
    ];
    for (ci, &cs) in cases.iter().enumerate() {
        let (n, c, h, wd, o, kh, kw, sh, sw, ph, pw) = cs;
        let (oh, ow) = (osz(h, kh, sh, ph), osz(wd, kw, sw, pw));
        let d = data(cs, 300 + ci as u64);
        let (want_dx, want_dw) = conv_ref_grads(&f64s(&d.x), &f64s(&d.w), &f64s(&d.dy), cs);
        let tx = gpu.upload(&d.x, &[n, c, h, wd]);
        let tw = gpu.upload(&d.w, &[o, c, kh, kw]);
        let tdy = gpu.upload(&d.dy, &[n, o, oh, ow]);
        // dw sums N*OH*OW terms
        let tl_w = 2e-6 * ((n * oh * ow) as f64).sqrt() * 4.0;
        let tl_x = 2e-6 * ((o * kh * kw) as f64).sqrt() * 4.0;
        for algo in ALGOS {
            let dx = cv::conv2d_backward_data_algo(&gpu, algo, &tdy, &tw, &[n, c, h, wd], (sh, sw), (ph, pw));
            assert_close(&format!("dx {algo:?} {cs:?}"), &gpu.read(&dx), &want_dx, tl_x);
            let dw = cv::conv2d_backward_weight_algo(
                &gpu,
                algo,
                &tdy,
                &cv::ConvInput::new(&tx),
                &[o, c, kh, kw],
                (sh, sw),
                (ph, pw),
            );
            assert_close(&format!("dw {algo:?} {cs:?}"), &gpu.read(&dw), &want_dw, tl_w);
        }
        // from the input as the forward pass kept it (its padded copy)...
        let (_, kept) = cv::conv2d_forward_keep(&gpu, &tx, &tw, None, (sh, sw), (ph, pw), false);
        let dw = cv::conv2d_backward_weight(&gpu, &tdy, &kept, &[o, c, kh, kw], (sh, sw), (ph, pw));
        assert_close(&format!("dw from the kept input {cs:?}"), &gpu.read(&dw), &want_dw, tl_w);
        // ...and from one kept by a convolution of another geometry, which
        // must not be used
        let (_, other) = cv::conv2d_forward_keep(&gpu, &tx, &tw, None, (sh, sw), (ph + 1, pw + 1), false);
        let dw = cv::conv2d_backward_weight(&gpu, &tdy, &other, &[o, c, kh, kw], (sh, sw), (ph, pw));
        assert_close(&format!("dw from a mismatched kept input {cs:?}"), &gpu.read(&dw), &want_dw, tl_w);
    }
}

#[test]
fn out_size_formula() {
    assert_eq!(cv::out_size(28, 5, 1, 0), 24);
    assert_eq!(cv::out_size(32, 5, 1, 2), 32);
    assert_eq!(cv::out_size(32, 3, 2, 1), 16);
    assert_eq!(cv::out_size(7, 3, 2, 0), 3);
    assert_eq!(cv::out_size(1, 1, 1, 0), 1);
}

#[test]
#[should_panic(expected = "channels")]
fn channel_mismatch_is_refused() {
    let gpu = gpu();
    let x = gpu.zeros(&[1, 3, 8, 8]);
    let w = gpu.zeros(&[4, 2, 3, 3]);
    cv::conv2d_forward(&gpu, &x, &w, None, (1, 1), (0, 0));
}

/// CPU seconds used by this process so far (all threads: lavapipe runs its
/// "GPU" threads in-process, so this measures the work even on a loaded
/// machine where wall-clock time does not). Linux only; 0 elsewhere.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // fields 14 and 15 (utime, stime) are 11 and 12 after the state field
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Timings of both algorithms on the thesis' layers, wall clock and process
/// CPU time per call (the latter is robust to other load on the machine):
/// `cargo test --test conv bench -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_conv_algorithms() {
    // BENCH_PROFILE=1: a profiling device, per-kernel table at the end
    let profile = std::env::var("BENCH_PROFILE").is_ok();
    let gpu = if profile {
        advlab::Gpu::new(&advlab::GpuOptions { profile: true, ..Default::default() }).unwrap()
    } else {
        gpu()
    };
    let reps: usize = std::env::var("BENCH_REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    // (name, n, c, h, w, o, k, pad)
    let layers = [
        ("lenet conv1 1x28x28 -> 6 5x5", 64, 1, 28, 28, 6, 5, 0),
        ("lenet conv2 6x12x12 -> 16 5x5", 64, 6, 12, 12, 16, 5, 0),
        ("alexnet-cifar conv1 3x32x32 -> 64 5x5 p2", 64, 3, 32, 32, 64, 5, 2),
    ];
    println!("| layer | algo | forward ms (cpu ms) | backward data ms (cpu ms) | backward weight ms (cpu ms) | fwd GFLOP/s (per cpu-s) |");
    println!("|---|---|---|---|---|---|");
    for &(name, n, c, h, w, o, k, p) in &layers {
        let g = cv::ConvGeom::new(&[n, c, h, w], &[o, c, k, k], (1, 1), (p, p));
        let mut r = rng(7);
        let x = gpu.upload(&randn(&mut r, n * c * h * w, 1.0), &[n, c, h, w]);
        let wt = gpu.upload(&randn(&mut r, o * c * k * k, 1.0), &[o, c, k, k]);
        let b = gpu.upload(&randn(&mut r, o, 1.0), &[o]);
        let ys = g.y_shape();
        let dy = gpu.upload(&randn(&mut r, ys.iter().product(), 1.0), &ys);
        for algo in ALGOS {
            let time = |f: &dyn Fn()| {
                f();
                gpu.sync();
                let (t, c) = (Instant::now(), cpu_seconds());
                for _ in 0..reps {
                    f();
                    gpu.sync();
                }
                let wall = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
                (wall, (cpu_seconds() - c) * 1e3 / reps as f64)
            };
            let tf = time(&|| {
                cv::conv2d_forward_algo(&gpu, algo, &x, &wt, Some(&b), (1, 1), (p, p));
            });
            let td = time(&|| {
                cv::conv2d_backward_data_algo(&gpu, algo, &dy, &wt, &[n, c, h, w], (1, 1), (p, p));
            });
            let tw = time(&|| {
                cv::conv2d_backward_weight_algo(
                    &gpu,
                    algo,
                    &dy,
                    &cv::ConvInput::new(&x),
                    &[o, c, k, k],
                    (1, 1),
                    (p, p),
                );
            });
            let gf = 2.0 * g.macs() as f64 / (tf.0 * 1e-3) / 1e9;
            let gc = 2.0 * g.macs() as f64 / (tf.1 * 1e-3) / 1e9;
            println!(
                "| {name} | {algo:?} | {:.1} ({:.1}) | {:.1} ({:.1}) | {:.1} ({:.1}) | {gf:.1} ({gc:.1}) |",
                tf.0, tf.1, td.0, td.1, tw.0, tw.1
            );
        }
    }
    if let Some(r) = gpu.profile_report() {
        println!("{r}");
    }
}

/// The fused conv + ReLU (`layers::conv2d_relu`: the ReLU in the fast
/// kernel's epilogue, a separate ReLU elsewhere) against relu(conv + b) in
/// f64, and its gradients against the adjoint oracle of dy masked by
/// z > 0, on a fast-path shape and one the fast kernel does not take
/// (horizontal stride 3).
#[test]
fn conv_relu_matches_oracle() {
    use advlab::autograd::Graph;
    use advlab::nn::layers;
    let gpu = gpu();
    // the third: output rows of whole vec4s (forward_fast's vec4 stores)
    let cases: [Case; 3] =
        [(2, 3, 9, 11, 6, 5, 5, 1, 1, 2, 2), (1, 2, 10, 10, 3, 3, 3, 3, 3, 1, 1), (2, 3, 12, 12, 5, 3, 3, 1, 1, 1, 1)];
    for (ci, cs) in cases.into_iter().enumerate() {
        let (n, c, h, wd, o, kh, kw, sh, _, ph, _) = cs;
        let (oh, ow) = (osz(h, kh, sh, ph), osz(wd, kw, sh, ph));
        let d = data(cs, 300 + ci as u64);
        let (xd, wdd) = (f64s(&d.x), f64s(&d.w));
        let z = conv_ref(&xd, &wdd, Some(&f64s(&d.b)), cs);
        let want_y: Vec<f64> = z.iter().map(|v| v.max(0.0)).collect();
        let dz: Vec<f64> = d.dy.iter().zip(&z).map(|(&g, &zv)| if zv > 0.0 { g as f64 } else { 0.0 }).collect();
        let (want_dx, want_dw) = conv_ref_grads(&xd, &wdd, &dz, cs);
        let want_db: Vec<f64> = (0..o)
            .map(|oi| (0..n).map(|ni| dz[(ni * o + oi) * oh * ow..][..oh * ow].iter().sum::<f64>()).sum())
            .collect();
        let mut g = Graph::new(&gpu);
        let xv = g.leaf(gpu.upload(&d.x, &[n, c, h, wd]), true);
        let wv = g.leaf(gpu.upload(&d.w, &[o, c, kh, kw]), true);
        let bv = g.leaf(gpu.upload(&d.b, &[o]), true);
        let y = layers::conv2d_relu(&mut g, xv, wv, bv, sh, ph);
        let tl = tol(cs) * 4.0;
        assert_close(&format!("conv_relu y {cs:?}"), &gpu.read(g.value(y)), &want_y, tl);
        let grads = g.backward(y, Some(gpu.upload(&d.dy, &[n, o, oh, ow])));
        assert_close(&format!("conv_relu dx {cs:?}"), &gpu.read(grads.get(xv).unwrap()), &want_dx, tl);
        assert_close(&format!("conv_relu dw {cs:?}"), &gpu.read(grads.get(wv).unwrap()), &want_dw, tl);
        assert_close(&format!("conv_relu db {cs:?}"), &gpu.read(grads.get(bv).unwrap()), &want_db, tl);
    }
}

// ---- per-layer tuning (ops::conv_tuning) ------------------------------------

/// Whether `Auto` consults tuning records in this environment (it does
/// not with ADVLAB_CONV_TUNING=off or an ADVLAB_CONV_ALGO override).
fn tuning_in_force() -> bool {
    let on = advlab::ops::conv_tuning::default_path().is_some() && ConvAlgo::from_env() == ConvAlgo::Auto;
    if !on {
        eprintln!("skipping: ADVLAB_CONV_TUNING=off or ADVLAB_CONV_ALGO set");
    }
    on
}

/// A record for one pass and shape sends `Auto` there and nowhere else, and
/// the recorded algorithm gives the oracle's answer.
#[test]
fn tuning_record_steers_auto_for_its_shape_only() {
    use advlab::ops::conv_tuning::{self as tuning, ConvPass};
    if !tuning_in_force() {
        return;
    }
    let gpu = gpu();
    // a shape no other test uses (records are per process)
    let cs: Case = (3, 5, 6, 6, 7, 3, 3, 1, 1, 1, 1);
    let (n, c, h, wd, o, kh, kw, sh, sw, ph, pw) = cs;
    let g = cv::ConvGeom::new(&[n, c, h, wd], &[o, c, kh, kw], (sh, sw), (ph, pw));
    let other = cv::ConvGeom::new(&[n + 1, c, h, wd], &[o, c, kh, kw], (sh, sw), (ph, pw));
    assert_eq!(cv::algo_for(&gpu, ConvPass::Forward, &g), ConvAlgo::Fast);
    tuning::record(&gpu, ConvPass::Forward, &g, ConvAlgo::Im2col);
    tuning::record(&gpu, ConvPass::Data, &g, ConvAlgo::Direct);
    assert_eq!(cv::algo_for(&gpu, ConvPass::Forward, &g), ConvAlgo::Im2col);
    assert_eq!(cv::algo_for(&gpu, ConvPass::Data, &g), ConvAlgo::Direct);
    assert_eq!(cv::algo_for(&gpu, ConvPass::Weight, &g), ConvAlgo::Fast);
    assert_eq!(cv::algo_for(&gpu, ConvPass::Forward, &other), ConvAlgo::Fast, "a record for another batch size");
    let d = data(cs, 77);
    let tx = gpu.upload(&d.x, &[n, c, h, wd]);
    let tw = gpu.upload(&d.w, &[o, c, kh, kw]);
    let y = cv::conv2d_forward(&gpu, &tx, &tw, None, (sh, sw), (ph, pw));
    let want = conv_ref(&f64s(&d.x), &f64s(&d.w), None, cs);
    assert_close("forward through a tuning record", &gpu.read(&y), &want, tol(cs));
}

/// `tune` times every algorithm that handles each pass and records the
/// fastest of what it measured (no claim about which that is).
#[test]
fn tune_records_the_fastest_it_measured() {
    use advlab::ops::conv_tuning::{self as tuning, ConvPass};
    if !tuning_in_force() {
        return;
    }
    let gpu = gpu();
    let g = cv::ConvGeom::new(&[2, 3, 7, 9], &[4, 3, 3, 3], (1, 1), (1, 1));
    let timings = tuning::tune(&gpu, &g, 1);
    assert_eq!(timings.iter().map(|t| t.pass).collect::<Vec<_>>(), ConvPass::ALL);
    for t in &timings {
        let names: Vec<&str> = t.seconds.iter().map(|s| s.0).collect();
        assert_eq!(names, ["fast", "direct", "im2col"], "{:?}", t.pass);
        assert!(t.seconds.iter().all(|s| s.1 > 0.0 && s.1.is_finite()));
        let best = t.seconds.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
        assert_eq!(t.chosen, best);
        let want = tuning::CANDIDATES.iter().find(|c| c.0 == best).unwrap().1;
        assert_eq!(cv::algo_for(&gpu, t.pass, &g), want);
    }
    // stride 2: the fast data gradient does not apply, so no "fast" entry
    let g2 = cv::ConvGeom::new(&[1, 2, 9, 9], &[3, 2, 3, 3], (2, 2), (0, 0));
    let t2 = tuning::tune(&gpu, &g2, 1);
    assert_eq!(t2[1].seconds.iter().map(|s| s.0).collect::<Vec<_>>(), ["direct", "im2col"]);
}

/// The tuning file: absent is empty, a good one round-trips, a corrupt one
/// or one naming an unknown algorithm is refused naming the file.
#[test]
fn tuning_file_is_checked() {
    use advlab::ops::conv_tuning as tuning;
    let dir = std::env::temp_dir().join(format!("advlab-tuning-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(tuning::read(&dir.join("absent.json")).unwrap().is_empty());
    let good = dir.join("good.json");
    std::fs::write(&good, r#"{"version": 1, "adapters": {"gpu A": {"forward x1": "im2col", "data x1": "fast"}}}"#)
        .unwrap();
    let r = tuning::read(&good).unwrap();
    assert_eq!(r["gpu A"]["forward x1"], "im2col");
    for (name, text) in [
        ("truncated.json", r#"{"version": 1, "adapters": {"#),
        ("wrong-version.json", r#"{"version": 2, "adapters": {}}"#),
        ("unknown-algo.json", r#"{"version": 1, "adapters": {"gpu A": {"forward x1": "winograd"}}}"#),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let e = format!("{:#}", tuning::read(&p).unwrap_err());
        assert!(e.contains(name) && e.contains("not a conv tuning file"), "{name}: {e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

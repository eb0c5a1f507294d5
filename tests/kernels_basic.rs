//! Elementwise, reduction, softmax cross-entropy and optimiser kernels
//! against f64 CPU oracles.

mod common;

use advlab::ops::elementwise::{self as ew, Unary};
use advlab::ops::{optim, reduce, softmax_xent};
use common::*;

/// An f64 reference for a unary kernel.
type Oracle = Box<dyn Fn(f64) -> f64>;

#[test]
fn unary_functions_match_oracle() {
    let gpu = gpu();
    for &n in &[1usize, 7, 255, 257, 1000, 70_001] {
        let x = randn(&mut rng(n as u64), n, 3.0);
        let t = gpu.upload(&x, &[n]);
        let cases: Vec<(Unary, f32, f32, Oracle)> = vec![
            (Unary::Affine, 2.5, -1.0, Box::new(|v| 2.5 * v - 1.0)),
            (Unary::Relu, 0.0, 0.0, Box::new(|v| v.max(0.0))),
            (Unary::Sigmoid, 0.0, 0.0, Box::new(|v| 1.0 / (1.0 + (-v).exp()))),
            (Unary::Tanh, 0.0, 0.0, Box::new(|v| v.tanh())),
            (Unary::Sign, 0.0, 0.0, Box::new(sign0)),
            (Unary::Clamp, -0.5, 0.25, Box::new(|v| v.clamp(-0.5, 0.25))),
            (Unary::Abs, 0.0, 0.0, Box::new(|v| v.abs())),
            (Unary::Square, 0.0, 0.0, Box::new(|v| v * v)),
        ];
        for (f, a, b, o) in cases {
            let got = gpu.read(&ew::unary(&gpu, f, &t, a, b));
            let want: Vec<f64> = x.iter().map(|&v| o(v as f64)).collect();
            assert_close(&format!("{f:?} n={n}"), &got, &want, 1e-5);
        }
    }
}

#[test]
fn sign_of_zero_is_zero() {
    let gpu = gpu();
    let t = gpu.upload(&[0.0, -0.0, 1e-30, -1e-30], &[4]);
    assert_eq!(gpu.read(&ew::sign(&gpu, &t)), vec![0.0, 0.0, 1.0, -1.0]);
}

#[test]
fn unary_grads_match_finite_differences() {
    let gpu = gpu();
    let n = 301;
    let x = randn(&mut rng(3), n, 2.0);
    let dy = randn(&mut rng(4), n, 1.0);
    let tx = gpu.upload(&x, &[n]);
    let tdy = gpu.upload(&dy, &[n]);
    for f in [Unary::Relu, Unary::Sigmoid, Unary::Tanh] {
        let fwd: fn(f64) -> f64 = match f {
            Unary::Relu => |v| v.max(0.0),
            Unary::Sigmoid => |v| 1.0 / (1.0 + (-v).exp()),
            _ => |v| v.tanh(),
        };
        // relu's kernel takes the input, sigmoid/tanh the output
        let saved = if f == Unary::Relu { tx.clone() } else { ew::unary(&gpu, f, &tx, 0.0, 0.0) };
        let got = gpu.read(&ew::unary_grad(&gpu, f, &saved, &tdy));
        let h = 1e-6;
        let want: Vec<f64> = x
            .iter()
            .zip(&dy)
            .map(|(&v, &d)| {
                let v = v as f64;
                d as f64 * (fwd(v + h) - fwd(v - h)) / (2.0 * h)
            })
            .collect();
        assert_close(&format!("{f:?} grad"), &got, &want, 1e-5);
    }
}

#[test]
fn binary_and_axpy_match_oracle() {
    let gpu = gpu();
    let n = 1031;
    let x = randn(&mut rng(5), n, 1.0);
    let y = randn(&mut rng(6), n, 1.0);
    let (tx, ty) = (gpu.upload(&x, &[n]), gpu.upload(&y, &[n]));
    let got = gpu.read(&ew::lincomb(&gpu, &tx, 0.5, &ty, -2.0));
    let want: Vec<f64> = x.iter().zip(&y).map(|(&a, &b)| 0.5 * a as f64 - 2.0 * b as f64).collect();
    assert_close("lincomb", &got, &want, 1e-6);
    let got = gpu.read(&ew::mul(&gpu, &tx, &ty));
    let want: Vec<f64> = x.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).collect();
    assert_close("mul", &got, &want, 1e-6);
    let acc = gpu.upload(&y, &[n]);
    ew::axpy(&gpu, 3.0, &tx, &acc);
    let want: Vec<f64> = x.iter().zip(&y).map(|(&a, &b)| 3.0 * a as f64 + b as f64).collect();
    assert_close("axpy", &gpu.read(&acc), &want, 1e-6);
}

#[test]
fn large_dispatch_folds_into_2d() {
    // sum_cols runs one thread per column in workgroups of 64:
    // 65,535 * 64 + 1000 columns needs a 2-D grid.
    let gpu = gpu();
    let n = 65_535 * 64 + 1000;
    let x: Vec<f32> = (0..n).map(|i| (i % 97) as f32).collect();
    let t = gpu.upload(&x, &[1, n]);
    let got = gpu.read(&reduce::sum_cols(&gpu, &t, 2.0));
    assert!(got.iter().enumerate().all(|(i, &v)| v == 2.0 * (i % 97) as f32), "2-D fold lost elements");
}

#[test]
fn long_sums_count_every_term() {
    // llvmpipe ends a shader loop after 65,535 iterations; sums longer than
    // that (a mean over a CIFAR batch's masks, a bias gradient over a big
    // batch) must still count every term.
    let gpu = gpu();
    for &(r, c) in &[(2usize, 200_001usize), (1, 65_536), (70_001, 3), (1, 3 * 32_768 + 5)] {
        let x = randn(&mut rng((r + c) as u64), r * c, 1.0);
        let t = gpu.upload(&x, &[r, c]);
        let rows: Vec<f64> = (0..r).map(|i| x[i * c..(i + 1) * c].iter().map(|&v| v as f64).sum::<f64>()).collect();
        assert_close("long sum_rows", &gpu.read(&reduce::sum_rows(&gpu, &t, 1.0)), &rows, 1e-3);
        let cols: Vec<f64> = (0..c).map(|j| (0..r).map(|i| x[i * c + j] as f64).sum::<f64>()).collect();
        assert_close("long sum_cols", &gpu.read(&reduce::sum_cols(&gpu, &t, 1.0)), &cols, 1e-3);
        let ones = gpu.upload(&vec![1.0f32; r * c], &[r * c]);
        assert_eq!(gpu.read(&reduce::sum_all(&gpu, &ones, 1.0))[0], (r * c) as f32, "sum_all of {} ones", r * c);
    }
}

#[test]
fn reductions_match_oracle() {
    let gpu = gpu();
    for &(r, c) in &[(1usize, 1usize), (7, 13), (129, 65), (3, 1000), (257, 129)] {
        let x = randn(&mut rng((r * c) as u64), r * c, 1.0);
        let t = gpu.upload(&x, &[r, c]);
        let rows: Vec<f64> =
            (0..r).map(|i| 0.5 * x[i * c..(i + 1) * c].iter().map(|&v| v as f64).sum::<f64>()).collect();
        assert_close("sum_rows", &gpu.read(&reduce::sum_rows(&gpu, &t, 0.5)), &rows, 1e-5);
        let cols: Vec<f64> = (0..c).map(|j| (0..r).map(|i| x[i * c + j] as f64).sum::<f64>()).collect();
        assert_close("sum_cols", &gpu.read(&reduce::sum_cols(&gpu, &t, 1.0)), &cols, 1e-5);
        let total: f64 = x.iter().map(|&v| v as f64).sum();
        assert_close("sum_all", &gpu.read(&reduce::sum_all(&gpu, &t, 1.0)), &[total], 1e-4);
        let (mx, idx) = reduce::max_rows(&gpu, &t);
        let idx = gpu.read_u32(&idx);
        let mx = gpu.read(&mx);
        for i in 0..r {
            let row = &x[i * c..(i + 1) * c];
            let (k, m) =
                row.iter().enumerate().fold((0, f32::MIN), |(bk, bm), (k, &v)| if v > bm { (k, v) } else { (bk, bm) });
            assert_eq!(idx[i] as usize, k, "argmax row {i}");
            assert_eq!(mx[i], m, "max row {i}");
        }
    }
}

#[test]
fn softmax_xent_matches_oracle_and_finite_differences() {
    let gpu = gpu();
    for &(b, k) in &[(1usize, 1usize), (1, 10), (7, 10), (33, 3)] {
        let z = randn(&mut rng((b * 31 + k) as u64), b * k, 4.0);
        let labels: Vec<u32> = (0..b).map(|i| ((i * 7 + 3) % k) as u32).collect();
        let dloss = randn(&mut rng(99), b, 1.0);
        let (tz, tl, td) = (gpu.upload(&z, &[b, k]), gpu.upload_u32(&labels, &[b]), gpu.upload(&dloss, &[b]));
        let (loss, probs) = softmax_xent::forward(&gpu, &tz, &tl);
        let row_loss = |zz: &[f64], y: usize| {
            let m = zz.iter().cloned().fold(f64::MIN, f64::max);
            let s: f64 = zz.iter().map(|v| (v - m).exp()).sum();
            m + s.ln() - zz[y]
        };
        let zd: Vec<f64> = z.iter().map(|&v| v as f64).collect();
        let want: Vec<f64> = (0..b).map(|i| row_loss(&zd[i * k..(i + 1) * k], labels[i] as usize)).collect();
        assert_close("xent loss", &gpu.read(&loss), &want, 1e-5);
        let dz = gpu.read(&softmax_xent::backward(&gpu, &probs, &tl, &td));
        let h = 1e-6;
        let mut fd = vec![0f64; b * k];
        for i in 0..b {
            for j in 0..k {
                let mut zp = zd[i * k..(i + 1) * k].to_vec();
                let mut zm = zp.clone();
                zp[j] += h;
                zm[j] -= h;
                fd[i * k + j] = dloss[i] as f64
                    * (row_loss(&zp, labels[i] as usize) - row_loss(&zm, labels[i] as usize))
                    / (2.0 * h);
            }
        }
        assert_close("xent grad", &dz, &fd, 1e-5);
    }
}

#[test]
fn sgd_and_adam_match_pytorch_formulas() {
    // 333: `sgd_small` (buffers); 20001: `sgd` (texture reads)
    for n in [333, 20001] {
        sgd_and_adam_match(n);
    }
}

fn sgd_and_adam_match(n: usize) {
    let gpu = gpu();
    let w0 = randn(&mut rng(10), n, 1.0);
    let gs: Vec<Vec<f32>> = (0..3).map(|s| randn(&mut rng(20 + s), n, 1.0)).collect();
    // SGD momentum 0.9, wd 1e-3, lr 0.1 for 3 steps
    let (w, m) = (gpu.upload(&w0, &[n]), gpu.zeros(&[n]));
    let mut wo: Vec<f64> = w0.iter().map(|&v| v as f64).collect();
    let mut mo = vec![0f64; n];
    for g in &gs {
        let tg = gpu.upload(g, &[n]);
        optim::sgd(&gpu, &w, &tg, &m, 0.1, 0.9, 1e-3);
        for i in 0..n {
            let d = g[i] as f64 + 1e-3 * wo[i];
            mo[i] = 0.9 * mo[i] + d;
            wo[i] -= 0.1 * mo[i];
        }
    }
    assert_close("sgd", &gpu.read(&w), &wo, 1e-5);
    // Adam
    let (w, m, v) = (gpu.upload(&w0, &[n]), gpu.zeros(&[n]), gpu.zeros(&[n]));
    let mut wo: Vec<f64> = w0.iter().map(|&v| v as f64).collect();
    let (mut mo, mut vo) = (vec![0f64; n], vec![0f64; n]);
    for (t, g) in gs.iter().enumerate() {
        let tg = gpu.upload(g, &[n]);
        optim::adam(&gpu, &w, &tg, &m, &v, t as u32 + 1, 1e-2, (0.9, 0.999), 1e-8, 0.0);
        for i in 0..n {
            let d = g[i] as f64;
            mo[i] = 0.9 * mo[i] + 0.1 * d;
            vo[i] = 0.999 * vo[i] + 0.001 * d * d;
            let mh = mo[i] / (1.0 - 0.9f64.powi(t as i32 + 1));
            let vh = vo[i] / (1.0 - 0.999f64.powi(t as i32 + 1));
            wo[i] -= 1e-2 * mh / (vh.sqrt() + 1e-8);
        }
    }
    assert_close("adam", &gpu.read(&w), &wo, 1e-5);
}

/// `--profile` counts every dispatch under its kernel's name, in either
/// mode (wall clock on lavapipe, timestamps on GPUs), with non-negative times.
#[test]
fn profile_report_counts_dispatches() {
    use advlab::ops::gemm::{self, GemmPath, NN};
    let gpu = advlab::Gpu::new(&advlab::GpuOptions { profile: true, ..Default::default() }).unwrap();
    let a = gpu.upload(&[1.0; 12], &[3, 4]);
    let b = gpu.upload(&[2.0; 20], &[4, 5]);
    let c = gpu.alloc(&[3, 5]);
    for _ in 0..3 {
        gemm::gemm_into_with(&gpu, &a, &b, NN, None, false, false, &c, GemmPath::Naive);
    }
    assert_eq!(gpu.read(&c), vec![8.0; 15]);
    let report = gpu.profile_report().expect("profiling is on");
    let row = report.lines().find(|l| l.starts_with("| gemm::matmul_naive |")).unwrap_or_else(|| panic!("{report}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(cells[2], "3", "{row}");
    assert!(cells[3].parse::<f64>().unwrap() >= 0.0, "{row}");
}

//! GEMM variants against an f64 oracle on odd shapes.

mod common;

use advlab::ops::gemm::{self, Trans, NN, NT, TN};
use common::*;

fn check(m: usize, n: usize, k: usize, t: Trans, bias: bool, accumulate: bool) {
    let gpu = gpu();
    let mut r = rng((m * 1_000_003 + n * 1009 + k) as u64);
    let a = randn(&mut r, m * k, 1.0);
    let b = randn(&mut r, k * n, 1.0);
    let bv = randn(&mut r, n, 1.0);
    let c0 = randn(&mut r, m * n, 1.0);
    let ta = gpu.upload(&a, &if t.ta { [k, m] } else { [m, k] });
    let tb = gpu.upload(&b, &if t.tb { [n, k] } else { [k, n] });
    let tbias = gpu.upload(&bv, &[n]);
    let c = gpu.upload(&c0, &[m, n]);
    gemm::gemm_into(&gpu, &ta, &tb, t, bias.then_some(&tbias), accumulate, &c);
    let mut want = gemm_oracle(&a, &b, m, n, k, t.ta, t.tb);
    for i in 0..m {
        for j in 0..n {
            if bias {
                want[i * n + j] += bv[j] as f64;
            }
            if accumulate {
                want[i * n + j] += c0[i * n + j] as f64;
            }
        }
    }
    let got = gpu.read(&c);
    // f32 accumulation over k terms of size ~1: error grows like sqrt(k) eps.
    let tol = 1e-6 * (k as f64).sqrt().max(1.0) * 4.0;
    assert_close(&format!("gemm {m}x{n}x{k} {t:?} bias={bias} acc={accumulate}"), &got, &want, tol);
}

#[test]
fn gemm_odd_shapes_all_variants() {
    let shapes = [(1, 1, 1), (7, 13, 5), (13, 7, 5), (1, 17, 33), (33, 1, 9), (64, 64, 64), (65, 63, 67), (257, 129, 65), (10, 500, 784)];
    for &(m, n, k) in &shapes {
        for t in [NN, NT, TN] {
            check(m, n, k, t, false, false);
        }
    }
}

#[test]
fn gemm_bias_and_accumulate() {
    for t in [NN, NT, TN] {
        check(37, 29, 41, t, true, false);
        check(37, 29, 41, t, false, true);
        check(128, 500, 784, t, true, false);
    }
}

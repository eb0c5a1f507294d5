//! GEMM variants against an f64 oracle on odd shapes, through every kernel
//! path (the CPU-adapter path, the real-GPU tiled path and the naive one all
//! run on lavapipe too, so CI covers them).

mod common;

use advlab::ops::gemm::{self, GemmPath, Trans, NN, NT, TN};
use common::*;

const TT: Trans = Trans { ta: true, tb: true };
const PATHS: [GemmPath; 6] =
    [GemmPath::Auto, GemmPath::Naive, GemmPath::Tiled, GemmPath::Cpu, GemmPath::CpuUbo2, GemmPath::CpuTex];

#[allow(clippy::too_many_arguments)]
fn check_path(m: usize, n: usize, k: usize, t: Trans, bias: bool, accumulate: bool, path: GemmPath) {
    check_path_relu(m, n, k, t, bias, accumulate, false, path)
}

#[allow(clippy::too_many_arguments)]
fn check_path_relu(m: usize, n: usize, k: usize, t: Trans, bias: bool, accumulate: bool, relu: bool, path: GemmPath) {
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
    gemm::gemm_into_with(&gpu, &ta, &tb, t, bias.then_some(&tbias), accumulate, relu, &c, path);
    let mut want = gemm_oracle(&a, &b, m, n, k, t.ta, t.tb);
    for i in 0..m {
        for j in 0..n {
            if bias {
                want[i * n + j] += bv[j] as f64;
            }
            if accumulate {
                want[i * n + j] += c0[i * n + j] as f64;
            }
            if relu {
                want[i * n + j] = want[i * n + j].max(0.0);
            }
        }
    }
    let got = gpu.read(&c);
    // f32 accumulation over k terms of size ~1: error grows like sqrt(k) eps.
    let tol = 1e-6 * (k as f64).sqrt().max(1.0) * 4.0;
    assert_close(
        &format!("gemm {m}x{n}x{k} {t:?} bias={bias} acc={accumulate} relu={relu} {path:?}"),
        &got,
        &want,
        tol,
    );
}

fn check(m: usize, n: usize, k: usize, t: Trans, bias: bool, accumulate: bool) {
    for path in PATHS {
        check_path(m, n, k, t, bias, accumulate, path);
    }
}

const SHAPES: [(usize, usize, usize); 11] = [
    (1, 1, 1),
    (7, 13, 5),
    (13, 7, 5),
    (1, 17, 33),
    (33, 1, 9),
    (2, 3, 4),
    (64, 64, 64),
    (65, 63, 67),
    (17, 33, 1),
    (257, 129, 65),
    (10, 500, 784),
];

#[test]
fn gemm_odd_shapes_nn() {
    for &(m, n, k) in &SHAPES {
        check(m, n, k, NN, false, false);
    }
}

#[test]
fn gemm_odd_shapes_nt() {
    for &(m, n, k) in &SHAPES {
        check(m, n, k, NT, false, false);
    }
}

#[test]
fn gemm_odd_shapes_tn() {
    for &(m, n, k) in &SHAPES {
        check(m, n, k, TN, false, false);
    }
}

#[test]
fn gemm_odd_shapes_tt() {
    for &(m, n, k) in &[(1, 1, 1), (7, 13, 5), (65, 63, 67), (40, 36, 44)] {
        check(m, n, k, TT, false, false);
    }
}

#[test]
fn gemm_bias_and_accumulate() {
    for t in [NN, NT, TN] {
        check(37, 29, 41, t, true, false);
        check(37, 29, 41, t, false, true);
        check(37, 29, 41, t, true, true);
        check(1, 1, 1, t, true, true);
        check(128, 500, 784, t, true, false);
    }
}

/// The ReLU epilogue (Linear + ReLU in one dispatch) on every path, with
/// N on and off multiples of 4 (the texture path's vec4 and scalar stores).
#[test]
fn gemm_relu_epilogue() {
    for path in PATHS {
        for &(m, n, k) in &[(37, 29, 41), (33, 32, 17), (1, 1, 1)] {
            for t in [NN, NT] {
                check_path_relu(m, n, k, t, true, false, true, path);
                check_path_relu(m, n, k, t, false, true, true, path);
            }
        }
    }
    check_path_relu(128, 500, 784, NT, true, false, true, GemmPath::Auto);
}

/// Every CPU-path edge case: M, N, K each on and off multiples of the
/// 16x16 tile and of 4 (packing), with bias and accumulate; for the texture
/// path also N on and off multiples of 4 (`gemm_tex_n4` vs `gemm_tex`).
#[test]
fn gemm_cpu_path_edges() {
    for &m in &[1usize, 4, 15, 16, 17, 33] {
        for &n in &[1usize, 4, 15, 16, 17] {
            for &k in &[1usize, 3, 4, 8, 17] {
                for t in [NN, NT, TN] {
                    for path in [GemmPath::Cpu, GemmPath::CpuUbo2, GemmPath::CpuTex] {
                        check_path(m, n, k, t, true, true, path);
                    }
                }
            }
        }
    }
}

/// Uniform-window paths: several row-block dispatches with a partial last
/// one (K = 300: 48 rows per 64 KiB A window), windows reaching past a
/// caller's unpadded A (packed then), and K > 1024 (falls back to `cpu_nn`).
#[test]
fn gemm_cpu_ubo_windows() {
    for &(m, n, k) in &[(100, 37, 300), (97, 65, 1024), (33, 20, 1028), (5, 7, 1100), (300, 9, 8)] {
        for t in [NN, NT, TN] {
            for path in [GemmPath::CpuUbo2, GemmPath::CpuTex] {
                check_path(m, n, k, t, true, true, path);
                check_path(m, n, k, t, false, false, path);
            }
        }
    }
}

/// Auto path at 1024^3 (the CPU kernel on lavapipe), checked on a sample of
/// entries against the f64 oracle.
#[test]
fn gemm_1024_cubed() {
    let gpu = gpu();
    let s = 1024;
    let mut r = rng(1024);
    let a = randn(&mut r, s * s, 1.0);
    let b = randn(&mut r, s * s, 1.0);
    let bv = randn(&mut r, s, 1.0);
    let ta = gpu.upload(&a, &[s, s]);
    let tb = gpu.upload(&b, &[s, s]);
    let tbias = gpu.upload(&bv, &[s]);
    for t in [NN, NT, TN] {
        let c = gemm::gemm(&gpu, &ta, &tb, t, Some(&tbias));
        let got = gpu.read(&c);
        let mut worst = 0f64;
        for q in 0..2000usize {
            let (i, j) = ((q * 7919 + 13) % s, (q * 104_729 + 7) % s);
            let mut want = bv[j] as f64;
            for p in 0..s {
                let av = if t.ta { a[p * s + i] } else { a[i * s + p] } as f64;
                let bw = if t.tb { b[j * s + p] } else { b[p * s + j] } as f64;
                want += av * bw;
            }
            worst = worst.max((got[i * s + j] as f64 - want).abs() / (1.0 + want.abs()));
        }
        let tol = 1e-6 * (s as f64).sqrt() * 4.0;
        assert!(worst <= tol, "gemm 1024^3 {t:?}: max error {worst:.3e} > {tol:.1e}");
    }
}

/// CPU time of this process (all threads), from /proc (Linux only; 0 elsewhere).
fn cpu_secs() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        * 1e-9
}

/// `cargo test --release --test gemm -- --ignored --nocapture bench`:
/// prints GFLOP/s per variant (ADVLAB_BENCH_SIZES=256,512 to pick sizes).
/// Besides wall clock it prints a CPU-time-normalised figure (flops / CPU
/// seconds x 2 cores), which stays meaningful on a shared build machine.
#[test]
#[ignore]
fn bench_gemm_print() {
    let gpu = gpu();
    let sizes: Vec<usize> = std::env::var("ADVLAB_BENCH_SIZES")
        .map(|s| s.split(',').map(|x| x.trim().parse().unwrap()).collect())
        .unwrap_or_else(|_| vec![256, 512, 1024, 2048]);
    for s in sizes {
        let reps = ((1usize << 31) / (s * s * s)).clamp(1, 20);
        let rows = advlab::bench::gemm::bench_gemm(&gpu, &[s], reps).unwrap();
        let x = gpu.upload(&randn(&mut rng(s as u64), s * s, 1.0), &[s, s]);
        let c = gpu.alloc(&[s, s]);
        for r in &rows {
            let t = match r.variant.as_str() {
                "NN" => NN,
                "NT" => NT,
                _ => TN,
            };
            // Same loop again, timed by CPU seconds.
            gemm::gemm_into(&gpu, &x, &x, t, None, false, &c);
            gpu.sync();
            let c0 = cpu_secs();
            for _ in 0..reps {
                gemm::gemm_into(&gpu, &x, &x, t, None, false, &c);
            }
            gpu.sync();
            let cpu = (cpu_secs() - c0) / reps as f64;
            println!(
                "{:>5} {}: {:8.2} GFLOP/s wall {:10.2} ms (reps {reps}); CPU-normalised (2 cores): {:.2} GFLOP/s",
                r.size,
                r.variant,
                r.gflops,
                r.ms,
                2.0 * 2.0 * (s as f64).powi(3) / cpu / 1e9
            );
        }
        println!("{:>5} numpy: {:?} GFLOP/s", s, advlab::bench::gemm::numpy_gflops(s));
    }
}

/// Texture path past the adapter's texture size (K > 4 x 16384 texels on
/// lavapipe): falls back to the buffer kernels and stays correct; B and Aᵀ
/// too tall to split into bands (K = 16000: two bands of 64 texels would
/// exceed 16384 rows), kept whole; and a product with many row and column
/// groups (several bands of B and Aᵀ).
#[test]
fn gemm_tex_limits_and_grid() {
    for t in [NN, TN] {
        check_path(3, 5, 70_000, t, true, false, GemmPath::CpuTex);
    }
    check_path(3, 520, 16_000, NN, true, false, GemmPath::CpuTex);
    check_path(520, 3, 16_000, TN, true, false, GemmPath::CpuTex);
    check_path(3, 512, 16_000, NN, false, false, GemmPath::CpuTex);
    for t in [NN, NT, TN] {
        check_path(517, 300, 129, t, true, true, GemmPath::CpuTex);
    }
}

/// Texture path with operands copied straight into the texture layout
/// (op(x) = x with rows a multiple of 64 floats): A with M off a multiple
/// of the row tile, after a taller product of the same K left other data in
/// the texture rows past M; B with K off a multiple of 4 (packed, since its
/// padding rows must be zero).
#[test]
fn gemm_tex_copied_operands() {
    for t in [NN, NT, TN, TT] {
        for &(m, n, k) in &[(64, 64, 128), (37, 64, 128), (100, 128, 66), (5, 192, 256)] {
            check_path(m, n, k, t, true, true, GemmPath::CpuTex);
        }
    }
}

/// Plain-layout operands (A [M, K], Bᵀ [N, K]) whose rows are whole vec4s
/// but not multiples of 64 floats are copied with their rows interleaved:
/// K = 68, 100, 784; M = 37 after M = 60 of the same K, so A's texture
/// rows past M hold the older product's data.
#[test]
fn gemm_tex_row_copied_operands() {
    for t in [NN, NT] {
        for &(m, n, k) in &[(60, 48, 100), (37, 48, 100), (64, 500, 784), (10, 500, 784), (3, 20, 68)] {
            check_path(m, n, k, t, true, true, GemmPath::CpuTex);
        }
    }
}

/// Every row interleave of the plain layouts (g = 16, 8, 4, 2, 1 for K / 4
/// odd, 2, 4, 8 and 16 mod 32), with M and N on no multiple of g, so the
/// last residue classes hold fewer rows; every transpose, as A, Bᵀ, both
/// or neither are interleaved. A row put in the wrong texture row (a
/// wrong class or class height) fails the oracle.
#[test]
fn gemm_tex_interleaved_rows() {
    assert_eq!([4, 8, 16, 32, 64, 96, 784].map(advlab::gpu::row_interleave), [16, 8, 4, 2, 1, 2, 4]);
    for t in [NN, NT, TN, TT] {
        for &(m, n, k) in &[(37, 29, 4), (45, 19, 8), (33, 50, 16), (41, 23, 32), (35, 21, 96), (3, 5, 36), (1, 1, 8)] {
            check_path(m, n, k, t, true, true, GemmPath::CpuTex);
        }
    }
}

/// K = 0 asked of the texture path (which has no empty textures) falls
/// back and gives C = bias + C, the empty sum.
#[test]
fn gemm_tex_empty_inner_dimension() {
    for t in [NN, NT, TN, TT] {
        check_path(3, 5, 0, t, true, true, GemmPath::CpuTex);
    }
}

/// Threads sharing one Gpu record products of the same shape at once: the
/// texture path's scratch textures (one per shape) must not be repacked by
/// one thread between another thread's pack (or copy) and product.
#[test]
fn gemm_tex_concurrent_threads() {
    std::thread::scope(|s| {
        for thread in 0..4u64 {
            s.spawn(move || {
                let gpu = gpu();
                let mut r = rng(100 + thread);
                // packed operands, then operands copied into the textures
                for (m, n, k) in [(33, 40, 24); 10].into_iter().chain([(33, 64, 64); 10]) {
                    let a = randn(&mut r, m * k, 1.0);
                    let b = randn(&mut r, k * n, 1.0);
                    let (ta, tb) = (gpu.upload(&a, &[m, k]), gpu.upload(&b, &[k, n]));
                    let c = gpu.alloc(&[m, n]);
                    gemm::gemm_into_with(&gpu, &ta, &tb, NN, None, false, false, &c, GemmPath::CpuTex);
                    let want = gemm_oracle(&a, &b, m, n, k, false, false);
                    assert_close(&format!("thread {thread}"), &gpu.read(&c), &want, 1e-4);
                }
            });
        }
    });
}

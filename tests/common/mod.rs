//! Shared test support: one GPU for the whole test binary, a seeded RNG,
//! and f64 CPU oracles.
#![allow(dead_code)]

pub mod cli;

use std::sync::{Arc, OnceLock};

use advlab::{Gpu, GpuOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The device under test: `ADVLAB_TEST_DEVICE=gpu|cpu|auto` (default auto).
pub fn gpu() -> Arc<Gpu> {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| {
        let device = match std::env::var("ADVLAB_TEST_DEVICE").as_deref() {
            Ok("cpu") => advlab::gpu::DeviceChoice::Cpu,
            Ok("gpu") => advlab::gpu::DeviceChoice::Gpu,
            _ => advlab::gpu::DeviceChoice::Auto,
        };
        let g = Gpu::new(&GpuOptions { device, ..Default::default() }).expect("a GPU adapter for tests");
        eprintln!("tests run on {}", g.adapter_name());
        g
    })
    .clone()
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn randn(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0) * scale).collect()
}

/// max |a-b| / (1 + |b|) — relative where values are large, absolute near 0.
/// WGSL's sign(): -1, 0 or 1 (f64::signum gives 1 at +0).
pub fn sign0(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

pub fn max_rel_err(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(&x, &y)| (x as f64 - y).abs() / (1.0 + y.abs())).fold(0.0, f64::max)
}

pub fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    let e = max_rel_err(got, want);
    assert!(e <= tol, "{what}: max error {e:.3e} > {tol:.1e}");
}

/// f64 oracle: C = op(A) op(B), A [M,K] or [K,M] (ta), B [K,N] or [N,K] (tb).
pub fn gemm_oracle(a: &[f32], b: &[f32], m: usize, n: usize, k: usize, ta: bool, tb: bool) -> Vec<f64> {
    let mut c = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0f64;
            for p in 0..k {
                let av = if ta { a[p * m + i] } else { a[i * k + p] } as f64;
                let bv = if tb { b[j * k + p] } else { b[p * n + j] } as f64;
                s += av * bv;
            }
            c[i * n + j] = s;
        }
    }
    c
}

//! `advlab bench gemm`: GFLOP/s of `ops::gemm` for NN, NT and TN square
//! products, plus numpy's figure on the same machine when Python has it.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::gpu::Gpu;
use crate::ops::gemm::{self, Trans, NN, NT, TN};

#[derive(Clone, Debug, Serialize)]
pub struct GemmBench {
    /// M = N = K.
    pub size: usize,
    /// "NN", "NT" or "TN".
    pub variant: String,
    pub gflops: f64,
    /// Wall-clock milliseconds per product.
    pub ms: f64,
}

/// For each size and variant: one warm-up product (pipeline compile, pool
/// buffers), then `reps` products recorded into one submit and timed by wall
/// clock between two `gpu.sync()` calls. Includes any packing the path needs.
pub fn bench_gemm(gpu: &Arc<Gpu>, sizes: &[usize], reps: usize) -> Result<Vec<GemmBench>> {
    ensure!(reps > 0, "bench gemm: reps must be at least 1");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut out = Vec::new();
    for &s in sizes {
        ensure!(s > 0, "bench gemm: sizes must be positive");
        let data: Vec<f32> = (0..s * s).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let a = gpu.upload(&data, &[s, s]);
        let b = gpu.upload(&data, &[s, s]);
        let bias = gpu.upload(&data[..s], &[s]);
        let c = gpu.alloc(&[s, s]);
        for (name, t) in [("NN", NN), ("NT", NT), ("TN", TN)] {
            let run = |t: Trans| gemm::gemm_into(gpu, &a, &b, t, Some(&bias), false, &c);
            run(t);
            gpu.sync();
            let t0 = Instant::now();
            for _ in 0..reps {
                run(t);
            }
            gpu.sync();
            let secs = t0.elapsed().as_secs_f64() / reps as f64;
            out.push(GemmBench {
                size: s,
                variant: name.to_string(),
                gflops: 2.0 * (s as f64).powi(3) / secs / 1e9,
                ms: secs * 1e3,
            });
        }
    }
    Ok(out)
}

/// numpy's float32 `a @ b` GFLOP/s at `size`^3 on this machine (best of a
/// few runs after a warm-up), or None when python3 or numpy is missing or
/// anything else goes wrong.
pub fn numpy_gflops(size: usize) -> Option<f64> {
    if size == 0 {
        return None;
    }
    let script = format!(
        "import time, numpy as np\n\
         n = {size}\n\
         a = np.random.rand(n, n).astype(np.float32)\n\
         b = np.random.rand(n, n).astype(np.float32)\n\
         a @ b\n\
         reps = max(1, min(20, int(2e9 // (2 * n ** 3))))\n\
         best = float('inf')\n\
         for _ in range(3):\n\
         \x20   t = time.perf_counter()\n\
         \x20   for _ in range(reps): a @ b\n\
         \x20   best = min(best, (time.perf_counter() - t) / reps)\n\
         print(2 * n ** 3 / best / 1e9)\n"
    );
    let out = Command::new("python3").arg("-c").arg(script).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v: f64 = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

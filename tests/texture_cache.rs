//! The per-tensor texture cache (src/gpu/texcache.rs): a tensor's texture
//! copy is reused while the tensor is unwritten, and every write path
//! (host write, buffer copy, clear, a dispatch writing it, the optimiser,
//! a write through a reshaped alias, a recycled pool buffer) makes the
//! next reader see the new contents. A path that forgot to renew the write
//! version would leave a stale copy: the products below would then return
//! the old weights' result and fail against the f64 oracle.

mod common;

use std::sync::Arc;

use advlab::ops::elementwise as ew;
use advlab::ops::gemm::{gemm, Trans, NN, NT, TN};
use advlab::ops::optim;
use advlab::{Gpu, Tensor};
use common::{assert_close, gemm_oracle, randn, rng};

/// C = op(A) op(W) against the oracle on the host copies.
#[allow(clippy::too_many_arguments)]
fn check(
    gpu: &Arc<Gpu>,
    a: &Tensor,
    w: &Tensor,
    ah: &[f32],
    wh: &[f32],
    t: Trans,
    mnk: (usize, usize, usize),
    what: &str,
) {
    let (m, n, k) = mnk;
    let c = gemm(gpu, a, w, t, None);
    assert_close(what, &gpu.read(&c), &gemm_oracle(ah, wh, m, n, k, t.ta, t.tb), 1e-4);
    // a kernel that reads w through its linear texture copy
    let r = ew::relu(gpu, w);
    let want: Vec<f64> = wh.iter().map(|&v| v.max(0.0) as f64).collect();
    assert_close(&format!("{what} (relu)"), &gpu.read(&r), &want, 0.0);
}

fn every_write_path(t: Trans, m: usize, n: usize, k: usize) {
    let gpu = common::gpu();
    let mut r = rng(11 + k as u64);
    let ah = randn(&mut r, m * k, 1.0);
    let a_shape = if t.ta { [k, m] } else { [m, k] };
    let w_shape = if t.tb { [n, k] } else { [k, n] };
    let a = gpu.upload(&ah, &a_shape);
    let mut wh = randn(&mut r, n * k, 1.0);
    let w = gpu.upload(&wh, &w_shape);
    let tag = format!("{t:?} {m}x{n}x{k}");
    check(&gpu, &a, &w, &ah, &wh, t, (m, n, k), &format!("{tag}: first product"));
    // unwritten: the copy is reused (else this test could not fail)
    let before = gpu.texture_cache_stats();
    check(&gpu, &a, &w, &ah, &wh, t, (m, n, k), &format!("{tag}: second product"));
    if std::env::var("ADVLAB_TEXTURE_CACHE").is_err() && gpu.is_cpu() {
        assert!(gpu.texture_cache_stats().hits > before.hits, "{tag}: nothing was reused");
    }

    // host write
    wh = randn(&mut r, n * k, 1.0);
    gpu.write(&w, bytemuck::cast_slice(&wh));
    check(&gpu, &a, &w, &ah, &wh, t, (m, n, k), &format!("{tag}: after Gpu::write"));

    // buffer-to-buffer copy
    wh = randn(&mut r, n * k, 1.0);
    let src = gpu.upload(&wh, &w_shape);
    gpu.copy(&src, &w);
    check(&gpu, &a, &w, &ah, &wh, t, (m, n, k), &format!("{tag}: after Gpu::copy"));

    // a dispatch writing it (w += 0.5 x)
    let xh = randn(&mut r, n * k, 1.0);
    let x = gpu.upload(&xh, &w_shape);
    ew::axpy(&gpu, 0.5, &x, &w);
    wh.iter_mut().zip(&xh).for_each(|(w, x)| *w += 0.5 * x);
    check(&gpu, &a, &w, &ah, &wh, t, (m, n, k), &format!("{tag}: after axpy"));

    // the optimiser (plain SGD: w -= 0.1 g)
    let gh = randn(&mut r, n * k, 1.0);
    let g = gpu.upload(&gh, &w_shape);
    let mom = gpu.zeros(&w_shape);
    optim::sgd(&gpu, &w, &g, &mom, 0.1, 0.0, 0.0);
    wh.iter_mut().zip(&gh).for_each(|(w, g)| *w -= 0.1 * g);
    check(&gpu, &a, &w, &ah, &wh, t, (m, n, k), &format!("{tag}: after sgd"));

    // a write through a reshaped alias of the same buffer
    let alias = w.reshape(&[n * k]);
    ew::axpy(&gpu, -2.0, &x.reshape(&[n * k]), &alias);
    wh.iter_mut().zip(&xh).for_each(|(w, x)| *w -= 2.0 * x);
    check(&gpu, &a, &w, &ah, &wh, t, (m, n, k), &format!("{tag}: after a write through an alias"));

    // clear
    gpu.clear(&w);
    wh.iter_mut().for_each(|w| *w = 0.0);
    check(&gpu, &a, &w, &ah, &wh, t, (m, n, k), &format!("{tag}: after Gpu::clear"));

    // a buffer back from the pool (likely w's), filled by dispatches
    drop((w, alias, x, g, mom, src));
    let wh2 = randn(&mut r, n * k, 1.0);
    let w2 = gpu.alloc(&w_shape);
    gpu.clear(&w2);
    ew::axpy(&gpu, 1.0, &gpu.upload(&wh2, &w_shape), &w2);
    check(&gpu, &a, &w2, &ah, &wh2, t, (m, n, k), &format!("{tag}: a recycled buffer"));
}

/// Shapes that take each way into a texture: whole 256-byte rows (copy),
/// rows of whole vec4s (one copy per row), ragged rows (the pack pass).
#[test]
fn every_write_path_invalidates_the_copy() {
    // the last: w above optim's small-tensor limit (`sgd` reads textures)
    for (m, n, k) in [(64, 64, 128), (40, 36, 100), (33, 10, 30), (16, 160, 132)] {
        for t in [NN, NT, TN] {
            every_write_path(t, m, n, k);
        }
    }
}

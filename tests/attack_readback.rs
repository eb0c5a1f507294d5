//! Attack loops stay on the device: no read-back (a flush and a wait for
//! the host) inside the iterations, only at C&W's abort-early checks,
//! every iters/10 steps. Counted with `Gpu::readbacks` on a device of this
//! test's own, so other tests' reads do not mix in.

use std::sync::Arc;

use advlab::attack::cw::{cw_batch, AbortScope, CwConfig};
use advlab::attack::fgsm::{pgd_batch, PgdConfig};
use advlab::nn::{Arch, Model};
use advlab::{Gpu, GpuOptions};
use rand::{Rng, SeedableRng};

fn setup() -> (Arc<Gpu>, Model, advlab::Tensor, advlab::Tensor) {
    let gpu = Gpu::new(&GpuOptions::default()).expect("a GPU adapter");
    let model = Model::init(&gpu, Arch::parse("mlp:784-32-10").unwrap(), 1);
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let b = 6;
    let x: Vec<f32> = (0..b * 784).map(|_| r.random_range(0.0f32..1.0)).collect();
    let y: Vec<u32> = (0..b).map(|i| (i % 10) as u32).collect();
    let (x, y) = (gpu.upload(&x, &[b, 1, 28, 28]), gpu.upload_u32(&y, &[b]));
    gpu.sync();
    (gpu, model, x, y)
}

/// Read-backs and submits of one `f()`.
fn count(gpu: &Gpu, f: impl FnOnce()) -> (u64, u64) {
    let (r0, s0) = (gpu.readbacks(), gpu.submits());
    f();
    gpu.sync();
    (gpu.readbacks() - r0, gpu.submits() - s0)
}

#[test]
fn cw_reads_back_only_at_its_abort_checks() {
    let (gpu, model, x, y) = setup();
    let cw = |iters, abort_early, scope| {
        let cfg = CwConfig { iters, binary_steps: 1, abort_early, abort_scope: scope, ..CwConfig::default() };
        count(&gpu, || drop(cw_batch(&gpu, &model, &x, &y, true, &cfg)))
    };
    // without abort-early the loop reads nothing: 10 and 40 steps read the same
    let (r10, s10) = cw(10, false, AbortScope::Image);
    let (r40, s40) = cw(40, false, AbortScope::Image);
    assert_eq!(r10, r40, "C&W read back inside its loop (10 steps: {r10} reads, 40: {r40})");
    assert_eq!(s10, s40, "C&W submitted inside its loop (10 steps: {s10} submits, 40: {s40})");
    // with it, at most one read per check (steps 0, 4, 8, ... of 40: 10 checks)
    for scope in [AbortScope::Image, AbortScope::Batch] {
        let (ra, sa) = cw(40, true, scope);
        assert!(ra <= r40 + 10, "{scope:?}: {ra} reads for 10 abort checks (no-abort run: {r40})");
        assert!(sa <= s40 + 10, "{scope:?}: {sa} submits for 10 abort checks (no-abort run: {s40})");
    }
}

#[test]
fn pgd_reads_nothing_inside_its_loop() {
    let (gpu, model, x, y) = setup();
    let pgd = |iters| {
        let cfg = PgdConfig { iters, random_start: false, ..PgdConfig::default() };
        count(&gpu, || drop(pgd_batch(&gpu, &model, &x, &y, false, &cfg, None)))
    };
    let (r5, s5) = pgd(5);
    let (r30, s30) = pgd(30);
    assert_eq!((r5, s5), (r30, s30), "PGD came back to the host inside its loop");
}

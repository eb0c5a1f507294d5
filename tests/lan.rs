//! The LAN loss of SPEC §5 against an f64 oracle: its value (both L_F
//! kinds) and its gradient with respect to the mask network's parameters
//! (central finite differences of the oracle); the objective's noise is
//! seeded; the detector refuses mismatched shapes.

mod common;

use advlab::autograd::Graph;
use advlab::data::Dataset;
use advlab::detect::detector::Detector;
use advlab::detect::lan::{self, LanLoss, LossKind};
use advlab::detect::noise::{Noise, NoiseKind};
use advlab::nn::fit::Batch;
use advlab::nn::{Arch, Model};
use common::*;

const B: usize = 3;
const D: usize = 6;

/// Host copies of an MLP's (weight [out, in], bias) pairs, f64.
fn layers(gpu: &advlab::Gpu, m: &Model) -> Vec<(Vec<f64>, Vec<f64>, usize, usize)> {
    m.params
        .chunks(2)
        .map(|wb| {
            let s = wb[0].tensor.shape();
            let w = gpu.read(&wb[0].tensor).iter().map(|&v| v as f64).collect();
            let b = gpu.read(&wb[1].tensor).iter().map(|&v| v as f64).collect();
            (w, b, s[0], s[1])
        })
        .collect()
}

/// x W1ᵀ + b1, ReLU, ..., last linear; `sigmoid` on the output.
fn mlp(ls: &[(Vec<f64>, Vec<f64>, usize, usize)], x: &[f64], sigmoid: bool) -> Vec<f64> {
    let mut h = x.to_vec();
    for (li, (w, b, o, i)) in ls.iter().enumerate() {
        let mut y: Vec<f64> = (0..*o).map(|r| b[r] + (0..*i).map(|c| w[r * i + c] * h[c]).sum::<f64>()).collect();
        if li + 1 < ls.len() {
            y.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        h = y;
    }
    if sigmoid {
        h.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp()));
    }
    h
}

fn log_softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::MIN, f64::max);
    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    z.iter().map(|v| v - lse).collect()
}

/// The oracle: mean_b L_F − β·mean A.
fn oracle(
    g: &[(Vec<f64>, Vec<f64>, usize, usize)],
    f1: &[(Vec<f64>, Vec<f64>, usize, usize)],
    x: &[f64],
    eta: &[f64],
    cfg: &LanLoss,
) -> f64 {
    let (lf, mean_a) = oracle_terms(g, f1, x, eta, cfg);
    lf - cfg.beta as f64 * mean_a
}

/// (mean_b L_F, mean A).
fn oracle_terms(
    g: &[(Vec<f64>, Vec<f64>, usize, usize)],
    f1: &[(Vec<f64>, Vec<f64>, usize, usize)],
    x: &[f64],
    eta: &[f64],
    cfg: &LanLoss,
) -> (f64, f64) {
    let (mut lf, mut asum) = (0.0, 0.0);
    for b in 0..B {
        let xb = &x[b * D..(b + 1) * D];
        let a = mlp(g, xb, true);
        asum += a.iter().sum::<f64>();
        let xt: Vec<f64> = (0..D).map(|k| a[k] * eta[b * D + k] + (1.0 - a[k]) * xb[k]).collect();
        let (z, z0) = (mlp(f1, &xt, false), mlp(f1, xb, false));
        lf += match cfg.loss {
            LossKind::Xent => {
                let p: Vec<f64> = log_softmax(&z0).iter().map(|v| v.exp()).collect();
                -p.iter().zip(log_softmax(&z)).map(|(p, l)| p * l).sum::<f64>()
            }
            LossKind::Mse => z.iter().zip(&z0).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / z.len() as f64,
        };
    }
    (lf / B as f64, asum / (B * D) as f64)
}

/// A random MLP with every parameter scaled by `k` (logits that differ
/// clearly between x and x̃, so L_F is not negligible beside β·mean A).
fn scaled(gpu: &std::sync::Arc<advlab::Gpu>, spec: &str, seed: u64, k: f32) -> Model {
    let m = Model::init(gpu, Arch::parse(spec).unwrap(), seed);
    let params = m
        .params
        .iter()
        .map(|p| {
            let v: Vec<f32> = gpu.read(&p.tensor).iter().map(|x| x * k).collect();
            advlab::nn::model::Param { name: p.name.clone(), tensor: gpu.upload(&v, p.tensor.shape()) }
        })
        .collect();
    Model::from_params(gpu, m.arch, params)
}

#[test]
fn lan_loss_and_gradient_match_an_f64_oracle() {
    let gpu = gpu();
    let g_model = scaled(&gpu, "mask:1x1x6-5", 3, 2.0);
    let f1 = scaled(&gpu, "mlp:6-7-4", 4, 4.0);
    let mut r = rng(5);
    let x: Vec<f32> = randn(&mut r, B * D, 0.5).iter().map(|v| v + 0.5).collect();
    let eta: Vec<f32> = randn(&mut r, B * D, 0.5).iter().map(|v| v + 0.5).collect();
    let (x64, eta64): (Vec<f64>, Vec<f64>) =
        (x.iter().map(|&v| v as f64).collect(), eta.iter().map(|&v| v as f64).collect());
    let fl = layers(&gpu, &f1);
    for (kind, beta) in [(LossKind::Xent, 0.7f32), (LossKind::Mse, 2.0), (LossKind::Xent, 0.0), (LossKind::Mse, 0.0)] {
        let cfg = LanLoss::new(beta, kind).unwrap();
        let mut g = Graph::new(&gpu);
        let params = g_model.bind(&mut g, true);
        let xt = gpu.upload(&x, &[B, 1, 1, D]);
        let et = gpu.upload(&eta, &[B, 1, 1, D]);
        let t = lan::lan_loss(&mut g, &params, &g_model, &f1, &xt, &et, &cfg);
        let got = gpu.read(g.value(t.loss))[0] as f64;
        let gl = layers(&gpu, &g_model);
        let want = oracle(&gl, &fl, &x64, &eta64, &cfg);
        let (lf, ma) = oracle_terms(&gl, &fl, &x64, &eta64, &cfg);
        let (got_lf, got_ma) = (gpu.read(g.value(t.l_f))[0] as f64, gpu.read(g.value(t.mean_a))[0] as f64);
        assert!(lf > 0.01, "{kind:?}: L_F {lf} too small to test");
        assert!((got_lf - lf).abs() < 1e-4 * lf, "{kind:?}: L_F {got_lf} vs oracle {lf}");
        assert!((got_ma - ma).abs() < 1e-6, "{kind:?}: mean A {got_ma} vs oracle {ma}");
        assert!((got - want).abs() < 1e-5 * (1.0 + want.abs()), "{kind:?} β {beta}: loss {got} vs oracle {want}");
        // gradient w.r.t. every LAN parameter: tape vs central differences of the oracle
        let mut grads = g.backward(t.loss, None);
        let h = 1e-5;
        let mut worst = 0.0f64;
        for (pi, &pv) in params.iter().enumerate() {
            let tape = gpu.read(&grads.take(pv).expect("a gradient for every LAN parameter"));
            for (j, &tj) in tape.iter().enumerate() {
                let mut plus = gl.clone();
                let mut minus = gl.clone();
                let (l, which) = (pi / 2, pi % 2);
                if which == 0 {
                    plus[l].0[j] += h;
                    minus[l].0[j] -= h;
                } else {
                    plus[l].1[j] += h;
                    minus[l].1[j] -= h;
                }
                let fd = (oracle(&plus, &fl, &x64, &eta64, &cfg) - oracle(&minus, &fl, &x64, &eta64, &cfg)) / (2.0 * h);
                worst = worst.max((tj as f64 - fd).abs() / (1e-3 + fd.abs()).max(0.05));
            }
        }
        assert!(worst < 2e-3, "{kind:?} β {beta}: gradient error {worst}");
    }
}

/// β only shifts the loss by −β·mean A: the L_F term does not depend on it.
#[test]
fn beta_enters_as_minus_beta_times_mean_mask() {
    let gpu = gpu();
    let g_model = Model::init(&gpu, Arch::parse("mask:1x1x6-5").unwrap(), 8);
    let f1 = Model::init(&gpu, Arch::parse("mlp:6-7-4").unwrap(), 9);
    let x = gpu.upload(&[0.2; B * D], &[B, 1, 1, D]);
    let eta = gpu.upload(&[0.9; B * D], &[B, 1, 1, D]);
    let terms = |beta: f32| {
        let mut g = Graph::new(&gpu);
        let p = g_model.bind(&mut g, false);
        let t = lan::lan_loss(&mut g, &p, &g_model, &f1, &x, &eta, &LanLoss::new(beta, LossKind::Xent).unwrap());
        [t.loss, t.l_f, t.mean_a].map(|v| gpu.read(g.value(v))[0] as f64)
    };
    let (a, b) = (terms(0.0), terms(3.0));
    assert_eq!(a[1], b[1]);
    assert!((b[0] - (a[0] - 3.0 * a[2])).abs() < 1e-6, "{a:?} {b:?}");
    assert!(LanLoss::new(-0.1, LossKind::Xent).is_err());
    assert!(LanLoss::new(f32::NAN, LossKind::Xent).is_err());
}

type Obj<'a> = dyn FnMut(&mut Graph, &[advlab::autograd::Var], &Batch) -> anyhow::Result<advlab::nn::fit::StepOut> + 'a;

/// The objective draws its noise from the batch seed: same seed, same loss.
#[test]
fn objective_noise_follows_the_step_seed() {
    let gpu = gpu();
    let g_model = Model::init(&gpu, Arch::parse("mask:1x1x6-5").unwrap(), 1);
    let f1 = Model::init(&gpu, Arch::parse("mlp:6-7-4").unwrap(), 2);
    let pool = Dataset::new((0..8 * D).map(|i| (i % 7) as f32 / 7.0).collect(), vec![0; 8], 1, 1, D).unwrap();
    let noise = Noise::new(NoiseKind::Marginal, &pool).unwrap();
    let mut obj = lan::lan_objective(&g_model, &f1, noise, LanLoss::new(1.0, LossKind::Xent).unwrap(), None);
    // the same objective with f1's clean logits precomputed by image index
    let clean = lan::clean_logits(&gpu, &f1, &pool, 3);
    let mut obj_pre =
        lan::lan_objective(&g_model, &f1, noise, LanLoss::new(1.0, LossKind::Xent).unwrap(), Some(&clean));
    let loss = |obj: &mut Obj, seed| {
        let b = Batch {
            x: gpu.upload(&pool.images[..B * D], &[B, 1, 1, D]),
            labels: gpu.upload_u32(&[0; B], &[B]),
            index: &[0, 1, 2],
            epoch: 0,
            step: 0,
            seed,
        };
        let mut g = Graph::new(&gpu);
        let p = g_model.bind(&mut g, true);
        let out: advlab::nn::fit::StepOut = obj(&mut g, &p, &b).unwrap();
        gpu.read(g.value(out.loss))[0]
    };
    let (a, b, c) = (loss(&mut obj, 5), loss(&mut obj, 5), loss(&mut obj, 6));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let pre = loss(&mut obj_pre, 5);
    assert!((pre - a).abs() <= 1e-6 * a.abs().max(1.0), "precomputed clean logits: {pre} vs {a}");
}

#[test]
fn detector_refuses_mismatched_shapes() {
    let gpu = gpu();
    let f1 = || Model::init(&gpu, Arch::parse("mlp:784-8-10").unwrap(), 1);
    let lan_ok = || Model::init(&gpu, Arch::parse("mask:1x28x28-4").unwrap(), 1);
    let f2_ok = || Model::init(&gpu, Arch::parse("lenet").unwrap(), 1);
    assert!(Detector::new(f1(), lan_ok(), f2_ok()).is_ok());
    let e = Detector::new(f1(), Model::init(&gpu, Arch::parse("mask:3x32x32-4").unwrap(), 1), f2_ok()).err().unwrap();
    assert!(format!("{e:#}").contains("masks"), "{e:#}");
    let e = Detector::new(f1(), lan_ok(), Model::init(&gpu, Arch::parse("lenet:3x32x32").unwrap(), 1)).err().unwrap();
    assert!(format!("{e:#}").contains("--f2"), "{e:#}");
    let e = Detector::new(f1(), lan_ok(), Model::init(&gpu, Arch::parse("mlp:784-3").unwrap(), 1)).err().unwrap();
    assert!(format!("{e:#}").contains("classes"), "{e:#}");
}

/// mean A over a batch of CIFAR-sized masks (more than 65,535 values, where
/// a single-loop sum on llvmpipe stops counting) equals the host's mean.
#[test]
fn mean_mask_counts_every_value_of_a_large_batch() {
    let gpu = gpu();
    let g_model = Model::init(&gpu, Arch::parse("mask:3x32x32-4").unwrap(), 2);
    let f1 = Model::init(&gpu, Arch::parse("mlp:3072-4-10").unwrap(), 3);
    let n = 70;
    let mut r = rng(1);
    let x: Vec<f32> = randn(&mut r, n * 3072, 0.5).iter().map(|v| v + 0.5).collect();
    let (xt, et) = (gpu.upload(&x, &[n, 3, 32, 32]), gpu.upload(&x, &[n, 3, 32, 32]));
    let mut g = Graph::new(&gpu);
    let p = g_model.bind(&mut g, true);
    let t = lan::lan_loss(&mut g, &p, &g_model, &f1, &xt, &et, &LanLoss::new(1.0, LossKind::Xent).unwrap());
    let a = gpu.read(g.value(t.a));
    let want = a.iter().map(|&v| v as f64).sum::<f64>() / a.len() as f64;
    let got = gpu.read(g.value(t.mean_a))[0] as f64;
    assert!((got - want).abs() < 1e-5, "mean A {got} vs host {want} over {} values", a.len());
}

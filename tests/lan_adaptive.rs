//! The adaptive attacker's objective (src/detect/adaptive.rs) against an
//! f64 oracle on tiny networks: its value, and its gradient with respect to
//! the image against central finite differences of the oracle; and a run
//! that must fool f1 more often than not on an easy toy problem.

mod common;

use advlab::detect::adaptive::{self, AdaptiveConfig};
use advlab::nn::{Arch, Model};
use common::*;

type Layers = Vec<(Vec<f64>, Vec<f64>, usize, usize)>;

fn layers(gpu: &advlab::Gpu, m: &Model) -> Layers {
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

fn mlp(ls: &Layers, x: &[f64], sigmoid: bool) -> Vec<f64> {
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

fn argmax_except(r: &[f64], skip: usize) -> usize {
    (0..r.len()).filter(|&j| j != skip).fold(usize::MAX, |b, j| if b == usize::MAX || r[j] > r[b] { j } else { b })
}

/// L(x') for one image, f64.
#[allow(clippy::too_many_arguments)]
fn oracle(f1: &Layers, g: &Layers, f2: &Layers, xp: &[f64], x0: &[f64], y: usize, c: f64, kappa: f64) -> f64 {
    let z1 = mlp(f1, xp, false);
    let z2 = mlp(f2, &mlp(g, xp, true), false);
    let t = argmax_except(&z1, y);
    let j = argmax_except(&z2, t);
    let l2: f64 = xp.iter().zip(x0).map(|(a, b)| (a - b) * (a - b)).sum();
    l2 + c * ((z1[y] - z1[t] + kappa).max(0.0) + (z2[j] - z2[t] + kappa).max(0.0))
}

#[test]
fn objective_and_input_gradient_match_an_f64_oracle() {
    let gpu = gpu();
    const D: usize = 6;
    let f1 = Model::init(&gpu, Arch::parse("mlp:6-7-4").unwrap(), 1);
    let lan = Model::init(&gpu, Arch::parse("mask:1x1x6-5").unwrap(), 2);
    let f2 = Model::init(&gpu, Arch::parse("mlp:6-5-4").unwrap(), 3);
    let (l1, lg, l2) = (layers(&gpu, &f1), layers(&gpu, &lan), layers(&gpu, &f2));
    let x0: Vec<f32> = (0..3 * D).map(|i| ((i * 7 + 3) % 11) as f32 / 11.0).collect();
    let xp: Vec<f32> =
        x0.iter().enumerate().map(|(i, v)| (v + 0.05 * ((i % 5) as f32 - 2.0)).clamp(0.0, 1.0)).collect();
    let y = [0u32, 2, 3];
    // κ large keeps both margin terms active; κ = 0 may switch some off
    for (c, kappa) in [(0.7f64, 5.0f32), (2.0, 0.0)] {
        let ev = adaptive::objective(&gpu, &f1, &lan, &f2, &xp, &x0, &y, c, kappa);
        for e in 0..3 {
            let xs: Vec<f64> = xp[e * D..(e + 1) * D].iter().map(|&v| v as f64).collect();
            let x0s: Vec<f64> = x0[e * D..(e + 1) * D].iter().map(|&v| v as f64).collect();
            let yi = y[e] as usize;
            let want = oracle(&l1, &lg, &l2, &xs, &x0s, yi, c, kappa as f64);
            assert!((ev.loss[e] - want).abs() < 1e-4 * want.abs().max(1.0), "loss {e}: {} vs {want}", ev.loss[e]);
            for i in 0..D {
                let h = 1e-5;
                let (mut a, mut b) = (xs.clone(), xs.clone());
                a[i] += h;
                b[i] -= h;
                let fd = (oracle(&l1, &lg, &l2, &a, &x0s, yi, c, kappa as f64)
                    - oracle(&l1, &lg, &l2, &b, &x0s, yi, c, kappa as f64))
                    / (2.0 * h);
                let got = ev.grad[e * D + i] as f64;
                assert!(
                    (got - fd).abs() < 1e-3 * fd.abs().max(1.0),
                    "c {c} κ {kappa} image {e} pixel {i}: {got} vs {fd}"
                );
            }
        }
    }
    // the f2 term matters: zero c removes everything but 2(x' − x0)
    let ev = adaptive::objective(&gpu, &f1, &lan, &f2, &xp, &x0, &y, 1e-12, 5.0);
    for i in 0..3 * D {
        assert!((ev.grad[i] - 2.0 * (xp[i] - x0[i])).abs() < 1e-6);
    }
}

#[test]
fn the_attack_fools_f1_and_reports_what_it_kept() {
    let gpu = gpu();
    // weights ×6 and no biases, so the classes change within the pixel box
    // (a fresh tiny MLP is bias-dominated there and nothing could fool it)
    let scaled = |spec: &str, seed: u64| {
        let m = Model::init(&gpu, Arch::parse(spec).unwrap(), seed);
        let params = m
            .params
            .iter()
            .map(|p| {
                let k = if p.tensor.shape().len() == 1 { 0.0 } else { 6.0 };
                let v: Vec<f32> = gpu.read(&p.tensor).iter().map(|w| k * w).collect();
                advlab::nn::model::Param { name: p.name.clone(), tensor: gpu.upload(&v, p.tensor.shape()) }
            })
            .collect();
        Model::from_params(&gpu, m.arch.clone(), params)
    };
    let f1 = scaled("mlp:6-16-4", 4);
    let lan = Model::init(&gpu, Arch::parse("mask:1x1x6-8").unwrap(), 5);
    let f2 = scaled("mlp:6-8-4", 6);
    let x: Vec<f32> = (0..8 * 6).map(|i| ((i * 5 + 1) % 13) as f32 / 13.0).collect();
    let z = advlab::attack::argmax_rows(&gpu.read(&f1.logits(&gpu, &gpu.upload(&x, &[8, 1, 1, 6]))), 4);
    let idx: Vec<usize> = (10..18).collect();
    let cfg = AdaptiveConfig { cs: vec![1.0, 100.0], iters: 200, lr: 0.05, kappa: 0.0 };
    let (adv, res) = adaptive::run(&gpu, &f1, &lan, &f2, &x, &z, &idx, &cfg, 3).unwrap();
    assert_eq!(res.len(), 8);
    let za = advlab::attack::argmax_rows(&gpu.read(&f1.logits(&gpu, &gpu.upload(&adv, &[8, 1, 1, 6]))), 4);
    let zb = advlab::attack::argmax_rows(
        &gpu.read(&f2.logits(&gpu, &lan.logits(&gpu, &gpu.upload(&adv, &[8, 1, 1, 6])))),
        4,
    );
    let mut fooled = 0;
    for (e, r) in res.iter().enumerate() {
        assert_eq!(r.index, idx[e]);
        assert_eq!(r.fools_f1, za[e] != z[e], "image {e}: the record must describe the returned x*");
        assert_eq!(r.evades, r.fools_f1 && za[e] == zb[e]);
        assert!(adv[e * 6..(e + 1) * 6].iter().all(|v| (0.0..=1.0).contains(v)));
        fooled += r.fools_f1 as usize;
    }
    assert!(fooled >= 5, "only {fooled}/8 fooled f1");
    let bad = AdaptiveConfig { cs: vec![], ..cfg.clone() };
    assert!(adaptive::run(&gpu, &f1, &lan, &f2, &x, &z, &idx, &bad, 3).is_err());
}

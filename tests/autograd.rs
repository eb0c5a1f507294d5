//! The tape on a small composite function: gradients w.r.t. parameters and
//! input against central finite differences of an f64 CPU oracle.

mod common;

use advlab::autograd::Graph;
use common::*;

/// f64 oracle of
///   h = tanh(x W1ᵀ + b1) * sigmoid(x W1ᵀ + b1) + 2 relu(x W1ᵀ + b1)
///   (one relu through `relu`, one through the fused `linear_relu`)
///   z = h W2ᵀ + b2;  loss = mean(xent(z, y)) + 0.5 * sum(x)
fn oracle(
    x: &[f64],
    w1: &[f64],
    b1: &[f64],
    w2: &[f64],
    b2: &[f64],
    y: &[u32],
    (n, d, h, k): (usize, usize, usize, usize),
) -> f64 {
    let mut loss = 0.0;
    for i in 0..n {
        let mut hv = vec![0.0; h];
        for j in 0..h {
            let mut s = b1[j];
            for p in 0..d {
                s += x[i * d + p] * w1[j * d + p];
            }
            hv[j] = s.tanh() * (1.0 / (1.0 + (-s).exp())) + 2.0 * s.max(0.0);
        }
        let mut z = vec![0.0; k];
        for c in 0..k {
            z[c] = b2[c] + (0..h).map(|j| hv[j] * w2[c * h + j]).sum::<f64>();
        }
        let m = z.iter().cloned().fold(f64::MIN, f64::max);
        let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        loss += (lse - z[y[i] as usize]) / n as f64;
    }
    loss + 0.5 * x.iter().sum::<f64>()
}

#[test]
fn composite_gradients_match_finite_differences() {
    let gpu = gpu();
    let (n, d, h, k) = (3, 7, 5, 4);
    let mut r = rng(42);
    let x = randn(&mut r, n * d, 1.0);
    let w1 = randn(&mut r, h * d, 0.7);
    let b1 = randn(&mut r, h, 0.3);
    let w2 = randn(&mut r, k * h, 0.7);
    let b2 = randn(&mut r, k, 0.3);
    let y = vec![0u32, 3, 1];

    let mut g = Graph::new(&gpu);
    let xv = g.leaf(gpu.upload(&x, &[n, d]), true);
    let w1v = g.leaf(gpu.upload(&w1, &[h, d]), true);
    let b1v = g.leaf(gpu.upload(&b1, &[h]), true);
    let w2v = g.leaf(gpu.upload(&w2, &[k, h]), true);
    let b2v = g.leaf(gpu.upload(&b2, &[k]), true);
    let pre = g.linear(xv, w1v, b1v);
    let t = g.tanh(pre);
    let s = g.sigmoid(pre);
    let ts = g.mul(t, s);
    let rl = g.relu(pre);
    let rl_fused = g.linear_relu(xv, w1v, b1v);
    let ts_rl = g.add(ts, rl);
    let hv = g.add(ts_rl, rl_fused);
    let z = g.linear(hv, w2v, b2v);
    let labels = gpu.upload_u32(&y, &[n]);
    let xe = g.softmax_xent(z, &labels);
    let l1 = g.mean(xe);
    let l2 = g.sum(xv, 0.5);
    let loss = g.add(l1, l2);

    let f = |v: &[Vec<f64>]| oracle(&v[0], &v[1], &v[2], &v[3], &v[4], &y, (n, d, h, k));
    let base: Vec<Vec<f64>> = [&x, &w1, &b1, &w2, &b2].iter().map(|v| v.iter().map(|&a| a as f64).collect()).collect();
    let got_loss = gpu.read(g.value(loss))[0] as f64;
    assert!((got_loss - f(&base)).abs() < 1e-5, "loss {got_loss} vs {}", f(&base));

    let grads = g.backward(loss, None);
    for (idx, (name, var)) in [("x", xv), ("W1", w1v), ("b1", b1v), ("W2", w2v), ("b2", b2v)].into_iter().enumerate() {
        let got = gpu.read(grads.get(var).unwrap_or_else(|| panic!("no gradient for {name}")));
        let mut fd = vec![0.0; base[idx].len()];
        for (j, fdj) in fd.iter_mut().enumerate() {
            let eps = 1e-6;
            let mut p = base.clone();
            p[idx][j] += eps;
            let mut m = base.clone();
            m[idx][j] -= eps;
            *fdj = (f(&p) - f(&m)) / (2.0 * eps);
        }
        assert_close(&format!("d loss / d {name}"), &got, &fd, 2e-4);
    }
}

#[test]
fn no_gradient_flows_to_constants() {
    let gpu = gpu();
    let mut g = Graph::new(&gpu);
    let a = g.leaf(gpu.upload(&[1.0, 2.0], &[2]), false);
    let b = g.leaf(gpu.upload(&[3.0, 4.0], &[2]), true);
    let c = g.mul(a, b);
    let s = g.sum(c, 1.0);
    let grads = g.backward(s, None);
    assert!(grads.get(a).is_none());
    assert_eq!(gpu.read(grads.get(b).unwrap()), vec![1.0, 2.0]);
}

/// Central differences of an f64 function at `x`.
fn finite_diff(f: &dyn Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|j| {
            let eps = 1e-6;
            let (mut p, mut m) = (x.to_vec(), x.to_vec());
            p[j] += eps;
            m[j] -= eps;
            (f(&p) - f(&m)) / (2.0 * eps)
        })
        .collect()
}

/// f64 oracle of soft-target cross-entropy, summed over rows with weights `w`.
fn soft_xent_oracle(z: &[f64], q: &[f64], w: &[f64], k: usize) -> f64 {
    z.chunks(k)
        .zip(q.chunks(k))
        .zip(w)
        .map(|((zr, qr), wr)| {
            let m = zr.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + zr.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            wr * zr.iter().zip(qr).map(|(zv, qv)| qv * (lse - zv)).sum::<f64>()
        })
        .sum()
}

#[test]
fn soft_target_xent_matches_oracle_and_finite_differences() {
    let gpu = gpu();
    for (b, k, seed) in [(5, 10, 1), (3, 7, 2), (1, 1, 3), (70, 13, 4)] {
        let mut r = rng(seed);
        let z = randn(&mut r, b * k, 3.0);
        // rows of probabilities, except the last row: arbitrary non-negative weights
        let mut q: Vec<f32> = randn(&mut r, b * k, 1.0).iter().map(|v| v.abs() + 0.01).collect();
        for (i, row) in q.chunks_mut(k).enumerate() {
            let s: f32 = row.iter().sum();
            if i + 1 < b || b == 1 {
                row.iter_mut().for_each(|v| *v /= s);
            }
        }
        let w = randn(&mut r, b, 1.0); // backward seed: per-row weights
        let mut g = Graph::new(&gpu);
        let zv = g.leaf(gpu.upload(&z, &[b, k]), true);
        let qt = gpu.upload(&q, &[b, k]);
        let loss = g.softmax_xent_soft(zv, &qt);
        let (z64, q64, w64): (Vec<f64>, Vec<f64>, Vec<f64>) = (
            z.iter().map(|&v| v as f64).collect(),
            q.iter().map(|&v| v as f64).collect(),
            w.iter().map(|&v| v as f64).collect(),
        );
        let per_row: Vec<f64> =
            (0..b).map(|i| soft_xent_oracle(&z64[i * k..(i + 1) * k], &q64[i * k..(i + 1) * k], &[1.0], k)).collect();
        assert_close(&format!("soft xent {b}x{k}"), &gpu.read(g.value(loss)), &per_row, 1e-5);
        let grads = g.backward(loss, Some(gpu.upload(&w, &[b])));
        let fd = finite_diff(&|zz| soft_xent_oracle(zz, &q64, &w64, k), &z64);
        assert_close(&format!("d soft xent / dz {b}x{k}"), &gpu.read(grads.get(zv).unwrap()), &fd, 1e-4);
    }
    // the softmax helper
    let z = [1.0f32, 2.0, 3.0, -1.0, 0.0, 1.0];
    let p = gpu.read(&advlab::ops::softmax_xent::softmax(&gpu, &gpu.upload(&z, &[2, 3])));
    let want: Vec<f64> = z
        .chunks(3)
        .flat_map(|r| {
            let s: f64 = r.iter().map(|&v| (v as f64).exp()).sum();
            r.iter().map(move |&v| (v as f64).exp() / s).collect::<Vec<_>>()
        })
        .collect();
    assert_close("softmax", &p, &want, 1e-6);
}

/// loss = mse(affine(x, a, c) ⊙ sigmoid(y), y): the LAN's `1 − A` and
/// mean-square forms, against an f64 oracle and finite differences.
#[test]
fn affine_sigmoid_and_mse_match_finite_differences() {
    let gpu = gpu();
    let n = 37;
    let mut r = rng(9);
    let x = randn(&mut r, n, 2.0);
    let y = randn(&mut r, n, 2.0);
    let (a, c) = (-1.0f32, 1.0f32);
    let f = |v: &[f64]| {
        let (x, y) = v.split_at(n);
        x.iter()
            .zip(y)
            .map(|(&xv, &yv)| {
                let s = 1.0 / (1.0 + (-yv).exp());
                let d = (a as f64 * xv + c as f64) * s - yv;
                d * d
            })
            .sum::<f64>()
            / n as f64
    };
    let mut g = Graph::new(&gpu);
    let xv = g.leaf(gpu.upload(&x, &[n]), true);
    let yv = g.leaf(gpu.upload(&y, &[n]), true);
    let one_minus = g.affine(xv, a, c);
    let s = g.sigmoid(yv);
    let prod = g.mul(one_minus, s);
    let loss = g.mse(prod, yv);
    let both: Vec<f64> = x.iter().chain(&y).map(|&v| v as f64).collect();
    assert_close("mse loss", &gpu.read(g.value(loss)), &[f(&both)], 1e-5);
    let grads = g.backward(loss, None);
    let mut got = gpu.read(grads.get(xv).unwrap());
    got.extend(gpu.read(grads.get(yv).unwrap()));
    assert_close("d mse / d(x, y)", &got, &finite_diff(&f, &both), 1e-4);
}

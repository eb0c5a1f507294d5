//! Certified training (issue 13 item 5): the penalty's batched Lanczos
//! against a dense λ_max, its gradients w.r.t. W₁, W₂ and c against
//! central finite differences on tiny nets (L∞ and flow), and the graph op
//! on the GPU against the host values.

mod common;
use common::cli::advlab;

use advlab::certify::bipartite::{Bipartite, Left};
use advlab::certify::linalg;
use advlab::certify::network::Threat;
use advlab::certify::penalty::{Penalty, PenaltyWeights};
use rand::Rng;

struct Net {
    m: usize,
    d: usize,
    k: usize,
    w1: Vec<f64>,
    w2: Vec<f64>,
}

fn net(rng: &mut impl Rng, m: usize, d: usize, k: usize) -> Net {
    Net {
        m,
        d,
        k,
        w1: (0..m * d).map(|_| rng.random_range(-1.0..1.0)).collect(),
        w2: (0..k * m).map(|_| rng.random_range(-1.0..1.0)).collect(),
    }
}

fn weights(n: &Net) -> PenaltyWeights<'_> {
    PenaltyWeights { m: n.m, d: n.d, k: n.k, w1: &n.w1, w2: &n.w2 }
}

/// Dense P of pair (i, j) through the certify module's Bipartite (an
/// independent construction of the same matrix).
fn dense_pair(n: &Net, threat: Threat, lam: &[f64], gamma: f64, i: usize, j: usize) -> (Vec<f64>, usize) {
    let g = if threat == Threat::Flow { gamma } else { 1.0 };
    let a: Vec<f64> = (0..n.m).map(|h| g * (n.w2[i * n.m + h] - n.w2[j * n.m + h])).collect();
    let ones = vec![1.0; n.d];
    let (left, b, copies) = match threat {
        Threat::Linf => (Left::ConstPlusDiag, &ones[..], 1),
        Threat::Flow => (Left::Diag, lam, 2),
    };
    let bp = Bipartite { m: n.m, n: n.d, w: &n.w1, a: &a, left, b, copies };
    (bp.dense(), bp.dim())
}

/// λ_max of the dense symmetric matrix by full Lanczos + Sturm bisection.
fn dense_lmax(p: &[f64], d: usize) -> f64 {
    let start: Vec<f64> = (0..d).map(|i| 1.0 + 0.37 * i as f64).collect();
    let mut mv = |x: &[f64], y: &mut [f64]| {
        for i in 0..d {
            y[i] = (0..d).map(|j| p[i * d + j] * x[j]).sum();
        }
    };
    linalg::lanczos_max(d, d, &start, &mut mv)
}

fn setup(threat: Threat, rng: &mut impl Rng) -> (Net, Penalty, Vec<f64>) {
    let (m, d, k) = (4, 5, 3);
    let n = net(rng, m, d, k);
    let lam: Vec<f64> = (0..d).map(|_| rng.random_range(0.4..0.6)).collect();
    let mut pen = Penalty::new(threat, 0.1, 2.0, 1000, 1.0, lam, k);
    let dim = pen.dim(m, d);
    pen.steps = dim;
    let c: Vec<f64> = (0..pen.pairs.len() * dim).map(|_| rng.random_range(-0.3..0.5)).collect();
    (n, pen, c)
}

#[test]
fn ritz_values_equal_the_dense_lambda_max() {
    let mut rng = common::rng(61);
    for threat in [Threat::Linf, Threat::Flow] {
        let (n, mut pen, c) = setup(threat, &mut rng);
        let (theta, u) = pen.ritz(&weights(&n), &c);
        let dim = pen.dim(n.m, n.d);
        for (p, &(i, j)) in pen.pairs.clone().iter().enumerate() {
            let (mut dense, dd) = dense_pair(&n, threat, &pen.b, pen.gamma, i, j);
            assert_eq!(dd, dim);
            for q in 0..dim {
                dense[q * dim + q] -= c[p * dim + q];
            }
            let want = dense_lmax(&dense, dim);
            assert!(
                (theta[p] - want).abs() < 1e-9 * want.abs().max(1.0),
                "{threat:?} pair {p}: {} vs {want}",
                theta[p]
            );
            // u is a unit eigenvector: ‖(A − θ)u‖ small
            let up = &u[p * dim..(p + 1) * dim];
            let res: f64 = (0..dim)
                .map(|r| ((0..dim).map(|s| dense[r * dim + s] * up[s]).sum::<f64>() - theta[p] * up[r]).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(res < 1e-7, "{threat:?} pair {p}: residual {res}");
        }
    }
}

#[test]
fn penalty_gradients_match_finite_differences() {
    let mut rng = common::rng(71);
    for threat in [Threat::Linf, Threat::Flow] {
        let (mut n, mut pen, mut c) = setup(threat, &mut rng);
        let out = pen.evaluate(&weights(&n), &c);
        assert!(out.theta.iter().any(|&t| t > 0.0), "{threat:?}: no positive λ to differentiate");
        let h = 1e-6;
        let mut worst = 0.0f64;
        let mut check = |what: &str, analytic: f64, plus: f64, minus: f64| {
            let fd = (plus - minus) / (2.0 * h);
            let err = (fd - analytic).abs() / fd.abs().max(analytic.abs()).max(1e-2);
            worst = worst.max(err);
            assert!(err < 1e-5, "{threat:?} {what}: analytic {analytic} vs fd {fd}");
        };
        for _ in 0..12 {
            let e = rng.random_range(0..n.w1.len());
            let x = n.w1[e];
            n.w1[e] = x + h;
            let fp = pen.evaluate(&weights(&n), &c).value;
            n.w1[e] = x - h;
            let fm = pen.evaluate(&weights(&n), &c).value;
            n.w1[e] = x;
            check(&format!("w1[{e}]"), out.grad_w1[e], fp, fm);
            let e = rng.random_range(0..n.w2.len());
            let x = n.w2[e];
            n.w2[e] = x + h;
            let fp = pen.evaluate(&weights(&n), &c).value;
            n.w2[e] = x - h;
            let fm = pen.evaluate(&weights(&n), &c).value;
            n.w2[e] = x;
            check(&format!("w2[{e}]"), out.grad_w2[e], fp, fm);
            let e = rng.random_range(0..c.len());
            let x = c[e];
            c[e] = x + h;
            let fp = pen.evaluate(&weights(&n), &c).value;
            c[e] = x - h;
            let fm = pen.evaluate(&weights(&n), &c).value;
            c[e] = x;
            check(&format!("c[{e}]"), out.grad_c[e], fp, fm);
        }
        eprintln!("{threat:?}: worst relative error {worst:.2e}");
    }
}

#[test]
fn graph_op_passes_the_host_gradients_through_the_tape() {
    use advlab::autograd::Graph;
    use advlab::certify::train::penalty_op;
    let gpu = common::gpu();
    let mut rng = common::rng(81);
    let (m, d, k) = (6, 7, 4);
    let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
    let w1 = f((0..m * d).map(|_| rng.random_range(-1.0..1.0)).collect());
    let w2 = f((0..k * m).map(|_| rng.random_range(-1.0..1.0)).collect());
    let mut pen = Penalty::new(Threat::Linf, 0.1, 2.0, 1000, 1.0, vec![1.0; d], k);
    let dim = pen.dim(m, d);
    pen.steps = dim;
    let c = f((0..pen.pairs.len() * dim).map(|_| rng.random_range(-0.3..0.5)).collect());
    let mut g = Graph::new(&gpu);
    let (v1, v2, vc) = (
        g.leaf(gpu.upload(&w1, &[m, d]), true),
        g.leaf(gpu.upload(&w2, &[k, m]), true),
        g.leaf(gpu.upload(&c, &[pen.pairs.len(), dim]), true),
    );
    let (pv, out) = penalty_op(&mut g, &mut pen, v1, v2, vc);
    let loss = g.scale(pv, 3.0);
    let grads = g.backward(loss, None);
    assert!((gpu.read(g.value(pv))[0] as f64 - out.value).abs() < 1e-5 * out.value.abs());
    for (v, want) in [(v1, &out.grad_w1), (v2, &out.grad_w2), (vc, &out.grad_c)] {
        let want: Vec<f64> = want.iter().map(|x| 3.0 * x).collect();
        common::assert_close("penalty op gradient", &gpu.read(grads.get(v).unwrap()), &want, 1e-5);
    }
}

// ---- through the binary -----------------------------------------------

use std::path::{Path, PathBuf};

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-certtrain-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn certified_training_refuses_bad_flags_and_writes_nothing() {
    let dir = tmp_dir("bad");
    let out = dir.join("m.safetensors");
    let res = dir.join("r.json");
    for (extra, needles) in [
        (vec!["--arch", "lenet", "--certify", "linf"], vec!["lenet", "mlp"]),
        (vec!["--arch", "mlp:784-8-8-10", "--certify", "linf"], vec!["mlp:784-8-8-10", "one-hidden-layer"]),
        (vec!["--arch", "mlp:784-8-10", "--certify", "linf", "--cert-eps", "0"], vec!["--cert-eps 0", "> 0"]),
        (vec!["--arch", "mlp:784-8-10", "--certify", "flow", "--cert-eps", "-1"], vec!["--cert-eps -1"]),
        (vec!["--arch", "mlp:784-8-10", "--certify", "linf", "--cert-weight", "nan"], vec!["--cert-weight NaN"]),
        (
            vec!["--arch", "mlp:784-8-10", "--certify", "linf", "--cert-method", "primal", "--cert-rank", "0"],
            vec!["--cert-rank 0"],
        ),
        (vec!["--arch", "mlp:784-8-10", "--certify", "linf", "--cert-sweeps", "0"], vec!["--cert-sweeps 0"]),
        (
            vec!["--arch", "mlp:784-8-10", "--certify", "linf", "--cert-method", "primal", "--cert-refresh"],
            vec!["--cert-refresh", "dual"],
        ),
        (
            vec!["--arch", "mlp:784-8-10", "--certify", "linf", "--cert-refresh", "--cert-verify-sweeps", "0"],
            vec!["--cert-refresh"],
        ),
        (
            vec!["--arch", "mlp:784-8-10", "--certify", "linf", "--cert-loss", "robust"],
            vec!["--cert-loss robust", "primal"],
        ),
    ] {
        let mut args = vec!["train", "--out", s(&out), "--results", s(&res)];
        args.extend(extra);
        let (ok, _, err) = advlab(&args);
        assert!(!ok && !err.contains("panicked"), "{args:?}: {err}");
        let errs: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errs.len(), 1, "{args:?}: {err}");
        for n in needles {
            assert!(errs[0].contains(n), "{args:?}: {} lacks {n:?}", errs[0]);
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "{args:?} wrote something");
    }
}

/// `advlab --device cpu train` of a small certified MLP (L∞, ε 0.1,
/// weight 0.01, Adam 1e-3, batch 100, certified accuracy on 100 images)
/// with `extra` flags; returns its results.json.
fn cert_train(out: &Path, epochs: &str, resume: bool, seed: &str, extra: &[&str]) -> serde_json::Value {
    let mut a = vec![
        "--device",
        "cpu",
        "train",
        "--arch",
        "mlp:784-16-10",
        "--certify",
        "linf",
        "--cert-eps",
        "0.1",
        "--cert-weight",
        "0.01",
        "--cert-count",
        "100",
        "--optim",
        "adam",
        "--lr",
        "1e-3",
        "--batch",
        "100",
        "--epochs",
        epochs,
        "--seed",
        seed,
        "--out",
        s(out),
    ];
    a.extend(extra);
    let results = out.with_extension("json");
    a.extend(["--results", s(&results)]);
    if resume {
        a.push("--resume");
    }
    let (ok, _, err) = advlab(&a);
    assert!(ok, "{err}");
    serde_json::from_slice::<serde_json::Value>(&std::fs::read(results).unwrap()).unwrap()
}

/// Train a small MLP with the L∞ penalty, then: the model loads in plain
/// `advlab eval`; the duals are not in it; the per-epoch log has every
/// field; `advlab certify` on it gives bounds that no vertex of the ε-box
/// (random and gradient-sign corners) exceeds; `--resume` replays bit for bit.
#[test]
fn certified_training_end_to_end() {
    let dir = tmp_dir("e2e");
    let train = |out: &Path, epochs: &str, resume: bool| cert_train(out, epochs, resume, "2", &[]);
    let m2 = dir.join("two.safetensors");
    let v = train(&m2, "2", false);
    let per = v["results"]["certified_training"]["per_epoch"].as_array().unwrap().clone();
    assert_eq!(per.len(), 2);
    for key in ["ce", "penalty", "mean_upper_bound_verified", "clean_accuracy", "certified_accuracy"] {
        assert!(per[1][key].as_f64().is_some(), "{key} missing: {}", per[1]);
    }
    let ck = advlab::nn::checkpoint::Checkpoint::load(&m2).unwrap();
    assert!(!ck.contains("cert.c"), "duals leaked into the model file");
    let (ok, out, err) = advlab(&["--device", "cpu", "eval", "--arch", "mlp:784-16-10", "--model", s(&m2)]);
    assert!(ok && out.contains("accuracy"), "{err}");

    // resume: one epoch, then a second from the state, equals two straight
    let m1 = dir.join("resumed.safetensors");
    train(&m1, "1", false);
    train(&m1, "2", true);
    let a = advlab::nn::checkpoint::Checkpoint::load(&m1).unwrap();
    for name in ["fc1.weight", "fc2.weight"] {
        let shape = if name == "fc1.weight" { vec![16, 784] } else { vec![10, 16] };
        assert_eq!(a.get(name, &shape).unwrap(), ck.get(name, &shape).unwrap(), "{name} after --resume");
    }

    // the certified bound holds on the trained model
    let cdir = dir.join("cert");
    let (ok, _, err) = advlab(&[
        "--device",
        "cpu",
        "certify",
        "--arch",
        "mlp:784-16-10",
        "--model",
        s(&m2),
        "--threat",
        "linf",
        "--eps",
        "0.1",
        "--count",
        "20",
        "--out-dir",
        s(&cdir),
    ]);
    assert!(ok, "{err}");
    let (_, bounds) = advlab::data::npy::read_npy_f64(&cdir.join("bounds.npy")).unwrap();
    let arch = advlab::nn::Arch::parse("mlp:784-16-10").unwrap();
    let mlp = advlab::certify::network::Mlp::load(&arch, &m2).unwrap();
    let test = advlab::data::load(&advlab::data::DataSpec::Bundled, advlab::data::Split::Test).unwrap();
    let eps = 0.1;
    let mut rng = common::rng(91);
    let mut worst = f64::NEG_INFINITY;
    for i in 0..20 {
        let x = test.image(i);
        let y = test.labels[i] as usize;
        let l0 = mlp.logits(x);
        for j in (0..10).filter(|&j| j != y) {
            let allowed = l0[j] - l0[y] + eps / 4.0 * bounds[j * 10 + y];
            // the gradient-sign corner of f_j − f_y at x, then random corners
            let h: Vec<bool> = (0..mlp.m)
                .map(|u| {
                    mlp.w1[u * 784..(u + 1) * 784].iter().zip(x).map(|(w, &p)| w * p as f64).sum::<f64>() + mlp.b1[u]
                        > 0.0
                })
                .collect();
            let grad: Vec<f64> = (0..784)
                .map(|q| {
                    (0..mlp.m)
                        .filter(|&u| h[u])
                        .map(|u| (mlp.w2[j * mlp.m + u] - mlp.w2[y * mlp.m + u]) * mlp.w1[u * 784 + q])
                        .sum()
                })
                .collect();
            for t in 0..30 {
                let xt: Vec<f32> = (0..784)
                    .map(|q| {
                        let sgn = if t == 0 {
                            grad[q].signum()
                        } else if rng.random_bool(0.5) {
                            1.0
                        } else {
                            -1.0
                        };
                        x[q] + (eps * sgn) as f32
                    })
                    .collect();
                let l = mlp.logits(&xt);
                worst = worst.max((l[j] - l[y]) - allowed);
                assert!(l[j] - l[y] <= allowed, "image {i}, class {j}: {} > bound {allowed}", l[j] - l[y]);
            }
        }
    }
    eprintln!("largest (change − bound) over the corners tried: {worst:.4}");
}

/// The primal method (and the dual method's --cert-refresh) end to end on
/// a small MLP: the per-epoch log carries the verified SDP figures, the
/// primal factors live beside the model (not in it), and `--resume` replays
/// the primal run bit for bit.
#[test]
fn primal_and_refresh_training_end_to_end() {
    let dir = tmp_dir("primal");
    let train = |out: &Path, epochs: &str, resume: bool, extra: &[&str]| {
        cert_train(out, epochs, resume, "3", &[&["--cert-verify-sweeps", "20"], extra].concat())
    };
    let primal = ["--cert-method", "primal", "--cert-rank", "4"];
    let m2 = dir.join("two.safetensors");
    let v = train(&m2, "2", false, &primal);
    let per = v["results"]["certified_training"]["per_epoch"].as_array().unwrap().clone();
    assert_eq!(per.len(), 2);
    for key in ["ce", "penalty", "mean_upper_bound_estimate", "mean_upper_bound_verified", "certified_accuracy"] {
        assert!(per[1][key].as_f64().is_some(), "{key} missing: {}", per[1]);
    }
    assert!(per[1]["trained_duals_certified_accuracy"].is_null(), "primal has no trained duals: {}", per[1]);
    assert!(dir.join("two.cert-primal.npy").exists(), "primal factors not saved");
    assert!(per[1]["pairs_bounded_by_factor_duals"].as_f64().is_some(), "second candidate not logged: {}", per[1]);
    // the robust loss (CE of the certified logits) trains and logs the same fields
    let mr = dir.join("robust.safetensors");
    let v = train(&mr, "1", false, &[&primal[..], &["--cert-loss", "robust"]].concat());
    let e = &v["results"]["certified_training"]["per_epoch"][0];
    for key in ["ce", "penalty", "mean_upper_bound_verified", "certified_accuracy"] {
        assert!(e[key].as_f64().is_some_and(f64::is_finite), "robust: {key} missing: {e}");
    }
    assert_eq!(v["results"]["certified_training"]["settings"]["loss"], "robust", "{v}");
    let ck = advlab::nn::checkpoint::Checkpoint::load(&m2).unwrap();
    let m1 = dir.join("resumed.safetensors");
    train(&m1, "1", false, &primal);
    train(&m1, "2", true, &primal);
    let a = advlab::nn::checkpoint::Checkpoint::load(&m1).unwrap();
    for name in ["fc1.weight", "fc2.weight"] {
        let shape = if name == "fc1.weight" { vec![16, 784] } else { vec![10, 16] };
        assert_eq!(a.get(name, &shape).unwrap(), ck.get(name, &shape).unwrap(), "{name} after --resume");
    }

    // dual with --cert-refresh: the saved duals are the last epoch's verified solve
    let mr = dir.join("refresh.safetensors");
    let v = train(&mr, "1", false, &["--cert-refresh"]);
    let e = &v["results"]["certified_training"]["per_epoch"][0];
    assert!(e["trained_duals_mean_upper_bound_verified"].as_f64().is_some() && e["duals_refreshed"] == true, "{e}");
    let (shape, c) = advlab::data::npy::read_npy_f64(&dir.join("refresh.cert-duals.npy")).unwrap();
    let arch = advlab::nn::Arch::parse("mlp:784-16-10").unwrap();
    let mlp = advlab::certify::network::Mlp::load(&arch, &mr).unwrap();
    let cfg = advlab::certify::train::CertTrainConfig {
        threat: Threat::Linf,
        eps: 0.1,
        weight: 0.01,
        lanczos: 6,
        neighbours: advlab::ops::tv::Neighbours::Diag4,
        gamma: 1.0,
        method: advlab::certify::train::CertMethod::Dual,
        loss: advlab::certify::train::CertLoss::Penalty,
        rank: 8,
        sweeps: 1,
    };
    assert_eq!(shape, [45, 17 + 784]);
    let uppers = advlab::certify::train::verified_dual_bounds(&mlp, &cfg, &c).unwrap();
    let mean = uppers.iter().sum::<f64>() / 45.0;
    let logged = e["mean_upper_bound_verified"].as_f64().unwrap();
    // the refreshed duals (f32-stored) certify what the solve certified, to rounding
    assert!(mean <= logged * (1.0 + 1e-4), "refreshed duals certify {mean}, the solve {logged}");
}

/// Time of one penalty evaluation on a 784-500-10 net (45 pairs, L∞,
/// 6 Lanczos steps); `cargo test --release -- --ignored --nocapture`.
#[test]
#[ignore]
fn penalty_timing_784_500() {
    let mut rng = common::rng(5);
    let n = net(&mut rng, 500, 784, 10);
    let mut pen = Penalty::new(Threat::Linf, 0.1, 0.01, 6, 1.0, vec![1.0; 784], 10);
    let dim = pen.dim(500, 784);
    let c = vec![0.0; pen.pairs.len() * dim];
    pen.evaluate(&weights(&n), &c);
    let t = std::time::Instant::now();
    for _ in 0..3 {
        pen.evaluate(&weights(&n), &c);
    }
    eprintln!("penalty (45 pairs, D {dim}, 6 Lanczos steps): {:.3} s per evaluation", t.elapsed().as_secs_f64() / 3.0);
}

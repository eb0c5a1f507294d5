//! SDP certificates (SPEC §6–7): λ against an independent computation, the
//! f64 reference solver against brute force, the verified dual, the
//! corrected M, tiny networks (vertex enumeration), and the batched GPU
//! solver against the f64 reference.

mod common;

use advlab::certify::bipartite::{Bipartite, Left};
use advlab::certify::network::{verdict, Threat};
use advlab::certify::sdp::{self, SdpOptions};
use advlab::certify::{batch, flow, linalg};
use advlab::ops::tv::{Neighbours, Padding};
use rand::Rng;

fn opts(tol: f64) -> SdpOptions {
    SdpOptions { tol, max_sweeps: 20000, rank: None, seed: 1, check_every: 10 }
}

fn random_sym(rng: &mut impl Rng, d: usize, diag: bool) -> Vec<f64> {
    let mut p = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..i {
            let v: f64 = rng.random_range(-1.0..1.0);
            p[i * d + j] = v;
            p[j * d + i] = v;
        }
        if diag {
            p[i * d + i] = rng.random_range(-1.0..1.0);
        }
    }
    p
}

/// max over y ∈ {±1}^D of yᵀPy (D ≤ 16).
fn brute_force(p: &[f64], d: usize) -> f64 {
    let mut best = f64::NEG_INFINITY;
    for mask in 0u32..(1 << d) {
        let y: Vec<f64> = (0..d).map(|i| if mask >> i & 1 == 1 { 1.0 } else { -1.0 }).collect();
        let v: f64 = (0..d).map(|i| y[i] * (0..d).map(|j| p[i * d + j] * y[j]).sum::<f64>()).sum();
        best = best.max(v);
    }
    best
}

/// Independent diag((NᵀN)⁻¹): Gauss–Jordan inverse with partial pivoting.
fn inverse_diag_gauss_jordan(a: &[f64], n: usize) -> Vec<f64> {
    let mut m: Vec<f64> = Vec::with_capacity(n * 2 * n);
    for i in 0..n {
        m.extend_from_slice(&a[i * n..(i + 1) * n]);
        m.extend((0..n).map(|j| if i == j { 1.0 } else { 0.0 }));
    }
    let w = 2 * n;
    for c in 0..n {
        let piv = (c..n).max_by(|&x, &y| m[x * w + c].abs().total_cmp(&m[y * w + c].abs())).unwrap();
        for k in 0..w {
            m.swap(c * w + k, piv * w + k);
        }
        let d = m[c * w + c];
        for k in 0..w {
            m[c * w + k] /= d;
        }
        for r in 0..n {
            if r != c {
                let f = m[r * w + c];
                if f != 0.0 {
                    for k in 0..w {
                        m[r * w + k] -= f * m[c * w + k];
                    }
                }
            }
        }
    }
    (0..n).map(|i| m[i * w + n + i]).collect()
}

#[test]
fn lambda_matches_gauss_jordan_and_the_stated_ranges() {
    for nb in [Neighbours::Diag4, Neighbours::Cross4] {
        let (h, w) = (9, 7);
        let lam = flow::lambda(h, w, nb, Padding::Constant).unwrap();
        let want = inverse_diag_gauss_jordan(&flow::gram(h, w, nb), h * w);
        for (l, v) in lam.iter().zip(&want) {
            assert!((l - v.sqrt()).abs() < 1e-9, "{nb:?}: {l} vs {}", v.sqrt());
        }
    }
    // SPEC §7 / issue 13: 28×28 ranges
    for (nb, lo, hi) in [(Neighbours::Diag4, 0.474, 0.570), (Neighbours::Cross4, 0.487, 0.594)] {
        let lam = flow::lambda(28, 28, nb, Padding::Constant).unwrap();
        let (mn, mx) = lam.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        assert!((mn - lo).abs() < 1e-3 && (mx - hi).abs() < 1e-3, "{nb:?}: λ in [{mn}, {mx}]");
    }
}

#[test]
fn lambda_is_the_max_of_a_flow_in_the_ellipsoid() {
    // Proposition 2.2: max e_iᵀr s.t. ‖N₁r‖ ≤ 1 is λ_i, attained at
    // r = (NᵀN)⁻¹e_i / λ_i; random feasible flows never exceed it.
    let (h, w, nb) = (5, 6, Neighbours::Diag4);
    let lam = flow::lambda(h, w, nb, Padding::Constant).unwrap();
    let mut rng = common::rng(3);
    for _ in 0..2000 {
        let r: Vec<f64> = (0..h * w).map(|_| rng.random_range(-1.0..1.0)).collect();
        let s = flow::n1_norm2(&r, h, w, nb).sqrt();
        for p in 0..h * w {
            assert!(r[p].abs() / s <= lam[p] * (1.0 + 1e-12));
        }
    }
}

#[test]
fn dense_reference_brackets_brute_force_and_converges() {
    let mut rng = common::rng(7);
    for trial in 0..12 {
        let d = 6 + trial;
        let p = random_sym(&mut rng, d, false);
        let r = sdp::solve_dense(&p, d, &opts(1e-4));
        let bf = brute_force(&p, d);
        assert!(r.lower <= r.upper, "D={d}: lower {} > upper {}", r.lower, r.upper);
        assert!(r.converged && r.gap <= 1e-4 * r.lower.abs(), "D={d}: gap {} lower {}", r.gap, r.lower);
        assert!(bf <= r.upper, "D={d}: brute force {bf} above upper {}", r.upper);
        // the dual vector alone reproduces a bound no higher than reported
        let again = sdp::dense_upper_from_c(&p, d, &r.c);
        assert!(again <= r.upper * (1.0 + 1e-12), "D={d}: recomputed {again} > reported {}", r.upper);
        assert!(again >= r.lower, "D={d}: recomputed {again} < lower {}", r.lower);
    }
}

#[test]
fn dense_handles_a_nonzero_diagonal() {
    // [[-1, 2], [2, -1]]: max -a - b + 4c, c² ≤ ab ≤ 1 → 2
    let r = sdp::solve_dense(&[-1.0, 2.0, 2.0, -1.0], 2, &opts(1e-6));
    assert!((r.lower - 2.0).abs() < 1e-6 && r.upper >= 2.0 && r.upper < 2.0 + 1e-5, "{r:?}");
    // [[-1, 1], [1, -1]] is negative semidefinite: optimum 0 at Z = 0
    let r = sdp::solve_dense(&[-1.0, 1.0, 1.0, -1.0], 2, &opts(1e-6));
    assert!(r.lower.abs() < 1e-9 && r.upper >= 0.0 && r.upper < 1e-6, "{r:?}");
    // random diagonals: still bracketing the QP optimum over the box
    let mut rng = common::rng(11);
    for _ in 0..5 {
        let d = 9;
        let p = random_sym(&mut rng, d, true);
        let r = sdp::solve_dense(&p, d, &opts(1e-4));
        assert!(r.lower <= r.upper);
        // with P_ii of either sign, max over {±1}^D still lower-bounds the SDP
        assert!(brute_force(&p, d) <= r.upper);
    }
}

#[test]
fn cholesky_certificate_is_never_below_the_true_lambda_max() {
    // A verified shift below λ_max must fail: test at λ_max − δ.
    let mut rng = common::rng(5);
    let d = 12;
    let p = random_sym(&mut rng, d, false);
    let c = vec![0.0; d];
    let start: Vec<f64> = (0..d).map(|i| 1.0 + i as f64).collect();
    let mut mv = |x: &[f64], y: &mut [f64]| {
        for i in 0..d {
            y[i] = (0..d).map(|j| p[i * d + j] * x[j]).sum();
        }
    };
    let lmax = linalg::lanczos_max(d, d, &start, &mut mv);
    assert!(sdp::dense_verify(&p, d, &c, lmax - 1e-6).is_none());
    let t = sdp::dense_verify(&p, d, &c, lmax + 1e-9).expect("passes just above λ_max");
    assert!(t >= lmax && t < lmax + 1e-8);
}

fn random_bipartite_parts(rng: &mut impl Rng, m: usize, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let w = (0..m * n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let a = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
    let b = (0..n).map(|_| rng.random_range(0.3..0.6)).collect();
    (w, a, b)
}

#[test]
fn bipartite_solver_matches_the_dense_reference() {
    let mut rng = common::rng(21);
    for (left, copies) in [(Left::Diag, 2), (Left::ConstPlusDiag, 1)] {
        let (m, n) = (5, 6);
        let (w, a, b) = random_bipartite_parts(&mut rng, m, n);
        let bp = Bipartite { m, n, w: &w, a: &a, left, b: &b, copies };
        let d = bp.dim();
        let dense = bp.dense();
        let rd = sdp::solve_dense(&dense, d, &opts(1e-5));
        let rb = bp.solve_cpu(&opts(1e-5));
        assert!(rb.converged, "{left:?}: {rb:?}");
        assert!(rb.lower <= rd.upper && rd.lower <= rb.upper, "{left:?}: {rb:?} vs {rd:?}");
        assert!(rb.upper <= rd.upper * (1.0 + 1e-4), "{left:?}");
        // its dual, checked densely
        let again = sdp::dense_upper_from_c(&dense, d, &rb.c);
        assert!(again <= rb.upper * (1.0 + 1e-12), "{left:?}: {again} > {}", rb.upper);
    }
}

#[test]
fn corrected_m_is_the_exact_qp() {
    // yᵀMy at y = (1, 2s−1, t) equals 4·tᵀWᵀdiag(v)s (SPEC §6 errata)
    let mut rng = common::rng(31);
    let (m, n) = (4, 3);
    let (w, v, _) = random_bipartite_parts(&mut rng, m, n);
    let ones = vec![1.0; n];
    let bp = Bipartite { m, n, w: &w, a: &v, left: Left::ConstPlusDiag, b: &ones, copies: 1 };
    let p = bp.dense();
    let d = bp.dim();
    for _ in 0..50 {
        let s: Vec<f64> = (0..m).map(|_| rng.random_range(0.0..1.0)).collect();
        let t: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut y = vec![1.0];
        y.extend(s.iter().map(|x| 2.0 * x - 1.0));
        y.extend(&t);
        let q: f64 = (0..d).map(|i| y[i] * (0..d).map(|j| p[i * d + j] * y[j]).sum::<f64>()).sum();
        let want: f64 =
            4.0 * (0..m).map(|i| v[i] * s[i] * (0..n).map(|k| w[i * n + k] * t[k]).sum::<f64>()).sum::<f64>();
        assert!((q - want).abs() < 1e-12, "{q} vs {want}");
    }
}

/// max over s ∈ {0,1}^m of ‖Rᵀ(LW)ᵀ-side‖₁: the exact maxima the
/// certificates relax. Flow: max_{s,z} sᵀBz = max_s ‖Bᵀs‖₁ (B = diag(v)W[Λ,Λ]).
/// L∞: max_{s,t} tᵀWᵀdiag(v)s = max_s ‖Wᵀdiag(v)s‖₁.
fn vertex_max(w: &[f64], v: &[f64], b: &[f64], copies: usize, m: usize, n: usize) -> f64 {
    let mut best = 0.0f64;
    for mask in 0u32..(1 << m) {
        let mut tot = 0.0;
        for q in 0..n {
            let col: f64 = (0..m).filter(|&i| mask >> i & 1 == 1).map(|i| v[i] * w[i * n + q]).sum();
            tot += col.abs() * b[q] * copies as f64;
        }
        best = best.max(tot);
    }
    best
}

#[test]
fn tiny_networks_never_exceed_the_bound() {
    // 100 random nets: ε·max ≤ κ(ε)·U, i.e. 2·max ≤ U (flow), 4·max ≤ U (L∞)
    let mut rng = common::rng(41);
    let mut violations = 0;
    for net in 0..100 {
        let (m, n) = (3 + net % 4, 2 + net % 5);
        let (w, v, lam) = random_bipartite_parts(&mut rng, m, n);
        let ones = vec![1.0; n];
        for (left, b, copies, factor) in [(Left::Diag, &lam, 2, 2.0), (Left::ConstPlusDiag, &ones, 1, 4.0)] {
            let bp = Bipartite { m, n, w: &w, a: &v, left, b, copies };
            let r = bp.solve_cpu(&opts(1e-3));
            let exact = factor * vertex_max(&w, &v, b, copies, m, n);
            if exact > r.upper {
                violations += 1;
            }
            assert!(r.lower <= r.upper);
        }
    }
    assert_eq!(violations, 0);
}

#[test]
fn verdict_rule_uses_the_bound_factor() {
    // two classes, margin 1, U = 10: L∞ certified iff ε/4·10 < 1 (ε < 0.4), flow iff ε/2·10 < 1
    let bounds = [0.0, 10.0, 10.0, 0.0];
    let v = verdict(0, 0, &[1.0, 0.0], &bounds, Threat::Linf, &[0.39, 0.41]);
    assert_eq!(v.certified, vec![true, false]);
    assert!((v.max_certified_eps - 0.4).abs() < 1e-12);
    let v = verdict(0, 0, &[1.0, 0.0], &bounds, Threat::Flow, &[0.19, 0.21]);
    assert_eq!(v.certified, vec![true, false]);
    // misclassified: never certified
    let v = verdict(0, 1, &[1.0, 0.0], &bounds, Threat::Flow, &[1e-9]);
    assert_eq!(v.certified, vec![false]);
    assert_eq!(v.max_certified_eps, 0.0);
}

#[test]
fn gpu_batch_matches_the_f64_reference() {
    let gpu = common::gpu();
    let mut rng = common::rng(51);
    let (m, n, np) = (24, 30, 6);
    let w: Vec<f64> = (0..m * n).map(|_| rng.random_range(-1.0f32..1.0) as f64).collect();
    let lam: Vec<f64> = (0..n).map(|_| rng.random_range(0.3..0.6)).collect();
    let ones = vec![1.0; n];
    let avecs: Vec<Vec<f64>> =
        (0..np).map(|_| (0..m).map(|_| rng.random_range(-1.0f32..1.0) as f64).collect()).collect();
    let ids: Vec<(usize, usize)> = (0..np).map(|k| (0, k + 1)).collect();
    for (left, b, copies) in [(Left::Diag, &lam, 2), (Left::ConstPlusDiag, &ones, 1)] {
        let probs: Vec<Bipartite> = avecs.iter().map(|a| Bipartite { m, n, w: &w, a, left, b, copies }).collect();
        let (g, _) = batch::solve_gpu(&gpu, &probs, &ids, &opts(1e-3));
        let c = batch::solve_cpu(&probs, &ids, &opts(1e-5));
        for (x, y) in g.iter().zip(&c) {
            assert!(x.converged, "{left:?}: {x:?}");
            assert!(x.lower <= x.upper);
            // both bracket the same optimum
            assert!(x.lower <= y.upper && y.lower <= x.upper, "{left:?}: gpu {x:?} cpu {y:?}");
            assert!(x.gap <= 1e-3 * x.lower.abs());
        }
    }
}

#[test]
fn lambda_equals_numpy() {
    // results/lambda-numpy: scripts/lambda_numpy.py (numpy.linalg.inv of an
    // explicitly built NᵀN), committed; advlab's λ must agree within 1e-6
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/lambda-numpy");
    for (nb, name) in [(Neighbours::Diag4, "diag4"), (Neighbours::Cross4, "cross4")] {
        let (shape, want) = advlab::data::npy::read_npy_f64(&dir.join(format!("lambda_{name}.npy"))).unwrap();
        assert_eq!(shape, vec![28, 28]);
        let lam = flow::lambda(28, 28, nb, Padding::Constant).unwrap();
        let worst = lam.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f64, f64::max);
        assert!(worst <= 1e-6, "{name}: max |advlab − numpy| = {worst}");
        eprintln!("{name}: max |advlab − numpy| = {worst:.2e}");
    }
}

#[test]
fn tiny_mlps_never_move_beyond_the_linf_certificate() {
    // 100 random MLPs with biases (d = 3..4 inputs, m = 3..6 hidden, 3
    // classes): the logit-difference change over a 6^d grid of the ε-box
    // (vertices included) never exceeds (ε/4)·U of the pair.
    let mut rng = common::rng(43);
    let (mut violations, mut worst) = (0, f64::NEG_INFINITY);
    for net in 0..100 {
        let (d, m, k) = (3 + net % 2, 3 + net % 4, 3);
        let w1: Vec<f64> = (0..m * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b1: Vec<f64> = (0..m).map(|_| rng.random_range(-0.5..0.5)).collect();
        let w2: Vec<f64> = (0..k * m).map(|_| rng.random_range(-1.0..1.0)).collect();
        let x: Vec<f64> = (0..d).map(|_| rng.random_range(0.0..1.0)).collect();
        let eps = rng.random_range(0.05..0.5);
        let f = |z: &[f64]| -> Vec<f64> {
            let h: Vec<f64> =
                (0..m).map(|u| ((0..d).map(|q| w1[u * d + q] * z[q]).sum::<f64>() + b1[u]).max(0.0)).collect();
            (0..k).map(|c| (0..m).map(|u| w2[c * m + u] * h[u]).sum()).collect()
        };
        let f0 = f(&x);
        let ones = vec![1.0; d];
        for i in 0..k {
            for j in i + 1..k {
                let v: Vec<f64> = (0..m).map(|u| w2[i * m + u] - w2[j * m + u]).collect();
                let bp = Bipartite { m, n: d, w: &w1, a: &v, left: Left::ConstPlusDiag, b: &ones, copies: 1 };
                let u = bp.solve_cpu(&opts(1e-3)).upper;
                let g = 6usize;
                for cell in 0..g.pow(d as u32) {
                    let z: Vec<f64> = (0..d)
                        .map(|q| x[q] + eps * (2.0 * ((cell / g.pow(q as u32)) % g) as f64 / (g - 1) as f64 - 1.0))
                        .collect();
                    let fz = f(&z);
                    // both directions: SDP(M(v)) = SDP(M(−v))
                    for (a, b) in [(i, j), (j, i)] {
                        let change = (fz[a] - fz[b]) - (f0[a] - f0[b]);
                        worst = worst.max(change - eps / 4.0 * u);
                        if change > eps / 4.0 * u {
                            violations += 1;
                        }
                    }
                }
            }
        }
    }
    eprintln!("largest (change − bound) over the grid: {worst:.4}");
    assert_eq!(violations, 0);
}

//! `advlab reproduce fig6` (issue 13 items 6–7): the certificate-bound check
//! on tiny nets (it holds with the verified U and catches a wrong one), the
//! f64 host warp against the GPU warp, the sample and interval helpers, a
//! small end-to-end run on the bundled MNIST subset, and bad input.

mod common;
use common::cli::{advlab, json};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use advlab::certify::batch;
use advlab::certify::flow;
use advlab::certify::network::{Mlp, PairSetup, Threat};
use advlab::certify::sdp::SdpOptions;
use advlab::data::npy;
use advlab::ops::tv::{Neighbours, Padding};
use advlab::reproduce::bounds;
use advlab::reproduce::fig6::{sample, wilson};
use rand::Rng;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-fig6-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A random one-hidden-layer MLP on 1×h×w images with k classes.
fn tiny_mlp(rng: &mut impl Rng, h: usize, w: usize, m: usize, k: usize) -> Mlp {
    let d = h * w;
    Mlp {
        input: [1, h, w],
        d,
        m,
        k,
        w1: (0..m * d).map(|_| rng.random_range(-1.0..1.0)).collect(),
        b1: (0..m).map(|_| rng.random_range(-0.3..0.3)).collect(),
        w2: (0..k * m).map(|_| rng.random_range(-1.0..1.0)).collect(),
        b2: (0..k).map(|_| rng.random_range(-0.3..0.3)).collect(),
    }
}

/// The verified flow-certificate bounds U (k×k) of `mlp`, f64 solver.
fn tiny_bounds(mlp: &Mlp) -> Vec<f64> {
    let [_, h, w] = mlp.input;
    let lam = flow::lambda(h, w, Neighbours::Diag4, Padding::Constant).unwrap();
    let setup = PairSetup::new(Threat::Flow, mlp, Some(&lam));
    let ids = mlp.pairs();
    let av: Vec<Vec<f64>> = ids.iter().map(|&(i, j)| mlp.pair_vector(i, j, 1.0)).collect();
    let probs: Vec<_> = av.iter().map(|a| setup.problem(mlp, a)).collect();
    let opts = SdpOptions { tol: 1e-4, max_sweeps: 20000, rank: None, seed: 3, check_every: 10 };
    let k = mlp.k;
    let mut u = vec![0.0; k * k];
    for p in batch::solve_cpu(&probs, &ids, &opts) {
        u[p.i * k + p.j] = p.upper;
        u[p.j * k + p.i] = p.upper;
    }
    u
}

#[test]
fn bound_check_holds_with_the_certificate_and_catches_a_wrong_u() {
    let mut rng = common::rng(61);
    let (h, w, k, n) = (5, 5, 3, 40);
    let (mut worst, mut caught) = (f64::NEG_INFINITY, 0);
    for net in 0..6 {
        let mlp = tiny_mlp(&mut rng, h, w, 4 + net % 3, k);
        let u = tiny_bounds(&mlp);
        let x: Vec<f32> = (0..n * h * w).map(|_| rng.random_range(0.0f32..1.0)).collect();
        // flows of every size, up to a few pixels, a few exactly zero
        let flows: Vec<f32> = (0..n)
            .flat_map(|i| {
                let scale = if i % 10 == 0 { 0.0 } else { 0.05 * (i % 7) as f32 + 0.02 };
                (0..2 * h * w).map(|_| rng.random_range(-1.0f32..1.0) * scale).collect::<Vec<_>>()
            })
            .collect();
        let adv: Vec<f32> = (0..n)
            .flat_map(|i| {
                let xi: Vec<f64> = x[i * 25..(i + 1) * 25].iter().map(|&v| v as f64).collect();
                let r: Vec<f64> = flows[i * 50..(i + 1) * 50].iter().map(|&v| v as f64).collect();
                bounds::warp_f64(&xi, &r, 1, h, w).into_iter().map(|v| v as f32)
            })
            .collect();
        let labels: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
        let targets: Vec<u32> =
            labels.iter().map(|&y| (y + 1 + rng.random_range(0..k as u32 - 1)) % k as u32).collect();
        let c = bounds::check(&mlp, &u, &x, &flows, &adv, &labels, &targets, Neighbours::Diag4);
        assert_eq!(c.violations, 0, "net {net}: the certificate's bound was exceeded: {c:?}");
        assert_eq!(c.zero_flows, 4);
        assert!(c.max_warp_diff < 1e-6);
        worst = worst.max(c.max_ratio.unwrap());
        // the certificate is loose (Δ/bound ≪ 1), so a wrong U is caught once
        // it falls below the tightest image's need: U scaled by half the
        // largest ratio must flag that image (and exactly the images whose
        // ratio exceeds half the largest)
        let r = c.max_ratio.unwrap();
        let wrong: Vec<f64> = u.iter().map(|v| v * 0.5 * r).collect();
        let cw = bounds::check(&mlp, &wrong, &x, &flows, &adv, &labels, &targets, Neighbours::Diag4);
        let expect = c.per_image.iter().filter(|p| p.bound > 0.0 && p.delta / p.bound > 0.5 * r).count();
        assert!(cw.violations >= 1, "net {net}: a too small U went unnoticed");
        assert_eq!(cw.violations, expect, "net {net}");
        caught += cw.violations;
        // zero flows never violate: Δ is exactly 0 there
        for (i, pc) in cw.per_image.iter().enumerate() {
            if i % 10 == 0 {
                assert_eq!((pc.delta, pc.n_norm), (0.0, 0.0));
            }
        }
    }
    eprintln!("tightest Δ/bound {worst:.3e}; {caught} violations of the wrong U");
    assert!(worst > 0.0, "no flow moved a margin towards its target: the check would be vacuous");
}

#[test]
fn host_warp_matches_the_gpu_warp() {
    let gpu = common::gpu();
    let mut rng = common::rng(62);
    let (n, c, h, w) = (3, 2, 7, 9);
    let x: Vec<f32> = (0..n * c * h * w).map(|_| rng.random_range(0.0f32..1.0)).collect();
    let r: Vec<f32> = (0..n * 2 * h * w).map(|_| rng.random_range(-3.0f32..3.0)).collect();
    let got =
        gpu.read(&advlab::ops::warp::forward(&gpu, &gpu.upload(&x, &[n, c, h, w]), &gpu.upload(&r, &[n, 2, h, w])));
    for i in 0..n {
        let xi: Vec<f64> = x[i * c * h * w..(i + 1) * c * h * w].iter().map(|&v| v as f64).collect();
        let ri: Vec<f64> = r[i * 2 * h * w..(i + 1) * 2 * h * w].iter().map(|&v| v as f64).collect();
        let want = bounds::warp_f64(&xi, &ri, c, h, w);
        common::assert_close("warp", &got[i * c * h * w..(i + 1) * c * h * w], &want, 1e-5);
    }
}

#[test]
fn sample_is_seeded_distinct_and_in_range() {
    let a = sample(50, 20, 7).unwrap();
    assert_eq!(a, sample(50, 20, 7).unwrap());
    assert_ne!(a, sample(50, 20, 8).unwrap());
    let mut b = a.clone();
    b.sort();
    b.dedup();
    assert_eq!(b.len(), 20);
    assert!(a.iter().all(|&i| i < 50));
    assert_eq!(sample(5, 5, 0).unwrap().len(), 5);
    assert!(sample(5, 6, 0).unwrap_err().to_string().contains("--count 6"));
    assert!(sample(5, 0, 0).is_err());
}

#[test]
fn wilson_interval_brackets_the_rate() {
    // reference (the closed form in Python): k = 380, n = 1000 → [0.350429, 0.410489]
    let i = wilson(380, 1000);
    assert!((i.lo - 0.350429).abs() < 1e-6 && (i.hi - 0.410489).abs() < 1e-6, "{i:?}");
    let z = wilson(0, 100);
    assert_eq!(z.lo, 0.0);
    assert!((z.hi - 0.036993).abs() < 1e-6, "{z:?}");
    assert_eq!(wilson(7, 7).hi, 1.0);
}

/// A random mlp:784-H-10 saved as safetensors.
fn random_mlp(path: &Path, h: usize, seed: u64) {
    let mut rng = common::rng(seed);
    let w1: Vec<f32> = (0..h * 784).map(|_| rng.random_range(-0.08f32..0.08)).collect();
    let b1: Vec<f32> = (0..h).map(|_| rng.random_range(-0.05f32..0.05)).collect();
    let w2: Vec<f32> = (0..10 * h).map(|_| rng.random_range(-0.5f32..0.5)).collect();
    let b2: Vec<f32> = (0..10).map(|_| rng.random_range(-0.1f32..0.1)).collect();
    let t = vec![
        ("fc1.weight".to_string(), vec![h, 784], &w1[..]),
        ("fc1.bias".to_string(), vec![h], &b1[..]),
        ("fc2.weight".to_string(), vec![10, h], &w2[..]),
        ("fc2.bias".to_string(), vec![10], &b2[..]),
    ];
    advlab::nn::checkpoint::save(path, &t, &BTreeMap::new()).unwrap();
}

fn small_run<'a>(plain: &'a str, cert: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "reproduce",
        "fig6",
        "--arch",
        "mlp:784-8-10",
        "--plain",
        plain,
        "--certified",
        cert,
        "--data",
        "bundled",
        "--count",
        "5",
        "--seed",
        "3",
        "--tau-search",
        "0,1000,2",
        "--iters",
        "8",
        "--sdp-sweeps",
        "30",
        "--out-dir",
        out,
    ]
}

#[test]
fn fig6_on_a_handful_of_bundled_images() {
    let (p, c) = (tmp("plain8.safetensors"), tmp("cert8.safetensors"));
    random_mlp(&p, 8, 1);
    random_mlp(&c, 8, 2);
    let out = tmp("run");
    let (ok, stdout, err) = advlab(&small_run(s(&p), s(&c), s(&out)));
    assert!(ok, "{err}");
    assert!(stdout.contains("| thesis | plain |"), "{stdout}");
    let idx = npy::read_npy_labels(&out.join("indices.npy")).unwrap();
    let tg = npy::read_npy_labels(&out.join("targets.npy")).unwrap();
    let lb = npy::read_npy_labels(&out.join("labels.npy")).unwrap();
    assert_eq!(idx.len(), 5);
    assert!(tg.iter().zip(&lb).all(|(t, y)| t != y && (0..10).contains(t)));
    for model in ["plain", "certified"] {
        for setting in ["thesis", "certificate"] {
            let d = out.join(model).join(setting);
            let (sh, _) = npy::read_npy_f32(&d.join("adv.npy")).unwrap();
            assert_eq!(sh, vec![5, 1, 28, 28]);
            let (sh, _) = npy::read_npy_f32(&d.join("flow.npy")).unwrap();
            assert_eq!(sh, vec![5, 2, 28, 28]);
        }
        let (sh, _) = npy::read_npy_f64(&out.join(format!("bounds-{model}.npy"))).unwrap();
        assert_eq!(sh, vec![10, 10]);
    }
    assert!(out.join("fig6.png").is_file());
    let r = json(&out.join("results.json"));
    assert_eq!(r["command"], "reproduce fig6");
    assert!(r["adapter"].is_string() && r["command_line"].as_str().unwrap().contains("fig6"));
    assert_eq!(r["results"]["bound_violations"], 0);
    let cells = r["results"]["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    for c in cells {
        assert!(c["soft"].as_u64().unwrap() >= c["strict"].as_u64().unwrap());
        assert_eq!(c["check"]["images"], 5);
    }
    // the same seed draws the same sample with another model
    let out2 = tmp("run2");
    let mut args = small_run(s(&c), s(&p), s(&out2));
    args.extend(["--settings", "certificate"]);
    let (ok, _, err) = advlab(&args);
    assert!(ok, "{err}");
    assert_eq!(npy::read_npy_labels(&out2.join("indices.npy")).unwrap(), idx);
    assert_eq!(npy::read_npy_labels(&out2.join("targets.npy")).unwrap(), tg);
    assert!(!out2.join("plain").join("thesis").exists());
}

/// Fails with one `error:` line containing every needle, and `out_dir` is not created.
fn refused(args: &[&str], needles: &[&str], out_dir: &Path) {
    common::cli::assert_one_line_error(args, needles);
    assert!(!out_dir.exists(), "{args:?}: {} was written", out_dir.display());
}

#[test]
fn fig6_bad_input_is_refused_and_nothing_is_written() {
    let p = tmp("bad-plain.safetensors");
    random_mlp(&p, 8, 4);
    let out = tmp("bad-out");
    let o = s(&out);
    let ps = s(&p);
    let with = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = small_run(ps, ps, o).into_iter().map(String::from).collect();
        for pair in extra.chunks(2) {
            match v.iter().position(|a| a == pair[0]) {
                Some(i) => v[i + 1] = pair[1].to_string(),
                None => v.extend(pair.iter().map(|s| s.to_string())),
            }
        }
        v
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (with(&["--certified", "/nonexistent/m.safetensors"]), vec!["--certified", "no such model file"]),
        (with(&["--count", "0"]), vec!["--count 0"]),
        (with(&["--count", "100000"]), vec!["--count 100000", "test set"]),
        (with(&["--arch", "lenet"]), vec!["--arch lenet", "mlp:D-H-K"]),
        (with(&["--arch", "mlp:784-9-10"]), vec!["--plain", "fc1.weight"]),
        (with(&["--tau-search", "5,1"]), vec!["--tau-search"]),
        (with(&["--flow-budget", "0"]), vec!["--flow-budget 0"]),
        (with(&["--iters", "0"]), vec!["--iters 0"]),
        (with(&["--data", "mnist:/nonexistent"]), vec!["/nonexistent"]),
    ];
    for (args, needles) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&a, &needles, &out);
    }
    // an unknown setting is clap's error (exit 2), nothing written
    let mut a = small_run(ps, ps, o);
    a.extend(["--settings", "bogus"]);
    let (ok, _, _) = advlab(&a);
    assert!(!ok && !out.exists());
}

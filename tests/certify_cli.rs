//! `advlab sdp` and `advlab certify` through the binary: bad input is one
//! error line, a non-zero exit and nothing written; good input writes every
//! output, and the duals reproduce the reported bounds.

mod common;
use common::cli::advlab;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use advlab::certify::network::{Mlp, Threat};
use advlab::certify::{flow, run, sdp};
use advlab::data::npy;
use advlab::nn::arch::Arch;
use advlab::ops::tv::{Neighbours, Padding};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-certify-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Fails with one `error:` line containing every needle, and `out_dir` is not created.
fn refused(args: &[&str], needles: &[&str], out_dir: &Path) {
    let (ok, _, err) = advlab(args);
    assert!(!ok, "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    let errs: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errs.len(), 1, "{args:?}: expected one error line, got: {err}");
    for n in needles {
        assert!(errs[0].contains(n), "{args:?}: error line lacks {n:?}: {}", errs[0]);
    }
    assert!(!out_dir.exists(), "{args:?}: {} was written", out_dir.display());
}

fn random_sym(d: usize, seed: u64) -> Vec<f64> {
    let mut p = vec![0.0; d * d];
    let mut x = seed;
    for i in 0..d {
        for j in 0..i {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
            p[i * d + j] = v;
            p[j * d + i] = v;
        }
    }
    p
}

#[test]
fn sdp_bad_matrices_are_refused_and_nothing_is_written() {
    let out = tmp("sdp-bad-out");
    let d = 5;
    let mut p = random_sym(d, 1);
    p[1] += 0.5; // P[0,1] != P[1,0]
    let f = tmp("nonsym.npy");
    npy::write_npy_f64(&f, &[d, d], &p).unwrap();
    refused(&["sdp", "--matrix", s(&f), "--out-dir", s(&out)], &["nonsym.npy", "not symmetric"], &out);
    let mut p = random_sym(d, 2);
    p[7] = f64::NAN;
    let f = tmp("nan.npy");
    npy::write_npy_f64(&f, &[d, d], &p).unwrap();
    refused(&["sdp", "--matrix", s(&f), "--out-dir", s(&out)], &["nan.npy", "NaN", "finite"], &out);
    let f = tmp("rect.npy");
    npy::write_npy_f64(&f, &[2, 3], &[0.0; 6]).unwrap();
    refused(&["sdp", "--matrix", s(&f), "--out-dir", s(&out)], &["rect.npy", "square"], &out);
    let f = tmp("vec.npy");
    npy::write_npy_f64(&f, &[4], &[0.0; 4]).unwrap();
    refused(&["sdp", "--matrix", s(&f), "--out-dir", s(&out)], &["vec.npy", "2-D"], &out);
    let f = tmp("ok.npy");
    npy::write_npy_f64(&f, &[d, d], &random_sym(d, 3)).unwrap();
    refused(&["sdp", "--matrix", s(&f), "--out-dir", s(&out), "--tol", "0"], &["--tol"], &out);
}

#[test]
fn sdp_writes_bounds_and_a_dual_that_reproduces_them() {
    let d = 40;
    let p = random_sym(d, 9);
    let f = tmp("p40.npy");
    npy::write_npy_f64(&f, &[d, d], &p).unwrap();
    let out = tmp("sdp-out");
    let (ok, stdout, err) = advlab(&["sdp", "--matrix", s(&f), "--out-dir", s(&out), "--seed", "3"]);
    assert!(ok, "{err}");
    assert!(stdout.contains("lower"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let r = &v["results"];
    let (lower, upper) = (r["lower"].as_f64().unwrap(), r["upper"].as_f64().unwrap());
    assert!(lower <= upper && upper - lower <= 1e-3 * lower.abs(), "{r}");
    assert!(r["iterations"].as_u64().unwrap() > 0 && r["seconds"].as_f64().is_some());
    assert_eq!(v["settings"]["seed"], 3);
    let (shape, c) = npy::read_npy_f64(&out.join("c.npy")).unwrap();
    assert_eq!(shape, vec![d]);
    let again = sdp::dense_upper_from_c(&p, d, &c);
    assert!(again <= upper * (1.0 + 1e-12) && again >= lower, "recomputed {again}, reported [{lower}, {upper}]");
}

/// A random mlp:784-H-10 saved as safetensors.
fn random_mlp(path: &Path, h: usize) {
    let mut x = 12345u64;
    let mut next = |scale: f32| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0) * scale
    };
    let w1: Vec<f32> = (0..h * 784).map(|_| next(0.05)).collect();
    let b1: Vec<f32> = (0..h).map(|_| next(0.05)).collect();
    let w2: Vec<f32> = (0..10 * h).map(|_| next(0.3)).collect();
    let b2: Vec<f32> = (0..10).map(|_| next(0.1)).collect();
    let t = vec![
        ("fc1.weight".to_string(), vec![h, 784], &w1[..]),
        ("fc1.bias".to_string(), vec![h], &b1[..]),
        ("fc2.weight".to_string(), vec![10, h], &w2[..]),
        ("fc2.bias".to_string(), vec![10], &b2[..]),
    ];
    advlab::nn::checkpoint::save(path, &t, &BTreeMap::new()).unwrap();
}

#[test]
fn certify_bad_input_is_refused_and_nothing_is_written() {
    let model = tmp("m8.safetensors");
    random_mlp(&model, 8);
    let out = tmp("cert-bad-out");
    let base = |arch: &'static str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["certify", "--arch", arch, "--model", s(&model), "--out-dir", s(&out)]
            .iter()
            .map(|x| x.to_string())
            .collect();
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let run = |args: Vec<String>, needles: &[&str]| {
        let a: Vec<&str> = args.iter().map(|x| x.as_str()).collect();
        refused(&a, needles, &out);
    };
    run(base("lenet", &["--threat", "flow", "--eps", "0.01"]), &["lenet", "mlp"]);
    run(base("mlp:784-8-8-10", &["--threat", "linf", "--eps", "0.01"]), &["mlp:784-8-8-10", "one-hidden-layer"]);
    run(base("mlp:784-8-10", &["--threat", "flow", "--eps", "0.01,0"]), &["--eps 0", "> 0"]);
    run(base("mlp:784-8-10", &["--threat", "linf", "--eps", "-0.1"]), &["--eps -0.1"]);
    run(
        base("mlp:784-8-10", &["--threat", "flow", "--eps", "0.01", "--padding", "symmetric"]),
        &["symmetric", "singular"],
    );
    run(base("mlp:784-9-10", &["--threat", "flow", "--eps", "0.01"]), &["m8.safetensors", "fc1.weight"]);
    let bad = tmp("duals-bad.npy");
    npy::write_npy_f64(&bad, &[45, 3], &[0.0; 135]).unwrap();
    run(base("mlp:784-8-10", &["--threat", "linf", "--eps", "0.01", "--duals", s(&bad)]), &["duals-bad.npy", "45×793"]);
}

#[test]
fn certify_writes_every_output_and_the_duals_reproduce_the_bounds() {
    let model = tmp("m6.safetensors");
    random_mlp(&model, 6);
    for threat in ["flow", "linf"] {
        let out = tmp(&format!("cert-{threat}"));
        let (ok, stdout, err) = advlab(&[
            "--device",
            "cpu",
            "certify",
            "--arch",
            "mlp:784-6-10",
            "--model",
            s(&model),
            "--threat",
            threat,
            "--eps",
            "0.001,0.01,7",
            "--count",
            "12",
            "--out-dir",
            s(&out),
        ]);
        assert!(ok, "{threat}: {err}");
        assert!(stdout.contains("certified accuracy"), "{stdout}");
        for f in ["results.json", "duals.npy", "bounds.npy", "certified.npy", "certified.png"] {
            assert!(out.join(f).is_file(), "{threat}: {f} missing");
        }
        assert_eq!(out.join("lambda.npy").is_file(), threat == "flow");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
        let pairs = v["results"]["pairs"].as_array().unwrap();
        assert_eq!(pairs.len(), 45);
        let (bs, bounds) = npy::read_npy_f64(&out.join("bounds.npy")).unwrap();
        assert_eq!(bs, vec![10, 10]);
        let (ds, duals) = npy::read_npy_f64(&out.join("duals.npy")).unwrap();
        let d = if threat == "flow" { 6 + 2 * 784 } else { 1 + 6 + 784 };
        assert_eq!(ds, vec![45, d]);
        // pair 0 (classes 0, 1): the dual row reproduces the bound, densely
        let arch = Arch::parse("mlp:784-6-10").unwrap();
        let mlp = Mlp::load(&arch, &model).unwrap();
        let t = if threat == "flow" { Threat::Flow } else { Threat::Linf };
        let lam = flow::lambda(28, 28, Neighbours::Diag4, Padding::Constant).unwrap();
        let p = run::pair_matrix(&mlp, t, Some(&lam), 1.0, 0, 1);
        let again = sdp::dense_upper_from_c(&p, d, &duals[..d]);
        let upper = pairs[0]["upper"].as_f64().unwrap();
        assert_eq!(bounds[1], upper);
        assert!(again <= upper * (1.0 + 1e-12), "{threat}: {again} > {upper}");
        assert!(again >= pairs[0]["lower"].as_f64().unwrap());
        // --duals: the verified bounds of given duals (here the run's own) never raise a bound
        if threat == "linf" {
            let again = tmp("cert-linf-duals");
            let (ok, _, err) = advlab(&[
                "--device",
                "cpu",
                "certify",
                "--arch",
                "mlp:784-6-10",
                "--model",
                s(&model),
                "--threat",
                "linf",
                "--eps",
                "0.01",
                "--count",
                "4",
                "--max-sweeps",
                "10",
                "--duals",
                s(&out.join("duals.npy")),
                "--out-dir",
                s(&again),
            ]);
            assert!(ok, "{err}");
            let (_, b2) = npy::read_npy_f64(&again.join("bounds.npy")).unwrap();
            for (x, y) in b2.iter().zip(&bounds) {
                assert!(*x <= *y * (1.0 + 1e-9), "with --duals: {x} > {y}");
            }
        }
        // ε = 7 certifies nothing (the box covers the image), as SPEC §8 says for flows
        let acc = &v["results"]["certified_accuracy"];
        if threat == "flow" {
            assert_eq!(acc[2]["accuracy"].as_f64().unwrap(), 0.0, "{acc}");
        }
    }
}

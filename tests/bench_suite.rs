//! `advlab bench suite` in its smallest form: every workload on a sliver of
//! the bundled MNIST (and a tiny CIFAR-shaped .npy set), no PyTorch peer.
//! Checks the table and results.json (with two runs each), not speed.

mod common;

use common::cli::{advlab, assert_one_line_error, json};
use std::path::PathBuf;

use advlab::data::npy::{write_npy_f32, write_npy_i64};

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-bench-suite-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn suite_runs_every_workload_in_its_smallest_form() {
    let d = tmp("small");
    let n = 40;
    let x: Vec<f32> = (0..n * 3 * 32 * 32).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
    let y: Vec<i64> = (0..n as i64).map(|i| i % 10).collect();
    write_npy_f32(&d.join("x.npy"), &[n, 3, 32, 32], &x).unwrap();
    write_npy_i64(&d.join("y.npy"), &[n], &y).unwrap();
    let cifar = format!("npy:{},{}", d.join("x.npy").display(), d.join("y.npy").display());
    let results = d.join("results.json");
    let (ok, out, err) = advlab(&[
        "bench",
        "suite",
        "--mnist",
        "bundled",
        "--cifar",
        &cifar,
        "--fraction",
        "0.01",
        "--peak-size",
        "64",
        "--no-peer",
        "--repeat",
        "2",
        "--results",
        results.to_str().unwrap(),
    ]);
    assert!(ok, "bench suite failed: {err}");
    for w in ["mlp", "lenet", "fgsm", "cw", "alexnet"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("| {w} |"))), "no row for {w}:\n{out}");
    }
    let j = json(&results);
    assert_eq!(j["command"], "bench suite");
    assert!(j["adapter"].is_string());
    // the host CPU, which is the device on a software adapter
    assert!(j["host"]["logical_cpus"].as_u64().unwrap() >= 1, "{}", j["host"]);
    if cfg!(target_os = "linux") {
        assert!(!j["host"]["cpu"].as_str().unwrap().is_empty(), "{}", j["host"]);
        assert!(out.lines().any(|l| l.starts_with("host: ")), "no host line:\n{out}");
    }
    let peak = j["results"]["gemm_peak_gflops"].as_f64().unwrap();
    assert!(peak > 0.0);
    let rows = j["results"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    // 1% of: 2000 bundled train images, 10k capped at the 1000 bundled test
    // images, 1000 C&W images, 40 CIFAR-shaped images (at least one)
    let want = [("mlp", 20), ("lenet", 20), ("fgsm", 10), ("cw", 10), ("alexnet", 1)];
    for (r, (w, images)) in rows.iter().zip(want) {
        assert_eq!(r["workload"], w);
        assert_eq!(r["images"], images, "{w}");
        let (secs, gflops, frac) =
            (r["seconds"].as_f64().unwrap(), r["gflops"].as_f64().unwrap(), r["peak_fraction"].as_f64().unwrap());
        assert!(secs > 0.0 && gflops > 0.0, "{w}: {r}");
        // --repeat 2: both runs kept, the figure is the faster
        let runs: Vec<f64> = r["runs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(runs.len(), 2, "{w}: {r}");
        assert_eq!(secs, runs[0].min(runs[1]), "{w}: {r}");
        assert!((frac - gflops / peak).abs() < 1e-9 * frac.max(1.0), "{w}: {r}");
        assert!((r["images_per_sec"].as_f64().unwrap() - images as f64 / secs).abs() < 1e-6 * images as f64 / secs);
        assert!(r["torch"].is_null() && r["ratio"].is_null());
    }
    assert_eq!(j["results"]["peer_skipped"], "--no-peer");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn suite_rejects_bad_options_in_one_line() {
    assert_one_line_error(&["bench", "suite", "--fraction", "0", "--mnist", "bundled", "--no-peer"], &["--fraction"]);
    assert_one_line_error(&["bench", "suite", "--only", "resnet", "--no-peer"], &["resnet"]);
    assert_one_line_error(&["bench", "suite", "--repeat", "0", "--mnist", "bundled", "--no-peer"], &["--repeat"]);
}

//! The binary's data-side flags: `--split`, `--indices`, `npydir:`, the
//! class-count check, `--batch 0`, per-class accuracy and the confusion
//! matrix in `advlab eval`.

mod common;
use common::cli::{advlab, assert_one_line_error};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use advlab::data::npy::{write_npy_f32, write_npy_i64};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-cli-data-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn fixture_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlp_784_32_16_10/model.safetensors")
}

#[test]
fn batch_zero_is_an_error_for_eval_and_predict() {
    let m = fixture_model();
    assert_one_line_error(&["eval", "--arch", "mlp:784-32-16-10", "--model", s(&m), "--batch", "0"], &["--batch 0"]);
    let x = tmp("x0.npy");
    write_npy_f32(&x, &[3, 784], &[0.5; 3 * 784]).unwrap();
    let out = tmp("logits0.npy");
    assert_one_line_error(
        &[
            "predict",
            "--arch",
            "mlp:784-32-16-10",
            "--model",
            s(&m),
            "--input",
            s(&x),
            "--out",
            s(&out),
            "--batch",
            "0",
        ],
        &["--batch 0"],
    );
    assert!(!out.exists());
}

#[test]
fn eval_split_indices_per_class_and_confusion() {
    let m = fixture_model();
    let idx = tmp("idx.npy");
    write_npy_i64(&idx, &[4], &[1999, 0, 0, 7]).unwrap();
    let results = tmp("eval-sel.json");
    let (ok, stdout, err) = advlab(&[
        "eval",
        "--arch",
        "mlp:784-32-16-10",
        "--model",
        s(&m),
        "--split",
        "train",
        "--indices",
        s(&idx),
        "--results",
        s(&results),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("| label \\ predicted | 0 | 1 |"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(v["settings"]["split"], "train");
    assert_eq!(v["results"]["eval"]["n"], 4);
    let conf = v["results"]["confusion"].as_array().unwrap();
    assert_eq!(conf.len(), 10);
    assert!(conf.iter().all(|r| r.as_array().unwrap().len() == 10));
    let total: u64 = conf.iter().flat_map(|r| r.as_array().unwrap()).map(|x| x.as_u64().unwrap()).sum();
    assert_eq!(total, 4);
    let per: u64 = v["results"]["per_class"].as_array().unwrap().iter().map(|c| c["n"].as_u64().unwrap()).sum();
    assert_eq!(per, 4);
    // the bundled train split has 2,000 images: 2000 is out of range
    write_npy_i64(&idx, &[2], &[5, 2000]).unwrap();
    assert_one_line_error(
        &["eval", "--arch", "mlp:784-32-16-10", "--model", s(&m), "--split", "train", "--indices", s(&idx)],
        &["idx.npy", "index 2000 at position 1", "2000 images"],
    );
    assert_one_line_error(
        &["eval", "--arch", "mlp:784-32-16-10", "--model", s(&m), "--split", "val"],
        &["train or test"],
    );
}

#[test]
fn eval_labels_outside_the_models_classes_are_an_error() {
    // A 7-class model on 10-class data used to score silently.
    let m = tmp("seven.safetensors");
    let w = vec![0.01f32; 7 * 784];
    let b = [0.0f32; 7];
    advlab::nn::checkpoint::save(
        &m,
        &[("fc1.weight".into(), vec![7, 784], &w[..]), ("fc1.bias".into(), vec![7], &b[..])],
        &BTreeMap::new(),
    )
    .unwrap();
    // bundled test labels start 7, 2, 1, 0, 4, 1, 4, 9: the first >= 7 is at position 0
    assert_one_line_error(
        &["eval", "--arch", "mlp:784-7", "--model", s(&m)],
        &["--data bundled (test split)", "label 7 at position 0", "7 classes"],
    );
}

#[test]
fn eval_reads_npydir_test_files_and_train_warns_on_npy() {
    let d = tmp("npydir");
    std::fs::create_dir_all(&d).unwrap();
    let x: Vec<f32> = (0..4 * 784).map(|i| (i % 7) as f32 / 7.0).collect();
    write_npy_f32(&d.join("train_x.npy"), &[4, 784], &x).unwrap();
    write_npy_i64(&d.join("train_y.npy"), &[4], &[0, 1, 2, 3]).unwrap();
    write_npy_f32(&d.join("test_x.npy"), &[2, 1, 28, 28], &x[..2 * 784]).unwrap();
    write_npy_i64(&d.join("test_y.npy"), &[2], &[5, 6]).unwrap();
    let results = tmp("eval-npydir.json");
    let m = fixture_model();
    let data = format!("npydir:{}", d.display());
    let (ok, _, err) =
        advlab(&["eval", "--arch", "mlp:784-32-16-10", "--model", s(&m), "--data", &data, "--results", s(&results)]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(v["results"]["eval"]["n"], 2);
    let conf = &v["results"]["confusion"];
    let row_sum = |r: usize| conf[r].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).sum::<u64>();
    assert_eq!((row_sum(5), row_sum(6)), (1, 1));
    // npy: uses one file pair for both splits; training on it says so
    let npy = format!("npy:{},{}", d.join("train_x.npy").display(), d.join("train_y.npy").display());
    let out = tmp("npy-train.safetensors");
    let (ok, _, err) = advlab(&[
        "train",
        "--arch",
        "mlp:784-10",
        "--epochs",
        "1",
        "--data",
        &npy,
        "--out",
        s(&out),
        "--results",
        s(&tmp("npy-train.json")),
    ]);
    assert!(ok, "{err}");
    let warn: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warn.len(), 1, "{err}");
    assert!(warn[0].contains("training images") && warn[0].contains("npydir:DIR"), "{}", warn[0]);
}

/// `warp` and `flow-loss` write results.json with `--results` (adapter,
/// settings, their numbers) and never over another command's results.
#[test]
fn warp_and_flow_loss_write_results() {
    let (x, f, y) = (tmp("wx.npy"), tmp("wf.npy"), tmp("wy.npy"));
    write_npy_f32(&x, &[2, 1, 28, 28], &[0.25; 2 * 784]).unwrap();
    let flow: Vec<f32> = (0..2 * 2 * 784).map(|i| (i % 7) as f32 * 0.1).collect();
    write_npy_f32(&f, &[2, 2, 28, 28], &flow).unwrap();
    let (wr, fr) = (tmp("warp.json"), tmp("flow.json"));
    let _ = (std::fs::remove_file(&wr), std::fs::remove_file(&fr));
    let (ok, _, err) = advlab(&["warp", "--input", s(&x), "--flow", s(&f), "--out", s(&y), "--results", s(&wr)]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&wr).unwrap()).unwrap();
    assert_eq!(v["command"], "warp");
    assert!(v["adapter"].is_string() && v["settings"]["flow"].as_str().unwrap().ends_with("wf.npy"), "{v}");
    assert_eq!(v["results"]["images"], 2);
    let (ok, _, err) = advlab(&["flow-loss", "--flow", s(&f), "--variant", "shift", "--results", s(&fr)]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&fr).unwrap()).unwrap();
    assert_eq!((v["command"].as_str(), v["settings"]["variant"].as_str()), (Some("flow-loss"), Some("shift")));
    let l = v["results"]["l_flow"].as_array().unwrap();
    assert_eq!(l.len(), 2);
    assert!(l[0].as_f64().unwrap() > 0.0);
    // each refuses the other's file, before any work
    let _ = std::fs::remove_file(&y);
    assert_one_line_error(
        &["warp", "--input", s(&x), "--flow", s(&f), "--out", s(&y), "--results", s(&fr)],
        &["flow.json", "flow-loss"],
    );
    assert!(!y.exists());
    assert_one_line_error(&["flow-loss", "--flow", s(&f), "--results", s(&wr)], &["warp.json", "`advlab warp`"]);
}

/// On wgpu's OpenGL backend (picked when no Vulkan driver is installed)
/// the kernels' GLSL is rejected; that is one line naming the adapter and
/// the kernel, not a panic in wgpu's error handler. Where no GL adapter
/// exists the run fails with the adapter error; where one builds the
/// kernels it succeeds.
#[test]
fn gl_backend_fails_in_one_line() {
    let m = fixture_model();
    let res = tmp("gl.json");
    let out = Command::new(env!("CARGO_BIN_EXE_advlab"))
        .args(["eval", "--arch", "mlp:784-32-16-10", "--model", s(&m), "--results", s(&res)])
        .env("NODEVICE_SELECT", "1")
        .env("WGPU_BACKEND", "gl")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    if !out.status.success() {
        let errs: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errs.len(), 1, "{err}");
        if errs[0].contains("(Gl,") {
            assert!(errs[0].contains("cannot build advlab's kernels") && errs[0].contains("kernel "), "{}", errs[0]);
        }
    }
}

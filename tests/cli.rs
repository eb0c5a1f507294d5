//! The binary: bad input gives one line on stderr naming the input, a
//! non-zero exit and no panic; the default job works on the bundled data.

mod common;
use common::cli::{advlab, assert_one_line_error};

use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlp_784_32_16_10")
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn unknown_arch_is_an_error() {
    let out = tmp("a.safetensors");
    assert_one_line_error(&["train", "--arch", "resnet9000", "--out", out.to_str().unwrap()], &["resnet9000", "known"]);
}

#[test]
fn unknown_adapter_lists_the_adapters() {
    let out = tmp("b.safetensors");
    assert_one_line_error(
        &[
            "--adapter",
            "no-such-gpu-xyz",
            "train",
            "--arch",
            "mlp:784-10",
            "--epochs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        &["no-such-gpu-xyz", "available"],
    );
}

#[test]
fn truncated_and_wrong_magic_idx_are_errors() {
    let dir = tmp("mnist-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/mnist");
    for f in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    // truncated raw test images (takes precedence? use the raw name, remove the gz)
    std::fs::remove_file(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let mut raw = vec![0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28];
    raw.extend(vec![0u8; 100]);
    write(&dir.join("t10k-images-idx3-ubyte"), &raw);
    let spec = format!("mnist:{}", dir.display());
    let model = fixture().join("model.safetensors");
    assert_one_line_error(
        &["eval", "--arch", "mlp:784-32-16-10", "--model", model.to_str().unwrap(), "--data", &spec],
        &["t10k-images-idx3-ubyte", "truncated"],
    );
    raw[3] = 1; // wrong magic
    write(&dir.join("t10k-images-idx3-ubyte"), &raw);
    assert_one_line_error(
        &["eval", "--arch", "mlp:784-32-16-10", "--model", model.to_str().unwrap(), "--data", &spec],
        &["t10k-images-idx3-ubyte", "magic"],
    );
}

#[test]
fn npy_of_wrong_dtype_or_shape_is_an_error() {
    let model = fixture().join("model.safetensors");
    let out = tmp("logits.npy");
    // wrong shape: 5 × 100
    let bad_shape = tmp("bad_shape.npy");
    advlab::data::npy::write_npy_f32(&bad_shape, &[5, 100], &vec![0.5; 500]).unwrap();
    assert_one_line_error(
        &[
            "predict",
            "--arch",
            "mlp:784-32-16-10",
            "--model",
            model.to_str().unwrap(),
            "--input",
            bad_shape.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &["bad_shape.npy", "784"],
    );
    // wrong dtype: int64
    let bad_dtype = tmp("bad_dtype.npy");
    advlab::data::npy::write_npy_i64(&bad_dtype, &[1, 784], &vec![0; 784]).unwrap();
    assert_one_line_error(
        &[
            "predict",
            "--arch",
            "mlp:784-32-16-10",
            "--model",
            model.to_str().unwrap(),
            "--input",
            bad_dtype.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &["bad_dtype.npy", "float32"],
    );
}

#[test]
fn safetensors_missing_or_misshapen_tensor_is_an_error() {
    let x = fixture().join("x.npy");
    let out = tmp("logits2.npy");
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("k".to_string(), "v".to_string());
    let missing = tmp("missing.safetensors");
    let w = vec![0.1f32; 32 * 784];
    advlab::nn::checkpoint::save(&missing, &[("fc1.weight".into(), vec![32, 784], &w)], &meta).unwrap();
    assert_one_line_error(
        &[
            "predict",
            "--arch",
            "mlp:784-32-10",
            "--model",
            missing.to_str().unwrap(),
            "--input",
            x.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &["missing.safetensors", "fc1.bias"],
    );
    let misshapen = tmp("misshapen.safetensors");
    let b = vec![0.0f32; 31];
    let w2 = vec![0.0f32; 320];
    let b2 = vec![0.0f32; 10];
    advlab::nn::checkpoint::save(
        &misshapen,
        &[
            ("fc1.weight".into(), vec![32, 784], &w),
            ("fc1.bias".into(), vec![31], &b),
            ("fc2.weight".into(), vec![10, 32], &w2),
            ("fc2.bias".into(), vec![10], &b2),
        ],
        &meta,
    )
    .unwrap();
    assert_one_line_error(
        &[
            "predict",
            "--arch",
            "mlp:784-32-10",
            "--model",
            misshapen.to_str().unwrap(),
            "--input",
            x.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &["misshapen.safetensors", "fc1.bias", "[32]"],
    );
}

#[test]
fn predict_matches_the_pytorch_fixture() {
    let dir = fixture();
    let out = tmp("fixture_logits.npy");
    let (ok, _, err) = advlab(&[
        "predict",
        "--arch",
        "mlp:784-32-16-10",
        "--model",
        dir.join("model.safetensors").to_str().unwrap(),
        "--input",
        dir.join("x.npy").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (_, got) = advlab::data::npy::read_npy_f32(&out).unwrap();
    let (_, want) = advlab::data::npy::read_npy_f32(&dir.join("logits.npy")).unwrap();
    let max = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(max <= 1e-4, "max abs difference {max}");
}

#[test]
fn default_train_then_eval_on_bundled_data() {
    let out = tmp("default.safetensors");
    let results = tmp("train-results.json");
    let (ok, stdout, err) = advlab(&[
        "train",
        "--arch",
        "mlp:784-64-10",
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("test accuracy"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert!(v["adapter"].is_string() && v["settings"]["config"]["seed"].is_number(), "{v}");
    let acc = v["results"]["test"]["accuracy"].as_f64().unwrap();
    assert!(acc > 0.7, "one epoch on the subset reached only {acc}");
    let (ok, stdout, err) = advlab(&[
        "eval",
        "--arch",
        "mlp:784-64-10",
        "--model",
        out.to_str().unwrap(),
        "--results",
        tmp("eval.json").to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains('%'), "{stdout}");
}

#[test]
fn train_init_starts_from_the_given_weights() {
    // With lr 0 one epoch leaves the --init weights as they were, bit for bit.
    let fx = fixture();
    let (init, out, res) = (fx.join("model.safetensors"), tmp("init.safetensors"), tmp("init.json"));
    let (init, out2) = (init.to_str().unwrap(), tmp("init2.safetensors"));
    let args = [
        "train",
        "--arch",
        "mlp:784-32-16-10",
        "--epochs",
        "1",
        "--lr",
        "0",
        "--weight-decay",
        "0",
        "--augment",
        "flip",
        "--init",
        init,
        "--out",
        out.to_str().unwrap(),
        "--results",
        res.to_str().unwrap(),
    ];
    let (ok, _, err) = advlab(&args);
    assert!(ok, "train --init failed: {err}");
    let (a, b) = (std::fs::read(init).unwrap(), std::fs::read(&out).unwrap());
    let (a, b) =
        (safetensors::SafeTensors::deserialize(&a).unwrap(), safetensors::SafeTensors::deserialize(&b).unwrap());
    for name in ["fc1.weight", "fc1.bias", "fc2.weight", "fc3.weight", "fc3.bias"] {
        assert_eq!(a.tensor(name).unwrap().data(), b.tensor(name).unwrap().data(), "{name} changed");
    }
    // weights of another architecture: one line naming the file and the tensor
    assert_one_line_error(
        &["train", "--arch", "mlp:784-20-10", "--epochs", "1", "--init", init, "--out", out2.to_str().unwrap()],
        &["model.safetensors", "fc1.weight"],
    );
}

/// Flags `advlab train` can check before loading data or opening the GPU
/// are refused in one line, before an epoch is spent.
#[test]
fn train_refuses_bad_flags_up_front() {
    let out = tmp("flags.safetensors");
    let o = out.to_str().unwrap();
    let base = ["train", "--arch", "mlp:784-8-10", "--out", o];
    for (extra, needles) in [
        (&["--lr", "nan"][..], &["--lr", "NaN"][..]),
        (&["--lr", "-0.1"], &["--lr", ">= 0"]),
        (&["--epochs", "0"], &["--epochs"]),
        (&["--batch", "0"], &["--batch"]),
        (&["--momentum", "1.5"], &["--momentum"]),
        (&["--weight-decay", "inf"], &["--weight-decay"]),
        (&["--val", "2000"], &["--val", "2000"]),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        assert_one_line_error(&args, needles);
    }
    // an --out in a missing directory fails before training, not after an epoch
    let t = std::time::Instant::now();
    assert_one_line_error(
        &["train", "--arch", "lenet", "--out", "/nonexistent-advlab-dir/m.safetensors"],
        &["--out", "/nonexistent-advlab-dir", "does not exist"],
    );
    eprintln!("missing --out dir refused after {:.2} s", t.elapsed().as_secs_f64());
    // a 7-class MLP on 10-class data would train silently to chance
    assert_one_line_error(&["train", "--arch", "mlp:784-50-7", "--out", o], &["mlp:784-50-7", "label", "7 classes"]);
    assert_one_line_error(&["train", "--arch", "mask:1x28x28-8", "--out", o], &["mask network", "not a classifier"]);
}

/// `--resume` continues a run with the same settings and refuses other ones.
#[test]
fn train_resume_refuses_other_settings() {
    let out = tmp("resume.safetensors");
    let o = out.to_str().unwrap();
    let results = tmp("resume-results.json");
    let r = results.to_str().unwrap();
    let args = ["train", "--arch", "mlp:784-8-10", "--epochs", "1", "--out", o, "--results", r];
    let (ok, _, err) = advlab(&args);
    assert!(ok, "{err}");
    assert_one_line_error(
        &["train", "--arch", "mlp:784-8-10", "--epochs", "2", "--lr", "0.1", "--resume", "--out", o, "--results", r],
        &["--resume", "optim.lr", "0.05 then, 0.1 now"],
    );
    let (ok, _, err) =
        advlab(&["train", "--arch", "mlp:784-8-10", "--epochs", "2", "--resume", "--out", o, "--results", r]);
    assert!(ok && err.contains("resuming after epoch 1"), "{err}");
    // the recipe is in --help
    let (_, help, _) = advlab(&["train", "--help"]);
    assert!(help.contains("lenet") && help.contains("--schedule cosine") && help.contains("--val"), "{help}");
}

/// Option values print as the command line spells them (`gpu`, `sgd`,
/// `crop-flip`), never as Rust names (`Gpu`, `Sgd`, `CropFlip`): in
/// `--help` defaults and possible values, errors and progress lines.
#[test]
fn enum_values_print_in_their_cli_spelling() {
    let commands: &[&[&str]] = &[
        &[],
        &["train"],
        &["eval"],
        &["predict"],
        &["warp"],
        &["flow-loss"],
        &["bench", "train"],
        &["attack", "fgsm"],
        &["attack", "pgd"],
        &["attack", "cw"],
        &["attack", "jsma"],
        &["attack", "stadv"],
    ];
    for cmd in commands {
        let (ok, help, err) = advlab(&[cmd, &["--help"][..]].concat());
        assert!(ok, "{cmd:?} --help: {err}");
        let mut values = Vec::new();
        for line in help.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("[default: ").and_then(|v| v.strip_suffix(']')) {
                values.push(v);
            }
            if let Some(v) = line.strip_prefix("- ").and_then(|v| v.split(':').next()) {
                values.push(v);
            }
        }
        assert!(values.contains(&"auto"), "{cmd:?}: no --device default in {help}");
        for v in values {
            assert_eq!(v, v.to_lowercase(), "{cmd:?} --help shows a capitalised value: {help}");
        }
    }
    assert_one_line_error(
        &["--device", "gpu", "--adapter", "no-such-gpu-xyz", "eval", "--arch", "mlp:784-10", "--model", "x"],
        &["no-such-gpu-xyz", "matches no gpu adapter"],
    );
    let out = tmp("spelling.safetensors");
    let (res, out) = (tmp("spelling.json"), out.to_str().unwrap());
    let args = ["train", "--arch", "mlp:784-10", "--epochs", "1", "--augment", "--out", out, "--results"];
    let (ok, _, err) = advlab(&[&args[..], &[res.to_str().unwrap()]].concat());
    assert!(ok, "{err}");
    let line = err.lines().find(|l| l.starts_with("training ")).unwrap_or_else(|| panic!("no training line: {err}"));
    assert!(line.contains(" sgd lr ") && line.contains(" (constant)") && line.contains("augment crop-flip"), "{line}");
}

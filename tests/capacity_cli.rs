//! `--batch` beyond what the adapter holds, through the binary: inference
//! and attacks run as device batches with the same results as a run whose
//! `--batch` is one device batch; training refuses before any work, naming
//! the largest batch that fits. `ADVLAB_MAX_BINDING_KIB` shrinks the
//! adapter's binding limit so the split happens on a few MNIST images
//! instead of 100,000 CIFAR ones. Before device batches, each of these
//! panicked in `Gpu::alloc`.

mod common;
use common::cli::{advlab_env, assert_one_line_error, assert_one_line_error_env, json};

use std::path::{Path, PathBuf};

use advlab::data::npy::{read_npy_f32, write_npy_f32};

const ARCH: &str = "mlp:784-32-16-10";
/// 128 KiB holds the fixture's weights (784·32 floats) and 41 images of
/// 784 floats (its largest per-image tensor): 131072 / 3136 = 41.
const CAP_KIB: &str = "128";
const DEVICE_BATCH: usize = 41;

fn advlab(args: &[&str], cap: Option<&str>) -> (bool, String, String) {
    match cap {
        Some(k) => advlab_env(args, &[("ADVLAB_MAX_BINDING_KIB", k)]),
        None => advlab_env(args, &[]),
    }
}

fn ok(args: &[&str], cap: Option<&str>) -> String {
    let (ok, _, err) = advlab(args, cap);
    assert!(ok && !err.contains("panicked"), "{args:?} (cap {cap:?}) failed: {err}");
    err
}

fn one_line_error(args: &[&str], cap: Option<&str>, needles: &[&str]) {
    match cap {
        Some(k) => assert_one_line_error_env(args, &[("ADVLAB_MAX_BINDING_KIB", k)], needles),
        None => assert_one_line_error(args, needles),
    }
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-capacity-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).join("model.safetensors")
}

/// `attack METHOD` on 100 images with `--batch 100000` under the cap
/// (device batches of `per`) equals the uncapped run with `--batch per`.
fn attack_splits(method: &str, extra: &[&str], per: usize) {
    let d = dir(method);
    let m = fixture("mlp_784_32_16_10");
    let run = |out: &Path, batch: &str, cap: Option<&str>| {
        let mut a = vec!["attack", method, "--arch", ARCH, "--model", s(&m), "--count", "100", "--seed", "3"];
        a.extend(extra);
        a.extend(["--batch", batch, "--out-dir", s(out)]);
        ok(&a, cap)
    };
    let (split, whole) = (d.join("split"), d.join("whole"));
    let err = run(&split, "100000", Some(CAP_KIB));
    assert!(err.contains(&format!("running device batches of {per} images")), "{method}: {err}");
    run(&whole, &per.to_string(), None);
    for f in ["adv.npy", "labels.npy"] {
        let (a, b) = (std::fs::read(split.join(f)).unwrap(), std::fs::read(whole.join(f)).unwrap());
        assert!(a == b, "{method}: {f} of the split run differs from --batch {per}");
    }
    let (a, b) = (json(&split.join("results.json")), json(&whole.join("results.json")));
    assert_eq!(a["results"]["per_image"], b["results"]["per_image"], "{method}: per_image");
    assert_eq!(a["results"]["summary"], b["results"]["summary"], "{method}: summary");
    assert_eq!(a["results"]["per_image"].as_array().unwrap().len(), 100);
}

#[test]
fn fgsm_and_pgd_split_oversized_batches() {
    attack_splits("fgsm", &["--eps", "0.1"], DEVICE_BATCH);
    attack_splits("pgd", &["--eps", "0.1", "--iters", "3"], DEVICE_BATCH);
}

#[test]
fn cw_and_jsma_split_oversized_batches() {
    // C&W keeps (δ, m, v, w0) per input element: 131072 / (4·784·4) = 10 images
    attack_splits("cw", &["--binary-steps", "1", "--iters", "5"], 10);
    attack_splits("jsma", &["--target", "next", "--gamma", "0.02"], DEVICE_BATCH);
}

#[test]
fn stadv_splits_oversized_batches() {
    // each image also keeps a 2×28×28 flow: 131072 / (1568·4) = 20 images
    attack_splits("stadv", &["--optimizer", "adam", "--iters", "5"], 20);
}

#[test]
fn eval_and_predict_split_oversized_batches() {
    let d = dir("eval");
    let m = fixture("mlp_784_32_16_10");
    let eval = |json_out: &Path, batch: &str, cap| {
        ok(&["eval", "--arch", ARCH, "--model", s(&m), "--batch", batch, "--results", s(json_out)], cap)
    };
    let err = eval(&d.join("split.json"), "100000", Some(CAP_KIB));
    assert!(err.contains("--batch 100000"), "{err}");
    eval(&d.join("whole.json"), &DEVICE_BATCH.to_string(), None);
    let (a, b) = (json(&d.join("split.json")), json(&d.join("whole.json")));
    assert_eq!(a["settings"]["device_batch"], DEVICE_BATCH);
    assert_eq!(a["results"]["eval"], b["results"]["eval"]);
    assert_eq!(a["results"]["confusion"], b["results"]["confusion"]);

    let x = d.join("x.npy");
    let pixels: Vec<f32> = (0..100 * 784).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    write_npy_f32(&x, &[100, 784], &pixels).unwrap();
    let predict = |out: &Path, batch: &str, cap| {
        ok(&["predict", "--arch", ARCH, "--model", s(&m), "--input", s(&x), "--out", s(out), "--batch", batch], cap)
    };
    predict(&d.join("split.npy"), "100000", Some(CAP_KIB));
    predict(&d.join("whole.npy"), &DEVICE_BATCH.to_string(), None);
    let (a, b) = (read_npy_f32(&d.join("split.npy")).unwrap(), read_npy_f32(&d.join("whole.npy")).unwrap());
    assert_eq!(a.0, vec![100, 10]);
    assert!(a.1 == b.1, "predict: split logits differ from --batch {DEVICE_BATCH}");
}

#[test]
fn train_refuses_a_batch_beyond_the_device_and_trains_within_it() {
    let d = dir("train");
    let out = d.join("m.safetensors");
    let train = |batch: &str| {
        vec![
            "train".to_string(),
            "--arch".into(),
            ARCH.into(),
            "--epochs".into(),
            "1".into(),
            "--batch".into(),
            batch.into(),
            "--out".into(),
            s(&out).into(),
            "--results".into(),
            s(&d.join("train.json")).into(),
        ]
    };
    let args = train("100000");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    one_line_error(&args, Some(CAP_KIB), &["--batch 100000", &format!("at most {DEVICE_BATCH} images")]);
    assert!(!out.exists(), "a refused batch must not leave a model behind");
    let bench = d.join("bench.json");
    for b in [&["bench", "train", "--arch", ARCH][..], &["bench", "conv", "--arch", "lenet"][..]] {
        let args = [b, &["--batch", "100000", "--results", s(&bench)][..]].concat();
        one_line_error(&args, Some(CAP_KIB), &["--batch 100000", "at most"]);
    }
    // the largest batch that fits trains, and its end-of-epoch evaluation
    // (1000 test images) runs in device batches too
    let args = train(&DEVICE_BATCH.to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&args, Some(CAP_KIB));
    assert!(out.exists());
}

#[test]
fn arrays_beyond_the_binding_limit_are_one_line_errors() {
    let d = dir("warp");
    let (x, f) = (d.join("x.npy"), d.join("f.npy"));
    write_npy_f32(&x, &[64, 1, 28, 28], &vec![0.5; 64 * 784]).unwrap();
    write_npy_f32(&f, &[64, 2, 28, 28], &vec![0.0; 64 * 2 * 784]).unwrap();
    let out = d.join("y.npy");
    one_line_error(&["warp", "--input", s(&x), "--flow", s(&f), "--out", s(&out)], Some("64"), &["x.npy", "limit"]);
    assert!(!out.exists());
    one_line_error(&["flow-loss", "--flow", s(&f)], Some("64"), &["f.npy", "limit"]);
    // a model whose weights do not fit: an error naming the file
    one_line_error(
        &["eval", "--arch", ARCH, "--model", s(&fixture("mlp_784_32_16_10")), "--results", s(&d.join("e.json"))],
        Some("64"),
        &["model.safetensors", "fc1.weight", "limit"],
    );
    let (e, m) = (d.join("e2.json"), fixture("mlp_784_32_16_10"));
    let args = ["eval", "--arch", ARCH, "--model", s(&m), "--results", s(&e)];
    one_line_error(&args, Some("lots"), &["ADVLAB_MAX_BINDING_KIB"]);
}

fn cifar() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cifar-10-batches-bin");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent", p.display());
        None
    }
}

/// The case: `--batch 100000` on CIFAR with alexnet-cifar, at the
/// adapter's real limits for training and with a 1 MiB cap (6 images per
/// device batch) for an attack.
#[test]
fn cifar_batch_100000() {
    let Some(dir_c) = cifar() else { return };
    let data = format!("cifar10:{}", dir_c.display());
    let d = dir("cifar");
    let out = d.join("a.safetensors");
    one_line_error(
        &["train", "--arch", "alexnet-cifar", "--data", &data, "--batch", "100000", "--out", s(&out)],
        None,
        &["--batch 100000", "--arch alexnet-cifar", "at most"],
    );
    assert!(!out.exists());
    let m = fixture("alexnet_cifar");
    let attack = |out: &Path, batch: &str, cap| {
        let a = ["attack", "fgsm", "--arch", "alexnet-cifar", "--model", s(&m), "--data", &data, "--count", "10"];
        let mut a = a.to_vec();
        a.extend(["--eps", "0.03", "--batch", batch, "--out-dir", s(out)]);
        ok(&a, cap)
    };
    let err = attack(&d.join("split"), "100000", Some("1024"));
    assert!(err.contains("running device batches of 6 images"), "{err}");
    attack(&d.join("whole"), "6", None);
    let (a, b) = (std::fs::read(d.join("split/adv.npy")).unwrap(), std::fs::read(d.join("whole/adv.npy")).unwrap());
    assert!(a == b, "cifar fgsm: split adv.npy differs from --batch 6");
}

//! `advlab lan train`, `lan masks` and `detect` end to end on the bundled
//! MNIST subset with tiny models (f2 trained through `advlab train --data
//! npydir:`), TP/TN recomputable from detect's per-image records, and the
//! one-line errors for β < 0, a LAN of another shape and an f2 of another
//! input shape.

mod common;
use common::cli::{advlab, advlab_ok as ok, lan_masks_bundled, lan_train_bundled};

use std::path::{Path, PathBuf};

use advlab::nn::{Arch, Model};

fn one_line_error(args: &[&str], needles: &[&str]) {
    let (ok, _, err) = advlab(args);
    assert!(!ok, "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    // Mesa may print "error: XDG_RUNTIME_DIR is invalid..." lines of its own
    let errs: Vec<&str> = err.lines().filter(|l| l.starts_with("error:") && !l.contains("XDG_RUNTIME_DIR")).collect();
    assert_eq!(errs.len(), 1, "{args:?}: {err}");
    for n in needles {
        assert!(errs[0].contains(n), "{args:?}: {} lacks {n:?}", errs[0]);
    }
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-lan-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn save(arch: &str, path: &Path) {
    let gpu = common::gpu();
    Model::init(&gpu, Arch::parse(arch).unwrap(), 1).save(&gpu, path, Default::default()).unwrap();
}

#[test]
fn lan_masks_f2_detect_pipeline_on_bundled_mnist() {
    let d = dir("pipe");
    let f1 = d.join("f1.safetensors");
    ok(&["train", "--arch", "mlp:784-32-10", "--epochs", "1", "--out", s(&f1), "--results", s(&d.join("f1.json"))]);
    let lan = d.join("lan.safetensors");
    lan_train_bundled("mlp:784-32-10", &f1, "mask:1x28x28-16", &lan, 1, &["--val", "100"]);
    lan_train_bundled("mlp:784-32-10", &f1, "mask:1x28x28-16", &lan, 2, &["--val", "100", "--resume"]);
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("lan.json")).unwrap()).unwrap();
    assert_eq!(j["settings"]["resumed_from_epoch"], 1);
    assert_eq!(j["command"], "lan train");
    assert!(j["results"]["epochs"][0]["eval"]["val_loss"].is_number(), "{j}");
    assert!(d.join("lan.best.safetensors").exists());

    let m = d.join("masks");
    for (split, count) in [("train", 300), ("test", 200)] {
        lan_masks_bundled(&lan, split, count, &m);
    }
    for f in ["train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy", "masks.npy", "labels.npy", "test_grid.png"] {
        assert!(m.join(f).exists(), "{f} missing");
    }
    let (shape, masks) = advlab::data::npy::read_npy_f32(&m.join("test_x.npy")).unwrap();
    assert_eq!(shape, vec![200, 1, 28, 28]);
    assert!(masks.iter().all(|v| (0.0..=1.0).contains(v)));
    // the masks are A(x) itself: recompute a few with the library
    let gpu = common::gpu();
    let g = Model::load(&gpu, Arch::parse("mask:1x28x28-16").unwrap(), &lan).unwrap();
    let test = advlab::data::load(&advlab::data::DataSpec::Bundled, advlab::data::Split::Test).unwrap().take_first(4);
    let want = gpu.read(&g.logits(&gpu, &gpu.upload(&test.images, &[4, 1, 28, 28])));
    let err = want.iter().zip(&masks).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(err < 1e-6, "masks.npy differs from A(x) by {err}");

    let f2 = d.join("f2.safetensors");
    let npydir = format!("npydir:{}", m.display());
    ok(&[
        "train",
        "--arch",
        "mlp:784-16-10",
        "--data",
        &npydir,
        "--epochs",
        "1",
        "--out",
        s(&f2),
        "--results",
        s(&d.join("f2.json")),
    ]);

    // "adversarial" = the test images, benign = 50 of them again: TP/TN recompute from the records
    let x = d.join("x.npy");
    let y = d.join("y.npy");
    let t = advlab::data::load(&advlab::data::DataSpec::Bundled, advlab::data::Split::Test).unwrap().take_first(80);
    advlab::data::npy::write_npy_f32(&x, &[80, 1, 28, 28], &t.images).unwrap();
    let l: Vec<i64> = t.labels.iter().map(|&v| v as i64).collect();
    advlab::data::npy::write_npy_i64(&y, &[80], &l).unwrap();
    let b = d.join("b.npy");
    advlab::data::npy::write_npy_f32(&b, &[50, 1, 28, 28], &t.images[..50 * 784]).unwrap();
    let out = d.join("detect");
    let args = [
        "detect",
        "--arch",
        "mlp:784-32-10",
        "--model",
        s(&f1),
        "--lan",
        s(&lan),
        "--f2",
        s(&f2),
        "--f2-arch",
        "mlp:784-16-10",
        "--input",
        s(&x),
        "--labels",
        s(&y),
        "--benign",
        s(&b),
        "--out-dir",
        s(&out),
    ];
    let table = ok(&args);
    assert!(table.contains("AUC"), "{table}");
    assert!(out.join("roc.png").exists());
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let recs = r["results"]["per_image"].as_array().unwrap();
    let bens = r["results"]["benign_per_image"].as_array().unwrap();
    assert_eq!((recs.len(), bens.len()), (80, 50));
    let flagged = |v: &[serde_json::Value]| v.iter().filter(|r| r["flag"].as_bool().unwrap()).count();
    for rec in recs {
        let (p1, p2) = (rec["f1_pred"].as_u64().unwrap(), rec["f2_pred"].as_u64().unwrap());
        assert_eq!(rec["flag"].as_bool().unwrap(), p1 != p2);
        let sc = rec["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&sc));
        if p1 == p2 {
            assert!(sc <= 0.9 + 1e-6, "f2 agrees with f1, so p_f2(f1 class) is its max >= 1/10");
        }
    }
    let det = &r["results"]["detection"];
    assert!((det["tp"].as_f64().unwrap() - flagged(recs) as f64 / 80.0).abs() < 1e-12);
    assert!((det["tn"].as_f64().unwrap() - (1.0 - flagged(bens) as f64 / 50.0)).abs() < 1e-12);
    // the benign images are the first 50 of the input: identical verdicts
    for (a, b) in recs.iter().zip(bens) {
        assert_eq!(a["flag"], b["flag"]);
    }
    let auc = det["auc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auc));
    let f1_acc = r["results"]["summary"]["f1_accuracy"].as_f64().unwrap();
    let manual = recs.iter().filter(|r| r["f1_pred"] == r["label"]).count() as f64 / 80.0;
    assert!((f1_acc - manual).abs() < 1e-12);
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let d = dir("bad");
    let f1 = d.join("f1.safetensors");
    save("mlp:784-8-10", &f1);
    let out = d.join("lan.safetensors");
    one_line_error(
        &[
            "lan",
            "train",
            "--arch",
            "mlp:784-8-10",
            "--model",
            s(&f1),
            "--data",
            "bundled",
            "--beta",
            "-1",
            "--out",
            s(&out),
        ],
        &["--beta", "-1"],
    );
    one_line_error(
        &[
            "lan",
            "train",
            "--arch",
            "mlp:784-8-10",
            "--model",
            s(&f1),
            "--data",
            "bundled",
            "--beta",
            "1",
            "--lan-arch",
            "mask:3x32x32-8",
            "--out",
            s(&out),
            "--results",
            s(&d.join("r.json")),
        ],
        &["3×32×32", "1×28×28"],
    );
    assert!(!out.exists(), "a refused run wrote its LAN");
    let lan_bad = d.join("lan-cifar.safetensors");
    let gpu = common::gpu();
    let m = Model::init(&gpu, Arch::parse("mask:3x32x32-4").unwrap(), 1);
    m.save(&gpu, &lan_bad, Default::default()).unwrap(); // writes arch metadata
    one_line_error(
        &["lan", "masks", "--lan", s(&lan_bad), "--data", "bundled", "--count", "5", "--out-dir", s(&d.join("m"))],
        &["--lan", "masks", "1×28×28"],
    );
    assert!(!d.join("m").exists());
    let lan_ok = d.join("lan-ok.safetensors");
    save("mask:1x28x28-4", &lan_ok);
    let f2 = d.join("f2.safetensors");
    save("lenet:3x32x32", &f2);
    let f2_ok = d.join("f2-ok.safetensors");
    save("lenet", &f2_ok);
    let x = d.join("x.npy");
    advlab::data::npy::write_npy_f32(&x, &[2, 1, 28, 28], &[0.5; 2 * 784]).unwrap();
    let base = ["detect", "--arch", "mlp:784-8-10", "--model", s(&f1), "--input", s(&x), "--out-dir"];
    let det_out = d.join("det");
    fn cat<'a>(base: &[&'a str], out: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
        [base, &[out], rest].concat()
    }
    let with =
        |rest: &[&'_ str]| -> Vec<String> { cat(&base, s(&det_out), rest).into_iter().map(String::from).collect() };
    let v = with(&["--lan", s(&lan_ok), "--f2", s(&f2)]);
    one_line_error(&v.iter().map(String::as_str).collect::<Vec<_>>(), &["--f2", "lenet:3x32x32", "1×28×28"]);
    let v = with(&["--lan", s(&lan_bad), "--f2", s(&f2_ok), "--f2-arch", "lenet"]);
    one_line_error(&v.iter().map(String::as_str).collect::<Vec<_>>(), &["--lan", "masks"]);
    assert!(!det_out.exists(), "a refused detect created its --out-dir");
    let cifar_x = d.join("cx.npy");
    advlab::data::npy::write_npy_f32(&cifar_x, &[1, 3, 32, 32], &[0.5; 3072]).unwrap();
    one_line_error(
        &[
            "detect",
            "--arch",
            "mlp:784-8-10",
            "--model",
            s(&f1),
            "--lan",
            s(&lan_ok),
            "--f2",
            s(&f2_ok),
            "--f2-arch",
            "lenet",
            "--input",
            s(&cifar_x),
            "--out-dir",
            s(&det_out),
        ],
        &["--input", "3×32×32"],
    );
}

/// `reproduce lan` refuses β < 0, a LAN whose masks are not f1's images and
/// an f2 for another input shape before it loads data or writes anything.
#[test]
fn reproduce_lan_bad_inputs_are_one_line_errors() {
    let d = dir("repro-bad");
    let out = d.join("out");
    let o = s(&out);
    one_line_error(&["reproduce", "lan", "--out-dir", o, "--betas", "0.1,-1"], &["--beta", "-1"]);
    one_line_error(&["reproduce", "lan", "--out-dir", o, "--beta", "-0.5"], &["--beta", "-0.5"]);
    one_line_error(&["reproduce", "lan", "--out-dir", o, "--betas", "1,x"], &["--betas", "\"x\""]);
    one_line_error(
        &["reproduce", "lan", "--out-dir", o, "--lan-arch", "mask:1x28x28-8"],
        &["--lan-arch", "1×28×28", "3×32×32"],
    );
    one_line_error(&["reproduce", "lan", "--out-dir", o, "--f2-arch", "lenet"], &["--f2-arch", "1×28×28", "3×32×32"]);
    assert!(!out.exists(), "a refused reproduce created its --out-dir");
}

/// A `:bn` LAN trains its input BatchNorm in train mode (running statistics
/// move from their init, mean 0 / variance 1, towards the pixels') and its
/// masks come from eval mode.
#[test]
fn input_bn_lan_updates_running_statistics() {
    let d = dir("bn");
    let f1 = d.join("f1.safetensors");
    save("mlp:784-16-10", &f1);
    let lan = d.join("lan.safetensors");
    lan_train_bundled("mlp:784-16-10", &f1, "mask:1x28x28-8:bn", &lan, 1, &[]);
    let ck = advlab::nn::checkpoint::Checkpoint::load(&lan).unwrap();
    let mean = ck.get("bn0.running_mean", &[784]).unwrap();
    let var = ck.get("bn0.running_var", &[784]).unwrap();
    let avg = mean.iter().sum::<f32>() / 784.0;
    // MNIST pixels average ~0.13; 8 steps at momentum 0.1 move the running mean ~57% of the way
    assert!(avg > 0.02 && avg < 0.2, "bn0.running_mean averages {avg}: not updated in training?");
    assert!(var.iter().any(|&v| v < 0.9), "bn0.running_var never left its init of 1");
    lan_masks_bundled(&lan, "test", 8, &d.join("m"));
    let _ = std::fs::remove_dir_all(&d);
}

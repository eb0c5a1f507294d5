//! Sharded attacks (`--shard K/N`) joined with `advlab merge` equal the
//! unsharded run; attack outputs feed `advlab eval`; results.json of
//! another command is never overwritten; a bad model leaves no --out-dir.

mod common;
use common::cli::{advlab, assert_one_line_error, json};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

fn ok(args: &[&str]) -> String {
    let (ok, stdout, err) = advlab(args);
    assert!(ok, "{args:?} failed: {err}");
    stdout
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advlab-shard-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const ARCH: &str = "mlp:784-32-10";

/// A small MLP trained for one epoch on the bundled subset (once per test binary).
fn model() -> &'static PathBuf {
    static M: OnceLock<PathBuf> = OnceLock::new();
    M.get_or_init(|| {
        let d = dir("model");
        let m = d.join("m.safetensors");
        ok(&["train", "--arch", ARCH, "--epochs", "1", "--out", s(&m), "--results", s(&d.join("train.json"))]);
        m
    })
}

/// Runs `attack METHOD args` unsharded and as 3 shards, merges the shards
/// (given out of order), and checks the merge equals the unsharded run.
fn shards_merge_to_the_unsharded_run(method: &str, extra: &[&str]) -> Value {
    let d = dir(method);
    let m = model();
    // 60 images: the unsharded batch of 60 and the shards' batches of 20 take
    // different GEMM kernels for the 32->10 layer (60*320 > 2^14 >= 20*320).
    let mut base = vec!["attack", method, "--arch", ARCH, "--model", s(m), "--count", "60", "--seed", "5"];
    base.extend(extra);
    let run = |out: &Path, shard: Option<&str>| {
        let mut a = base.clone();
        a.extend(["--out-dir", s(out)]);
        if let Some(k) = shard {
            a.extend(["--shard", k]);
        }
        ok(&a);
    };
    let full = d.join("full");
    run(&full, None);
    let parts: Vec<PathBuf> = (1..=3).map(|k| d.join(format!("shard{k}"))).collect();
    for (k, p) in parts.iter().enumerate() {
        run(p, Some(&format!("{}/3", k + 1)));
    }
    let merged = d.join("merged");
    ok(&["merge", s(&parts[2]), s(&parts[0]), s(&parts[1]), "--out-dir", s(&merged)]);
    for f in ["adv.npy", "labels.npy"] {
        let (a, b) = (std::fs::read(full.join(f)).unwrap(), std::fs::read(merged.join(f)).unwrap());
        assert!(a == b, "{method}: merged {f} differs from the unsharded run's");
    }
    let (a, b) = (json(&full.join("results.json")), json(&merged.join("results.json")));
    assert_eq!(a["results"]["summary"], b["results"]["summary"], "{method}: summary");
    assert_eq!(a["results"]["per_image"], b["results"]["per_image"], "{method}: per_image");
    assert_eq!(a["results"]["sweep"], b["results"]["sweep"], "{method}: sweep");
    assert_eq!(a["settings"], b["settings"], "{method}: settings");
    assert_eq!(a["settings"]["shard"], Value::Null);
    assert_eq!(json(&parts[1].join("results.json"))["settings"]["shard"], "2/3");
    assert_eq!(b["results"]["per_image"].as_array().unwrap().len(), 60);
    // a shard missing, or given twice: one line naming the shard
    assert_one_line_error(
        &["merge", s(&parts[0]), s(&parts[2]), "--out-dir", s(&d.join("m2"))],
        &["shard 2/3", "missing"],
    );
    assert_one_line_error(
        &["merge", s(&parts[0]), s(&parts[0]), s(&parts[2]), "--out-dir", s(&d.join("m3"))],
        &["2/3"],
    );
    assert_one_line_error(&["merge", s(&full), "--out-dir", s(&d.join("m4"))], &["results.json", "sharded"]);
    a
}

#[test]
fn sharded_fgsm_merges_into_the_unsharded_run() {
    let v = shards_merge_to_the_unsharded_run("fgsm", &["--eps", "0.1", "--target", "random"]);
    let s = &v["results"]["summary"];
    assert!(s["clean_correct"].as_u64().unwrap() > 30, "{s}");
    assert!(v["results"]["per_image"][0]["target"].is_u64());
}

#[test]
fn sharded_cw_sweep_merges_into_the_unsharded_run() {
    let v = shards_merge_to_the_unsharded_run(
        "cw",
        &["--binary-steps", "2", "--iters", "20", "--lr", "0.05", "--eps", "0.5,1,2"],
    );
    let sw = v["results"]["sweep"].as_array().unwrap();
    assert_eq!(sw.len(), 3);
    let ra: Vec<f64> = sw.iter().map(|p| p["robust_accuracy"].as_f64().unwrap()).collect();
    assert!(ra[0] >= ra[1] && ra[1] >= ra[2], "robust accuracy must not grow with the L2 bound: {ra:?}");
    assert!(v["results"]["summary"]["successes"].as_u64().unwrap() > 0, "{}", v["results"]["summary"]);
}

#[test]
fn adv_and_labels_feed_eval_and_the_sweep_is_plotted() {
    let d = dir("eval");
    let out = d.join("out");
    let m = model();
    let stdout = ok(&[
        "attack",
        "fgsm",
        "--arch",
        ARCH,
        "--model",
        s(m),
        "--count",
        "40",
        "--eps",
        "0.3,0.05,0.1",
        "--out-dir",
        s(&out),
    ]);
    assert!(stdout.contains("| 0.05 |"), "{stdout}");
    let v = json(&out.join("results.json"));
    let sw = v["results"]["sweep"].as_array().unwrap();
    let eps: Vec<f64> = sw.iter().map(|p| p["eps"].as_f64().unwrap()).collect();
    assert_eq!(eps, [0.3, 0.05, 0.1]);
    assert_eq!(v["settings"]["attack"]["eps"].as_f64().unwrap() as f32, 0.3, "the kept run is the largest eps");
    let (r005, r03) = (sw[1]["robust_accuracy"].as_f64().unwrap(), sw[0]["robust_accuracy"].as_f64().unwrap());
    assert!(r005 > r03, "robust accuracy at 0.05 ({r005}) should exceed that at 0.3 ({r03})");
    let plot = image::open(out.join("robust_accuracy.png")).unwrap();
    assert!(plot.width() > 100 && plot.height() > 100);
    // the adversarial set scores as the attack says
    let data = format!("npy:{},{}", s(&out.join("adv.npy")), s(&out.join("labels.npy")));
    let ej = d.join("eval.json");
    ok(&["eval", "--arch", ARCH, "--model", s(m), "--data", &data, "--results", s(&ej)]);
    let e = json(&ej);
    let acc = e["results"]["eval"]["accuracy"].as_f64().unwrap();
    let want = v["results"]["summary"]["adv_accuracy"].as_f64().unwrap();
    assert!((acc - want).abs() < 1e-9, "eval on adv.npy: {acc}, attack's adv_accuracy {want}");
}

#[test]
fn results_of_another_command_are_kept_and_a_bad_model_leaves_no_out_dir() {
    let d = dir("policy");
    let out = d.join("out");
    let m = model();
    let base = ["--arch", ARCH, "--model", s(m), "--count", "4", "--out-dir", s(&out)];
    let mut a = vec!["attack", "fgsm"];
    a.extend(base);
    ok(&a);
    let before = std::fs::read(out.join("results.json")).unwrap();
    let mut a = vec!["attack", "pgd", "--iters", "2"];
    a.extend(base);
    assert_one_line_error(&a, &["results.json", "advlab attack fgsm", "--results"]);
    assert_eq!(std::fs::read(out.join("results.json")).unwrap(), before);
    // a model of another architecture: an error naming the file, and no directory
    let fresh = d.join("never");
    for method in ["fgsm", "stadv"] {
        assert_one_line_error(
            &["attack", method, "--arch", "mlp:784-20-10", "--model", s(m), "--count", "2", "--out-dir", s(&fresh)],
            &["m.safetensors"],
        );
        assert!(!fresh.exists(), "{method}: a failed attack left {} behind", fresh.display());
    }
}

#[test]
fn stadv_writes_the_common_schema_and_shards() {
    let d = dir("stadv");
    let m = model();
    let base = [
        "attack",
        "stadv",
        "--arch",
        ARCH,
        "--model",
        s(m),
        "--count",
        "6",
        "--iters",
        "5",
        "--grid",
        "2",
        "--target",
        "next",
    ];
    let run = |out: &Path, shard: Option<&str>| {
        let mut a = base.to_vec();
        a.extend(["--out-dir", s(out)]);
        if let Some(k) = shard {
            a.extend(["--shard", k]);
        }
        ok(&a);
    };
    let full = d.join("full");
    run(&full, None);
    let v = json(&full.join("results.json"));
    let r = &v["results"]["per_image"][0];
    for k in ["index", "label", "clean_pred", "adv_pred", "target", "success", "l0", "l2", "linf", "l_flow"] {
        assert!(!r[k].is_null(), "per_image lacks {k}: {r}");
    }
    assert!(v["results"]["summary"]["soft_successes"].is_u64());
    let grid = image::open(full.join("grid.png")).unwrap();
    assert_eq!(grid.width(), 4 + 4 * 88, "four columns: original, adversarial, difference, flow");
    let (p1, p2) = (d.join("a"), d.join("b"));
    run(&p1, Some("1/2"));
    run(&p2, Some("2/2"));
    let merged = d.join("m");
    ok(&["merge", s(&p1), s(&p2), "--out-dir", s(&merged)]);
    for f in ["adv.npy", "flow.npy", "labels.npy"] {
        assert!(std::fs::read(full.join(f)).unwrap() == std::fs::read(merged.join(f)).unwrap(), "stadv {f}");
    }
    assert_eq!(json(&merged.join("results.json"))["results"]["per_image"], v["results"]["per_image"]);
}

#[test]
fn split_indices_and_shard_auto_pick_the_images() {
    let d = dir("select");
    let m = model();
    let idx = d.join("idx.npy");
    advlab::data::npy::write_npy_i64(&idx, &[4], &[5, 0, 1999, 7]).unwrap();
    let out = d.join("out");
    let args = [
        "attack",
        "fgsm",
        "--arch",
        ARCH,
        "--model",
        s(m),
        "--split",
        "train",
        "--indices",
        s(&idx),
        "--count",
        "3",
        "--out-dir",
        s(&out),
    ];
    ok(&args);
    let v = json(&out.join("results.json"));
    let got: Vec<u64> =
        v["results"]["per_image"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(got, [5, 0, 1999]);
    assert_eq!(v["settings"]["split"], "train");
    let train = advlab::data::load(&advlab::data::DataSpec::Bundled, advlab::data::Split::Train).unwrap();
    let labels = advlab::data::npy::read_npy_labels(&out.join("labels.npy")).unwrap();
    assert_eq!(labels, [5, 0, 1999].map(|i| train.labels[i] as i64));
    // --shard auto from a Kubernetes Indexed Job's index (0-based) and --shards
    let out2 = d.join("auto");
    let o = Command::new(env!("CARGO_BIN_EXE_advlab"))
        .args(["attack", "fgsm", "--arch", ARCH, "--model", s(m), "--count", "10", "--shard", "auto", "--shards", "3"])
        .args(["--out-dir", s(&out2)])
        .env("JOB_COMPLETION_INDEX", "2")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&out2.join("results.json"));
    assert_eq!(v["settings"]["shard"], "3/3");
    let got: Vec<u64> =
        v["results"]["per_image"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(got, [6, 7, 8, 9]);
    // bad selections: one line naming the input
    advlab::data::npy::write_npy_i64(&idx, &[1], &[1000]).unwrap();
    assert_one_line_error(
        &["attack", "fgsm", "--arch", ARCH, "--model", s(m), "--indices", s(&idx), "--out-dir", s(&d.join("x"))],
        &["idx.npy", "1000"],
    );
    assert_one_line_error(
        &["attack", "pgd", "--arch", ARCH, "--model", s(m), "--split", "val", "--out-dir", s(&d.join("x"))],
        &["--split", "train or test"],
    );
    assert_one_line_error(
        &["attack", "cw", "--arch", ARCH, "--model", s(m), "--shard", "4/3", "--out-dir", s(&d.join("x"))],
        &["--shard", "K/N"],
    );
    assert!(!d.join("x").exists());
}

/// `advlab eval --shard K/N` on 3 shards, merged, gives the unsharded
/// eval's summary, per-class accuracy, confusion and per-image records.
#[test]
fn sharded_eval_merges_into_the_unsharded_eval() {
    let d = dir("eval-shards");
    let m = model();
    let run = |out: &Path, shard: Option<&str>| {
        let mut a = vec!["eval", "--arch", ARCH, "--model", s(m), "--batch", "100", "--results", s(out)];
        if let Some(k) = shard {
            a.extend(["--shard", k]);
        }
        ok(&a);
    };
    let full = d.join("full.json");
    run(&full, None);
    let parts: Vec<PathBuf> = (1..=3).map(|k| d.join(format!("shard{k}.json"))).collect();
    for (k, p) in parts.iter().enumerate() {
        run(p, Some(&format!("{}/3", k + 1)));
    }
    assert_eq!(json(&parts[0])["results"]["per_image"].as_array().unwrap().len(), 333);
    let merged = d.join("merged");
    ok(&["merge", s(&parts[1]), s(&parts[2]), s(&parts[0]), "--out-dir", s(&merged)]);
    let (a, b) = (json(&full), json(&merged.join("results.json")));
    assert_eq!(b["command"], "eval");
    for k in ["eval", "per_class", "confusion", "per_image"] {
        assert_eq!(a["results"][k], b["results"][k], "eval merge: {k}");
    }
    assert_eq!(a["settings"], b["settings"]);
    assert_eq!(a["results"]["per_image"].as_array().unwrap().len(), 1000);
    assert_eq!(a["results"]["per_image"][999]["index"], 999);
    assert_one_line_error(
        &["merge", s(&parts[0]), s(&parts[1]), "--out-dir", s(&d.join("m2"))],
        &["shard 3/3", "missing"],
    );
    assert_one_line_error(&["merge", s(&full), "--out-dir", s(&d.join("m3"))], &["full.json", "sharded"]);
    // a shard outside 1..=N is refused before any work
    assert_one_line_error(
        &["eval", "--arch", ARCH, "--model", s(m), "--shard", "4/3", "--results", s(&d.join("bad.json"))],
        &["--shard", "K/N"],
    );
}

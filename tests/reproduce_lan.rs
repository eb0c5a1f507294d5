//! `advlab reproduce lan` end to end at toy scale on the bundled MNIST subset
//! (MLP f1 and transfer source, a one-hidden-layer LAN, `lenet:1x28x28:bn`
//! f2): Tables 1–4 recomputable from the per-image records, and `--resume`
//! reusing the trained stages while recomputing an attack whose settings
//! changed.

mod common;
use common::cli::{advlab_ok as ok, json, lan_masks_bundled};

use std::path::{Path, PathBuf};

use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Count of records in `recs` for which `pred` holds.
fn count(recs: &[Value], pred: impl Fn(&Value) -> bool) -> u64 {
    recs.iter().filter(|r| pred(r)).count() as u64
}

fn rate(v: &Value) -> (u64, u64) {
    (v["k"].as_u64().unwrap(), v["n"].as_u64().unwrap())
}

#[test]
fn reproduce_lan_toy_run_is_recomputable_and_resumes() {
    let d: PathBuf = std::env::temp_dir().join(format!("advlab-repro-lan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let (f1, src) = (d.join("f1.safetensors"), d.join("src.safetensors"));
    ok(&["train", "--arch", "mlp:784-32-10", "--epochs", "1", "--out", s(&f1), "--results", s(&d.join("f1.json"))]);
    ok(&[
        "train",
        "--arch",
        "mlp:784-16-10",
        "--epochs",
        "1",
        "--seed",
        "2",
        "--out",
        s(&src),
        "--results",
        s(&d.join("s.json")),
    ]);
    let out = d.join("run");
    let run = |fgsm_count: &str| {
        ok(&[
            "reproduce",
            "lan",
            "--out-dir",
            s(&out),
            "--data",
            "bundled",
            "--arch",
            "mlp:784-32-10",
            "--model",
            s(&f1),
            "--src-arch",
            "mlp:784-16-10",
            "--src-model",
            s(&src),
            "--val",
            "100",
            "--betas",
            "0.5,2",
            "--sweep-count",
            "200",
            "--sweep-epochs",
            "1",
            "--sweep-val",
            "100",
            "--sweep-f2-epochs",
            "1",
            "--lan-arch",
            "mask:1x28x28-16",
            "--lan-count",
            "300",
            "--lan-epochs",
            "1",
            "--f2-arch",
            "lenet:1x28x28:bn",
            "--f2-count",
            "300",
            "--f2-epochs",
            "1",
            "--fgsm-eps",
            "0.2",
            "--fgsm-count",
            fgsm_count,
            "--jsma-count",
            "4",
            "--cw-count",
            "8",
            "--cw-iters",
            "100",
            "--cw-steps",
            "1",
            "--cw-c0",
            "10",
            "--transfer-fgsm-count",
            "40",
            "--transfer-jsma-count",
            "0",
            "--transfer-cw-count",
            "0",
            "--adaptive-count",
            "4",
            "--adaptive-iters",
            "5",
            "--attack-batch",
            "20",
            "--grid",
            "4",
            "--keep-adv",
            "5",
            "--resume",
        ])
    };
    run("40");
    assert!(std::fs::read_to_string(out.join("tables.md")).unwrap().contains("## Table 4"));
    let v = json(&out.join("results.json"));
    let r = &v["results"];
    let test: Vec<Value> = r["test_per_image"].as_array().unwrap().clone();
    let by_index = |i: u64| test.iter().find(|t| t["index"].as_u64() == Some(i)).unwrap().clone();
    assert_eq!(rate(&r["tn_all_test"]), (count(&test, |t| !t["flag"].as_bool().unwrap()), test.len() as u64));
    let mut attacks = 0;
    for group in ["direct", "transfer"] {
        for (name, a) in r[group].as_object().unwrap() {
            let adv = a["per_image"].as_array().unwrap();
            let orig: Vec<Value> = adv.iter().map(|x| by_index(x["index"].as_u64().unwrap())).collect();
            let m = adv.len() as u64;
            if group == "direct" && name != "jsma" {
                assert!(m > 0, "{group} {name}: no kept x*, so nothing is checked");
            }
            assert_eq!(rate(&a["tp"]), (count(adv, |x| x["flag"].as_bool().unwrap()), m), "{group} {name} TP");
            assert_eq!(
                rate(&a["tn_originals"]),
                (count(&orig, |o| !o["flag"].as_bool().unwrap()), m),
                "{group} {name} TN"
            );
            let t1 = adv.iter().zip(&orig).filter(|(x, o)| x["f2_pred"] == o["f2_pred"]).count() as u64;
            assert_eq!(rate(&a["table1_f2_mask_class_kept"]), (t1, m), "{group} {name} T1");
            // every kept x* fools f1 and its original is one f1 gets right
            for (x, o) in adv.iter().zip(&orig) {
                assert_ne!(x["f1_pred"], x["label"], "{group} {name}: a kept x* that does not fool f1");
                assert_eq!(o["f1_pred"], o["label"], "{group} {name}: a kept x* whose original f1 gets wrong");
            }
            attacks += 1;
        }
    }
    assert_eq!(attacks, 4, "fgsm, jsma and cw direct plus fgsm transferred");
    let stages = |v: &Value| -> Vec<(String, bool)> {
        v["results"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["stage"].as_str().unwrap().to_string(), s["reused"].as_bool().unwrap()))
            .collect()
    };
    let reused =
        |v: &Value, stage: &str| stages(v).iter().find(|(n, _)| n == stage).unwrap_or_else(|| panic!("{stage}")).1;
    assert!(!reused(&v, "LAN training"));

    // --resume with one attack's count changed: the trained stages and the
    // other attacks are reused, FGSM is run again and its cache replaced
    run("30");
    let v2 = json(&out.join("results.json"));
    for stage in ["beta sweep", "LAN training", "f2 training", "attack cw on f1"] {
        assert!(reused(&v2, stage), "{stage} was not reused: {:?}", stages(&v2));
    }
    assert!(!reused(&v2, "attack fgsm on f1"), "fgsm was reused with another --fgsm-count");
    let stage = json(&out.join("stages/direct_fgsm.json"));
    assert_eq!(stage["settings"]["count"].as_u64(), Some(30), "{stage}");

    // the f2 file names its arch (lenet:1x28x28:bn), so `detect` needs no --f2-arch
    ok(&[
        "detect",
        "--arch",
        "mlp:784-32-10",
        "--model",
        s(&f1),
        "--lan",
        s(&out.join("lan.safetensors")),
        "--f2",
        s(&out.join("f2.safetensors")),
        "--input",
        s(&out.join("adv_fgsm.npy")),
        "--out-dir",
        s(&d.join("det")),
    ]);
    assert_eq!(json(&d.join("det/results.json"))["settings"]["f2_arch"], "lenet:1x28x28:bn");
    // and the LAN file names its arch, so `lan masks` needs no --lan-arch
    lan_masks_bundled(&out.join("lan.safetensors"), "test", 8, &d.join("masks"));
    assert!(d.join("masks/test_x.npy").exists());
    let _ = std::fs::remove_dir_all(&d);
}

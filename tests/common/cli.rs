//! Running the advlab binary from integration tests.

use std::path::Path;
use std::process::Command;

/// Runs the binary under test: (success, stdout, stderr).
pub fn advlab(args: &[&str]) -> (bool, String, String) {
    advlab_env(args, &[])
}

/// [`advlab`] with extra environment variables. `ADVLAB_MAX_BINDING_KIB`
/// from the caller's environment is dropped unless `envs` sets it, so a
/// test's device limits are its own.
pub fn advlab_env(args: &[&str], envs: &[(&str, &str)]) -> (bool, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_advlab"));
    c.args(args).env("NODEVICE_SELECT", "1").env_remove("ADVLAB_MAX_BINDING_KIB");
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("run advlab");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Fails with exactly one `error:` line, no panic, mentioning every `needle`.
pub fn assert_one_line_error(args: &[&str], needles: &[&str]) {
    assert_one_line_error_env(args, &[], needles)
}

/// [`assert_one_line_error`] with extra environment variables.
pub fn assert_one_line_error_env(args: &[&str], envs: &[(&str, &str)], needles: &[&str]) {
    let (ok, _, err) = advlab_env(args, envs);
    assert!(!ok, "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    let errs: Vec<&str> = err.lines().filter(|l| l.starts_with("error:") && !is_mesa_noise(l)).collect();
    assert_eq!(errs.len(), 1, "{args:?}: expected one error line, got: {err}");
    for n in needles {
        assert!(errs[0].contains(n), "{args:?}: error line lacks {n:?}: {}", errs[0]);
    }
}

/// Mesa's Vulkan loader prints this when XDG_RUNTIME_DIR is unset; it is
/// not advlab's output.
pub fn is_mesa_noise(line: &str) -> bool {
    line.contains("XDG_RUNTIME_DIR")
}

/// A JSON file written by a command.
pub fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Runs the binary, fails the test (with its stderr) unless it succeeds,
/// and returns its stdout.
pub fn advlab_ok(args: &[&str]) -> String {
    let (ok, out, err) = advlab(args);
    assert!(ok, "{args:?} failed: {err}");
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `advlab lan train` of a `lan_arch` mask network against the classifier
/// `f1` (`f1_arch`) on 256 bundled MNIST images, β 1, batch 32, with
/// `extra` flags appended.
pub fn lan_train_bundled(f1_arch: &str, f1: &Path, lan_arch: &str, lan: &Path, epochs: usize, extra: &[&str]) {
    let epochs = epochs.to_string();
    let results = lan.with_extension("json");
    let mut args = vec![
        "lan",
        "train",
        "--arch",
        f1_arch,
        "--model",
        s(f1),
        "--data",
        "bundled",
        "--beta",
        "1",
        "--lan-arch",
        lan_arch,
        "--count",
        "256",
        "--epochs",
        &epochs,
        "--batch",
        "32",
        "--out",
        s(lan),
        "--results",
        s(&results),
    ];
    args.extend_from_slice(extra);
    advlab_ok(&args);
}

/// `advlab lan masks` of the first `count` bundled MNIST images of `split`.
pub fn lan_masks_bundled(lan: &Path, split: &str, count: usize, out_dir: &Path) {
    let count = count.to_string();
    advlab_ok(&[
        "lan",
        "masks",
        "--lan",
        s(lan),
        "--data",
        "bundled",
        "--split",
        split,
        "--count",
        &count,
        "--out-dir",
        s(out_dir),
    ]);
}

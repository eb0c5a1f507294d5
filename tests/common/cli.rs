//! Running the advlab binary from integration tests.

use std::process::Command;

/// Runs the binary under test: (success, stdout, stderr).
pub fn advlab(args: &[&str]) -> (bool, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_advlab")).args(args).env("NODEVICE_SELECT", "1").output().expect("run advlab");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Fails with exactly one `error:` line, no panic, mentioning every `needle`.
pub fn assert_one_line_error(args: &[&str], needles: &[&str]) {
    let (ok, _, err) = advlab(args);
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

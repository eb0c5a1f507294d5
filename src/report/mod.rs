//! results.json: every measuring command writes one, with the adapter, the
//! seed and every setting, so a reader can rerun it.
//!
//! Overwrite policy ([`write_json`]): a results file is replaced only when
//! it was written by the same command (its `command` field matches, e.g.
//! a rerun of `advlab attack fgsm` into the same --out-dir, or a training
//! run's per-epoch rewrites); a file of another command, or a file that is
//! not an advlab results.json, is never overwritten: the command fails with
//! one line naming the file and the flag to pass. Commands check with
//! [`check_results_path`] before they start work.

pub mod plot;

use std::path::Path;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::gpu::Gpu;

/// The common envelope: command, adapter, version, time, settings, results.
pub fn envelope(command: &str, gpu: Option<&Gpu>, settings: Value, results: Value) -> Value {
    json!({
        "command": command,
        "advlab_version": env!("CARGO_PKG_VERSION"),
        "adapter": gpu.map(|g| g.adapter_name()),
        "adapter_driver": gpu.map(|g| format!("{} {}", g.info.driver, g.info.driver_info)),
        // on a software adapter (lavapipe) the host CPU is the device
        "host": host(),
        // which conv layers ran which algorithm (ops::conv_tuning)
        "conv_tuning": gpu.map(crate::ops::conv_tuning::summary),
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "settings": settings,
        "results": results,
    })
}

/// The machine a run was measured on: its CPU model (from /proc/cpuinfo
/// on Linux, else null), logical CPUs and OS. On a software adapter
/// (lavapipe) the CPU is the device, and the adapter name does not say
/// which CPU it was.
pub fn host() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    });
    json!({
        "cpu": cpu,
        "logical_cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "os": std::env::consts::OS,
    })
}

/// [`host`] in words, for the line printed above a benchmark's table.
pub fn host_line() -> String {
    let h = host();
    let cpu = h["cpu"].as_str().unwrap_or("unknown CPU");
    match h["logical_cpus"].as_u64() {
        Some(n) => format!("{cpu}, {n} logical CPUs ({})", h["os"].as_str().unwrap_or("?")),
        None => format!("{cpu} ({})", h["os"].as_str().unwrap_or("?")),
    }
}

/// Whether `command` may write its results to `path` (see the module doc):
/// Ok when `path` is absent or holds results of the same command.
pub fn check_results_path(path: &Path, command: &str) -> Result<()> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => bail!("{}: cannot read the existing file to check what wrote it ({e})", path.display()),
    };
    let prev = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("command").and_then(Value::as_str).map(str::to_string));
    match prev {
        Some(c) if c == command => Ok(()),
        Some(c) => bail!(
            "{}: holds the results of `advlab {c}`; `advlab {command}` will not overwrite them: \
             pass --results OTHER.json (or another --out-dir), or remove the file",
            path.display()
        ),
        None => bail!(
            "{}: exists and is not an advlab results.json; not overwriting it: pass --results OTHER.json \
             (or another --out-dir), or remove the file",
            path.display()
        ),
    }
}

/// Write the envelope `v` to `path` atomically, under the overwrite policy
/// of [`check_results_path`] (the command is `v["command"]`).
pub fn write_json(path: &Path, v: &Value) -> Result<()> {
    check_results_path(path, v.get("command").and_then(Value::as_str).unwrap_or(""))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    crate::fsutil::write_atomic(path, serde_json::to_string_pretty(v)?.as_bytes())
}

/// A markdown table from a header and rows.
pub fn markdown_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s =
        format!("| {} |\n|{}|\n", header.join(" | "), header.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
    for r in rows {
        s += &format!("| {} |\n", r.join(" | "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::{msg, TempDir};

    #[test]
    fn results_of_another_command_are_never_overwritten() {
        let d = TempDir::new("report");
        let p = d.join("results.json");
        let train = json!({"command": "train", "results": 1});
        write_json(&p, &train).unwrap();
        // the same command replaces its own file
        write_json(&p, &json!({"command": "train", "results": 2})).unwrap();
        let e = msg(write_json(&p, &json!({"command": "eval", "results": 3})));
        assert!(e.contains("results.json") && e.contains("advlab train") && e.contains("--results"), "{e}");
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v["results"], 2);
        // a file that is not ours
        let other = d.join("notes.json");
        std::fs::write(&other, "my notes").unwrap();
        let e = msg(check_results_path(&other, "eval"));
        assert!(e.contains("notes.json") && e.contains("not an advlab results.json"), "{e}");
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "my notes");
        check_results_path(&d.join("absent.json"), "eval").unwrap();
    }
}

//! results.json: every measuring command writes one, with the adapter, the
//! seed and every setting, so a reader can rerun it.

use std::path::Path;

use anyhow::Result;
use serde_json::{json, Value};

use crate::gpu::Gpu;

/// The common envelope: command, adapter, version, time, settings, results.
pub fn envelope(command: &str, gpu: Option<&Gpu>, settings: Value, results: Value) -> Value {
    json!({
        "command": command,
        "advlab_version": env!("CARGO_PKG_VERSION"),
        "adapter": gpu.map(|g| g.adapter_name()),
        "adapter_driver": gpu.map(|g| format!("{} {}", g.info.driver, g.info.driver_info)),
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "settings": settings,
        "results": results,
    })
}

pub fn write_json(path: &Path, v: &Value) -> Result<()> {
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

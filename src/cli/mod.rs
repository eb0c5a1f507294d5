//! Command implementations. `main.rs` parses flags into these option structs
//! and prints; the work happens here, on the library's public API.

pub mod attack;
pub mod bench;
pub mod certify;
pub mod certtrain;
pub mod choice;
pub mod detect;
pub mod lan;
pub mod merge;
pub mod model_cmds;
pub mod reproduce;
pub mod sdp;
pub mod stadv;
pub mod train;
pub mod warp;

use std::sync::Arc;

use anyhow::Result;

use crate::gpu::{Gpu, GpuOptions};

/// Open the device and say which one, once per command.
pub fn open_gpu(opts: &GpuOptions) -> Result<Arc<Gpu>> {
    let gpu = Gpu::new(opts)?;
    eprintln!("adapter: {}", gpu.adapter_name());
    Ok(gpu)
}

/// Print the `--profile` table if profiling is on.
pub fn print_profile(gpu: &Gpu) {
    if let Some(r) = gpu.profile_report() {
        eprintln!("\n{r}");
    }
}

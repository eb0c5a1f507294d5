//! The GPU layer: adapter choice, buffer pool, kernel registry, the command
//! recorder that batches dispatches into one submit, and the profiler.
//! Knows nothing about neural networks.

mod context;
pub mod kernel;
pub mod params;
mod pool;
mod profiler;
mod recorder;
pub use recorder::CopyRegion;
mod texcache;

pub use context::{
    adapter_report, banded_regions, interleaved_regions, list_adapters, row_interleave, Bind, DeviceChoice, Gpu,
    GpuOptions, LINEAR_WIDTH,
};
pub use kernel::{kernels, BindingKind, Kernel};
pub use pool::BufferPool;
pub use profiler::ProfileMode;
pub use texcache::{TexCacheStats, TexKey};

/// Workgroup counts for `threads` invocations of a 1-D kernel with workgroup
/// size `wg`, folded into 2-D past the 65,535-per-dimension limit. Kernels
/// recover the linear index as `gid.x + gid.y * nwg.x * WG`.
pub fn groups_1d(threads: usize, wg: u32) -> [u32; 3] {
    let n = (threads as u64).div_ceil(wg as u64).max(1);
    if n <= 65_535 {
        [n as u32, 1, 1]
    } else {
        let y = n.div_ceil(65_535);
        [n.div_ceil(y) as u32, y as u32, 1]
    }
}

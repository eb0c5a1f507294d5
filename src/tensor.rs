//! A shape plus a pooled GPU buffer of 4-byte elements (f32, or u32 for
//! labels). Cloning shares the buffer; dropping the last clone returns the
//! buffer to the pool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::gpu::BufferPool;

struct Pooled {
    buffer: Option<wgpu::Buffer>,
    pool: Arc<BufferPool>,
    /// Write version: a stamp from [`next_version`], renewed by every
    /// recorded write (see [`Tensor::version`]).
    version: AtomicU64,
}

/// Stamps for write versions, unique across all buffers and times, so a
/// (buffer, version) pair never names two different contents, even after
/// the buffer went back to the pool and came out again.
static VERSIONS: AtomicU64 = AtomicU64::new(1);

fn next_version() -> u64 {
    VERSIONS.fetch_add(1, Ordering::Relaxed)
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.pool.give(b);
        }
    }
}

#[derive(Clone)]
pub struct Tensor {
    shape: Vec<usize>,
    buf: Arc<Pooled>,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor{:?}", self.shape)
    }
}

impl Tensor {
    pub(crate) fn from_pool(buffer: wgpu::Buffer, pool: Arc<BufferPool>, shape: &[usize]) -> Self {
        Tensor {
            shape: shape.to_vec(),
            buf: Arc::new(Pooled { buffer: Some(buffer), pool, version: AtomicU64::new(next_version()) }),
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buf.buffer.as_ref().unwrap()
    }

    /// Same buffer, new shape (element count must match).
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            self.len(),
            "reshape {:?} -> {:?}: element count differs",
            self.shape,
            shape
        );
        Tensor { shape: shape.to_vec(), buf: self.buf.clone() }
    }

    /// The buffer's write version: unique to its current contents. The GPU
    /// context renews it whenever it records a write to the buffer (a
    /// dispatch binding it read-write, a copy into it, a clear, a host
    /// write), so a texture copy made at version v is still the tensor's
    /// contents while the version is v (`Gpu::tensor_texture`).
    pub fn version(&self) -> u64 {
        self.buf.version.load(Ordering::Acquire)
    }

    /// Record that the buffer is being written (every write path of
    /// `Gpu` calls this; anything writing a buffer another way must too).
    pub(crate) fn mark_written(&self) {
        self.buf.version.store(next_version(), Ordering::Release);
    }

    /// Whether two tensors share a buffer.
    pub fn same_buffer(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.buf, &other.buf)
    }
}

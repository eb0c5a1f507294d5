//! A shape plus a pooled GPU buffer of 4-byte elements (f32, or u32 for
//! labels). Cloning shares the buffer; dropping the last clone returns the
//! buffer to the pool.

use std::sync::Arc;

use crate::gpu::BufferPool;

struct Pooled {
    buffer: Option<wgpu::Buffer>,
    pool: Arc<BufferPool>,
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
        Tensor { shape: shape.to_vec(), buf: Arc::new(Pooled { buffer: Some(buffer), pool }) }
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

    /// Whether two tensors share a buffer.
    pub fn same_buffer(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.buf, &other.buf)
    }
}

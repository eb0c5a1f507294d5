//! Buffer pool: tensors return their buffer here on drop, and the next
//! allocation of the same byte size reuses it, so steady-state training
//! allocates nothing. Reuse is safe because every use is recorded into one
//! in-order command stream: a buffer handed out again is only touched by
//! commands recorded after the last use by its previous owner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct BufferPool {
    free: Mutex<HashMap<u64, Vec<wgpu::Buffer>>>,
    created: Mutex<u64>,
}

/// Storage buffers are rounded up to this many bytes so nearby sizes share.
const ROUND: u64 = 256;

impl BufferPool {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn size_class(bytes: u64) -> u64 {
        bytes.max(4).div_ceil(ROUND) * ROUND
    }

    pub fn take(&self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let class = Self::size_class(bytes);
        if let Some(b) = self.free.lock().unwrap().get_mut(&class).and_then(|v| v.pop()) {
            return b;
        }
        *self.created.lock().unwrap() += 1;
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: class,
            // UNIFORM: GEMM binds operand windows as uniform buffers on
            // lavapipe (uniform loads are far cheaper there).
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::UNIFORM
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    pub fn give(&self, buffer: wgpu::Buffer) {
        self.free.lock().unwrap().entry(buffer.size()).or_default().push(buffer);
    }

    /// How many buffers were ever created (tests check steady state with it).
    pub fn created(&self) -> u64 {
        *self.created.lock().unwrap()
    }
}

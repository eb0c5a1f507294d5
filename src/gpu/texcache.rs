//! Texture copies of tensors, kept until the tensor is written.
//!
//! On lavapipe the kernels read their large inputs from rgba32float
//! textures (a texel fetch is a few cycles, a storage load a per-lane
//! loop), so every such input was copied into a texture before each
//! dispatch: in an MLP step the weights were copied once per product that
//! reads them and each activation once per kernel. Here a copy is keyed by
//! (buffer, layout) and stamped with the tensor's write version
//! ([`Tensor::version`]); while the version is unchanged the copy is the
//! tensor's contents, and the next reader reuses it. Every write path of
//! `Gpu` renews the version, so a stale copy is never read (tests/
//! texture_cache.rs writes through each path and checks).
//!
//! `ADVLAB_TEXTURE_CACHE=off` refills every time (for before/after
//! measurements; same textures, same kernels).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::tensor::Tensor;

/// What a copy holds: the caller's layout words (its own tag first), then
/// the texture's width and height.
pub type TexKey = [u32; 8];

struct Entry {
    version: u64,
    texture: wgpu::Texture,
    view: wgpu::TextureView,
}

pub struct TexCache {
    enabled: bool,
    entries: Mutex<HashMap<(wgpu::Buffer, TexKey), Entry>>,
    hits: AtomicU64,
    fills: AtomicU64,
}

/// Hits and fills so far (tests and `--profile`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TexCacheStats {
    pub hits: u64,
    pub fills: u64,
}

impl TexCache {
    pub fn new() -> Self {
        let off = matches!(std::env::var("ADVLAB_TEXTURE_CACHE").as_deref(), Ok("off") | Ok("0"));
        TexCache { enabled: !off, entries: Mutex::default(), hits: AtomicU64::new(0), fills: AtomicU64::new(0) }
    }

    pub fn stats(&self) -> TexCacheStats {
        TexCacheStats { hits: self.hits.load(Ordering::Relaxed), fills: self.fills.load(Ordering::Relaxed) }
    }

    /// The texture holding `t` in the layout `key` names (`key[6]` x
    /// `key[7]` texels): the cached one when it was filled at `t`'s current
    /// version, else `fill(texture, view)` records the commands that write
    /// it. `fill` runs under the cache's lock, so another thread cannot
    /// record a read of the entry between the check and the fill.
    pub fn get_or_fill(
        &self,
        device: &wgpu::Device,
        t: &Tensor,
        key: TexKey,
        fill: impl FnOnce(&wgpu::Texture, &wgpu::TextureView),
    ) -> wgpu::TextureView {
        let mut map = self.entries.lock().unwrap();
        let version = t.version();
        let e = Self::entry(&mut map, device, t, key);
        if self.enabled && e.version == version {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            fill(&e.texture, &e.view);
            e.version = version;
            self.fills.fetch_add(1, Ordering::Relaxed);
        }
        e.view.clone()
    }

    /// The texture for `t` in layout `key`, stamped as holding `t`'s
    /// current contents before anything is written to it: the caller
    /// records, next and in stream order, the dispatch that writes the
    /// whole texture (the tensor's buffer itself stays unwritten, so `t`
    /// is then readable only through this texture). `None` when the cache
    /// is off, since a refill would copy the unwritten buffer.
    pub fn claim(&self, device: &wgpu::Device, t: &Tensor, key: TexKey) -> Option<wgpu::TextureView> {
        if !self.enabled {
            return None;
        }
        let mut map = self.entries.lock().unwrap();
        let e = Self::entry(&mut map, device, t, key);
        e.version = t.version();
        self.fills.fetch_add(1, Ordering::Relaxed);
        Some(e.view.clone())
    }

    // wgpu::Buffer hashes and compares by id, not by its mutable state
    #[allow(clippy::mutable_key_type)]
    fn entry<'a>(
        map: &'a mut HashMap<(wgpu::Buffer, TexKey), Entry>,
        device: &wgpu::Device,
        t: &Tensor,
        key: TexKey,
    ) -> &'a mut Entry {
        map.entry((t.buffer().clone(), key)).or_insert_with(|| {
            let usage = wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::STORAGE_BINDING
                | wgpu::TextureUsages::COPY_DST;
            let texture = super::context::rgba32f_texture(device, key[6], key[7], usage, "texture copy of a tensor");
            let view = texture.create_view(&Default::default());
            Entry { version: 0, texture, view }
        })
    }
}

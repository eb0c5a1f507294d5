// Loads from linear textures, shared by the shaders that take this file in
// with the line `// @include common/linear_tex.wgsl` (see build.rs).
//
// Tensors bound to read-only storage-texture bindings arrive as linear
// textures (see Gpu::dispatch_binds): vec4 i at texel (i % 4096, i / 4096),
// so flat element i at texel ((i/4) % 4096, (i/4) / 4096). On lavapipe a
// texel fetch costs a fraction of a storage-buffer load, and a
// storage-texture load skips the per-lane mip-level lookups of a sampled
// texture's.

// Flat element i.
fn ld(t: texture_storage_2d<rgba32float, read>, i: u32) -> f32 {
    return textureLoad(t, vec2<u32>((i >> 2u) & 4095u, i >> 14u))[i & 3u];
}

// vec4 i.
fn ldt(t: texture_storage_2d<rgba32float, read>, i: u32) -> vec4<f32> {
    return textureLoad(t, vec2<u32>(i & 4095u, i >> 12u));
}

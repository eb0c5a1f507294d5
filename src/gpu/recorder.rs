//! Commands recorded between submits. Dispatches go into as few compute
//! passes as possible; copies and clears split passes.

use std::sync::Arc;

use super::kernel::Kernel;

pub enum Cmd {
    Dispatch {
        pipeline: Arc<wgpu::ComputePipeline>,
        bind_group: wgpu::BindGroup,
        groups: [u32; 3],
        kernel: &'static Kernel,
    },
    Copy {
        src: wgpu::Buffer,
        dst: wgpu::Buffer,
        bytes: u64,
    },
    Clear {
        buf: wgpu::Buffer,
    },
    /// The first `vecs` vec4s of `src` into a texture, `width` texels per
    /// row (a linear texture: see `Gpu::dispatch_binds`).
    CopyToTexture {
        src: wgpu::Buffer,
        texture: wgpu::Texture,
        width: usize,
        vecs: usize,
    },
}

#[derive(Default)]
pub struct Recorder {
    pub cmds: Vec<Cmd>,
    /// Host copy of the uniform arena, one slot per dispatch.
    pub params: Vec<u8>,
}

impl Recorder {
    pub fn dispatches(&self) -> usize {
        self.cmds.iter().filter(|c| matches!(c, Cmd::Dispatch { .. })).count()
    }
}

/// Encode `cmds` into `enc`. With `timestamps`, each dispatch gets its own
/// pass whose begin/end times land at query 2i and 2i+1.
pub fn encode(enc: &mut wgpu::CommandEncoder, cmds: &[Cmd], timestamps: Option<&wgpu::QuerySet>) {
    let mut i = 0;
    let mut q = 0u32;
    while i < cmds.len() {
        match &cmds[i] {
            Cmd::Copy { src, dst, bytes } => {
                enc.copy_buffer_to_buffer(src, 0, dst, 0, *bytes);
                i += 1;
            }
            Cmd::Clear { buf } => {
                enc.clear_buffer(buf, 0, None);
                i += 1;
            }
            Cmd::CopyToTexture { src, texture, width, vecs } => {
                copy_rows(enc, src, texture, *width, *vecs);
                i += 1;
            }
            Cmd::Dispatch { .. } => {
                let timestamp_writes = timestamps.map(|qs| {
                    let w = wgpu::ComputePassTimestampWrites {
                        query_set: qs,
                        beginning_of_pass_write_index: Some(q),
                        end_of_pass_write_index: Some(q + 1),
                    };
                    q += 2;
                    w
                });
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes });
                while let Some(Cmd::Dispatch { pipeline, bind_group, groups, .. }) = cmds.get(i) {
                    pass.set_pipeline(pipeline);
                    pass.set_bind_group(0, bind_group, &[]);
                    pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
                    i += 1;
                    if timestamps.is_some() {
                        break;
                    }
                }
            }
        }
    }
}

/// Whole rows of `w` texels (16 w bytes each, a multiple of 256), then the
/// partial last row.
fn copy_rows(enc: &mut wgpu::CommandEncoder, src: &wgpu::Buffer, texture: &wgpu::Texture, w: usize, vecs: usize) {
    let row_bytes = (w * 16) as u32;
    let (rows, rest) = (vecs / w, vecs % w);
    let region = |row: usize, width: usize, height: usize| {
        (
            wgpu::TexelCopyBufferInfo {
                buffer: src,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: (row * w * 16) as u64,
                    bytes_per_row: Some(row_bytes),
                    rows_per_image: None,
                },
            },
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d { x: 0, y: row as u32, z: 0 },
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::Extent3d { width: width as u32, height: height as u32, depth_or_array_layers: 1 },
        )
    };
    if rows > 0 {
        let (b, t, e) = region(0, w, rows);
        enc.copy_buffer_to_texture(b, t, e);
    }
    if rest > 0 {
        let (b, t, e) = region(rows, rest, 1);
        enc.copy_buffer_to_texture(b, t, e);
    }
}

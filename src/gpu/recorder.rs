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
    /// Rectangles of `src` into a texture (a linear texture: see
    /// `Gpu::dispatch_binds`; GEMM operands: `banded_regions`, `row_regions`).
    CopyToTexture {
        src: wgpu::Buffer,
        texture: wgpu::Texture,
        regions: Vec<CopyRegion>,
    },
}

/// `rows` rows of `width` texels from byte `offset` of a buffer, rows
/// `bytes_per_row` apart (a multiple of 256; unused for one row), to texel
/// (0, `y`) onwards.
#[derive(Clone, Copy, Debug)]
pub struct CopyRegion {
    pub offset: u64,
    pub bytes_per_row: u32,
    pub width: u32,
    pub rows: u32,
    pub y: u32,
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
            Cmd::CopyToTexture { src, texture, regions } => {
                for r in regions {
                    enc.copy_buffer_to_texture(
                        wgpu::TexelCopyBufferInfo {
                            buffer: src,
                            layout: wgpu::TexelCopyBufferLayout {
                                offset: r.offset,
                                // one row needs no pitch (and then any
                                // multiple of 16 bytes apart is allowed)
                                bytes_per_row: (r.rows > 1).then_some(r.bytes_per_row),
                                rows_per_image: None,
                            },
                        },
                        wgpu::TexelCopyTextureInfo {
                            texture,
                            mip_level: 0,
                            origin: wgpu::Origin3d { x: 0, y: r.y, z: 0 },
                            aspect: wgpu::TextureAspect::All,
                        },
                        wgpu::Extent3d { width: r.width, height: r.rows, depth_or_array_layers: 1 },
                    );
                }
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

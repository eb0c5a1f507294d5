//! Adapter choice, device creation, and the `Gpu` handle every op uses.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Result};

use super::kernel::{BindingKind, Kernel};
use super::pool::BufferPool;
use super::profiler::{ProfileMode, Profiler};
use super::recorder::{Cmd, CopyRegion, Recorder};
use super::texcache::{TexCache, TexCacheStats, TexKey};
use crate::tensor::Tensor;

/// One resource bound by [`Gpu::dispatch_binds`].
pub enum Bind<'a> {
    /// A tensor's buffer, whole or a byte range `(offset, size)`.
    Buf(&'a Tensor, Option<(u64, u64)>),
    /// A texture (`texture_2d` or `texture_storage_2d` in the shader).
    Tex(&'a wgpu::TextureView),
}

/// Texels per row of a linear texture: vec4 i of a flat array lives at
/// texel (i % LINEAR_WIDTH, i / LINEAR_WIDTH) (`ldt`/`ld` in the shaders).
pub const LINEAR_WIDTH: usize = 4096;

/// Copy regions that put `t` ([rows, cols] row-major, cols a multiple of
/// 64) into a `width` x `height` texture as bands of `bw` texels: texel
/// (c, r) of t (t(r, 4c .. 4c + 3)) lands at (c % bw, (c / bw) *
/// band_rows + r); with bw = cols / 4 that is t as is.
pub fn banded_regions(
    t: &Tensor,
    cols: usize,
    bw: usize,
    band_rows: usize,
    width: u32,
    height: u32,
) -> Vec<CopyRegion> {
    let rows = t.len() / cols.max(1);
    assert!(cols.is_multiple_of(64) && rows * cols == t.len() && rows <= band_rows && bw <= width as usize);
    let c4 = cols / 4;
    assert!(c4.div_ceil(bw) * band_rows <= height as usize);
    if rows == 0 {
        return Vec::new();
    }
    (0..c4.div_ceil(bw))
        .map(|j| CopyRegion {
            offset: (j * bw * 16) as u64,
            bytes_per_row: (cols * 4) as u32,
            width: bw.min(c4 - j * bw) as u32,
            rows: rows as u32,
            y: (j * band_rows) as u32,
        })
        .collect()
}

/// How many ways [`interleaved_regions`] interleaves the rows of a matrix
/// `cols` floats wide (a multiple of 4): the fewest rows whose byte length
/// is a multiple of 256, the row pitch a buffer-to-texture copy needs
/// (1 when `cols` is a multiple of 64, 16 when `cols / 4` is odd).
pub fn row_interleave(cols: usize) -> usize {
    assert!(cols.is_multiple_of(4), "row_interleave: {cols} floats is not whole vec4s");
    let c4 = cols / 4;
    16 >> (c4.trailing_zeros().min(4))
}

/// Copy regions that put `t` ([rows, cols] row-major, cols a multiple of
/// 4) into a texture with its rows interleaved `g = row_interleave(cols)`
/// ways: texel (c, r) = t(r, 4c .. 4c + 3) lands at (c, (r % g) * h + r /
/// g), `h` = texture rows per residue class. Rows r, r + g, r + 2g, … are
/// `g` rows apart in the buffer, a pitch that is a multiple of 256 bytes,
/// so each residue class is one copy: at most 16 copies, where one copy
/// per row made 1000 copy commands of a 1000-row operand, each validated
/// by wgpu and run by lavapipe's queue thread alone. Measured on lavapipe
/// (2-core EPYC, half-size `bench suite` workloads, 5 alternating pairs):
/// mlp:784-500-10 training 0.88x, FGSM 0.90x, C&W 0.84x the time (medians).
pub fn interleaved_regions(t: &Tensor, rows: usize, cols: usize, h: usize, width: u32, height: u32) -> Vec<CopyRegion> {
    let g = row_interleave(cols);
    assert!(
        rows * cols == t.len() && cols / 4 <= width as usize && rows.div_ceil(g) <= h && g * h <= height as usize,
        "interleaved_regions: {rows}x{cols} (len {}) g {g} h {h} into {width}x{height}",
        t.len()
    );
    (0..g.min(rows))
        .map(|j| CopyRegion {
            offset: (j * cols * 4) as u64,
            bytes_per_row: (g * cols * 4) as u32,
            width: (cols / 4) as u32,
            rows: (rows - j).div_ceil(g) as u32,
            y: (j * h) as u32,
        })
        .collect()
}

/// A 2-D rgba32float texture (texture copies of tensors).
pub(super) fn rgba32f_texture(
    device: &wgpu::Device,
    width: u32,
    height: u32,
    usage: wgpu::TextureUsages,
    label: &str,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage,
        view_formats: &[],
    })
}

crate::names::named_enum! {
/// `--device`: which kind of adapter to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The best hardware GPU, else the software adapter.
    #[default]
    Auto,
    /// A hardware GPU only.
    Gpu,
    /// wgpu's software/fallback adapter (lavapipe on Linux).
    Cpu,
}
}

#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    pub device: DeviceChoice,
    /// Case-insensitive substring of the adapter name (`--adapter`).
    pub adapter: Option<String>,
    pub profile: bool,
}

/// Bytes reserved per dispatch in the uniform parameter arena.
const PARAM_SLOT: u64 = 256;
/// Dispatches recorded before an automatic submit.
const ARENA_SLOTS: u64 = 4096;

type PipelineKey = (usize, Vec<(String, u64)>);
/// A constant tensor by (shape, f32 bits).
type ConstantKey = (Vec<usize>, Vec<u32>);

pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    pool: Arc<BufferPool>,
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, Arc<wgpu::ComputePipeline>>>,
    rec: Mutex<Recorder>,
    prof: Mutex<Profiler>,
    /// Small read-only tensors uploaded once and shared (see `constant`).
    constants: Mutex<HashMap<ConstantKey, Tensor>>,
    /// Linear texture copies of tensors bound to texture bindings (see
    /// `dispatch_binds`); filled only with `rec` locked
    /// (`claim_linear_texture` stamps an entry without it, before its
    /// caller records the dispatch that writes it).
    linear_textures: TexCache,
    /// Other texture copies of tensors (GEMM operand layouts and the
    /// like; see [`Gpu::tensor_texture`]); locked before `rec`, never while
    /// holding it.
    operand_textures: TexCache,
    params: wgpu::Buffer,
    slot: u64,
    /// Read-backs (`read`, `read_u32`) and submits so far: tests check that
    /// loops meant to stay on the device do not come back to the host.
    readbacks: AtomicU64,
    submits: AtomicU64,
}

fn instance() -> (wgpu::Instance, wgpu::Backends) {
    let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    let backends = desc.backends;
    (wgpu::Instance::new(desc), backends)
}

/// All adapters wgpu can see (respecting `WGPU_BACKEND`).
pub fn list_adapters() -> Vec<wgpu::Adapter> {
    let (inst, backends) = instance();
    pollster::block_on(inst.enumerate_adapters(backends))
}

fn rank(info: &wgpu::AdapterInfo) -> u32 {
    let ty = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 40,
        wgpu::DeviceType::IntegratedGpu => 30,
        wgpu::DeviceType::VirtualGpu => 20,
        wgpu::DeviceType::Other => 10,
        wgpu::DeviceType::Cpu => 0,
    };
    // GL is the last resort: no subgroups, no f16, slower dispatch.
    ty + if info.backend == wgpu::Backend::Gl { 0 } else { 5 }
}

fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
}

fn choose_adapter(opts: &GpuOptions) -> Result<wgpu::Adapter> {
    let all = list_adapters();
    if all.is_empty() {
        bail!("no GPU adapter found: install a Vulkan driver (on Linux without a GPU: apt-get install mesa-vulkan-drivers for lavapipe)");
    }
    let listing = all.iter().map(|a| describe(&a.get_info())).collect::<Vec<_>>().join("; ");
    let name = opts.adapter.clone().or_else(|| std::env::var("WGPU_ADAPTER_NAME").ok());
    let mut cands: Vec<wgpu::Adapter> = all
        .into_iter()
        .filter(|a| {
            let info = a.get_info();
            let is_cpu = info.device_type == wgpu::DeviceType::Cpu;
            match opts.device {
                DeviceChoice::Auto => true,
                DeviceChoice::Gpu => !is_cpu,
                DeviceChoice::Cpu => is_cpu,
            }
        })
        .filter(|a| match &name {
            Some(n) => a.get_info().name.to_lowercase().contains(&n.to_lowercase()),
            None => true,
        })
        .collect();
    if cands.is_empty() {
        return Err(match &name {
            Some(n) => anyhow!("--adapter {n:?} matches no {} adapter; available: {listing}", opts.device),
            None => anyhow!("--device {}: no such adapter; available: {listing}", opts.device),
        });
    }
    cands.sort_by_key(|a| std::cmp::Reverse(rank(&a.get_info())));
    Ok(cands.remove(0))
}

/// Human-readable report of every adapter for `advlab info`.
pub fn adapter_report() -> String {
    let mut s = String::new();
    for a in list_adapters() {
        let info = a.get_info();
        let f = a.features();
        let l = a.limits();
        s += &format!(
            "{}\n  backend {:?}, type {:?}, driver {} {}\n  features: timestamps {}, timestamps-inside-passes {}, f16 {}, subgroups {}\n  limits: storage binding {} MiB, max buffer {} MiB, workgroup storage {} KiB, invocations/workgroup {}, workgroups/dim {}, storage buffers/stage {}\n",
            info.name,
            info.backend,
            info.device_type,
            info.driver,
            info.driver_info,
            f.contains(wgpu::Features::TIMESTAMP_QUERY),
            f.contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES),
            f.contains(wgpu::Features::SHADER_F16),
            f.contains(wgpu::Features::SUBGROUP),
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension,
            l.max_storage_buffers_per_shader_stage,
        );
    }
    if s.is_empty() {
        s = "no adapters found (install a Vulkan driver; lavapipe: apt-get install mesa-vulkan-drivers)\n".into();
    }
    s
}

/// `ADVLAB_MAX_BINDING_KIB=N` lowers the storage binding limit to N KiB
/// (never raises it): the device then behaves like a smaller GPU, so the
/// paths that split batches can be tested, and tried, without huge inputs.
fn binding_cap_kib() -> Result<Option<u64>> {
    match std::env::var("ADVLAB_MAX_BINDING_KIB") {
        Err(_) => Ok(None),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => bail!("ADVLAB_MAX_BINDING_KIB={v:?}: expected a whole number of KiB >= 1"),
        },
    }
}

impl Gpu {
    pub fn new(opts: &GpuOptions) -> Result<Arc<Gpu>> {
        let adapter = choose_adapter(opts)?;
        let info = adapter.get_info();
        let wanted = wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
            | wgpu::Features::SHADER_F16
            | wgpu::Features::SUBGROUP;
        let features = adapter.features() & wanted;
        let mut limits = adapter.limits();
        if let Some(kib) = binding_cap_kib()? {
            limits.max_storage_buffer_binding_size = limits.max_storage_buffer_binding_size.min(kib << 10);
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("advlab"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| anyhow!("cannot open device on adapter {}: {e}", describe(&info)))?;
        let slot = PARAM_SLOT.max(limits.min_uniform_buffer_offset_alignment as u64);
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("params arena"),
            size: slot * ARENA_SLOTS,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mode = if !opts.profile {
            ProfileMode::Off
        } else if features.contains(wgpu::Features::TIMESTAMP_QUERY)
            && info.device_type != wgpu::DeviceType::Cpu
            && std::env::var("ADVLAB_PROFILE").as_deref() != Ok("wall")
        {
            // lavapipe has timestamp queries, but they land before the work
            // of the dispatch they follow is done: in a training step they
            // charged the copy after each convolution with the convolution's
            // time (measured against wall clock). So CPU adapters, and
            // ADVLAB_PROFILE=wall, time each dispatch alone by wall clock.
            ProfileMode::Timestamps
        } else {
            ProfileMode::WallClock
        };
        let prof = Profiler::new(&device, &queue, mode);
        let gpu = Arc::new(Gpu {
            device,
            queue,
            info,
            limits,
            features,
            pool: BufferPool::new(),
            modules: Mutex::default(),
            pipelines: Mutex::default(),
            rec: Mutex::new(Recorder::default()),
            prof: Mutex::new(prof),
            constants: Mutex::default(),
            linear_textures: TexCache::new(),
            operand_textures: TexCache::new(),
            params,
            slot,
            readbacks: AtomicU64::new(0),
            submits: AtomicU64::new(0),
        });
        gpu.probe_kernels()?;
        Ok(gpu)
    }

    /// Build one kernel that reads a linear texture through a function
    /// argument, as most kernels do, and turn a failure into one line.
    /// wgpu's OpenGL backend (what wgpu picks when no Vulkan driver is
    /// installed) rejects such GLSL ("... is not allowed on function
    /// parameter"); without this check the first kernel a command needs
    /// panicked in wgpu's error handler.
    fn probe_kernels(&self) -> Result<()> {
        let k = &super::kernels::ELEMENTWISE_UNARY;
        // a shader the backend's compiler rejects is an Internal error
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let _ = self.pipeline(k, &[]);
        let errors = [pollster::block_on(internal.pop()), pollster::block_on(validation.pop())];
        if let Some(e) = errors.into_iter().flatten().next() {
            self.pipelines.lock().unwrap().clear();
            let text = e.to_string();
            let cause = text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("").to_string();
            bail!(
                "adapter {} cannot build advlab's kernels (kernel {}: {cause}); use a Vulkan, Metal or DX12 adapter \
                 (on Linux without a GPU: install mesa-vulkan-drivers and set WGPU_BACKEND=vulkan)",
                describe(&self.info),
                k.name()
            );
        }
        Ok(())
    }

    /// "name (backend, type)": goes into every results.json.
    pub fn adapter_name(&self) -> String {
        describe(&self.info)
    }

    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    pub fn pool(&self) -> &Arc<BufferPool> {
        &self.pool
    }

    fn pipeline(&self, k: &'static Kernel, consts: &[(&str, f64)]) -> Arc<wgpu::ComputePipeline> {
        let key: PipelineKey =
            (k as *const Kernel as usize, consts.iter().map(|(n, v)| (n.to_string(), v.to_bits())).collect());
        if let Some(p) = self.pipelines.lock().unwrap().get(&key) {
            return p.clone();
        }
        let module = {
            let mut mods = self.modules.lock().unwrap();
            mods.entry(k.file.name)
                .or_insert_with(|| {
                    self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(k.file.name),
                        source: wgpu::ShaderSource::Wgsl(k.file.source.into()),
                    })
                })
                .clone()
        };
        let entries: Vec<wgpu::BindGroupLayoutEntry> = k
            .bindings
            .iter()
            .map(|&(binding, kind)| {
                let buffer = |ty| wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None };
                let ty = match kind {
                    BindingKind::Uniform | BindingKind::UniformData => buffer(wgpu::BufferBindingType::Uniform),
                    BindingKind::StorageRead => buffer(wgpu::BufferBindingType::Storage { read_only: true }),
                    BindingKind::StorageReadWrite => buffer(wgpu::BufferBindingType::Storage { read_only: false }),
                    BindingKind::Texture => wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: false },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    BindingKind::StorageTexture => wgpu::BindingType::StorageTexture {
                        access: wgpu::StorageTextureAccess::WriteOnly,
                        format: wgpu::TextureFormat::Rgba32Float,
                        view_dimension: wgpu::TextureViewDimension::D2,
                    },
                    BindingKind::StorageTextureRead => wgpu::BindingType::StorageTexture {
                        access: wgpu::StorageTextureAccess::ReadOnly,
                        format: wgpu::TextureFormat::Rgba32Float,
                        view_dimension: wgpu::TextureViewDimension::D2,
                    },
                };
                wgpu::BindGroupLayoutEntry { binding, visibility: wgpu::ShaderStages::COMPUTE, ty, count: None }
            })
            .collect();
        let bgl =
            self.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: None, entries: &entries });
        let layout = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: None,
            bind_group_layouts: &[Some(&bgl)],
            immediate_size: 0,
        });
        let name = k.name();
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&name),
            layout: Some(&layout),
            module: &module,
            entry_point: Some(k.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: consts,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let p = Arc::new(pipeline);
        self.pipelines.lock().unwrap().insert(key, p.clone());
        p
    }

    /// Record one dispatch of `k`. `params` fills the uniform at the entry's
    /// uniform binding (if it has one); `bufs` fill its storage bindings in
    /// binding order. Nothing runs until the next flush (a read-back, an
    /// upload, or a full recorder).
    pub fn dispatch<P: bytemuck::Pod>(&self, k: &'static Kernel, params: &P, bufs: &[&Tensor], groups: [u32; 3]) {
        self.dispatch_with(k, &[], params, bufs, groups)
    }

    /// `dispatch` with WGSL `override` constants (tile sizes and the like).
    pub fn dispatch_with<P: bytemuck::Pod>(
        &self,
        k: &'static Kernel,
        consts: &[(&str, f64)],
        params: &P,
        bufs: &[&Tensor],
        groups: [u32; 3],
    ) {
        let ranges: Vec<(&Tensor, Option<(u64, u64)>)> = bufs.iter().map(|&t| (t, None)).collect();
        self.dispatch_ranges(k, consts, params, &ranges, groups)
    }

    /// `dispatch_with` where each non-params binding may be a byte range
    /// `(offset, size)` of its tensor's buffer (`None`: the whole buffer).
    /// Offsets must respect the adapter's uniform/storage offset alignment.
    pub fn dispatch_ranges<P: bytemuck::Pod>(
        &self,
        k: &'static Kernel,
        consts: &[(&str, f64)],
        params: &P,
        bufs: &[(&Tensor, Option<(u64, u64)>)],
        groups: [u32; 3],
    ) {
        let binds: Vec<Bind> = bufs.iter().map(|&(t, range)| Bind::Buf(t, range)).collect();
        self.dispatch_binds(k, consts, params, &binds, groups)
    }

    /// The general dispatch: each non-params binding is a [`Bind`].
    ///
    /// A whole tensor (`Bind::Buf(t, None)`) bound to a texture binding
    /// (`texture_storage_2d<rgba32float, read>`, or `texture_2d<f32>`) is first copied (in stream order, a memcpy on lavapipe) into a
    /// linear rgba32float texture: flat element i at texel
    /// ((i/4) % LINEAR_WIDTH, (i/4) / LINEAR_WIDTH), component i % 4, which
    /// the shaders read with `ld`/`ldt`. lavapipe turns every storage-buffer
    /// load into a per-lane loop, while a texel fetch is a few cycles: a
    /// kernel streaming a large input reads it 4-8x faster this way. Read-only
    /// storage textures beat sampled ones there: a sampled `textureLoad`
    /// first gathers the mip level's size, stride and offset per lane
    /// (alexnet-cifar training 226 -> 328 images/s when the kernels switched).
    pub fn dispatch_binds<P: bytemuck::Pod>(
        &self,
        k: &'static Kernel,
        consts: &[(&str, f64)],
        params: &P,
        bufs: &[Bind],
        groups: [u32; 3],
    ) {
        assert_eq!(
            bufs.len(),
            k.storage_count(),
            "{}: {} storage buffers bound, entry point uses {}",
            k.name(),
            bufs.len(),
            k.storage_count()
        );
        let bytes = bytemuck::bytes_of(params);
        assert!(bytes.len() as u64 <= self.slot, "{}: params larger than a slot", k.name());
        let max = self.limits.max_compute_workgroups_per_dimension;
        assert!(
            groups.iter().all(|&g| g <= max),
            "{}: dispatch {:?} exceeds {} workgroups per dimension",
            k.name(),
            groups,
            max
        );
        let pipeline = self.pipeline(k, consts);
        let mut rec = self.rec.lock().unwrap();
        if rec.dispatches() as u64 >= ARENA_SLOTS {
            self.flush_locked(&mut rec);
        }
        let offset = rec.params.len() as u64;
        let mut entries = Vec::with_capacity(k.bindings.len());
        // texture views of tensors copied into linear textures, by binding
        let mut views = Vec::new();
        let mut view_bindings = Vec::new();
        let mut next = bufs.iter();
        for &(binding, kind) in k.bindings {
            let resource = if kind == BindingKind::Uniform {
                wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &self.params,
                    offset,
                    size: wgpu::BufferSize::new((bytes.len() as u64).max(16).next_multiple_of(16)),
                })
            } else {
                match next.next().unwrap() {
                    Bind::Buf(t, None) if kind == BindingKind::Texture || kind == BindingKind::StorageTextureRead => {
                        views.push(self.linear_copy(&mut rec, t));
                        view_bindings.push(binding);
                        continue;
                    }
                    Bind::Buf(t, Some(_))
                        if kind == BindingKind::Texture || kind == BindingKind::StorageTextureRead =>
                    {
                        panic!("{}: binding {binding} is a texture; bind the whole tensor {:?}", k.name(), t.shape())
                    }
                    Bind::Buf(t, None) => t.buffer().as_entire_binding(),
                    Bind::Buf(t, Some((offset, size))) => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: t.buffer(),
                        offset: *offset,
                        size: wgpu::BufferSize::new(*size),
                    }),
                    Bind::Tex(view) => wgpu::BindingResource::TextureView(view),
                }
            };
            entries.push(wgpu::BindGroupEntry { binding, resource });
        }
        for (view, &binding) in views.iter().zip(&view_bindings) {
            entries.push(wgpu::BindGroupEntry { binding, resource: wgpu::BindingResource::TextureView(view) });
        }
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        rec.params.extend_from_slice(bytes);
        rec.params.resize((offset + self.slot) as usize, 0);
        rec.cmds.push(Cmd::Dispatch { pipeline, bind_group, groups, kernel: k });
        // After the texture copies above: a tensor both read through a
        // texture and written here gets its new version after its copy.
        let written = k.bindings.iter().filter(|(_, kind)| *kind != BindingKind::Uniform).zip(bufs);
        for (&(_, kind), b) in written {
            if let (BindingKind::StorageReadWrite, Bind::Buf(t, _)) = (kind, b) {
                t.mark_written();
            }
        }
    }

    /// The texture holding `t` in the layout `key` names (see
    /// [`TexCache::get_or_fill`]): reused while `t` is unwritten, else
    /// `fill` records the commands that write it. `key[0]` is the caller's
    /// tag (unique per kind of layout), `key[6]`, `key[7]` the texture's
    /// width and height.
    pub fn tensor_texture(
        &self,
        t: &Tensor,
        key: TexKey,
        fill: impl FnOnce(&wgpu::Texture, &wgpu::TextureView),
    ) -> wgpu::TextureView {
        self.operand_textures.get_or_fill(&self.device, t, key, fill)
    }

    /// Texture-copy reuse so far, both caches together.
    pub fn texture_cache_stats(&self) -> TexCacheStats {
        let (a, b) = (self.linear_textures.stats(), self.operand_textures.stats());
        TexCacheStats { hits: a.hits + b.hits, fills: a.fills + b.fills }
    }

    /// Record copies of `regions` of `t` into `texture`.
    pub fn copy_to_texture(&self, t: &Tensor, texture: &wgpu::Texture, regions: Vec<CopyRegion>) {
        if !regions.is_empty() {
            let cmd = Cmd::CopyToTexture { src: t.buffer().clone(), texture: texture.clone(), regions };
            self.rec.lock().unwrap().cmds.push(cmd);
        }
    }

    /// The cache key of `t`'s linear texture (vec4 i at texel
    /// (i % LINEAR_WIDTH, i / LINEAR_WIDTH)); panics when the adapter's
    /// textures are too small for it.
    fn linear_key(&self, t: &Tensor) -> TexKey {
        let vecs = t.len().div_ceil(4).max(1);
        let rows = vecs.div_ceil(LINEAR_WIDTH) as u32;
        assert!(
            rows <= self.limits.max_texture_dimension_2d,
            "tensor {:?} is too large to read as a texture: {rows} rows of {LINEAR_WIDTH} texels, adapter allows {}",
            t.shape(),
            self.limits.max_texture_dimension_2d
        );
        [0, vecs as u32, 0, 0, 0, 0, LINEAR_WIDTH as u32, rows]
    }

    /// For a kernel that produces `t` only for texture reads: the linear
    /// texture that texture bindings of `t` will read, for the caller's
    /// next dispatch to write whole (`texture_storage_2d<rgba32float,
    /// write>`), in place of writing `t` and copying it. `t`'s buffer stays
    /// unwritten, so bind `t` only to texture bindings afterwards. `None`
    /// when the texture cache is off (then write the buffer).
    pub fn claim_linear_texture(&self, t: &Tensor) -> Option<wgpu::TextureView> {
        self.linear_textures.claim(&self.device, t, self.linear_key(t))
    }

    /// `t`'s linear texture copy: the cached one while `t` is unwritten,
    /// else a copy recorded now.
    fn linear_copy(&self, rec: &mut Recorder, t: &Tensor) -> wgpu::TextureView {
        let key = self.linear_key(t);
        let vecs = key[1] as usize;
        // whole rows of LINEAR_WIDTH texels, then the partial last row
        let (full, rest) = (vecs / LINEAR_WIDTH, vecs % LINEAR_WIDTH);
        let row_bytes = (LINEAR_WIDTH * 16) as u32;
        let mut regions = Vec::new();
        if full > 0 {
            let width = LINEAR_WIDTH as u32;
            regions.push(CopyRegion { offset: 0, bytes_per_row: row_bytes, width, rows: full as u32, y: 0 });
        }
        if rest > 0 {
            let offset = (full * LINEAR_WIDTH * 16) as u64;
            regions.push(CopyRegion { offset, bytes_per_row: row_bytes, width: rest as u32, rows: 1, y: full as u32 });
        }
        self.linear_textures.get_or_fill(&self.device, t, key, |texture, _| {
            rec.cmds.push(Cmd::CopyToTexture { src: t.buffer().clone(), texture: texture.clone(), regions })
        })
    }

    /// Record a buffer-to-buffer copy into the stream.
    pub fn copy(&self, src: &Tensor, dst: &Tensor) {
        assert!(dst.len() >= src.len(), "copy: destination smaller than source");
        dst.mark_written();
        self.rec.lock().unwrap().cmds.push(Cmd::Copy {
            src: src.buffer().clone(),
            dst: dst.buffer().clone(),
            bytes: src.len() as u64 * 4,
        });
    }

    /// Record a fill with zeros into the stream.
    pub fn clear(&self, t: &Tensor) {
        t.mark_written();
        self.rec.lock().unwrap().cmds.push(Cmd::Clear { buf: t.buffer().clone() });
    }

    /// Submit everything recorded so far.
    pub fn flush(&self) {
        let mut rec = self.rec.lock().unwrap();
        self.flush_locked(&mut rec);
    }

    fn flush_locked(&self, rec: &mut Recorder) {
        if rec.cmds.is_empty() {
            return;
        }
        if !rec.params.is_empty() {
            self.queue.write_buffer(&self.params, 0, &rec.params);
        }
        let cmds = std::mem::take(&mut rec.cmds);
        rec.params.clear();
        self.submits.fetch_add(1, Ordering::Relaxed);
        self.prof.lock().unwrap().submit(&self.device, &self.queue, cmds);
    }

    /// The largest buffer, in bytes, this adapter can both create and bind
    /// as storage.
    pub fn max_tensor_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    /// A one-line error if a tensor of `shape` would not fit one buffer
    /// binding; commands call it (or size batches with `nn::capacity`)
    /// before anything is allocated.
    pub fn check_alloc(&self, shape: &[usize]) -> Result<()> {
        let bytes = shape.iter().try_fold(4u64, |b, &d| b.checked_mul(d as u64)).unwrap_or(u64::MAX).max(4);
        if bytes > self.max_tensor_bytes() {
            bail!(
                "a tensor of shape {shape:?} ({} KiB) exceeds this adapter's buffer binding limit of {} KiB",
                bytes.div_ceil(1024),
                self.max_tensor_bytes() >> 10
            );
        }
        Ok(())
    }

    /// [`Gpu::alloc`] that returns an error instead of panicking when the
    /// tensor exceeds the adapter's limits.
    pub fn try_alloc(self: &Arc<Self>, shape: &[usize]) -> Result<Tensor> {
        self.check_alloc(shape)?;
        let bytes = (shape.iter().product::<usize>() as u64 * 4).max(4);
        Ok(Tensor::from_pool(self.pool.take(&self.device, bytes), self.pool.clone(), shape))
    }

    /// [`Gpu::upload`] that returns an error instead of panicking when the
    /// data exceeds the adapter's limits (for arrays read from user files).
    pub fn try_upload(self: &Arc<Self>, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        self.check_alloc(shape)?;
        Ok(self.upload(data, shape))
    }

    /// A new tensor with undefined contents (from the pool). Kernels call
    /// this on hot paths, so it stays infallible: every command sizes its
    /// batches first ([`Gpu::check_alloc`], `nn::capacity`), which makes
    /// the panic below an internal error, not a user's.
    pub fn alloc(self: &Arc<Self>, shape: &[usize]) -> Tensor {
        self.try_alloc(shape).unwrap_or_else(|e| panic!("internal error: {e} (the caller should have split its batch)"))
    }

    pub fn zeros(self: &Arc<Self>, shape: &[usize]) -> Tensor {
        let t = self.alloc(shape);
        self.clear(&t);
        t
    }

    /// Upload f32 data. Flushes pending work first so the write lands after
    /// every recorded use of the (possibly recycled) buffer.
    pub fn upload(self: &Arc<Self>, data: &[f32], shape: &[usize]) -> Tensor {
        assert_eq!(data.len(), shape.iter().product::<usize>(), "upload: data length != shape {shape:?}");
        let t = self.alloc(shape);
        self.write(&t, bytemuck::cast_slice(data));
        t
    }

    /// A read-only constant (normalisation statistics and the like),
    /// uploaded on first use and shared afterwards, so per-step code can ask
    /// for it without an upload (and the flush an upload implies) each time.
    /// Callers must not write to it.
    pub fn constant(self: &Arc<Self>, data: &[f32], shape: &[usize]) -> Tensor {
        let key = (shape.to_vec(), data.iter().map(|v| v.to_bits()).collect::<Vec<u32>>());
        if let Some(t) = self.constants.lock().unwrap().get(&key) {
            return t.clone();
        }
        let t = self.upload(data, shape);
        self.constants.lock().unwrap().insert(key, t.clone());
        t
    }

    /// Upload u32 data (labels, indices) into a tensor-shaped buffer.
    pub fn upload_u32(self: &Arc<Self>, data: &[u32], shape: &[usize]) -> Tensor {
        assert_eq!(data.len(), shape.iter().product::<usize>(), "upload: data length != shape {shape:?}");
        let t = self.alloc(shape);
        self.write(&t, bytemuck::cast_slice(data));
        t
    }

    /// Overwrite a tensor's contents from the host (ordered after all
    /// recorded work).
    pub fn write(&self, t: &Tensor, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut rec = self.rec.lock().unwrap();
        self.flush_locked(&mut rec);
        t.mark_written();
        self.queue.write_buffer(t.buffer(), 0, bytes);
    }

    /// Read a tensor back (flushes and waits).
    pub fn read(&self, t: &Tensor) -> Vec<f32> {
        bytemuck::cast_slice(&self.read_bytes(t)).to_vec()
    }

    pub fn read_u32(&self, t: &Tensor) -> Vec<u32> {
        bytemuck::cast_slice(&self.read_bytes(t)).to_vec()
    }

    /// Read-backs so far (every `read` / `read_u32`, each a flush and a
    /// wait for the device).
    pub fn readbacks(&self) -> u64 {
        self.readbacks.load(Ordering::Relaxed)
    }

    /// Submits so far (flushes of recorded work).
    pub fn submits(&self) -> u64 {
        self.submits.load(Ordering::Relaxed)
    }

    fn read_bytes(&self, t: &Tensor) -> Vec<u8> {
        self.readbacks.fetch_add(1, Ordering::Relaxed);
        let bytes = t.len() as u64 * 4;
        if bytes == 0 {
            return Vec::new();
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        {
            let mut rec = self.rec.lock().unwrap();
            rec.cmds.push(Cmd::Copy { src: t.buffer().clone(), dst: staging.clone(), bytes });
            self.flush_locked(&mut rec);
        }
        let slice = staging.slice(..);
        slice.map_async(wgpu::MapMode::Read, |r| r.expect("map readback buffer"));
        self.device.poll(wgpu::PollType::wait_indefinitely()).expect("device lost while waiting");
        let out = slice.get_mapped_range().expect("mapped readback").to_vec();
        staging.unmap();
        out
    }

    /// Block until all submitted work has finished.
    pub fn sync(&self) {
        self.flush();
        self.device.poll(wgpu::PollType::wait_indefinitely()).expect("device lost while waiting");
    }

    pub fn profile_mode(&self) -> ProfileMode {
        self.prof.lock().unwrap().mode()
    }

    /// The per-kernel table for `--profile` (None when profiling is off).
    pub fn profile_report(&self) -> Option<String> {
        self.sync();
        self.prof.lock().unwrap().report()
    }
}

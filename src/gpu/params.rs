//! Host twins of the shaders' params structs (each file's `var<uniform> p`).
//!
//! An ops module declares the struct it uploads with [`params_struct!`],
//! naming the shader file it belongs to. The macro adds `#[repr(C)]` and the
//! bytemuck derives, and records the struct's layout (field names, offsets,
//! sizes and types, via `offset_of!`); a test (`ops::tests`) checks each
//! against the layout naga gives the shader's struct (build.rs), so a field
//! reordered, retyped or added on one side only fails `cargo test`.

use super::kernel::{ParamField, ParamsLayout, ShaderFile};

/// A host params struct's layout and the shader file it is uploaded to.
#[derive(Debug)]
pub struct HostParams {
    pub shader: &'static ShaderFile,
    /// The Rust struct's name, for messages.
    pub name: &'static str,
    pub size: usize,
    /// `ty` is the Rust type as written (`u32`, `[u32; 3]`).
    pub fields: &'static [ParamField],
}

/// Declares a params struct for a shader file:
///
/// ```ignore
/// params_struct! {
///     #[derive(Debug, Default)]
///     struct Params for crate::gpu::kernels::REDUCE_WGSL {
///         rows: u32,
///         cols: u32,
///         scale: f32,
///         _pad: u32,
///     }
/// }
/// ```
///
/// Fields named `_...` are padding: only the real fields are matched, by
/// name, in order, with their offsets, sizes and types, and the total sizes
/// must agree. Also defines `PARAMS_LAYOUT` (a [`HostParams`]) in test builds.
macro_rules! params_struct {
    (
        $(#[$m:meta])*
        struct $name:ident for $shader:path {
            $($(#[$fm:meta])* $field:ident: $ty:ty),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
        struct $name {
            $($(#[$fm])* $field: $ty),*
        }

        #[cfg(test)]
        pub(crate) const PARAMS_LAYOUT: $crate::gpu::params::HostParams = $crate::gpu::params::HostParams {
            shader: &$shader,
            name: stringify!($name),
            size: ::std::mem::size_of::<$name>(),
            fields: &[$($crate::gpu::kernel::ParamField {
                name: stringify!($field),
                offset: ::std::mem::offset_of!($name, $field),
                size: ::std::mem::size_of::<$ty>(),
                ty: stringify!($ty),
            }),*],
        };
    };
}
pub(crate) use params_struct;

fn is_padding(f: &ParamField) -> bool {
    f.name.starts_with('_')
}

/// How `host` differs from its shader's params struct, one line per
/// difference (empty when they agree).
pub fn layout_mismatches(host: &HostParams) -> Vec<String> {
    let at = format!("{} (host) vs shaders/{}.wgsl Params", host.name, host.shader.name);
    let Some(ParamsLayout { size, fields }) = &host.shader.params else {
        return vec![format!("{at}: the shader has no `var<uniform> p`")];
    };
    let mut out = Vec::new();
    if host.size != *size {
        out.push(format!("{at}: {} bytes on the host, {size} in WGSL", host.size));
    }
    let real = |fs: &'static [ParamField]| fs.iter().filter(|f| !is_padding(f)).collect::<Vec<_>>();
    let (h, w) = (real(host.fields), real(fields));
    for i in 0..h.len().max(w.len()) {
        let show = |f: Option<&&ParamField>| match f {
            Some(f) => format!("`{}: {}` at byte {} ({} bytes)", f.name, f.ty, f.offset, f.size),
            None => "nothing".to_string(),
        };
        if h.get(i) != w.get(i) {
            out.push(format!("{at}: field {i} is {} on the host, {} in WGSL", show(h.get(i)), show(w.get(i))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn field(name: &'static str, offset: usize, ty: &'static str) -> ParamField {
        ParamField { name, offset, size: 4, ty }
    }

    static SHADER: ShaderFile = ShaderFile {
        name: "toy",
        source: "",
        params: Some(ParamsLayout {
            size: 16,
            fields: &[
                field("n", 0, "u32"),
                field("scale", 4, "f32"),
                field("_pad0", 8, "u32"),
                field("_pad1", 12, "u32"),
            ],
        }),
    };

    fn host(fields: &'static [ParamField], size: usize) -> HostParams {
        HostParams { shader: &SHADER, name: "Toy", size, fields }
    }

    #[test]
    fn padding_may_be_spelt_differently() {
        static F: [ParamField; 3] = [
            field("n", 0, "u32"),
            field("scale", 4, "f32"),
            ParamField { name: "_pad", offset: 8, size: 8, ty: "[u32; 2]" },
        ];
        assert_eq!(layout_mismatches(&host(&F, 16)), Vec::<String>::new());
    }

    #[test]
    fn a_swapped_retyped_or_missing_field_or_size_is_reported() {
        static SWAPPED: [ParamField; 2] = [field("scale", 0, "f32"), field("n", 4, "u32")];
        let m = layout_mismatches(&host(&SWAPPED, 16));
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].contains("field 0 is `scale: f32` at byte 0 (4 bytes) on the host, `n: u32` at byte 0"), "{m:?}");
        static RETYPED: [ParamField; 2] = [field("n", 0, "u32"), field("scale", 4, "u32")];
        assert_eq!(layout_mismatches(&host(&RETYPED, 16)).len(), 1);
        static MISSING: [ParamField; 1] = [field("n", 0, "u32")];
        let m = layout_mismatches(&host(&MISSING, 8));
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].contains("8 bytes on the host, 16 in WGSL") && m[1].contains("is nothing on the host"), "{m:?}");
    }
}

//! Parses and validates every `shaders/*.wgsl` with naga, so a broken shader
//! fails `cargo build` with naga's own message (file and line), and generates
//! `kernels.rs`: one `Kernel` constant per compute entry point, with the
//! bindings that entry point really uses (reflected by naga's analyser). The
//! host side then builds exact bind-group layouts without hand-kept tables.
//!
//! Unrolled code, which WGSL has no templates for, comes from generators
//! under build/ (listed in `GENERATORS`): a line `// @generate <file> <name>`
//! in a shader is replaced by that generator's text. Helpers several shaders
//! share live once under shaders/common/: a line `// @include common/<file>`
//! is replaced by that file. The full text of such a shader goes to
//! OUT_DIR/<name>.wgsl, which is what naga validates and what the runtime
//! compiles; naga's errors in it get a note naming the real file and line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "build/gemm_gen.rs"]
mod gemm_gen;
#[path = "build/gemm_tex_gen.rs"]
mod gemm_tex_gen;

/// Text a shader takes in at its line `// @generate {source} {name}`.
struct Generator {
    source: &'static str,
    name: &'static str,
    generate: fn() -> String,
}

const GENERATORS: &[Generator] = &[
    Generator { source: "build/gemm_gen.rs", name: "cpu_nn", generate: gemm_gen::cpu_nn },
    Generator { source: "build/gemm_gen.rs", name: "cpu_ubo2", generate: gemm_gen::cpu_ubo2 },
    Generator { source: "build/gemm_tex_gen.rs", name: "entry_points", generate: gemm_tex_gen::entry_points },
];

const MARKER: &str = "// @generate ";
const INCLUDE: &str = "// @include ";

/// Where a run of lines of an expanded shader comes from.
enum Origin {
    /// The shader itself, from this (1-based) line on.
    Hand(usize),
    /// A generator's text.
    Generated(&'static Generator),
    /// An included file (`shaders/common/...`), from its first line.
    Included(String),
}

/// A run of lines of an expanded shader: `first` is its first line there
/// (1-based).
struct Piece {
    first: usize,
    origin: Origin,
}

/// `src` with each marker line replaced by its generator's text and each
/// include line by the file it names (relative to `shaders`), and the pieces
/// it is made of; `None` when there is neither. Sets `used[i]` for each
/// `GENERATORS[i]` it inserts and adds each included file to `included`.
fn expand(
    src: &str,
    shown: &str,
    shaders: &Path,
    used: &mut [bool],
    included: &mut Vec<PathBuf>,
) -> Result<Option<(String, Vec<Piece>)>, String> {
    if !src.lines().any(|l| l.starts_with(MARKER) || l.starts_with(INCLUDE)) {
        return Ok(None);
    }
    let (mut out, mut pieces, mut line_no) = (String::new(), Vec::new(), 1);
    for (i, line) in src.split_inclusive('\n').enumerate() {
        let (text, origin) = if let Some(spec) = line.strip_prefix(MARKER) {
            let spec = spec.trim_end();
            let Some(g) = GENERATORS.iter().position(|g| spec == format!("{} {}", g.source, g.name)) else {
                return Err(format!("{shown}:{}: no generator `{spec}` in build.rs GENERATORS", i + 1));
            };
            let text = (GENERATORS[g].generate)();
            assert!(text.ends_with('\n'), "{spec}: generated text must end with a newline");
            used[g] = true;
            (text, Origin::Generated(&GENERATORS[g]))
        } else if let Some(spec) = line.strip_prefix(INCLUDE) {
            let spec = spec.trim_end();
            let path = shaders.join(spec);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{shown}:{}: cannot include `{spec}` ({}): {e}", i + 1, path.display()))?;
            if !text.ends_with('\n') || text.lines().any(|l| l.starts_with(MARKER) || l.starts_with(INCLUDE)) {
                return Err(format!(
                    "shaders/{spec}: an included file must end with a newline and have no @generate or @include lines"
                ));
            }
            if !included.contains(&path) {
                included.push(path);
            }
            (text, Origin::Included(format!("shaders/{spec}")))
        } else {
            if pieces.last().is_none_or(|p: &Piece| !matches!(p.origin, Origin::Hand(_))) {
                pieces.push(Piece { first: line_no, origin: Origin::Hand(i + 1) });
            }
            out.push_str(line);
            line_no += 1;
            continue;
        };
        pieces.push(Piece { first: line_no, origin });
        out.push_str(&text);
        line_no += text.lines().count();
    }
    Ok(Some((out, pieces)))
}

/// Notes for a naga error in the expanded shader `shown` (`total` lines):
/// where its line `line` comes from, and which lines were generated or
/// included.
fn origin_notes(pieces: &[Piece], total: usize, line: Option<usize>, shown: &str, hand: &str) -> String {
    let mut notes = String::new();
    if let Some(line) = line {
        let p = pieces.iter().rev().find(|p| p.first <= line).unwrap();
        let from = match &p.origin {
            Origin::Hand(l) => format!("{hand}:{}", l + line - p.first),
            Origin::Generated(g) => format!("line {} of what `{}` in {} writes", line - p.first + 1, g.name, g.source),
            Origin::Included(file) => format!("{file}:{}", line - p.first + 1),
        };
        writeln!(notes, "note: {shown}:{line} is {from}").unwrap();
    }
    let mut parts = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        let end = pieces.get(i + 1).map_or(total, |n| n.first - 1);
        match &p.origin {
            Origin::Hand(_) => {}
            Origin::Generated(g) => parts.push(format!("{}-{end} generated by `{}` in {}", p.first, g.name, g.source)),
            Origin::Included(file) => parts.push(format!("{}-{end} from {file}", p.first)),
        }
    }
    write!(notes, "note: {shown} is {hand} with lines {}", parts.join(", ")).unwrap();
    notes
}

/// Rust source for the layout of the shader's params struct (its
/// `var<uniform> p`) as naga lays it out: `Some(ParamsLayout { .. })`, or
/// `None` when the shader has no `p`. Checked against the host structs by
/// the test in src/gpu/params.rs.
fn params_layout(module: &naga::Module) -> String {
    let is_p = |v: &naga::GlobalVariable| v.space == naga::AddressSpace::Uniform && v.name.as_deref() == Some("p");
    let Some((_, var)) = module.global_variables.iter().find(|(_, v)| is_p(v)) else {
        return "None".into();
    };
    let naga::TypeInner::Struct { members, span } = &module.types[var.ty].inner else {
        return format!(
            "Some(ParamsLayout {{ size: {}, fields: &[] }})",
            module.types[var.ty].inner.size(module.to_ctx())
        );
    };
    let fields: Vec<String> = members
        .iter()
        .map(|m| {
            format!(
                "ParamField {{ name: {:?}, offset: {}, size: {}, ty: {:?} }}",
                m.name.as_deref().unwrap_or(""),
                m.offset,
                module.types[m.ty].inner.size(module.to_ctx()),
                type_name(module, m.ty)
            )
        })
        .collect();
    format!("Some(ParamsLayout {{ size: {span}, fields: &[{}] }})", fields.join(", "))
}

/// A WGSL type spelt as its Rust twin where it has one: `u32`, `f32`,
/// `[u32; 3]`; vectors as `vec4<f32>`; anything else as naga's debug text.
fn type_name(module: &naga::Module, ty: naga::Handle<naga::Type>) -> String {
    let scalar = |s: naga::Scalar| match (s.kind, s.width) {
        (naga::ScalarKind::Uint, 4) => "u32".to_string(),
        (naga::ScalarKind::Sint, 4) => "i32".to_string(),
        (naga::ScalarKind::Float, 4) => "f32".to_string(),
        _ => format!("{s:?}"),
    };
    match &module.types[ty].inner {
        naga::TypeInner::Scalar(s) => scalar(*s),
        naga::TypeInner::Vector { size, scalar: s } => format!("vec{}<{}>", *size as u8, scalar(*s)),
        naga::TypeInner::Array { base, size: naga::ArraySize::Constant(n), .. } => {
            format!("[{}; {n}]", type_name(module, *base))
        }
        other => format!("{other:?}"),
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let dir = root.join("shaders");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut sources: Vec<_> = GENERATORS.iter().map(|g| g.source).collect();
    sources.sort();
    sources.dedup();
    for source in sources {
        println!("cargo:rerun-if-changed={}", root.join(source).display());
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("shaders/ directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wgsl"))
        .collect();
    files.sort();

    let mut out = String::from("// @generated by build.rs from shaders/*.wgsl (and build/*_gen.rs) — do not edit.\n");
    let mut failed = false;
    let mut used = vec![false; GENERATORS.len()];
    let mut included = Vec::new();
    let mut file_consts = Vec::new();
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let src = std::fs::read_to_string(path).expect("readable shader");
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let file_name = path.file_name().unwrap().to_string_lossy().to_string();
        let hand = format!("shaders/{file_name}");
        // An expanded shader is written to OUT_DIR before validating, so the
        // lines naga reports can be opened; a note maps them back.
        let (src, shown, source_path, pieces) = match expand(&src, &hand, &dir, &mut used, &mut included) {
            Ok(None) => (src, hand.clone(), path.clone(), Vec::new()),
            Ok(Some((full, pieces))) => {
                let out_path = out_dir.join(&file_name);
                std::fs::write(&out_path, &full).unwrap();
                (full, out_path.display().to_string(), out_path, pieces)
            }
            Err(msg) => {
                eprintln!("error: {msg}");
                failed = true;
                continue;
            }
        };
        let report = |msg: String, loc: Option<naga::SourceLocation>| {
            eprintln!("{msg}");
            if !pieces.is_empty() {
                let line = loc.map(|l| l.line_number as usize);
                eprintln!("{}", origin_notes(&pieces, src.lines().count(), line, &shown, &hand));
            }
        };
        let module = match naga::front::wgsl::parse_str(&src) {
            Ok(m) => m,
            Err(e) => {
                report(e.emit_to_string_with_path(&src, &shown), e.location(&src));
                failed = true;
                continue;
            }
        };
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default()
                | naga::valid::Capabilities::SHADER_FLOAT16
                | naga::valid::Capabilities::SUBGROUP,
        );
        let info = match validator.validate(&module) {
            Ok(i) => i,
            Err(e) => {
                report(e.emit_to_string_with_path(&src, &shown), e.location(&src));
                failed = true;
                continue;
            }
        };
        let file_const = format!("{}_WGSL", stem.to_uppercase());
        writeln!(
            out,
            "pub static {file_const}: ShaderFile = ShaderFile {{ name: {stem:?}, source: include_str!({:?}), params: {} }};",
            source_path.display().to_string(),
            params_layout(&module),
        )
        .unwrap();
        file_consts.push(file_const.clone());
        for (i, ep) in module.entry_points.iter().enumerate() {
            if ep.stage != naga::ShaderStage::Compute {
                continue;
            }
            let fi = info.get_entry_point(i);
            let mut bindings = Vec::new();
            for (h, var) in module.global_variables.iter() {
                if fi[h].is_empty() {
                    continue;
                }
                let Some(rb) = &var.binding else { continue };
                assert_eq!(rb.group, 0, "{shown}: only @group(0) is supported");
                let kind = match var.space {
                    // `p` is the params slot; other uniforms carry tensor data.
                    naga::AddressSpace::Uniform if var.name.as_deref() == Some("p") => "BindingKind::Uniform",
                    naga::AddressSpace::Uniform => "BindingKind::UniformData",
                    naga::AddressSpace::Storage { access } => {
                        if access.contains(naga::StorageAccess::STORE) {
                            "BindingKind::StorageReadWrite"
                        } else {
                            "BindingKind::StorageRead"
                        }
                    }
                    naga::AddressSpace::Handle => match module.types[var.ty].inner {
                        naga::TypeInner::Image { class: naga::ImageClass::Storage { access, .. }, .. } => {
                            if access.contains(naga::StorageAccess::STORE) {
                                "BindingKind::StorageTexture"
                            } else {
                                "BindingKind::StorageTextureRead"
                            }
                        }
                        naga::TypeInner::Image { .. } => "BindingKind::Texture",
                        _ => continue,
                    },
                    _ => continue,
                };
                bindings.push((rb.binding, kind));
            }
            bindings.sort();
            let bindings: Vec<String> = bindings.iter().map(|(b, k)| format!("({b}, {k})")).collect();
            writeln!(
                out,
                "pub static {}_{}: Kernel = Kernel {{ file: &{file_const}, entry: {:?}, bindings: &[{}] }};",
                stem.to_uppercase(),
                ep.name.to_uppercase(),
                ep.name,
                bindings.join(", ")
            )
            .unwrap();
        }
    }
    for path in &included {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    for entry in std::fs::read_dir(dir.join("common")).into_iter().flatten().flatten() {
        if !included.contains(&entry.path()) {
            eprintln!("error: no shader has the line `{INCLUDE}common/{}`", entry.file_name().to_string_lossy());
            failed = true;
        }
    }
    for (g, used) in GENERATORS.iter().zip(&used) {
        if !used {
            eprintln!("error: no shader has the line `{MARKER}{} {}`", g.source, g.name);
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
    let all: Vec<String> = file_consts.iter().map(|c| format!("&{c}")).collect();
    writeln!(out, "pub static SHADER_FILES: &[&ShaderFile] = &[{}];", all.join(", ")).unwrap();
    std::fs::write(out_dir.join("kernels.rs"), out).unwrap();
}

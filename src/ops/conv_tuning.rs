//! Per-layer choice of convolution algorithm by measurement, kept per
//! adapter and shape in a file, so a layer is timed once, not every run.
//!
//! `ConvAlgo::Auto` takes the fast kernels wherever they apply, which is
//! right for most layers on lavapipe but not for deep layers on small
//! planes: a 2x2 plane fills 4 of the fast kernel's 32-output tiles
//! (vgg-cifar:8 conv11-13, batch 128: fast forward 11 ms, im2col + GEMM
//! 6-9 ms), and on real GPUs the balance is unmeasured. `advlab bench conv
//! --tune` times every algorithm on each pass of each layer and records
//! the fastest here; from then on `Auto` follows the record for exactly
//! that (adapter, pass, shape, batch), and falls back to its rule for
//! anything unrecorded.
//!
//! The file: `ADVLAB_CONV_TUNING` (a path, or `off` to ignore every
//! record), else `$XDG_CACHE_HOME/advlab/conv-tuning.json`, else
//! `$HOME/.cache/advlab/conv-tuning.json`. It is JSON:
//! `{"version": 1, "adapters": {"<adapter>": {"<pass> <shape>": "fast" |
//! "direct" | "im2col"}}}`. A file that does not parse is reported once
//! on stderr and ignored (it is a cache; deleting it is always safe).
//!
//! The algorithms agree to rounding, not bit for bit: results.json records
//! the tuning in force (`report::envelope`), so a rerun can match it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::conv2d::{self, ConvAlgo, ConvGeom, ConvInput};
use crate::gpu::Gpu;

/// The three passes of a convolution, each tuned on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvPass {
    Forward,
    /// The gradient with respect to the input.
    Data,
    /// The gradient with respect to the weights.
    Weight,
}

impl ConvPass {
    pub const ALL: [ConvPass; 3] = [ConvPass::Forward, ConvPass::Data, ConvPass::Weight];

    pub fn name(self) -> &'static str {
        match self {
            ConvPass::Forward => "forward",
            ConvPass::Data => "data",
            ConvPass::Weight => "weight",
        }
    }
}

/// The algorithms a record can name ("fast" only where the fast kernels
/// apply).
pub const CANDIDATES: [(&str, ConvAlgo); 3] =
    [("fast", ConvAlgo::Fast), ("direct", ConvAlgo::Direct), ("im2col", ConvAlgo::Im2col)];

fn algo_named(name: &str) -> Option<ConvAlgo> {
    CANDIDATES.iter().find(|(n, _)| *n == name).map(|&(_, a)| a)
}

fn algo_name(algo: ConvAlgo) -> &'static str {
    CANDIDATES.iter().find(|(_, a)| *a == algo).map(|&(n, _)| n).unwrap()
}

/// The record key of one pass of one layer shape (batch included).
pub fn key(pass: ConvPass, g: &ConvGeom) -> String {
    format!(
        "{} x{}x{}x{}x{} w{}x{}x{}x{} s{}x{} p{}x{}",
        pass.name(),
        g.n,
        g.c,
        g.h,
        g.w,
        g.o,
        g.c,
        g.kh,
        g.kw,
        g.stride.0,
        g.stride.1,
        g.pad.0,
        g.pad.1
    )
}

/// adapter -> (key -> algorithm name)
type Records = BTreeMap<String, BTreeMap<String, String>>;

struct Table {
    /// None when ADVLAB_CONV_TUNING=off.
    path: Option<PathBuf>,
    records: Records,
}

fn table() -> &'static Mutex<Table> {
    static T: OnceLock<Mutex<Table>> = OnceLock::new();
    T.get_or_init(|| {
        let path = default_path();
        let records = match &path {
            Some(p) => match read(p) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("warning: {}; running without conv tuning", crate::fsutil::one_line(&e));
                    Records::new()
                }
            },
            None => Records::new(),
        };
        Mutex::new(Table { path, records })
    })
}

/// Where records are read from and written to (None: tuning is off).
pub fn default_path() -> Option<PathBuf> {
    match std::env::var("ADVLAB_CONV_TUNING").as_deref() {
        Ok("off") | Ok("0") => return None,
        Ok(p) if !p.is_empty() => return Some(PathBuf::from(p)),
        _ => {}
    }
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("advlab").join("conv-tuning.json"))
}

/// The records of a tuning file (none when it does not exist).
pub fn read(path: &std::path::Path) -> Result<Records> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Records::new()),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read the conv tuning file", path.display())),
    };
    let bad = || {
        format!(
            "{}: not a conv tuning file (expected {{\"version\": 1, \"adapters\": {{adapter: {{key: \"fast\"|\"direct\"|\"im2col\"}}}}}}; delete it to start afresh)",
            path.display()
        )
    };
    let v: Value = serde_json::from_slice(&bytes).with_context(bad)?;
    if v.get("version").and_then(Value::as_u64) != Some(1) {
        bail!(bad());
    }
    let records: Records = serde_json::from_value(v.get("adapters").cloned().unwrap_or(json!({}))).with_context(bad)?;
    if records.values().flat_map(|m| m.values()).any(|a| algo_named(a).is_none()) {
        bail!(bad());
    }
    Ok(records)
}

/// The recorded algorithm for `pass` of `g` on `gpu`'s adapter, if any.
pub fn recorded(gpu: &Gpu, pass: ConvPass, g: &ConvGeom) -> Option<ConvAlgo> {
    let t = table().lock().unwrap();
    // (no key formatting per conv call in the common untuned case)
    if t.path.is_none() || t.records.is_empty() {
        return None;
    }
    t.records.get(&gpu.adapter_name())?.get(&key(pass, g)).and_then(|a| algo_named(a))
}

/// Record `algo` for `pass` of `g` on `gpu`'s adapter in this process
/// (`save` writes the records to the file).
pub fn record(gpu: &Gpu, pass: ConvPass, g: &ConvGeom, algo: ConvAlgo) {
    let mut t = table().lock().unwrap();
    t.records.entry(gpu.adapter_name()).or_default().insert(key(pass, g), algo_name(algo).to_string());
}

/// Write every record to the tuning file (merged with what another process
/// wrote since this one read it), by a temp file and a rename. Returns the
/// path, or None when tuning is off.
pub fn save() -> Result<Option<PathBuf>> {
    let t = table().lock().unwrap();
    let Some(path) = t.path.clone() else { return Ok(None) };
    let mut merged = read(&path).unwrap_or_default();
    for (adapter, recs) in &t.records {
        merged.entry(adapter.clone()).or_default().extend(recs.clone());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the directory", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&json!({"version": 1, "adapters": merged}))?;
    crate::fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(Some(path))
}

/// What results.json says of the tuning in force: the file and how many
/// records it holds for this adapter.
pub fn summary(gpu: &Gpu) -> Value {
    let t = table().lock().unwrap();
    match &t.path {
        None => json!({"file": null, "records": 0}),
        Some(p) => json!({
            "file": p.display().to_string(),
            "records": t.records.get(&gpu.adapter_name()).map_or(0, |m| m.len()),
        }),
    }
}

/// One pass's timings: (algorithm name, seconds per call) for every
/// algorithm that handles it, and the fastest.
#[derive(Clone, Debug)]
pub struct PassTiming {
    pub pass: ConvPass,
    pub seconds: Vec<(&'static str, f64)>,
    pub chosen: &'static str,
}

/// Whether `algo`'s own kernels run `pass` of `g` on `gpu` (`Fast` falls
/// back to `Direct` where the fast kernels do not apply: no separate
/// candidate; `Im2col` needs its column matrix within one binding and one
/// linear texture).
fn handles(gpu: &Gpu, algo: ConvAlgo, pass: ConvPass, g: &ConvGeom) -> bool {
    match algo {
        ConvAlgo::Fast => conv2d::fast_applies(pass, g),
        ConvAlgo::Im2col => {
            let l = &gpu.limits;
            let texture = l.max_texture_dimension_2d as u64 * crate::gpu::LINEAR_WIDTH as u64 * 4;
            let storage = l.max_storage_buffer_binding_size.min(l.max_buffer_size) / 4;
            ((g.c * g.kh * g.kw) as u64) * ((g.n * g.oh * g.ow) as u64) <= texture.min(storage)
        }
        _ => true,
    }
}

/// Time every algorithm on each pass of `g` (random data, one warm-up call,
/// then the best of `reps` synced calls) and record the fastest.
pub fn tune(gpu: &std::sync::Arc<Gpu>, g: &ConvGeom, reps: usize) -> Vec<PassTiming> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut rand = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-0.5f32..0.5)).collect() };
    let (xs, ws, ys) = (g.x_shape(), g.w_shape(), g.y_shape());
    let x = gpu.upload(&rand(xs.iter().product()), &xs);
    let w = gpu.upload(&rand(ws.iter().product()), &ws);
    let dy = gpu.upload(&rand(ys.iter().product()), &ys);
    let input = ConvInput::new(&x);
    let mut out = Vec::new();
    for pass in ConvPass::ALL {
        let mut seconds = Vec::new();
        for (name, algo) in CANDIDATES {
            if !handles(gpu, algo, pass, g) {
                continue;
            }
            let run = || match pass {
                ConvPass::Forward => drop(conv2d::conv2d_forward_algo(gpu, algo, &x, &w, None, g.stride, g.pad)),
                ConvPass::Data => drop(conv2d::conv2d_backward_data_algo(gpu, algo, &dy, &w, &xs, g.stride, g.pad)),
                ConvPass::Weight => {
                    drop(conv2d::conv2d_backward_weight_algo(gpu, algo, &dy, &input, &ws, g.stride, g.pad))
                }
            };
            run();
            gpu.sync();
            let mut best = f64::INFINITY;
            for _ in 0..reps.max(1) {
                let t = Instant::now();
                run();
                gpu.sync();
                best = best.min(t.elapsed().as_secs_f64());
            }
            seconds.push((name, best));
        }
        let chosen = seconds.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
        record(gpu, pass, g, algo_named(chosen).unwrap());
        out.push(PassTiming { pass, seconds, chosen });
    }
    out
}

//! Model checkpoints as safetensors, with PyTorch's tensor names and layouts
//! (`fc1.weight` is `[out, in]`, conv weights `[out, in, kh, kw]`).
//!
//! Saving writes F32 little-endian tensors atomically. Loading accepts F32
//! and F64 tensors (F64 is converted to f32); tensors of other dtypes may be
//! present (e.g. PyTorch's int64 `num_batches_tracked`) but cannot be read
//! with [`Checkpoint::get`]. Every float tensor is checked for NaN/Inf when
//! the file is loaded.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use safetensors::{Dtype, SafeTensors, View};

use crate::fsutil::write_atomic;

fn shape_str(shape: &[usize]) -> String {
    format!("[{}]", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
}

struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &F32View {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Save `tensors` (name, shape, row-major data) as an F32 safetensors file,
/// atomically. `metadata` goes into the file's `__metadata__` (string → string).
/// Refuses duplicate or empty names, shape/length mismatches and non-finite values.
pub fn save(path: &Path, tensors: &[(String, Vec<usize>, &[f32])], metadata: &BTreeMap<String, String>) -> Result<()> {
    let name = path.display();
    let mut seen = HashSet::new();
    let mut views = Vec::with_capacity(tensors.len());
    for (tname, shape, data) in tensors {
        if tname.is_empty() {
            bail!("{name}: cannot save a tensor with an empty name");
        }
        if tname == "__metadata__" {
            bail!("{name}: \"__metadata__\" is reserved and cannot be a tensor name");
        }
        if !seen.insert(tname.as_str()) {
            bail!("{name}: duplicate tensor name \"{tname}\"");
        }
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if n != Some(data.len()) {
            bail!("{name}: tensor \"{tname}\" has shape {} but {} values", shape_str(shape), data.len());
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            bail!("{name}: refusing to save tensor \"{tname}\": value {} at flat index {i} is not finite", data[i]);
        }
        let mut bytes = Vec::with_capacity(data.len() * 4);
        for v in data.iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        views.push((tname.clone(), F32View { shape: shape.clone(), bytes }));
    }
    let meta: Option<HashMap<String, String>> =
        if metadata.is_empty() { None } else { Some(metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect()) };
    let bytes = safetensors::serialize(views.iter().map(|(n, v)| (n.as_str(), v)), meta)
        .map_err(|e| anyhow!("{name}: cannot encode safetensors: {e}"))?;
    write_atomic(path, &bytes)
}

#[derive(Debug, Clone)]
struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    /// Decoded values for F32/F64 tensors; `None` for other dtypes.
    data: Option<Vec<f32>>,
}

/// A loaded safetensors checkpoint.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    path: PathBuf,
    tensors: BTreeMap<String, Entry>,
    metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// Load and validate a safetensors file.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let name = path.display();
        let bytes = fs::read(path).map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
        let bad = |e: safetensors::SafeTensorError| {
            anyhow!("{name}: not a valid safetensors file: {}", e.to_string().replace(['\n', '\r'], " "))
        };
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(bad)?;
        let metadata: BTreeMap<String, String> = meta
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let st = SafeTensors::deserialize(&bytes).map_err(bad)?;
        let mut tensors = BTreeMap::new();
        for (tname, view) in st.iter() {
            let dtype = view.dtype();
            let shape = view.shape().to_vec();
            let raw = view.data();
            let data = match dtype {
                Dtype::F32 => {
                    let v: Vec<f32> =
                        raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                        bail!("{name}: tensor \"{tname}\" contains a non-finite value ({}) at flat index {i}", v[i]);
                    }
                    Some(v)
                }
                Dtype::F64 => {
                    let mut v = Vec::with_capacity(raw.len() / 8);
                    for (i, c) in raw.chunks_exact(8).enumerate() {
                        let x = f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                        if !x.is_finite() {
                            bail!("{name}: tensor \"{tname}\" contains a non-finite value ({x}) at flat index {i}");
                        }
                        let y = x as f32;
                        if !y.is_finite() {
                            bail!("{name}: tensor \"{tname}\" value {x} at flat index {i} overflows float32");
                        }
                        v.push(y);
                    }
                    Some(v)
                }
                _ => None,
            };
            tensors.insert(tname.to_string(), Entry { dtype, shape, data });
        }
        Ok(Checkpoint { path: path.to_path_buf(), tensors, metadata })
    }

    /// The tensor `name` as f32, checking that its shape is `expected_shape`.
    pub fn get(&self, name: &str, expected_shape: &[usize]) -> Result<Vec<f32>> {
        let file = self.path.display();
        let Some(e) = self.tensors.get(name) else {
            bail!("{file}: missing tensor \"{name}\" (expected shape {})", shape_str(expected_shape));
        };
        if e.shape != expected_shape {
            bail!(
                "{file}: tensor \"{name}\" has shape {}, expected {}",
                shape_str(&e.shape),
                shape_str(expected_shape)
            );
        }
        match &e.data {
            Some(v) => Ok(v.clone()),
            None => bail!("{file}: tensor \"{name}\" has dtype {}, expected F32 or F64", e.dtype),
        }
    }

    /// The tensor `name` as f32 with whatever shape it has.
    pub fn get_any(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let file = self.path.display();
        let Some(e) = self.tensors.get(name) else {
            bail!("{file}: missing tensor \"{name}\"");
        };
        match &e.data {
            Some(v) => Ok((e.shape.clone(), v.clone())),
            None => bail!("{file}: tensor \"{name}\" has dtype {}, expected F32 or F64", e.dtype),
        }
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.tensors.keys().map(String::as_str).collect()
    }

    /// The shape of tensor `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|e| e.shape.as_slice())
    }

    /// Whether tensor `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Names present in the file but not in `used` (e.g. to warn about
    /// tensors a model did not consume), sorted.
    pub fn unused<'a>(&'a self, used: &[&str]) -> Vec<&'a str> {
        let used: HashSet<&str> = used.iter().copied().collect();
        self.tensors.keys().map(String::as_str).filter(|n| !used.contains(n)).collect()
    }

    /// The file's `__metadata__` (empty if none).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The path the checkpoint was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::{msg, TempDir};

    fn sample() -> (Vec<f32>, Vec<f32>) {
        let w: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
        let b = vec![0.25f32, -0.75];
        (w, b)
    }

    fn meta() -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("arch".to_string(), "mlp:3-2".to_string());
        m.insert("format".to_string(), "pt".to_string());
        m
    }

    /// Hand-build a safetensors file with one tensor of any dtype.
    fn raw_safetensors(name: &str, dtype: &str, shape: &[usize], payload: &[u8]) -> Vec<u8> {
        let header = format!(
            "{{\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{},\"data_offsets\":[0,{}]}}}}",
            shape_str(shape).replace(' ', ""),
            payload.len()
        );
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend(header.as_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn round_trip() {
        let d = TempDir::new("ckpt");
        let p = d.join("m.safetensors");
        let (w, b) = sample();
        save(&p, &[("fc1.weight".into(), vec![2, 3], &w), ("fc1.bias".into(), vec![2], &b)], &meta()).unwrap();
        let c = Checkpoint::load(&p).unwrap();
        assert_eq!(c.names(), vec!["fc1.bias", "fc1.weight"]);
        assert_eq!(c.get("fc1.weight", &[2, 3]).unwrap(), w);
        assert_eq!(c.get("fc1.bias", &[2]).unwrap(), b);
        assert_eq!(c.metadata(), &meta());
        assert_eq!(c.shape("fc1.weight"), Some(&[2usize, 3][..]));
        assert!(c.contains("fc1.bias") && !c.contains("fc2.bias"));
        assert_eq!(c.unused(&["fc1.weight"]), vec!["fc1.bias"]);
        assert_eq!(c.get_any("fc1.bias").unwrap(), (vec![2], b.clone()));
        // no metadata
        save(&p, &[("x".into(), vec![], &[1.5][..])], &BTreeMap::new()).unwrap();
        let c = Checkpoint::load(&p).unwrap();
        assert!(c.metadata().is_empty());
        assert_eq!(c.get("x", &[]).unwrap(), vec![1.5]);
    }

    #[test]
    fn missing_and_wrong_shape() {
        let d = TempDir::new("ckpt");
        let p = d.join("m.safetensors");
        let w = vec![0.0f32; 500 * 700];
        save(&p, &[("fc1.weight".into(), vec![500, 700], &w)], &BTreeMap::new()).unwrap();
        let c = Checkpoint::load(&p).unwrap();
        let s = msg(c.get("fc2.bias", &[10]));
        assert!(s.ends_with("m.safetensors: missing tensor \"fc2.bias\" (expected shape [10])"), "{s}");
        let s = msg(c.get("fc1.weight", &[500, 784]));
        assert!(s.ends_with("m.safetensors: tensor \"fc1.weight\" has shape [500, 700], expected [500, 784]"), "{s}");
    }

    #[test]
    fn nan_and_inf_rejected() {
        let d = TempDir::new("ckpt");
        let p = d.join("nan.safetensors");
        let pl: Vec<u8> = [1.0f32, f32::NAN].iter().flat_map(|x| x.to_le_bytes()).collect();
        fs::write(&p, raw_safetensors("fc1.bias", "F32", &[2], &pl)).unwrap();
        let s = msg(Checkpoint::load(&p));
        assert!(
            s.contains("nan.safetensors: tensor \"fc1.bias\" contains a non-finite value (NaN) at flat index 1"),
            "{s}"
        );
        let pl: Vec<u8> = [f64::INFINITY].iter().flat_map(|x| x.to_le_bytes()).collect();
        fs::write(&p, raw_safetensors("w", "F64", &[1], &pl)).unwrap();
        let s = msg(Checkpoint::load(&p));
        assert!(s.contains("tensor \"w\" contains a non-finite value (inf)"), "{s}");
        let pl: Vec<u8> = [1e300f64].iter().flat_map(|x| x.to_le_bytes()).collect();
        fs::write(&p, raw_safetensors("w", "F64", &[1], &pl)).unwrap();
        let s = msg(Checkpoint::load(&p));
        assert!(s.contains("overflows float32"), "{s}");
        // save refuses too
        let s = msg(save(&p, &[("b".into(), vec![1], &[f32::INFINITY][..])], &BTreeMap::new()));
        assert!(s.contains("refusing to save tensor \"b\""), "{s}");
    }

    #[test]
    fn f64_accepted_other_dtypes_rejected_on_get() {
        let d = TempDir::new("ckpt");
        let p = d.join("d.safetensors");
        let pl: Vec<u8> = [0.5f64, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        fs::write(&p, raw_safetensors("w", "F64", &[2], &pl)).unwrap();
        assert_eq!(Checkpoint::load(&p).unwrap().get("w", &[2]).unwrap(), vec![0.5, -2.0]);
        let pl: Vec<u8> = 7i64.to_le_bytes().to_vec();
        fs::write(&p, raw_safetensors("bn.num_batches_tracked", "I64", &[], &pl)).unwrap();
        let c = Checkpoint::load(&p).unwrap();
        let s = msg(c.get("bn.num_batches_tracked", &[]));
        assert!(s.contains("has dtype I64, expected F32 or F64"), "{s}");
        fs::write(&p, raw_safetensors("h", "F16", &[1], &[0, 0x3c])).unwrap();
        let s = msg(Checkpoint::load(&p).unwrap().get("h", &[1]));
        assert!(s.contains("has dtype F16, expected F32 or F64"), "{s}");
    }

    #[test]
    fn garbage_rejected() {
        let d = TempDir::new("ckpt");
        let p = d.join("junk.safetensors");
        for junk in [
            &b""[..],
            b"abc",
            b"this is definitely not a safetensors file",
            &[0xff; 64],
            &[8, 0, 0, 0, 0, 0, 0, 0, b'{', b'}', b' ', b' '],
        ] {
            fs::write(&p, junk).unwrap();
            let s = msg(Checkpoint::load(&p));
            assert!(s.contains("junk.safetensors: not a valid safetensors file"), "{junk:?}: {s}");
        }
        // a valid file cut short
        let (w, b) = sample();
        save(&p, &[("fc1.weight".into(), vec![2, 3], &w), ("fc1.bias".into(), vec![2], &b)], &meta()).unwrap();
        let full = fs::read(&p).unwrap();
        fs::write(&p, &full[..full.len() - 3]).unwrap();
        let s = msg(Checkpoint::load(&p));
        assert!(s.contains("junk.safetensors: not a valid safetensors file"), "{s}");
        let s = msg(Checkpoint::load(&d.join("nope.safetensors")));
        assert!(s.contains("nope.safetensors: cannot read"), "{s}");
    }

    #[test]
    fn random_garbage_never_panics() {
        use rand::{Rng, SeedableRng};
        let d = TempDir::new("ckpt");
        let p = d.join("fuzz.safetensors");
        let (w, b) = sample();
        save(&p, &[("fc1.weight".into(), vec![2, 3], &w), ("fc1.bias".into(), vec![2], &b)], &meta()).unwrap();
        let good = fs::read(&p).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..400 {
            let mut b = good.clone();
            for _ in 0..rng.random_range(1..4) {
                let k = rng.random_range(0..b.len());
                b[k] = if rng.random_bool(0.5) { rng.random() } else { b"0123456789[],:\"{}"[rng.random_range(0..17)] };
            }
            if rng.random_bool(0.3) {
                let k = rng.random_range(0..b.len());
                b.truncate(k);
            }
            fs::write(&p, &b).unwrap();
            if let Err(e) = Checkpoint::load(&p) {
                assert!(!format!("{e:#}").contains('\n'), "{e:#}");
            }
        }
    }

    #[test]
    fn save_rejects_bad_input() {
        let d = TempDir::new("ckpt");
        let p = d.join("s.safetensors");
        let s = msg(save(&p, &[("a".into(), vec![2, 2], &[0.0; 3][..])], &BTreeMap::new()));
        assert!(s.contains("tensor \"a\" has shape [2, 2] but 3 values"), "{s}");
        let s =
            msg(save(&p, &[("a".into(), vec![1], &[0.0][..]), ("a".into(), vec![1], &[0.0][..])], &BTreeMap::new()));
        assert!(s.contains("duplicate tensor name \"a\""), "{s}");
        assert!(!p.exists());
    }

    /// The PyTorch-convention fixture made by tests/fixtures/make_fixtures.py.
    #[test]
    fn pytorch_fixture_mlp_784_32_16_10() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlp_784_32_16_10");
        let c = Checkpoint::load(&dir.join("model.safetensors")).unwrap();
        assert_eq!(c.names(), vec!["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "fc3.bias", "fc3.weight"]);
        assert_eq!(c.metadata().get("arch").map(String::as_str), Some("mlp:784-32-16-10"));
        let dims = [784usize, 32, 16, 10];
        let mut layers = Vec::new();
        for l in 0..3 {
            let (i, o) = (dims[l], dims[l + 1]);
            let w = c.get(&format!("fc{}.weight", l + 1), &[o, i]).unwrap();
            let b = c.get(&format!("fc{}.bias", l + 1), &[o]).unwrap();
            // PyTorch default init: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias
            let bound = 1.0 / (i as f32).sqrt();
            assert!(w.iter().chain(b.iter()).all(|v| v.abs() <= bound), "layer {}", l + 1);
            layers.push((w, b, i, o));
        }
        let (xs, x) = crate::data::npy::read_npy_f32(&dir.join("x.npy")).unwrap();
        assert_eq!(xs, vec![5, 1, 28, 28]);
        let (ls, logits) = crate::data::npy::read_npy_f32(&dir.join("logits.npy")).unwrap();
        assert_eq!(ls, vec![5, 10]);
        let y = crate::data::npy::read_npy_labels(&dir.join("y.npy")).unwrap();
        assert_eq!(y, vec![7, 2, 1, 0, 4]);
        // x.npy is the first 5 images of the bundled MNIST test subset
        let te = crate::data::load(&crate::data::DataSpec::Bundled, crate::data::Split::Test).unwrap();
        assert_eq!(x, te.images[..5 * 784].to_vec());
        // CPU forward in f64: y = x @ W.T + b, ReLU between layers.
        for n in 0..5 {
            let mut h: Vec<f64> = x[n * 784..(n + 1) * 784].iter().map(|&v| v as f64).collect();
            for (li, (w, b, i, o)) in layers.iter().enumerate() {
                let mut y = vec![0f64; *o];
                for r in 0..*o {
                    let mut s = b[r] as f64;
                    for k in 0..*i {
                        s += w[r * i + k] as f64 * h[k];
                    }
                    y[r] = if li < 2 { s.max(0.0) } else { s };
                }
                h = y;
            }
            for k in 0..10 {
                let want = logits[n * 10 + k] as f64;
                assert!((h[k] - want).abs() <= 1e-5 * (1.0 + want.abs()), "image {n} logit {k}: {} vs {want}", h[k]);
            }
        }
    }
}

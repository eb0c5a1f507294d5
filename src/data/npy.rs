//! NumPy `.npy` arrays in and out (via the `npyz` crate).
//!
//! Reading is strict: C order only, the dtype the caller asks for, and the
//! data length must match the header exactly. The header is sanity-checked
//! before `npyz` sees it so that no input can make it panic or allocate
//! absurd amounts of memory.

use std::fs;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar, WriteOptions, WriterBuilder};

use super::{check_labels, Dataset};
use crate::fsutil::write_atomic;

/// A human name for a numpy dtype ("float64", "int32", ...).
fn dtype_name(dt: &DType) -> String {
    match dt {
        DType::Plain(ts) => {
            let size = ts.size_field();
            let base = match ts.type_char() {
                TypeChar::Float => Some("float"),
                TypeChar::Int => Some("int"),
                TypeChar::Uint => Some("uint"),
                TypeChar::Bool => return "bool".to_string(),
                _ => None,
            };
            match base {
                Some(b) => format!("{b}{}", size * 8),
                None => ts.to_string(),
            }
        }
        DType::Array(..) => format!("a sub-array dtype ({})", dt.descr()),
        DType::Record(_) => "a structured (record) dtype".to_string(),
    }
}

fn shape_str(shape: &[usize]) -> String {
    format!("[{}]", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
}

/// Parse the prelude and header of an in-memory `.npy` file.
/// Returns the header and the data bytes that follow it.
fn parse_header<'a>(path: &Path, bytes: &'a [u8]) -> Result<(NpyHeader, &'a [u8])> {
    let name = path.display();
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("{name}: not a .npy file (missing the \\x93NUMPY magic)");
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => {
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12usize)
        }
        2 | 3 => bail!("{name}: truncated .npy header"),
        _ => bail!("{name}: unsupported .npy format version {major}.{minor} (expected 1.0, 2.0 or 3.0)"),
    };
    let Some(end) = start.checked_add(hlen).filter(|&e| e <= bytes.len()) else {
        bail!(
            "{name}: truncated .npy header: header length field says {hlen} bytes, file holds only {}",
            bytes.len().saturating_sub(start)
        );
    };
    // Pre-check the shape tuple so that npyz never multiplies dims that overflow.
    let text = String::from_utf8_lossy(&bytes[start..end]);
    if let Some(i) = text.find("'shape'").or_else(|| text.find("\"shape\"")) {
        let after = &text[i..];
        if let (Some(a), Some(b)) = (after.find('('), after.find(')')) {
            if a < b {
                let mut total: u64 = 1;
                for part in after[a + 1..b].split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let d: u64 = part
                        .trim_end_matches('L')
                        .parse()
                        .map_err(|_| anyhow!("{name}: invalid .npy header: bad shape entry {part:?}"))?;
                    total = total
                        .checked_mul(d)
                        .filter(|&t| t <= (1u64 << 48))
                        .ok_or_else(|| anyhow!("{name}: .npy header shape is impossibly large"))?;
                }
            }
        }
    }
    let mut rest: &[u8] = bytes;
    let header = NpyHeader::from_reader(&mut rest)
        .map_err(|e| anyhow!("{name}: invalid .npy header: {}", one_line_str(&e.to_string())))?;
    debug_assert_eq!(rest.len(), bytes.len() - end);
    Ok((header, rest))
}

fn one_line_str(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Check C order and that the data length matches the header exactly.
fn check_layout(path: &Path, header: &NpyHeader, data: &[u8], item_size: usize) -> Result<Vec<usize>> {
    let name = path.display();
    let shape: Vec<usize> = header.shape().iter().map(|&d| d as usize).collect();
    if header.order() == Order::Fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        bail!("{name}: Fortran-order arrays are not supported (expected C order; save with np.ascontiguousarray)");
    }
    let expected = (header.len() as u128) * item_size as u128;
    if (data.len() as u128) < expected {
        bail!(
            "{name}: truncated .npy file: header says shape {} = {} bytes of data, found {}",
            shape_str(&shape),
            expected,
            data.len()
        );
    }
    if (data.len() as u128) > expected {
        bail!(
            "{name}: .npy file is longer than its header says: shape {} = {} bytes of data, found {}",
            shape_str(&shape),
            expected,
            data.len()
        );
    }
    Ok(shape)
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))
}

/// Read a float32 array (C order). Returns (shape, data).
pub fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = read_file(path)?;
    let (header, data) = parse_header(path, &bytes)?;
    let dt = header.dtype();
    let ok = matches!(&dt, DType::Plain(ts) if ts.type_char() == TypeChar::Float && ts.size_field() == 4);
    if !ok {
        bail!("{}: expected dtype float32 (<f4), found {}", path.display(), dtype_name(&dt));
    }
    let shape = check_layout(path, &header, data, 4)?;
    let v: Vec<f32> = NpyFile::with_header(header, data)
        .into_vec()
        .map_err(|e| anyhow!("{}: cannot decode float32 data: {e}", path.display()))?;
    Ok((shape, v))
}

/// Read a float64 or float32 array (C order) as f64. Returns (shape, data).
pub fn read_npy_f64(path: &Path) -> Result<(Vec<usize>, Vec<f64>)> {
    let bytes = read_file(path)?;
    let (header, data) = parse_header(path, &bytes)?;
    let dt = header.dtype();
    let size = match &dt {
        DType::Plain(ts) if ts.type_char() == TypeChar::Float && matches!(ts.size_field(), 4 | 8) => ts.size_field(),
        _ => bail!("{}: expected dtype float64 (<f8) or float32 (<f4), found {}", path.display(), dtype_name(&dt)),
    };
    let shape = check_layout(path, &header, data, size as usize)?;
    let f = NpyFile::with_header(header, data);
    let dec = |e: std::io::Error| anyhow!("{}: cannot decode float data: {e}", path.display());
    let v: Vec<f64> = if size == 8 {
        f.into_vec::<f64>().map_err(dec)?
    } else {
        f.into_vec::<f32>().map_err(dec)?.into_iter().map(f64::from).collect()
    };
    Ok((shape, v))
}

/// Read a 1-D array of integer labels (int64, int32, int16, int8, uint8, uint16, uint32, uint64).
pub fn read_npy_labels(path: &Path) -> Result<Vec<i64>> {
    read_npy_ints(path, "labels", "label")
}

/// Read a 1-D integer array of any integer dtype as i64; errors call the
/// values `plural` / `singular` ("labels" / "label", "indices" / "index").
pub fn read_npy_ints(path: &Path, plural: &str, singular: &str) -> Result<Vec<i64>> {
    let bytes = read_file(path)?;
    let (header, data) = parse_header(path, &bytes)?;
    let name = path.display();
    let dt = header.dtype();
    let (tc, size) = match &dt {
        DType::Plain(ts) => (ts.type_char(), ts.size_field()),
        _ => bail!("{name}: expected integer {plural} (int64, int32 or uint8), found {}", dtype_name(&dt)),
    };
    let item = match (tc, size) {
        (TypeChar::Int, 1 | 2 | 4 | 8) | (TypeChar::Uint, 1 | 2 | 4 | 8) => size as usize,
        _ => bail!("{name}: expected integer {plural} (int64, int32 or uint8), found {}", dtype_name(&dt)),
    };
    let shape = check_layout(path, &header, data, item)?;
    if shape.len() != 1 {
        bail!("{name}: expected a 1-D array of {plural}, found shape {}", shape_str(&shape));
    }
    let f = NpyFile::with_header(header, data);
    let dec = |e: std::io::Error| anyhow!("{name}: cannot decode {plural}: {e}");
    let v: Vec<i64> = match (tc, size) {
        (TypeChar::Int, 1) => f.into_vec::<i8>().map_err(dec)?.into_iter().map(i64::from).collect(),
        (TypeChar::Int, 2) => f.into_vec::<i16>().map_err(dec)?.into_iter().map(i64::from).collect(),
        (TypeChar::Int, 4) => f.into_vec::<i32>().map_err(dec)?.into_iter().map(i64::from).collect(),
        (TypeChar::Int, _) => f.into_vec::<i64>().map_err(dec)?,
        (_, 1) => f.into_vec::<u8>().map_err(dec)?.into_iter().map(i64::from).collect(),
        (_, 2) => f.into_vec::<u16>().map_err(dec)?.into_iter().map(i64::from).collect(),
        (_, 4) => f.into_vec::<u32>().map_err(dec)?.into_iter().map(i64::from).collect(),
        (_, _) => {
            let raw = f.into_vec::<u64>().map_err(dec)?;
            let mut out = Vec::with_capacity(raw.len());
            for (i, x) in raw.into_iter().enumerate() {
                out.push(i64::try_from(x).map_err(|_| anyhow!("{name}: {singular} {x} at index {i} is out of range"))?);
            }
            out
        }
    };
    Ok(v)
}

fn check_shape_len(path: &Path, shape: &[usize], len: usize) -> Result<Vec<u64>> {
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if n != Some(len) {
        bail!("{}: shape {} does not match {} values", path.display(), shape_str(shape), len);
    }
    Ok(shape.iter().map(|&d| d as u64).collect())
}

/// Write a float32 array (C order, little-endian `<f4`), atomically.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    write_npy_float(path, shape, data, "<f4")
}

/// Write a float64 array (C order, little-endian `<f8`), atomically.
pub fn write_npy_f64(path: &Path, shape: &[usize], data: &[f64]) -> Result<()> {
    write_npy_float(path, shape, data, "<f8")
}

fn write_npy_float<T: npyz::Serialize + npyz::AutoSerialize + Copy>(
    path: &Path,
    shape: &[usize],
    data: &[T],
    dtype: &str,
) -> Result<()> {
    let shape64 = check_shape_len(path, shape, data.len())?;
    let mut buf = Vec::with_capacity(128 + std::mem::size_of_val(data));
    let enc = |e: std::io::Error| anyhow!("{}: cannot encode .npy: {e}", path.display());
    {
        let mut w = WriteOptions::<T>::new()
            .dtype(DType::Plain(dtype.parse().expect("valid type string")))
            .shape(&shape64)
            .writer(&mut buf)
            .begin_nd()
            .map_err(enc)?;
        w.extend(data.iter().copied()).map_err(enc)?;
        w.finish().map_err(enc)?;
    }
    write_atomic(path, &buf)
}

/// Write an int64 array (C order, little-endian `<i8`), atomically.
pub fn write_npy_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<()> {
    let shape64 = check_shape_len(path, shape, data.len())?;
    let mut buf = Vec::with_capacity(128 + data.len() * 8);
    {
        let mut w = WriteOptions::<i64>::new()
            .dtype(DType::Plain("<i8".parse().expect("valid type string")))
            .shape(&shape64)
            .writer(&mut buf)
            .begin_nd()
            .map_err(|e| anyhow!("{}: cannot encode .npy: {e}", path.display()))?;
        w.extend(data.iter().copied()).map_err(|e| anyhow!("{}: cannot encode .npy: {e}", path.display()))?;
        w.finish().map_err(|e| anyhow!("{}: cannot encode .npy: {e}", path.display()))?;
    }
    write_atomic(path, &buf)
}

/// Read and check a flow file: f32, [N, 2, H, W], every value finite.
/// Returns (N, H, W) and the data.
pub fn read_flow(path: &Path) -> Result<([usize; 3], Vec<f32>)> {
    let (shape, data) = read_npy_f32(path)?;
    let [n, two, h, w] = shape[..] else {
        bail!("{}: expected a flow of shape [N, 2, H, W], found {}", path.display(), shape_str(&shape));
    };
    if two != 2 {
        bail!(
            "{}: expected a flow of shape [N, 2, H, W] (vertical and horizontal shift), found {}",
            path.display(),
            shape_str(&shape)
        );
    }
    if n == 0 || h == 0 || w == 0 {
        bail!("{}: flow array of shape {} is empty", path.display(), shape_str(&shape));
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        let (b, rest) = (i / (2 * h * w), i % (2 * h * w));
        let (c, pix) = (rest / (h * w), rest % (h * w));
        bail!(
            "{}: {} at flat index {i} (image {b}, channel {c}, pixel ({}, {})); flows must be finite",
            path.display(),
            data[i],
            pix / w,
            pix % w
        );
    }
    Ok(([n, h, w], data))
}

/// Interpret an image array's shape as (N, C, H, W).
///
/// Accepted: any 4-D `[N, C, H, W]`; `[N, H, W]` (one channel);
/// `[N, 784]` (→ 1×28×28, MNIST); `[N, 3072]` (→ 3×32×32, CIFAR-10).
pub fn image_shape_from(path: &Path, shape: &[usize]) -> Result<(usize, usize, usize, usize)> {
    let dims = match *shape {
        [n, c, h, w] => (n, c, h, w),
        [n, h, w] => (n, 1, h, w),
        [n, 784] => (n, 1, 28, 28),
        [n, 3072] => (n, 3, 32, 32),
        _ => bail!(
            "{}: expected images of shape [N, C, H, W], [N, H, W], [N, 784] or [N, 3072], found {}",
            path.display(),
            shape_str(shape)
        ),
    };
    let (n, c, h, w) = dims;
    if n == 0 || c == 0 || h == 0 || w == 0 {
        bail!("{}: image array of shape {} is empty", path.display(), shape_str(shape));
    }
    Ok(dims)
}

/// Check that every pixel is finite and in [0,1].
pub fn check_pixels(path: &Path, data: &[f32]) -> Result<()> {
    for (i, &v) in data.iter().enumerate() {
        if v.is_nan() {
            bail!("{}: NaN at flat index {i} (pixels must be in [0,1])", path.display());
        }
        if !(0.0..=1.0).contains(&v) {
            bail!(
                "{}: pixel value {v} at flat index {i} is outside [0,1] (scale images to [0,1], e.g. divide by 255)",
                path.display()
            );
        }
    }
    Ok(())
}

/// Load an image/label pair of `.npy` files as a data set.
pub fn load_npy_dataset(images: &Path, labels: &Path) -> Result<Dataset> {
    let (shape, data) = read_npy_f32(images)?;
    let (n, c, h, w) = image_shape_from(images, &shape)?;
    check_pixels(images, &data)?;
    let lab = read_npy_labels(labels)?;
    if lab.len() != n {
        bail!(
            "{}: {} labels, but {} holds {} images (shape {})",
            labels.display(),
            lab.len(),
            images.display(),
            n,
            shape_str(&shape)
        );
    }
    check_labels(labels, &lab)?;
    let lab: Vec<u32> = lab.into_iter().map(|l| l as u32).collect();
    Dataset::new(data, lab, c, h, w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::{msg, TempDir};

    /// Hand-build an .npy file with an arbitrary header dict and payload.
    fn raw_npy(descr: &str, fortran: bool, shape: &str, payload: &[u8]) -> Vec<u8> {
        let mut h = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend((h.len() as u16).to_le_bytes());
        v.extend(h.as_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn f32_round_trip() {
        let d = TempDir::new("npy");
        let p = d.join("x.npy");
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.25 - 1.0).collect();
        write_npy_f32(&p, &[2, 3, 4], &data).unwrap();
        let (s, v) = read_npy_f32(&p).unwrap();
        assert_eq!(s, vec![2, 3, 4]);
        assert_eq!(v, data);
        // header is what numpy writes
        let b = fs::read(&p).unwrap();
        let text = String::from_utf8_lossy(&b[10..]);
        assert!(text.contains("'descr': '<f4'") && text.contains("(2, 3, 4"), "{text}");
        // 1-D and 0-D
        write_npy_f32(&p, &[3], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(read_npy_f32(&p).unwrap(), (vec![3], vec![1.0, 2.0, 3.0]));
    }

    #[test]
    fn i64_round_trip_and_labels() {
        let d = TempDir::new("npy");
        let p = d.join("y.npy");
        write_npy_i64(&p, &[4], &[0, 9, 3, -2]).unwrap();
        assert_eq!(read_npy_labels(&p).unwrap(), vec![0, 9, 3, -2]);
        // int32, uint8, big-endian int16 written by hand
        let p32 = d.join("y32.npy");
        let pl: Vec<u8> = [1i32, 2, 7].iter().flat_map(|x| x.to_le_bytes()).collect();
        fs::write(&p32, raw_npy("<i4", false, "(3,)", &pl)).unwrap();
        assert_eq!(read_npy_labels(&p32).unwrap(), vec![1, 2, 7]);
        let pu8 = d.join("yu8.npy");
        fs::write(&pu8, raw_npy("|u1", false, "(3,)", &[5, 6, 7])).unwrap();
        assert_eq!(read_npy_labels(&pu8).unwrap(), vec![5, 6, 7]);
        let pbe = d.join("ybe.npy");
        fs::write(&pbe, raw_npy(">i2", false, "(2,)", &[0, 3, 1, 0])).unwrap();
        assert_eq!(read_npy_labels(&pbe).unwrap(), vec![3, 256]);
        // float labels rejected
        let pf = d.join("yf.npy");
        write_npy_f32(&pf, &[2], &[1.0, 2.0]).unwrap();
        let s = msg(read_npy_labels(&pf));
        assert!(s.contains("yf.npy: expected integer labels (int64, int32 or uint8), found float32"), "{s}");
        // 2-D labels rejected
        write_npy_i64(&p, &[2, 2], &[0, 1, 2, 3]).unwrap();
        let s = msg(read_npy_labels(&p));
        assert!(s.contains("expected a 1-D array of labels, found shape [2, 2]"), "{s}");
    }

    #[test]
    fn wrong_dtype() {
        let d = TempDir::new("npy");
        let p = d.join("X.npy");
        let pl: Vec<u8> = [1.0f64, 0.5].iter().flat_map(|x| x.to_le_bytes()).collect();
        fs::write(&p, raw_npy("<f8", false, "(2,)", &pl)).unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.ends_with("X.npy: expected dtype float32 (<f4), found float64"), "{s}");
        write_npy_i64(&p, &[1], &[3]).unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.ends_with("X.npy: expected dtype float32 (<f4), found int64"), "{s}");
        fs::write(&p, raw_npy("|u1", false, "(2,)", &[1, 2])).unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.ends_with("found uint8"), "{s}");
        fs::write(&p, raw_npy("<U3", false, "(1,)", &[0; 12])).unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.contains("expected dtype float32 (<f4), found <U3"), "{s}");
    }

    #[test]
    fn big_endian_f32_reads() {
        let d = TempDir::new("npy");
        let p = d.join("be.npy");
        let pl: Vec<u8> = [0.5f32, 0.25].iter().flat_map(|x| x.to_be_bytes()).collect();
        fs::write(&p, raw_npy(">f4", false, "(2,)", &pl)).unwrap();
        assert_eq!(read_npy_f32(&p).unwrap(), (vec![2], vec![0.5, 0.25]));
    }

    #[test]
    fn fortran_order_rejected() {
        let d = TempDir::new("npy");
        let p = d.join("F.npy");
        let pl: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        fs::write(&p, raw_npy("<f4", true, "(2, 3)", &pl)).unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.contains("F.npy: Fortran-order arrays are not supported"), "{s}");
        // 1-D fortran arrays are the same as C order: accepted
        fs::write(&p, raw_npy("<f4", true, "(6,)", &pl)).unwrap();
        assert_eq!(read_npy_f32(&p).unwrap().0, vec![6]);
    }

    #[test]
    fn truncated_long_and_garbage() {
        let d = TempDir::new("npy");
        let p = d.join("t.npy");
        let pl: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        fs::write(&p, raw_npy("<f4", false, "(2, 3)", &pl[..20])).unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.contains("t.npy: truncated .npy file: header says shape [2, 3] = 24 bytes of data, found 20"), "{s}");
        let mut long = pl.clone();
        long.push(0);
        fs::write(&p, raw_npy("<f4", false, "(2, 3)", &long)).unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.contains("longer than its header says"), "{s}");
        fs::write(&p, b"this is not numpy at all").unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.contains("t.npy: not a .npy file"), "{s}");
        let full = raw_npy("<f4", false, "(2, 3)", &pl);
        fs::write(&p, &full[..40]).unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.contains("t.npy: truncated .npy header"), "{s}");
        fs::write(&p, raw_npy("<f4", false, "(99999999999, 99999999999, 99999999999)", &pl)).unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.contains("impossibly large"), "{s}");
        fs::write(&p, raw_npy("<f4", false, "[1, 2", &pl)).unwrap();
        let s = msg(read_npy_f32(&p));
        assert!(s.contains("t.npy: invalid .npy header"), "{s}");
        let s = msg(read_npy_f32(&d.join("missing.npy")));
        assert!(s.contains("missing.npy: cannot read"), "{s}");
    }

    #[test]
    fn random_garbage_never_panics() {
        use rand::{Rng, SeedableRng};
        let d = TempDir::new("npy");
        let p = d.join("fuzz.npy");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        write_npy_f32(&p, &[2, 3], &[0.0; 6]).unwrap();
        let good = fs::read(&p).unwrap();
        for _ in 0..400 {
            let mut b = good.clone();
            for _ in 0..rng.random_range(1..4) {
                let k = rng.random_range(0..b.len());
                b[k] = if rng.random_bool(0.5) { rng.random() } else { b"0123456789(),'LTF"[rng.random_range(0..17)] };
            }
            if rng.random_bool(0.3) {
                let k = rng.random_range(0..b.len());
                b.truncate(k);
            }
            fs::write(&p, &b).unwrap();
            if let Err(e) = read_npy_f32(&p) {
                assert!(!format!("{e:#}").contains('\n'), "{e:#}");
            }
            if let Err(e) = read_npy_labels(&p) {
                assert!(!format!("{e:#}").contains('\n'), "{e:#}");
            }
        }
    }

    #[test]
    fn dataset_shapes() {
        let d = TempDir::new("npy");
        let x = d.join("x.npy");
        let y = d.join("y.npy");
        write_npy_i64(&y, &[2], &[3, 4]).unwrap();
        for shape in [vec![2, 1, 28, 28], vec![2, 28, 28], vec![2, 784]] {
            write_npy_f32(&x, &shape, &vec![0.5; 2 * 784]).unwrap();
            let ds = load_npy_dataset(&x, &y).unwrap();
            assert_eq!((ds.n, ds.c, ds.h, ds.w), (2, 1, 28, 28), "{shape:?}");
            assert_eq!(ds.labels, vec![3, 4]);
        }
        write_npy_f32(&x, &[2, 3, 32, 32], &vec![0.5; 2 * 3072]).unwrap();
        let ds = load_npy_dataset(&x, &y).unwrap();
        assert_eq!((ds.n, ds.c, ds.h, ds.w), (2, 3, 32, 32));
        write_npy_f32(&x, &[2, 3072], &vec![0.5; 2 * 3072]).unwrap();
        assert_eq!(load_npy_dataset(&x, &y).unwrap().image_shape(), [3, 32, 32]);
    }

    #[test]
    fn dataset_bad_inputs() {
        let d = TempDir::new("npy");
        let x = d.join("x.npy");
        let y = d.join("y.npy");
        write_npy_i64(&y, &[2], &[3, 4]).unwrap();
        // wrong shape
        write_npy_f32(&x, &[2, 10], &[0.5; 20]).unwrap();
        let s = msg(load_npy_dataset(&x, &y));
        assert!(s.contains("x.npy: expected images of shape") && s.contains("found [2, 10]"), "{s}");
        write_npy_f32(&x, &[20], &[0.5; 20]).unwrap();
        assert!(msg(load_npy_dataset(&x, &y)).contains("found [20]"));
        // out of range / NaN
        let mut v = vec![0.5f32; 2 * 784];
        v[100] = 1.5;
        write_npy_f32(&x, &[2, 784], &v).unwrap();
        let s = msg(load_npy_dataset(&x, &y));
        assert!(s.contains("x.npy: pixel value 1.5 at flat index 100 is outside [0,1]"), "{s}");
        v[100] = f32::NAN;
        write_npy_f32(&x, &[2, 784], &v).unwrap();
        let s = msg(load_npy_dataset(&x, &y));
        assert!(s.contains("x.npy: NaN at flat index 100"), "{s}");
        v[100] = -0.0;
        write_npy_f32(&x, &[2, 784], &v).unwrap();
        load_npy_dataset(&x, &y).unwrap();
        // label count mismatch
        write_npy_i64(&y, &[3], &[3, 4, 5]).unwrap();
        let s = msg(load_npy_dataset(&x, &y));
        assert!(s.contains("y.npy: 3 labels, but") && s.contains("holds 2 images"), "{s}");
        // label out of range
        write_npy_i64(&y, &[2], &[3, 10]).unwrap();
        let s = msg(load_npy_dataset(&x, &y));
        assert!(s.contains("y.npy: label 10 at index 1 is out of range"), "{s}");
        write_npy_i64(&y, &[2], &[-1, 1]).unwrap();
        let s = msg(load_npy_dataset(&x, &y));
        assert!(s.contains("y.npy: label -1 at index 0"), "{s}");
        // write shape mismatch
        let s = msg(write_npy_f32(&x, &[3, 3], &[0.0; 8]));
        assert!(s.contains("shape [3, 3] does not match 8 values"), "{s}");
    }

    #[test]
    fn load_via_dataspec() {
        let d = TempDir::new("npy");
        let x = d.join("x.npy");
        let y = d.join("y.npy");
        write_npy_f32(&x, &[1, 1, 2, 2], &[0.0, 0.25, 0.5, 1.0]).unwrap();
        write_npy_i64(&y, &[1], &[7]).unwrap();
        let spec = super::super::DataSpec::parse(&format!("npy:{},{}", x.display(), y.display())).unwrap();
        for split in [super::super::Split::Train, super::super::Split::Test] {
            let ds = super::super::load(&spec, split).unwrap();
            assert_eq!(ds.images, vec![0.0, 0.25, 0.5, 1.0]);
            assert_eq!(ds.labels, vec![7]);
        }
    }

    #[test]
    fn npydir_loads_each_split_from_its_files() {
        use super::super::{load, DataSpec, Split};
        let d = TempDir::new("npydir");
        write_npy_f32(&d.join("train_x.npy"), &[2, 1, 1, 2], &[0.0, 0.25, 0.5, 1.0]).unwrap();
        write_npy_i64(&d.join("train_y.npy"), &[2], &[3, 4]).unwrap();
        write_npy_f32(&d.join("test_x.npy"), &[1, 1, 1, 2], &[0.75, 0.125]).unwrap();
        write_npy_i64(&d.join("test_y.npy"), &[1], &[9]).unwrap();
        let spec = DataSpec::parse(&format!("npydir:{}", d.path().display())).unwrap();
        assert_eq!(spec.train_warning(), None);
        let tr = load(&spec, Split::Train).unwrap();
        assert_eq!((tr.n, tr.labels.clone(), tr.images.clone()), (2, vec![3, 4], vec![0.0, 0.25, 0.5, 1.0]));
        let te = load(&spec, Split::Test).unwrap();
        assert_eq!((te.n, te.labels.clone(), te.images.clone()), (1, vec![9], vec![0.75, 0.125]));
        fs::remove_file(d.join("test_y.npy")).unwrap();
        let s = msg(load(&spec, Split::Test));
        assert!(s.contains("test_y.npy: cannot read"), "{s}");
        let s = msg(load(&DataSpec::NpyDir(d.join("nope")), Split::Train));
        assert!(s.contains("nope: not a directory") && s.contains("train_x.npy"), "{s}");
        let npy = DataSpec::parse("npy:a.npy,b.npy").unwrap();
        let w = npy.train_warning().unwrap();
        assert!(w.contains("npy:a.npy,b.npy") && w.contains("training images") && !w.contains('\n'), "{w}");
    }
}

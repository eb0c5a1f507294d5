//! How many images of an architecture fit in one device batch: every tensor
//! a forward or backward pass allocates must fit the adapter's storage
//! binding and buffer limits (and, where a kernel reads it as a texture,
//! the texture limit). Larger requests are split into device batches.

use anyhow::{bail, Result};

use super::arch::{Arch, Layer};
use super::model::Model;
use crate::gpu::Gpu;
use crate::ops::conv2d::ConvAlgo;

/// Floats per texture row of the linear textures tensors are copied into
/// (`gpu::context::LINEAR_WIDTH` texels of 4 floats).
const LINEAR_TEXTURE_FLOATS: usize = 4096 * 4;

/// Which passes a batch goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Inference only (evaluation, prediction).
    Forward,
    /// Forward and backward (training, attacks' input gradients).
    Backward,
}

/// (rows, columns) of the zero-padded input copy the direct convolution
/// kernel reads: room for every window of every 4-row × 8-column output tile.
/// Mirrors `Fast::padded` in `ops::conv2d`.
fn fast_padded(h: usize, w: usize, pad: usize, k: usize, s: usize, oh: usize, ow: usize) -> (usize, usize) {
    let hp = (h + 2 * pad).max((oh.div_ceil(4) * 4 - 1) * s + k);
    let nwin = (8 * s + k + 2) / 4;
    let wp4 = (w + 2 * pad).div_ceil(4).max((ow.div_ceil(8) - 1) * 2 * s + nwin);
    (hp, wp4 * 4)
}

impl Arch {
    /// The number of f32 values in the largest tensor that one image
    /// contributes to a pass: activations before and after every layer,
    /// the padded copies the convolution kernels read (of the input, and
    /// for `Pass::Backward` of the output gradient), and with
    /// `ADVLAB_CONV_ALGO=im2col` the column matrices.
    pub fn largest_per_image_len(&self, pass: Pass) -> usize {
        let im2col = ConvAlgo::from_env() == ConvAlgo::Im2col;
        let backward = pass == Pass::Backward;
        let [mut c, mut h, mut w] = self.input;
        let mut flat: Option<usize> = None;
        let mut largest = c * h * w;
        for layer in &self.layers {
            match *layer {
                Layer::Flatten => flat = Some(flat.unwrap_or(c * h * w)),
                Layer::Linear { out, .. } => flat = Some(out),
                Layer::Conv2d { out, k, stride, pad, .. } => {
                    let oh = (h + 2 * pad).saturating_sub(k) / stride + 1;
                    let ow = (w + 2 * pad).saturating_sub(k) / stride + 1;
                    let (hp, wp) = fast_padded(h, w, pad, k, stride, oh, ow);
                    largest = largest.max(c * hp * wp);
                    if backward {
                        // the data gradient pads dy by k-1-pad; the weight
                        // gradient pads dy's rows to whole 8-column tiles
                        let bp = (k - 1).saturating_sub(pad);
                        let (hq, wq) = fast_padded(oh, ow, bp, k, 1, h, w);
                        largest = largest.max(out * hq * wq).max(out * oh * ow.div_ceil(8) * 8);
                    }
                    // (a layer tuned to im2col (ops::conv_tuning) is
                    // recorded at one batch size, where its column
                    // matrices were built while timing it)
                    if im2col {
                        largest = largest.max(c * k * k * oh * ow);
                    }
                    (c, h, w) = (out, oh, ow);
                }
                Layer::MaxPool { k, stride } | Layer::AvgPool { k, stride } => {
                    h = h.saturating_sub(k) / stride + 1;
                    w = w.saturating_sub(k) / stride + 1;
                }
                Layer::Unflatten { shape } => {
                    [c, h, w] = shape;
                    flat = None;
                }
                Layer::Relu
                | Layer::Sigmoid
                | Layer::BatchNorm2d { .. }
                | Layer::BatchNorm1d { .. }
                | Layer::Lrn { .. }
                | Layer::Dropout { .. }
                | Layer::Normalize { .. } => {}
            }
            largest = largest.max(flat.unwrap_or(c * h * w));
        }
        largest.max(1)
    }
}

/// The largest tensor, in f32 values, the adapter can hold and bind.
pub fn max_tensor_len(gpu: &Gpu) -> usize {
    let l = &gpu.limits;
    let bytes = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
    let storage = usize::try_from(bytes / 4).unwrap_or(usize::MAX);
    let texture = (l.max_texture_dimension_2d as usize).saturating_mul(LINEAR_TEXTURE_FLOATS);
    storage.min(texture)
}

/// The most images of `arch` one device batch of `pass` can hold on `gpu`
/// (0 if not even one fits).
pub fn max_batch(arch: &Arch, gpu: &Gpu, pass: Pass) -> usize {
    max_tensor_len(gpu) / arch.largest_per_image_len(pass)
}

impl Model {
    /// The most images one training or attack batch (forward and backward)
    /// of this model can hold on `gpu`; inference alone fits at least as
    /// many (see [`max_batch`] with [`Pass::Forward`]).
    pub fn max_batch(&self, gpu: &Gpu) -> usize {
        max_batch(&self.arch, gpu, Pass::Backward)
    }
}

/// A `--batch` as the device will run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceBatch {
    /// Images per device batch: `min(requested, max_batch)`.
    pub size: usize,
    /// What was asked for.
    pub requested: usize,
}

impl DeviceBatch {
    /// Whether the request was split into smaller device batches.
    pub fn is_split(&self) -> bool {
        self.size < self.requested
    }

    /// A one-line note for stderr when the request was split.
    pub fn note(&self) -> Option<String> {
        self.is_split().then(|| {
            format!(
                "--batch {}: more than the adapter can hold at once; running device batches of {} images",
                self.requested, self.size
            )
        })
    }
}

/// Check a `--batch` (at least 1) and cap it at what `arch` fits on `gpu` for `pass`.
pub fn device_batch(arch: &Arch, gpu: &Gpu, requested: usize, pass: Pass) -> Result<DeviceBatch> {
    device_batch_with(arch, gpu, requested, pass, 0)
}

/// [`device_batch`] for work that also keeps per-image tensors of its own
/// of up to `own_per_image` floats (stAdv's flows: 2·H·W per image).
pub fn device_batch_with(
    arch: &Arch,
    gpu: &Gpu,
    requested: usize,
    pass: Pass,
    own_per_image: usize,
) -> Result<DeviceBatch> {
    check_batch(requested)?;
    let per = arch.largest_per_image_len(pass).max(own_per_image);
    let max = max_tensor_len(gpu) / per;
    if max == 0 {
        bail!(
            "--arch {}: one image needs a {} tensor, more than this adapter's limit of {}",
            arch.spec,
            size(per * 4),
            size(max_tensor_len(gpu) * 4)
        );
    }
    Ok(DeviceBatch { size: requested.min(max), requested })
}

/// Bytes in MiB, or KiB below 1 MiB (rounded up).
fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// Training cannot split a batch without changing the optimisation (batch
/// statistics, the mean loss per step), so a `--batch` larger than one
/// device batch is refused before any work, naming the largest that fits.
pub fn check_train_batch(arch: &Arch, gpu: &Gpu, batch: usize) -> Result<()> {
    let b = device_batch(arch, gpu, batch, Pass::Backward)?;
    if b.is_split() {
        bail!(
            "--batch {}: a training batch of --arch {} holds at most {} images on this adapter; pass --batch {} or less",
            batch,
            arch.spec,
            b.size,
            b.size
        );
    }
    Ok(())
}

/// `--batch` must be at least 1.
pub fn check_batch(batch: usize) -> Result<()> {
    if batch == 0 {
        bail!("--batch 0: expected a positive number of images per batch");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_image_sizes() {
        use Pass::*;
        let len = |a: &str, p| Arch::parse(a).unwrap().largest_per_image_len(p);
        // MLP: the largest of 784 inputs and the hidden units.
        assert_eq!(len("mlp:784-500-10", Backward), 784);
        assert_eq!(len("mlp:784-2000-10", Forward), 2000);
        if ConvAlgo::from_env() != ConvAlgo::Auto {
            return;
        }
        // alexnet-cifar forward: conv1's output 32·32·32 beats its padded
        // input 3·36·36 and conv2's 32·20·20; backward: conv1's padded
        // output gradient 32·36·36.
        assert_eq!(len("alexnet-cifar", Forward), 32 * 32 * 32);
        assert_eq!(len("alexnet-cifar", Backward), 32 * 36 * 36);
        // lenet 28×28: conv1's output 6·28·28; backward its output gradient
        // padded to 32 rows × 36 columns (whole tiles)
        assert_eq!(len("lenet", Forward), 6 * 28 * 28);
        assert_eq!(len("lenet", Backward), 6 * 32 * 36);
    }

    #[test]
    fn padded_matches_the_kernel_geometry() {
        // 32×32 pad 2 k5 s1 → 36×36; 15×15 pad 2 → rows (16-1)+5 = 20, cols 4·max(5, 2+3) = 20
        assert_eq!(fast_padded(32, 32, 2, 5, 1, 32, 32), (36, 36));
        assert_eq!(fast_padded(15, 15, 2, 5, 1, 15, 15), (20, 20));
    }

    #[test]
    fn batch_zero_is_an_error() {
        let e = check_batch(0).unwrap_err().to_string();
        assert!(e.contains("--batch 0") && !e.contains('\n'), "{e}");
        check_batch(1).unwrap();
    }
}

//! Training-set augmentation, drawn on the host per image from (seed,
//! epoch) so a resumed run replays it exactly.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::model::step_seed;

crate::names::named_enum! {
/// Training-set augmentation, drawn on the host per image from (seed, epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Augment {
    /// None: the images as stored.
    #[default]
    None,
    /// Random crop with 4-pixel zero padding + horizontal flip (CIFAR-style).
    CropFlip,
    /// Horizontal flip only: half the regularisation of crop-flip, for small
    /// nets that underfit with crops.
    Flip,
}
}

impl Augment {
    /// Pixels of zero padding for the random crop (0: no crop).
    pub fn pad(self) -> usize {
        match self {
            Augment::CropFlip => AUGMENT_PAD,
            Augment::None | Augment::Flip => 0,
        }
    }
}

/// Pixels of zero padding for the random crop of `--augment crop-flip`.
pub const AUGMENT_PAD: usize = 4;

/// The per-epoch augmentation stream: independent of the shuffle's.
pub fn augment_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(step_seed(seed ^ 0xA5A5_5A5A_C3C3_3C3C, epoch as u64))
}

/// In place on `n` images [C, H, W] laid out back to back: shift by a
/// random (dy, dx) in [-pad, pad]² with zeros shifted in (= a random crop of
/// the image zero-padded by `pad`; none when `pad` is 0), then mirror
/// left-right with probability 1/2. Draws its numbers per image from `rng`,
/// in image order.
#[allow(clippy::too_many_arguments)]
pub fn augment_images(
    images: &mut [f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    pad: usize,
    rng: &mut ChaCha8Rng,
    scratch: &mut Vec<f32>,
) {
    let per = c * h * w;
    assert_eq!(images.len(), n * per, "augment_images: {} values for {n} images of {c}x{h}x{w}", images.len());
    let p = pad as i64;
    for img in images.chunks_mut(per) {
        let (oy, ox) =
            if p > 0 { (rng.random_range(-p..=p) as isize, rng.random_range(-p..=p) as isize) } else { (0, 0) };
        let flip = rng.random_bool(0.5);
        scratch.clear();
        scratch.extend_from_slice(img);
        for ch in 0..c {
            for y in 0..h {
                let sy = y as isize + oy;
                for x in 0..w {
                    let xx = if flip { w - 1 - x } else { x };
                    let sx = xx as isize + ox;
                    let v = if sy >= 0 && sy < h as isize && sx >= 0 && sx < w as isize {
                        scratch[(ch * h + sy as usize) * w + sx as usize]
                    } else {
                        0.0
                    };
                    img[(ch * h + y) * w + x] = v;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn augment_shifts_flips_and_pads_with_zeros() {
        let (c, h, w) = (2, 5, 6);
        let img: Vec<f32> = (0..c * h * w).map(|i| i as f32 + 1.0).collect();
        let mut rng = augment_rng(1, 0);
        let mut seen_flip = [false; 2];
        let mut scratch = Vec::new();
        for _ in 0..64 {
            let mut probe = rng.clone();
            let oy = probe.random_range(-4i64..=4) as isize;
            let ox = probe.random_range(-4i64..=4) as isize;
            let flip = probe.random_bool(0.5);
            seen_flip[flip as usize] = true;
            let mut out = img.clone();
            augment_images(&mut out, 1, c, h, w, AUGMENT_PAD, &mut rng, &mut scratch);
            for ch in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        let xx = if flip { w - 1 - x } else { x };
                        let (sy, sx) = (y as isize + oy, xx as isize + ox);
                        let want = if (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx) {
                            img[(ch * h + sy as usize) * w + sx as usize]
                        } else {
                            0.0
                        };
                        assert_eq!(out[(ch * h + y) * w + x], want);
                    }
                }
            }
        }
        assert!(seen_flip[0] && seen_flip[1]);
        // same seed and epoch, same draws; another epoch, others
        let (mut a, mut b) = (img.repeat(8), img.repeat(8));
        augment_images(&mut a, 8, c, h, w, AUGMENT_PAD, &mut augment_rng(3, 2), &mut scratch);
        augment_images(&mut b, 8, c, h, w, AUGMENT_PAD, &mut augment_rng(3, 2), &mut scratch);
        assert_eq!(a, b);
        let mut d = img.repeat(8);
        augment_images(&mut d, 8, c, h, w, AUGMENT_PAD, &mut augment_rng(3, 3), &mut scratch);
        assert_ne!(a, d);
    }

    #[test]
    fn flip_only_augment_mirrors_or_keeps_each_image() {
        let (c, h, w) = (3, 4, 5);
        let img: Vec<f32> = (0..c * h * w).map(|i| i as f32 + 1.0).collect();
        let mirror: Vec<f32> = (0..c * h * w).map(|i| img[(i / w) * w + (w - 1 - i % w)]).collect();
        let mut out = img.repeat(64);
        augment_images(&mut out, 64, c, h, w, Augment::Flip.pad(), &mut augment_rng(5, 1), &mut Vec::new());
        let (mut kept, mut flipped) = (0, 0);
        for o in out.chunks(c * h * w) {
            if o == img.as_slice() {
                kept += 1;
            } else if o == mirror.as_slice() {
                flipped += 1;
            } else {
                panic!("flip-only augmentation shifted an image: {o:?}");
            }
        }
        assert!(kept > 10 && flipped > 10, "kept {kept}, flipped {flipped} of 64");
    }
}

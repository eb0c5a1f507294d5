//! The noise H of the LAN corruption x̃ = A⊙η + (1−A)⊙x (SPEC §5).
//!
//! `marginal` (the default): each component k independently takes the
//! value of component k of a training image drawn uniformly, η_k =
//! x^{(r_k)}_k, r_k ~ U{0..N−1} — a draw from the empirical per-pixel
//! marginal of the training set, exactly, with no table to build.
//! `uniform`: η_k ~ U[0,1]. Both are drawn on the host from a ChaCha8
//! stream seeded per step, so a seed (and `--resume`) replays them.

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::data::Dataset;

crate::names::named_enum! {
/// The distribution H of the corrupting noise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// Each pixel from its empirical marginal over the training set.
    #[default]
    Marginal,
    /// Each pixel from U[0,1].
    Uniform,
}
}

/// A noise source: the kind plus, for `marginal`, the images it draws from.
#[derive(Clone, Copy)]
pub enum Noise<'a> {
    Marginal(&'a Dataset),
    Uniform,
}

impl<'a> Noise<'a> {
    /// The source of `kind`; `pool` is the training set (for `marginal`).
    pub fn new(kind: NoiseKind, pool: &'a Dataset) -> Result<Noise<'a>> {
        match kind {
            NoiseKind::Uniform => Ok(Noise::Uniform),
            NoiseKind::Marginal if pool.n == 0 => bail!("--noise marginal: the training set is empty"),
            NoiseKind::Marginal => Ok(Noise::Marginal(pool)),
        }
    }

    pub fn kind(&self) -> NoiseKind {
        match self {
            Noise::Marginal(_) => NoiseKind::Marginal,
            Noise::Uniform => NoiseKind::Uniform,
        }
    }

    /// `n` noise images of `d` components each (row-major, n·d values),
    /// drawn from the stream of `seed`.
    pub fn sample(&self, n: usize, d: usize, seed: u64) -> Result<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        match self {
            Noise::Uniform => Ok((0..n * d).map(|_| rng.random_range(0.0f32..1.0)).collect()),
            Noise::Marginal(pool) => {
                if pool.image_len() != d {
                    bail!(
                        "marginal noise: images have {d} components, the training set's {}×{}×{}",
                        pool.c,
                        pool.h,
                        pool.w
                    );
                }
                let mut out = Vec::with_capacity(n * d);
                for _ in 0..n {
                    for k in 0..d {
                        let r = rng.random_range(0..pool.n);
                        out.push(pool.images[r * d + k]);
                    }
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marginal_draws_each_component_from_its_own_column_uniformly() {
        // 4 images of 3 components; column k holds values 10k + row
        let imgs: Vec<f32> = (0..4).flat_map(|r| (0..3).map(move |k| (10 * k + r) as f32)).collect();
        let pool = Dataset::new(imgs, vec![0; 4], 1, 1, 3).unwrap();
        let noise = Noise::new(NoiseKind::Marginal, &pool).unwrap();
        let n = 4000;
        let s = noise.sample(n, 3, 7).unwrap();
        assert_eq!(s, noise.sample(n, 3, 7).unwrap(), "same seed, same draws");
        assert_ne!(s, noise.sample(n, 3, 8).unwrap());
        let mut counts = [[0usize; 4]; 3];
        for (i, &v) in s.iter().enumerate() {
            let k = i % 3;
            let r = v as usize - 10 * k;
            assert!(r < 4, "component {k} drew {v}, not from its column");
            counts[k][r] += 1;
        }
        // each row with probability 1/4: 1000 expected, sd ~27
        for c in counts.iter().flatten() {
            assert!((*c as i64 - 1000).abs() < 150, "{counts:?}");
        }
        assert!(noise.sample(1, 5, 0).is_err(), "other image size");
    }

    #[test]
    fn uniform_is_in_the_unit_interval_with_mean_one_half() {
        let pool = Dataset::new(vec![0.0; 3], vec![0], 1, 1, 3).unwrap();
        let s = Noise::new(NoiseKind::Uniform, &pool).unwrap().sample(100, 100, 1).unwrap();
        assert!(s.iter().all(|v| (0.0..1.0).contains(v)));
        let m = s.iter().map(|&v| v as f64).sum::<f64>() / s.len() as f64;
        assert!((m - 0.5).abs() < 0.01, "{m}");
        assert_eq!("marginal".parse::<NoiseKind>().unwrap(), NoiseKind::Marginal);
        assert!("gauss".parse::<NoiseKind>().is_err());
    }
}

//! Rates with 95% Wilson score intervals, as the reproductions report them.

use serde::Serialize;

/// k of n, the rate k/n and its 95% Wilson interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rate {
    pub k: usize,
    pub n: usize,
    pub rate: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

impl Rate {
    pub fn new(k: usize, n: usize) -> Rate {
        if n == 0 {
            return Rate { k, n, rate: None, lo: None, hi: None };
        }
        let z = 1.959963984540054f64;
        let (kf, nf) = (k as f64, n as f64);
        let p = kf / nf;
        let den = 1.0 + z * z / nf;
        let centre = (p + z * z / (2.0 * nf)) / den;
        let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / den;
        Rate { k, n, rate: Some(p), lo: Some((centre - half).max(0.0)), hi: Some((centre + half).min(1.0)) }
    }

    /// The share of `flags` that are true.
    pub fn of(flags: impl IntoIterator<Item = bool>) -> Rate {
        let (mut k, mut n) = (0, 0);
        for f in flags {
            n += 1;
            k += f as usize;
        }
        Rate::new(k, n)
    }

    /// "0.863 [0.83, 0.89] (k/n)", or "- (0/0)".
    pub fn cell(&self) -> String {
        match (self.rate, self.lo, self.hi) {
            (Some(p), Some(l), Some(h)) => format!("{p:.3} [{l:.3}, {h:.3}] ({}/{})", self.k, self.n),
            _ => format!("- ({}/{})", self.k, self.n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_the_closed_form_values() {
        // statsmodels proportion_confint(8, 10, method="wilson") = (0.4902, 0.9433)
        let r = Rate::new(8, 10);
        assert!((r.lo.unwrap() - 0.490_162).abs() < 1e-4, "{r:?}");
        assert!((r.hi.unwrap() - 0.943_318).abs() < 1e-4, "{r:?}");
        let z = Rate::new(0, 20);
        assert_eq!(z.lo, Some(0.0));
        assert!(z.hi.unwrap() > 0.1 && z.hi.unwrap() < 0.2);
        assert_eq!(Rate::new(0, 0).rate, None);
        assert_eq!(Rate::of([true, false, true, true]).k, 3);
    }
}

//! Fixed-bin histograms and the two statistics drift is judged by: the population stability
//! index (how much a distribution moved) and the two-sample Kolmogorov-Smirnov test (whether
//! the move is more than sampling noise at this sample size).
//!
//! Everything works on histograms, never on raw samples: a baseline is a few hundred numbers
//! whatever the size of the data it summarises, a window of any size is counted in constant
//! memory (the drift Lambda runs at its smallest memory size), and both sides of a
//! comparison always share their bins.

use serde::{Deserialize, Serialize};

/// The share PSI gives an empty bin: 1 in 10,000 (the usual choice). Mass appearing in a bin
/// the other side never had counts as a large shift, as it should.
pub const EMPTY_SHARE: f64 = 1e-4;

/// Counts over `counts.len()` equal-width bins covering `[lo, hi]`. Values below `lo` count
/// in the first bin, values above `hi` in the last (a feature that leaves its range is still
/// counted, at the edge); NaN is not counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Lower edge of the first bin.
    pub lo: f64,
    /// Upper edge of the last bin.
    pub hi: f64,
    /// Observations per bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// An empty histogram of `bins` bins over `[lo, hi]` (at least one bin).
    pub fn new(lo: f64, hi: f64, bins: usize) -> Histogram {
        Histogram {
            lo,
            hi,
            counts: vec![0; bins.max(1)],
        }
    }

    /// Counts `x` (NaN is ignored).
    pub fn add(&mut self, x: f64) {
        if let Some(bin) = self.bin_of(x)
            && let Some(count) = self.counts.get_mut(bin)
        {
            *count += 1;
        }
    }

    /// The bin `x` falls in; `None` for NaN (or a histogram whose range is empty).
    fn bin_of(&self, x: f64) -> Option<usize> {
        if x.is_nan() || self.counts.is_empty() || self.hi <= self.lo {
            return None;
        }
        let bins = self.counts.len();
        // The nudge puts a value on a bin edge in the bin above it, as decimal arithmetic
        // would: 0.93 must count at or above a 0.93 threshold, not in the bin below because
        // (0.93 - 0.5) / 0.5 * 50 is 42.999999999999993 in binary.
        let position = (x - self.lo) / (self.hi - self.lo) * bins as f64 + 1e-9;
        // `as` saturates: -inf and negatives go to 0, +inf and overflow to the last bin.
        Some((position.floor().max(0.0) as usize).min(bins - 1))
    }

    /// Observations counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// True when both have the same range and number of bins (so they can be compared).
    pub fn same_bins(&self, other: &Histogram) -> bool {
        self.lo == other.lo && self.hi == other.hi && self.counts.len() == other.counts.len()
    }

    /// Adds `other`'s counts (same bins; `false`, and nothing added, otherwise).
    pub fn merge(&mut self, other: &Histogram) -> bool {
        if !self.same_bins(other) {
            return false;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        true
    }

    /// The same counts in bins `factor` times as wide (the last one may be narrower in
    /// count when `factor` does not divide the number of bins).
    pub fn coarsen(&self, factor: usize) -> Histogram {
        let factor = factor.max(1);
        Histogram {
            lo: self.lo,
            hi: self.hi,
            counts: self.counts.chunks(factor).map(|c| c.iter().sum()).collect(),
        }
    }

    /// The share of the observations below `x`, interpolated linearly within its bin
    /// (exact when `x` is a bin edge); `None` when empty.
    pub fn share_below(&self, x: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 || x.is_nan() || self.hi <= self.lo {
            return None;
        }
        let width = (self.hi - self.lo) / self.counts.len() as f64;
        let mut below = 0.0;
        for (i, &count) in self.counts.iter().enumerate() {
            let start = self.lo + width * i as f64;
            let covered = ((x - start) / width).clamp(0.0, 1.0);
            below += covered * count as f64;
        }
        Some(below / total as f64)
    }

    /// The mean, taking each observation at its bin's centre; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let width = (self.hi - self.lo) / self.counts.len() as f64;
        let sum: f64 = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, &c)| c as f64 * (self.lo + width * (i as f64 + 0.5)))
            .sum();
        Some(sum / total as f64)
    }

    /// The bins' shares, an empty bin's taken as [`EMPTY_SHARE`] (PSI takes the logarithm of
    /// each share). A floor rather than adding a pseudo-count to every bin: a pseudo-count
    /// weighs more in a small sample than in a large one, so two samples of one distribution
    /// would differ by their sizes alone.
    fn floored_shares(&self) -> Vec<f64> {
        let total = self.total() as f64;
        self.counts
            .iter()
            .map(|&c| (c as f64 / total).max(EMPTY_SHARE))
            .collect()
    }

    /// Cumulative shares at the upper edge of each bin.
    fn cumulative_shares(&self) -> Vec<f64> {
        let total = self.total() as f64;
        let mut running = 0u64;
        self.counts
            .iter()
            .map(|&c| {
                running += c;
                running as f64 / total
            })
            .collect()
    }
}

/// Population stability index of `actual` against `expected`:
/// `sum over bins of (a - e) * ln(a / e)` over the bins' shares (an empty bin's share taken
/// as [`EMPTY_SHARE`]). 0 for identical shares; by the usual convention below
/// 0.1 is no real shift, 0.1-0.25 a moderate one, above 0.25 a major one. `None` when the
/// bins differ or either side is empty.
pub fn psi(expected: &Histogram, actual: &Histogram) -> Option<f64> {
    if !expected.same_bins(actual) || expected.total() == 0 || actual.total() == 0 {
        return None;
    }
    let value = expected
        .floored_shares()
        .iter()
        .zip(actual.floored_shares())
        .map(|(e, a)| (a - e) * (a / e).ln())
        .sum::<f64>();
    Some(value.max(0.0))
}

/// A two-sample Kolmogorov-Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ks {
    /// The largest distance between the two cumulative distributions (0..1).
    pub d: f64,
    /// The chance of a distance at least this large if both samples came from one
    /// distribution (asymptotic Kolmogorov distribution).
    pub p_value: f64,
}

impl Ks {
    /// The p-value as people read it, in at most 5 characters: `1.00`, `0.04`, `0.003`,
    /// `2e-5` (never `1.0e0`).
    pub fn p_value_text(&self) -> String {
        let p = self.p_value;
        if !p.is_finite() {
            "-".to_owned()
        } else if p >= 0.01 {
            format!("{p:.2}")
        } else if p >= 0.001 {
            format!("{p:.3}")
        } else {
            format!("{p:.0e}")
        }
    }
}

/// The two-sample Kolmogorov-Smirnov test of two histograms with the same bins. `d` is taken
/// at the bin edges, so it can only under-state the distance of the raw samples: with the
/// fine bins drift uses (1/50 of a range) the difference is small, and it errs towards no
/// alarm. The p-value is the asymptotic one with the effective size `n m / (n + m)` and
/// Stephens' small-sample correction (as in Numerical Recipes' `kstwo`). `None` when the bins
/// differ or either side is empty.
pub fn ks(a: &Histogram, b: &Histogram) -> Option<Ks> {
    if !a.same_bins(b) || a.total() == 0 || b.total() == 0 {
        return None;
    }
    let d = a
        .cumulative_shares()
        .iter()
        .zip(b.cumulative_shares())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    let (n, m) = (a.total() as f64, b.total() as f64);
    let effective = (n * m / (n + m)).sqrt();
    let lambda = (effective + 0.12 + 0.11 / effective) * d;
    Some(Ks {
        d,
        p_value: kolmogorov_q(lambda),
    })
}

/// `Q(lambda) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 lambda^2)`, the Kolmogorov distribution's
/// upper tail: 1 at 0, falling to ~0.05 at 1.36 and ~0.001 at 1.95.
pub fn kolmogorov_q(lambda: f64) -> f64 {
    // The series converges slowly near 0, where Q is 1 to many digits anyway.
    if lambda.is_nan() || lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for j in 1..=100 {
        let j = f64::from(j);
        let term = sign * (-2.0 * j * j * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-12 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values_read_as_people_write_them() {
        let text = |p_value| Ks { d: 0.1, p_value }.p_value_text();
        assert_eq!(text(1.0), "1.00");
        assert_eq!(text(0.0421), "0.04");
        assert_eq!(text(0.0032), "0.003");
        assert_eq!(text(1.7421e-5), "2e-5");
        assert_eq!(text(f64::NAN), "-");
        for p in [1.0, 0.5, 0.011, 0.0099, 0.001, 0.00099, 1e-12] {
            assert!(
                text(p).len() <= 5 && !text(p).contains("e0"),
                "{p}: {}",
                text(p)
            );
        }
    }

    fn hist(counts: &[u64]) -> Histogram {
        Histogram {
            lo: 0.0,
            hi: 1.0,
            counts: counts.to_vec(),
        }
    }

    #[test]
    fn values_land_in_their_bins_and_out_of_range_at_the_edges() {
        let mut h = Histogram::new(0.5, 1.0, 5);
        for x in [
            0.5,
            0.59,
            0.6,
            0.99,
            1.0,
            7.0,
            -3.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            h.add(x);
        }
        assert_eq!(h.counts, [3, 1, 0, 0, 4]);
        assert_eq!(h.total(), 8);
        // Every two-decimal confidence lands in its own 0.01 bin, edges included.
        let mut fine = Histogram::new(0.5, 1.0, 50);
        for i in 50..100 {
            fine.add(f64::from(i) / 100.0);
        }
        assert_eq!(fine.counts, vec![1; 50]);
    }

    #[test]
    fn psi_matches_the_hand_computed_value() {
        // (0.8 - 0.5) ln(0.8 / 0.5) + (0.2 - 0.5) ln(0.2 / 0.5) = 0.141001 + 0.274887.
        let value = psi(&hist(&[50, 50]), &hist(&[80, 20])).unwrap();
        assert!((value - 0.415888).abs() < 1e-6, "{value}");
        // An empty bin on one side: (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(1 / 0.5).
        let value = psi(&hist(&[50, 50]), &hist(&[0, 100])).unwrap();
        assert!((value - 4.604318).abs() < 1e-6, "{value}");
        assert_eq!(psi(&hist(&[3, 7, 0]), &hist(&[30, 70, 0])), Some(0.0));
        assert_eq!(psi(&hist(&[1, 1]), &hist(&[0, 0])), None);
        assert_eq!(psi(&hist(&[1, 1]), &hist(&[1, 1, 1])), None);
    }

    #[test]
    fn ks_matches_the_hand_computed_value() {
        // CDFs at the edges: a (0.5, 1), b (0.2, 1): D = 0.3. n = m = 100: sqrt(50) = 7.0711;
        // lambda = (7.0711 + 0.12 + 0.11 / 7.0711) * 0.3 = 2.16199; Q = 2 (e^-9.34848 - ...)
        // = 1.7421e-4.
        let r = ks(&hist(&[50, 50]), &hist(&[20, 80])).unwrap();
        assert!((r.d - 0.3).abs() < 1e-12);
        assert!((r.p_value - 1.7421e-4).abs() < 1e-7, "{}", r.p_value);
        // Known values of the distribution: Q(1) = 0.2700, Q(1.358) = 0.0500.
        assert!((kolmogorov_q(1.0) - 0.26999967).abs() < 1e-6);
        assert!((kolmogorov_q(1.358) - 0.05).abs() < 5e-4);
        assert_eq!(kolmogorov_q(0.0), 1.0);
        assert_eq!(ks(&hist(&[5, 5]), &hist(&[50, 50])).unwrap().p_value, 1.0);
    }

    #[test]
    fn shares_means_and_coarsening() {
        let h = Histogram {
            lo: 0.5,
            hi: 1.0,
            counts: vec![10, 0, 0, 0, 30],
        };
        assert!((h.share_below(0.6).unwrap() - 0.25).abs() < 1e-12);
        // Half of the last bin: (10 + 30 / 2) / 40.
        assert!((h.share_below(0.95).unwrap() - 0.625).abs() < 1e-12);
        assert_eq!(h.share_below(2.0), Some(1.0));
        assert!((h.mean().unwrap() - (10.0 * 0.55 + 30.0 * 0.95) / 40.0).abs() < 1e-12);
        assert_eq!(h.coarsen(2).counts, [10, 0, 30]);
        assert_eq!(Histogram::new(0.0, 1.0, 3).share_below(0.5), None);
    }
}

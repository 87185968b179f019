//! Drift statistics on arbitrary data: never a panic, never a NaN verdict, and one
//! distribution against itself (at any sample sizes) is no drift.

use proptest::prelude::*;
use scones_workflow::drift::{
    Cutoffs, Histogram, ImageFeatures, Profile, Verdict, compare, ks, psi,
};

fn histogram(counts: Vec<u64>) -> Histogram {
    Histogram {
        lo: 0.0,
        hi: 1.0,
        counts,
    }
}

proptest! {
    #[test]
    fn any_pair_of_histograms_gives_finite_statistics(
        a in prop::collection::vec(0u64..1_000_000_000, 1..60),
        b in prop::collection::vec(0u64..1_000_000_000, 1..60),
    ) {
        let (a, b) = (histogram(a), histogram(b));
        let both = a.same_bins(&b) && a.total() > 0 && b.total() > 0;
        match psi(&a, &b) {
            Some(value) => prop_assert!(both && value.is_finite() && value >= 0.0),
            None => prop_assert!(!both),
        }
        match ks(&a, &b) {
            Some(r) => prop_assert!(
                both && (0.0..=1.0 + 1e-12).contains(&r.d) && (0.0..=1.0).contains(&r.p_value)
            ),
            None => prop_assert!(!both),
        }
    }

    #[test]
    fn a_distribution_against_itself_at_any_scale_is_no_drift(
        counts in prop::collection::vec(0u64..10_000, 1..60),
        scale in 1u64..1000,
    ) {
        let a = histogram(counts.clone());
        let b = histogram(counts.iter().map(|c| c * scale).collect());
        prop_assume!(a.total() > 0);
        prop_assert!(psi(&a, &b).unwrap() < 1e-9);
        let r = ks(&a, &b).unwrap();
        prop_assert!(r.d < 1e-9 && r.p_value == 1.0);
    }

    #[test]
    fn any_window_of_any_values_is_judged_without_a_panic(
        scores in prop::collection::vec(
            (prop::num::f64::ANY, prop::num::f64::ANY), 0..400),
        pixels in prop::collection::vec(any::<u8>(), 0..200),
        threshold in prop::num::f64::ANY,
    ) {
        let mut window = Profile::default();
        for (b, m) in scores {
            window.add_scores([b, m]);
        }
        let side = ((pixels.len() / 3) as f64).sqrt() as usize;
        if let Some(f) = ImageFeatures::of_rgb(side, side, &pixels[..side * side * 3]) {
            window.add_image(&f);
        }
        let mut baseline = Profile::default();
        for i in 0..1000 {
            let c = 0.5 + f64::from(i % 50) / 100.0;
            baseline.add_scores([c, 1.0 - c]);
        }
        let report = compare(&baseline, &window, threshold, &Cutoffs::default());
        prop_assert!(report.findings.iter().all(|f| f.psi.is_none_or(f64::is_finite)));
        if window.outputs() < Cutoffs::default().min_samples {
            prop_assert_eq!(report.verdict, Verdict::NotEnoughData);
        }
    }
}

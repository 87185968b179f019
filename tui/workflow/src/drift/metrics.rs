//! What the `monitor-drift` Lambda publishes, defined once: the CloudWatch metrics (Terraform's
//! alarms in `terraform/modules/drift` name the same ones; terraform/README.md documents them)
//! and where its reports go in the bucket (the dashboard's AWS backend reads them there).

use chrono::{DateTime, Utc};

use super::{Statistic, Verdict, WindowDrift};

/// The default CloudWatch namespace (a Terraform variable can change it).
pub const NAMESPACE: &str = "Scones/Drift";
/// The dimension every drift metric has: the endpoint whose traffic was judged.
pub const DIMENSION_ENDPOINT: &str = "EndpointName";
/// The dimension of per-statistic metrics: [`Statistic::name`].
pub const DIMENSION_STATISTIC: &str = "Statistic";
/// The current window's worst verdict as [`Verdict::level`] (0 OK, 1 WARN, 2 ALERT); not
/// published when there is not enough data to judge, so an alarm on it treats a quiet
/// endpoint as missing data, never as an alert.
pub const VERDICT: &str = "DriftVerdict";
/// One statistic's verdict, as [`Verdict::level`] (dimensions: endpoint and statistic).
pub const STATISTIC_VERDICT: &str = "StatisticVerdict";
/// One statistic's population stability index against the baseline.
pub const PSI: &str = "PopulationStabilityIndex";
/// Distinct input images in the current window (published even when too few to judge).
pub const IMAGES: &str = "WindowImages";
/// Inferences in the current window.
pub const INFERENCES: &str = "WindowInferences";

/// 1 while the guard holds decisions for review (`hold` mode, drift ALERT or an operator's
/// hold), 0 otherwise; published by every run that judged, so an alarm on it pages while
/// decisions wait for people.
pub const GUARD_HOLDING: &str = "GuardHolding";

/// The newest report, overwritten by every run: `<report prefix>latest.json`.
pub const LATEST_REPORT: &str = "latest.json";

/// Where a run's report is kept: `<prefix>yyyy/mm/dd/hhmmss.json`, so reports sort by time.
pub fn report_key(prefix: &str, at: DateTime<Utc>) -> String {
    format!("{prefix}{}", at.format("%Y/%m/%d/%H%M%S.json"))
}

/// One metric value of a window.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftMetric {
    /// The metric name (one of this module's constants).
    pub name: &'static str,
    /// The statistic dimension, for per-statistic metrics.
    pub statistic: Option<Statistic>,
    /// The value.
    pub value: f64,
    /// Whether the value is a count (CloudWatch unit `Count`) rather than unitless.
    pub count: bool,
}

impl Verdict {
    /// The verdict as a metric value: 0 OK, 1 WARN, 2 ALERT, `None` for NOT ENOUGH DATA.
    pub fn level(self) -> Option<f64> {
        match self {
            Verdict::NotEnoughData => None,
            Verdict::Ok => Some(0.0),
            Verdict::Warn => Some(1.0),
            Verdict::Alert => Some(2.0),
        }
    }
}

/// The metrics of the current window `window`.
pub fn metrics_of(window: &WindowDrift) -> Vec<DriftMetric> {
    let report = &window.report;
    let metric = |name, statistic, value, count| DriftMetric {
        name,
        statistic,
        value,
        count,
    };
    let mut out = vec![
        metric(IMAGES, None, report.images as f64, true),
        metric(INFERENCES, None, window.inferences as f64, true),
    ];
    if let Some(level) = report.verdict.level() {
        out.push(metric(VERDICT, None, level, false));
    }
    for finding in &report.findings {
        let statistic = Some(finding.statistic);
        if let Some(level) = finding.verdict.level() {
            out.push(metric(STATISTIC_VERDICT, statistic, level, false));
        }
        if let Some(psi) = finding.psi.filter(|p| p.is_finite()) {
            out.push(metric(PSI, statistic, psi, false));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::{Cutoffs, Profile, compare};

    fn window(profile: &Profile, baseline: &Profile) -> WindowDrift {
        WindowDrift {
            from: None,
            to: None,
            inferences: profile.outputs(),
            repeats: 0,
            report: compare(baseline, profile, 0.9, &Cutoffs::default()),
        }
    }

    #[test]
    fn too_little_traffic_publishes_counts_but_no_verdict() {
        let mut baseline = Profile::default();
        for i in 0..200 {
            baseline.add_scores([f64::from(i % 10) / 10.0, 1.0 - f64::from(i % 10) / 10.0]);
        }
        let mut current = Profile::default();
        current.add_scores([0.99, 0.01]);
        let metrics = metrics_of(&window(&current, &baseline));
        assert!(
            metrics
                .iter()
                .any(|m| m.name == INFERENCES && m.value == 1.0)
        );
        assert!(metrics.iter().all(|m| m.name != VERDICT));
        assert!(metrics.iter().all(|m| m.name != STATISTIC_VERDICT));
    }

    #[test]
    fn a_judged_window_publishes_its_verdicts_and_psi() {
        let mut baseline = Profile::default();
        let mut shifted = Profile::default();
        for i in 0..400 {
            let p = 0.5 + f64::from(i % 50) / 100.0;
            baseline.add_scores([p, 1.0 - p]);
            shifted.add_scores([0.51, 0.49]);
        }
        let w = window(&shifted, &baseline);
        let metrics = metrics_of(&w);
        let verdict = metrics.iter().find(|m| m.name == VERDICT).unwrap();
        assert_eq!(verdict.value, 2.0, "{:?}", w.report.verdict);
        let confidence = metrics
            .iter()
            .find(|m| m.name == PSI && m.statistic == Some(Statistic::Confidence))
            .unwrap();
        assert!(confidence.value > 0.25);
    }

    #[test]
    fn report_keys_sort_by_time() {
        let t = DateTime::parse_from_rfc3339("2026-12-04T05:06:07Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            report_key("drift/reports/", t),
            "drift/reports/2026/12/04/050607.json"
        );
    }
}

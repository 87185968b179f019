//! The contract between this function and terraform/modules/drift, which sets its
//! environment and alarms on its metrics: a name changed on one side only fails here, not in
//! someone's account.

#![allow(clippy::unwrap_used)] // a test: a panic is its failure message

use scones_workflow::drift::metrics;

fn module() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../terraform/modules/drift/main.tf"
    );
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn terraform_sets_every_variable_the_function_reads() {
    let tf = module();
    let config = include_str!("../src/config.rs");
    for name in [
        "BUCKET",
        "ENDPOINT_NAME",
        "VARIANT",
        "CAPTURE_PREFIX",
        "BASELINE_KEY",
        "REPORT_PREFIX",
        "METRIC_NAMESPACE",
        "DRIFT_WINDOW",
        "DRIFT_WINDOWS",
    ] {
        assert!(
            config.contains(&format!("\"{name}\"")),
            "config.rs no longer reads {name}"
        );
        assert!(
            tf.contains(&format!("    {name} ")),
            "terraform/modules/drift does not set {name}"
        );
    }
    // THRESHOLD is read by the shared scones_lambda_runtime::env::threshold.
    assert!(tf.contains("    THRESHOLD "));
}

#[test]
fn the_alarm_watches_the_metric_the_function_publishes() {
    let tf = module();
    assert!(tf.contains(&format!("metric_name         = \"{}\"", metrics::VERDICT)));
    assert!(tf.contains(&format!(
        "dimensions          = {{ {} = var.endpoint_name }}",
        metrics::DIMENSION_ENDPOINT
    )));
    // ALERT is level 2.
    assert_eq!(scones_workflow::drift::Verdict::Alert.level(), Some(2.0));
    assert!(tf.contains("threshold           = 2\n"));
    let root_variables = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../terraform/variables.tf"
    ))
    .unwrap();
    assert!(
        root_variables.contains(&format!("default     = \"{}\"", metrics::NAMESPACE)),
        "the root module's drift_metric_namespace default is not {}",
        metrics::NAMESPACE
    );
}

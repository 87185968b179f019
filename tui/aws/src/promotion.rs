//! `scones promote --aws` and `scones rollback --aws`: the serving version is a Terraform
//! input, and Terraform carries out the endpoint update with the deployment guardrails it
//! owns (terraform/modules/endpoint: blue/green, a canary or all at once, a baking period,
//! rollback on the stack's alarms).
//!
//! The CLI writes the version into [`SERVING_VARS_FILE`] in the Terraform directory (an
//! `.auto.tfvars.json` file Terraform reads on every plan), so the next `terraform apply`,
//! by anyone, keeps the promoted version instead of undoing it. It then plans, checks that
//! the plan changes nothing but the endpoint's model, configuration and endpoint (anything
//! else pending is the operator's to apply, not a promotion's), and applies that plan. If
//! anything fails, or SageMaker rolls the update back on an alarm, the file is put back as
//! it was, so Terraform's inputs say what serves.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::AwsError;
use crate::versions::EndpointState;

/// The file in the Terraform directory that names the promoted version.
pub const SERVING_VARS_FILE: &str = "scones-serving.auto.tfvars.json";

/// The plan a promotion applies (removed after).
const PLAN_FILE: &str = ".scones-promotion.tfplan";

/// Resource addresses a promotion may change.
const ENDPOINT_MODULE: &str = "module.endpoint.";

/// Why the endpoint was not updated.
#[derive(Debug, thiserror::Error)]
pub enum PromotionError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Not now, or not this: said why and what to do.
    #[error("{0}")]
    Refused(String),
    /// Terraform failed (its last lines, and what the endpoint says).
    #[error("terraform {step} in {dir} failed: {message}")]
    Terraform {
        /// plan, show or apply.
        step: &'static str,
        /// The Terraform directory.
        dir: String,
        /// What it said.
        message: String,
    },
    /// The serving file could not be written or put back.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Refuses an update while another is in progress (SageMaker would refuse it too, after
/// Terraform had planned it).
pub fn check_idle(state: &EndpointState) -> Result<(), PromotionError> {
    if state.in_service() {
        return Ok(());
    }
    let since = state
        .updating_since
        .map(|t| format!(" since {}", t.format("%Y-%m-%d %H:%M:%SZ")))
        .unwrap_or_default();
    Err(PromotionError::Refused(format!(
        "the endpoint is {}{since}: another update is in progress (scones models --aws shows \
         it); promote or roll back once it is InService",
        state.status
    )))
}

/// The endpoint serves `url` (`version`) after an apply, or why not: the deployment failed
/// or SageMaker rolled it back on an alarm. Terraform's endpoint resource waits for
/// `InService`, which the endpoint also reaches after a rollback, so an apply that succeeded
/// does not mean the version serves.
pub fn check_serves(state: &EndpointState, url: &str, version: &str) -> Result<(), PromotionError> {
    if state.serving_model_data_url.as_deref() == Some(url) {
        return Ok(());
    }
    let serving = state.serving_model_data_url.as_deref().map_or_else(
        || "a configuration whose model is gone".to_owned(),
        scones_workflow::models::version_of,
    );
    let reason = state
        .failure_reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    Err(PromotionError::Refused(format!(
        "terraform apply finished, but the endpoint serves {serving} ({}{reason}), not \
         {version}: the deployment failed or SageMaker rolled it back. Terraform's inputs are \
         put back to what serves; run `terraform apply` (it re-creates that version's model \
         and configuration if the update removed them) before promoting again",
        state.status
    )))
}

/// Makes the endpoint serve `model_data_url` (`None`: what Terraform's training made)
/// through Terraform in `tf_dir`; `served` then checks that it does ([`check_serves`]).
pub async fn serve(
    terraform: &Path,
    tf_dir: &Path,
    model_data_url: Option<&str>,
    served: impl AsyncFnOnce() -> Result<(), PromotionError>,
) -> Result<(), PromotionError> {
    let file = tf_dir.join(SERVING_VARS_FILE);
    let before = match std::fs::read(&file) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(PromotionError::Io { path: file, source }),
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PromotionError::Io { path, source }
    };
    match model_data_url {
        Some(url) => {
            let body = serde_json::json!({ "serving_model_data_url": url });
            std::fs::write(&file, format!("{body:#}\n")).map_err(io(&file))?;
        }
        None => match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&file)(e)),
        },
    }
    let mut result = plan_and_apply(terraform, tf_dir).await;
    let _ = std::fs::remove_file(tf_dir.join(PLAN_FILE));
    if result.is_ok() {
        result = served().await;
    }
    if result.is_err() {
        // Terraform's inputs must say what serves: put the file back as it was.
        let restored = match &before {
            Some(bytes) => std::fs::write(&file, bytes),
            None => std::fs::remove_file(&file).or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            }),
        };
        if let Err(e) = restored {
            tracing::error!(file = %file.display(), error = %e, "the serving file could not be put back");
        }
    }
    result
}

async fn plan_and_apply(terraform: &Path, tf_dir: &Path) -> Result<(), PromotionError> {
    run(
        terraform,
        tf_dir,
        "plan",
        &["plan", "-input=false", "-no-color", "-out", PLAN_FILE],
    )
    .await?;
    let shown = run(
        terraform,
        tf_dir,
        "show",
        &["show", "-json", "-no-color", PLAN_FILE],
    )
    .await?;
    let others = changes_outside_endpoint(&shown).map_err(|message| PromotionError::Terraform {
        step: "show",
        dir: tf_dir.display().to_string(),
        message,
    })?;
    if !others.is_empty() {
        return Err(PromotionError::Refused(format!(
            "the plan would change more than the endpoint ({}): apply those changes first \
             (terraform apply in {}), then promote",
            others.join(", "),
            tf_dir.display()
        )));
    }
    run(
        terraform,
        tf_dir,
        "apply",
        &["apply", "-input=false", "-no-color", PLAN_FILE],
    )
    .await?;
    Ok(())
}

/// The addresses of the resources a plan (`terraform show -json`) would change outside the
/// endpoint module.
fn changes_outside_endpoint(plan_json: &str) -> Result<Vec<String>, String> {
    let plan: Value =
        serde_json::from_str(plan_json).map_err(|e| format!("the plan is not JSON: {e}"))?;
    Ok(plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rc| {
            let actions: Vec<&str> = rc["change"]["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            !actions.iter().all(|a| *a == "no-op" || *a == "read")
        })
        .filter_map(|rc| rc["address"].as_str())
        .filter(|a| !a.starts_with(ENDPOINT_MODULE))
        .map(str::to_owned)
        .collect())
}

/// Runs `terraform ARGS` in `dir`; its standard output.
async fn run(
    terraform: &Path,
    dir: &Path,
    step: &'static str,
    args: &[&str],
) -> Result<String, PromotionError> {
    let failed = |message: String| PromotionError::Terraform {
        step,
        dir: dir.display().to_string(),
        message,
    };
    let out = tokio::process::Command::new(terraform)
        .arg(format!("-chdir={}", dir.display()))
        .args(args)
        .env("TF_IN_AUTOMATION", "1")
        .stdin(std::process::Stdio::null())
        // A dashboard closed mid-apply must not kill Terraform holding the state lock.
        .kill_on_drop(false)
        .output()
        .await
        .map_err(|e| failed(format!("cannot run {}: {e}", terraform.display())))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let text = if text.trim().is_empty() {
            String::from_utf8_lossy(&out.stdout)
        } else {
            text
        };
        let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(12)..].join("\n");
        return Err(failed(tail));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_outside_the_endpoint_module_are_named() {
        let plan = serde_json::json!({"resource_changes": [
            {"address": "module.endpoint.aws_sagemaker_model.this[0]", "change": {"actions": ["create", "delete"]}},
            {"address": "module.endpoint.aws_sagemaker_endpoint.this[0]", "change": {"actions": ["update"]}},
            {"address": "module.lambdas.aws_lambda_function.this[\"filter\"]", "change": {"actions": ["no-op"]}},
            {"address": "data.aws_caller_identity.current", "change": {"actions": ["read"]}},
            {"address": "module.monitoring.aws_cloudwatch_metric_alarm.endpoint_5xx[0]", "change": {"actions": ["update"]}},
        ]});
        assert_eq!(
            changes_outside_endpoint(&plan.to_string()).unwrap(),
            ["module.monitoring.aws_cloudwatch_metric_alarm.endpoint_5xx[0]"]
        );
        assert!(changes_outside_endpoint("{").is_err());
        assert!(
            changes_outside_endpoint(r#"{"format_version": "1.2"}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_update_in_progress_is_refused_with_since_when() {
        let state = EndpointState {
            status: "Updating".into(),
            serving_model_data_url: None,
            failure_reason: None,
            updating_since: DateTime::from_timestamp(1_790_000_000, 0),
        };
        let err = check_idle(&state).unwrap_err().to_string();
        assert!(err.contains("Updating since 2026-"), "{err}");
        assert!(err.contains("another update is in progress"), "{err}");
        assert!(
            check_idle(&EndpointState {
                status: "InService".into(),
                ..state
            })
            .is_ok()
        );
    }

    #[test]
    fn an_apply_after_which_another_version_serves_is_a_rollback_said_with_its_reason() {
        let url = "s3://b/models/scones-ic-a-r1/output/model.tar.gz";
        let state = EndpointState {
            status: "InService".into(),
            serving_model_data_url: Some("s3://b/models/scones-ic-a/output/model.tar.gz".into()),
            failure_reason: Some("alarm scones-low-confidence-rate in ALARM".into()),
            updating_since: None,
        };
        let err = check_serves(&state, url, "scones-ic-a-r1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("serves scones-ic-a (InService: alarm scones-low-confidence-rate"),
            "{err}"
        );
        assert!(err.contains("rolled it back"), "{err}");
        let gone = EndpointState {
            serving_model_data_url: None,
            failure_reason: None,
            ..state.clone()
        };
        assert!(
            check_serves(&gone, url, "scones-ic-a-r1")
                .unwrap_err()
                .to_string()
                .contains("a configuration whose model is gone (InService)")
        );
        let served = EndpointState {
            serving_model_data_url: Some(url.into()),
            ..state
        };
        assert!(check_serves(&served, url, "scones-ic-a-r1").is_ok());
    }

    use chrono::DateTime;
}

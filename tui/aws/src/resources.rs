//! Finding the deployed stack: the `scones` output object of `terraform output -json`
//! (terraform/outputs.tf), a saved copy of it in the config directory, or flags.
//!
//! Order: flags that name both the state machine and the bucket need nothing else; an
//! explicit `--tf-dir` is read with Terraform; otherwise `$XDG_CONFIG_HOME/scones/aws.json`
//! (a saved `terraform output -json scones`) when it exists; otherwise the repository's
//! `terraform/` directory (found from the working directory upwards) or the working
//! directory itself. Flags then override single fields.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The prefix SageMaker data capture writes under when Terraform's storage module set it up
/// (`s3://<bucket>/datacapture`).
pub const DEFAULT_CAPTURE_PREFIX: &str = "datacapture/";

/// Key of the filter Lambda in `function_names` / `log_groups`.
pub const FILTER_FUNCTION: &str = "filter-low-confidence";

/// Key of the state machine's log group in `log_groups`.
pub const WORKFLOW_LOG_GROUP: &str = "workflow";

/// The deployed resources the CLI and dashboard use (the `scones` Terraform output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Region of the stack.
    #[serde(default)]
    pub region: Option<String>,
    /// The bucket with test/, test.lst and datacapture/.
    pub bucket: String,
    /// The workflow state machine.
    pub state_machine_arn: String,
    /// The SageMaker endpoint, when one is configured.
    #[serde(default)]
    pub endpoint_name: Option<String>,
    /// Whether the endpoint exists (Terraform creates it only with a model).
    #[serde(default = "yes")]
    pub endpoint_created: bool,
    /// Lambda function names by role (`serialize-image-data`, ...).
    #[serde(default)]
    pub function_names: BTreeMap<String, String>,
    /// Log groups: `workflow` (the state machine) and one per function role.
    #[serde(default)]
    pub log_groups: BTreeMap<String, String>,
    /// Namespace of the low-confidence metrics.
    #[serde(default)]
    pub metric_namespace: Option<String>,
    /// The filter's confidence threshold.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Where data capture lands in the bucket (default `datacapture/`).
    #[serde(default = "default_capture_prefix")]
    pub data_capture_prefix: String,
    /// The drift monitor (`None`: the stack has none).
    #[serde(default)]
    pub drift: Option<DriftResources>,
    /// Model versions and endpoint updates (`None`: a stack applied before they existed).
    #[serde(default)]
    pub models: Option<ModelResources>,
}

/// Where model versions come from and how the endpoint is updated to one
/// (terraform/outputs.tf, `scones.models`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResources {
    /// Every training job of the stack is named with this prefix (`<name>-ic-`).
    pub job_prefix: String,
    /// The endpoint's deployment guardrails and what it serves.
    pub deployment: Deployment,
    /// What the promotion gate's candidate endpoint is made of (`None`: applied before it).
    #[serde(default)]
    pub candidate: Option<CandidateResources>,
}

/// The candidate endpoint the promotion gate measures a version on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateResources {
    /// Its model, configuration and endpoint are named with this (`<name>-candidate`).
    pub name_prefix: String,
    /// The role its model runs as (the serving model's).
    pub role_arn: String,
    /// The algorithm image.
    pub image_uri: String,
    /// One instance of this type.
    pub instance_type: String,
}

/// How an endpoint update rolls out, and what serves (terraform/modules/endpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// `CANARY` or `ALL_AT_ONCE`.
    pub traffic: String,
    /// The canary's share of capacity, with a canary.
    #[serde(default)]
    pub canary_percent: Option<u32>,
    /// Seconds of baking after each traffic shift.
    pub baking_seconds: u32,
    /// Alarms that roll an update back.
    #[serde(default)]
    pub rollback_alarms: Vec<String>,
    /// What the endpoint serves as applied (null: no endpoint).
    #[serde(default)]
    pub serving_model_data_url: Option<String>,
    /// What training made (or `model_data_url`).
    #[serde(default)]
    pub trained_model_data_url: Option<String>,
    /// A promoted version serves (`serving_model_data_url` is set).
    #[serde(default)]
    pub promoted: bool,
}

impl Deployment {
    /// The guardrails in words (`canary 25% then all, baking 600 s, rolls back on 4 alarms`).
    pub fn describe(&self) -> String {
        let shift = match self.canary_percent {
            Some(p) if self.traffic == "CANARY" => format!("canary {p}% then all"),
            _ => "all at once".to_owned(),
        };
        format!(
            "blue/green, {shift}, baking {} s, rolls back on {} alarm(s)",
            self.baking_seconds,
            self.rollback_alarms.len()
        )
    }
}

/// The drift monitor's places (terraform/modules/drift).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftResources {
    /// The monitor-drift function.
    pub function_name: String,
    /// Where `scones baseline --aws` writes the baseline.
    pub baseline_key: String,
    /// Where the function writes its reports (`latest.json` and one per run).
    pub reports_prefix: String,
    /// The namespace of its metrics.
    pub metric_namespace: String,
    /// Minutes between runs.
    pub schedule_minutes: u32,
    /// What the guard does on ALERT (Terraform's `guard`); `None` from a stack applied
    /// before the guard existed.
    #[serde(default)]
    pub guard: Option<scones_workflow::guard::GuardMode>,
}

fn yes() -> bool {
    true
}

fn default_capture_prefix() -> String {
    DEFAULT_CAPTURE_PREFIX.to_owned()
}

impl Resources {
    /// Reads the `scones` object from `terraform output -json` (all outputs, each
    /// `{"value": ..}`), from `terraform output -json scones`, or from a saved copy.
    pub fn from_output_json(text: &str, source: &str) -> Result<Resources, DiscoveryError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| DiscoveryError::Malformed {
            source_name: source.to_owned(),
            message: e.to_string(),
        })?;
        let value = match doc.get("scones") {
            Some(output) => output.get("value").unwrap_or(output).clone(),
            None if doc.get("state_machine_arn").is_some() => doc,
            None if doc.as_object().is_some_and(|o| o.is_empty()) => {
                return Err(DiscoveryError::NothingDeployed {
                    source_name: source.to_owned(),
                });
            }
            None => {
                return Err(DiscoveryError::NoSconesOutput {
                    source_name: source.to_owned(),
                });
            }
        };
        serde_json::from_value(value).map_err(|e| DiscoveryError::Malformed {
            source_name: source.to_owned(),
            message: e.to_string(),
        })
    }

    /// The state machine's log group, if known.
    pub fn workflow_log_group(&self) -> Option<&str> {
        self.log_groups.get(WORKFLOW_LOG_GROUP).map(String::as_str)
    }

    /// The filter Lambda's log group, if known.
    pub fn filter_log_group(&self) -> Option<&str> {
        self.log_groups.get(FILTER_FUNCTION).map(String::as_str)
    }

    /// The endpoint's name when it exists.
    pub fn live_endpoint(&self) -> Option<&str> {
        self.endpoint_name
            .as_deref()
            .filter(|_| self.endpoint_created)
    }

    /// The state machine's name (the last segment of its ARN).
    pub fn state_machine_name(&self) -> &str {
        self.state_machine_arn
            .rsplit(':')
            .next()
            .unwrap_or(&self.state_machine_arn)
    }

    /// The region in the state machine ARN (`arn:aws:states:<region>:...`).
    pub fn arn_region(&self) -> Option<&str> {
        self.state_machine_arn
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
    }

    /// The region the stack lives in: the one Terraform reported, else the ARN's. Used when
    /// neither --region nor the credential chain names one, so `--tf-dir` alone suffices.
    pub fn stack_region(&self) -> Option<String> {
        self.region
            .clone()
            .or_else(|| self.arn_region().map(str::to_owned))
    }
}

/// Single fields given on the command line; they win over what was discovered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceOverrides {
    /// `--state-machine-arn`.
    pub state_machine_arn: Option<String>,
    /// `--bucket`.
    pub bucket: Option<String>,
    /// `--endpoint-name`.
    pub endpoint_name: Option<String>,
    /// `--workflow-log-group`.
    pub workflow_log_group: Option<String>,
    /// `--filter-log-group`.
    pub filter_log_group: Option<String>,
}

impl ResourceOverrides {
    /// True when the flags alone describe a usable stack.
    pub fn complete(&self) -> bool {
        self.state_machine_arn.is_some() && self.bucket.is_some()
    }

    /// Applies the flags to `resources`.
    pub fn apply(&self, resources: &mut Resources) {
        if let Some(v) = &self.state_machine_arn {
            resources.state_machine_arn = v.clone();
        }
        if let Some(v) = &self.bucket {
            resources.bucket = v.clone();
        }
        if let Some(v) = &self.endpoint_name {
            resources.endpoint_name = Some(v.clone());
            resources.endpoint_created = true;
        }
        if let Some(v) = &self.workflow_log_group {
            resources
                .log_groups
                .insert(WORKFLOW_LOG_GROUP.to_owned(), v.clone());
        }
        if let Some(v) = &self.filter_log_group {
            resources
                .log_groups
                .insert(FILTER_FUNCTION.to_owned(), v.clone());
        }
    }

    /// Resources from the flags alone (when [`complete`](Self::complete)).
    fn to_resources(&self) -> Option<Resources> {
        let mut r = Resources {
            region: None,
            bucket: self.bucket.clone()?,
            state_machine_arn: self.state_machine_arn.clone()?,
            endpoint_name: None,
            endpoint_created: false,
            function_names: BTreeMap::new(),
            log_groups: BTreeMap::new(),
            metric_namespace: None,
            threshold: None,
            data_capture_prefix: default_capture_prefix(),
            drift: None,
            models: None,
        };
        self.apply(&mut r);
        Some(r)
    }
}

/// Where to look for the stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discovery {
    /// `--tf-dir`: read `terraform output -json` there.
    pub tf_dir: Option<PathBuf>,
    /// The saved-outputs file (default [`default_config_file`]).
    pub config_file: Option<PathBuf>,
    /// Single-field flags.
    pub overrides: ResourceOverrides,
    /// The Terraform binary (default `terraform` on PATH).
    pub terraform: Option<PathBuf>,
}

/// Where the resources came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceSource {
    /// `terraform output -json` in this directory.
    Terraform(PathBuf),
    /// A saved outputs file.
    ConfigFile(PathBuf),
    /// Flags only.
    Flags,
}

impl std::fmt::Display for ResourceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResourceSource::Terraform(dir) => write!(f, "terraform output in {}", dir.display()),
            ResourceSource::ConfigFile(path) => write!(f, "{}", path.display()),
            ResourceSource::Flags => f.write_str("command-line flags"),
        }
    }
}

/// Why the deployed stack could not be found.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// Terraform is not installed (or not at the given path).
    #[error(
        "cannot run terraform ({program}): {source}; install Terraform, or name the resources \
         with --state-machine-arn and --bucket"
    )]
    TerraformMissing {
        /// The program tried.
        program: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// `terraform output` failed (not initialised, unreadable state...).
    #[error("`terraform output -json` failed in {dir}: {stderr}")]
    TerraformFailed {
        /// The directory.
        dir: PathBuf,
        /// What Terraform said.
        stderr: String,
    },
    /// The state has no outputs: nothing was applied there.
    #[error(
        "nothing is deployed according to {source_name}: run `terraform apply` there first, pass \
         --tf-dir DIR of the applied configuration, or name the resources with \
         --state-machine-arn and --bucket"
    )]
    NothingDeployed {
        /// Where we looked.
        source_name: String,
    },
    /// Outputs exist but not the `scones` object.
    #[error(
        "{source_name} has no `scones` output: is this the scones Terraform configuration \
         (terraform/ of the repository)?"
    )]
    NoSconesOutput {
        /// Where we looked.
        source_name: String,
    },
    /// The `scones` object lacks fields or has the wrong types.
    #[error("the scones outputs from {source_name} are malformed: {message}")]
    Malformed {
        /// Where we looked.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// The saved outputs file could not be read.
    #[error("cannot read {path}: {source}")]
    ConfigUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No Terraform directory was found and no flags name the resources.
    #[error(
        "no deployed scones stack found: no terraform/ directory above {cwd} and no {config}; \
         pass --tf-dir DIR, or --state-machine-arn ARN --bucket NAME"
    )]
    NotFound {
        /// The working directory searched from.
        cwd: PathBuf,
        /// The config file looked for.
        config: String,
    },
}

impl DiscoveryError {
    /// Stable name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            DiscoveryError::TerraformMissing { .. } => "TerraformMissing",
            DiscoveryError::TerraformFailed { .. } => "TerraformFailed",
            DiscoveryError::NothingDeployed { .. } => "NothingDeployed",
            DiscoveryError::NoSconesOutput { .. } => "NoSconesOutput",
            DiscoveryError::Malformed { .. } => "Malformed",
            DiscoveryError::ConfigUnreadable { .. } => "ConfigUnreadable",
            DiscoveryError::NotFound { .. } => "NotFound",
        }
    }
}

/// `$XDG_CONFIG_HOME/scones/aws.json` (usually `~/.config/scones/aws.json`): a saved
/// `terraform output -json scones`.
pub fn default_config_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("scones").join("aws.json"))
}

impl Discovery {
    /// Finds the resources (see the module docs for the order).
    pub async fn discover(&self) -> Result<(Resources, ResourceSource), DiscoveryError> {
        if self.tf_dir.is_none()
            && let Some(r) = self.overrides.to_resources()
        {
            return Ok((r, ResourceSource::Flags));
        }
        let (mut resources, source) = if let Some(dir) = &self.tf_dir {
            (
                self.terraform_output(dir).await?,
                ResourceSource::Terraform(dir.clone()),
            )
        } else if let Some(path) = self
            .config_file
            .clone()
            .or_else(default_config_file)
            .filter(|p| p.is_file())
        {
            let text = std::fs::read_to_string(&path).map_err(|source| {
                DiscoveryError::ConfigUnreadable {
                    path: path.clone(),
                    source,
                }
            })?;
            (
                Resources::from_output_json(&text, &path.display().to_string())?,
                ResourceSource::ConfigFile(path),
            )
        } else {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            let Some(dir) = find_terraform_dir(&cwd) else {
                return Err(DiscoveryError::NotFound {
                    cwd,
                    config: default_config_file()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "config file".to_owned()),
                });
            };
            (
                self.terraform_output(&dir).await?,
                ResourceSource::Terraform(dir),
            )
        };
        self.overrides.apply(&mut resources);
        Ok((resources, source))
    }

    async fn terraform_output(&self, dir: &Path) -> Result<Resources, DiscoveryError> {
        let program = self
            .terraform
            .clone()
            .unwrap_or_else(|| PathBuf::from("terraform"));
        let output = tokio::process::Command::new(&program)
            .arg(format!("-chdir={}", dir.display()))
            .args(["output", "-json", "-no-color"])
            .env("TF_IN_AUTOMATION", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|source| DiscoveryError::TerraformMissing {
                program: program.display().to_string(),
                source,
            })?;
        if !output.status.success() {
            return Err(DiscoveryError::TerraformFailed {
                dir: dir.to_path_buf(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        let text = String::from_utf8_lossy(&output.stdout);
        Resources::from_output_json(&text, &format!("terraform output in {}", dir.display()))
    }
}

/// The nearest `terraform/` directory holding the scones configuration (`outputs.tf`) at or
/// above `start`, or `start` itself when it is one.
pub fn find_terraform_dir(start: &Path) -> Option<PathBuf> {
    if start.join("outputs.tf").is_file() && start.join("workflow").is_dir() {
        return Some(start.to_path_buf());
    }
    start
        .ancestors()
        .map(|d| d.join("terraform"))
        .find(|d| d.join("outputs.tf").is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = r#"{
      "bucket_name": {"sensitive": false, "type": "string", "value": "scones-b"},
      "scones": {"sensitive": false, "type": ["object", {}], "value": {
        "region": "eu-west-1",
        "bucket": "scones-b",
        "state_machine_arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:scones-workflow",
        "endpoint_name": "scones-endpoint",
        "endpoint_created": true,
        "function_names": {"filter-low-confidence": "scones-filter-low-confidence"},
        "log_groups": {"workflow": "/aws/vendedlogs/states/scones", "filter-low-confidence": "/aws/lambda/scones-filter-low-confidence"},
        "metric_namespace": "Scones",
        "alarm_names": {"x": "y"},
        "threshold": 0.93
      }}
    }"#;

    #[test]
    fn reads_all_outputs_and_the_single_output() {
        let r = Resources::from_output_json(OUTPUT, "test").unwrap();
        assert_eq!(r.bucket, "scones-b");
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.arn_region(), Some("eu-west-1"));
        assert_eq!(r.state_machine_name(), "scones-workflow");
        assert_eq!(r.live_endpoint(), Some("scones-endpoint"));
        assert_eq!(
            r.filter_log_group(),
            Some("/aws/lambda/scones-filter-low-confidence")
        );
        assert_eq!(
            r.workflow_log_group(),
            Some("/aws/vendedlogs/states/scones")
        );
        assert_eq!(r.threshold, Some(0.93));
        assert_eq!(r.data_capture_prefix, "datacapture/");

        let single: Value = serde_json::from_str(OUTPUT).unwrap();
        let single = single["scones"]["value"].to_string();
        assert_eq!(Resources::from_output_json(&single, "test").unwrap(), r);
    }

    #[test]
    fn empty_outputs_mean_nothing_deployed() {
        let e = Resources::from_output_json("{}\n", "terraform output in /x").unwrap_err();
        assert_eq!(e.name(), "NothingDeployed");
        assert!(e.to_string().contains("terraform apply"), "{e}");
        let e = Resources::from_output_json(r#"{"other": {"value": 1}}"#, "t").unwrap_err();
        assert_eq!(e.name(), "NoSconesOutput");
        let e = Resources::from_output_json("not json", "t").unwrap_err();
        assert_eq!(e.name(), "Malformed");
        let e = Resources::from_output_json(r#"{"scones": {"value": {"bucket": 3}}}"#, "t")
            .unwrap_err();
        assert_eq!(e.name(), "Malformed");
    }

    #[test]
    fn an_uncreated_endpoint_is_not_live() {
        let mut r = Resources::from_output_json(OUTPUT, "t").unwrap();
        r.endpoint_created = false;
        assert_eq!(r.live_endpoint(), None);
    }

    #[tokio::test]
    async fn flags_alone_are_enough_and_override_fields() {
        let d = Discovery {
            overrides: ResourceOverrides {
                state_machine_arn: Some("arn:aws:states:us-east-1:1:stateMachine:m".into()),
                bucket: Some("b".into()),
                filter_log_group: Some("/aws/lambda/f".into()),
                ..ResourceOverrides::default()
            },
            ..Discovery::default()
        };
        let (r, source) = d.discover().await.unwrap();
        assert_eq!(source, ResourceSource::Flags);
        assert_eq!(r.bucket, "b");
        assert_eq!(r.filter_log_group(), Some("/aws/lambda/f"));
        assert_eq!(r.live_endpoint(), None);
    }

    #[tokio::test]
    async fn a_missing_terraform_binary_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let d = Discovery {
            tf_dir: Some(dir.path().to_path_buf()),
            terraform: Some(dir.path().join("no-such-terraform")),
            ..Discovery::default()
        };
        let e = d.discover().await.unwrap_err();
        assert_eq!(e.name(), "TerraformMissing");
        assert!(e.to_string().contains("--state-machine-arn"), "{e}");
    }

    #[tokio::test]
    async fn a_saved_outputs_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aws.json");
        std::fs::write(&path, OUTPUT).unwrap();
        let d = Discovery {
            config_file: Some(path.clone()),
            overrides: ResourceOverrides {
                bucket: Some("other".into()),
                ..ResourceOverrides::default()
            },
            ..Discovery::default()
        };
        let (r, source) = d.discover().await.unwrap();
        assert_eq!(source, ResourceSource::ConfigFile(path));
        assert_eq!(r.bucket, "other");
        assert_eq!(r.endpoint_name.as_deref(), Some("scones-endpoint"));
    }

    #[test]
    fn the_repository_terraform_dir_is_found_from_below() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("terraform/workflow")).unwrap();
        std::fs::write(dir.path().join("terraform/outputs.tf"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("tui/src")).unwrap();
        let found = find_terraform_dir(&dir.path().join("tui/src")).unwrap();
        assert_eq!(found, dir.path().join("terraform"));
        let found = find_terraform_dir(&dir.path().join("terraform")).unwrap();
        assert_eq!(found, dir.path().join("terraform"));
    }
}

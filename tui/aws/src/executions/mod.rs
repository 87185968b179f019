//! The workflow's executions on Step Functions: start, list, describe, history, stop,
//! redrive ([`Workflow`]), and the incremental listing the dashboard refreshes with
//! ([`incremental`]).

pub mod history;
pub mod incremental;

use chrono::{DateTime, Utc};
use scones_workflow::ExecutionStatus;
use scones_workflow::cause::{DriftHoldCause, LowConfidenceCause};
use serde_json::Value;

use crate::error::AwsError;

/// One execution as `ListExecutions` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionListing {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Status (a name this build does not know is read as RUNNING: see
    /// [`ExecutionStatus::from_service`]).
    pub status: ExecutionStatus,
    /// Start.
    pub start: DateTime<Utc>,
    /// Stop, once ended.
    pub stop: Option<DateTime<Utc>>,
}

impl ExecutionListing {
    /// True once the status can no longer change by itself.
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }
}

/// One execution as `DescribeExecution` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDescription {
    /// The listing fields.
    pub listing: ExecutionListing,
    /// The input JSON text.
    pub input: Option<String>,
    /// The output JSON text (succeeded executions).
    pub output: Option<String>,
    /// Error name (failed, timed out, aborted with an error).
    pub error: Option<String>,
    /// Cause.
    pub cause: Option<String>,
}

impl ExecutionDescription {
    /// `s3_key` of the input record, when the input is one.
    pub fn s3_key(&self) -> Option<String> {
        s3_key_of(self.input.as_deref()?)
    }

    /// `[p_bicycle, p_motorcycle]`: the output record's `inferences` (SUCCEEDED), or the
    /// scores in a LowConfidence or DriftHold cause.
    pub fn scores(&self) -> Option<[f64; 2]> {
        let from_output = || {
            let output: Value = serde_json::from_str(self.output.as_deref()?).ok()?;
            match output.get("inferences")?.as_array()?.as_slice() {
                [b, m] => Some([b.as_f64()?, m.as_f64()?]),
                _ => None,
            }
        };
        from_output().or_else(|| {
            let cause = self.cause.as_deref()?;
            match LowConfidenceCause::parse(cause) {
                Some(low) => Some([low.p_bicycle, low.p_motorcycle]),
                None => {
                    DriftHoldCause::parse(cause).map(|held| [held.p_bicycle, held.p_motorcycle])
                }
            }
        })
    }
}

/// `s3_key` of a workflow input record.
pub fn s3_key_of(input: &str) -> Option<String> {
    let v: Value = serde_json::from_str(input).ok()?;
    v.get("s3_key")?.as_str().map(str::to_owned)
}

/// Converts an SDK timestamp.
pub fn to_chrono(t: &aws_smithy_types::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
}

/// The workflow's state machine and the client that reaches it.
#[derive(Debug, Clone)]
pub struct Workflow {
    sfn: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl Workflow {
    /// The state machine `state_machine_arn` through `sfn`.
    pub fn new(sfn: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Workflow {
        Workflow {
            sfn,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// The state machine's ARN.
    pub fn state_machine_arn(&self) -> &str {
        &self.state_machine_arn
    }

    /// Checks that the state machine exists (`DescribeStateMachine`): a missing one is
    /// [`AwsError::NotFound`], which callers report as "nothing deployed" before starting
    /// anything.
    pub async fn check_exists(&self) -> Result<(), AwsError> {
        self.sfn
            .describe_state_machine()
            .state_machine_arn(&self.state_machine_arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeStateMachine", e))?;
        Ok(())
    }

    /// Starts an execution named `name` with `input`; returns its ARN and start time.
    pub async fn start(
        &self,
        name: &str,
        input: &Value,
    ) -> Result<(String, DateTime<Utc>), AwsError> {
        let out = self
            .sfn
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("StartExecution", e))?;
        Ok((out.execution_arn().to_owned(), to_chrono(out.start_date())))
    }

    /// One page of executions, newest first (`status`: only those in that status).
    pub async fn list_page(
        &self,
        status: Option<ExecutionStatus>,
        next_token: Option<String>,
        max_results: i32,
    ) -> Result<(Vec<ExecutionListing>, Option<String>), AwsError> {
        let out = self
            .sfn
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .set_status_filter(
                status.map(|s| aws_sdk_sfn::types::ExecutionStatus::from(s.as_str())),
            )
            .set_next_token(next_token)
            .max_results(max_results.clamp(1, 1000))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListExecutions", e))?;
        let items = out
            .executions()
            .iter()
            .map(|e| ExecutionListing {
                arn: e.execution_arn().to_owned(),
                name: e.name().to_owned(),
                status: ExecutionStatus::from_service(e.status().as_str()),
                start: to_chrono(e.start_date()),
                stop: e.stop_date().map(to_chrono),
            })
            .collect();
        Ok((items, out.next_token().map(str::to_owned)))
    }

    /// Everything `DescribeExecution` says about one execution.
    pub async fn describe(&self, arn: &str) -> Result<ExecutionDescription, AwsError> {
        let out = self
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeExecution", e))?;
        Ok(ExecutionDescription {
            listing: ExecutionListing {
                arn: out.execution_arn().to_owned(),
                name: out.name().unwrap_or_default().to_owned(),
                status: ExecutionStatus::from_service(out.status().as_str()),
                start: to_chrono(out.start_date()),
                stop: out.stop_date().map(to_chrono),
            },
            input: out.input().map(str::to_owned),
            output: out.output().map(str::to_owned),
            error: out.error().map(str::to_owned),
            cause: out.cause().map(str::to_owned),
        })
    }

    /// The full history, oldest event first, as the service's JSON objects (all pages).
    pub async fn history(&self, arn: &str) -> Result<Vec<Value>, AwsError> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .sfn
                .get_execution_history()
                .execution_arn(arn)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("GetExecutionHistory", e))?;
            events.extend(out.events().iter().map(history::event_to_json));
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(events);
            }
        }
    }

    /// Stops a running execution with an error name and cause.
    pub async fn stop(&self, arn: &str, error: &str, cause: &str) -> Result<(), AwsError> {
        self.sfn
            .stop_execution()
            .execution_arn(arn)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("StopExecution", e))?;
        Ok(())
    }

    /// Redrives a failed, timed out or aborted execution from where it failed.
    pub async fn redrive(&self, arn: &str) -> Result<(), AwsError> {
        self.sfn
            .redrive_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RedriveExecution", e))?;
        Ok(())
    }
}

/// An execution name that is unique, valid (`[A-Za-z0-9-_]`, at most 80 characters) and
/// sorts by time: `<prefix>-<unix millis>-<random>`.
pub fn execution_name(prefix: &str) -> String {
    let clean: String = prefix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    let suffix: u32 = rand::random();
    format!("{clean}-{}-{suffix:08x}", Utc::now().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_distinct() {
        let a = execution_name("scones run/with spaces");
        let b = execution_name("scones run/with spaces");
        assert_ne!(a, b);
        assert!(a.len() <= 80);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert!(a.starts_with("sconesrunwithspaces-"));
    }

    #[test]
    fn key_and_scores_come_from_the_records() {
        let d = ExecutionDescription {
            listing: ExecutionListing {
                arn: "a".into(),
                name: "n".into(),
                status: ExecutionStatus::Succeeded,
                start: Utc::now(),
                stop: None,
            },
            input: Some(r#"{"s3_bucket":"b","s3_key":"test/x.png"}"#.into()),
            output: Some(r#"{"s3_key":"test/x.png","inferences":[0.97,0.03]}"#.into()),
            error: None,
            cause: None,
        };
        assert_eq!(d.s3_key().as_deref(), Some("test/x.png"));
        assert_eq!(d.scores(), Some([0.97, 0.03]));
        assert!(d.listing.is_final());
        assert_eq!(s3_key_of("not json"), None);

        // A held decision's scores are in its DriftHold cause, as Step Functions records it.
        let held = ExecutionDescription {
            output: None,
            error: Some("DriftHold".into()),
            cause: Some(
                r#"{"errorType":"DriftHold","errorMessage":"held for review: held by an operator since 2026-12-07T04:27:41Z; p_bicycle=0.3188, p_motorcycle=0.6812"}"#
                    .into(),
            ),
            ..d
        };
        assert_eq!(held.scores(), Some([0.3188, 0.6812]));
    }
}

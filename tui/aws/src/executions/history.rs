//! SDK history events back into the service's JSON shape (`GetExecutionHistory` as the API
//! and the AWS CLI return it), which is what the dashboard's one history parser reads for
//! both backends.
//!
//! Every `<x>EventDetails` member of the 2016-11-23 API is converted with its scalar fields;
//! nested `inputDetails`/`outputDetails` keep their `truncated` flag.

use aws_sdk_sfn::types::{HistoryEvent, HistoryEventExecutionDataDetails};
use aws_smithy_types::date_time::Format;
use serde_json::{Map, Value, json};

/// A field value that may be absent.
trait Field {
    fn json(self) -> Option<Value>;
}

impl Field for &str {
    fn json(self) -> Option<Value> {
        Some(Value::String(self.to_owned()))
    }
}

impl Field for Option<&str> {
    fn json(self) -> Option<Value> {
        self.map(|s| Value::String(s.to_owned()))
    }
}

impl Field for i32 {
    fn json(self) -> Option<Value> {
        Some(Value::from(self))
    }
}

impl Field for Option<i32> {
    fn json(self) -> Option<Value> {
        self.map(Value::from)
    }
}

impl Field for Option<i64> {
    fn json(self) -> Option<Value> {
        self.map(Value::from)
    }
}

impl Field for Option<&HistoryEventExecutionDataDetails> {
    fn json(self) -> Option<Value> {
        self.map(|d| json!({ "truncated": d.truncated() }))
    }
}

/// For each `getter => "jsonKey" { field => "jsonField", ... }`: when the event has that
/// details member, the `(key, object)` pair.
macro_rules! details {
    ($event:expr; $( $getter:ident => $key:literal { $( $field:ident => $name:literal ),* $(,)? } ),* $(,)?) => {{
        let mut found: Option<(&'static str, Value)> = None;
        $(
            if found.is_none() && let Some(d) = $event.$getter() {
                let mut m = Map::new();
                $(
                    if let Some(v) = Field::json(d.$field()) {
                        m.insert($name.to_owned(), v);
                    }
                )*
                found = Some(($key, Value::Object(m)));
            }
        )*
        found
    }};
}

/// One SDK event as the service's JSON object.
pub fn event_to_json(event: &HistoryEvent) -> Value {
    let mut object = Map::new();
    object.insert("id".into(), Value::from(event.id()));
    object.insert(
        "previousEventId".into(),
        Value::from(event.previous_event_id()),
    );
    object.insert(
        "timestamp".into(),
        event
            .timestamp()
            .fmt(Format::DateTime)
            .map(Value::String)
            .unwrap_or(Value::Null),
    );
    object.insert(
        "type".into(),
        Value::String(event.r#type().as_str().to_owned()),
    );
    if let Some((key, value)) = details_of(event) {
        object.insert(key.to_owned(), value);
    }
    Value::Object(object)
}

fn details_of(e: &HistoryEvent) -> Option<(&'static str, Value)> {
    details!(e;
        activity_failed_event_details => "activityFailedEventDetails" { error => "error", cause => "cause" },
        activity_schedule_failed_event_details => "activityScheduleFailedEventDetails" { error => "error", cause => "cause" },
        activity_scheduled_event_details => "activityScheduledEventDetails" {
            resource => "resource", input => "input", input_details => "inputDetails",
            timeout_in_seconds => "timeoutInSeconds", heartbeat_in_seconds => "heartbeatInSeconds" },
        activity_started_event_details => "activityStartedEventDetails" { worker_name => "workerName" },
        activity_succeeded_event_details => "activitySucceededEventDetails" { output => "output", output_details => "outputDetails" },
        activity_timed_out_event_details => "activityTimedOutEventDetails" { error => "error", cause => "cause" },
        task_failed_event_details => "taskFailedEventDetails" {
            resource_type => "resourceType", resource => "resource", error => "error", cause => "cause" },
        task_scheduled_event_details => "taskScheduledEventDetails" {
            resource_type => "resourceType", resource => "resource", region => "region",
            parameters => "parameters", timeout_in_seconds => "timeoutInSeconds",
            heartbeat_in_seconds => "heartbeatInSeconds" },
        task_start_failed_event_details => "taskStartFailedEventDetails" {
            resource_type => "resourceType", resource => "resource", error => "error", cause => "cause" },
        task_started_event_details => "taskStartedEventDetails" { resource_type => "resourceType", resource => "resource" },
        task_submit_failed_event_details => "taskSubmitFailedEventDetails" {
            resource_type => "resourceType", resource => "resource", error => "error", cause => "cause" },
        task_submitted_event_details => "taskSubmittedEventDetails" {
            resource_type => "resourceType", resource => "resource", output => "output", output_details => "outputDetails" },
        task_succeeded_event_details => "taskSucceededEventDetails" {
            resource_type => "resourceType", resource => "resource", output => "output", output_details => "outputDetails" },
        task_timed_out_event_details => "taskTimedOutEventDetails" {
            resource_type => "resourceType", resource => "resource", error => "error", cause => "cause" },
        execution_failed_event_details => "executionFailedEventDetails" { error => "error", cause => "cause" },
        execution_started_event_details => "executionStartedEventDetails" {
            input => "input", input_details => "inputDetails", role_arn => "roleArn",
            state_machine_alias_arn => "stateMachineAliasArn", state_machine_version_arn => "stateMachineVersionArn" },
        execution_succeeded_event_details => "executionSucceededEventDetails" { output => "output", output_details => "outputDetails" },
        execution_aborted_event_details => "executionAbortedEventDetails" { error => "error", cause => "cause" },
        execution_timed_out_event_details => "executionTimedOutEventDetails" { error => "error", cause => "cause" },
        execution_redriven_event_details => "executionRedrivenEventDetails" { redrive_count => "redriveCount" },
        map_state_started_event_details => "mapStateStartedEventDetails" { length => "length" },
        map_iteration_started_event_details => "mapIterationStartedEventDetails" { name => "name", index => "index" },
        map_iteration_succeeded_event_details => "mapIterationSucceededEventDetails" { name => "name", index => "index" },
        map_iteration_failed_event_details => "mapIterationFailedEventDetails" { name => "name", index => "index" },
        map_iteration_aborted_event_details => "mapIterationAbortedEventDetails" { name => "name", index => "index" },
        lambda_function_failed_event_details => "lambdaFunctionFailedEventDetails" { error => "error", cause => "cause" },
        lambda_function_schedule_failed_event_details => "lambdaFunctionScheduleFailedEventDetails" { error => "error", cause => "cause" },
        lambda_function_scheduled_event_details => "lambdaFunctionScheduledEventDetails" {
            resource => "resource", input => "input", input_details => "inputDetails", timeout_in_seconds => "timeoutInSeconds" },
        lambda_function_start_failed_event_details => "lambdaFunctionStartFailedEventDetails" { error => "error", cause => "cause" },
        lambda_function_succeeded_event_details => "lambdaFunctionSucceededEventDetails" { output => "output", output_details => "outputDetails" },
        lambda_function_timed_out_event_details => "lambdaFunctionTimedOutEventDetails" { error => "error", cause => "cause" },
        state_entered_event_details => "stateEnteredEventDetails" { name => "name", input => "input", input_details => "inputDetails" },
        state_exited_event_details => "stateExitedEventDetails" { name => "name", output => "output", output_details => "outputDetails" },
        map_run_started_event_details => "mapRunStartedEventDetails" { map_run_arn => "mapRunArn" },
        map_run_failed_event_details => "mapRunFailedEventDetails" { error => "error", cause => "cause" },
        map_run_redriven_event_details => "mapRunRedrivenEventDetails" { map_run_arn => "mapRunArn", redrive_count => "redriveCount" },
        evaluation_failed_event_details => "evaluationFailedEventDetails" {
            error => "error", cause => "cause", location => "location", state => "state" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::{HistoryEventType, StateEnteredEventDetails, TaskFailedEventDetails};
    use aws_smithy_types::DateTime;

    #[test]
    fn state_entered_keeps_name_and_input() {
        let event = HistoryEvent::builder()
            .id(2)
            .previous_event_id(1)
            .timestamp(DateTime::from_millis(1_735_689_600_250))
            .r#type(HistoryEventType::TaskStateEntered)
            .state_entered_event_details(
                StateEnteredEventDetails::builder()
                    .name("SerializeImageData")
                    .input("{\"s3_key\":\"k\"}")
                    .input_details(
                        HistoryEventExecutionDataDetails::builder()
                            .truncated(false)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(
            event_to_json(&event),
            json!({
                "id": 2, "previousEventId": 1, "timestamp": "2025-01-01T00:00:00.25Z",
                "type": "TaskStateEntered",
                "stateEnteredEventDetails": {
                    "name": "SerializeImageData", "input": "{\"s3_key\":\"k\"}",
                    "inputDetails": {"truncated": false}
                }
            })
        );
    }

    #[test]
    fn task_failure_keeps_error_cause_and_resource() {
        let event = HistoryEvent::builder()
            .id(9)
            .previous_event_id(8)
            .timestamp(DateTime::from_secs(1_735_689_600))
            .r#type(HistoryEventType::TaskFailed)
            .task_failed_event_details(
                TaskFailedEventDetails::builder()
                    .resource_type("lambda")
                    .resource("invoke")
                    .error("LowConfidence")
                    .cause("{\"errorMessage\":\"low\"}")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let v = event_to_json(&event);
        assert_eq!(v["type"], "TaskFailed");
        assert_eq!(
            v["taskFailedEventDetails"],
            json!({"resourceType": "lambda", "resource": "invoke", "error": "LowConfidence",
                   "cause": "{\"errorMessage\":\"low\"}"})
        );
    }

    #[test]
    fn events_without_details_have_only_the_common_fields() {
        let event = HistoryEvent::builder()
            .id(1)
            .timestamp(DateTime::from_secs(0))
            .r#type(HistoryEventType::PassStateEntered)
            .build()
            .unwrap();
        let v = event_to_json(&event);
        assert_eq!(v.as_object().map(|o| o.len()), Some(4));
        assert_eq!(v["previousEventId"], 0);
    }
}

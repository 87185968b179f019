# The drift monitor: the function and its environment, the schedule, least privilege, and
# alarms on the metrics monitor-drift publishes (names: tui/workflow/src/drift/metrics.rs).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name                 = "scones"
  create               = true
  package_dir          = "./tests/fixtures/lambda"
  partition            = "aws"
  region               = "us-east-1"
  account_id           = "123456789012"
  bucket_name          = "scones-123456789012-us-east-1"
  bucket_arn           = "arn:aws:s3:::scones-123456789012-us-east-1"
  kms_key_arn          = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  endpoint_name        = "scones-endpoint"
  variant_name         = "AllTraffic"
  data_capture_prefix  = "datacapture/"
  reports_prefix       = "drift/reports/"
  confidence_threshold = 0.93
  schedule_minutes     = 15
  window               = "1h"
  windows              = 6
  metric_namespace     = "Scones/Drift"
  memory_size          = 128
  log_retention_days   = 30
  alarm_actions        = ["arn:aws:sns:us-east-1:123456789012:scones-alarms"]
  tags                 = {}
}

run "monitor" {
  command = plan

  module {
    source = "./modules/drift"
  }

  assert {
    condition = (
      aws_lambda_function.this[0].runtime == "provided.al2023" &&
      aws_lambda_function.this[0].memory_size == 128 &&
      aws_lambda_function.this[0].filename == "./tests/fixtures/lambda/monitor-drift/bootstrap.zip" &&
      aws_lambda_function.this[0].tracing_config[0].mode == "Active"
    )
    error_message = "monitor-drift is a provided.al2023 function at its smallest useful memory, from its zip, traced."
  }

  assert {
    condition = aws_lambda_function.this[0].environment[0].variables == tomap({
      BUCKET           = "scones-123456789012-us-east-1"
      ENDPOINT_NAME    = "scones-endpoint"
      VARIANT          = "AllTraffic"
      CAPTURE_PREFIX   = "datacapture/"
      BASELINE_KEY     = "drift/baselines/scones-endpoint.json"
      REPORT_PREFIX    = "drift/reports/scones-endpoint/"
      METRIC_NAMESPACE = "Scones/Drift"
      DRIFT_WINDOW     = "1h"
      DRIFT_WINDOWS    = "6"
      THRESHOLD        = "0.93"
      GUARD_MODE       = "hold"
    })
    error_message = "The function gets every setting monitor-drift's Config::from_env reads."
  }

  assert {
    condition     = aws_cloudwatch_event_rule.schedule[0].schedule_expression == "rate(15 minutes)"
    error_message = "The schedule runs it every schedule_minutes."
  }

  assert {
    condition = (
      aws_lambda_permission.schedule[0].principal == "events.amazonaws.com" &&
      aws_lambda_permission.schedule[0].action == "lambda:InvokeFunction"
    )
    error_message = "Only EventBridge may invoke it, from its rule."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.drift_alert[0].metric_name == "DriftVerdict" &&
      aws_cloudwatch_metric_alarm.drift_alert[0].namespace == "Scones/Drift" &&
      aws_cloudwatch_metric_alarm.drift_alert[0].dimensions == tomap({ EndpointName = "scones-endpoint" }) &&
      aws_cloudwatch_metric_alarm.drift_alert[0].threshold == 2 &&
      aws_cloudwatch_metric_alarm.drift_alert[0].comparison_operator == "GreaterThanOrEqualToThreshold" &&
      aws_cloudwatch_metric_alarm.drift_alert[0].treat_missing_data == "notBreaching" &&
      aws_cloudwatch_metric_alarm.drift_alert[0].period == 900
    )
    error_message = "The drift alarm fires on an ALERT verdict (2) of the endpoint, per schedule period, never on missing data."
  }

  assert {
    condition     = tolist(aws_cloudwatch_metric_alarm.drift_alert[0].alarm_actions) == var.alarm_actions && tolist(aws_cloudwatch_metric_alarm.drift_monitor_errors[0].alarm_actions) == var.alarm_actions
    error_message = "Both alarms notify the stack's alarm actions."
  }

  assert {
    condition = alltrue([for s in output.policy_document.Statement : (
      s.Resource != "*" || contains(["PublishDriftMetrics", "XRayTracing"], s.Sid)
    )])
    error_message = "Every statement but PutMetricData and X-Ray (no resource-level permissions) names its resources."
  }

  assert {
    condition = one([for s in output.policy_document.Statement : s.Condition if s.Sid == "PublishDriftMetrics"]) == {
      StringEquals = { "cloudwatch:namespace" = "Scones/Drift" }
    }
    error_message = "PutMetricData is limited to the drift namespace."
  }

  assert {
    condition = one([for s in output.policy_document.Statement : s.Resource if s.Sid == "WriteReportsAndGuard"]) == [
      "arn:aws:s3:::scones-123456789012-us-east-1/drift/reports/scones-endpoint/*",
      "arn:aws:s3:::scones-123456789012-us-east-1/guard/state.json",
    ]
    error_message = "The function writes only under its reports prefix and the guard's state."
  }

  assert {
    condition     = alltrue([for s in output.policy_document.Statement : !contains(flatten([s.Action]), "s3:PutObject") || s.Sid == "WriteReportsAndGuard"])
    error_message = "No other statement grants PutObject (the capture and the baseline are read-only to it)."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.guard_holding[0].metric_name == "GuardHolding" &&
      aws_cloudwatch_metric_alarm.guard_holding[0].namespace == "Scones/Drift" &&
      aws_cloudwatch_metric_alarm.guard_holding[0].dimensions == tomap({ EndpointName = "scones-endpoint" }) &&
      aws_cloudwatch_metric_alarm.guard_holding[0].threshold == 1 &&
      aws_cloudwatch_metric_alarm.guard_holding[0].treat_missing_data == "notBreaching" &&
      tolist(aws_cloudwatch_metric_alarm.guard_holding[0].alarm_actions) == var.alarm_actions
    )
    error_message = "An alarm pages while the guard holds decisions (GuardHolding 1, which monitor-drift publishes)."
  }
}

run "not_created_without_capture" {
  command = plan

  module {
    source = "./modules/drift"
  }

  variables {
    create = false
  }

  assert {
    condition     = length(aws_lambda_function.this) == 0 && length(aws_cloudwatch_metric_alarm.drift_alert) == 0 && output.function_name == null
    error_message = "No endpoint with data capture: no monitor, no alarms."
  }
}

# The whole root module with a mocked aws provider: wiring, outputs and alarms.

mock_provider "aws" {
  source = "./tests/mocks"
}

# The drift schedule's target must be an ARN; the mock would make up a string.
override_resource {
  target = module.drift.aws_lambda_function.this
  values = { arn = "arn:aws:lambda:us-east-1:123456789012:function:scones-monitor-drift" }
}

variables {
  lambda_package_dir = "./tests/fixtures/lambda"
  run_training_job   = false
  model_data_url     = "s3://scones-models-example/models/pretrained/output/model.tar.gz"
}

run "stack" {
  command = apply

  assert {
    condition = (
      jsondecode(output.state_machine_definition).States.SerializeImageData.Parameters.FunctionName == output.function_arns["serialize-image-data"] &&
      jsondecode(output.state_machine_definition).States.ClassifyImage.Parameters.FunctionName == output.function_arns["classify-image"] &&
      jsondecode(output.state_machine_definition).States.FilterLowConfidence.Parameters.FunctionName == output.function_arns["filter-low-confidence"]
    )
    error_message = "The deployed definition must invoke the three deployed functions, each in its own state."
  }

  assert {
    condition     = length(toset(values(output.function_arns))) == 3
    error_message = "The three functions must be distinct."
  }

  assert {
    condition = output.function_names == {
      "serialize-image-data"  = "scones-serialize-image-data"
      "classify-image"        = "scones-classify-image"
      "filter-low-confidence" = "scones-filter-low-confidence"
    }
    error_message = "Function names must be <name>-<binary>."
  }

  assert {
    condition     = output.bucket_name == "scones-123456789012-us-east-1"
    error_message = "The default bucket name must be <name>-<account>-<region>."
  }

  assert {
    condition     = output.endpoint_name == "scones-endpoint" && output.endpoint_created
    error_message = "With a model_data_url the endpoint must be created as scones-endpoint."
  }

  assert {
    condition     = output.log_groups.workflow == "/aws/vendedlogs/states/scones-workflow" && output.log_groups["filter-low-confidence"] == "/aws/lambda/scones-filter-low-confidence"
    error_message = "log_groups must name the state machine's and each function's group."
  }

  assert {
    condition = toset(keys(output.alarm_names)) == toset([
      "execution_failures", "low_confidence_rate", "endpoint_5xx", "endpoint_model_latency",
      "drift_alert", "drift_monitor_errors", "guard_holding",
    ])
    error_message = "Expected alarms on execution failures, low-confidence rate, endpoint 5XX, ModelLatency, drift ALERT, the drift monitor failing and the guard holding."
  }

  assert {
    condition     = alltrue([for arn in values(module.monitoring.alarm_arns) : arn != null && arn != ""])
    error_message = "Every alarm must exist after apply."
  }

  assert {
    condition     = module.monitoring.metric_filter_patterns["LowConfidenceDecisions"] == "{ $.decision = \"low_confidence\" }"
    error_message = "The low-confidence metric filter must match the filter function's decision log line."
  }

  assert {
    condition = toset(keys(output.scones)) == toset([
      "region", "bucket", "state_machine_arn", "endpoint_name", "endpoint_created", "function_names",
      "log_groups", "metric_namespace", "alarm_names", "threshold", "drift", "data_capture_prefix", "models",
    ])
    error_message = "The scones output object must carry what the dashboard and the CLI read."
  }

  assert {
    condition = (
      output.scones.region == "us-east-1" &&
      output.scones.bucket == output.bucket_name &&
      output.scones.state_machine_arn == output.state_machine_arn &&
      output.scones.endpoint_name == output.endpoint_name &&
      output.scones.threshold == 0.93
    )
    error_message = "The scones output object must agree with the individual outputs."
  }

  assert {
    condition     = module.lambdas.environment["classify-image"] == { ENDPOINT_NAME = "scones-endpoint" } && module.lambdas.environment["filter-low-confidence"] == { THRESHOLD = "0.93", GUARD_BUCKET = "scones-123456789012-us-east-1", GUARD_MODE = "hold" }
    error_message = "classify-image needs ENDPOINT_NAME and filter-low-confidence THRESHOLD and, with the drift monitor, the guard (hold by default)."
  }

  assert {
    condition     = output.sns_topic_arn == null
    error_message = "No SNS topic unless create_sns_topic."
  }

  assert {
    condition = (
      output.scones.drift.baseline_key == "drift/baselines/scones-endpoint.json" &&
      output.scones.drift.reports_prefix == "drift/reports/scones-endpoint/" &&
      output.scones.drift.function_name == "scones-monitor-drift" &&
      output.scones.data_capture_prefix == "datacapture/"
    )
    error_message = "The scones output tells the CLI where the drift baseline and reports are."
  }
}

# Every IAM grant of the stack, audited by tests/modules/policy_audit.
run "iam_grants_no_wildcard_actions" {
  command = apply

  module {
    source = "./tests/modules/policy_audit"
  }

  variables {
    documents = run.stack.iam_policy_documents
    # AWS's default key policy: the account root gets kms:* so IAM policies can grant use of
    # the key; without it the key cannot be managed. The only wildcard action in the stack.
    wildcard_action_allowed = ["kms_key/EnableIamPolicies"]
    # Actions without resource-level permissions, where AWS requires Resource "*": X-Ray,
    # the CloudWatch Logs delivery APIs Step Functions logging uses, cloudwatch:PutMetricData
    # (narrowed by a namespace condition) and ecr:GetAuthorizationToken.
    star_resource_allowed_actions = [
      "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
      "cloudwatch:PutMetricData", "ecr:GetAuthorizationToken",
    ]
    # In a key policy Resource "*" means "this key".
    star_resource_allowed_documents = ["kms_key"]
  }

  assert {
    condition     = output.statement_count >= 20
    error_message = "The audit saw too few statements: the documents output is incomplete."
  }

  assert {
    condition     = output.wildcard_actions == []
    error_message = "Some statement grants a wildcard action: ${jsonencode(output.wildcard_actions)}."
  }

  assert {
    condition     = output.unexpected_star_resources == []
    error_message = "Some statement grants on Resource \"*\" without needing to: ${jsonencode(output.unexpected_star_resources)}."
  }
}

# The audit itself must catch what it looks for.
run "iam_audit_catches_wildcards" {
  command = apply

  module {
    source = "./tests/modules/policy_audit"
  }

  variables {
    star_resource_allowed_actions = ["xray:PutTraceSegments"]
    documents = {
      bad = {
        Statement = [
          { Sid = "AllS3", Effect = "Allow", Action = "s3:*", Resource = "arn:aws:s3:::b/*" },
          { Sid = "ListAnything", Effect = "Allow", Action = ["s3:ListBucket"], Resource = "*" },
          { Sid = "SmuggledIntoXRay", Effect = "Allow", Action = ["xray:PutTraceSegments", "s3:GetObject"], Resource = "*" },
          { Sid = "XRayOnly", Effect = "Allow", Action = ["xray:PutTraceSegments"], Resource = "*" },
          { Sid = "DenyIsFine", Effect = "Deny", Action = "*", Resource = "*" },
        ]
      }
      lambda = {
        fn = { Statement = [{ Effect = "Allow", Action = ["lambda:Invoke*"], Resource = ["arn:aws:lambda:us-east-1:1:function:f"] }] }
      }
    }
  }

  assert {
    condition     = toset(output.wildcard_actions) == toset(["bad/AllS3", "lambda/fn/0"])
    error_message = "The audit must flag s3:* and lambda:Invoke* (and not the Deny): got ${jsonencode(output.wildcard_actions)}."
  }

  assert {
    condition     = output.unexpected_star_resources == ["bad/ListAnything", "bad/SmuggledIntoXRay"]
    error_message = "The audit must flag the Allow on Resource \"*\": got ${jsonencode(output.unexpected_star_resources)}."
  }
}

run "no_endpoint_without_a_model" {
  command = plan

  variables {
    run_training_job = false
    model_data_url   = null
  }

  assert {
    condition     = !output.endpoint_created && output.model_data_url == null
    error_message = "Without training or model_data_url there is no endpoint."
  }

  assert {
    condition     = toset(keys(output.alarm_names)) == toset(["execution_failures", "low_confidence_rate"])
    error_message = "Endpoint alarms must not be created without an endpoint."
  }

  assert {
    condition     = output.drift == null && length(module.drift.alarm_names) == 0
    error_message = "No drift monitor without an endpoint (nothing is captured)."
  }

  assert {
    condition     = output.endpoint_name == "scones-endpoint"
    error_message = "The endpoint name is still returned, so the classify function can be wired."
  }
}

run "no_drift_monitor_for_a_serverless_endpoint" {
  command = plan

  variables {
    serverless_endpoint = true
  }

  assert {
    condition     = output.drift == null
    error_message = "A serverless endpoint has no data capture: no drift monitor."
  }
}

run "sns_topic_and_email" {
  command = apply

  variables {
    create_sns_topic      = true
    alarm_email_addresses = ["ops@example.com"]
  }

  assert {
    condition     = output.sns_topic_arn != null
    error_message = "create_sns_topic must create a topic."
  }
}

run "email_needs_topic" {
  command = plan

  variables {
    create_sns_topic      = false
    alarm_email_addresses = ["ops@example.com"]
  }

  expect_failures = [var.alarm_email_addresses]
}

run "threshold_out_of_range" {
  command = plan

  variables {
    confidence_threshold = 1.5
  }

  expect_failures = [var.confidence_threshold]
}

run "bad_name" {
  command = plan

  variables {
    name = "Scones_Prod"
  }

  expect_failures = [var.name]
}

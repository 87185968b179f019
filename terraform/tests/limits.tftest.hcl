# AWS name limits, checked before AWS does (tflint's AWS ruleset would, but it installs its
# ruleset from GitHub releases, which this project's machines cannot reach; see
# terraform/README.md, "Tests"). The longest `name` the validation accepts (24 characters),
# in the region with the longest name: every derived name must still fit.

mock_provider "aws" {
  source = "./tests/mocks"
}

override_resource {
  target = module.drift.aws_lambda_function.this
  values = { arn = "arn:aws:lambda:ap-southeast-2:123456789012:function:abcdefghijklmnopqrstuvwx-monitor-drift" }
}

variables {
  name               = "abcdefghijklmnopqrstuvwx"
  region             = "ap-southeast-2"
  lambda_package_dir = "./tests/fixtures/lambda"
  run_training_job   = false
  model_data_url     = "s3://scones-models-example/models/pretrained/output/model.tar.gz"
  create_sns_topic   = true
}

run "longest_name_fits_every_limit" {
  command = apply

  assert {
    condition     = length(var.name) == 24
    error_message = "The test must use the longest name the validation accepts."
  }

  # Lambda function names: 64. Their roles add "-lambda" and IAM role names allow 64.
  assert {
    condition = alltrue([for fn in concat(values(output.function_names), [output.drift.function_name]) :
    length(fn) <= 64 && length("${fn}-lambda") <= 64])
    error_message = "A function name or its role's name exceeds 64 characters: ${jsonencode(output.function_names)}."
  }

  # Step Functions state machine names: 80.
  assert {
    condition     = length(element(split(":", output.state_machine_arn), 6)) <= 80
    error_message = "The state machine name exceeds 80 characters."
  }

  # SageMaker endpoint and training job names: 63.
  assert {
    condition     = length(output.endpoint_name) <= 63 && length(output.training_job_name) <= 63
    error_message = "The endpoint (${output.endpoint_name}) or training job (${output.training_job_name}) name exceeds 63 characters."
  }

  # S3 bucket names: 63.
  assert {
    condition     = length(output.bucket_name) <= 63
    error_message = "The bucket name ${output.bucket_name} exceeds 63 characters."
  }

  # CloudWatch alarm names: 255; log group names: 512; EventBridge rule names: 64 (the
  # drift schedule's rule is named like its function).
  assert {
    condition = (
      alltrue([for a in values(output.alarm_names) : length(a) <= 255]) &&
      alltrue([for g in values(output.log_groups) : length(g) <= 512])
    )
    error_message = "An alarm or log group name is too long."
  }
}

# The drift schedule is the drift alarms' period, evaluated over up to 2 periods: CloudWatch's
# 604,800 s limit caps it at 5,040 minutes, refused at plan rather than at PutMetricAlarm.
run "a_drift_schedule_beyond_the_alarm_limit_is_refused" {
  command = plan

  variables {
    drift_schedule_minutes = 5041
  }

  expect_failures = [var.drift_schedule_minutes]
}

run "the_longest_drift_schedule_the_alarms_take_is_accepted" {
  command = plan

  variables {
    drift_schedule_minutes = 5040
  }
}

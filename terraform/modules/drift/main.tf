# The drift monitor: the monitor-drift function on a schedule judges the endpoint's captured
# traffic against the baseline `scones baseline --aws` wrote, publishes the verdicts as
# metrics (names: tui/workflow/src/drift/metrics.rs) and writes a report to the bucket; the
# alarms page on an ALERT and on the monitor itself failing (a safeguard that silently stops
# is worse than none).
#
# A module of its own rather than a fourth entry of modules/lambdas: those three are the
# workflow's steps, and the state machine's role may invoke each of them; this one is invoked
# only by its schedule.

locals {
  count         = var.create ? 1 : 0
  function_name = "${var.name}-monitor-drift"
  zip_path      = "${trimsuffix(var.package_dir, "/")}/monitor-drift/bootstrap.zip"
  log_group_arn = "arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:/aws/lambda/${local.function_name}"

  # Where things are, in the bucket. The baseline is outside the capture prefix, which the
  # storage module expires.
  capture_prefix = "${var.data_capture_prefix}${var.endpoint_name}/${var.variant_name}/"
  baseline_key   = "drift/baselines/${var.endpoint_name}.json"
  reports_prefix = "${var.reports_prefix}${var.endpoint_name}/"
  # The guard's state: the monitor writes it, filter-low-confidence reads it (the same key
  # as the local stack's, scones_workflow::guard::STATE_KEY).
  guard_key = "guard/state.json"

  environment = {
    BUCKET           = var.bucket_name
    ENDPOINT_NAME    = var.endpoint_name
    VARIANT          = var.variant_name
    CAPTURE_PREFIX   = var.data_capture_prefix
    BASELINE_KEY     = local.baseline_key
    REPORT_PREFIX    = local.reports_prefix
    METRIC_NAMESPACE = var.metric_namespace
    DRIFT_WINDOW     = var.window
    DRIFT_WINDOWS    = tostring(var.windows)
    THRESHOLD        = tostring(var.confidence_threshold)
    GUARD_MODE       = var.guard
  }

  role_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadCaptureAndBaseline"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${var.bucket_arn}/${local.capture_prefix}*", "${var.bucket_arn}/${local.baseline_key}", "${var.bucket_arn}/${local.guard_key}"]
      },
      {
        # Listing the capture is how the window's files are found; listing the baseline's
        # key makes a missing baseline a 404 (no baseline yet: not an error) rather than 403.
        Sid       = "ListCaptureAndBaseline"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = [var.bucket_arn]
        Condition = { StringLike = { "s3:prefix" = ["${local.capture_prefix}*", local.baseline_key, local.guard_key] } }
      },
      {
        Sid      = "WriteReportsAndGuard"
        Effect   = "Allow"
        Action   = ["s3:PutObject"]
        Resource = ["${var.bucket_arn}/${local.reports_prefix}*", "${var.bucket_arn}/${local.guard_key}"]
      },
      {
        # The bucket's objects are SSE-KMS with the project key: reading needs Decrypt,
        # writing a report GenerateDataKey. Decrypt also opens the function's environment.
        Sid      = "UseProjectKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      },
      {
        # PutMetricData has no resource-level permissions; the namespace condition keeps the
        # function to its own metrics.
        Sid       = "PublishDriftMetrics"
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = "*"
        Condition = { StringEquals = { "cloudwatch:namespace" = var.metric_namespace } }
      },
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${local.log_group_arn}:*"]
      },
      {
        # X-Ray has no resource-level permissions: AWS requires Resource "*".
        Sid      = "XRayTracing"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = "*"
      },
    ]
  }

  alarm_names = var.create ? {
    drift_alert          = "${var.name}-drift-alert"
    drift_monitor_errors = "${var.name}-drift-monitor-errors"
    guard_holding        = "${var.name}-guard-holding"
  } : {}
}

resource "aws_iam_role" "this" {
  count = local.count

  name        = "${local.function_name}-lambda"
  description = "Execution role of ${local.function_name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  count = local.count

  name   = "function"
  role   = aws_iam_role.this[0].id
  policy = jsonencode(local.role_policy)
}

resource "aws_cloudwatch_log_group" "this" {
  count = local.count

  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:EventBridge invokes it asynchronously on a schedule and the next run judges the same windows again; a failed run is alarmed on (drift_monitor_errors), not queued.
  #checkov:skip=CKV_AWS_117:The function reaches only S3 and CloudWatch over AWS APIs; a VPC would add NAT or interface endpoints and protect nothing private.
  #checkov:skip=CKV_AWS_115:Reserved concurrency fails on new accounts (their limit of 10 must stay unreserved); the schedule runs one invocation at a time.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and a signing step in the release pipeline; the zip is built from this repository by scripts/build-lambdas.sh and deployed by the same principal.
  count = local.count

  function_name    = local.function_name
  description      = "Judge the endpoint's captured traffic against the drift baseline; publish the verdicts to CloudWatch and the report to the bucket"
  role             = aws_iam_role.this[0].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["x86_64"]
  filename         = local.zip_path
  source_code_hash = try(filebase64sha256(local.zip_path), null)
  memory_size      = var.memory_size
  # Reading a day of capture at full sampling takes seconds, not minutes; the limit only
  # stops a run that hangs before the next one starts.
  timeout     = min(300, var.schedule_minutes * 60)
  kms_key_arn = var.kms_key_arn

  tracing_config {
    mode = "Active"
  }

  environment {
    variables = local.environment
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = fileexists(local.zip_path)
      error_message = "Missing ${local.zip_path}: build the Lambda zips with scripts/build-lambdas.sh (or point lambda_package_dir at a directory holding <function>/bootstrap.zip)."
    }
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_cloudwatch_event_rule" "schedule" {
  count = local.count

  name                = local.function_name
  description         = "Runs ${local.function_name} every ${var.schedule_minutes} minutes."
  schedule_expression = var.schedule_minutes == 1 ? "rate(1 minute)" : "rate(${var.schedule_minutes} minutes)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  count = local.count

  rule = aws_cloudwatch_event_rule.schedule[0].name
  arn  = aws_lambda_function.this[0].arn
}

resource "aws_lambda_permission" "schedule" {
  count = local.count

  statement_id  = "RunOnSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[0].arn
}

# ALERT in the current window (DriftVerdict 2). Not enough data publishes no verdict, so a
# quiet endpoint is missing data, never an alarm.
resource "aws_cloudwatch_metric_alarm" "drift_alert" {
  count = local.count

  alarm_name          = local.alarm_names.drift_alert
  alarm_description   = "The traffic of ${var.endpoint_name} drifted from its baseline (a statistic is ALERT). The report: s3://${var.bucket_name}/${local.reports_prefix}latest.json; `scones dashboard --aws`, tab 7."
  namespace           = var.metric_namespace
  metric_name         = "DriftVerdict"
  dimensions          = { EndpointName = var.endpoint_name }
  statistic           = "Maximum"
  period              = var.schedule_minutes * 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

# The guard holding decisions for review (GuardHolding 1): confident decisions wait for
# people until drift is OK again or an operator releases it (`scones guard`).
resource "aws_cloudwatch_metric_alarm" "guard_holding" {
  count = local.count

  alarm_name          = local.alarm_names.guard_holding
  alarm_description   = "The guard holds the decisions of ${var.endpoint_name} for review (drift ALERT or an operator's hold): executions that would pass fail with DriftHold. State: s3://${var.bucket_name}/${local.guard_key}."
  namespace           = var.metric_namespace
  metric_name         = "GuardHolding"
  dimensions          = { EndpointName = var.endpoint_name }
  statistic           = "Maximum"
  period              = var.schedule_minutes * 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

# The monitor failing: without it no drift would ever be reported.
resource "aws_cloudwatch_metric_alarm" "drift_monitor_errors" {
  count = local.count

  alarm_name          = local.alarm_names.drift_monitor_errors
  alarm_description   = "${local.function_name} failed: drift is not being judged. Its log group: /aws/lambda/${local.function_name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = local.function_name }
  statistic           = "Sum"
  period              = var.schedule_minutes * 60
  evaluation_periods  = 2
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

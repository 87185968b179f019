locals {
  namespace = coalesce(var.metric_namespace, "Scones/${var.name}")
  actions   = concat(aws_sns_topic.alarms[*].arn, var.alarm_actions)

  # The filter function logs one JSON line per decision: {"decision":"pass"|"low_confidence",
  # "threshold":..,"p_bicycle":..,"p_motorcycle":..,"s3_key":..}.
  decisions = {
    low_confidence = { metric = "LowConfidenceDecisions", pattern = "{ $.decision = \"low_confidence\" }" }
    pass           = { metric = "PassedDecisions", pattern = "{ $.decision = \"pass\" }" }
  }

  alarm_names = merge(
    {
      execution_failures  = "${var.name}-execution-failures"
      low_confidence_rate = "${var.name}-low-confidence-rate"
    },
    var.endpoint_alarms ? {
      endpoint_5xx           = "${var.name}-endpoint-5xx"
      endpoint_model_latency = "${var.name}-endpoint-model-latency"
    } : {}
  )
}

resource "aws_cloudwatch_log_metric_filter" "decisions" {
  for_each = local.decisions

  name           = "${var.name}-${replace(each.key, "_", "-")}-decisions"
  log_group_name = var.filter_log_group_name
  pattern        = each.value.pattern

  metric_transformation {
    name      = each.value.metric
    namespace = local.namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_sns_topic" "alarms" {
  count = var.create_sns_topic ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.create_sns_topic ? toset(var.alarm_email_addresses) : toset([])

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.value
}

# Failed executions that are not low-confidence rejections. A low-confidence image ends its
# execution as FAILED by design, so the raw ExecutionsFailed count would page on normal
# operation; subtract the decisions counted by the metric filter.
resource "aws_cloudwatch_metric_alarm" "execution_failures" {
  alarm_name          = local.alarm_names.execution_failures
  alarm_description   = "Executions of ${var.state_machine_arn} failed, timed out or were aborted for a reason other than LowConfidence."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags

  metric_query {
    id          = "unexpected"
    expression  = "FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0) - FILL(low_confidence, 0)"
    label       = "Unexpected execution failures"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = {
      failed    = "ExecutionsFailed"
      timed_out = "ExecutionsTimedOut"
      aborted   = "ExecutionsAborted"
    }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/States"
        metric_name = metric_query.value
        dimensions  = { StateMachineArn = var.state_machine_arn }
        period      = var.period_seconds
        stat        = "Sum"
      }
    }
  }

  metric_query {
    id = "low_confidence"
    metric {
      namespace   = local.namespace
      metric_name = local.decisions.low_confidence.metric
      period      = var.period_seconds
      stat        = "Sum"
    }
  }

  depends_on = [aws_cloudwatch_log_metric_filter.decisions]
}

resource "aws_cloudwatch_metric_alarm" "low_confidence_rate" {
  alarm_name          = local.alarm_names.low_confidence_rate
  alarm_description   = "More than ${var.low_confidence_rate_threshold_percent}% of FilterLowConfidence decisions were LowConfidence (periods with at least ${var.low_confidence_min_decisions} decisions)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.low_confidence_rate_threshold_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags

  metric_query {
    id          = "rate"
    expression  = "IF(FILL(low, 0) + FILL(pass, 0) >= ${var.low_confidence_min_decisions}, 100 * FILL(low, 0) / (FILL(low, 0) + FILL(pass, 0)), 0)"
    label       = "Low-confidence decisions (%)"
    return_data = true
  }

  metric_query {
    id = "low"
    metric {
      namespace   = local.namespace
      metric_name = local.decisions.low_confidence.metric
      period      = var.period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "pass"
    metric {
      namespace   = local.namespace
      metric_name = local.decisions.pass.metric
      period      = var.period_seconds
      stat        = "Sum"
    }
  }

  depends_on = [aws_cloudwatch_log_metric_filter.decisions]
}

resource "aws_cloudwatch_metric_alarm" "endpoint_5xx" {
  count = var.endpoint_alarms ? 1 : 0

  alarm_name          = local.alarm_names.endpoint_5xx
  alarm_description   = "The ${var.endpoint_name} endpoint answered with 5XX errors (model container failures)."
  namespace           = "AWS/SageMaker"
  metric_name         = "Invocation5XXErrors"
  dimensions          = { EndpointName = var.endpoint_name, VariantName = var.variant_name }
  statistic           = "Sum"
  period              = var.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "endpoint_model_latency" {
  count = var.endpoint_alarms ? 1 : 0

  alarm_name          = local.alarm_names.endpoint_model_latency
  alarm_description   = "p90 ModelLatency of ${var.endpoint_name} stayed above ${var.model_latency_threshold_ms} ms."
  namespace           = "AWS/SageMaker"
  metric_name         = "ModelLatency"
  dimensions          = { EndpointName = var.endpoint_name, VariantName = var.variant_name }
  extended_statistic  = "p90"
  period              = var.period_seconds
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  # ModelLatency is reported in microseconds.
  threshold          = var.model_latency_threshold_ms * 1000
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions
  tags               = var.tags
}

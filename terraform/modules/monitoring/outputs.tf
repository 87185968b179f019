output "alarm_names" {
  description = "Alarm names by purpose: execution_failures, low_confidence_rate and, with endpoint alarms, endpoint_5xx, endpoint_model_latency."
  value       = local.alarm_names
}

output "model_alarm_names" {
  description = "The alarms that judge the model on its traffic (low-confidence rate and, with endpoint alarms, 5XX and latency), from the alarm resources, so an endpoint deployment that rolls back on them waits until they exist."
  value = concat(
    [aws_cloudwatch_metric_alarm.low_confidence_rate.alarm_name],
    aws_cloudwatch_metric_alarm.endpoint_5xx[*].alarm_name,
    aws_cloudwatch_metric_alarm.endpoint_model_latency[*].alarm_name,
  )
}

output "alarm_arns" {
  description = "Alarm ARNs by purpose."
  value = merge(
    {
      execution_failures  = aws_cloudwatch_metric_alarm.execution_failures.arn
      low_confidence_rate = aws_cloudwatch_metric_alarm.low_confidence_rate.arn
    },
    var.endpoint_alarms ? {
      endpoint_5xx           = aws_cloudwatch_metric_alarm.endpoint_5xx[0].arn
      endpoint_model_latency = aws_cloudwatch_metric_alarm.endpoint_model_latency[0].arn
    } : {}
  )
}

output "metric_namespace" {
  description = "Namespace of the LowConfidenceDecisions and PassedDecisions metrics."
  value       = local.namespace
}

output "metric_filter_patterns" {
  description = "Metric name -> filter pattern applied to the filter function's log group."
  value       = { for key, d in local.decisions : d.metric => d.pattern }
}

output "alarm_actions" {
  description = "What every alarm of the stack notifies: the topic (if created) and alarm_actions."
  value       = local.actions
}

output "sns_topic_arn" {
  description = "ARN of the alarm topic, or null."
  value       = one(aws_sns_topic.alarms[*].arn)
}

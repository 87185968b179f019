output "function_name" {
  description = "The monitor-drift function, or null."
  value       = var.create ? aws_lambda_function.this[0].function_name : null
}

output "baseline_key" {
  description = "Where `scones baseline --aws` writes the baseline, or null."
  value       = var.create ? local.baseline_key : null
}

output "reports_prefix" {
  description = "Where the reports are (latest.json and yyyy/mm/dd/hhmmss.json), or null."
  value       = var.create ? local.reports_prefix : null
}

output "alarm_names" {
  description = "Alarm names by purpose: drift_alert, drift_monitor_errors, guard_holding (empty when not created)."
  value       = local.alarm_names
}

output "policy_document" {
  description = "The function role's inline policy as an object, for audits and tests."
  value       = local.role_policy
}

output "drift_alert_alarm_name" {
  description = "The DriftVerdict ALERT alarm (from the resource), or null when there is no monitor."
  value       = one(aws_cloudwatch_metric_alarm.drift_alert[*].alarm_name)
}

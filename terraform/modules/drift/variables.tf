variable "name" {
  description = "Prefix of every resource name."
  type        = string
}

variable "create" {
  description = "Whether to create the monitor (an endpoint with data capture exists)."
  type        = bool
}

variable "package_dir" {
  description = "Directory holding monitor-drift/bootstrap.zip (scripts/build-lambdas.sh writes target/lambda)."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-us-gov, aws-cn)."
  type        = string
}

variable "region" {
  description = "Region of the stack."
  type        = string
}

variable "account_id" {
  description = "Account of the stack."
  type        = string
}

variable "bucket_name" {
  description = "The project bucket: data capture, the baseline and the reports."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the project bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "The project key (bucket objects, the function's environment and logs)."
  type        = string
}

variable "endpoint_name" {
  description = "The endpoint whose captured traffic is judged."
  type        = string
}

variable "variant_name" {
  description = "The endpoint's production variant."
  type        = string
}

variable "data_capture_prefix" {
  description = "Key prefix of the data capture (e.g. datacapture/)."
  type        = string
}

variable "reports_prefix" {
  description = "Key prefix under which reports are written (the storage module expires it)."
  type        = string
}

variable "confidence_threshold" {
  description = "The workflow's threshold: the low-confidence rate is taken at it."
  type        = number
}

variable "schedule_minutes" {
  description = "Minutes between runs."
  type        = number
}

variable "window" {
  description = "The window judged: a count of inferences (500) or a period (30m, 1h, 1d)."
  type        = string
}

variable "windows" {
  description = "Windows per report: the current one and its trend."
  type        = number
}

variable "guard" {
  description = "GUARD_MODE of the monitor: hold, warn or off (the root's guard)."
  type        = string
  default     = "hold"
}

variable "metric_namespace" {
  description = "CloudWatch namespace of the drift metrics."
  type        = string
}

variable "memory_size" {
  description = "Memory (MB) of the function."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm changes state (the alarm topic, if any)."
  type        = list(string)
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}

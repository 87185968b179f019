variable "name" {
  description = "Name prefix of the alarms, the metric filters and the topic."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "state_machine_arn" {
  description = "State machine whose failed, timed-out and aborted executions are watched."
  type        = string
}

variable "filter_log_group_name" {
  description = "Log group of the filter-low-confidence function; its JSON decision lines feed the metric filters."
  type        = string
}

variable "metric_namespace" {
  description = "CloudWatch namespace of the decision metrics. Defaults to Scones/<name>."
  type        = string
  default     = null
}

variable "endpoint_alarms" {
  description = "Create the endpoint alarms (5XX, ModelLatency). Set to false when no endpoint exists."
  type        = bool
  default     = true
}

variable "endpoint_name" {
  description = "SageMaker endpoint watched by the 5XX and ModelLatency alarms."
  type        = string
}

variable "variant_name" {
  description = "Production variant of that endpoint."
  type        = string
  default     = "AllTraffic"
}

variable "period_seconds" {
  description = "Period of every alarm."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 300, 900, 3600], var.period_seconds)
    error_message = "period_seconds must be 60, 300, 900 or 3600."
  }
}

variable "low_confidence_rate_threshold_percent" {
  description = "Alarm when more than this share of decisions is low confidence (a sign of drift or a bad model)."
  type        = number
  default     = 20

  validation {
    condition     = var.low_confidence_rate_threshold_percent > 0 && var.low_confidence_rate_threshold_percent <= 100
    error_message = "low_confidence_rate_threshold_percent must be in (0, 100]."
  }
}

variable "low_confidence_min_decisions" {
  description = "The rate alarm ignores periods with fewer decisions than this, so one low-confidence image in a quiet period does not page."
  type        = number
  default     = 10

  validation {
    condition     = var.low_confidence_min_decisions >= 1
    error_message = "low_confidence_min_decisions must be at least 1."
  }
}

variable "model_latency_threshold_ms" {
  description = "Alarm when the endpoint's p90 ModelLatency exceeds this many milliseconds."
  type        = number
  default     = 500

  validation {
    condition     = var.model_latency_threshold_ms > 0
    error_message = "model_latency_threshold_ms must be positive."
  }
}

variable "kms_key_arn" {
  description = "Key that encrypts the SNS topic."
  type        = string
}

variable "create_sns_topic" {
  description = "Create an SNS topic that every alarm notifies."
  type        = bool
  default     = false
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the topic (each must confirm). Needs create_sns_topic."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for address in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "alarm_email_addresses must be e-mail addresses."
  }
}

variable "alarm_actions" {
  description = "Further ARNs (SNS topics, etc.) that alarms notify in ALARM and OK state."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}

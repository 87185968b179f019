variable "name" {
  description = "Name prefix of every resource (functions, state machine, endpoint, roles, alarms)."
  type        = string
  default     = "scones"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource (Project and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

# ---- storage -------------------------------------------------------------------------------

variable "bucket_name" {
  description = "Bucket name. Default: <name>-<account id>-<region>, unique per account and region."
  type        = string
  default     = null
}

variable "bucket_force_destroy" {
  description = "Let `terraform destroy` delete the bucket with everything in it (all versions). Off by default so a destroy never loses staged data or models by accident."
  type        = bool
  default     = false
}

variable "data_capture_expiration_days" {
  description = "Days after which endpoint data capture expires."
  type        = number
  default     = 30
}

# ---- lambdas -------------------------------------------------------------------------------

variable "lambda_package_dir" {
  description = "Directory holding <function>/bootstrap.zip. Default: target/lambda at the repository root (scripts/build-lambdas.sh)."
  type        = string
  default     = null
}

variable "image_prefixes" {
  description = "Bucket prefixes the workflow may classify images from (read access of serialize-image-data)."
  type        = list(string)
  default     = ["train/", "test/"]
}

variable "confidence_threshold" {
  description = "Minimum max(p_bicycle, p_motorcycle) for an image to pass; below it the execution fails with LowConfidence."
  type        = number
  default     = 0.93

  validation {
    condition     = var.confidence_threshold > 0 && var.confidence_threshold <= 1
    error_message = "confidence_threshold must be in (0, 1]."
  }
}

variable "lambda_memory_size" {
  description = "Memory (MB) of each Lambda function."
  type        = number
  default     = 256
}

variable "log_retention_days" {
  description = "Retention of the Lambda and state machine log groups."
  type        = number
  default     = 365
}

# ---- training ------------------------------------------------------------------------------

variable "run_training_job" {
  description = "During apply, upload staged_data_dir (`scones stage --aws`) and run the training job (`scones train --aws`); the endpoint serves its artifact. Off: pass model_data_url, or get no endpoint."
  type        = bool
  default     = true
}

variable "scones_command" {
  description = "How to run the project CLI from the apply, e.g. scones or ../target/release/scones."
  type        = string
  default     = "scones"
}

variable "staged_data_dir" {
  description = "Local bucket layout written by `scones stage` (train/, test/, train.lst, test.lst). Required when run_training_job = true."
  type        = string
  default     = null
}

variable "training_instance_type" {
  description = "GPU instance type of the training job."
  type        = string
  default     = "ml.g4dn.xlarge"
}

variable "training_max_runtime_seconds" {
  description = "The training job is stopped after this many seconds."
  type        = number
  default     = 3600
}

variable "training_hyperparameters" {
  description = "Overrides of the image-classification hyperparameters (strings), e.g. { epochs = \"50\" }."
  type        = map(string)
  default     = {}
}

# ---- endpoint ------------------------------------------------------------------------------

variable "model_data_url" {
  description = "s3:// URL of an existing model.tar.gz to serve when run_training_job = false. Ignored when training."
  type        = string
  default     = null

  validation {
    condition     = var.model_data_url == null || can(regex("^s3://[a-z0-9][a-z0-9.-]+/.+\\.tar\\.gz$", var.model_data_url))
    error_message = "model_data_url must look like s3://bucket/key/model.tar.gz."
  }
}

# ---- drift ---------------------------------------------------------------------------------

variable "drift_monitor_enabled" {
  description = "Run the monitor-drift function on a schedule (needs an endpoint with data capture: not created for a serverless endpoint)."
  type        = bool
  default     = true
}

variable "drift_schedule_minutes" {
  description = "Minutes between drift monitor runs (also the period of its alarms)."
  type        = number
  default     = 15

  validation {
    condition     = var.drift_schedule_minutes >= 1 && floor(var.drift_schedule_minutes) == var.drift_schedule_minutes
    error_message = "drift_schedule_minutes must be a whole number of minutes, at least 1."
  }

  # It is also the period of the drift alarms, which evaluate up to 2 periods; PutMetricAlarm
  # refuses a period times evaluation periods over 604,800 s (over 86,400 s for a period under
  # an hour, which 2 periods of at most 59 min never reach): 2 x 5,040 min x 60 = 604,800.
  validation {
    condition     = var.drift_schedule_minutes <= 5040
    error_message = "drift_schedule_minutes is also the drift alarms' period, which CloudWatch limits: at most 5040 (3.5 days)."
  }
}

variable "drift_window" {
  description = "The window of captured traffic judged: a count of inferences (e.g. 500) or a period (30m, 1h, 1d)."
  type        = string
  default     = "1h"

  validation {
    condition     = can(regex("^([1-9][0-9]*|[1-9][0-9]*[smhd])$", var.drift_window))
    error_message = "drift_window must be a count of inferences (500) or a period (30m, 1h, 2d)."
  }
}

variable "drift_windows" {
  description = "Windows in each drift report: the current one and the trend before it."
  type        = number
  default     = 6

  validation {
    condition     = var.drift_windows >= 1 && var.drift_windows <= 48
    error_message = "drift_windows must be between 1 and 48."
  }
}

variable "guard" {
  description = "What the guard does when drift is ALERT: hold (decisions that would pass fail with DriftHold and go to review), warn (only said: the GuardHolding metric and the dashboard), or off. monitor-drift writes the state (guard/state.json in the bucket); filter-low-confidence reads it. Needs the drift monitor."
  type        = string
  default     = "hold"

  validation {
    condition     = contains(["hold", "warn", "off"], var.guard)
    error_message = "guard must be hold, warn or off."
  }
}

variable "drift_metric_namespace" {
  description = "CloudWatch namespace of the drift metrics."
  type        = string
  default     = "Scones/Drift"
}

variable "drift_memory_size" {
  description = "Memory (MB) of the monitor-drift function (10,000 captured inferences measured at under 100 MB)."
  type        = number
  default     = 128
}

variable "serverless_endpoint" {
  description = "Serve the model from a serverless endpoint (pay per request; no data capture, no autoscaling) instead of provisioned instances."
  type        = bool
  default     = false
}

variable "serverless_memory_size_mb" {
  description = "Memory of the serverless endpoint (1024-6144 in steps of 1024)."
  type        = number
  default     = 2048
}

variable "serverless_max_concurrency" {
  description = "Maximum concurrent invocations of the serverless endpoint."
  type        = number
  default     = 5
}

variable "endpoint_instance_type" {
  description = "Instance type of the provisioned endpoint."
  type        = string
  default     = "ml.m5.large"
}

variable "serving_model_data_url" {
  description = "The model the endpoint serves, when not the training job's (or model_data_url's): what `scones promote --aws` and `scones rollback --aws` write into scones-serving.auto.tfvars.json, so the next apply keeps the promoted version instead of undoing it. null: serve the training job's artefact (or model_data_url)."
  type        = string
  default     = null

  validation {
    condition     = var.serving_model_data_url == null || can(regex("^s3://[a-z0-9][a-z0-9.-]+/.+\\.tar\\.gz$", var.serving_model_data_url))
    error_message = "serving_model_data_url must look like s3://bucket/key/model.tar.gz."
  }
}

variable "deployment_baking_seconds" {
  description = "How long SageMaker watches the rollback alarms after each traffic shift of an endpoint update (the canary's share, then all traffic) before going on; any alarm in ALARM rolls all traffic back to the old fleet. 0-3600."
  type        = number
  default     = 600

  validation {
    condition     = var.deployment_baking_seconds >= 0 && var.deployment_baking_seconds <= 3600 && floor(var.deployment_baking_seconds) == var.deployment_baking_seconds
    error_message = "deployment_baking_seconds must be a whole number of seconds from 0 to 3600 (TrafficRoutingConfig.WaitIntervalInSeconds)."
  }
}

variable "deployment_canary_percent" {
  description = "Share of the endpoint's capacity that takes traffic first during an update (canary), with 2 or more instances; at most 50 (TrafficRoutingConfig.CanarySize). With 1 instance the update shifts all at once, then bakes."
  type        = number
  default     = 25

  validation {
    condition     = var.deployment_canary_percent >= 1 && var.deployment_canary_percent <= 50 && floor(var.deployment_canary_percent) == var.deployment_canary_percent
    error_message = "deployment_canary_percent must be a whole number from 1 to 50."
  }
}

variable "endpoint_instance_count" {
  description = "Instances the provisioned endpoint starts with."
  type        = number
  default     = 1
}

variable "autoscaling_enabled" {
  description = "Register the provisioned endpoint with Application Auto Scaling. Turn off for one apply before changing endpoint_instance_type: SageMaker refuses to update an endpoint that is registered as a scalable target (see README)."
  type        = bool
  default     = true
}

variable "autoscaling_min_capacity" {
  description = "Lower bound of the provisioned endpoint's instances."
  type        = number
  default     = 1
}

variable "autoscaling_max_capacity" {
  description = "Upper bound of the provisioned endpoint's instances."
  type        = number
  default     = 2
}

variable "autoscaling_target_invocations_per_instance" {
  description = "Target tracking value of SageMakerVariantInvocationsPerInstance (per minute)."
  type        = number
  default     = 70
}

variable "data_capture_sampling_percentage" {
  description = "Share of endpoint requests written to datacapture/ (provisioned endpoints only)."
  type        = number
  default     = 100
}

# ---- monitoring ----------------------------------------------------------------------------

variable "create_sns_topic" {
  description = "Create an SNS topic (KMS-encrypted) that every alarm notifies."
  type        = bool
  default     = false
}

variable "alarm_email_addresses" {
  description = "E-mail subscriptions of the alarm topic (needs create_sns_topic)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.alarm_email_addresses) == 0 || var.create_sns_topic
    error_message = "alarm_email_addresses needs create_sns_topic = true."
  }
}

variable "alarm_actions" {
  description = "Further ARNs notified by every alarm."
  type        = list(string)
  default     = []
}

variable "low_confidence_rate_threshold_percent" {
  description = "Alarm when more than this share of decisions is low confidence."
  type        = number
  default     = 20
}

variable "model_latency_threshold_ms" {
  description = "Alarm when the endpoint's p90 ModelLatency exceeds this (milliseconds)."
  type        = number
  default     = 500
}

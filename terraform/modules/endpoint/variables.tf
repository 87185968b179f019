variable "name" {
  description = "Name prefix for the model, endpoint configuration, endpoint and role."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "create" {
  description = "Create the model, endpoint configuration, endpoint and autoscaling. The role is always created, and endpoint_name is always returned, so the Lambda can be wired first."
  type        = bool
  default     = true
}

variable "partition" {
  description = "AWS partition used to build ARNs."
  type        = string
}

variable "region" {
  description = "Region of the endpoint."
  type        = string
}

variable "account_id" {
  description = "Account of the endpoint."
  type        = string
}

variable "bucket_arn" {
  description = "Bucket holding the model artifact and receiving data capture."
  type        = string
}

variable "kms_key_arn" {
  description = "Key that encrypts the bucket, the captured data and the endpoint's storage volume."
  type        = string
}

variable "model_data_url" {
  description = "s3:// URL of the model.tar.gz the training job wrote. Required when create = true."
  type        = string
  default     = null

  validation {
    condition     = var.model_data_url == null || can(regex("^s3://[a-z0-9][a-z0-9.-]+/.+\\.tar\\.gz$", var.model_data_url))
    error_message = "model_data_url must look like s3://bucket/key/model.tar.gz."
  }
}

variable "model_prefix" {
  description = "Key prefix (trailing slash) the model role may read artifacts from."
  type        = string
  default     = "models/"
}

variable "image_uri" {
  description = "Inference image (the built-in image-classification image)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the image's ECR repository, for the pull permission."
  type        = string
}

variable "serverless" {
  description = "Serverless inference (pay per request, cold starts, no data capture, no network isolation, no autoscaling) instead of provisioned instances."
  type        = bool
  default     = false
}

variable "serverless_memory_size_mb" {
  description = "Memory of the serverless endpoint."
  type        = number
  default     = 2048

  validation {
    condition     = contains([1024, 2048, 3072, 4096, 5120, 6144], var.serverless_memory_size_mb)
    error_message = "serverless_memory_size_mb must be one of 1024, 2048, 3072, 4096, 5120, 6144."
  }
}

variable "serverless_max_concurrency" {
  description = "Maximum concurrent invocations of the serverless endpoint."
  type        = number
  default     = 5

  validation {
    condition     = var.serverless_max_concurrency >= 1 && var.serverless_max_concurrency <= 200
    error_message = "serverless_max_concurrency must be between 1 and 200."
  }
}

variable "instance_type" {
  description = "Instance type of the provisioned endpoint."
  type        = string
  default     = "ml.m5.large"

  validation {
    condition     = can(regex("^ml\\.[a-z0-9]+\\.[0-9a-z]+$", var.instance_type))
    error_message = "instance_type must be a SageMaker instance type such as ml.m5.large."
  }
}

variable "initial_instance_count" {
  description = "Instances the provisioned endpoint starts with."
  type        = number
  default     = 1

  validation {
    condition     = var.initial_instance_count >= 1
    error_message = "initial_instance_count must be at least 1."
  }
}

variable "autoscaling_enabled" {
  description = "Register the provisioned endpoint with Application Auto Scaling."
  type        = bool
  default     = true
}

variable "autoscaling_min_capacity" {
  description = "Lower bound of the provisioned endpoint's instance count."
  type        = number
  default     = 1

  validation {
    condition     = var.autoscaling_min_capacity >= 1
    error_message = "autoscaling_min_capacity must be at least 1."
  }
}

variable "autoscaling_max_capacity" {
  description = "Upper bound of the provisioned endpoint's instance count."
  type        = number
  default     = 2

  validation {
    condition     = var.autoscaling_max_capacity >= var.autoscaling_min_capacity
    error_message = "autoscaling_max_capacity must be at least autoscaling_min_capacity."
  }
}

variable "autoscaling_target_invocations_per_instance" {
  description = "Target of SageMakerVariantInvocationsPerInstance (invocations per instance per minute)."
  type        = number
  default     = 70

  validation {
    condition     = var.autoscaling_target_invocations_per_instance > 0
    error_message = "autoscaling_target_invocations_per_instance must be positive."
  }
}

variable "data_capture_s3_uri" {
  description = "s3:// URI under which data capture is written."
  type        = string
}

variable "data_capture_sampling_percentage" {
  description = "Share of requests captured (provisioned endpoints only)."
  type        = number
  default     = 100

  validation {
    condition     = var.data_capture_sampling_percentage >= 0 && var.data_capture_sampling_percentage <= 100
    error_message = "data_capture_sampling_percentage must be between 0 and 100."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}

variable "deployment_baking_seconds" {
  description = "Seconds SageMaker watches the rollback alarms after each traffic shift of an update (TrafficRoutingConfig.WaitIntervalInSeconds, 0-3600)."
  type        = number
  default     = 600
}

variable "deployment_canary_percent" {
  description = "Capacity share of the canary step (CanarySize CAPACITY_PERCENT, at most 50), with 2 or more instances."
  type        = number
  default     = 25
}

variable "rollback_alarm_names" {
  description = "CloudWatch alarms that roll an endpoint update back when any is in ALARM during it (at most 10)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.rollback_alarm_names) <= 10
    error_message = "SageMaker's AutoRollbackConfig takes at most 10 alarms."
  }
}

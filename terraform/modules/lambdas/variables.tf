variable "name" {
  description = "Name prefix: functions are <name>-serialize-image-data, <name>-classify-image, <name>-filter-low-confidence."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "package_dir" {
  description = "Directory holding <function>/bootstrap.zip for serialize-image-data, classify-image and filter-low-confidence (scripts/build-lambdas.sh writes target/lambda)."
  type        = string
}

variable "partition" {
  description = "AWS partition used to build ARNs."
  type        = string
}

variable "account_id" {
  description = "Account of the functions' log groups."
  type        = string
}

variable "region" {
  description = "Region of the functions."
  type        = string
}

variable "bucket_arn" {
  description = "Bucket the serialize function reads images from."
  type        = string
}

variable "image_prefixes" {
  description = "Key prefixes (trailing slash) the serialize function may read: the image prefixes only."
  type        = list(string)
  default     = ["train/", "test/"]

  validation {
    condition     = length(var.image_prefixes) > 0 && alltrue([for p in var.image_prefixes : can(regex("^[A-Za-z0-9!_.'()-]+(/[A-Za-z0-9!_.'()-]+)*/$", p))])
    error_message = "image_prefixes must be non-empty relative key prefixes ending in '/', without wildcards, e.g. test/."
  }
}

variable "kms_key_arn" {
  description = "Key that encrypts the bucket, the log groups and the functions' environment."
  type        = string
}

variable "endpoint_name" {
  description = "SageMaker endpoint the classify function invokes (ENDPOINT_NAME)."
  type        = string
}

variable "endpoint_arn" {
  description = "ARN of that endpoint: the only resource sagemaker:InvokeEndpoint is granted on."
  type        = string
}

variable "bucket_name" {
  description = "The bucket holding the guard's state (guard/state.json)."
  type        = string
}

variable "guard" {
  description = "GUARD_MODE of the filter (hold, warn, off); off: the filter does not read the guard's state at all."
  type        = string
  default     = "off"

  validation {
    condition     = contains(["hold", "warn", "off"], var.guard)
    error_message = "guard must be hold, warn or off."
  }
}

variable "confidence_threshold" {
  description = "THRESHOLD of the filter function: max(p_bicycle, p_motorcycle) must reach it."
  type        = number
  default     = 0.93

  validation {
    condition     = var.confidence_threshold > 0 && var.confidence_threshold <= 1
    error_message = "confidence_threshold must be in (0, 1]."
  }
}

variable "memory_size" {
  description = "Memory (MB) of each function; CPU scales with it."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "Name prefix for the KMS key alias and other named resources."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "bucket_name" {
  description = "Name of the S3 bucket that holds train/, test/, the .lst files, models/ and datacapture/."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "account_id" {
  description = "AWS account that owns the key; its root is the key's administrator."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov) used to build ARNs."
  type        = string
}

variable "region" {
  description = "Region of the key; CloudWatch Logs in this region may use it."
  type        = string
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket even when it still holds objects (all versions are lost)."
  type        = bool
  default     = false
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before AWS deletes the KMS key after `terraform destroy`."
  type        = number
  default     = 7

  validation {
    condition     = var.kms_deletion_window_in_days >= 7 && var.kms_deletion_window_in_days <= 30
    error_message = "kms_deletion_window_in_days must be between 7 and 30 (AWS limits)."
  }
}

variable "data_capture_prefix" {
  description = "Key prefix (no leading slash, trailing slash) where the endpoint writes data capture."
  type        = string
  default     = "datacapture/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.data_capture_prefix))
    error_message = "data_capture_prefix must be a relative key prefix ending in '/', e.g. datacapture/."
  }
}

variable "drift_reports_prefix" {
  description = "Key prefix (trailing slash) of the drift monitor's reports; they expire with the data capture."
  type        = string
  default     = "drift/reports/"
}

variable "data_capture_expiration_days" {
  description = "Days after which data-capture objects expire."
  type        = number
  default     = 30

  validation {
    condition     = var.data_capture_expiration_days >= 1
    error_message = "data_capture_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which unfinished multipart uploads are aborted (their parts are billed until then)."
  type        = number
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "Name prefix for the execution role and the training job name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "partition" {
  description = "AWS partition used to build ARNs."
  type        = string
}

variable "region" {
  description = "Region the training job runs in."
  type        = string
}

variable "account_id" {
  description = "Account that owns the log groups the job writes to."
  type        = string
}

variable "bucket_name" {
  description = "Bucket holding train/, test/, train.lst and test.lst; the model artifact goes to models/."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of that bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "Key that encrypts the bucket; the job decrypts its inputs and encrypts its output with it."
  type        = string
}

variable "run_training_job" {
  description = "Start (or reuse) the training job during apply. Needs `scones` on PATH (or scones_command) and staged_data_dir."
  type        = bool
  default     = true
}

variable "scones_command" {
  description = "Command that runs the project CLI, e.g. `scones` or an absolute path to target/release/scones."
  type        = string
  default     = "scones"

  validation {
    condition     = length(trimspace(var.scones_command)) > 0
    error_message = "scones_command must not be empty."
  }
}

variable "staged_data_dir" {
  description = "Local directory laid out like the bucket (train/, test/, train.lst, test.lst), written by `scones stage`. Uploaded by `scones stage --aws`; its .lst files address the job name."
  type        = string
  default     = null
}

variable "model_prefix" {
  description = "Key prefix (trailing slash) under which SageMaker writes <job>/output/model.tar.gz."
  type        = string
  default     = "models/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.model_prefix))
    error_message = "model_prefix must be a relative key prefix ending in '/', e.g. models/."
  }
}

variable "instance_type" {
  description = "Training instance type; the built-in image-classification algorithm trains on GPU instances."
  type        = string
  default     = "ml.g4dn.xlarge"

  validation {
    condition     = can(regex("^ml\\.(p2|p3|p3dn|g4dn|g5)\\.[0-9a-z]+$", var.instance_type))
    error_message = "instance_type must be a GPU training instance (ml.p2/p3/p3dn/g4dn/g5.*): the image-classification algorithm does not train on CPU."
  }
}

variable "volume_size_gb" {
  description = "Size of the training volume in GB."
  type        = number
  default     = 30

  validation {
    condition     = var.volume_size_gb >= 1 && var.volume_size_gb <= 16384
    error_message = "volume_size_gb must be between 1 and 16384."
  }
}

variable "max_runtime_seconds" {
  description = "The job is stopped after this many seconds."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_runtime_seconds >= 60 && var.max_runtime_seconds <= 432000
    error_message = "max_runtime_seconds must be between 60 and 432000 (5 days)."
  }
}

variable "hyperparameters" {
  description = "Overrides merged over the defaults (2 classes, 3x32x32 images, counts from train.lst). Values are strings, as SageMaker expects."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}

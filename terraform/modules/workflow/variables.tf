variable "name" {
  description = "Name prefix: the state machine is <name>-workflow."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the state machine (its ARN in the role's trust condition)."
  type        = string
}

variable "account_id" {
  description = "Account of the state machine (its ARN in the role's trust condition)."
  type        = string
}

variable "partition" {
  description = "AWS partition of the service integrations' ARNs in the definition (aws, aws-us-gov, aws-cn)."
  type        = string
  default     = "aws"

  validation {
    condition     = contains(["aws", "aws-us-gov", "aws-cn"], var.partition)
    error_message = "partition must be aws, aws-us-gov or aws-cn."
  }
}

variable "definition_file" {
  description = "Path of the one ASL definition (terraform/workflow/scones.asl.json), rendered with templatefile."
  type        = string
}

variable "function_arns" {
  description = "ARNs of the three functions, keyed serialize-image-data, classify-image, filter-low-confidence."
  type        = map(string)

  validation {
    condition     = toset(keys(var.function_arns)) == toset(["serialize-image-data", "classify-image", "filter-low-confidence"])
    error_message = "function_arns must have exactly the keys serialize-image-data, classify-image and filter-low-confidence."
  }
}

variable "kms_key_arn" {
  description = "Key that encrypts the state machine's log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the state machine's log group."
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

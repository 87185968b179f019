output "endpoint_name" {
  description = "Name of the endpoint (returned even when create = false, so callers can be wired before the model exists)."
  value       = local.endpoint_name
}

output "endpoint_arn" {
  description = "ARN of the endpoint (computed from its name, so it is known before the endpoint exists)."
  value       = local.endpoint_arn
}

output "created" {
  description = "Whether the model, endpoint configuration and endpoint exist."
  value       = var.create
}

output "serverless" {
  description = "Whether the endpoint is serverless."
  value       = var.serverless
}

output "variant_name" {
  description = "Name of the single production variant (the CloudWatch VariantName dimension)."
  value       = local.variant_name
}

output "model_name" {
  description = "Name of the SageMaker model, or null."
  value       = one(aws_sagemaker_model.this[*].name)
}

output "endpoint_configuration_name" {
  description = "Name of the current endpoint configuration, or null."
  value       = one(aws_sagemaker_endpoint_configuration.this[*].name)
}

output "autoscaling_resource_id" {
  description = "Application Auto Scaling resource id of the variant, or null (serverless or not created)."
  value       = one(aws_appautoscaling_target.this[*].resource_id)
}

output "role_arn" {
  description = "Execution role of the model."
  value       = aws_iam_role.this.arn
}

output "policy_documents" {
  description = "The role's inline policy as an object, for audits and tests."
  value = {
    endpoint = local.role_policy
  }
}

output "deployment" {
  description = "How an endpoint update is rolled out: traffic (CANARY or ALL_AT_ONCE), the canary's capacity share, the baking period and the alarms that roll it back."
  value = {
    traffic         = local.canary ? "CANARY" : "ALL_AT_ONCE"
    canary_percent  = local.canary ? var.deployment_canary_percent : null
    baking_seconds  = var.deployment_baking_seconds
    rollback_alarms = var.rollback_alarm_names
  }
}

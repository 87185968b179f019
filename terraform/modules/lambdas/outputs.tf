output "function_names" {
  description = "Function names by binary: serialize-image-data, classify-image, filter-low-confidence."
  value       = { for key, fn in aws_lambda_function.this : key => fn.function_name }
}

output "function_arns" {
  description = "Unqualified function ARNs by binary."
  value       = { for key, fn in aws_lambda_function.this : key => fn.arn }
}

output "log_group_names" {
  description = "Log group names by binary."
  value       = { for key, group in aws_cloudwatch_log_group.this : key => group.name }
}

output "role_arns" {
  description = "Execution role ARNs by binary."
  value       = { for key, role in aws_iam_role.this : key => role.arn }
}

output "environment" {
  description = "Environment variables of each function."
  value       = { for key, fn in local.functions : key => fn.environment }
}

output "policy_documents" {
  description = "Each role's inline policy as an object, for audits and tests."
  value       = local.role_policies
}

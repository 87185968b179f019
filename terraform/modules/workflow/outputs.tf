output "state_machine_arn" {
  description = "ARN of the state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the state machine."
  value       = aws_sfn_state_machine.this.name
}

output "definition" {
  description = "The rendered ASL definition (JSON text)."
  value       = local.definition
}

output "log_group_name" {
  description = "Log group receiving execution logs (level ALL, with execution data)."
  value       = aws_cloudwatch_log_group.this.name
}

output "role_arn" {
  description = "Execution role of the state machine."
  value       = aws_iam_role.this.arn
}

output "policy_documents" {
  description = "The role's inline policy as an object, for audits and tests."
  value = {
    workflow = local.role_policy
  }
}

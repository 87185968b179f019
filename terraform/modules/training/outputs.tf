output "job_name" {
  description = "Content-addressed training job name: <name>-ic-<first 16 hex of sha256(hyperparameters, train.lst, test.lst)>."
  value       = local.job_name
}

output "model_data_url" {
  description = "s3:// URL of the model artifact the job writes (<model_prefix><job>/output/model.tar.gz)."
  value       = local.model_data_url
  # Only meaningful once the job has run.
  depends_on = [terraform_data.training_job]
}

output "image_uri" {
  description = "ECR image of the built-in image-classification algorithm (training and inference)."
  value       = local.image_uri
}

output "ecr_repository_arn" {
  description = "ARN of that image's ECR repository."
  value       = local.ecr_repository
}

output "hyperparameters" {
  description = "The hyperparameters the job uses (defaults merged with overrides)."
  value       = local.hyperparameters
}

output "job_spec" {
  description = "The job specification handed to `scones train --aws --job-spec`."
  value       = local.job_spec
}

output "role_arn" {
  description = "Execution role of the training job."
  value       = aws_iam_role.this.arn
}

output "policy_documents" {
  description = "The role's inline policy as an object, for audits and tests."
  value = {
    training = local.role_policy
  }
}

output "region" {
  description = "Region of the stack."
  value       = var.region
}

output "bucket_name" {
  description = "Bucket with train/, test/, the .lst files, models/ and datacapture/."
  value       = module.storage.bucket_name
}

output "kms_key_arn" {
  description = "Customer managed key of the bucket, log groups, Lambda environment and alarm topic."
  value       = module.storage.kms_key_arn
}

output "state_machine_arn" {
  description = "ARN of the workflow state machine."
  value       = module.workflow.state_machine_arn
}

output "state_machine_definition" {
  description = "The rendered ASL definition (function ARNs filled in)."
  value       = module.workflow.definition
}

output "endpoint_name" {
  description = "Name of the SageMaker endpoint the classify function calls."
  value       = module.endpoint.endpoint_name
}

output "endpoint_created" {
  description = "Whether the endpoint exists (training ran or model_data_url was given)."
  value       = module.endpoint.created
}

output "endpoint_serverless" {
  description = "Whether the endpoint is serverless."
  value       = module.endpoint.serverless
}

output "function_names" {
  description = "Lambda function names keyed serialize-image-data, classify-image, filter-low-confidence."
  value       = module.lambdas.function_names
}

output "function_arns" {
  description = "Lambda function ARNs keyed like function_names."
  value       = module.lambdas.function_arns
}

output "log_groups" {
  description = "Log group names: the state machine (key workflow) and each function (keyed like function_names)."
  value       = merge({ workflow = module.workflow.log_group_name }, module.lambdas.log_group_names)
}

output "training_job_name" {
  description = "Content-addressed name of the training job."
  value       = module.training.job_name
}

output "training_job_spec" {
  description = "The training job as JSON for `scones train --aws --job-spec \"$(terraform output -json training_job_spec)\"` (what the apply runs when run_training_job is on)."
  value       = module.training.job_spec
}

output "model_data_url" {
  description = "Model artifact the endpoint serves, or null."
  value       = local.model_data_url
}

output "alarm_names" {
  description = "CloudWatch alarm names by purpose."
  value       = merge(module.monitoring.alarm_names, module.drift.alarm_names)
}

output "drift" {
  description = "The drift monitor: function name, baseline key, reports prefix, metric namespace (null when not created)."
  value       = local.drift
}

output "metric_namespace" {
  description = "Namespace of the LowConfidenceDecisions / PassedDecisions metrics."
  value       = module.monitoring.metric_namespace
}

output "sns_topic_arn" {
  description = "Alarm topic, or null."
  value       = module.monitoring.sns_topic_arn
}

output "iam_policy_documents" {
  description = "Every IAM role policy, the key policy and the bucket policy as objects: what the stack grants, in one place for review (and for the tests)."
  value = {
    kms_key  = module.storage.policy_documents.kms_key
    bucket   = module.storage.policy_documents.bucket
    training = module.training.policy_documents.training
    endpoint = module.endpoint.policy_documents.endpoint
    workflow = module.workflow.policy_documents.workflow
    lambda   = module.lambdas.policy_documents
    drift    = module.drift.policy_document
  }
}

output "scones" {
  description = "Everything the scones CLI and dashboard read, in one object (`terraform output -json scones`)."
  value = {
    region            = var.region
    bucket            = module.storage.bucket_name
    state_machine_arn = module.workflow.state_machine_arn
    endpoint_name     = module.endpoint.endpoint_name
    endpoint_created  = module.endpoint.created
    function_names    = module.lambdas.function_names
    log_groups        = merge({ workflow = module.workflow.log_group_name }, module.lambdas.log_group_names)
    metric_namespace  = module.monitoring.metric_namespace
    alarm_names       = merge(module.monitoring.alarm_names, module.drift.alarm_names)
    threshold         = var.confidence_threshold
    drift             = local.drift
    # Where the endpoint writes data capture (the dashboard's confidence chart reads it).
    data_capture_prefix = module.storage.data_capture_prefix
    # Model versions (the stack's training jobs) and how the endpoint is updated to one.
    models = {
      job_prefix = "${var.name}-ic-"
      # What the promotion gate's candidate endpoint is made of (the serving model's role,
      # the algorithm image, one instance of the endpoint's type).
      candidate = {
        name_prefix   = "${var.name}-candidate"
        role_arn      = module.endpoint.role_arn
        image_uri     = module.training.image_uri
        instance_type = var.endpoint_instance_type
      }
      deployment = merge(module.endpoint.deployment, {
        serving_model_data_url = local.model_data_url
        trained_model_data_url = local.trained_model_data_url
        promoted               = var.serving_model_data_url != null
      })
    }
  }
}

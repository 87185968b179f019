data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  tags = merge(var.tags, { Project = "scones", ManagedBy = "terraform" })

  bucket_name        = coalesce(var.bucket_name, "${var.name}-${local.account_id}-${var.region}")
  lambda_package_dir = coalesce(var.lambda_package_dir, "${path.module}/../target/lambda")

  # Decided from variables only, so resource counts are known at plan time.
  create_endpoint = var.run_training_job || var.model_data_url != null || var.serving_model_data_url != null
  # What the endpoint serves: a promoted version (scones promote --aws writes it), else the
  # training job's artefact, else the one given.
  trained_model_data_url = var.run_training_job ? module.training.model_data_url : var.model_data_url
  model_data_url         = var.serving_model_data_url != null ? var.serving_model_data_url : local.trained_model_data_url

  drift = module.drift.function_name == null ? null : {
    function_name    = module.drift.function_name
    baseline_key     = module.drift.baseline_key
    reports_prefix   = module.drift.reports_prefix
    metric_namespace = var.drift_metric_namespace
    schedule_minutes = var.drift_schedule_minutes
    guard            = var.guard
  }
}

module "storage" {
  source = "./modules/storage"

  name                         = var.name
  bucket_name                  = local.bucket_name
  account_id                   = local.account_id
  partition                    = local.partition
  region                       = var.region
  force_destroy                = var.bucket_force_destroy
  data_capture_expiration_days = var.data_capture_expiration_days
  tags                         = local.tags
}

module "training" {
  source = "./modules/training"

  name                = var.name
  partition           = local.partition
  region              = var.region
  account_id          = local.account_id
  bucket_name         = module.storage.bucket_name
  bucket_arn          = module.storage.bucket_arn
  kms_key_arn         = module.storage.kms_key_arn
  run_training_job    = var.run_training_job
  scones_command      = var.scones_command
  staged_data_dir     = var.staged_data_dir
  instance_type       = var.training_instance_type
  max_runtime_seconds = var.training_max_runtime_seconds
  hyperparameters     = var.training_hyperparameters
  tags                = local.tags
}

module "endpoint" {
  source = "./modules/endpoint"

  name                                        = var.name
  create                                      = local.create_endpoint
  partition                                   = local.partition
  region                                      = var.region
  account_id                                  = local.account_id
  bucket_arn                                  = module.storage.bucket_arn
  kms_key_arn                                 = module.storage.kms_key_arn
  model_data_url                              = local.model_data_url
  image_uri                                   = module.training.image_uri
  ecr_repository_arn                          = module.training.ecr_repository_arn
  serverless                                  = var.serverless_endpoint
  serverless_memory_size_mb                   = var.serverless_memory_size_mb
  serverless_max_concurrency                  = var.serverless_max_concurrency
  instance_type                               = var.endpoint_instance_type
  initial_instance_count                      = var.endpoint_instance_count
  autoscaling_enabled                         = var.autoscaling_enabled
  autoscaling_min_capacity                    = var.autoscaling_min_capacity
  autoscaling_max_capacity                    = var.autoscaling_max_capacity
  autoscaling_target_invocations_per_instance = var.autoscaling_target_invocations_per_instance
  data_capture_s3_uri                         = module.storage.data_capture_s3_uri
  data_capture_sampling_percentage            = var.data_capture_sampling_percentage
  deployment_baking_seconds                   = var.deployment_baking_seconds
  deployment_canary_percent                   = var.deployment_canary_percent
  # An update rolls back when the model misbehaves on the traffic it takes: errors, latency,
  # more low-confidence decisions, drift (the monitor's verdict, when it runs within the
  # baking period).
  rollback_alarm_names = compact(concat(module.monitoring.model_alarm_names, [module.drift.drift_alert_alarm_name]))
  tags                 = local.tags
}

module "lambdas" {
  source = "./modules/lambdas"

  name                 = var.name
  package_dir          = local.lambda_package_dir
  partition            = local.partition
  region               = var.region
  account_id           = local.account_id
  bucket_arn           = module.storage.bucket_arn
  image_prefixes       = var.image_prefixes
  kms_key_arn          = module.storage.kms_key_arn
  endpoint_name        = module.endpoint.endpoint_name
  endpoint_arn         = module.endpoint.endpoint_arn
  confidence_threshold = var.confidence_threshold
  bucket_name          = module.storage.bucket_name
  # Only a stack with the drift monitor has anyone writing the guard's state.
  guard              = var.drift_monitor_enabled && local.create_endpoint && !var.serverless_endpoint ? var.guard : "off"
  memory_size        = var.lambda_memory_size
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "workflow" {
  source = "./modules/workflow"

  name               = var.name
  definition_file    = "${path.module}/workflow/scones.asl.json"
  partition          = local.partition
  region             = var.region
  account_id         = local.account_id
  function_arns      = module.lambdas.function_arns
  kms_key_arn        = module.storage.kms_key_arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "drift" {
  source = "./modules/drift"

  name                 = var.name
  create               = var.drift_monitor_enabled && local.create_endpoint && !var.serverless_endpoint
  package_dir          = local.lambda_package_dir
  partition            = local.partition
  region               = var.region
  account_id           = local.account_id
  bucket_name          = module.storage.bucket_name
  bucket_arn           = module.storage.bucket_arn
  kms_key_arn          = module.storage.kms_key_arn
  endpoint_name        = module.endpoint.endpoint_name
  variant_name         = module.endpoint.variant_name
  data_capture_prefix  = module.storage.data_capture_prefix
  reports_prefix       = module.storage.drift_reports_prefix
  confidence_threshold = var.confidence_threshold
  schedule_minutes     = var.drift_schedule_minutes
  window               = var.drift_window
  windows              = var.drift_windows
  guard                = var.guard
  metric_namespace     = var.drift_metric_namespace
  memory_size          = var.drift_memory_size
  log_retention_days   = var.log_retention_days
  alarm_actions        = module.monitoring.alarm_actions
  tags                 = local.tags
}

module "monitoring" {
  source = "./modules/monitoring"

  name                                  = var.name
  state_machine_arn                     = module.workflow.state_machine_arn
  filter_log_group_name                 = module.lambdas.log_group_names["filter-low-confidence"]
  endpoint_alarms                       = local.create_endpoint
  endpoint_name                         = module.endpoint.endpoint_name
  variant_name                          = module.endpoint.variant_name
  low_confidence_rate_threshold_percent = var.low_confidence_rate_threshold_percent
  model_latency_threshold_ms            = var.model_latency_threshold_ms
  kms_key_arn                           = module.storage.kms_key_arn
  create_sns_topic                      = var.create_sns_topic
  alarm_email_addresses                 = var.alarm_email_addresses
  alarm_actions                         = var.alarm_actions
  tags                                  = local.tags
}

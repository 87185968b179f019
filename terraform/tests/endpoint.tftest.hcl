# The endpoint module: provisioned (data capture, KMS, autoscaling) vs serverless.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name                = "scones"
  partition           = "aws"
  region              = "us-east-1"
  account_id          = "123456789012"
  bucket_arn          = "arn:aws:s3:::scones-123456789012-us-east-1"
  kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  model_data_url      = "s3://scones-123456789012-us-east-1/models/scones-ic-0123456789abcdef/output/model.tar.gz"
  image_uri           = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
  ecr_repository_arn  = "arn:aws:ecr:us-east-1:811284229777:repository/image-classification"
  data_capture_s3_uri = "s3://scones-123456789012-us-east-1/datacapture"
}

run "provisioned_endpoint" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Condition == {
      StringEquals = { "aws:SourceAccount" = "123456789012" }
      ArnLike      = { "aws:SourceArn" = "arn:aws:sagemaker:us-east-1:123456789012:*" }
    }
    error_message = "The endpoint role trusts SageMaker only for this account and region, in the form the developer guide gives for inference (not one model's ARN)."
  }

  assert {
    condition = (
      aws_sagemaker_endpoint_configuration.this[0].production_variants[0].instance_type == "ml.m5.large" &&
      aws_sagemaker_endpoint_configuration.this[0].production_variants[0].initial_instance_count == 1 &&
      length(aws_sagemaker_endpoint_configuration.this[0].production_variants[0].serverless_config) == 0
    )
    error_message = "The default endpoint is one provisioned ml.m5.large instance."
  }

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this[0].kms_key_arn == var.kms_key_arn
    error_message = "The provisioned endpoint's storage volume must be encrypted with the project key."
  }

  assert {
    condition = (
      aws_sagemaker_endpoint_configuration.this[0].data_capture_config[0].enable_capture &&
      aws_sagemaker_endpoint_configuration.this[0].data_capture_config[0].destination_s3_uri == var.data_capture_s3_uri &&
      aws_sagemaker_endpoint_configuration.this[0].data_capture_config[0].kms_key_id == var.kms_key_arn &&
      toset([for o in aws_sagemaker_endpoint_configuration.this[0].data_capture_config[0].capture_options : o.capture_mode]) == toset(["Input", "Output"])
    )
    error_message = "Data capture (input and output, KMS-encrypted) must go to the bucket."
  }

  assert {
    condition     = aws_sagemaker_model.this[0].primary_container[0].model_data_url == var.model_data_url && aws_sagemaker_model.this[0].enable_network_isolation
    error_message = "The model must serve model_data_url with network isolation."
  }

  assert {
    condition = (
      aws_appautoscaling_target.this[0].resource_id == "endpoint/scones-endpoint/variant/AllTraffic" &&
      aws_appautoscaling_target.this[0].scalable_dimension == "sagemaker:variant:DesiredInstanceCount" &&
      aws_appautoscaling_target.this[0].min_capacity == 1 && aws_appautoscaling_target.this[0].max_capacity == 2
    )
    error_message = "The variant's instance count must be an autoscaling target (1-2)."
  }

  assert {
    condition = (
      aws_appautoscaling_policy.invocations[0].policy_type == "TargetTrackingScaling" &&
      aws_appautoscaling_policy.invocations[0].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "SageMakerVariantInvocationsPerInstance" &&
      aws_appautoscaling_policy.invocations[0].target_tracking_scaling_policy_configuration[0].target_value == 70
    )
    error_message = "Target tracking on SageMakerVariantInvocationsPerInstance (70) is expected."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "WriteDataCapture"][0] == ["${var.bucket_arn}/datacapture*"]
    error_message = "The model role may write only under the data-capture prefix."
  }
}

# Instance types with local NVMe storage refuse a KmsKeyId (CreateEndpointConfig fails):
# the key is left out for them, kept for the others.
run "local_storage_instances_get_no_volume_key" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    instance_type = "ml.g4dn.xlarge"
  }

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this[0].kms_key_arn == null
    error_message = "ml.g4dn has local NVMe storage: the endpoint configuration must not name a KMS key."
  }

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this[0].data_capture_config[0].kms_key_id == var.kms_key_arn
    error_message = "Data capture (in S3) stays encrypted with the project key."
  }
}

run "local_storage_families" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    instance_type = "ml.m5d.large"
  }

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this[0].kms_key_arn == null
    error_message = "ml.m5d has local NVMe storage: no KMS key."
  }
}

# The first step of changing the instance type: the variant leaves Application Auto Scaling
# (SageMaker refuses to update an endpoint registered as a scalable target).
run "autoscaling_can_be_turned_off" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    autoscaling_enabled = false
  }

  assert {
    condition     = length(aws_appautoscaling_target.this) == 0 && length(aws_appautoscaling_policy.invocations) == 0
    error_message = "autoscaling_enabled = false must deregister the scalable target and its policy."
  }

  assert {
    condition     = length(aws_sagemaker_endpoint.this) == 1
    error_message = "The endpoint itself stays."
  }
}

run "serverless_endpoint" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    serverless                 = true
    serverless_memory_size_mb  = 3072
    serverless_max_concurrency = 7
  }

  assert {
    condition = (
      aws_sagemaker_endpoint_configuration.this[0].production_variants[0].serverless_config[0].memory_size_in_mb == 3072 &&
      aws_sagemaker_endpoint_configuration.this[0].production_variants[0].serverless_config[0].max_concurrency == 7
    )
    error_message = "The serverless switch must configure memory and concurrency."
  }

  assert {
    condition = (
      aws_sagemaker_endpoint_configuration.this[0].production_variants[0].instance_type == null &&
      aws_sagemaker_endpoint_configuration.this[0].production_variants[0].initial_instance_count == null
    )
    error_message = "A serverless variant has no instance type or count."
  }

  assert {
    condition     = length(aws_sagemaker_endpoint_configuration.this[0].data_capture_config) == 0 && aws_sagemaker_endpoint_configuration.this[0].kms_key_arn == null
    error_message = "Serverless endpoints support neither data capture nor a volume key."
  }

  assert {
    condition     = length(aws_appautoscaling_target.this) == 0 && length(aws_appautoscaling_policy.invocations) == 0
    error_message = "Serverless endpoints scale themselves: no autoscaling target or policy."
  }

  assert {
    condition     = !aws_sagemaker_model.this[0].enable_network_isolation
    error_message = "Serverless endpoints do not support network isolation."
  }
}

run "not_created" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    create         = false
    model_data_url = null
  }

  assert {
    condition     = length(aws_sagemaker_endpoint.this) == 0 && length(aws_sagemaker_model.this) == 0 && output.endpoint_name == "scones-endpoint"
    error_message = "create = false creates nothing but still names the endpoint."
  }
}

run "created_needs_a_model" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    model_data_url = null
  }

  expect_failures = [aws_sagemaker_model.this]
}

run "serverless_memory_must_be_a_valid_size" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    serverless                = true
    serverless_memory_size_mb = 1500
  }

  expect_failures = [var.serverless_memory_size_mb]
}

# The switch reaches the endpoint through the root module.
run "root_serverless_switch" {
  command = plan

  variables {
    lambda_package_dir  = "./tests/fixtures/lambda"
    run_training_job    = false
    model_data_url      = "s3://scones-models-example/models/pretrained/output/model.tar.gz"
    serverless_endpoint = true
  }

  assert {
    condition     = output.endpoint_serverless && module.endpoint.autoscaling_resource_id == null
    error_message = "serverless_endpoint = true must give a serverless endpoint without autoscaling."
  }
}

# Deployment guardrails: an update shifts traffic blue/green, bakes, and rolls back on the
# stack's alarms.
run "one_instance_shifts_all_at_once_then_bakes" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    rollback_alarm_names = ["scones-low-confidence-rate", "scones-endpoint-5xx"]
  }

  assert {
    condition = (
      aws_sagemaker_endpoint.this[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].type == "ALL_AT_ONCE" &&
      length(aws_sagemaker_endpoint.this[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].canary_size) == 0 &&
      aws_sagemaker_endpoint.this[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].wait_interval_in_seconds == 600
    )
    error_message = "One instance cannot take a canary (at most 50% of the instances): the update shifts all at once and bakes 600 s."
  }

  assert {
    condition     = toset([for a in aws_sagemaker_endpoint.this[0].deployment_config[0].auto_rollback_configuration[0].alarms : a.alarm_name]) == toset(var.rollback_alarm_names)
    error_message = "Every rollback alarm given must roll the update back."
  }
}

run "two_instances_take_a_canary_first" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    initial_instance_count    = 2
    deployment_canary_percent = 25
    deployment_baking_seconds = 900
  }

  assert {
    condition = (
      aws_sagemaker_endpoint.this[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].type == "CANARY" &&
      aws_sagemaker_endpoint.this[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].canary_size[0].type == "CAPACITY_PERCENT" &&
      aws_sagemaker_endpoint.this[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].canary_size[0].value == 25 &&
      aws_sagemaker_endpoint.this[0].deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].wait_interval_in_seconds == 900 &&
      output.deployment.traffic == "CANARY"
    )
    error_message = "Two or more instances: a 25% canary bakes first, then the rest."
  }

  assert {
    condition     = length(aws_sagemaker_endpoint.this[0].deployment_config[0].auto_rollback_configuration) == 0
    error_message = "No alarms given, no rollback configuration (SageMaker requires at least one alarm in it)."
  }
}

run "eleven_rollback_alarms_are_refused" {
  command = plan

  module {
    source = "./modules/endpoint"
  }

  variables {
    rollback_alarm_names = [for i in range(11) : "alarm-${i}"]
  }

  expect_failures = [var.rollback_alarm_names]
}

# Through the root module: the stack's model alarms and the drift alert roll updates back,
# and a promoted version (serving_model_data_url, which `scones promote --aws` writes)
# is what the endpoint serves, whatever the training job made.
run "root_rollback_alarms_and_a_promoted_version" {
  command = plan

  variables {
    lambda_package_dir     = "./tests/fixtures/lambda"
    bucket_name            = "scones-123456789012-us-east-1"
    staged_data_dir        = "./tests/fixtures/staged"
    serving_model_data_url = "s3://scones-123456789012-us-east-1/models/scones-ic-0123456789abcdef-r0a1b2c3d4e5f/output/model.tar.gz"
  }

  assert {
    condition = toset(output.scones.models.deployment.rollback_alarms) == toset([
      "scones-low-confidence-rate", "scones-endpoint-5xx", "scones-endpoint-model-latency", "scones-drift-alert",
    ])
    error_message = "An endpoint update rolls back on the low-confidence rate, 5XX, latency and drift alarms."
  }

  assert {
    condition = (
      output.model_data_url == var.serving_model_data_url &&
      module.endpoint.model_name != null &&
      output.scones.models.deployment.promoted &&
      output.scones.models.deployment.trained_model_data_url == "s3://scones-123456789012-us-east-1/models/${output.training_job_name}/output/model.tar.gz"
    )
    error_message = "The promoted version serves; the training job's artefact stays what training made."
  }

  assert {
    condition = (
      output.scones.models.candidate.name_prefix == "scones-candidate" &&
      output.scones.models.candidate.image_uri == module.training.image_uri &&
      output.scones.models.candidate.instance_type == "ml.m5.large"
    )
    error_message = "The gate's candidate endpoint runs the training image on the endpoint's instance type (its role, the serving model's, is known only after apply)."
  }
}

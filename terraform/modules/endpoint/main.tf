locals {
  endpoint_name = "${var.name}-endpoint"
  endpoint_arn  = "arn:${var.partition}:sagemaker:${var.region}:${var.account_id}:endpoint/${local.endpoint_name}"
  variant_name  = "AllTraffic"

  # Instance types with local NVMe storage encrypt it in hardware and refuse a KmsKeyId: the
  # SageMaker API reference (CreateEndpointConfig, KmsKeyId) says the call fails if one is
  # given. The families: a `d` after the generation (m5d, c5d, r5d, g4dn, g4ad, p3dn, p4d,
  # m6id, c6gd...), and the GPU/accelerator families whose every size has instance storage
  # (g5, g6, g6e, p5, trn1). Erring towards omission is the safe side: a volume without our
  # key is still encrypted (with an AWS key), while a key where none is allowed fails the
  # deployment.
  # SageMaker refuses UpdateEndpoint (a new instance type) while the variant is a scalable
  # target, so autoscaling can be turned off for the apply that changes it (README).
  autoscaling = var.create && !var.serverless && var.autoscaling_enabled

  # Deployment guardrails (SageMaker developer guide, "Blue/Green Deployments"): an update
  # provisions the new fleet, shifts traffic to it in steps, and bakes after each: any
  # rollback alarm in ALARM sends all traffic back to the old fleet. A canary "must be less
  # than or equal to 50% of the variant's total instance count" (API reference,
  # TrafficRoutingConfig), which a single instance cannot split: then all traffic shifts at
  # once and the baking period still guards it. Serverless endpoints have no instance count.
  canary = !var.serverless && var.initial_instance_count >= 2

  instance_has_local_storage = can(regex("^ml\\.([a-z]+[0-9]+[a-z]*d[a-z]*|g5|g6|g6e|gr6|p5|p5e|p5en|trn1|trn1n)\\.", var.instance_type))
  volume_kms_key_arn         = var.serverless || local.instance_has_local_storage ? null : var.kms_key_arn

  # A new artifact needs a new model (models are immutable); the suffix keeps names unique
  # so the endpoint can switch over before the old model is deleted.
  model_suffix = substr(sha256(coalesce(var.model_data_url, "none")), 0, 12)

  capture_prefix = trimprefix(replace(var.data_capture_s3_uri, "/^s3://[^/]+/?/", ""), "/")
  endpoint_logs  = "arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:/aws/sagemaker/Endpoints/${local.endpoint_name}"

  role_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadModelArtifacts"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${var.bucket_arn}/${var.model_prefix}*"]
      },
      {
        Sid      = "WriteDataCapture"
        Effect   = "Allow"
        Action   = ["s3:PutObject"]
        Resource = ["${var.bucket_arn}/${local.capture_prefix}*"]
      },
      {
        Sid      = "UseBucketKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      },
      {
        Sid      = "WriteEndpointLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = [local.endpoint_logs, "${local.endpoint_logs}:*"]
      },
      {
        # CloudWatch metrics have no resource-level permissions: AWS requires Resource "*".
        Sid       = "PublishEndpointMetrics"
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = "*"
        Condition = { StringLike = { "cloudwatch:namespace" = ["/aws/sagemaker/Endpoints", "AWS/SageMaker"] } }
      },
      {
        # ecr:GetAuthorizationToken is account-wide: AWS requires Resource "*".
        Sid      = "EcrAuthorization"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = "*"
      },
      {
        Sid      = "PullAlgorithmImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
        Resource = [var.ecr_repository_arn]
      },
    ]
  }
}

resource "aws_iam_role" "this" {
  name        = "${var.name}-endpoint"
  description = "SageMaker model execution role for ${local.endpoint_name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "sagemaker.amazonaws.com" }
      Action    = "sts:AssumeRole"
      # Only SageMaker acting for this account in this region (developer guide,
      # "Cross-service confused deputy prevention", inference: aws:SourceArn
      # arn:...:sagemaker:<region>:<account>:*, which it says not to narrow to one model or
      # endpoint).
      Condition = {
        StringEquals = { "aws:SourceAccount" = var.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${var.partition}:sagemaker:${var.region}:${var.account_id}:*" }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "endpoint"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.role_policy)
}

resource "aws_sagemaker_model" "this" {
  count = var.create ? 1 : 0

  name               = "${var.name}-${local.model_suffix}"
  execution_role_arn = aws_iam_role.this.arn
  # The algorithm needs no network at inference. Serverless endpoints do not support
  # network isolation.
  enable_network_isolation = var.serverless ? false : true

  primary_container {
    image          = var.image_uri
    model_data_url = var.model_data_url
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.model_data_url != null
      error_message = "The endpoint needs model_data_url: run the training job (run_training_job = true) or pass the s3:// URL of an existing model.tar.gz."
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  count = var.create ? 1 : 0

  # Endpoint configurations are immutable: a prefix lets Terraform create the new one and
  # switch the endpoint before deleting the old.
  name_prefix = "${var.name}-"
  # Serverless endpoints have no storage volume to encrypt, and local NVMe storage is
  # encrypted by the instance (see local.instance_has_local_storage).
  kms_key_arn = local.volume_kms_key_arn

  production_variants {
    variant_name           = local.variant_name
    model_name             = aws_sagemaker_model.this[0].name
    instance_type          = var.serverless ? null : var.instance_type
    initial_instance_count = var.serverless ? null : var.initial_instance_count

    dynamic "serverless_config" {
      for_each = var.serverless ? [1] : []
      content {
        memory_size_in_mb = var.serverless_memory_size_mb
        max_concurrency   = var.serverless_max_concurrency
      }
    }
  }

  # Serverless endpoints do not support data capture.
  dynamic "data_capture_config" {
    for_each = var.serverless ? [] : [1]
    content {
      enable_capture              = true
      initial_sampling_percentage = var.data_capture_sampling_percentage
      destination_s3_uri          = var.data_capture_s3_uri
      kms_key_id                  = var.kms_key_arn

      capture_options {
        capture_mode = "Input"
      }
      capture_options {
        capture_mode = "Output"
      }

      capture_content_type_header {
        json_content_types = ["application/json"]
      }
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "this" {
  count = var.create ? 1 : 0

  name                 = local.endpoint_name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this[0].name
  tags                 = var.tags

  deployment_config {
    blue_green_update_policy {
      traffic_routing_configuration {
        type                     = local.canary ? "CANARY" : "ALL_AT_ONCE"
        wait_interval_in_seconds = var.deployment_baking_seconds

        dynamic "canary_size" {
          for_each = local.canary ? [1] : []
          content {
            type  = "CAPACITY_PERCENT"
            value = var.deployment_canary_percent
          }
        }
      }
    }

    dynamic "auto_rollback_configuration" {
      for_each = length(var.rollback_alarm_names) > 0 ? [1] : []
      content {
        dynamic "alarms" {
          for_each = toset(var.rollback_alarm_names)
          content {
            alarm_name = alarms.value
          }
        }
      }
    }
  }
}

resource "aws_appautoscaling_target" "this" {
  count = local.autoscaling ? 1 : 0

  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.this[0].name}/variant/${local.variant_name}"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.autoscaling_min_capacity
  max_capacity       = var.autoscaling_max_capacity
}

resource "aws_appautoscaling_policy" "invocations" {
  count = local.autoscaling ? 1 : 0

  name               = "${var.name}-invocations-per-instance"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling_target_invocations_per_instance
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}

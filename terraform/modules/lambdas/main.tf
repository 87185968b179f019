locals {
  package_dir = trimsuffix(var.package_dir, "/")
  # The guard's state, written by monitor-drift (scones_workflow::guard::STATE_KEY).
  guard_key = "guard/state.json"
  guarded   = var.guard != "off"

  # One entry per Lambda binary. Timeouts stay below the state's TimeoutSeconds in
  # workflow/scones.asl.json (30, 60, 10) so a slow call surfaces as the function's own
  # timeout error rather than States.Timeout.
  functions = {
    "serialize-image-data" = {
      description = "Fetch s3://s3_bucket/s3_key, check it decodes, return it base64-encoded in image_data"
      timeout     = 20
      environment = {}
    }
    "classify-image" = {
      description = "Send the image to the SageMaker endpoint; inferences = [p_bicycle, p_motorcycle], model = the version serving"
      timeout     = 50
      environment = { ENDPOINT_NAME = var.endpoint_name }
    }
    "filter-low-confidence" = {
      description = "Pass the record through when max(inferences) >= THRESHOLD, otherwise fail with LowConfidence"
      timeout     = 5
      environment = merge(
        { THRESHOLD = tostring(var.confidence_threshold) },
        { for k, v in { GUARD_BUCKET = var.bucket_name, GUARD_MODE = var.guard } : k => v if local.guarded },
      )
    }
  }

  function_names = { for key, _ in local.functions : key => "${var.name}-${key}" }
  zip_paths      = { for key, _ in local.functions : key => "${local.package_dir}/${key}/bootstrap.zip" }
  log_group_arns = { for key, name in local.function_names : key => "arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:/aws/lambda/${name}" }

  common_statements = {
    for key, _ in local.functions : key => [
      {
        # The log group is created by Terraform, so only streams and events are needed.
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${local.log_group_arns[key]}:*"]
      },
      {
        # X-Ray has no resource-level permissions: AWS requires Resource "*".
        Sid      = "XRayTracing"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = "*"
      },
      {
        # The project key encrypts the function's environment (decrypted with this role when
        # the function starts) and, for serialize-image-data, the images in the bucket.
        Sid      = "DecryptWithProjectKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.kms_key_arn]
      },
    ]
  }

  specific_statements = {
    "serialize-image-data" = [
      {
        Sid      = "ReadImages"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = [for prefix in var.image_prefixes : "${var.bucket_arn}/${prefix}*"]
      },
      {
        # Without ListBucket, S3 answers a missing key with 403 AccessDenied instead of 404
        # NoSuchKey, and the user would see ObjectUnreadable for a typo in s3_key. Limited to
        # listing the image prefixes, so no other key names are revealed.
        Sid       = "ListImagePrefixes"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = [var.bucket_arn]
        Condition = { StringLike = { "s3:prefix" = [for prefix in var.image_prefixes : "${prefix}*"] } }
      },
    ]
    "classify-image" = [
      {
        Sid      = "InvokeEndpoint"
        Effect   = "Allow"
        Action   = ["sagemaker:InvokeEndpoint"]
        Resource = [var.endpoint_arn]
      },
      {
        # Which model version serves, so each decision names it (a blue/green deployment
        # keeps the variant's name): the endpoint names its configuration, the configuration
        # its model (classify-image's serving_version.rs). Both are named after the stack.
        Sid    = "DescribeServingModel"
        Effect = "Allow"
        Action = ["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"]
        Resource = [
          var.endpoint_arn,
          "arn:${var.partition}:sagemaker:${var.region}:${var.account_id}:endpoint-config/${var.name}-*",
          "arn:${var.partition}:sagemaker:${var.region}:${var.account_id}:model/${var.name}-*",
        ]
      },
    ]
    "filter-low-confidence" = [for statement in [
      {
        Sid      = "ReadGuardState"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${var.bucket_arn}/${local.guard_key}"]
      },
      {
        # So that no state yet (before the monitor's first run) is a 404, not a 403 that
        # would read as "unreadable" and hold every decision.
        Sid       = "ListGuardState"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = [var.bucket_arn]
        Condition = { StringLike = { "s3:prefix" = [local.guard_key] } }
      },
    ] : statement if local.guarded]
  }

  role_policies = {
    for key, _ in local.functions : key => {
      Version   = "2012-10-17"
      Statement = concat(local.specific_statements[key], local.common_statements[key])
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.functions

  name        = "${local.function_names[each.key]}-lambda"
  description = "Execution role of ${local.function_names[each.key]}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  for_each = local.functions

  name   = "function"
  role   = aws_iam_role.this[each.key].id
  policy = jsonencode(local.role_policies[each.key])
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Step Functions invokes these functions synchronously (RequestResponse); a dead-letter queue only receives failed asynchronous invocations. Failures are recorded in the execution history.
  #checkov:skip=CKV_AWS_117:The functions reach only S3 and the SageMaker runtime over AWS APIs; a VPC would add NAT or interface endpoints (about $7/month/AZ each) and protect nothing private.
  #checkov:skip=CKV_AWS_115:Reserved concurrency fails on new accounts (their limit of 10 must stay unreserved); the endpoint's autoscaling and the states' retries bound load instead.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and a signing step in the release pipeline; the zips are built from this repository by scripts/build-lambdas.sh and deployed by the same principal.
  for_each = local.functions

  function_name    = local.function_names[each.key]
  description      = each.value.description
  role             = aws_iam_role.this[each.key].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["x86_64"]
  filename         = local.zip_paths[each.key]
  source_code_hash = try(filebase64sha256(local.zip_paths[each.key]), null)
  memory_size      = var.memory_size
  timeout          = each.value.timeout
  # The key encrypts environment variables; Lambda does not store it for a function
  # without any, and the provider then shows a change on every plan ("the AWS Lambda API does
  # not save this configuration and Terraform will show a perpetual difference", provider
  # docs for aws_lambda_function): set only where there are variables.
  kms_key_arn = length(each.value.environment) > 0 ? var.kms_key_arn : null

  tracing_config {
    mode = "Active"
  }

  # Lambda refuses an environment block with no variables.
  dynamic "environment" {
    for_each = length(each.value.environment) > 0 ? [each.value.environment] : []
    content {
      variables = environment.value
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = fileexists(local.zip_paths[each.key])
      error_message = "Missing ${local.zip_paths[each.key]}: build the Lambda zips with scripts/build-lambdas.sh (or point lambda_package_dir at a directory holding <function>/bootstrap.zip)."
    }
  }

  # Log group and permissions first, so the first invocation can log.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

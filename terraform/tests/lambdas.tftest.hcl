# The Lambda functions: runtime, tracing, environment, least-privilege roles.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name          = "scones"
  package_dir   = "./tests/fixtures/lambda"
  partition     = "aws"
  region        = "us-east-1"
  account_id    = "123456789012"
  bucket_arn    = "arn:aws:s3:::scones-123456789012-us-east-1"
  kms_key_arn   = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  endpoint_name = "scones-endpoint"
  endpoint_arn  = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/scones-endpoint"
  bucket_name   = "scones-123456789012-us-east-1"
}

run "functions" {
  command = plan

  module {
    source = "./modules/lambdas"
  }

  assert {
    condition = alltrue([for fn in aws_lambda_function.this : (
      fn.runtime == "provided.al2023" && fn.handler == "bootstrap" && tolist(fn.architectures) == tolist(["x86_64"]) &&
      fn.tracing_config[0].mode == "Active"
    )])
    error_message = "Every function is provided.al2023 x86_64 with X-Ray tracing."
  }

  assert {
    condition = alltrue([for fn in aws_lambda_function.this : (
      length(fn.environment) > 0 ? fn.kms_key_arn == var.kms_key_arn : fn.kms_key_arn == null
    )])
    error_message = "The project key encrypts each environment, and is not set on a function without one (Lambda does not store it there: a perpetual diff)."
  }

  assert {
    condition     = aws_lambda_function.this["serialize-image-data"].kms_key_arn == null
    error_message = "serialize-image-data has no environment, so no kms_key_arn."
  }

  assert {
    condition     = alltrue([for key, fn in aws_lambda_function.this : fn.filename == "./tests/fixtures/lambda/${key}/bootstrap.zip"])
    error_message = "Each function is deployed from <package_dir>/<function>/bootstrap.zip."
  }

  assert {
    condition     = aws_lambda_function.this["classify-image"].environment[0].variables == tomap({ ENDPOINT_NAME = "scones-endpoint" })
    error_message = "classify-image gets ENDPOINT_NAME."
  }

  assert {
    condition     = aws_lambda_function.this["filter-low-confidence"].environment[0].variables == tomap({ THRESHOLD = "0.93" })
    error_message = "filter-low-confidence gets THRESHOLD (default 0.93), and no guard without one (guard off)."
  }

  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.this["filter-low-confidence"].policy).Statement : !startswith(s.Sid, "ReadGuard") && !startswith(s.Sid, "ListGuard")])
    error_message = "Without a guard the filter reads nothing in the bucket."
  }


  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.retention_in_days == 365 && g.kms_key_id == var.kms_key_arn])
    error_message = "Log groups have a retention and the project key."
  }

  assert {
    condition = flatten([
      for s in jsondecode(aws_iam_role_policy.this["serialize-image-data"].policy).Statement : s.Resource
      if contains(s.Action, "s3:GetObject")
      ]) == [
      "arn:aws:s3:::scones-123456789012-us-east-1/train/*",
      "arn:aws:s3:::scones-123456789012-us-east-1/test/*",
    ]
    error_message = "serialize-image-data may read the image prefixes only."
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.this["serialize-image-data"].policy).Statement : {
        resource = s.Resource, prefixes = s.Condition.StringLike["s3:prefix"]
      } if contains(s.Action, "s3:ListBucket")
      ] == [{
        resource = ["arn:aws:s3:::scones-123456789012-us-east-1"]
        prefixes = ["train/*", "test/*"]
    }]
    error_message = "serialize-image-data may list the image prefixes only (so a missing key is NoSuchKey, not AccessDenied)."
  }

  assert {
    condition = flatten([
      for s in jsondecode(aws_iam_role_policy.this["classify-image"].policy).Statement : s.Resource
      if contains(s.Action, "sagemaker:InvokeEndpoint")
    ]) == [var.endpoint_arn]
    error_message = "classify-image may invoke that endpoint only."
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.this["classify-image"].policy).Statement : s
      if s.Sid == "DescribeServingModel"
      ] == [{
        Sid      = "DescribeServingModel"
        Effect   = "Allow"
        Action   = ["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"]
        Resource = [var.endpoint_arn, "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/scones-*", "arn:aws:sagemaker:us-east-1:123456789012:model/scones-*"]
    }]
    error_message = "classify-image may describe its endpoint and the stack's endpoint configurations and models only (to name the version serving)."
  }

  assert {
    condition = alltrue([
      for key, p in aws_iam_role_policy.this : key == "serialize-image-data" || !strcontains(p.policy, "s3:")
      ]) && alltrue([
      for key, p in aws_iam_role_policy.this : key == "classify-image" || !strcontains(p.policy, "sagemaker:")
    ])
    error_message = "Only serialize-image-data touches S3 and only classify-image touches SageMaker."
  }
}

run "threshold_is_configurable" {
  command = plan

  module {
    source = "./modules/lambdas"
  }

  variables {
    confidence_threshold = 0.8
  }

  assert {
    condition     = aws_lambda_function.this["filter-low-confidence"].environment[0].variables.THRESHOLD == "0.8"
    error_message = "THRESHOLD must follow confidence_threshold."
  }
}

run "missing_zips_fail_at_plan" {
  command = plan

  module {
    source = "./modules/lambdas"
  }

  variables {
    package_dir = "./tests/fixtures/does-not-exist"
  }

  expect_failures = [aws_lambda_function.this]
}

run "image_prefixes_without_wildcards" {
  command = plan

  module {
    source = "./modules/lambdas"
  }

  variables {
    image_prefixes = ["*"]
  }

  expect_failures = [var.image_prefixes]
}


run "guarded_filter" {
  command = plan

  module {
    source = "./modules/lambdas"
  }

  variables {
    guard = "hold"
  }

  assert {
    condition = aws_lambda_function.this["filter-low-confidence"].environment[0].variables == tomap({
      THRESHOLD    = "0.93"
      GUARD_BUCKET = "scones-123456789012-us-east-1"
      GUARD_MODE   = "hold"
    })
    error_message = "With a guard, the filter gets its bucket and mode."
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.this["filter-low-confidence"].policy).Statement : s.Resource if s.Sid == "ReadGuardState"] == [
      ["arn:aws:s3:::scones-123456789012-us-east-1/guard/state.json"]
    ]
    error_message = "The filter reads the guard's state object and nothing else in the bucket."
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.this["filter-low-confidence"].policy).Statement : s.Condition if s.Sid == "ListGuardState"] == [
      { StringLike = { "s3:prefix" = ["guard/state.json"] } }
    ]
    error_message = "Listing is limited to the state's own key, so a missing state answers 404 (no hold) rather than 403 (unreadable: held)."
  }
}

locals {
  state_machine_name = "${var.name}-workflow"

  # The template variables are the contract with the local engine, which renders the same
  # file with local function names.
  definition = templatefile(var.definition_file, {
    partition                      = var.partition
    serialize_image_data_function  = var.function_arns["serialize-image-data"]
    classify_image_function        = var.function_arns["classify-image"]
    filter_low_confidence_function = var.function_arns["filter-low-confidence"]
  })

  role_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "InvokeWorkflowFunctions"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = sort(values(var.function_arns))
      },
      {
        # Log delivery (vended logs) APIs have no resource-level permissions: AWS requires
        # Resource "*" (Step Functions developer guide, "IAM policies for logging").
        Sid    = "DeliverExecutionLogs"
        Effect = "Allow"
        Action = [
          "logs:CreateLogDelivery",
          "logs:GetLogDelivery",
          "logs:UpdateLogDelivery",
          "logs:DeleteLogDelivery",
          "logs:ListLogDeliveries",
          "logs:PutResourcePolicy",
          "logs:DescribeResourcePolicies",
          "logs:DescribeLogGroups",
        ]
        Resource = "*"
      },
      {
        # X-Ray has no resource-level permissions: AWS requires Resource "*".
        Sid      = "XRayTracing"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
        Resource = "*"
      },
    ]
  }
}

resource "aws_cloudwatch_log_group" "this" {
  # Step Functions only delivers to groups under /aws/vendedlogs/ without hitting the
  # resource-policy size limit.
  name              = "/aws/vendedlogs/states/${local.state_machine_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "this" {
  name        = "${local.state_machine_name}-states"
  description = "Execution role of the ${local.state_machine_name} state machine"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "states.amazonaws.com" }
      Action    = "sts:AssumeRole"
      # Only this account's state machine of this name may assume the role (confused-deputy
      # prevention; the condition the Step Functions console writes into the roles it
      # creates, narrowed from stateMachine:* to this one).
      Condition = {
        StringEquals = { "aws:SourceAccount" = var.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${var.partition}:states:${var.region}:${var.account_id}:stateMachine:${local.state_machine_name}" }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "workflow"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.role_policy)
}

resource "aws_sfn_state_machine" "this" {
  name       = local.state_machine_name
  type       = "STANDARD"
  role_arn   = aws_iam_role.this.arn
  definition = local.definition

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.this.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  tags = var.tags

  # The role must be able to deliver logs before Step Functions validates the logging
  # configuration.
  depends_on = [aws_iam_role_policy.this]
}

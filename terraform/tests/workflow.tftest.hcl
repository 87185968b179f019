# The one ASL definition, rendered by the workflow module with the three function ARNs.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name            = "scones"
  region          = "us-east-1"
  account_id      = "123456789012"
  definition_file = "./workflow/scones.asl.json"
  kms_key_arn     = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  function_arns = {
    "serialize-image-data"  = "arn:aws:lambda:us-east-1:123456789012:function:scones-serialize-image-data"
    "classify-image"        = "arn:aws:lambda:us-east-1:123456789012:function:scones-classify-image"
    "filter-low-confidence" = "arn:aws:lambda:us-east-1:123456789012:function:scones-filter-low-confidence"
  }
}

run "definition_renders_the_three_function_arns" {
  command = plan

  module {
    source = "./modules/workflow"
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.SerializeImageData.Parameters.FunctionName == var.function_arns["serialize-image-data"]
    error_message = "SerializeImageData must invoke the serialize-image-data function ARN."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.ClassifyImage.Parameters.FunctionName == var.function_arns["classify-image"]
    error_message = "ClassifyImage must invoke the classify-image function ARN."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.FilterLowConfidence.Parameters.FunctionName == var.function_arns["filter-low-confidence"]
    error_message = "FilterLowConfidence must invoke the filter-low-confidence function ARN."
  }

  assert {
    condition     = length(regexall("[$][{]", aws_sfn_state_machine.this.definition)) == 0
    error_message = "A template variable was left unrendered in the definition."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).StartAt == "SerializeImageData" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.SerializeImageData.Next == "ClassifyImage" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.ClassifyImage.Next == "FilterLowConfidence" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.FilterLowConfidence.End == true
    )
    error_message = "The rendered definition must keep the SerializeImageData -> ClassifyImage -> FilterLowConfidence chain."
  }

  assert {
    condition     = alltrue([for state in values(jsondecode(aws_sfn_state_machine.this.definition).States) : state.Resource == "arn:aws:states:::lambda:invoke"])
    error_message = "Every state must use the lambda:invoke integration."
  }

  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD"
    error_message = "The state machine must be STANDARD."
  }

  assert {
    condition     = aws_sfn_state_machine.this.logging_configuration[0].level == "ALL" && aws_sfn_state_machine.this.logging_configuration[0].include_execution_data
    error_message = "Logging must be level ALL with execution data."
  }

  assert {
    condition     = startswith(aws_cloudwatch_log_group.this.name, "/aws/vendedlogs/states/")
    error_message = "The execution log group must live under /aws/vendedlogs/states/."
  }

  assert {
    condition     = aws_sfn_state_machine.this.tracing_configuration[0].enabled
    error_message = "X-Ray tracing must be on."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.kms_key_id == var.kms_key_arn
    error_message = "The execution log group must be encrypted with the project key."
  }
}

run "role_may_invoke_only_the_three_functions" {
  command = plan

  module {
    source = "./modules/workflow"
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : flatten([s.Resource])
      if contains(flatten([s.Action]), "lambda:InvokeFunction")
    ])) == toset(values(var.function_arns))
    error_message = "lambda:InvokeFunction must be granted on exactly the three function ARNs."
  }

  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if anytrue([for a in flatten([s.Action]) : startswith(a, "lambda:")])]) == 1
    error_message = "Only one statement may grant Lambda actions."
  }
}

run "function_arns_must_name_all_three_functions" {
  command = plan

  module {
    source = "./modules/workflow"
  }

  variables {
    function_arns = {
      "serialize-image-data" = "arn:aws:lambda:us-east-1:123456789012:function:a"
      "classify-image"       = "arn:aws:lambda:us-east-1:123456789012:function:b"
    }
  }

  expect_failures = [var.function_arns]
}

# The service integrations' ARNs carry the stack's partition (GovCloud, China), not a
# hard-coded arn:aws.
run "definition_renders_the_partition" {
  command = plan

  module {
    source = "./modules/workflow"
  }

  variables {
    partition = "aws-us-gov"
  }

  assert {
    condition = alltrue([
      for s in values(jsondecode(aws_sfn_state_machine.this.definition).States) :
      s.Resource == "arn:aws-us-gov:states:::lambda:invoke"
    ])
    error_message = "Every state must invoke through arn:<partition>:states:::lambda:invoke."
  }
}

run "role_trusts_only_this_state_machine" {
  command = plan

  module {
    source = "./modules/workflow"
  }

  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Condition == {
      StringEquals = { "aws:SourceAccount" = "123456789012" }
      ArnLike      = { "aws:SourceArn" = "arn:aws:states:us-east-1:123456789012:stateMachine:scones-workflow" }
    }
    error_message = "The state machine role's trust policy must name this account and this state machine (confused-deputy prevention)."
  }
}

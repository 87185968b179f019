#!/usr/bin/env python3
"""Checks terraform/operator-policy.json, the policy the person running `terraform apply` and
`scones train --aws` attaches: valid JSON, every AWS service the configuration manages or the
CLI calls has its statement, and what the configuration makes AWS check on the caller beyond
each resource's own API (IMPLIED) is granted on the right resources, so a resource added
without a permission fails here rather than halfway through someone's apply."""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Terraform resource type prefix -> IAM service prefix.
SERVICES = {
    "aws_s3_": "s3",
    "aws_kms_": "kms",
    "aws_iam_": "iam",
    "aws_lambda_": "lambda",
    "aws_cloudwatch_log_": "logs",
    "aws_cloudwatch_metric_alarm": "cloudwatch",
    "aws_cloudwatch_event_": "events",
    "aws_sfn_": "states",
    "aws_sagemaker_": "sagemaker",
    "aws_appautoscaling_": "application-autoscaling",
    "aws_sns_": "sns",
}
# What the CLI and the training step call besides what Terraform manages.
CLI_ACTIONS = [
    "iam:PassRole", "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob",
    "sagemaker:InvokeEndpoint", "states:StartExecution", "states:GetExecutionHistory",
    "logs:FilterLogEvents", "cloudwatch:GetMetricData", "s3:*",
    # `scones models|promote|rollback --aws`: the versions, what the endpoint serves, and
    # the candidate endpoint the promotion gate measures on.
    "sagemaker:ListTrainingJobs", "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig",
    "sagemaker:DescribeModel", "sagemaker:CreateModel", "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig",
    "sagemaker:DeleteModel", "sts:GetCallerIdentity",
]

# What AWS checks on the caller beyond a resource's own API, when the configuration has the
# pattern: (regex over the .tf files, action, resource ARN the policy must grant it on, where).
IMPLIED = [
    # Application Auto Scaling validates the caller's rights on the target before it
    # registers it ("Permissions validation for Application Auto Scaling API calls on target
    # resources", Application Auto Scaling guide; AWSApplicationAutoscalingSageMakerEndpointPolicy).
    (r'resource "aws_appautoscaling_target"', "sagemaker:UpdateEndpointWeightsAndCapacities",
     "arn:aws:sagemaker:*:*:endpoint/scones-*", "the endpoint's scalable target"),
    # A target-tracking policy makes alarms named TargetTracking-...; their create, describe
    # and delete are validated against the caller too.
    *[(r'resource "aws_appautoscaling_policy"', f"cloudwatch:{action}",
       "arn:aws:cloudwatch:*:*:alarm:TargetTracking*", "the target-tracking alarms")
      for action in ("PutMetricAlarm", "DescribeAlarms", "DeleteAlarms")],
    # A customer key on a function's environment or an endpoint's volume: Lambda and
    # SageMaker create a grant on it with the caller's permissions.
    (r'\bkms_key_arn\s*=\s*(?!null)', "kms:CreateGrant", "arn:aws:kms:*:*:key/*",
     "a function or endpoint encrypted with the stack's key"),
]


def grants(policy, action, resource) -> bool:
    """Whether an Allow statement names `action` (or its service's `*`) on `resource` (or `*`)."""
    service = action.split(":")[0]
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if (action in actions or f"{service}:*" in actions) and (resource in resources or "*" in resources):
            return True
    return False


def main() -> int:
    policy = json.loads((ROOT / "operator-policy.json").read_text())
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    granted_services = {a.split(":")[0] for a in actions}
    problems = []
    types = set()
    sources = []
    for tf in ROOT.rglob("*.tf"):
        if ".terraform" in tf.parts:
            continue
        sources.append(tf.read_text())
        types |= set(re.findall(r'resource "(aws_[a-z0-9_]+)"', sources[-1]))
    for t in sorted(types):
        service = next((s for p, s in SERVICES.items() if t.startswith(p)), None)
        if service is None:
            problems.append(f"{t}: no IAM service known for it (add it to SERVICES and the policy)")
        elif service not in granted_services:
            problems.append(f"{t}: the policy grants nothing of {service}")
    problems += [f"the policy lacks {a}" for a in CLI_ACTIONS if a not in actions]
    for pattern, action, resource, why in IMPLIED:
        if any(re.search(pattern, text) for text in sources) and not grants(policy, action, resource):
            problems.append(f"the policy lacks {action} on {resource} ({why})")
    for p in problems:
        print(f"operator-policy.json: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

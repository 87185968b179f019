#!/usr/bin/env python3
"""Checks terraform/operator-policy.json, the policy the person running `terraform apply` and
`scones train --aws` attaches: valid JSON, and every AWS service the configuration manages
or the CLI calls has its statement, so a resource added without a permission fails here
rather than halfway through someone's apply."""
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
]


def main() -> int:
    policy = json.loads((ROOT / "operator-policy.json").read_text())
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    granted_services = {a.split(":")[0] for a in actions}
    problems = []
    types = set()
    for tf in ROOT.rglob("*.tf"):
        if ".terraform" in tf.parts:
            continue
        types |= set(re.findall(r'resource "(aws_[a-z0-9_]+)"', tf.read_text()))
    for t in sorted(types):
        service = next((s for p, s in SERVICES.items() if t.startswith(p)), None)
        if service is None:
            problems.append(f"{t}: no IAM service known for it (add it to SERVICES and the policy)")
        elif service not in granted_services:
            problems.append(f"{t}: the policy grants nothing of {service}")
    problems += [f"the policy lacks {a}" for a in CLI_ACTIONS if a not in actions]
    for p in problems:
        print(f"operator-policy.json: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

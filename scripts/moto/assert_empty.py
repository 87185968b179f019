#!/usr/bin/env python3
"""After `terraform destroy` against the moto server: check that nothing of the stack is left.

Usage: assert_empty.py --endpoint-url URL --name PREFIX
"""

from __future__ import annotations

import argparse
import sys

import boto3


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--name", required=True, help="resource name prefix (var.name)")
    args = parser.parse_args(argv)

    def client(service: str):  # noqa: ANN202
        return boto3.client(service, endpoint_url=args.endpoint_url, region_name="us-east-1")

    prefix = args.name
    left = {
        "s3 buckets": [b["Name"] for b in client("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)],
        "lambda functions": [
            f["FunctionName"] for f in client("lambda").list_functions()["Functions"] if f["FunctionName"].startswith(prefix)
        ],
        "state machines": [
            m["name"] for m in client("stepfunctions").list_state_machines()["stateMachines"] if m["name"].startswith(prefix)
        ],
        "iam roles": [r["RoleName"] for r in client("iam").list_roles()["Roles"] if r["RoleName"].startswith(prefix)],
        "sagemaker endpoints": [
            e["EndpointName"] for e in client("sagemaker").list_endpoints()["Endpoints"] if e["EndpointName"].startswith(prefix)
        ],
        "sagemaker models": [m["ModelName"] for m in client("sagemaker").list_models()["Models"] if m["ModelName"].startswith(prefix)],
        "alarms": [
            a["AlarmName"]
            for a in client("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
        ],
        "log groups": [
            g["logGroupName"]
            for g in client("logs").describe_log_groups()["logGroups"]
            if prefix in g["logGroupName"]
        ],
        "scalable targets": [
            t["ResourceId"]
            for t in client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        ],
    }
    leftovers = {kind: names for kind, names in left.items() if names}
    if leftovers:
        for kind, names in leftovers.items():
            print(f"left after destroy: {kind}: {', '.join(names)}")
        return 1
    print(f"nothing named {prefix}* left ({', '.join(left)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

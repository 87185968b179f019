#!/usr/bin/env python3
"""Start one execution of the deployed state machine on the moto server and check that the
rendered definition runs through its three Lambda states.

moto runs Lambda tasks without Docker as functions that echo their input, so this proves the
wiring (ARNs in the definition resolve to the deployed functions, the states chain to the
end), not the handlers. Exits non-zero with a reason on any mismatch.

Usage: smoke_workflow.py --endpoint-url URL --state-machine-arn ARN --bucket NAME
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import boto3

EXPECTED_STATES = ["SerializeImageData", "ClassifyImage", "FilterLowConfidence"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--state-machine-arn", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--timeout-seconds", type=float, default=60)
    args = parser.parse_args(argv)

    sfn = boto3.client("stepfunctions", endpoint_url=args.endpoint_url, region_name="us-east-1")
    described = sfn.describe_state_machine(stateMachineArn=args.state_machine_arn)
    definition = json.loads(described["definition"])
    if described.get("type") != "STANDARD":
        print(f"state machine type is {described.get('type')}, expected STANDARD")
        return 1

    record = {"s3_bucket": args.bucket, "s3_key": "test/bicycle_s_000513.png"}
    started = sfn.start_execution(
        stateMachineArn=args.state_machine_arn,
        name=f"emulator-smoke-{int(time.time() * 1000)}",
        input=json.dumps(record),
    )
    deadline = time.monotonic() + args.timeout_seconds
    while True:
        execution = sfn.describe_execution(executionArn=started["executionArn"])
        if execution["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            print(f"execution still RUNNING after {args.timeout_seconds}s")
            return 1
        time.sleep(0.2)

    events = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=1000)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    if execution["status"] != "SUCCEEDED":
        print(f"execution {execution['status']}: {execution.get('error')} {execution.get('cause')}")
        return 1
    if entered != EXPECTED_STATES:
        print(f"states entered {entered}, expected {EXPECTED_STATES}")
        return 1
    functions = [definition["States"][s]["Parameters"]["FunctionName"] for s in EXPECTED_STATES]
    output = json.loads(execution["output"])
    if output.get("s3_key") != record["s3_key"] or output.get("s3_bucket") != record["s3_bucket"]:
        print(f"record not carried through: {output}")
        return 1
    print(f"execution SUCCEEDED through {' -> '.join(entered)} ({', '.join(functions)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

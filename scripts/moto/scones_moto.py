#!/usr/bin/env python3
"""moto server for the scones tests, with the gaps that stop Terraform (and the CLI) patched.

Measured against moto 5.2.x with hashicorp/aws 5.100 (../../../shared/notes/local-aws-emulator.md):

1. IAM: AWS managed policies are unknown unless MOTO_IAM_LOAD_MANAGED_POLICIES=true.
2. Step Functions: the provider calls ValidateStateMachineDefinition and
   ListStateMachineVersions, which moto does not implement.
3. Application Auto Scaling: ListTagsForResource is not implemented.
4. SageMaker: DescribeModel returns an empty VpcConfig and always EnableNetworkIsolation =
   false, so every plan after apply wants to replace the model.
5. S3: moto evaluates bucket policies without their conditions, so the stack's TLS-only
   statement (Deny when aws:SecureTransport is false) denies every object request. Clients
   reach AWS over TLS; the emulator is plain HTTP on loopback, so requests are taken as
   secure transport: that one kind of statement is left out of the evaluation. Every other
   statement is evaluated as moto does.
6. Lambda without Docker: a deployed function whose zip holds a real `bootstrap` runs that
   binary through the Lambda Runtime API, its output going to CloudWatch Logs
   (functions.py, logs.py). Answers can also be programmed per function (lambdas.py): merge
   fields into the input, fail with a function error, or take a while. Other functions echo
   their input as moto does.
7. SageMaker Runtime: InvokeEndpoint answers with the local stack's model (`scones serve`),
   writing SageMaker data capture to the bucket and the endpoint's metrics (endpoint.py);
   EventBridge scheduled rules fire their Lambda targets on demand or every N seconds
   (schedule.py).
8. SageMaker endpoint updates: moto has no UpdateEndpoint and drops CreateEndpoint's
   DeploymentConfig, which the provider reads back from DescribeEndpoint's
   LastDeploymentConfig (so every plan would want to change it). UpdateEndpoint switches
   the endpoint to the new configuration at once (no fleets to shift traffic between: the
   canary and the baking are SageMaker's, not played here), and the deployment
   configuration of the last CreateEndpoint or UpdateEndpoint is what DescribeEndpoint
   returns, so a test reads back what the update carried. An automatic rollback can be
   played (POST /scones-api/endpoint-rollback, wire.py): that update leaves the endpoint on
   its configuration, InService, with a FailureReason naming the alarm (the wording is
   ours: what SageMaker writes there after a rollback is not verified).

Requests pass through wire.py's middleware first: CloudWatch's rpcv2Cbor protocol (what the
Rust aws-sdk-cloudwatch speaks) translated to the query protocol moto serves, fault injection
(POST /scones-api/faults) and a per-operation call log (GET /scones-api/calls).

Also switches on what the workflow test needs: Step Functions executions really run
(stepfunctions.execute_state_machine) and Lambda tasks run without Docker
(lambda.use_docker = false), set before any resource exists.

Binds 127.0.0.1 only. Usage: scones_moto.py --port PORT
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def patch_moto() -> None:
    """Apply the patches; fails loudly if moto's internals moved."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.core.config import default_user_config
    from moto.core.responses import ActionResult
    from moto.s3.models import FakeBucket
    from moto.sagemaker.models import Model
    from moto.sagemaker.responses import SageMakerResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    # (2) The definition is validated by the tests themselves (terraform test decodes it);
    # moto's interpreter rejects an invalid one when an execution starts.
    def validate_state_machine_definition(self):  # noqa: ANN001, ANN202
        definition = self._get_param("definition")
        try:
            json.loads(definition or "")
        except ValueError as err:
            return ActionResult(
                {
                    "result": "FAIL",
                    "diagnostics": [
                        {
                            "severity": "ERROR",
                            "code": "INVALID_JSON_DESCRIPTION",
                            "message": str(err),
                        }
                    ],
                    "truncated": False,
                }
            )
        return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})

    def list_state_machine_versions(self):  # noqa: ANN001, ANN202
        return ActionResult({"stateMachineVersions": []})

    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition
    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions

    # (3) Tags are not stored for scalable targets; report none.
    def list_tags_for_resource(self):  # noqa: ANN001, ANN202
        return json.dumps({"Tags": {}})

    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource

    # (4) Remember EnableNetworkIsolation; omit an empty VpcConfig, as AWS does.
    original_create_model = SageMakerResponse.create_model

    def create_model(self):  # noqa: ANN001, ANN202
        result = original_create_model(self)
        model = self.sagemaker_backend._models.get(self._get_param("ModelName"))
        if model is not None:
            model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation", False))
        return result

    original_response_object = Model.response_object

    def response_object(self):  # noqa: ANN001, ANN202
        response = original_response_object.fget(self)
        if not response.get("VpcConfig"):
            response.pop("VpcConfig", None)
        return response

    SageMakerResponse.create_model = create_model
    Model.response_object = property(response_object)

    # (8) UpdateEndpoint, and the deployment configuration kept and described.
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint
    from moto.core.utils import utcnow

    original_create_endpoint = SageMakerResponse.create_endpoint

    def create_endpoint(self):  # noqa: ANN001, ANN202
        result = original_create_endpoint(self)
        endpoint = self.sagemaker_backend.endpoints.get(self._get_param("EndpointName"))
        if endpoint is not None:
            endpoint.last_deployment_config = self._get_param("DeploymentConfig")
        return result

    def update_endpoint(self):  # noqa: ANN001, ANN202
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise ValidationError(message=f"Could not find endpoint '{FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)}'.")
        config_name = self._get_param("EndpointConfigName")
        try:
            config = backend.describe_endpoint_config(config_name)
        except (KeyError, ValidationError):
            raise ValidationError(message=f"Could not find endpoint configuration '{config_name}'.")
        import endpoint as local_endpoint

        endpoint.last_modified_time = utcnow()
        if self._get_param("DeploymentConfig") is not None:
            endpoint.last_deployment_config = self._get_param("DeploymentConfig")
        alarm = local_endpoint.take_rollback()
        if alarm is not None:
            # Rolled back: all traffic stays on the old fleet, which keeps serving its
            # configuration; the endpoint is InService again and says why.
            endpoint.failure_reason = (f"Deployment was rolled back: CloudWatch alarm {alarm} went into ALARM "
                                       "during the baking period")
            return ActionResult({"EndpointArn": endpoint.arn})
        endpoint.endpoint_config_name = config_name
        endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
        endpoint.data_capture_config = config.get("DataCaptureConfig")
        endpoint.failure_reason = None
        return ActionResult({"EndpointArn": endpoint.arn})

    original_endpoint_response = FakeEndpoint.response_object

    def endpoint_response(self):  # noqa: ANN001, ANN202
        response = original_endpoint_response.fget(self)
        deployment = getattr(self, "last_deployment_config", None)
        if deployment:
            response["LastDeploymentConfig"] = deployment
        return response

    SageMakerResponse.create_endpoint = create_endpoint
    SageMakerResponse.update_endpoint = update_endpoint
    FakeEndpoint.response_object = property(endpoint_response)

    # (5) Requests count as arriving over TLS.
    def get_permission(self, action, resource):  # noqa: ANN001, ANN202
        from moto.iam.access_control import IAMPolicy, PermissionResult

        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode())
        statements = policy.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        policy["Statement"] = [s for s in statements if not _denies_insecure_transport(s)]
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission

    # (6) Programmed Lambda answers per function (lambdas.py; POST /scones-api/lambda).
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import lambdas

    lambdas.patch_simple_backend()

    # (7) InvokeEndpoint by the local model, with data capture and metrics (endpoint.py);
    # scheduled rules fired (schedule.py).
    import endpoint
    import schedule

    endpoint.start()
    schedule.start()

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    default_user_config.setdefault("lambda", {})["use_docker"] = False


def _denies_insecure_transport(statement: dict) -> bool:
    """A Deny whose only condition is aws:SecureTransport = false."""
    condition = statement.get("Condition") or {}
    secure = condition.get("Bool", {}).get("aws:SecureTransport")
    if isinstance(secure, list) and len(secure) == 1:
        secure = secure[0]
    return (
        statement.get("Effect") == "Deny"
        and list(condition) == ["Bool"]
        and list(condition["Bool"]) == ["aws:SecureTransport"]
        and str(secure).lower() == "false"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    args = parser.parse_args(argv)

    # (1) Must be set before moto's IAM backend is imported.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "false")

    patch_moto()
    serve(args.port)
    return 0


def serve(port: int) -> None:
    """moto's server app (as `moto_server` runs it) behind the scones middleware
    (wire.py: CloudWatch rpcv2Cbor, fault injection, call log), on 127.0.0.1 only."""
    import signal

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from wire import SconesMiddleware

    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        "127.0.0.1",
        port,
        SconesMiddleware(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

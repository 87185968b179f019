"""SageMaker InvokeEndpoint answered by the local stack's model, with what SageMaker records
around it: data capture files in the bucket and the endpoint's AWS/SageMaker metrics.

The model: `scones serve` (tui/src/cli/serve.rs) on a home with a trained model, started once
per endpoint and fed one request at a time over a pipe. Which binary and home come from
`SCONES_EMULATOR_SCONES` and `SCONES_EMULATOR_HOME` (scripts/with-moto.sh passes them through)
or `POST /scones-api/endpoint {"scones": BIN, "home": DIR}`. Without them moto's own answer
stands (its canned results), as before.

What SageMaker does and this copies (SageMaker developer guide: "Invoke models for real-time
inference", "Capture data from real-time endpoint", "Monitor SageMaker AI with CloudWatch"):
- an endpoint that does not exist is a `ValidationError` (400);
- the container's answer is the body, `x-Amzn-Invoked-Production-Variant` names the variant;
  a container 4XX or 5XX is a `ModelError` (424) carrying the container's status and message;
- data capture per the endpoint config's DataCaptureConfig: `InitialSamplingPercentage` of
  requests, the modes in `CaptureOptions`, output as JSON text when its content type is in
  `JsonContentTypes` (else BASE64), written as JSON lines under
  `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/` a little after the inference
  (files flushed every `CAPTURE_FLUSH_SECONDS`, as SageMaker buffers them);
- `Invocations`, `InvocationsPerInstance`, `ModelLatency` and `OverheadLatency` (microseconds),
  `Invocation4XXErrors` and `Invocation5XXErrors` with dimensions EndpointName and
  VariantName.
"""

from __future__ import annotations

import base64
import json
import os
import random
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import logs

CAPTURE_FLUSH_SECONDS = 1.0

_LOCK = threading.Lock()
_SETTINGS: dict[str, str] = {}
_MODELS: dict[str, "Model"] = {}
_CAPTURE: dict[tuple[str, str, str], list[bytes]] = {}  # (account, bucket, prefix) -> lines


_ROLLBACKS: list[str] = []  # alarms that fire during the next endpoint updates, in order


def roll_back_next_update(alarm: str) -> None:
    """The next UpdateEndpoint is rolled back as if `alarm` fired while the new fleet baked
    (scones_moto.py, patch 8): the endpoint keeps its configuration and says why."""
    with _LOCK:
        _ROLLBACKS.append(alarm)


def take_rollback() -> str | None:
    """The alarm that rolls back this update, if one was programmed."""
    with _LOCK:
        return _ROLLBACKS.pop(0) if _ROLLBACKS else None


def configure(scones: str | None, home: str | None) -> dict[str, str]:
    """Which `scones` binary and home answer; restarts the models already started."""
    with _LOCK:
        if scones and home:
            _SETTINGS.update({"scones": scones, "home": home})
        else:
            _SETTINGS.clear()
        models = list(_MODELS.values())
        _MODELS.clear()
    for m in models:
        m.close()
    return dict(_SETTINGS)


class ModelFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Model:
    """One `scones serve` process; requests take turns (the model serves one at a time)."""

    def __init__(self, scones: str, home: str) -> None:
        from functions import spawn

        self.lock = threading.Lock()
        # Its warnings go to a file (a pipe nobody reads would fill and block it); the tail
        # is quoted if the process dies.
        self.stderr = tempfile.TemporaryFile()
        self.process = spawn(
            [scones, "--home", home, "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )

    def predict(self, body: bytes) -> tuple[bytes, str]:
        with self.lock:
            assert self.process.stdin is not None and self.process.stdout is not None
            try:
                self.process.stdin.write(struct.pack("<I", len(body)) + body)
                self.process.stdin.flush()
                line = self.process.stdout.readline()
            except OSError as err:
                raise ModelFailed(500, f"the model process failed: {err}") from err
            if not line:
                self.stderr.seek(0)
                err = self.stderr.read().decode("utf-8", "replace")
                raise ModelFailed(500, f"the model process exited: {err.strip()[-500:]}")
        answer = json.loads(line)
        if "error" in answer:
            raise ModelFailed(400 if answer.get("client_error") else 500, answer["error"])
        return json.dumps(answer["probabilities"]).encode(), answer.get("version", "")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _model(endpoint_name: str) -> Model | None:
    with _LOCK:
        if "scones" not in _SETTINGS:
            return None
        model = _MODELS.get(endpoint_name)
        if model is None or model.process.poll() is not None:
            model = Model(_SETTINGS["scones"], _SETTINGS["home"])
            _MODELS[endpoint_name] = model
        return model


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    document = {"__type": code, "message": message, "Message": message}
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, json.dumps(document).encode()


def invoke(account: str, region: str, endpoint_name: str, content_type: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
    """InvokeEndpoint, see the module docstring: (status, headers, body), or None when no
    local model is configured (moto answers)."""
    from moto.sagemaker.models import sagemaker_backends

    model = _model(endpoint_name)
    if model is None:
        return None
    backend = sagemaker_backends[account][region]
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        return _error(400, "ValidationError", f"Endpoint {endpoint_name} of account {account} not found.")
    variant = (endpoint.production_variants or [{}])[0].get("VariantName", "AllTraffic")

    started = time.monotonic()
    status, answer, message = 200, b"", ""
    try:
        answer, _version = model.predict(body)
    except ModelFailed as failed:
        status, message = failed.status, failed.args[0]
    model_us = (time.monotonic() - started) * 1e6
    logs.metric(
        account,
        region,
        "AWS/SageMaker",
        {"EndpointName": endpoint_name, "VariantName": variant},
        [
            ("Invocations", 1.0, "Count"),
            ("InvocationsPerInstance", 1.0, "Count"),
            ("ModelLatency", model_us, "Microseconds"),
            ("OverheadLatency", 1000.0, "Microseconds"),
            ("Invocation4XXErrors", 1.0 if 400 <= status < 500 else 0.0, "Count"),
            ("Invocation5XXErrors", 1.0 if status >= 500 else 0.0, "Count"),
        ],
    )
    if status != 200:
        kind = "client" if status < 500 else "server"
        return _error(
            424,
            "ModelError",
            f'Received {kind} error ({status}) from primary with message "{message}". '
            f"See the /aws/sagemaker/Endpoints/{endpoint_name} log group for more information.",
        )
    _capture(account, endpoint, endpoint_name, variant, content_type, body, answer)
    return 200, {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": variant}, answer


def _capture(account: str, endpoint: Any, name: str, variant: str, content_type: str, body: bytes, answer: bytes) -> None:
    config = endpoint.data_capture_config or {}
    if not config.get("EnableCapture"):
        return
    if random.uniform(0, 100) >= float(config.get("InitialSamplingPercentage", 100)):
        return
    modes = {o.get("CaptureMode") for o in config.get("CaptureOptions", [])} or {"Input", "Output"}
    json_types = (config.get("CaptureContentTypeHeader") or {}).get("JsonContentTypes") or []
    data: dict[str, Any] = {}
    if "Input" in modes:
        data["endpointInput"] = _payload("INPUT", content_type, body, json_types)
    if "Output" in modes:
        data["endpointOutput"] = _payload("OUTPUT", "application/json", answer, json_types)
    now = datetime.now(timezone.utc)
    record = {
        "captureData": data,
        "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"},
        "eventVersion": "0",
    }
    destination = config["DestinationS3Uri"]
    bucket, _, prefix = destination[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    variant_prefix = f"{prefix}/{name}/{variant}/" if prefix else f"{name}/{variant}/"
    with _LOCK:
        _CAPTURE.setdefault((account, bucket, variant_prefix), []).append(json.dumps(record).encode())


def _payload(mode: str, content_type: str, data: bytes, json_types: list[str]) -> dict[str, str]:
    if content_type in json_types:
        return {"observedContentType": content_type, "mode": mode, "data": data.decode("utf-8", "replace"), "encoding": "JSON"}
    return {"observedContentType": content_type, "mode": mode, "data": base64.b64encode(data).decode(), "encoding": "BASE64"}


def _flush_forever() -> None:
    from moto.s3.models import s3_backends

    while True:
        time.sleep(CAPTURE_FLUSH_SECONDS)
        with _LOCK:
            pending = {k: v for k, v in _CAPTURE.items() if v}
            _CAPTURE.clear()
        for (account, bucket, variant_prefix), lines in pending.items():
            now = datetime.now(timezone.utc)
            key = f"{variant_prefix}{now:%Y/%m/%d/%H}/{now:%M-%S}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            try:
                s3_backends[account]["global"].put_object(bucket, key, b"\n".join(lines) + b"\n")
            except Exception as err:  # noqa: BLE001 - a deleted bucket: SageMaker drops it too
                print(f"scones emulator: capture not written to s3://{bucket}/{key}: {err}", flush=True)


def start() -> None:
    """Reads the model settings from the environment and starts the capture flusher; requests
    reach `invoke` from wire.py (moto's own handler decodes every body as UTF-8 first, so a
    PNG never got past it)."""
    configure(os.environ.get("SCONES_EMULATOR_SCONES"), os.environ.get("SCONES_EMULATOR_HOME"))
    threading.Thread(target=_flush_forever, daemon=True, name="capture-flush").start()


def shutdown() -> None:
    configure(None, None)

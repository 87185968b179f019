"""Programmed answers of moto's Docker-less Lambda, per function, for the over-the-wire tests.

moto's `lambda.use_docker = false` backend answers every Invoke with its input (or with one
global FIFO of canned strings, which concurrent executions would race for). The workflow
tests need more: ClassifyImage must add `inferences` to the record it was given,
FilterLowConfidence must fail some images with a `LowConfidence` function error, and a step
must be slow enough for an execution to be seen RUNNING and stopped. So each function can be
given a list of behaviours (`POST /scones-api/lambda`, wire.py):

    {"function": "<name or ARN>", "match": "<substring of the payload>",   # optional
     "delay_seconds": 2.0,                                                   # optional
     "merge": {"inferences": [0.97, 0.03]}}                                  # output = input + merge
    {"function": "...", "error": {"errorType": "LowConfidence", "errorMessage": "..."}}

The first behaviour whose `match` is in the payload wins. With none, a deployed function whose
zip holds a real `bootstrap` runs it (functions.py); any other is echoed as moto does, so
programmed functions need not exist.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

_LOCK = threading.Lock()
_BEHAVIOURS: dict[str, list[dict[str, Any]]] = {}


def _name(function: str) -> str:
    """`arn:aws:lambda:r:a:function:NAME[:qualifier]` or NAME -> NAME."""
    if ":function:" in function:
        return function.split(":function:", 1)[1].split(":", 1)[0]
    return function


def program(spec: dict[str, Any]) -> dict[str, Any]:
    """Adds one behaviour; raises ValueError/KeyError/TypeError on a bad spec."""
    behaviour: dict[str, Any] = {
        "match": spec.get("match"),
        "delay_seconds": float(spec.get("delay_seconds") or 0),
    }
    if "error" in spec:
        error = spec["error"]
        behaviour["error"] = {"errorType": str(error["errorType"]), "errorMessage": str(error.get("errorMessage", ""))}
    elif "merge" in spec:
        if not isinstance(spec["merge"], dict):
            raise TypeError("merge must be an object")
        behaviour["merge"] = spec["merge"]
    elif not behaviour["delay_seconds"]:
        raise ValueError("a behaviour needs error, merge or delay_seconds")
    with _LOCK:
        _BEHAVIOURS.setdefault(_name(str(spec["function"])), []).append(behaviour)
    return behaviour


def clear(function: str | None = None) -> None:
    with _LOCK:
        if function is None:
            _BEHAVIOURS.clear()
        else:
            _BEHAVIOURS.pop(_name(function), None)


def answer(function: str, body: Any, response_headers: dict[str, str]) -> bytes | None:
    """The programmed answer to an Invoke, or None to let moto answer."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    with _LOCK:
        behaviours = list(_BEHAVIOURS.get(_name(function), []))
    for b in behaviours:
        if b["match"] and b["match"] not in text:
            continue
        if b["delay_seconds"]:
            time.sleep(b["delay_seconds"])
        if "error" in b:
            # What the Lambda service does for an uncaught handler error.
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(b["error"]).encode()
        if "merge" in b:
            try:
                record = json.loads(text) if text else {}
            except ValueError:
                record = {}
            if not isinstance(record, dict):
                record = {"input": record}
            record.update(b["merge"])
            return json.dumps(record).encode()
        return None
    return None


def patch_simple_backend() -> None:
    """Routes moto's Docker-less Invoke through `answer` first, then the function's real
    binary (functions.py), then moto's echo."""
    import functions
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke

    def invoke(self, function_name, qualifier, body, headers, response_headers):  # noqa: ANN001, ANN202
        programmed = answer(function_name, body, response_headers)
        if programmed is not None:
            return programmed
        real = functions.invoke(self, function_name, qualifier, body, response_headers)
        if real is not None:
            return real
        return original(self, function_name, qualifier, body, headers, response_headers)

    LambdaSimpleBackend.invoke = invoke

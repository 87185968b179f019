"""WSGI middleware in front of moto's server app, for the over-the-wire tests of the Rust code.

1. **CloudWatch over rpcv2Cbor.** aws-sdk-cloudwatch (Rust, 1.1xx) speaks Smithy RPC v2 CBOR
   (`POST /service/GraniteServiceVersion20100801/operation/<Op>`, `smithy-protocol:
   rpc-v2-cbor`); moto 5.2 implements CloudWatch only over the query protocol. Such requests
   are translated with botocore's own service model: CBOR params -> botocore's query
   serializer -> moto -> botocore's query parser -> CBOR (timestamps as tag 1, errors as
   `{"__type", "message"}` with moto's status). No CloudWatch behaviour is added or changed:
   moto answers every call.
2. **Fault injection.** `POST /scones-api/faults` with `{"operation": "ListExecutions",
   "match": "<substring of the request body or path>", "count": 3, "code":
   "ThrottlingException", "message": "..."}` makes the next `count` matching requests fail with
   that error (and message, default a throttling one) in
   the request's own protocol (JSON, CBOR, query XML; S3 gets `503 SlowDown`), so tests can
   check backoff and recovery. `DELETE /scones-api/faults` clears them.
3. **Lambda answers.** `POST /scones-api/lambda` programs what moto's Docker-less Lambda
   answers for one function (lambdas.py); `DELETE /scones-api/lambda[?function=NAME]` forgets.
4. **InvokeEndpoint** is answered by the local model (endpoint.py) before moto sees it.
5. **The emulator's clock and model.** `POST /scones-api/schedule` fires every EventBridge
   scheduled rule now (schedule.py); `POST /scones-api/endpoint {"scones": BIN, "home": DIR}`
   sets which local model answers InvokeEndpoint (endpoint.py);
   `POST /scones-api/endpoint-rollback {"alarm": NAME}` rolls the next UpdateEndpoint back
   as if that alarm fired while the new fleet baked (scones_moto.py, patch 8).
6. **Call log.** Every AWS request is counted per `<signing service>.<Operation>`;
   `GET /scones-api/calls` returns the counts (`?reset=1` also zeroes them), so tests can
   cross-check the client-side counter against what reached the server.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import threading
import urllib.parse
from collections import Counter
from datetime import timezone
from typing import Any, Callable, Iterable

import cbor2

StartResponse = Callable[..., Any]

CONTROL_PREFIX = "/scones-api/"

# Signing name (credential scope) -> botocore service name, for the rpcv2Cbor translation.
CBOR_SERVICES = {"monitoring": "cloudwatch"}

THROTTLE_MESSAGE = "Rate exceeded (injected by the scones moto wrapper)"


def _signing_service(environ: dict[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split(",")[0].split()[1]
        return scope.split("/")[3]
    except (IndexError, ValueError):
        return "unknown"


def _signing_region(environ: dict[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return auth.split(",")[0].split()[1].split("/")[2]
    except (IndexError, ValueError):
        return "us-east-1"


# SageMaker Runtime's InvokeEndpoint: POST /endpoints/<name>/invocations.
_INVOCATIONS = re.compile(r"^/endpoints/([^/]+)/invocations$")


def _protocol(environ: dict[str, Any]) -> str:
    if environ.get("HTTP_SMITHY_PROTOCOL", "").lower() == "rpc-v2-cbor":
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return "query"
    return "rest"


def _s3_operation(method: str, path: str, query: str) -> str:
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    has_key = "/" in path.strip("/")
    if method == "GET" and "list-type" in params:
        return "ListObjectsV2"
    if method == "GET" and has_key:
        return "GetObject"
    if method == "PUT" and has_key:
        return "PutObject"
    if method == "HEAD" and has_key:
        return "HeadObject"
    return method


def _operation(environ: dict[str, Any], body: bytes) -> str:
    service = _signing_service(environ)
    path = environ.get("PATH_INFO", "")
    protocol = _protocol(environ)
    if protocol == "cbor":
        return f"{service}.{path.rstrip('/').rsplit('/', 1)[-1]}"
    if protocol == "json":
        return f"{service}.{environ['HTTP_X_AMZ_TARGET'].rsplit('.', 1)[-1]}"
    if protocol == "query":
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        return f"{service}.{action}"
    if service == "s3":
        return "s3." + _s3_operation(environ.get("REQUEST_METHOD", ""), path, environ.get("QUERY_STRING", ""))
    return f"{service}.{environ.get('REQUEST_METHOD', '')} {path}"


def _error_response(protocol: str, code: str, status: int, message: str = THROTTLE_MESSAGE) -> tuple[int, list[tuple[str, str]], bytes]:
    from xml.sax.saxutils import escape

    if protocol == "cbor":
        body = cbor2.dumps({"__type": code, "message": message})
        return status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")], body
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, [("Content-Type", "application/x-amz-json-1.0")], body
    if protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            "<RequestId>scones-fault</RequestId></ErrorResponse>"
        ).encode()
        return status, [("Content-Type", "text/xml")], body
    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
        f"<Message>{escape(message)}</Message><RequestId>scones-fault</RequestId></Error>"
    ).encode()
    return status, [("Content-Type", "application/xml")], body


def _status_line(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


class SconesMiddleware:
    """See the module docstring."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.faults: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self._models: dict[str, Any] = {}

    # ---- WSGI entry ---------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response)
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)

        body = self._read_body(environ)
        operation = self._count(environ, body)
        fault = self._take_fault(operation, body, environ)
        if fault is not None:
            status, headers, payload = _error_response(
                _protocol(environ),
                fault["code"],
                int(fault.get("status") or (503 if _protocol(environ) == "rest" else 400)),
                fault.get("message") or THROTTLE_MESSAGE,
            )
            headers.append(("Content-Length", str(len(payload))))
            start_response(_status_line(status), headers)
            return [payload]
        if _protocol(environ) == "cbor":
            return self._cbor_via_query(environ, body, start_response)
        if _INVOCATIONS.match(environ.get("PATH_INFO", "")):
            answered = self._invoke_endpoint(environ, body)
            if answered is not None:
                status, headers, payload = answered
                start_response(_status_line(status), [*headers.items(), ("Content-Length", str(len(payload)))])
                return [payload]
        return self.app(environ, start_response)

    @staticmethod
    def _invoke_endpoint(environ: dict[str, Any], body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        import endpoint
        from moto.core import DEFAULT_ACCOUNT_ID

        match = _INVOCATIONS.match(environ.get("PATH_INFO", ""))
        if match is None or _signing_service(environ) != "sagemaker":
            return None
        name = urllib.parse.unquote(match.group(1))
        return endpoint.invoke(DEFAULT_ACCOUNT_ID, _signing_region(environ), name, environ.get("CONTENT_TYPE", ""), body)

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes:
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        length = environ.get("CONTENT_LENGTH")
        if length:
            try:
                body = stream.read(int(length))
            except ValueError:
                return b""
        elif environ.get("wsgi.input_terminated"):
            # Chunked request body, already de-chunked by the server.
            body = stream.read()
        else:
            return b""
        # Put it back for moto.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return body

    def _count(self, environ: dict[str, Any], body: bytes) -> str:
        operation = _operation(environ, body)
        with self.lock:
            self.calls[operation] += 1
        return operation

    # ---- faults -------------------------------------------------------------------------

    def _take_fault(self, operation: str, body: bytes, environ: dict[str, Any]) -> dict[str, Any] | None:
        short = operation.rsplit(".", 1)[-1]
        haystack = body + b" " + (environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")).encode()
        with self.lock:
            for fault in self.faults:
                if fault["count"] <= 0:
                    continue
                if fault["operation"] not in (operation, short):
                    continue
                match = fault.get("match")
                if match and match.encode() not in haystack:
                    continue
                fault["count"] -= 1
                fault["fired"] = fault.get("fired", 0) + 1
                return dict(fault)
        return None

    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        body = self._read_body(environ)
        status, answer = 200, {}
        if path == CONTROL_PREFIX + "faults" and method == "POST":
            try:
                spec = json.loads(body or b"{}")
                fault = {
                    "operation": str(spec["operation"]),
                    "match": spec.get("match"),
                    "count": int(spec.get("count", 1)),
                    "code": str(spec.get("code", "ThrottlingException")),
                    "status": spec.get("status"),
                    "message": spec.get("message"),
                }
            except (ValueError, KeyError, TypeError) as err:
                status, answer = 400, {"error": f"bad fault spec: {err}"}
            else:
                with self.lock:
                    self.faults.append(fault)
                answer = {"armed": fault}
        elif path == CONTROL_PREFIX + "faults" and method == "DELETE":
            with self.lock:
                self.faults.clear()
        elif path == CONTROL_PREFIX + "faults":
            with self.lock:
                answer = {"faults": list(self.faults)}
        elif path == CONTROL_PREFIX + "lambda" and method == "POST":
            import lambdas

            try:
                answer = {"programmed": lambdas.program(json.loads(body or b"{}"))}
            except (ValueError, KeyError, TypeError) as err:
                status, answer = 400, {"error": f"bad lambda behaviour: {err}"}
        elif path == CONTROL_PREFIX + "lambda" and method == "DELETE":
            import lambdas

            lambdas.clear(query.get("function", [None])[0])
        elif path == CONTROL_PREFIX + "schedule" and method == "POST":
            import schedule

            answer = {"fired": schedule.fire_all()}
        elif path == CONTROL_PREFIX + "endpoint" and method == "POST":
            import endpoint

            try:
                spec = json.loads(body or b"{}")
                answer = {"serving": endpoint.configure(spec.get("scones"), spec.get("home"))}
            except (ValueError, AttributeError) as err:
                status, answer = 400, {"error": f"bad endpoint spec: {err}"}
        elif path == CONTROL_PREFIX + "endpoint-rollback" and method == "POST":
            import endpoint

            try:
                alarm = str(json.loads(body or b"{}")["alarm"])
                endpoint.roll_back_next_update(alarm)
                answer = {"rolls_back_next_update": alarm}
            except (ValueError, KeyError, TypeError) as err:
                status, answer = 400, {"error": f"bad rollback spec (want {{\"alarm\": NAME}}): {err}"}
        elif path == CONTROL_PREFIX + "calls":
            with self.lock:
                answer = {"calls": dict(self.calls)}
                if query.get("reset"):
                    self.calls.clear()
        else:
            status, answer = 404, {"error": f"unknown control path {path}"}
        payload = json.dumps(answer).encode()
        start_response(_status_line(status), [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    # ---- rpcv2Cbor -> query -------------------------------------------------------------

    def _model(self, service: str) -> Any:
        with self.lock:
            if service not in self._models:
                import botocore.session

                self._models[service] = botocore.session.get_session().get_service_model(service)
            return self._models[service]

    def _cbor_via_query(self, environ: dict[str, Any], body: bytes, start_response: StartResponse) -> Iterable[bytes]:
        import botocore.parsers
        import botocore.serialize

        signing = _signing_service(environ)
        service = CBOR_SERVICES.get(signing)
        operation_name = environ.get("PATH_INFO", "").rstrip("/").rsplit("/", 1)[-1]
        if service is None:
            return self._cbor_reply(start_response, 400, {"__type": "UnknownService", "message": f"no rpcv2Cbor translation for {signing}"})
        model = self._model(service)
        try:
            operation = model.operation_model(operation_name)
        except Exception:  # noqa: BLE001 - botocore raises OperationNotFoundError
            return self._cbor_reply(start_response, 400, {"__type": "UnknownOperationException", "message": operation_name})

        if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
            body = gzip.decompress(body)
        params = cbor2.loads(body) if body else {}
        request = botocore.serialize.create_serializer("query", include_validation=False).serialize_to_request(
            params, operation
        )
        form = request["body"]
        if isinstance(form, dict):
            form = urllib.parse.urlencode(form)
        if isinstance(form, str):
            form = form.encode()

        inner = dict(environ)
        for key in ("HTTP_SMITHY_PROTOCOL", "HTTP_CONTENT_ENCODING", "HTTP_ACCEPT"):
            inner.pop(key, None)
        inner.update(
            {
                "PATH_INFO": "/",
                "RAW_URI": "/",
                "REQUEST_URI": "/",
                "QUERY_STRING": "",
                "REQUEST_METHOD": "POST",
                "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
                "CONTENT_LENGTH": str(len(form)),
                "wsgi.input": io.BytesIO(form),
            }
        )
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers
            return lambda _data: None

        chunks = self.app(inner, capture)
        try:
            raw = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        code = captured.get("status", 500)
        parsed = botocore.parsers.create_parser("query").parse(
            {"status_code": code, "headers": dict(captured.get("headers", [])), "body": raw},
            operation.output_shape,
        )
        if code >= 300:
            error = parsed.get("Error", {})
            return self._cbor_reply(
                start_response, code, {"__type": error.get("Code") or "InternalFailure", "message": error.get("Message") or ""}
            )
        parsed.pop("ResponseMetadata", None)
        return self._cbor_reply(start_response, code, parsed)

    @staticmethod
    def _cbor_reply(start_response: StartResponse, status: int, document: dict[str, Any]) -> Iterable[bytes]:
        payload = cbor2.dumps(document, datetime_as_timestamp=True, timezone=timezone.utc)
        start_response(
            _status_line(status),
            [
                ("Content-Type", "application/cbor"),
                ("smithy-protocol", "rpc-v2-cbor"),
                ("Content-Length", str(len(payload))),
            ],
        )
        return [payload]

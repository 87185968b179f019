"""The deployed Lambda functions, really run: each Invoke of a function whose code is a
`provided.al2023` zip (an executable ELF `bootstrap`) is served by that binary through the
Lambda Runtime API, as the Lambda service does, instead of moto's echo.

How it matches the service (Lambda developer guide, "Using the Lambda runtime API for custom
runtimes" and "Defined runtime environment variables"):
- the zip moto stored for the function is unpacked once per code hash and its `bootstrap` is
  started with the function's environment variables plus the reserved ones the service sets
  (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `..._MEMORY_SIZE`, `..._VERSION`,
  `AWS_LAMBDA_LOG_GROUP_NAME`, `..._LOG_STREAM_NAME`, `AWS_REGION`, `_HANDLER`,
  `LAMBDA_TASK_ROOT`), credentials, and `AWS_ENDPOINT_URL` pointing back at this emulator;
- each process ("execution environment") serves one invocation at a time; concurrent
  invocations start more processes, up to `MAX_ENVIRONMENTS` per function, and idle ones are
  reused (warm starts);
- the runtime API: `GET /2018-06-01/runtime/invocation/next` (long poll, with the
  `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn` headers),
  `POST .../invocation/{id}/response`, `POST .../invocation/{id}/error`,
  `POST /2018-06-01/runtime/init/error`;
- a function error answers the Invoke with `X-Amz-Function-Error: Unhandled` and the error
  document; a timeout (the function's `Timeout`) kills the environment and answers
  `Sandbox.Timedout`; a process that exits answers `Runtime.ExitError`;
- everything the process writes to stdout and stderr goes to CloudWatch Logs, group
  `/aws/lambda/<name>`, one stream per environment (`YYYY/MM/DD/[$LATEST]<id>`), between the
  service's `START`, `END` and `REPORT` lines; the group's metric filters are applied to
  each line (logs.py), and `AWS/Lambda` `Invocations`, `Errors` and `Duration` are published.

A function whose zip holds no ELF `bootstrap` (the placeholder zips of the Terraform tests)
keeps moto's behaviour (echo, or what lambdas.py was programmed to answer).
"""

from __future__ import annotations

import atexit
import ctypes
import io
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import logs

# Environments per function at once (the service scales to the account's concurrency; this
# is plenty for tests on a 2-core machine and bounds the processes a burst can start).
MAX_ENVIRONMENTS = 8
RUNTIME_PREFIX = "/2018-06-01/runtime/"

_LOCK = threading.Lock()
_POOLS: dict[tuple[str, str, str, str], "Pool"] = {}
_CODE_ROOT = tempfile.mkdtemp(prefix="scones-lambda-code.")


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    done: threading.Event = field(default_factory=threading.Event)
    body: bytes = b""
    error: bool = False


class Environment:
    """One bootstrap process and the runtime API server it polls."""

    def __init__(self, pool: "Pool") -> None:
        self.pool = pool
        self.inbox: queue.Queue[Invocation | None] = queue.Queue()
        self.current: Invocation | None = None
        self.init_error: bytes | None = None
        self.stream = f"{datetime.now(timezone.utc):%Y/%m/%d}/[$LATEST]{secrets.token_hex(16)}"
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _runtime_handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        env = pool.process_environment(self.stream, self.server.server_address[1])
        self.process = spawn(
            [os.path.join(pool.code_dir, "bootstrap")],
            cwd=pool.code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._forward_output, daemon=True).start()

    def _forward_output(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.pool.log(self.stream, raw.decode("utf-8", "replace").rstrip("\n"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, invocation: Invocation, timeout_s: float) -> None:
        """Runs one invocation; on return `invocation` holds the answer."""
        self.current = invocation
        self.inbox.put(invocation)
        deadline = time.monotonic() + timeout_s
        while not invocation.done.wait(0.05):
            if not self.alive():
                invocation.error = True
                invocation.body = _error_document(
                    "Runtime.ExitError",
                    f"RequestId: {invocation.request_id} Error: Runtime exited with error: exit status {self.process.returncode}",
                )
                break
            if time.monotonic() > deadline:
                self.kill()
                invocation.error = True
                invocation.body = _error_document(
                    "Sandbox.Timedout",
                    f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%S.%fZ} {invocation.request_id} Task timed out after {timeout_s:.2f} seconds",
                )
                break
        self.current = None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()
        self.inbox.put(None)
        self.server.shutdown()


def _die_with_parent() -> None:
    """The child dies with the emulator, even if the emulator is killed (PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)
    except OSError:
        pass


_SPAWN_REQUESTS: queue.Queue[tuple[list[str], dict[str, Any], queue.Queue[Any]]] = queue.Queue()


def _spawner() -> None:
    while True:
        args, kwargs, reply = _SPAWN_REQUESTS.get()
        try:
            reply.put(subprocess.Popen(args, preexec_fn=_die_with_parent, **kwargs))
        except Exception as err:  # noqa: BLE001 - handed to the caller
            reply.put(err)


threading.Thread(target=_spawner, daemon=True, name="spawner").start()


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen:
    """Popen from one long-lived thread: PR_SET_PDEATHSIG fires when the *thread* that forked
    the child ends, and the server's request threads end after each request."""
    reply: queue.Queue[Any] = queue.Queue()
    _SPAWN_REQUESTS.put((args, kwargs, reply))
    result = reply.get()
    if isinstance(result, Exception):
        raise result
    return result


def _error_document(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _runtime_handler(env: Environment) -> type[BaseHTTPRequestHandler]:
    class RuntimeApi(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:  # noqa: N802
            if self.path != RUNTIME_PREFIX + "invocation/next":
                return self._reply(404)
            invocation = env.inbox.get()
            if invocation is None:
                return self._reply(410)
            env.pool.log(env.stream, f"START RequestId: {invocation.request_id} Version: $LATEST")
            self._reply(
                200,
                invocation.payload,
                {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": env.pool.arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Sampled=0",
                },
            )

        def do_POST(self) -> None:  # noqa: N802
            body = self._body()
            rest = self.path[len(RUNTIME_PREFIX) :] if self.path.startswith(RUNTIME_PREFIX) else ""
            if rest == "init/error":
                env.init_error = body
                return self._reply(202, b'{"status":"OK"}')
            parts = rest.split("/")
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                invocation = env.current
                if invocation is None or invocation.request_id != parts[1]:
                    return self._reply(400, _error_document("InvalidRequestID", "no such invocation"))
                invocation.error = parts[2] == "error"
                invocation.body = body
                invocation.done.set()
                return self._reply(202, b'{"status":"OK"}')
            return self._reply(404)

    return RuntimeApi


class Pool:
    """The execution environments of one function version."""

    def __init__(self, function: Any, code_dir: str, emulator_url: str) -> None:
        self.name = function.function_name
        self.arn = function.function_arn
        self.account_id = function.account_id
        self.region = function.region
        self.timeout_s = float(function.timeout or 3)
        self.memory = int(function.memory_size or 128)
        self.handler = function.handler or "bootstrap"
        self.variables = dict(function.environment_vars or {})
        self.code_dir = code_dir
        self.emulator_url = emulator_url
        self.group = f"/aws/lambda/{self.name}"
        self.idle: list[Environment] = []
        self.count = 0
        self.cond = threading.Condition()

    def process_environment(self, stream: str, runtime_port: int) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            **self.variables,
            "_HANDLER": self.handler,
            "LAMBDA_TASK_ROOT": self.code_dir,
            "LAMBDA_RUNTIME_DIR": self.code_dir,
            "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_port}",
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": self.group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_SESSION_TOKEN": "test",
            # Not set by the service: it is how the function's SDK calls reach the emulator.
            "AWS_ENDPOINT_URL": self.emulator_url,
        }
        if os.environ.get("RUST_LOG"):
            env.setdefault("RUST_LOG", os.environ["RUST_LOG"])
        return env

    def log(self, stream: str, line: str) -> None:
        logs.append(self.account_id, self.region, self.group, stream, line)

    def _take(self) -> Environment:
        with self.cond:
            while True:
                while self.idle:
                    env = self.idle.pop()
                    if env.alive():
                        return env
                    self.count -= 1
                if self.count < MAX_ENVIRONMENTS:
                    self.count += 1
                    break
                self.cond.wait()
        try:
            return Environment(self)
        except Exception:
            with self.cond:
                self.count -= 1
                self.cond.notify()
            raise

    def _give_back(self, env: Environment) -> None:
        with self.cond:
            if env.alive():
                self.idle.append(env)
            else:
                self.count -= 1
            self.cond.notify()

    def invoke(self, payload: bytes, response_headers: dict[str, str]) -> bytes:
        request_id = str(uuid.uuid4())
        invocation = Invocation(request_id, payload, int((time.time() + self.timeout_s) * 1000))
        response_headers["x-amzn-RequestId"] = request_id
        env = self._take()
        started = time.monotonic()
        try:
            env.invoke(invocation, self.timeout_s)
        finally:
            self._give_back(env)
        duration_ms = (time.monotonic() - started) * 1000
        self.log(env.stream, f"END RequestId: {request_id}")
        self.log(
            env.stream,
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {int(duration_ms) + 1} ms\tMemory Size: {self.memory} MB",
        )
        logs.metric(
            self.account_id,
            self.region,
            "AWS/Lambda",
            {"FunctionName": self.name},
            [("Invocations", 1.0, "Count"), ("Errors", 1.0 if invocation.error else 0.0, "Count"), ("Duration", duration_ms, "Milliseconds")],
        )
        if invocation.error:
            response_headers["x-amz-function-error"] = "Unhandled"
        return invocation.body

    def close(self) -> None:
        with self.cond:
            envs, self.idle = self.idle, []
        for env in envs:
            env.kill()


def _bootstrap_is_elf(code: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            with archive.open("bootstrap") as fh:
                return fh.read(4) == b"\x7fELF"
    except (KeyError, zipfile.BadZipFile, OSError):
        return False


def _pool(function: Any) -> Pool | None:
    code = getattr(function, "code_bytes", b"") or b""
    digest = getattr(function, "code_sha_256", "") or ""
    key = (function.account_id, function.region, function.function_name, digest)
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is not None:
            return pool
        if not _bootstrap_is_elf(code):
            return None
        code_dir = os.path.join(_CODE_ROOT, f"{function.function_name}-{digest.replace('/', '_')[:16]}")
        os.makedirs(code_dir, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            archive.extractall(code_dir)
        os.chmod(os.path.join(code_dir, "bootstrap"), 0o755)
        pool = Pool(function, code_dir, f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}")
        # A new code version retires the old environments, as an update does.
        for old_key in [k for k in _POOLS if k[:3] == key[:3]]:
            _POOLS.pop(old_key).close()
        _POOLS[key] = pool
        return pool


def invoke(backend: Any, function_name: str, qualifier: str | None, body: Any, response_headers: dict[str, str]) -> bytes | None:
    """The real function's answer, or None when the function has no runnable bootstrap."""
    try:
        function = backend.get_function(function_name, qualifier)
    except Exception:  # noqa: BLE001 - moto raises its own not-found types
        return None
    pool = _pool(function)
    if pool is None:
        return None
    payload = body if isinstance(body, bytes) else str(body or "{}").encode()
    return pool.invoke(payload, response_headers)


def invoke_by_arn(account_id: str, region: str, arn: str, payload: bytes) -> tuple[bytes, bool]:
    """Invokes a function as a scheduled rule's target does (schedule.py): (body, errored)."""
    from moto.awslambda_simple.models import lambda_simple_backends

    headers: dict[str, str] = {}
    backend = lambda_simple_backends[account_id][region]
    answer = invoke(backend, arn, None, payload, headers)
    if answer is None:
        raise LookupError(f"{arn} has no runnable bootstrap")
    return answer, "x-amz-function-error" in headers


def shutdown() -> None:
    with _LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()
    shutil.rmtree(_CODE_ROOT, ignore_errors=True)


atexit.register(shutdown)

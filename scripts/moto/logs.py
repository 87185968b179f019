"""What the emulated services write to CloudWatch: log lines (with the log group's metric
filters applied, which moto stores but never evaluates) and metric data points, written
straight into moto's backends in this process.

Metric filter patterns: the JSON form the stack uses, `{ $.field = "value" }`, joined with
`&&` (CloudWatch Logs guide, "Using metric filters to match terms in JSON log events"); each
matching line adds the transformation's value. A pattern outside that form matches nothing
and is reported once on stderr, so a new pattern in the Terraform is noticed rather than
silently counted wrong.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any

_LOCK = threading.Lock()
_COMPARISON = re.compile(r'^\$\.([A-Za-z0-9_.]+)\s*(=|!=)\s*"([^"]*)"$')
_REPORTED: set[str] = set()


def _conditions(pattern: str) -> list[tuple[str, str, str]] | None:
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    out = []
    for term in text[1:-1].split("&&"):
        match = _COMPARISON.match(term.strip())
        if match is None:
            return None
        out.append((match.group(1), match.group(2), match.group(3)))
    return out


def _now() -> datetime:
    """Now as moto's CloudWatch keeps time: naive UTC (an aware one fails its comparisons)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def pattern_matches(pattern: str, line: str) -> bool:
    """Whether a JSON metric filter pattern matches one log line."""
    conditions = _conditions(pattern)
    if conditions is None:
        if pattern not in _REPORTED:
            _REPORTED.add(pattern)
            print(f"scones emulator: metric filter pattern not evaluated: {pattern}", file=sys.stderr)
        return False
    try:
        document = json.loads(line)
    except ValueError:
        return False
    for path, op, expected in conditions:
        value: Any = document
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        equal = value is not None and str(value) == expected
        if equal != (op == "="):
            return False
    return True


def append(account_id: str, region: str, group: str, stream: str, line: str) -> None:
    """One log line, now, in `group`/`stream` (both created when missing, as the service
    does for a function's own group)."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.logs.models import logs_backends

    backend = logs_backends[account_id][region]
    now_ms = int(time.time() * 1000)
    with _LOCK:
        if group not in backend.groups:
            backend.create_log_group(group, {})
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        backend.put_log_events(group, stream, [{"timestamp": now_ms, "message": line}])
        filters = backend.filters.get_matching_filters(log_group_name=group)
    for f in filters:
        if not pattern_matches(f["filterPattern"], line):
            continue
        for t in f["metricTransformations"]:
            datum = {
                "MetricName": t["metricName"],
                "Value": float(t.get("metricValue", "1")),
                "Timestamp": _now(),
            }
            if t.get("unit"):
                datum["Unit"] = t["unit"]
            with _LOCK:
                cloudwatch_backends[account_id][region].put_metric_data(t["metricNamespace"], [datum])


def metric(
    account_id: str,
    region: str,
    namespace: str,
    dimensions: dict[str, str],
    values: list[tuple[str, float, str]],
) -> None:
    """Data points a service publishes itself (AWS/Lambda, AWS/SageMaker), now."""
    from moto.cloudwatch.models import cloudwatch_backends

    now = _now()
    dims = [{"Name": k, "Value": v} for k, v in dimensions.items()]
    data = [{"MetricName": n, "Value": v, "Unit": u, "Timestamp": now, "Dimensions": dims} for n, v, u in values]
    with _LOCK:
        cloudwatch_backends[account_id][region].put_metric_data(namespace, data)

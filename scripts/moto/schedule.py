"""EventBridge scheduled rules, fired: moto stores a rule's `ScheduleExpression` and targets
but never runs them. Here a scheduled, ENABLED rule invokes its Lambda targets (functions.py:
the real binaries) with the event EventBridge sends (EventBridge user guide, "Creating a rule
that runs on a schedule": `detail-type` "Scheduled Event", `source` "aws.events", the rule's
ARN in `resources`; or the target's constant `Input`).

Time is compressed for tests: `POST /scones-api/schedule` fires every scheduled rule now and
answers what each target returned; `SCONES_EMULATOR_SCHEDULE_SECONDS=N` also fires them every
N seconds in the background (a stand-in for `rate(15 minutes)`).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any


def _scheduled_rules() -> list[Any]:
    from moto.events.models import events_backends

    rules = []
    for account_id, regions in list(events_backends.items()):
        for region, backend in list(regions.items()):
            for bus in list(backend.event_buses.values()):
                for rule in list(bus.rules.values()):
                    if rule.scheduled_expression and rule.state == "ENABLED":
                        rules.append(rule)
    return rules


def fire_all() -> list[dict[str, Any]]:
    """Fires every scheduled rule once; what each Lambda target answered."""
    import functions

    results = []
    for rule in _scheduled_rules():
        for target in rule.targets:
            arn = target.get("Arn", "")
            entry: dict[str, Any] = {"rule": rule.name, "target": arn}
            if ":lambda:" not in arn:
                entry["skipped"] = "not a Lambda target"
                results.append(entry)
                continue
            event = target.get("Input") or json.dumps(
                {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": "Scheduled Event",
                    "source": "aws.events",
                    "account": rule.account_id,
                    "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "region": rule.region_name,
                    "resources": [rule.arn],
                    "detail": {},
                }
            )
            try:
                body, errored = functions.invoke_by_arn(rule.account_id, rule.region_name, arn, event.encode())
            except LookupError as err:
                entry["skipped"] = str(err)
            else:
                entry["errored"] = errored
                entry["answer"] = body.decode("utf-8", "replace")
            results.append(entry)
    return results


def _tick_forever(seconds: float) -> None:
    while True:
        time.sleep(seconds)
        try:
            fire_all()
        except Exception as err:  # noqa: BLE001 - the next tick tries again
            print(f"scones emulator: scheduled rules not fired: {err}", flush=True)


def start() -> None:
    seconds = os.environ.get("SCONES_EMULATOR_SCHEDULE_SECONDS")
    if seconds:
        threading.Thread(target=_tick_forever, args=(float(seconds),), daemon=True, name="schedule").start()

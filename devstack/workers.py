"""What AWS runs besides the HTTP API, for the local stack (``chalice local`` serves routes only).

* ``QueueWorker``: long-polls a local SQS queue (moto) and invokes the app's ``@on_sqs_message``
  handler in-process with a Lambda-shaped SQS event, then deletes every message the handler did
  not report in ``batchItemFailures`` (those come back after the visibility timeout, as in AWS).
* ``Scheduler``: runs every ``@schedule`` handler of the app every ``SSP_SCHEDULE_SECONDS``
  (10 s by default) with a CloudWatch scheduled event.

Handlers are discovered from ``app.event_sources`` / ``app.handler_map``, so schedules and
queue handlers added later (escalation sweeps, digests …) run without touching this file.
The stage's environment variables from ``.chalice/config.json`` are applied once at start.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalice.app import ScheduledEventConfig, SQSEventConfig
from chalice.local import LambdaContext

from devstack.services import ROOT

DEFAULT_SCHEDULE_SECONDS = 10.0
POLL_WAIT_SECONDS = 1
LOCAL_ACCOUNT = "000000000000"


def stage_environment(stage: str = "local", project_dir: Path = ROOT) -> dict[str, str]:
    """The environment variables ``.chalice/config.json`` gives the stage's Lambda functions."""
    path = project_dir / ".chalice" / "config.json"
    if not path.exists():
        return {}
    config = json.loads(path.read_text())
    variables = dict(config.get("environment_variables") or {})
    variables.update((config.get("stages", {}).get(stage) or {}).get("environment_variables") or {})
    return {str(k): str(v) for k, v in variables.items()}


def sqs_handlers(app) -> dict[str, tuple[str, Any]]:
    """{queue name: (function name, handler)} of the app's ``@on_sqs_message`` handlers."""
    return {
        source.queue: (source.name, app.handler_map[source.name])
        for source in app.event_sources
        if isinstance(source, SQSEventConfig) and source.queue
    }


def schedule_handlers(app) -> dict[str, Any]:
    """{function name: handler} of the app's ``@schedule`` handlers."""
    return {
        source.name: app.handler_map[source.name]
        for source in app.event_sources
        if isinstance(source, ScheduledEventConfig)
    }


def sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    """The event Lambda's SQS event source mapping passes for ``messages`` (receive_message)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def scheduled_event(function_name: str, region: str) -> dict:
    """A CloudWatch (EventBridge) scheduled event."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{LOCAL_ACCOUNT}:rule/{function_name}"],
        "detail": {},
    }


def _context(function_name: str) -> LambdaContext:
    return LambdaContext(function_name, memory_size=512, max_runtime_ms=15000)


def _log(message: str) -> None:
    print(f"[workers] {message}", flush=True)


@dataclass
class QueueWorker:
    """Feeds one local queue to one SQS handler, in a thread."""

    sqs: Any
    queue_url: str
    function_name: str
    handler: Any
    region: str
    batch_size: int = 10
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def poll_once(self, wait_seconds: int = POLL_WAIT_SECONDS) -> int:
        """Receive one batch, run the handler, delete what succeeded; how many were received."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        arn = f"arn:aws:sqs:{self.region}:{LOCAL_ACCOUNT}:{self.queue_url.rsplit('/', 1)[-1]}"
        try:
            result = self.handler(
                sqs_event(messages, arn, self.region), _context(self.function_name)
            )
        except Exception as error:  # like Lambda: the whole batch comes back later
            _log(f"{self.function_name} raised {error!r}; the batch will be redelivered")
            return len(messages)
        failed = {
            entry.get("itemIdentifier")
            for entry in ((result or {}).get("batchItemFailures") or [])
            if isinstance(entry, dict)
        }
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(done[start : start + 10])
                ],
            )
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as error:  # keep serving: moto restarting, a bad message …
                _log(f"polling {self.queue_url} failed: {error!r}")
                self._stop.wait(1)

    def start(self) -> QueueWorker:
        self._thread = threading.Thread(
            target=self._run, name=f"sqs-{self.function_name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=POLL_WAIT_SECONDS + 10)


@dataclass
class Scheduler:
    """Runs every scheduled handler every ``interval`` seconds, in a thread."""

    handlers: dict[str, Any]
    region: str
    interval: float = DEFAULT_SCHEDULE_SECONDS
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def run_once(self) -> dict[str, Any]:
        """Invoke each scheduled handler once; {function name: result or the error}."""
        results: dict[str, Any] = {}
        for name, handler in self.handlers.items():
            try:
                results[name] = handler(scheduled_event(name, self.region), _context(name))
            except Exception as error:
                _log(f"schedule {name} raised {error!r}")
                results[name] = error
        return results

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)


@dataclass
class Workers:
    """The queue workers and the scheduler of one app."""

    queue_workers: list[QueueWorker]
    scheduler: Scheduler | None

    def stop(self) -> None:
        for worker in self.queue_workers:
            worker._stop.set()
        if self.scheduler:
            self.scheduler.stop()
        for worker in self.queue_workers:
            worker.stop()


def start_workers(
    queues: dict[str, str], app=None, stage: str = "local", interval: float | None = None
) -> Workers:
    """Start a worker per ``{chalice queue name: local queue URL}`` that has a handler, and
    the scheduler (``SSP_SCHEDULE_SECONDS``; 0 disables it)."""
    os.environ.update(stage_environment(stage))
    if app is None:
        from app import app as app_module_app

        app = app_module_app
    from chalicelib.bootstrap import services

    svc = services()
    region = svc.settings.region
    handlers = sqs_handlers(app)
    workers = []
    for queue, url in queues.items():
        if queue not in handlers:
            _log(f"no @on_sqs_message handler for queue {queue!r}; not polling {url}")
            continue
        name, handler = handlers[queue]
        workers.append(QueueWorker(svc.sqs, url, name, handler, region).start())
    if interval is None:
        interval = float(os.environ.get("SSP_SCHEDULE_SECONDS") or DEFAULT_SCHEDULE_SECONDS)
    schedules = schedule_handlers(app)
    scheduler = None
    if interval > 0 and schedules:
        scheduler = Scheduler(schedules, region, interval).start()
    return Workers(workers, scheduler)

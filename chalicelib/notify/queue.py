"""Hand outbox items to the notice queue (SQS) right after the transaction that wrote them.

Best effort by design: if the queue cannot be reached the items stay pending
in the outbox and the sweep queues them again, so nothing is lost.
"""

from __future__ import annotations

import json

from chalicelib.bootstrap import Services
from chalicelib.observability import get_logger, log_event

log = get_logger("notify.queue")
MAX_DELAY_SECONDS = 900


def enqueue(services: Services, outbox_ids: list[str], delay_seconds: int = 0) -> int:
    """Send one message per outbox id; returns how many the queue accepted (never raises)."""
    url = services.settings.notify_queue_url
    if not outbox_ids or not url:
        return 0
    delay = max(0, min(int(delay_seconds), MAX_DELAY_SECONDS))
    accepted = 0
    for start in range(0, len(outbox_ids), 10):
        batch = outbox_ids[start : start + 10]
        entries = [
            {"Id": str(n), "MessageBody": json.dumps({"outbox_id": item}), "DelaySeconds": delay}
            for n, item in enumerate(batch)
        ]
        try:
            answer = services.sqs.send_message_batch(QueueUrl=url, Entries=entries)
        except Exception as error:  # the sweep re-queues whatever did not get through
            log_event(log, "enqueue failed; the sweep will retry", error=repr(error))
            continue
        accepted += len(answer.get("Successful", []))
    return accepted


def enqueue_job(services: Services, job: dict) -> bool:
    """Queue a workflow job (e.g. matching a new report); False when the queue is unreachable."""
    url = services.settings.notify_queue_url
    if not url:
        return False
    try:
        services.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(job))
    except Exception as error:  # the due sweep runs the job later
        log_event(log, "job enqueue failed; the sweep will retry", error=repr(error))
        return False
    return True

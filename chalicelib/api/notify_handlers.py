"""Notice delivery handlers: the notice-queue consumer and the minute sweep.

The queue also carries workflow jobs (`{"job": "match", "report_id"}`), run by
`chalicelib.workflow.jobs.run_job`.

Register in app.py with ``app.register_blueprint(notify_handlers.blueprint)``. Delivery code
is imported on first use so the HTTP Lambda's cold start does not pay for it.

Provider failures are recorded on the outbox item (retry with backoff, skipped, failed), not
left to SQS redelivery: only records whose handling raised are reported back as
``batchItemFailures`` (needs ``FunctionResponseTypes: [ReportBatchItemFailures]`` on the event
source mapping, added through the merge template).
"""

from __future__ import annotations

import json

from chalice import Blueprint, Rate

from chalicelib.bootstrap import services
from chalicelib.observability import get_logger, log_event

NOTICE_QUEUE = "suishoupai-notices"
NOTICE_BATCH_SIZE = 10

blueprint = Blueprint(__name__)
log = get_logger("notify.handlers")


def _message(body: str) -> dict:
    try:
        message = json.loads(body)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def _outbox_id(message: dict) -> str | None:
    outbox_id = message.get("outbox_id")
    return outbox_id if isinstance(outbox_id, str) and outbox_id else None


@blueprint.on_sqs_message(queue=NOTICE_QUEUE, batch_size=NOTICE_BATCH_SIZE)
def deliver_notices(event):
    """Deliver each queued outbox id; report only the records that raised."""
    from chalicelib.notify.delivery import deliver
    from chalicelib.workflow.jobs import run_job

    svc = services()
    failures = []
    for record in event:
        message_id = record.to_dict().get("messageId")
        message = _message(record.body)
        if "job" in message:
            try:
                run_job(svc, message)
            except Exception:
                log.exception("workflow job raised", extra={"fields": {"job": message}})
                failures.append({"itemIdentifier": message_id})
            continue
        outbox_id = _outbox_id(message)
        if outbox_id is None:
            # A malformed message never succeeds: drop it instead of redelivering it forever.
            log_event(log, "notice message without outbox_id dropped", message_id=message_id)
            continue
        try:
            status = deliver(svc, outbox_id)
        except Exception:
            log.exception("notice delivery raised", extra={"fields": {"outbox_id": outbox_id}})
            failures.append({"itemIdentifier": message_id})
            continue
        log_event(log, "notice handled", outbox_id=outbox_id, status=status)
    return {"batchItemFailures": failures}


@blueprint.schedule(Rate(1, unit=Rate.MINUTES))
def requeue_due_notices(event):
    """Queue again the notices that are due (lost enqueues, long retries, stale leases)."""
    from chalicelib.notify.sweep import requeue_due

    return {"requeued": requeue_due(services())}

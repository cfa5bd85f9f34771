"""Re-queues outbox items that are due: lost enqueues, retries beyond SQS's 15-minute delay,
SMS held back until the next morning, and items whose worker died while holding the lease.

Reads the sparse ``due`` index shard by shard (keys only); never scans the table. A queued
item that turns out to be handled already is ignored by ``deliver``.
"""

from __future__ import annotations

import time

from chalicelib.bootstrap import Services
from chalicelib.notify.outbox import DUE_SHARDS
from chalicelib.notify.queue import enqueue
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import OutboxModel

log = get_logger("notify.sweep")


SWEEP_GRACE_SECONDS = 120


def due_ids(
    now: float | None = None, limit_per_shard: int = 100, grace_seconds: float | None = None
) -> list[str]:
    """Ids of outbox items due for longer than the grace period (oldest first per shard).

    Items are queued when written and when rescheduled; the grace period leaves
    those that are simply waiting in the queue to it, so the sweep only picks up
    items whose message was lost or whose lease went stale.
    """
    now = time.time() if now is None else float(now)
    grace = SWEEP_GRACE_SECONDS if grace_seconds is None else grace_seconds
    ids: list[str] = []
    for shard in range(DUE_SHARDS):
        for key in OutboxModel.due.query(
            str(shard), OutboxModel.due_at <= now - grace, limit=limit_per_shard
        ):
            ids.append(key.id)
    return ids


def requeue_due(services: Services, now: float | None = None, limit_per_shard: int = 100) -> int:
    """Queue every due outbox item again; returns how many messages the queue accepted."""
    ids = due_ids(now, limit_per_shard)
    accepted = enqueue(services, ids) if ids else 0
    if ids:
        log_event(log, "due notices re-queued", found=len(ids), queued=accepted)
    return accepted

"""Applies one transition of the state machine as one DynamoDB transaction.

The report update is conditioned on the status and version the caller read,
its timeline event is appended under the next sequence number, and every
notice the change causes is written to the outbox in the same transaction;
the outbox items are queued for delivery once it commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.bootstrap import Services
from chalicelib.clock import now_iso
from chalicelib.errors import Conflict
from chalicelib.notify.outbox import Notice, Recipient, Scope, outbox_items
from chalicelib.notify.queue import enqueue
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import ReportEventModel, ReportModel
from chalicelib.store.transactions import transact_write

log = get_logger("workflow")
DUE_SHARDS = 4
CLEAR = object()


@dataclass
class EventSpec:
    """The timeline event a transition appends."""

    type: str
    actor_id: str | None
    actor_role: str
    note: str | None = None
    photos: list[str] = field(default_factory=list)
    internal: bool = False


@dataclass
class Change:
    """Everything one transition writes."""

    report: ReportModel
    action: str
    event: EventSpec
    to_state: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    due: tuple[str, datetime] | object | None = None
    notices: list[tuple[Recipient, Notice, tuple[str, ...]]] = field(default_factory=list)
    extra: list[Callable[[TransactWrite], None]] = field(default_factory=list)
    conflict_message: str = "该反映的状态已变化，请刷新后重试"


def report_scope(report: ReportModel) -> Scope:
    """The area of a report, carried by its notices."""
    return Scope(report.station_id, report.district_id, report.city_id)


def due_shard(report_id: str) -> str:
    """Shard of the due index a report is written under."""
    return str(int(hashlib.sha1(report_id.encode()).hexdigest(), 16) % DUE_SHARDS)


def due_attributes(report_id: str, kind: str, at: datetime) -> dict[str, Any]:
    """Attributes that put a report in the sparse due index."""
    return {"due_shard": due_shard(report_id), "due_at": at.isoformat(), "due_kind": kind}


def _actions(attributes: dict[str, Any]) -> list:
    actions = []
    for name, value in attributes.items():
        attribute = getattr(ReportModel, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


def commit(services: Services, change: Change) -> ReportModel:
    """Write the change atomically; 409 when the report moved on meanwhile."""
    report = change.report
    now = now_iso()
    attributes = dict(change.attributes)
    attributes["updated_at"] = now
    if change.to_state:
        attributes["status"] = change.to_state
    if change.due is CLEAR:
        attributes.update(due_shard=None, due_at=None, due_kind=None)
    elif change.due is not None:
        kind, at = change.due
        attributes.update(due_attributes(report.id, kind, at))
    actions = _actions(attributes) + [ReportModel.event_count.add(1)]
    event = ReportEventModel(
        report.id,
        int(report.event_count or 0) + 1,
        type=change.event.type,
        at=now,
        actor_id=change.event.actor_id,
        actor_role=change.event.actor_role,
        note=change.event.note,
        photos=list(change.event.photos),
        internal=change.event.internal,
    )
    items = []
    for recipient, notice, channels in change.notices:
        items += outbox_items(
            report.id, recipient, notice, report_scope(report), channels, occurrence=event.seq
        )
    try:
        with transact_write(services.settings) as transaction:
            transaction.update(report, actions, condition=ReportModel.status == report.status)
            transaction.save(event, condition=ReportEventModel.seq.does_not_exist())
            for item in items:
                transaction.save(item, condition=type(item).id.does_not_exist())
            for extra in change.extra:
                extra(transaction)
    except TransactWriteError as error:
        log_event(
            log,
            "transition refused",
            report_id=report.id,
            action=change.action,
            reasons=[getattr(r, "code", None) for r in error.cancellation_reasons or []],
        )
        raise Conflict(change.conflict_message, code="state_conflict") from None
    enqueue(services, [item.id for item in items])
    log_event(
        log,
        "transition",
        report_id=report.id,
        action=change.action,
        from_state=report.status,
        to_state=change.to_state or report.status,
        notices=len(items),
    )
    return ReportModel.get(report.id, consistent_read=True)

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
from chalicelib.clock import now_iso, utcnow
from chalicelib.errors import Conflict
from chalicelib.notify.outbox import Notice, Recipient, Scope, outbox_items
from chalicelib.notify.queue import enqueue
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import ReportEventModel, ReportModel, StatsModel
from chalicelib.store.transactions import transact_write

log = get_logger("workflow")
DUE_SHARDS = 4
CLEAR = object()
LADDER_KINDS = ("offer", "answer", "work_order", "second_handling", "escalated")
REMINDER_AT = 0.75
STEP_FIELDS_CLEARED = {
    "due_shard": None,
    "due_at": None,
    "due_kind": None,
    "step_started_at": None,
    "step_due_at": None,
    "ladder_rung": None,
    "overdue_district": None,
    "overdue_since": None,
}


@dataclass(frozen=True)
class Count:
    """A counter a transition adds to, in the report's scopes (or a deputy's)."""

    metric: str
    n: int = 1
    total: float = 0
    scopes: tuple[str, ...] = ("city", "district", "station")
    day: str | None = None


def beijing_day(moment: datetime | None = None) -> str:
    """The Beijing calendar day (YYYY-MM-DD) counters are kept under."""
    from chalicelib.workflow.calendar import BEIJING

    return (moment or utcnow()).astimezone(BEIJING).strftime("%Y-%m-%d")


def _scope_ids(report: ReportModel, count: Count) -> list[str]:
    ids = []
    for scope in count.scopes:
        if scope.startswith("deputy:"):
            ids.append(scope)
            continue
        value = getattr(report, f"{scope}_id", None)
        if value:
            ids.append(f"{scope}:{value}")
    return ids


Step = Callable[[TransactWrite], None]


def _counter_update(scope: str, key: str, actions: list) -> Step:
    return lambda transaction: transaction.update(StatsModel(scope, key), actions)


def counter_steps(
    report: ReportModel, counts: list[Count]
) -> list[Callable[[TransactWrite], None]]:
    """Transaction steps adding `counts` to their day's counters (one update per counter item).

    A count is kept under today's Beijing day unless it names its own `day`.
    """
    today = beijing_day()
    merged: dict[tuple[str, str], list[float]] = {}
    for count in counts:
        for scope in _scope_ids(report, count):
            entry = merged.setdefault((scope, f"{count.day or today}#{count.metric}"), [0, 0.0])
            entry[0] += count.n
            entry[1] += count.total
    steps = []
    for (scope, key), (n, total) in merged.items():
        actions = [StatsModel.n.add(n)] + ([StatsModel.total.add(total)] if total else [])
        steps.append(_counter_update(scope, key, actions))
    return steps


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
    counts: list[Count] = field(default_factory=list)
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


def step_attributes(report_id: str, kind: str, deadline: datetime) -> dict[str, Any]:
    """Attributes that start a step: its deadline, and when the sweep should first look.

    Steps on the escalation ladder are first looked at for the reminder, at 75 % of
    their window; other steps (matching, evaluation) at their deadline.
    """
    start = utcnow()
    first = start + (deadline - start) * REMINDER_AT if kind in LADDER_KINDS else deadline
    attributes = dict(STEP_FIELDS_CLEARED)
    attributes.update(due_attributes(report_id, kind, first))
    attributes.update(
        step_started_at=start.isoformat(), step_due_at=deadline.isoformat(), ladder_rung=0
    )
    return attributes


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
        attributes.update(STEP_FIELDS_CLEARED)
    elif change.due is not None:
        kind, deadline = change.due
        attributes.update(step_attributes(report.id, kind, deadline))
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
            for extra in change.extra + counter_steps(report, change.counts):
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

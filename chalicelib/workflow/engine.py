"""Applies one transition of the state machine as one DynamoDB transaction.

The report update is conditioned on the status and version the caller read,
its timeline event is appended under the next sequence number, and every
notice the change causes is written to the outbox in the same transaction;
the outbox items are queued for delivery once it commits. A change of status or of
the moderation result also moves the report into or out of the staff lists (the
sparse `queue` index, `chalicelib.workflow.queues`) in the same update, and a transition of a
transferred report sets its place in its department's work orders (`work_orders` index,
`chalicelib.workflow.work_orders`).

A cancelled transaction is told apart by its cancellation reasons: a failed
condition of the report, its event or its outbox items means another
transition came first (409); a conflict with another transaction on a shared
item (the day counters of a station are shared by all its reports) or
throttling leaves every condition as it was, so the same transaction is sent
again after a short, jittered pause; anything else is 503.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PynamoDBException, TransactWriteError

from chalicelib.bootstrap import Services
from chalicelib.clock import now_iso, utcnow
from chalicelib.errors import AppError, Conflict, ServiceUnavailable
from chalicelib.notify.outbox import Notice, Recipient, Scope, outbox_items
from chalicelib.notify.queue import enqueue
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import ReportEventModel, ReportModel, StatsModel
from chalicelib.store.transactions import (
    CONDITION_FAILED,
    TRANSIENT_CODES,
    TRANSIENT_ERRORS,
    TransactWrite,
    error_code,
    transact_write,
)
from chalicelib.workflow.queues import queue_attributes
from chalicelib.workflow.work_orders import work_order_attributes

log = get_logger("workflow")
DUE_SHARDS = 4
CLEAR = object()
LADDER_KINDS = (
    "offer",
    "assign",
    "answer",
    "handling",
    "work_order",
    "second_handling",
    "escalated",
)
REMINDER_AT = 0.75
# Labels of the items every transition writes (extras are labelled by their table,
# or by the label they give).
REPORT_ITEM, EVENT_ITEM, OUTBOX_ITEM = "report", "event", "outbox"
# Sending a transaction again after a conflict or throttling: attempts in all, and the
# ceiling of the jittered pause before each new attempt (doubling from the base).
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.025
BACKOFF_CAP_SECONDS = 0.4
BUSY_MESSAGE = "系统繁忙，请稍后重试"
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
    # What to answer when the condition of an extra item with this label fails.
    refusals: dict[str, AppError] = field(default_factory=dict)


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


def _pause(attempt: int) -> float:
    """Full-jitter backoff before sending a transaction again."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(0, ceiling)


def _moved_on(report: ReportModel) -> bool:
    """Whether the report is no longer in the status and version the change was built on."""
    try:
        current = ReportModel.get(report.id, consistent_read=True)
    except ReportModel.DoesNotExist:
        return True
    except PynamoDBException:
        return False  # unknown: the transaction's own condition will tell
    return current.version != report.version or current.status != report.status


def _refusal(change: Change, failed: set[str]) -> AppError:
    """The error for a transaction whose conditions failed (labels of the failed items).

    The report's own condition (status and version), its event's sequence number and
    its outbox ids all say that another transition of the report came first.
    """
    if failed & {REPORT_ITEM, EVENT_ITEM, OUTBOX_ITEM}:
        return Conflict(change.conflict_message, code="state_conflict")
    for label in sorted(failed):
        if label in change.refusals:
            return change.refusals[label]
    return Conflict(change.conflict_message, code="state_conflict")


def commit(services: Services, change: Change) -> ReportModel:
    """Write the change atomically.

    409 when the report moved on meanwhile; the same transaction again when it only
    collided with another one on a shared item or was throttled; 503 otherwise.
    """
    report = change.report
    now = now_iso()
    attributes = dict(change.attributes)
    attributes["updated_at"] = now
    if change.to_state:
        attributes["status"] = change.to_state
    if change.to_state or "moderation" in attributes:
        attributes.update(
            queue_attributes(
                change.to_state or report.status,
                attributes.get("moderation", report.moderation),
                report.district_id,
                now,
                current=report.queue_key,
            )
        )
    if change.due is CLEAR:
        attributes.update(STEP_FIELDS_CLEARED)
    elif change.due is not None:
        kind, deadline = change.due
        attributes.update(step_attributes(report.id, kind, deadline))
    attributes.update(work_order_attributes(report, attributes, now))
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
    steps = change.extra + counter_steps(report, change.counts)

    attempt = 0
    while True:
        attempt += 1
        transaction = transact_write(services.settings)
        try:
            with transaction:
                # A fresh list each attempt: the update appends the version increment to it.
                actions = _actions(attributes) + [ReportModel.event_count.add(1)]
                transaction.update(
                    report,
                    actions,
                    condition=ReportModel.status == report.status,
                    label=REPORT_ITEM,
                )
                transaction.save(
                    event, condition=ReportEventModel.seq.does_not_exist(), label=EVENT_ITEM
                )
                for item in items:
                    transaction.save(
                        item, condition=type(item).id.does_not_exist(), label=OUTBOX_ITEM
                    )
                for step in steps:
                    step(transaction)
            break
        except TransactWriteError as error:
            reasons = transaction.reasons(error)
            code = error_code(error)
            fields = {
                "report_id": report.id,
                "action": change.action,
                "attempt": attempt,
                "error_code": code,
                "reasons": [f"{label}:{reason}" for label, reason in reasons],
            }
            failed = {label for label, reason in reasons if reason == CONDITION_FAILED}
            if failed:
                log_event(log, "transition refused", **fields)
                raise _refusal(change, failed) from None
            transient = (
                all(reason in TRANSIENT_CODES for _, reason in reasons)
                if reasons
                else code in TRANSIENT_ERRORS
            )
            if not transient:
                log_event(log, "transition failed", logging.ERROR, **fields)
                raise ServiceUnavailable(BUSY_MESSAGE, code="store_unavailable") from None
            if attempt >= MAX_ATTEMPTS:
                log_event(log, "transition gave up after conflicts", logging.ERROR, **fields)
                raise ServiceUnavailable(BUSY_MESSAGE, code="store_busy") from None
            time.sleep(_pause(attempt))
            if _moved_on(report):
                # The transaction it collided with was a transition of this report: sending
                # it again could only fail its condition.
                log_event(log, "transition refused", moved_on=True, **fields)
                raise Conflict(change.conflict_message, code="state_conflict") from None
            log_event(log, "transition retried", **fields)
    enqueue(services, [item.id for item in items])
    log_event(
        log,
        "transition",
        report_id=report.id,
        action=change.action,
        from_state=report.status,
        to_state=change.to_state or report.status,
        notices=len(items),
        attempts=attempt,
    )
    return ReportModel.get(report.id, consistent_read=True)

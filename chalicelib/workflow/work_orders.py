"""A department's work orders: the reports transferred to it, for its handlers (`GET /tasks`).

Served by the sparse `work_orders` index of reports (hash `department_id`, range
`work_order_key`). The key is `open#<deadline>` while the report is handled (states
`accepted`, `in_progress`, `second_handling`, `escalated`), so the open orders come oldest
deadline first and the overdue ones lead; once the report leaves handling (resolved, closed,
merged) it is `done#<when it left>`, read newest first after the open ones. The engine
derives the key in every transition of a transferred report, in that transition's own update
(`work_order_attributes`), as it does the staff-list keys.

Counts are two Select=COUNT Queries of the open range: all of it, and the part whose deadline
has passed (`open#` … `open#<now>`).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from chalicelib.clock import iso_utc, now_iso
from chalicelib.errors import InvalidField
from chalicelib.reports.categories import leaf_categories
from chalicelib.reports.reading import station_name
from chalicelib.store.models import ReportModel
from chalicelib.workflow.states import HANDLING_STATES, STATE_NAMES

OPEN, DONE = "open", "done"
ORDER_FILTERS = (OPEN, DONE)
MAX_PAGE = 50
DEFAULT_PAGE = 20
MAX_CURSOR_CHARS = 2048


def _sortable(moment: str) -> str:
    """An ISO time in the sortable UTC form of every `*_at` attribute."""
    try:
        return iso_utc(datetime.fromisoformat(moment))
    except ValueError:
        return moment


def work_order_key(status: str, deadline: str | None, now: str, current: str | None) -> str:
    """The index range key of a transferred report in `status` (see the module docstring).

    A report that stays out of handling keeps its `done#` key (the time it left).
    """
    if status in HANDLING_STATES:
        return f"{OPEN}#{_sortable(deadline or now)}"
    if current and current.startswith(f"{DONE}#"):
        return current
    return f"{DONE}#{now}"


def work_order_attributes(report: ReportModel, attributes: dict[str, Any], now: str) -> dict:
    """The `work_order_key` a transition writes (empty when the report is no work order or
    the key stays as it is). `attributes` are the transition's own (they win over the report's).
    """
    department = attributes.get("department_id", report.department_id)
    if not department:
        return {}
    key = work_order_key(
        attributes.get("status", report.status),
        attributes.get("work_order_due", report.work_order_due),
        now,
        report.work_order_key,
    )
    return {} if key == report.work_order_key else {"work_order_key": key}


def _invalid_cursor() -> InvalidField:
    return InvalidField("分页游标无效，请从第一页重新加载", field="cursor", code="invalid_cursor")


def _encode(phase: str, key: dict | None) -> str:
    """A cursor: the phase, and the key to go on after (None: the phase's beginning)."""
    body = {"p": phase, "k": {name: value["S"] for name, value in key.items()} if key else None}
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(department_id: str, cursor: str) -> tuple[str, dict | None]:
    """(phase, start key) of a cursor this department's list gave; 422 `cursor` otherwise."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid_cursor()
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid_cursor() from None
    if not isinstance(body, dict) or body.get("p") not in ORDER_FILTERS:
        raise _invalid_cursor()
    key = body.get("k")
    if key is None:
        return body["p"], None
    names = {"id", "department_id", "work_order_key"}
    if not isinstance(key, dict) or set(key) != names:
        raise _invalid_cursor()
    if not all(isinstance(v, str) and 0 < len(v) <= 128 for v in key.values()):
        raise _invalid_cursor()
    if key["department_id"] != department_id or not key["work_order_key"].startswith(
        f"{body['p']}#"
    ):
        raise _invalid_cursor()
    return body["p"], {name: {"S": value} for name, value in key.items()}


def _read(department_id: str, phase: str, start: dict | None, limit: int):
    """Up to `limit` orders of one phase after `start`, and the key to go on from (or None)."""
    result = ReportModel.work_orders.query(
        department_id,
        range_key_condition=ReportModel.work_order_key.startswith(f"{phase}#"),
        scan_index_forward=phase == OPEN,
        last_evaluated_key=start,
        limit=limit,
    )
    items = list(result)
    return items, result.last_evaluated_key if len(items) == limit else None


def order_view(report: ReportModel, now: str, names: dict[str, str | None]) -> dict:
    """One row of a department's work-order list."""
    from chalicelib.staff.rows import excerpt  # rows → ladder → engine, which imports us

    is_open = (report.work_order_key or "").startswith(f"{OPEN}#")
    deadline = report.work_order_due
    if report.station_id not in names:
        names[report.station_id] = station_name(report.station_id)
    return {
        "report_id": report.id,
        "status": report.status,
        "status_name": STATE_NAMES.get(report.status, report.status),
        "open": is_open,
        "category": report.category,
        "category_name": leaf_categories().get(report.category, {}).get("name"),
        "excerpt": excerpt(report.text),
        "station_id": report.station_id,
        "station_name": names[report.station_id],
        "deadline": deadline,
        "overdue": bool(is_open and deadline and _sortable(deadline) < now),
        "transferred_at": report.transferred_at,
        "updated_at": report.updated_at,
    }


def department_orders(
    department_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[dict], str | None]:
    """One page of the department's orders (open first, then done) and the next cursor."""
    phases = [status] if status else list(ORDER_FILTERS)
    start = None
    if cursor:
        phase, start = _decode(department_id, cursor)
        if phase not in phases:
            raise _invalid_cursor()
        phases = phases[phases.index(phase) :]
    now = now_iso()
    names: dict[str, str | None] = {}
    rows: list[dict] = []
    next_cursor = None
    for n, phase in enumerate(phases):
        items, tail = _read(department_id, phase, start, limit - len(rows))
        rows += [order_view(item, now, names) for item in items]
        start = None
        if tail:
            next_cursor = _encode(phase, tail)
            break
        if len(rows) == limit:  # this phase ended exactly with the page: the next one's start
            next_cursor = _encode(phases[n + 1], None) if n + 1 < len(phases) else None
            break
    return rows, next_cursor


def order_counts(department_id: str) -> dict[str, int]:
    """{"open", "overdue"}: two Select=COUNT Queries of the open range of the index."""
    index = ReportModel.work_orders
    key = ReportModel.work_order_key
    return {
        "open": index.count(department_id, range_key_condition=key.startswith(f"{OPEN}#")),
        "overdue": index.count(
            department_id, range_key_condition=key.between(f"{OPEN}#", f"{OPEN}#{now_iso()}")
        ),
    }

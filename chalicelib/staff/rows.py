"""List rows of the staff lists: what a phone shows of a report, nothing personal.

A row never carries the reporter's id, phone number, openid, address or location: the
staff read those (as the access rules allow) on the report itself (`GET /reports/{id}`).
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.clock import utcnow
from chalicelib.escalation.ladder import ASSIGN_HOLDER, STEP_NAMES
from chalicelib.reports.categories import leaf_categories
from chalicelib.reports.views import MODERATION_NAMES
from chalicelib.store.models import DepartmentModel, DeputyModel, ReportModel, StationModel
from chalicelib.workflow.states import STATE_NAMES

EXCERPT_CHARS = 60
RUNG_NAMES = {
    0: "期限内",
    1: "已提醒（即将到期）",
    2: "已超期（联络站督办）",
    3: "区人大常委会督办",
    4: "市人大常委会提级督办",
}
# Attributes of a report the overdue index does not project, read with one BatchGetItem.
OVERDUE_EXTRA = ["id", "text", "created_at"]


def excerpt(text: str | None) -> str:
    """At most `EXCERPT_CHARS` characters of the text (an ellipsis marks a cut)."""
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _hours_since(moment: str | None, now: datetime) -> int | None:
    if not moment:
        return None
    return max(0, int((now - datetime.fromisoformat(moment)).total_seconds() // 3600))


def station_names(reports: list[ReportModel]) -> dict[str, str]:
    """Names of the reports' stations (one BatchGetItem)."""
    ids = sorted({r.station_id for r in reports if r.station_id})
    if not ids:
        return {}
    return {s.id: s.name for s in StationModel.batch_get(ids, attributes_to_get=["id", "name"])}


def base_row(report: ReportModel, stations: dict[str, str]) -> dict:
    """The fields every list row has."""
    category = leaf_categories().get(report.category, {})
    return {
        "id": report.id,
        "category": report.category,
        "category_name": category.get("name", report.category),
        "excerpt": excerpt(report.text),
        "station_id": report.station_id,
        "station_name": stations.get(report.station_id or ""),
        "created_at": report.created_at,
        "status": report.status,
        "status_name": STATE_NAMES.get(report.status, report.status),
    }


def _rung(report: ReportModel) -> dict:
    rung = int(report.ladder_rung or 0)
    return {"rung": rung, "rung_name": RUNG_NAMES.get(rung, str(rung))}


def _names(model, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return {i.id: i.name for i in model.batch_get(sorted(ids), attributes_to_get=["id", "name"])}


def _holders(report: ReportModel, deputies: dict, departments: dict) -> list[dict]:
    """Who holds the open step: the deputy, and the department of a work order."""
    if report.due_kind == "assign":
        return [{"kind": "staff", "id": None, "name": ASSIGN_HOLDER}]
    holders = []
    if report.accepted_by:
        name = deputies.get(report.accepted_by, report.accepted_by)
        holders.append({"kind": "deputy", "id": report.accepted_by, "name": f"{name}代表"})
    if report.due_kind == "work_order" and report.department_id:
        name = departments.get(report.department_id, report.department_id)
        holders.append({"kind": "department", "id": report.department_id, "name": name})
    return holders


def overdue_rows(reports: list[ReportModel], now: datetime | None = None) -> list[dict]:
    """Rows of overdue reports: the step, its deadline, how long overdue, who holds it."""
    now = now or utcnow()
    extra = {}
    if reports:
        ids = [r.id for r in reports]
        extra = {r.id: r for r in ReportModel.batch_get(ids, attributes_to_get=OVERDUE_EXTRA)}
    for report in reports:
        stored = extra.get(report.id)
        report.text = stored.text if stored else None
        report.created_at = stored.created_at if stored else None
    stations = station_names(reports)
    deputies = _names(DeputyModel, {r.accepted_by for r in reports if r.accepted_by})
    departments = _names(
        DepartmentModel,
        {r.department_id for r in reports if r.department_id and r.due_kind == "work_order"},
    )
    rows = []
    for report in reports:
        hours = _hours_since(report.overdue_since, now) or 0
        holders = _holders(report, deputies, departments)
        rows.append(
            {
                **base_row(report, stations),
                "step": report.due_kind,
                "step_name": STEP_NAMES.get(report.due_kind, report.due_kind),
                **_rung(report),
                "deadline": report.step_due_at,
                "overdue_since": report.overdue_since,
                "overdue_hours": hours,
                "overdue_days": hours // 24,
                "holders": holders,
                "holder": "、".join(h["name"] for h in holders),
            }
        )
    return rows


def review_rows(reports: list[ReportModel], now: datetime | None = None) -> list[dict]:
    """Rows of reports held by the content check, waiting for staff review."""
    now = now or utcnow()
    stations = station_names(reports)
    return [
        {
            **base_row(report, stations),
            "moderation": report.moderation,
            "moderation_name": MODERATION_NAMES.get(report.moderation),
            "held_at": report.queued_at,
            "waiting_hours": _hours_since(report.queued_at, now),
        }
        for report in reports
    ]


def unmatched_rows(reports: list[ReportModel], now: datetime | None = None) -> list[dict]:
    """Rows of unmatched reports, with the deadline of their assign step."""
    now = now or utcnow()
    stations = station_names(reports)
    return [
        {
            **base_row(report, stations),
            "unmatched_since": report.queued_at,
            "waiting_hours": _hours_since(report.queued_at, now),
            "deadline": report.step_due_at,
            **_rung(report),
            "overdue": int(report.ladder_rung or 0) >= 2,
        }
        for report in reports
    ]


ROWS = {"overdue": overdue_rows, "review": review_rows, "unmatched": unmatched_rows}

"""Read models: a deputy's task list, a report's open offers, notices, failed notices for staff."""

from __future__ import annotations

from chalicelib.auth.tokens import Principal
from chalicelib.reports.categories import leaf_categories
from chalicelib.store.models import OutboxModel, ReportModel, TaskModel

TASK_FILTERS = (
    "offered",
    "accepted",
    "in_progress",
    "closed",
    "withdrawn",
    "declined",
    "expired",
)
MAX_TASKS = 100
MAX_FAILED = 100
MAX_FAILED_READ = 1000


def open_offers(report: ReportModel, exclude: str | None = None) -> list[str]:
    """Deputies who hold an open offer of the report (other than `exclude`).

    The report, read consistently, names everyone it was offered to and who declined;
    their task items, read consistently by key, tell which of those offers are still
    open (an offer may also have expired or been withdrawn). The tasks' report index
    is eventually consistent and serves listings only.
    """
    declined = set(report.declined_by or [])
    deputy_ids = [
        deputy_id
        for deputy_id in dict.fromkeys(report.matched_deputy_ids or [])
        if deputy_id not in declined and deputy_id not in (exclude, report.accepted_by)
    ]
    if not deputy_ids:
        return []
    tasks = TaskModel.batch_get(
        [(deputy_id, report.id) for deputy_id in deputy_ids], consistent_read=True
    )
    offered = {task.deputy_id for task in tasks if task.status == "offered"}
    return [deputy_id for deputy_id in deputy_ids if deputy_id in offered]


def task_view(task: TaskModel) -> dict:
    """One line of a deputy's task list."""
    category = leaf_categories().get(task.category, {})
    return {
        "report_id": task.report_id,
        "status": task.status,
        "offered_at": task.offered_at,
        "updated_at": task.updated_at,
        "category": task.category,
        "category_name": category.get("name"),
        "excerpt": task.excerpt,
        "station_id": task.station_id,
        "score": int(task.score or 0),
        "reasons": list(task.reasons or []),
        "taken_by": task.taken_by,
    }


def deputy_tasks(deputy_id: str, status: str | None) -> list[dict]:
    """The deputy's newest tasks, of one status or of all (one index query per status)."""
    items = []
    for wanted in [status] if status else TASK_FILTERS:
        tasks = TaskModel.by_status.query(
            deputy_id,
            range_key_condition=TaskModel.status_key.startswith(f"{wanted}#"),
            scan_index_forward=False,
            limit=MAX_TASKS,
        )
        items += [task_view(task) for task in tasks]
    items.sort(key=lambda item: item["updated_at"], reverse=True)
    return items[:MAX_TASKS]


def notice_view(item: OutboxModel) -> dict:
    """A notice as staff see it (never the phone number or openid)."""
    return {
        "id": item.id,
        "report_id": item.report_id,
        "purpose": item.purpose,
        "channel": item.channel,
        "recipient_kind": item.recipient_kind,
        "recipient_id": item.recipient_id,
        "status": item.status,
        "attempts": int(item.attempts or 0),
        "last_error": item.last_error,
        "created_at": item.created_at,
        "sent_at": item.sent_at,
        "failed_at": item.failed_at,
    }


def report_notices(report_id: str) -> list[dict]:
    """Every notice a report caused, oldest first."""
    return [notice_view(item) for item in OutboxModel.by_report.query(report_id)]


def _in_scope(principal: Principal, item: OutboxModel) -> bool:
    return (
        (principal.has("city_staff") and item.scope_city_id == principal.city_id)
        or (principal.has("district_staff") and item.scope_district_id == principal.district_id)
        or (principal.has("station_staff") and item.scope_station_id == principal.station_id)
    )


def failed_notices(principal: Principal) -> list[dict]:
    """Notices that failed for good in the caller's area, newest first.

    Failed notices are rare and share one index partition; the newest are read
    until enough belong to the caller's area (bounded by MAX_FAILED_READ).
    """
    found = []
    items = OutboxModel.failed.query(
        "failed", scan_index_forward=False, limit=MAX_FAILED_READ, page_size=MAX_FAILED
    )
    for item in items:
        if _in_scope(principal, item):
            found.append(notice_view(item))
            if len(found) == MAX_FAILED:
                break
    return found

"""Read models: a deputy's task list, a report's open offers, notices, failed notices for staff."""

from __future__ import annotations

from chalicelib.auth.tokens import Principal
from chalicelib.clock import now_iso
from chalicelib.reports.categories import leaf_categories
from chalicelib.store.models import OutboxModel, ReportModel, TaskModel
from chalicelib.workflow.states import HANDLING_STATES

TASK_FILTERS = (
    "offered",
    "accepted",
    "in_progress",
    "closed",
    "withdrawn",
    "declined",
    "expired",
)
# The tabs of the deputy's workbench that are not a task status: overdue = in hand (accepted
# or in progress) and past the deadline of the report's current step.
OVERDUE = "overdue"
DEPUTY_FILTERS = (*TASK_FILTERS, OVERDUE)
IN_HAND = ("accepted", "in_progress")
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


def task_view(task: TaskModel, deadlines: dict[str, tuple[str, bool]] | None = None) -> dict:
    """One line of a deputy's task list; `deadlines`: {report id: (deadline, overdue)} of
    the reports in hand."""
    category = leaf_categories().get(task.category, {})
    deadline, overdue = (deadlines or {}).get(task.report_id, (None, False))
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
        "deadline": deadline,
        "overdue": overdue,
    }


def _of_status(deputy_id: str, status: str) -> list[TaskModel]:
    return list(
        TaskModel.by_status.query(
            deputy_id,
            range_key_condition=TaskModel.status_key.startswith(f"{status}#"),
            scan_index_forward=False,
            limit=MAX_TASKS,
        )
    )


def _count(deputy_id: str, status: str) -> int:
    return TaskModel.by_status.count(
        deputy_id, range_key_condition=TaskModel.status_key.startswith(f"{status}#")
    )


def in_hand_deadlines(deputy_id: str, tasks: list[TaskModel]) -> dict[str, tuple[str, bool]]:
    """{report id: (deadline of its current step, whether it passed)} of the reports the
    deputy holds and is handling, read with one BatchGetItem (at most 2 × MAX_TASKS keys)."""
    ids = list(dict.fromkeys(task.report_id for task in tasks))
    if not ids:
        return {}
    attributes = ["id", "status", "accepted_by", "step_due_at", "overdue_since"]
    now = now_iso()
    found = {}
    for report in ReportModel.batch_get(ids, attributes_to_get=attributes):
        if report.accepted_by != deputy_id or report.status not in HANDLING_STATES:
            continue
        deadline = report.step_due_at
        late = bool(report.overdue_since) or bool(deadline and deadline < now)
        found[report.id] = (deadline, late)
    return found


def deputy_tasks(deputy_id: str, status: str | None) -> tuple[list[dict], dict[str, int]]:
    """The deputy's newest tasks (of one status, the overdue ones, or all) and the counts
    per tab: `offered`, `accepted`, `in_progress`, `in_hand` (the two), `overdue`.

    One index Query per status listed, Select=COUNT Queries for the counts, and the reports
    in hand read once (their deadlines: `overdue`).
    """
    in_hand = {name: _of_status(deputy_id, name) for name in IN_HAND}
    deadlines = in_hand_deadlines(deputy_id, in_hand["accepted"] + in_hand["in_progress"])
    if status == OVERDUE:
        held = in_hand["accepted"] + in_hand["in_progress"]
        tasks = [task for task in held if deadlines.get(task.report_id, (None, False))[1]]
    else:
        tasks = []
        for wanted in [status] if status else TASK_FILTERS:
            tasks += in_hand[wanted] if wanted in in_hand else _of_status(deputy_id, wanted)
    items = [task_view(task, deadlines) for task in tasks]
    items.sort(key=lambda item: item["updated_at"], reverse=True)
    counts = {"offered": _count(deputy_id, "offered")}
    for name in IN_HAND:  # read whole above unless there are MAX_TASKS of them
        listed = len(in_hand[name])
        counts[name] = listed if listed < MAX_TASKS else _count(deputy_id, name)
    counts["in_hand"] = counts["accepted"] + counts["in_progress"]
    counts[OVERDUE] = sum(1 for _, late in deadlines.values() if late)
    return items[:MAX_TASKS], counts


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

"""The overdue ladder (人大督): remind, then station, district and city staff, rung by rung.

Each open step of a report has a window (its start and its deadline). The due
sweep looks at a report when its next rung is due:

| rung | when                          | who is told                                   |
|------|-------------------------------|-----------------------------------------------|
| 1    | 75 % of the window            | the person responsible (reminder)             |
| 2    | at the deadline (overdue)     | station staff (district staff if none)        |
| 3    | deadline + ESCALATION_HOURS   | district staff                                |
| 4    | deadline + 2×ESCALATION_HOURS | city staff (提级督办)                          |

An offer nobody accepts by its deadline moves to the next candidates instead; once
none are left the report is `unmatched` and its "assign" step starts: station staff
(district, then city staff where a station has none) must assign a deputy within
ASSIGN_HOURS, and are the ones reminded at 75 %; past the deadline it climbs the same
rungs. A first answer given as a progress note starts the "handling" step (WORK_ORDER_DAYS
working days), so a report is on the ladder from its first offer until it is resolved.
Every rung is a transition (timeline event, outbox notices, counters) conditioned
on the report's version, so a sweep run twice, or two sweeps at once, tell
nobody twice.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from chalicelib.bootstrap import Services
from chalicelib.clock import utcnow
from chalicelib.notify.outbox import Notice, Recipient
from chalicelib.store.models import DeputyModel, ReportModel
from chalicelib.workflow import people
from chalicelib.workflow.calendar import BEIJING
from chalicelib.workflow.engine import Change, Count, EventSpec, commit
from chalicelib.workflow.tasks import open_offers

STEP_NAMES = {
    "offer": "接单",
    "assign": "分派代表",
    "answer": "首次答复",
    "handling": "代表办理",
    "work_order": "交办办理",
    "second_handling": "二次办理",
    "escalated": "督办办理",
}
DEFAULT_ESCALATION_HOURS = 24
LAST_RUNG = 4
ASSIGN_HOLDER = "联络站工作人员"  # who holds the "assign" step of an unmatched report


def escalation_hours() -> float:
    """Hours between the overdue rungs (`ESCALATION_HOURS`, default 24)."""
    return float(os.environ.get("ESCALATION_HOURS") or DEFAULT_ESCALATION_HOURS)


def _values(report: ReportModel, deadline: datetime, holder: str | None = None) -> dict:
    from chalicelib.reports.categories import leaf_categories

    category = leaf_categories().get(report.category, {})
    return {
        "report_id": report.id,
        "category_name": category.get("name", report.category),
        "excerpt": (report.text or "")[:20],
        "step_name": STEP_NAMES.get(report.due_kind, report.due_kind or ""),
        "deadline": deadline.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"),
        "holder": holder or "",
    }


def _holder(report: ReportModel) -> tuple[list[Recipient], str]:
    """Who is responsible for the open step, and their name for staff."""
    if report.due_kind == "assign":
        return people.assigning_staff(report), ASSIGN_HOLDER
    if report.due_kind == "offer":
        deputies = [DeputyModel.get(d) for d in open_offers(report)]
        return [people.deputy(d) for d in deputies], "、".join(d.name for d in deputies)
    recipients, names = [], []
    if report.accepted_by:
        deputy = DeputyModel.get(report.accepted_by)
        recipients.append(people.deputy(deputy))
        names.append(f"{deputy.name}代表")
    if report.due_kind == "work_order" and report.department_id:
        recipients += people.handlers(report.department_id)
        names.append(report.department_id)
    return recipients, "、".join(names)


def _staff_for(rung: int, report: ReportModel) -> list[Recipient]:
    if rung == 2:
        return people.station_staff(report.station_id) or people.district_staff(report.district_id)
    if rung == 3:
        return people.district_staff(report.district_id) or people.city_staff(report.city_id)
    return people.city_staff(report.city_id)


def _remind(services: Services, report: ReportModel, deadline: datetime) -> ReportModel:
    recipients, holder = _holder(report)
    channels: tuple[str, ...] = ("wechat", "sms")
    page: str | None = None  # the template's default: the deputy's task page (TASK_PAGE)
    if report.due_kind == "assign":
        channels, page = ("wechat",), f"pages/staff/report?id={report.id}"
    notice = Notice("deadline_reminder", _values(report, deadline, holder), page=page)
    change = Change(
        report=report,
        action="remind",
        event=EventSpec(
            "reminded",
            None,
            "system",
            internal=True,
            note=f"{STEP_NAMES.get(report.due_kind, '')}将于 "
            f"{_values(report, deadline)['deadline']} 到期，已提醒 {holder or '承办人'}",
        ),
        attributes={"ladder_rung": 1, "due_at": deadline.isoformat()},
        notices=[(recipient, notice, channels) for recipient in recipients],
    )
    return commit(services, change)


def _overdue_rung(
    services: Services, report: ReportModel, rung: int, deadline: datetime
) -> ReportModel:
    holder = ASSIGN_HOLDER if report.due_kind == "assign" else _holder(report)[1]
    step = timedelta(hours=escalation_hours())
    level = {2: "联络站", 3: "区人大常委会", 4: "市人大常委会"}[rung]
    attributes: dict = {"ladder_rung": rung}
    if rung < LAST_RUNG:
        attributes["due_at"] = (deadline + step * (rung - 1)).isoformat()
    else:
        attributes.update(due_at=None, due_shard=None)
    counts = []
    if rung == 2:
        attributes.update(
            overdue_district=report.district_id or "none", overdue_since=deadline.isoformat()
        )
        counts.append(Count("overdue"))
    if rung == LAST_RUNG:
        counts.append(Count("escalated"))
    note = f"{STEP_NAMES.get(report.due_kind, '')}已超期，已报{level}督办"
    if rung == LAST_RUNG:
        note += "（提级督办）"
    notice = Notice(
        "report_overdue",
        _values(report, deadline, holder),
        page=f"pages/staff/report?id={report.id}",
    )
    change = Change(
        report=report,
        action="supervise",
        event=EventSpec("overdue", None, "system", note=note),
        attributes=attributes,
        notices=[(r, notice, ("wechat",)) for r in _staff_for(rung, report)],
        counts=counts,
    )
    return commit(services, change)


def _reoffer(services: Services, report: ReportModel, deadline: datetime) -> ReportModel:
    from chalicelib.workflow import operations

    return operations.reoffer_expired(services, report)


def advance(services: Services, report_id: str, now: datetime | None = None) -> str | None:
    """Take the next rung of a due report; returns what was done (None if nothing was due)."""
    now = now or utcnow()
    report = ReportModel.get(report_id, consistent_read=True)
    if report.due_kind not in STEP_NAMES or not report.due_at or report.due_at > now.isoformat():
        return None
    deadline = datetime.fromisoformat(report.step_due_at)
    rung = int(report.ladder_rung or 0)
    if rung == 0 and now < deadline:
        _remind(services, report, deadline)
        return "reminded"
    if report.due_kind == "offer":
        _reoffer(services, report, deadline)
        return "reoffered"
    next_rung = max(rung, 1) + 1
    if next_rung > LAST_RUNG:
        return None
    _overdue_rung(services, report, next_rung, deadline)
    return f"rung{next_rung}"

"""What deputies, handlers, staff and citizens do to a report, each a checked transition."""

from __future__ import annotations

import re
from datetime import timedelta

from chalicelib.auth.tokens import Principal
from chalicelib.bootstrap import Services
from chalicelib.clock import now_iso, utcnow
from chalicelib.config import DEFAULT_STEP_HOURS, Settings
from chalicelib.errors import Conflict, Forbidden, InvalidField, NotFound
from chalicelib.matching.ranking import DeputyProfile, ReportContext, rank
from chalicelib.notify.outbox import Notice
from chalicelib.notify.queue import enqueue_job
from chalicelib.reports.access import can_read
from chalicelib.reports.admission import admission_counts, admission_steps
from chalicelib.reports.categories import leaf_categories
from chalicelib.reports.reading import station_name
from chalicelib.store.models import (
    Candidate,
    DepartmentModel,
    DeputyModel,
    Evaluation,
    ReportModel,
    TaskModel,
)
from chalicelib.store.transactions import TransactWrite
from chalicelib.workflow import people
from chalicelib.workflow.calendar import BEIJING, add_working_days
from chalicelib.workflow.engine import CLEAR, Change, Count, EventSpec, commit
from chalicelib.workflow.states import STATE_NAMES, TRANSITIONS, allowed_from
from chalicelib.workflow.tasks import open_offers

# Defaults only: the windows in force are the settings `offer_hours`, `answer_hours` and
# `assign_hours` (OFFER_HOURS, ANSWER_HOURS, ASSIGN_HOURS); bench/sweep.py reads these names.
OFFER_HOURS = ANSWER_HOURS = DEFAULT_STEP_HOURS
MATCH_RETRY_SECONDS = 120
WECHAT = ("wechat",)
BOTH = ("wechat", "sms")
# Ids a caller names in a body (deputy, department, report): bounded before any key lookup.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
TASK_STATUS = {
    "offered": "offered",
    "accepted": "accepted",
    "in_progress": "in_progress",
    "second_handling": "in_progress",
    "escalated": "in_progress",
    "resolved": "in_progress",
    "closed": "closed",
    "merged": "closed",
}


def _require_state(report: ReportModel, action: str) -> None:
    if not allowed_from(action, report.status):
        title = TRANSITIONS[action].title
        raise Conflict(
            f"该反映当前状态为“{STATE_NAMES.get(report.status, report.status)}”，不能{title}",
            code="transition_not_allowed",
        )


def _values(report: ReportModel, **extra: str) -> dict:
    category = leaf_categories().get(report.category, {})
    values = {
        "report_id": report.id,
        "category_name": category.get("name", report.category),
        "excerpt": (report.text or "")[:20],
        "status_name": STATE_NAMES.get(report.status, report.status),
    }
    values.update({k: v for k, v in extra.items() if v is not None})
    return values


def _task_update(deputy_id: str, report_id: str, status: str, expect: str | None = None, **fields):
    """A transaction step moving one deputy's task (by its key) to `status`.

    With `expect`, only a task in that status is moved (the transaction is refused
    otherwise), so a closed offer is never overwritten.
    """
    now = now_iso()

    def step(transaction: TransactWrite) -> None:
        actions = [
            TaskModel.status.set(status),
            TaskModel.status_key.set(f"{status}#{now}"),
            TaskModel.updated_at.set(now),
        ]
        actions += [getattr(TaskModel, k).set(v) for k, v in fields.items()]
        condition = TaskModel.report_id.exists()
        if expect:
            condition &= TaskModel.status == expect
        transaction.update(TaskModel(deputy_id, report_id), actions, condition=condition)

    return step


def _caller_id(value: object, field: str, missing: str) -> str:
    """An id named in a body: present, at most 64 letters, digits, `_` or `-` (else 422)."""
    if not isinstance(value, str) or not value:
        raise InvalidField(missing, field=field, code="missing_field")
    if not ID_PATTERN.fullmatch(value):
        raise InvalidField("编号格式不正确（至多 64 个字母、数字、下划线或连字符）", field=field)
    return value


def _load_change(deputy_id: str, delta: int):
    def step(transaction: TransactWrite) -> None:
        transaction.update(
            DeputyModel(deputy_id),
            [DeputyModel.open_tasks.add(delta)],
            condition=DeputyModel.id.exists(),
        )

    return step


def deputy_activity(deputy_id: str | None, *metrics: str) -> list[Count]:
    """Counters of a deputy's action: participation in the area, and the duty record."""
    if not deputy_id:
        return []
    counts = [
        Count(f"active:{deputy_id}", scopes=("district", "city")),
        Count("actions", scopes=(f"deputy:{deputy_id}",)),
    ]
    counts += [Count(metric, scopes=(f"deputy:{deputy_id}",)) for metric in metrics]
    return counts


def closing_counts(report: ReportModel, reason: str, first_time: bool = False) -> list[Count]:
    """Counters of a report reaching `closed`: how many, how long it took, how."""
    from datetime import datetime

    days = (utcnow() - datetime.fromisoformat(report.created_at)).total_seconds() / 86400
    counts = [Count("closed", total=round(days, 4)), Count(f"closed_{reason}")]
    if first_time:
        counts.append(Count("closed_first_time"))
    return counts


def _get_report(report_id: str) -> ReportModel:
    if not report_id or len(report_id) > 64:
        raise NotFound("反映不存在", code="report_not_found")
    try:
        return ReportModel.get(report_id, consistent_read=True)
    except ReportModel.DoesNotExist:
        raise NotFound("反映不存在", code="report_not_found") from None


def _get_deputy(deputy_id: str) -> DeputyModel:
    try:
        return DeputyModel.get(deputy_id)
    except DeputyModel.DoesNotExist:
        raise NotFound("代表不存在", field="deputy_id", code="deputy_not_found") from None


def _profile(deputy: DeputyModel) -> DeputyProfile:
    return DeputyProfile(
        id=deputy.id,
        name=deputy.name,
        level=deputy.level,
        station_id=deputy.station_id,
        district_id=deputy.district_id,
        expertise=tuple(deputy.expertise or ()),
        duty_weekdays=tuple(int(d) for d in deputy.duty_weekdays or ()),
        open_tasks=int(deputy.open_tasks or 0),
        reachable=bool(deputy.phone or deputy.openid),
    )


# --- matching and offers -------------------------------------------------------------


def _offer_steps(report: ReportModel, matches) -> list:
    now = now_iso()
    excerpt = (report.text or "")[:60]
    steps = []
    for match in matches:
        task = TaskModel(
            match.deputy_id,
            report.id,
            status="offered",
            status_key=f"offered#{now}",
            updated_at=now,
            offered_at=now,
            score=match.score,
            reasons=list(match.reasons),
            category=report.category,
            excerpt=excerpt,
            station_id=report.station_id,
        )
        steps.append(
            lambda t, task=task: t.save(task, condition=TaskModel.report_id.does_not_exist())
        )
    return steps


def _offer_change(
    settings: Settings,
    report: ReportModel,
    matches,
    deputies: dict[str, DeputyModel],
    event: EventSpec,
) -> Change:
    names = "、".join(m.name for m in matches)
    event.note = event.note or f"已推送给 {names}"
    candidates = list(report.candidates or []) + [
        Candidate(deputy_id=m.deputy_id, name=m.name, score=m.score, reasons=list(m.reasons))
        for m in matches
    ]
    matched = list(
        dict.fromkeys(list(report.matched_deputy_ids or []) + [m.deputy_id for m in matches])
    )
    station = station_name(report.station_id) or ""
    notices = [
        (
            people.deputy(deputies[m.deputy_id]),
            # No page: the template's default, the deputy's task page (TASK_PAGE).
            Notice("task_offered", _values(report, station_name=station)),
            BOTH,
        )
        for m in matches
    ]
    return Change(
        report=report,
        action="match",
        event=event,
        to_state="offered",
        attributes={"candidates": candidates, "matched_deputy_ids": matched},
        due=("offer", utcnow() + timedelta(hours=settings.offer_hours)),
        notices=notices,
        extra=_offer_steps(report, matches),
    )


def _unmatched_change(settings: Settings, report: ReportModel, event: EventSpec) -> Change:
    """No deputy (left) to offer the report to: staff must assign one within `assign_hours`.

    The "assign" step is on the overdue ladder like any other: station staff are reminded
    at 75 % of the window, then station, district and city staff are told it is overdue.
    """
    event.note = event.note or "暂无匹配的代表，已转联络站工作人员分派"
    notices = [
        (
            recipient,
            Notice("report_unmatched", _values(report), page=f"pages/staff/report?id={report.id}"),
            WECHAT,
        )
        for recipient in people.assigning_staff(report)
    ]
    deadline = utcnow() + timedelta(hours=settings.assign_hours)
    return Change(
        report=report,
        action="match",
        event=event,
        to_state="unmatched",
        due=("assign", deadline),
        notices=notices,
    )


def _rank_for(services: Services, report: ReportModel, exclude: list[str], k: int):
    if not report.district_id:
        return [], {}
    deputies = {d.id: d for d in DeputyModel.district.query(report.district_id)}
    category = leaf_categories().get(report.category, {})
    context = ReportContext(
        station_id=report.station_id,
        district_id=report.district_id,
        category_expertise=tuple(category.get("expertise", ())),
        weekday=utcnow().astimezone(BEIJING).isoweekday(),
        excluded=tuple(exclude),
    )
    profiles = [_profile(d) for d in deputies.values()]
    return rank(context, profiles, k), deputies


def match_report(services: Services, report_id: str) -> ReportModel:
    """Offer a newly submitted report to the best K deputies (or to staff if none fits).

    Idempotent: a report already past `submitted` is left as it is. This first
    match admits the report: its counters and topic-log entry join the transaction.
    """
    report = _get_report(report_id)
    if report.status != "submitted" or report.moderation != "pass":
        return report
    matches, deputies = _rank_for(services, report, [], services.settings.match_top_k)
    if matches:
        change = _offer_change(
            services.settings, report, matches, deputies, EventSpec("offered", None, "system")
        )
    else:
        change = _unmatched_change(
            services.settings, report, EventSpec("unmatched", None, "system")
        )
    change.counts += admission_counts(report)
    change.extra += admission_steps(report)
    return commit(services, change)


def reoffer_expired(services: Services, report: ReportModel) -> ReportModel:
    """An offer nobody accepted in time: withdraw it and offer the next candidates."""
    _require_state(report, "reoffer")
    stale = open_offers(report)
    exclude = list(
        dict.fromkeys(list(report.matched_deputy_ids or []) + list(report.declined_by or []))
    )
    matches, deputies = _rank_for(services, report, exclude, services.settings.match_top_k)
    event = EventSpec("offer_expired", None, "system")
    if matches:
        change = _offer_change(services.settings, report, matches, deputies, event)
        change.event.note = "超时无人接单，" + change.event.note
    else:
        change = _unmatched_change(services.settings, report, event)
        change.event.note = "超时无人接单，且无其他可推送的代表，已转工作人员分派"
    change.action = "reoffer"
    change.extra += [_task_update(d, report.id, "expired", expect="offered") for d in stale]
    change.counts.append(Count("offer_expired"))
    return commit(services, change)


def assign(
    services: Services, principal: Principal, report_id: str, deputy_id: object
) -> ReportModel:
    """Staff offer a report to a deputy of their choosing.

    This ends the open step (an offer, or the "assign" step of an unmatched report, with
    its overdue state) and starts a new offer step.
    """
    report = _readable_by_staff(principal, report_id)
    _require_state(report, "assign")
    deputy_id = _caller_id(deputy_id, "deputy_id", "请选择代表")
    deputy = _get_deputy(deputy_id)
    if deputy_id in (report.matched_deputy_ids or []):
        raise Conflict("已推送给该代表", code="already_offered")
    from chalicelib.matching.ranking import Match

    match = Match(deputy.id, deputy.name, 0, ("工作人员指定",))
    event = EventSpec(
        "offered", principal.user_id, _staff_role(principal), note=f"工作人员指定 {deputy.name}"
    )
    change = _offer_change(services.settings, report, [match], {deputy.id: deputy}, event)
    change.action = "assign"
    return commit(services, change)


def moderate(services: Services, principal: Principal, report_id: str, body: dict) -> ReportModel:
    """Staff review a report held by the content check: pass it on to matching, or reject it."""
    report = _readable_by_staff(principal, report_id)
    _require_state(report, "moderate")
    if report.moderation != "review":
        raise Conflict("该反映无需审核", code="not_under_review")
    result = body.get("result")
    if result not in ("pass", "reject"):
        raise InvalidField("审核结果须为 pass 或 reject", field="result")
    note = _note(body.get("note"), required=result == "reject")
    role = _staff_role(principal)
    if result == "pass":
        change = Change(
            report=report,
            action="moderate",
            event=EventSpec(
                "reviewed", principal.user_id, role, note=note or "审核通过", internal=True
            ),
            attributes={"moderation": "pass"},
            due=("match", utcnow() + timedelta(seconds=MATCH_RETRY_SECONDS)),
        )
        updated = commit(services, change)
        enqueue_job(services, {"job": "match", "report_id": report.id})
        return updated
    change = Change(
        report=report,
        action="moderate",
        event=EventSpec("rejected", principal.user_id, role, note=note),
        to_state="closed",
        attributes={"moderation": "rejected", "closed_at": now_iso(), "close_reason": "rejected"},
        due=CLEAR,
        counts=[Count("rejected")],
    )
    return commit(services, change)


def _staff_role(principal: Principal) -> str:
    for role in ("city_staff", "district_staff", "station_staff"):
        if principal.has(role):
            return role
    return "staff"


def _readable_by_staff(principal: Principal, report_id: str) -> ReportModel:
    from chalicelib.reports.access import is_staff_of

    report = _get_report(report_id)
    if not any(principal.has(r) for r in ("station_staff", "district_staff", "city_staff")):
        raise Forbidden("只有工作人员可以进行此操作", code="forbidden_role")
    if not is_staff_of(principal, report):
        raise NotFound("反映不存在", code="report_not_found")
    return report


# --- deputies ---------------------------------------------------------------------------


def _offered_to(principal: Principal, report_id: str) -> tuple[ReportModel, TaskModel]:
    if not principal.has("deputy") or not principal.deputy_id:
        raise Forbidden("只有人大代表可以接单", code="forbidden_role")
    report = _get_report(report_id)
    try:
        task = TaskModel.get(principal.deputy_id, report_id, consistent_read=True)
    except TaskModel.DoesNotExist:
        raise NotFound("反映不存在", code="report_not_found") from None
    return report, task


def accept(services: Services, principal: Principal, report_id: str) -> ReportModel:
    """The deputy takes the report; exactly one of the offered deputies wins."""
    report, task = _offered_to(principal, report_id)
    if task.status == "withdrawn":
        taken_by = f"{task.taken_by}代表" if task.taken_by else "其他代表"
        raise Conflict(f"该反映已由{taken_by}接单", code="state_conflict")
    if report.status == "offered" and task.status != "offered":
        raise Conflict("您已处理过该任务", code="offer_closed")
    _require_state(report, "accept")
    deputy = _get_deputy(principal.deputy_id)
    others = open_offers(report, exclude=deputy.id)
    extra = [
        _task_update(deputy.id, report.id, "accepted", expect="offered"),
        _load_change(deputy.id, 1),
    ]
    extra += [
        _task_update(other, report.id, "withdrawn", expect="offered", taken_by=deputy.name)
        for other in others
    ]
    change = Change(
        report=report,
        action="accept",
        event=EventSpec("accepted", principal.user_id, "deputy", note=f"{deputy.name} 代表已接单"),
        to_state="accepted",
        attributes={"accepted_by": deputy.id, "accepted_at": now_iso()},
        due=("answer", utcnow() + timedelta(hours=services.settings.answer_hours)),
        notices=[
            (
                people.citizen(report),
                Notice(
                    "report_accepted",
                    _values(report, deputy_name=deputy.name),
                    page=f"pages/report/detail?id={report.id}",
                ),
                WECHAT,
            )
        ],
        extra=extra,
        counts=[Count("accepted"), *deputy_activity(deputy.id)],
        conflict_message="该反映已被其他代表接单",
    )
    return commit(services, change)


def decline(
    services: Services, principal: Principal, report_id: str, reason: object
) -> ReportModel:
    """The deputy declines; the report goes to the next candidate, or to staff."""
    report, task = _offered_to(principal, report_id)
    _require_state(report, "decline")
    if task.status != "offered":
        raise Conflict("您已处理过该任务", code="offer_closed")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 200:
        raise InvalidField("请填写婉拒原因（200 字以内）", field="reason")
    declined = list(report.declined_by or []) + [principal.deputy_id]
    still_offered = open_offers(report, exclude=principal.deputy_id)
    event = EventSpec("declined", principal.user_id, "deputy", note=reason.strip(), internal=True)
    step = _task_update(
        principal.deputy_id, report.id, "declined", expect="offered", note=reason.strip()
    )
    activity = deputy_activity(principal.deputy_id)
    if still_offered:
        change = Change(
            report=report,
            action="decline",
            event=event,
            attributes={"declined_by": declined},
            extra=[step],
            counts=activity,
        )
        return commit(services, change)
    exclude = list(dict.fromkeys(declined + list(report.matched_deputy_ids or [])))
    matches, deputies = _rank_for(services, report, exclude, 1)
    if matches:
        change = _offer_change(services.settings, report, matches, deputies, event)
        change.event.note = f"{reason.strip()}；已转推 {matches[0].name}"
    else:
        change = _unmatched_change(services.settings, report, event)
    change.action = "decline"
    change.attributes["declined_by"] = declined
    change.extra.append(step)
    change.counts += activity
    return commit(services, change)


def _handling_report(principal: Principal, report_id: str, action: str) -> ReportModel:
    """The report, if the caller may act on it: its deputy, its department's handler, staff."""
    report = _get_report(report_id)
    is_deputy = principal.has("deputy") and report.accepted_by == principal.deputy_id
    is_handler = (
        principal.has("handler")
        and report.department_id is not None
        and principal.department_id == report.department_id
    )
    is_city = principal.has("city_staff") and principal.city_id == report.city_id
    allowed_roles = TRANSITIONS[action].roles
    if not (
        (is_deputy and "deputy" in allowed_roles)
        or (is_handler and "handler" in allowed_roles)
        or (is_city and "city_staff" in allowed_roles and report.status == "escalated")
    ):
        if can_read(principal, report):
            raise Forbidden("您不是该反映的承办人", code="not_handler")
        raise NotFound("反映不存在", code="report_not_found")
    _require_state(report, action)
    return report


def _activity_of(principal: Principal, report: ReportModel, *metrics: str) -> list[Count]:
    """Duty-record counters when the actor is the report's deputy (none for others)."""
    if principal.has("deputy") and report.accepted_by == principal.deputy_id:
        return deputy_activity(principal.deputy_id, *metrics)
    return []


def _actor_role(principal: Principal, report: ReportModel) -> str:
    if principal.has("deputy") and report.accepted_by == principal.deputy_id:
        return "deputy"
    if principal.has("handler") and principal.department_id == report.department_id:
        return "handler"
    return "city_staff"


def _note(value: object, field: str = "note", required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidField("请填写说明", field=field, code="missing_field")
    if len(value) > 1000:
        raise InvalidField("说明不能超过 1000 个字", field=field)
    return value.strip()


def _photos(services: Services, principal: Principal, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 9:
        raise InvalidField("照片最多 9 张", field="photos")
    for index, key in enumerate(value):
        if not isinstance(key, str) or not key:
            raise InvalidField("照片编号不正确", field=f"photos[{index}]")
    services.uploads.require_photos(principal.user_id, value)
    return value


def _resolved_change(services, report, principal, note, photos, event_type) -> Change:
    days = services.settings.evaluation_days
    recipients = [people.citizen(report), *people.followers(report)]
    purpose = "report_answered" if event_type == "replied" else "report_resolved"
    notices = [
        (
            recipient,
            Notice(
                purpose, _values(report, note=note[:20]), page=f"pages/report/detail?id={report.id}"
            ),
            WECHAT,
        )
        for recipient in recipients
    ]
    extra = []
    if report.accepted_by:
        extra.append(_task_update(report.accepted_by, report.id, "in_progress"))
    return Change(
        report=report,
        action="resolve" if event_type == "resolved" else "reply",
        event=EventSpec(
            event_type, principal.user_id, _actor_role(principal, report), note=note, photos=photos
        ),
        to_state="resolved",
        attributes={"resolved_at": now_iso()},
        due=("evaluation", utcnow() + timedelta(days=days)),
        notices=notices,
        extra=extra,
        counts=[Count("resolved"), *_activity_of(principal, report, "resolved")],
    )


def triage(services: Services, principal: Principal, report_id: str, body: dict) -> ReportModel:
    """The accepting deputy decides: reply, transfer, suggestion or merge."""
    action = body.get("action")
    if action not in ("reply", "transfer", "suggestion", "merge"):
        raise InvalidField("处理方式须为 reply、transfer、suggestion 或 merge", field="action")
    report = _handling_report(principal, report_id, action)
    if action == "reply":
        note = _note(body.get("note"))
        return commit(services, _resolved_change(services, report, principal, note, [], "replied"))
    if action == "transfer":
        return _transfer(services, principal, report, body)
    if action == "suggestion":
        note = _note(body.get("note"))
        change = Change(
            report=report,
            action="suggestion",
            event=EventSpec("suggestion", principal.user_id, "deputy", note=note),
            to_state="in_progress" if report.status == "accepted" else None,
            attributes={"handling": "suggestion"},
            due=CLEAR,
            notices=[
                (
                    people.citizen(report),
                    Notice(
                        "report_answered",
                        _values(report, note=note[:20]),
                        page=f"pages/report/detail?id={report.id}",
                    ),
                    WECHAT,
                )
            ],
            extra=[_task_update(report.accepted_by, report.id, "in_progress")],
            counts=[Count("suggestions"), *deputy_activity(report.accepted_by, "suggestions")],
        )
        return commit(services, change)
    return _merge(services, principal, report, body)


def _transfer(services, principal, report: ReportModel, body: dict) -> ReportModel:
    department_id = _caller_id(body.get("department_id"), "department_id", "请选择承办单位")
    try:
        department = DepartmentModel.get(department_id)
    except DepartmentModel.DoesNotExist:
        raise InvalidField("承办单位不存在", field="department_id") from None
    days = body.get("deadline_days", services.settings.work_order_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
        raise InvalidField("办理期限须为 1～60 个工作日", field="deadline_days")
    note = _note(body.get("note"), required=False)
    deadline = add_working_days(utcnow(), days)
    deadline_text = deadline.astimezone(BEIJING).strftime("%Y-%m-%d")
    notices = _work_order_notices(report, department, deadline_text, note)
    change = Change(
        report=report,
        action="transfer",
        event=EventSpec(
            "transferred",
            principal.user_id,
            "deputy",
            note=f"已交办{department.name}，办理期限 {deadline_text}"
            + (f"。{note}" if note else ""),
        ),
        to_state="in_progress" if report.status == "accepted" else None,
        attributes={
            "handling": "transfer",
            "department_id": department.id,
            "work_order_due": deadline.isoformat(),
            "transferred_at": now_iso(),
        },
        due=("work_order", deadline),
        notices=notices,
        counts=[Count("transferred"), *deputy_activity(report.accepted_by)],
        extra=[_task_update(report.accepted_by, report.id, "in_progress")],
    )
    return commit(services, change)


def _work_order_notices(report, department, deadline_text: str, note: str | None) -> list:
    """The department's handlers are told; a department with none (no handler account yet)
    would leave the order unseen, so the staff who assign reports are told instead."""
    handlers = people.handlers(department.id)
    if handlers:
        values = _values(report, deadline=deadline_text, note=(note or "")[:20])
        return [
            (r, Notice("work_order", values, page=f"pages/task/task?id={report.id}"), WECHAT)
            for r in handlers
        ]
    values = _values(report, department_name=department.name, deadline=deadline_text)
    notice = Notice("work_order_unstaffed", values, page=f"pages/staff/report?id={report.id}")
    return [(r, notice, WECHAT) for r in people.assigning_staff(report)]


MERGE_TARGET = "merge_target"


def _merge_target_closed() -> InvalidField:
    return InvalidField("不能合并到已关闭或已合并的反映", field="into", code="merge_target_closed")


def _merge_target(principal: Principal, report: ReportModel, target_id: str) -> ReportModel:
    """The report a duplicate is merged into: one the deputy may see, still open.

    The deputy may merge into a report they could read (access rules of
    `reports.access`) or one of the same district as the duplicate; whether an
    unknown id or a report out of reach, the answer is the same 422.
    """
    unknown = InvalidField(
        "要合并到的反映不存在或无权查看", field="into", code="merge_target_not_found"
    )
    if target_id == report.id:
        raise InvalidField("不能合并到本反映", field="into", code="merge_into_itself")
    try:
        target = ReportModel.get(target_id, consistent_read=True)
    except ReportModel.DoesNotExist:
        raise unknown from None
    same_district = bool(report.district_id) and target.district_id == report.district_id
    if target.moderation != "pass" or not (can_read(principal, target) or same_district):
        raise unknown
    if target.status in ("closed", "merged"):
        raise _merge_target_closed()
    return target


def _merge(services, principal, report: ReportModel, body: dict) -> ReportModel:
    target_id = _caller_id(body.get("into"), "into", "请填写要合并到的反映编号")
    target = _merge_target(principal, report, target_id)

    def follow(transaction: TransactWrite) -> None:
        transaction.update(
            target,
            [ReportModel.followers.set((ReportModel.followers | []).append([report.reporter_id]))],
            condition=ReportModel.status.is_in(
                "submitted",
                "offered",
                "unmatched",
                "accepted",
                "in_progress",
                "resolved",
                "second_handling",
                "escalated",
            ),
            add_version_condition=False,
            label=MERGE_TARGET,
        )

    change = Change(
        report=report,
        action="merge",
        event=EventSpec(
            "merged", principal.user_id, "deputy", note=f"与反映 {target.id} 为同一问题，已合并办理"
        ),
        to_state="merged",
        attributes={"merged_into": target.id, "closed_at": now_iso(), "close_reason": "merged"},
        due=CLEAR,
        notices=[
            (
                people.citizen(report),
                Notice(
                    "report_merged",
                    _values(report, note=target.id),
                    page=f"pages/report/detail?id={target.id}",
                ),
                WECHAT,
            )
        ],
        extra=[
            follow,
            _task_update(report.accepted_by, report.id, "closed"),
            _load_change(report.accepted_by, -1),
        ],
        counts=[Count("merged"), *deputy_activity(report.accepted_by)],
        refusals={MERGE_TARGET: _merge_target_closed()},
    )
    return commit(services, change)


def progress(services: Services, principal: Principal, report_id: str, body: dict) -> ReportModel:
    """A step of handling, with a note and photos; internal notes are hidden from citizens.

    The first note on an `accepted` report is the deputy's first answer: it ends the
    answer step and starts the "handling" step, `WORK_ORDER_DAYS` working days for the
    deputy to reply, transfer, suggest or resolve, so the report stays on the ladder.
    """
    report = _handling_report(principal, report_id, "progress")
    note = _note(body.get("note"))
    internal = body.get("internal", False)
    if not isinstance(internal, bool):
        raise InvalidField("internal 必须是 true 或 false", field="internal")
    photos = _photos(services, principal, body.get("photos"))
    change = Change(
        report=report,
        action="progress",
        event=EventSpec(
            "progress",
            principal.user_id,
            _actor_role(principal, report),
            note=note,
            photos=photos,
            internal=internal,
        ),
        to_state="in_progress" if report.status == "accepted" else None,
        due=(
            ("handling", add_working_days(utcnow(), services.settings.work_order_days))
            if report.status == "accepted"
            else None
        ),
        extra=(
            [_task_update(report.accepted_by, report.id, "in_progress")]
            if report.status == "accepted"
            else []
        ),
        counts=_activity_of(principal, report),
    )
    return commit(services, change)


def resolve(services: Services, principal: Principal, report_id: str, body: dict) -> ReportModel:
    """Handling is finished; the citizen is asked to evaluate."""
    report = _handling_report(principal, report_id, "resolve")
    note = _note(body.get("note"))
    photos = _photos(services, principal, body.get("photos"))
    return commit(services, _resolved_change(services, report, principal, note, photos, "resolved"))


# --- citizens ---------------------------------------------------------------------------


def evaluate(services: Services, principal: Principal, report_id: str, body: dict) -> ReportModel:
    """The reporter's verdict: satisfied closes; unsatisfied reopens, then escalates."""
    report = _get_report(report_id)
    if report.reporter_id != principal.user_id:
        if can_read(principal, report):
            raise Forbidden("只有反映人可以评价", code="not_reporter")
        raise NotFound("反映不存在", code="report_not_found")
    _require_state(report, "evaluate")
    result = body.get("result")
    if result not in ("satisfied", "unsatisfied"):
        raise InvalidField("评价须为 satisfied 或 unsatisfied", field="result")
    comment = _note(body.get("comment"), field="comment", required=False)
    round_ = int(report.round or 1)
    evaluations = list(report.evaluations or []) + [
        Evaluation(round=round_, result=result, comment=comment, at=now_iso())
    ]
    title = "满意" if result == "satisfied" else "不满意"
    event = EventSpec(
        "evaluated",
        principal.user_id,
        "citizen",
        note=f"{title}" + (f"：{comment}" if comment else ""),
    )
    attributes = {"evaluations": evaluations}
    deputy = report.accepted_by
    verdict = [Count("evaluations"), Count(result)]
    if result == "satisfied" or round_ >= 3:
        attributes.update(
            closed_at=now_iso(),
            close_reason="satisfied" if result == "satisfied" else "unsatisfied",
        )
        extra = (
            [_task_update(deputy, report.id, "closed"), _load_change(deputy, -1)] if deputy else []
        )
        change = Change(
            report=report,
            action="evaluate",
            event=event,
            to_state="closed",
            attributes=attributes,
            due=CLEAR,
            extra=extra,
            counts=verdict
            + closing_counts(
                report,
                attributes["close_reason"],
                first_time=result == "satisfied" and round_ == 1,
            ),
        )
        return commit(services, change)
    attributes["round"] = round_ + 1
    if round_ == 1:
        deadline = add_working_days(utcnow(), services.settings.second_handling_days)
        notices = [
            (
                people.citizen(report),
                Notice(
                    "second_handling", _values(report), page=f"pages/report/detail?id={report.id}"
                ),
                WECHAT,
            )
        ]
        if deputy:
            notices.append(
                (
                    people.deputy(_get_deputy(deputy)),
                    Notice("second_handling_deputy", _values(report, note=comment)),
                    BOTH,
                )
            )
        change = Change(
            report=report,
            action="evaluate",
            event=event,
            to_state="second_handling",
            attributes=attributes,
            due=("second_handling", deadline),
            notices=notices,
            counts=[*verdict, Count("second_handling")],
        )
        return commit(services, change)
    notices = [
        (
            recipient,
            Notice(
                "report_escalated",
                _values(report, note=comment),
                page=f"pages/staff/report?id={report.id}",
            ),
            WECHAT,
        )
        for recipient in people.city_staff(report.city_id)
    ]
    change = Change(
        report=report,
        action="evaluate",
        event=event,
        to_state="escalated",
        attributes=attributes,
        due=("escalated", add_working_days(utcnow(), services.settings.second_handling_days)),
        notices=notices,
        counts=[*verdict, Count("escalated")],
    )
    change.event.note += "；已提级督办"
    return commit(services, change)


def expire_evaluation(services: Services, report_id: str) -> ReportModel | None:
    """Close a resolved report its reporter did not evaluate in time (counted apart)."""
    report = _get_report(report_id)
    if report.status != "resolved" or report.due_kind != "evaluation":
        return None
    deputy = report.accepted_by
    extra = [_task_update(deputy, report.id, "closed"), _load_change(deputy, -1)] if deputy else []
    change = Change(
        report=report,
        action="expire_evaluation",
        event=EventSpec("closed", None, "system", note="逾期未评价，自动关闭"),
        to_state="closed",
        attributes={"closed_at": now_iso(), "close_reason": "not_evaluated"},
        due=CLEAR,
        extra=extra,
        counts=closing_counts(report, "not_evaluated"),
    )
    return commit(services, change)

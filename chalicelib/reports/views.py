"""How reports and their timelines are shown to each kind of reader."""

from __future__ import annotations

from functools import cache

from chalicelib.auth.tokens import Principal
from chalicelib.observability import mask_phone
from chalicelib.reports.access import is_handler_of, is_matched_deputy, is_staff_of
from chalicelib.reports.categories import leaf_categories
from chalicelib.store.models import ReportEventModel, ReportModel
from chalicelib.workflow.states import STATE_NAMES as STATUS_NAMES

EVENT_NAMES = {
    "submitted": "群众提交",
    "offered": "推送代表",
    "unmatched": "待分派",
    "accepted": "代表接单",
    "declined": "代表婉拒",
    "replied": "代表答复",
    "transferred": "交办承办单位",
    "suggestion": "转为代表建议",
    "merged": "合并办理",
    "progress": "办理进展",
    "resolved": "办结",
    "evaluated": "群众评价",
    "closed": "关闭",
    "reviewed": "内容审核通过",
    "offer_expired": "超时转推",
    "reminded": "到期提醒",
    "overdue": "超期督办",
    "rejected": "内容审核未通过",
}
MODERATION_NAMES = {"pass": None, "review": "内容审核中", "rejected": "内容审核未通过"}


def event_view(event: ReportEventModel, photo_url) -> dict:
    """One timeline step as shown to a reader allowed to see it."""
    return {
        "seq": int(event.seq),
        "type": event.type,
        "title": EVENT_NAMES.get(event.type, event.type),
        "at": event.at,
        "actor_role": event.actor_role,
        "note": event.note,
        "photos": [{"key": key, "url": photo_url(key)} for key in event.photos or []],
    }


def report_view(
    report: ReportModel,
    principal: Principal,
    photo_url,
    events: list[ReportEventModel] | None = None,
    station_name: str | None = None,
) -> dict:
    """A report as the caller may see it: the phone number unmasked only for its reporter."""
    photo_url = cache(photo_url)  # the timeline's first step shows the report's own photos
    is_reporter = report.reporter_id == principal.user_id
    category = leaf_categories().get(report.category, {})
    phone = report.phone
    if phone and not is_reporter:
        phone = None if report.anonymous else mask_phone(phone)
    body = {
        "id": report.id,
        "status": report.status,
        "status_name": STATUS_NAMES.get(report.status, report.status),
        "moderation": report.moderation,
        "moderation_name": MODERATION_NAMES.get(report.moderation),
        "created_at": report.created_at,
        "updated_at": report.updated_at,
        "category": report.category,
        "category_name": category.get("name"),
        "text": report.text,
        "photos": [{"key": key, "url": photo_url(key)} for key in report.photos or []],
        "station": {"id": report.station_id, "name": station_name} if report.station_id else None,
        "district_id": report.district_id,
        "location": (
            {"lat": float(report.location.lat), "lng": float(report.location.lng)}
            if report.location
            else None
        ),
        "address": report.address,
        "anonymous": bool(report.anonymous),
        "phone": phone,
        "mine": is_reporter,
    }
    if not is_reporter and not report.anonymous:
        body["reporter_id"] = report.reporter_id
    body.update(
        accepted_by=report.accepted_by,
        handling=report.handling,
        department_id=report.department_id,
        work_order_due=report.work_order_due,
        round=int(report.round or 1),
        close_reason=report.close_reason,
        merged_into=report.merged_into,
        evaluations=[
            {"round": int(e.round), "result": e.result, "comment": e.comment, "at": e.at}
            for e in report.evaluations or []
        ],
    )
    if is_staff_of(principal, report) or is_matched_deputy(principal, report):
        body["candidates"] = [
            {
                "deputy_id": c.deputy_id,
                "name": c.name,
                "score": int(c.score),
                "reasons": list(c.reasons or []),
            }
            for c in report.candidates or []
        ]
    if is_staff_of(principal, report):
        from chalicelib.workflow.tasks import report_notices

        body["notices"] = report_notices(report.id)
    elif is_handler_of(principal, report):
        body["reporter_id"] = None
    if events is not None:
        show_internal = not is_reporter and principal.user_id not in (report.followers or [])
        body["timeline"] = [
            event_view(event, photo_url) for event in events if show_internal or not event.internal
        ]
    return body


def summary_view(report: ReportModel) -> dict:
    """A line of the reporter's own list."""
    category = leaf_categories().get(report.category, {})
    text = report.text or ""
    return {
        "id": report.id,
        "status": report.status,
        "status_name": STATUS_NAMES.get(report.status, report.status),
        "moderation": report.moderation,
        "created_at": report.created_at,
        "category": report.category,
        "category_name": category.get("name"),
        "excerpt": text[:60],
        "station_id": report.station_id,
        "photo_count": len(report.photos or []),
    }

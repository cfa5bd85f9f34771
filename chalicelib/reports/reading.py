"""Reading reports: one report with its timeline, and a reporter's own list by cursor."""

from __future__ import annotations

import base64
import json

from chalicelib.auth.tokens import Principal
from chalicelib.errors import InvalidField, NotFound
from chalicelib.reports.access import can_read
from chalicelib.stations.directory import get_station
from chalicelib.store.models import ReportEventModel, ReportModel

MAX_PAGE = 50
DEFAULT_PAGE = 20


def load_readable_report(principal: Principal, report_id: str) -> ReportModel:
    """The report if the caller may see it; otherwise `NotFound` (never a hint it exists)."""
    if not report_id or len(report_id) > 64:
        raise NotFound("反映不存在", code="report_not_found")
    try:
        report = ReportModel.get(report_id)
    except ReportModel.DoesNotExist:
        raise NotFound("反映不存在", code="report_not_found") from None
    if not can_read(principal, report):
        raise NotFound("反映不存在", code="report_not_found")
    return report


def submitted_event(report: ReportModel) -> ReportEventModel:
    """The first step of a report's timeline (seq 1), read from the report item itself.

    Intake writes the report alone, in one conditional PutItem: the submission's
    time, author and photos are the report's own, so the report and its first event
    cannot exist without each other. Later events are items of their own (seq 2 …).
    """
    return ReportEventModel(
        report.id,
        1,
        type="submitted",
        at=report.created_at,
        actor_id=report.reporter_id,
        actor_role="citizen",
        note=None,
        photos=list(report.photos or []),
    )


def timeline(report: ReportModel) -> list[ReportEventModel]:
    """Every event of a report, oldest first."""
    later = ReportEventModel.query(report.id, ReportEventModel.seq > 1, scan_index_forward=True)
    return [submitted_event(report), *later]


def station_name(station_id: str | None) -> str | None:
    """A station's name for display (None when unknown)."""
    if not station_id:
        return None
    try:
        return get_station(station_id).name
    except NotFound:
        return None


def encode_cursor(last_key: dict | None) -> str | None:
    """An opaque cursor of DynamoDB's LastEvaluatedKey."""
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, principal: Principal) -> dict | None:
    """The LastEvaluatedKey of a cursor the same reporter was given; `InvalidField` otherwise."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        valid = (
            isinstance(key, dict)
            and set(key) == {"id", "reporter_id", "created_at"}
            and key["reporter_id"] == {"S": principal.user_id}
            and all(isinstance(v, dict) and isinstance(v.get("S"), str) for v in key.values())
        )
    except (ValueError, TypeError, AttributeError):
        valid = False
    if not valid:
        raise InvalidField("分页游标无效", field="cursor", code="invalid_cursor")
    return key


def my_reports(
    principal: Principal, limit: int, cursor: str | None
) -> tuple[list[ReportModel], str | None]:
    """The caller's reports, newest first, and the cursor of the next page."""
    start = decode_cursor(cursor, principal)
    result = ReportModel.reporter.query(
        principal.user_id, scan_index_forward=False, limit=limit, last_evaluated_key=start
    )
    items = list(result)
    return items, encode_cursor(result.last_evaluated_key)

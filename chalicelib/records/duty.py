"""The deputy duty record (一人一档、一任一册): five kinds of duty plus the work done here.

* Duties are entered by staff (`DutyActivityModel`): meetings, inspections, suggestions,
  contacting voters, group activities.
* The work done in the system comes from the deputy's counters (`StatsModel`, scope
  `deputy:<id>`): `filed` (reports the deputy filed), `resolved` (replied or resolved),
  `actions` (every action), `suggestions` (reports turned into suggestions); a period is one
  Query (`day#metric` BETWEEN the two days).
* Points: `DUTY_POINTS_FILED` (0.3) per report filed + `DUTY_POINTS_RESOLVED` (0.5) per
  problem resolved (a report resolved again after second handling counts again).

Who may do what: staff of the deputy's station, district or city enter duties and read the
record; the deputy reads his own; the district ranking is for staff of that district (or
its city).
"""

from __future__ import annotations

import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from chalicelib.auth.tokens import Principal
from chalicelib.clock import now_iso, utcnow
from chalicelib.errors import Forbidden, InvalidField, NotFound
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import DeputyModel, DutyActivityModel, StatsModel
from chalicelib.workflow.engine import beijing_day

log = get_logger("records.duty")

KINDS: dict[str, str] = {
    "meetings": "参加会议",
    "inspections": "视察调研",
    "suggestions": "提出建议",
    "contacting_voters": "联系选民",
    "group_activities": "小组活动",
}
SYSTEM_METRICS = ("filed", "resolved", "actions", "suggestions")
ACTIVITY_FIELDS = ("kind", "title", "date", "note")
MAX_TITLE = 100
MAX_NOTE = 1000
MAX_PERIOD_DAYS = 5 * 366
EARLIEST_DATE = date(2000, 1, 1)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STAFF = ("station_staff", "district_staff", "city_staff")
RANKING_WORKERS = 8
HIGH = "\uffff"


def points_per_filed() -> float:
    """Points per report a deputy files (`DUTY_POINTS_FILED`, default 0.3)."""
    return float(os.environ.get("DUTY_POINTS_FILED") or 0.3)


def points_per_resolved() -> float:
    """Points per problem a deputy resolves (`DUTY_POINTS_RESOLVED`, default 0.5)."""
    return float(os.environ.get("DUTY_POINTS_RESOLVED") or 0.5)


def points(filed: int, resolved: int) -> dict[str, float]:
    """The points of `filed` reports and `resolved` problems (rounded to 0.01)."""
    from_filed = round(filed * points_per_filed(), 2)
    from_resolved = round(resolved * points_per_resolved(), 2)
    return {
        "filed": from_filed,
        "resolved": from_resolved,
        "total": round(from_filed + from_resolved, 2),
    }


# --- who may ---------------------------------------------------------------------------


def get_deputy(deputy_id: str) -> DeputyModel:
    """A deputy by id (404 when unknown)."""
    if not deputy_id or len(deputy_id) > 64:
        raise NotFound("代表不存在", code="deputy_not_found")
    try:
        return DeputyModel.get(deputy_id)
    except DeputyModel.DoesNotExist:
        raise NotFound("代表不存在", code="deputy_not_found") from None


def is_staff_of_deputy(principal: Principal, deputy: DeputyModel) -> bool:
    """Whether the caller is staff of the deputy's station, district or city."""
    return (
        (principal.has("station_staff") and principal.station_id == deputy.station_id)
        or (principal.has("district_staff") and principal.district_id == deputy.district_id)
        or (principal.has("city_staff") and principal.city_id == deputy.city_id)
    )


def _staff_role(principal: Principal) -> str:
    for role in ("city_staff", "district_staff", "station_staff"):
        if principal.has(role):
            return role
    return "staff"


def _require_staff_of(principal: Principal, deputy: DeputyModel) -> None:
    if not any(principal.has(role) for role in STAFF):
        raise Forbidden("只有工作人员可以登记履职活动", code="forbidden_role")
    if not is_staff_of_deputy(principal, deputy):
        raise Forbidden("只能登记本站、本区或本市代表的履职活动", code="forbidden_scope")


# --- duties --------------------------------------------------------------------------


def _today() -> date:
    return date.fromisoformat(beijing_day())


def parse_day(value: object, field: str) -> date:
    """A YYYY-MM-DD date (422 naming `field` otherwise)."""
    if not isinstance(value, str) or not DATE.match(value):
        raise InvalidField("日期格式须为 YYYY-MM-DD", field=field)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidField("日期不存在", field=field) from None


def parse_activity(body: dict) -> dict:
    """A valid duty entry from a request body (422 naming the field at fault)."""
    for name in body:
        if name not in ACTIVITY_FIELDS:
            raise InvalidField(f"不支持的字段 {name}", field=name, code="unknown_field")
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidField(f"履职类型须为 {'、'.join(KINDS)} 之一", field="kind")
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InvalidField("请填写活动名称", field="title")
    title = title.strip()
    if len(title) > MAX_TITLE:
        raise InvalidField(f"活动名称不能超过 {MAX_TITLE} 字", field="title")
    day = parse_day(body.get("date"), "date")
    if day > _today():
        raise InvalidField("活动日期不能晚于今天", field="date")
    if day < EARLIEST_DATE:
        raise InvalidField("活动日期过早", field="date")
    note = body.get("note")
    if note is not None:
        if not isinstance(note, str):
            raise InvalidField("备注须为文字", field="note")
        note = note.strip() or None
        if note and len(note) > MAX_NOTE:
            raise InvalidField(f"备注不能超过 {MAX_NOTE} 字", field="note")
    return {"kind": kind, "title": title, "date": day.isoformat(), "note": note}


def activity_view(item: DutyActivityModel) -> dict:
    """A duty entry as the API returns it."""
    return {
        "id": item.id,
        "deputy_id": item.deputy_id,
        "kind": item.kind,
        "kind_name": KINDS.get(item.kind, item.kind),
        "title": item.title,
        "date": item.date,
        "note": item.note,
        "entered_by": item.entered_by,
        "entered_role": item.entered_role,
        "created_at": item.created_at,
    }


def add_activity(principal: Principal, deputy_id: str, body: dict) -> dict:
    """Enter one duty in a deputy's record (staff of the deputy's station, district, city)."""
    deputy = get_deputy(deputy_id)
    _require_staff_of(principal, deputy)
    fields = parse_activity(body)
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    activity_id = f"A{utcnow():%Y%m%d}-" + "".join(secrets.choice(alphabet) for _ in range(8))
    item = DutyActivityModel(
        deputy.id,
        f"{fields['date']}#{activity_id}",
        id=activity_id,
        entered_by=principal.user_id,
        entered_role=_staff_role(principal),
        created_at=now_iso(),
        **fields,
    )
    item.save(condition=DutyActivityModel.key.does_not_exist())
    log_event(log, "duty entered", deputy_id=deputy.id, kind=item.kind, activity_id=item.id)
    return activity_view(item)


# --- periods and counters --------------------------------------------------------------


def parse_period(start: str | None, end: str | None) -> tuple[str, str]:
    """`from`/`to` of a query (defaults: 1 January of this year to today, Beijing)."""
    today = _today()
    last = parse_day(end, "to") if end is not None else today
    first = parse_day(start, "from") if start is not None else date(last.year, 1, 1)
    if first > last:
        raise InvalidField("开始日期不能晚于结束日期", field="from")
    if last - first > timedelta(days=MAX_PERIOD_DAYS):
        raise InvalidField(f"查询区间不能超过 {MAX_PERIOD_DAYS} 天", field="to")
    return first.isoformat(), last.isoformat()


def system_counts(deputy_id: str, first: str, last: str) -> dict[str, int]:
    """The deputy's counters summed over the period: one Query on the stats table."""
    totals = dict.fromkeys(SYSTEM_METRICS, 0)
    for item in StatsModel.query(
        f"deputy:{deputy_id}", StatsModel.key.between(f"{first}#", f"{last}#{HIGH}")
    ):
        metric = item.key.split("#", 1)[1]
        if metric in totals:
            totals[metric] += int(item.n or 0)
    return totals


def _readable_record(principal: Principal, deputy: DeputyModel) -> None:
    if principal.has("deputy") and principal.deputy_id == deputy.id:
        return
    if any(principal.has(role) for role in STAFF):
        if is_staff_of_deputy(principal, deputy):
            return
        raise Forbidden("只能查看本站、本区或本市代表的履职档案", code="forbidden_scope")
    raise Forbidden("只能查看本人的履职档案", code="forbidden_role")


def duty_record(principal: Principal, deputy_id: str, start: str | None, end: str | None) -> dict:
    """A deputy's record over a period: duties by kind, system work and points."""
    deputy = get_deputy(deputy_id)
    _readable_record(principal, deputy)
    first, last = parse_period(start, end)
    activities: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    for item in DutyActivityModel.query(
        deputy.id, DutyActivityModel.key.between(f"{first}#", f"{last}#{HIGH}")
    ):
        activities.setdefault(item.kind, []).append(activity_view(item))
    system = system_counts(deputy.id, first, last)
    return {
        "deputy": _deputy_view(deputy),
        "period": {"from": first, "to": last},
        "activities": activities,
        "activity_counts": {kind: len(items) for kind, items in activities.items()},
        "system": system,
        "points": points(system["filed"], system["resolved"]),
        "rank": _own_rank(deputy, first, last),
    }


def _own_rank(deputy: DeputyModel, first: str, last: str) -> dict | None:
    """Where the deputy stands in the district's ranking of the period (no one else's row)."""
    if not deputy.district_id:
        return None
    rows = _ranked_rows(list(DeputyModel.district.query(deputy.district_id)), first, last)
    own = next((row for row in rows if row["id"] == deputy.id), None)
    if own is None:
        return None
    return {"district_id": deputy.district_id, "rank": own["rank"], "of": len(rows)}


def _deputy_view(deputy: DeputyModel) -> dict:
    return {
        "id": deputy.id,
        "name": deputy.name,
        "level": deputy.level,
        "station_id": deputy.station_id,
        "district_id": deputy.district_id,
    }


# --- ranking ---------------------------------------------------------------------------


def _ranking_district(principal: Principal, district: str | None) -> str:
    if principal.has("city_staff") and principal.city_id:
        if not district:
            raise InvalidField("请指定区", field="district")
        return district
    if (principal.has("district_staff") or principal.has("station_staff")) and (
        principal.district_id
    ):
        if district and district != principal.district_id:
            raise Forbidden("只能查看本区的代表排名", code="forbidden_scope")
        return principal.district_id
    raise Forbidden("只有工作人员可以查看代表排名", code="forbidden_role")


def district_ranking(
    principal: Principal, district: str | None, start: str | None, end: str | None
) -> dict:
    """Deputies of a district ranked by points over the period (ties share a rank).

    The deputies come from the `deputies.district` index; their counters take one Query per
    deputy on the stats table (run a few at a time). That is acceptable for one district
    (tens to a few hundred deputies); a city-wide ranking would want a per-day rollup.
    """
    district_id = _ranking_district(principal, district)
    first, last = parse_period(start, end)
    deputies = [
        d
        for d in DeputyModel.district.query(district_id)
        if not principal.has("city_staff") or d.city_id == principal.city_id
    ]
    rows = _ranked_rows(deputies, first, last)
    return {"district_id": district_id, "period": {"from": first, "to": last}, "items": rows}


def _ranked_rows(deputies: list[DeputyModel], first: str, last: str) -> list[dict]:
    """The deputies' rows by points over the period, best first; ties share a rank."""
    with ThreadPoolExecutor(max_workers=RANKING_WORKERS) as pool:
        counts = list(pool.map(lambda d: system_counts(d.id, first, last), deputies))
    rows = []
    for deputy, system in zip(deputies, counts, strict=True):
        score = points(system["filed"], system["resolved"])
        rows.append(
            {
                **_deputy_view(deputy),
                "filed": system["filed"],
                "resolved": system["resolved"],
                "actions": system["actions"],
                "points": score["total"],
            }
        )
    rows.sort(key=lambda r: (-r["points"], -r["resolved"], r["id"]))
    previous, rank = None, 0
    for position, row in enumerate(rows, start=1):
        if row["points"] != previous:
            rank, previous = position, row["points"]
        row["rank"] = rank
    return rows

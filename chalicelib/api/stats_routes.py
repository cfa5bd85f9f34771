"""Route: figures of a city, district or station over a period, for staff (`GET /stats`).

    GET /stats?scope=district:shinan&from=2026-01-01&to=2026-01-31
    GET /stats?scope=city:qingdao&districts=shinan,huangdao

Defaults: the caller's own scope (the widest of their staff roles) and the last 30
Beijing days ending today. City staff may ask for their city and any of its districts
and stations; district staff for their district and its stations; station staff for
their station.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from chalice import Blueprint

from chalicelib.api.http import caller, query_param, require_any_role
from chalicelib.auth.tokens import STAFF_ROLES, Principal
from chalicelib.bootstrap import services
from chalicelib.errors import Forbidden, InvalidField
from chalicelib.staff.scopes import Area, city_of_district, may_see, parse_area
from chalicelib.stats.figures import scope_figures
from chalicelib.workflow.engine import beijing_day

blueprint = Blueprint(__name__)

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_DISTRICTS = 50
UNBOUND = "您的账号未绑定联络站或行政区，无法查看统计"


@dataclass(frozen=True)
class StatsQuery:
    kind: str
    ident: str
    day_from: str
    day_to: str
    districts: tuple[str, ...] = ()

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.ident}"


def _date(value: str, field: str) -> date:
    try:
        if not DATE_RE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidField("日期格式须为 YYYY-MM-DD", field=field, code="invalid_date") from None


def _period(raw_from: str | None, raw_to: str | None) -> tuple[str, str]:
    last = _date(raw_to, "to") if raw_to is not None else date.fromisoformat(beijing_day())
    if raw_from is not None:
        first = _date(raw_from, "from")
    else:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidField("结束日期不能早于开始日期", field="to", code="invalid_period")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidField(f"统计期不能超过 {MAX_DAYS} 天", field="from", code="period_too_long")
    return first.isoformat(), last.isoformat()


def _districts(raw: str | None, kind: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if kind != "city":
        raise InvalidField("districts 仅用于市级统计", field="districts")
    ids = tuple(dict.fromkeys(d.strip() for d in raw.split(",") if d.strip()))
    if not ids or len(ids) > MAX_DISTRICTS or not all(ID_RE.match(d) for d in ids):
        raise InvalidField(
            f"districts 须为以逗号分隔的区编号（至多 {MAX_DISTRICTS} 个）", field="districts"
        )
    return ids


def parse_query(request, principal: Principal) -> StatsQuery:
    """The validated query of a request (422 naming the parameter at fault)."""
    area = parse_area(query_param(request, "scope"), principal, UNBOUND)
    day_from, day_to = _period(query_param(request, "from"), query_param(request, "to"))
    districts = _districts(query_param(request, "districts"), area.kind)
    return StatsQuery(area.kind, area.ident, day_from, day_to, districts)


def authorize(principal: Principal, query: StatsQuery) -> None:
    """403 unless the caller is staff of the scope (404 for an unknown station or district)."""
    if not may_see(principal, Area(query.kind, query.ident)):
        raise Forbidden("只能查看本人负责范围的统计", code="scope_forbidden")
    for district_id in query.districts:
        if city_of_district(district_id) != principal.city_id:
            raise InvalidField(f"{district_id} 不是本市的区", field="districts")


@blueprint.route("/stats", methods=["GET"])
def get_stats():
    request = blueprint.current_request
    principal = caller(request)
    require_any_role(principal, *STAFF_ROLES)
    services()
    query = parse_query(request, principal)
    authorize(principal, query)
    return scope_figures(query.scope, query.day_from, query.day_to, list(query.districts))

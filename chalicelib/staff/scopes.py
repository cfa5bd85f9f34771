"""The areas staff supervise and which of them a caller may see (`GET /stats`, staff lists).

City staff may see their city and any district or station of it; district staff their
district and its stations; station staff their station. An area is `city:<id>`,
`district:<id>` or `station:<id>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.auth.tokens import Principal
from chalicelib.errors import Forbidden, InvalidField, NotFound
from chalicelib.store.models import DeputyModel

SCOPE_RE = re.compile(r"^(city|district|station):([A-Za-z0-9_-]{1,64})$")
SCOPE_MESSAGE = "scope 须为 city:<编号>、district:<编号> 或 station:<编号>"


@dataclass(frozen=True)
class Area:
    """A city, district or station."""

    kind: str
    ident: str

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.ident}"


UNBOUND_MESSAGE = "您的账号未绑定联络站或行政区"


def own_scope(principal: Principal, message: str = UNBOUND_MESSAGE) -> str:
    """The caller's widest staff scope (403 `staff_unbound` when bound to none)."""
    if principal.has("city_staff") and principal.city_id:
        return f"city:{principal.city_id}"
    if principal.has("district_staff") and principal.district_id:
        return f"district:{principal.district_id}"
    if principal.has("station_staff") and principal.station_id:
        return f"station:{principal.station_id}"
    raise Forbidden(message, code="staff_unbound")


def parse_area(raw: str | None, principal: Principal, unbound: str = UNBOUND_MESSAGE) -> Area:
    """The area a request names (the caller's own when absent); 422 naming `scope`."""
    match = SCOPE_RE.match(own_scope(principal, unbound) if raw is None else raw)
    if not match:
        raise InvalidField(SCOPE_MESSAGE, field="scope")
    return Area(match.group(1), match.group(2))


def city_of_district(district_id: str) -> str | None:
    """The city of a district, known from one of its deputies (None when it has none)."""
    for deputy in DeputyModel.district.query(district_id, limit=1):
        return deputy.city_id
    return None


def scope_station(station_id: str):
    """The station a scope names (404 `scope_not_found`, field `scope`, when unknown)."""
    from chalicelib.stations.directory import get_station

    try:
        return get_station(station_id)
    except NotFound:
        raise NotFound("范围不存在", field="scope", code="scope_not_found") from None


def may_see(principal: Principal, area: Area) -> bool:
    """Whether the caller is staff of the area (404 `scope_not_found` for an unknown one)."""
    city = principal.city_id if principal.has("city_staff") else None
    district = principal.district_id if principal.has("district_staff") else None
    station = principal.station_id if principal.has("station_staff") else None
    if area.kind == "city":
        return city == area.ident
    if area.kind == "district":
        if district == area.ident:
            return True
        if not city:
            return False
        found = city_of_district(area.ident)
        if found is None:
            raise NotFound("范围不存在", field="scope", code="scope_not_found")
        return found == city
    if station == area.ident:
        return True
    if not (city or district):
        return False
    item = scope_station(area.ident)
    return bool((district and item.district_id == district) or (city and item.city_id == city))


def require_area(principal: Principal, area: Area, message: str) -> None:
    """403 `scope_forbidden` (field `scope`) unless the caller may see the area."""
    if not may_see(principal, area):
        raise Forbidden(message, field="scope", code="scope_forbidden")

"""The deputies staff may assign a report to: a district's or a station's, without phones."""

from __future__ import annotations

from chalicelib.auth.tokens import Principal
from chalicelib.clock import utcnow
from chalicelib.errors import Forbidden, InvalidField, NotFound
from chalicelib.staff.scopes import Area, may_see, scope_station
from chalicelib.stations.directory import DEPUTY_LEVELS, get_station
from chalicelib.store.models import DeputyModel, StationModel
from chalicelib.workflow.calendar import BEIJING


def _home_district(principal: Principal) -> str | None:
    """The district of a station staff member's station (None if unbound or unknown)."""
    if not (principal.has("station_staff") and principal.station_id):
        return None
    try:
        return get_station(principal.station_id).district_id
    except NotFound:
        return None


def require_deputy_area(principal: Principal, area: Area) -> None:
    """Who may list deputies: staff of the area; station staff also their station's district.

    Station staff assign unmatched reports of their station, and any deputy of the
    district may be assigned, so they may list the deputies of their district and of its
    stations too.
    """
    if area.kind == "city":
        raise InvalidField("代表名单须按区（district:<编号>）或联络站查询", field="scope")
    if may_see(principal, area):
        return
    home = _home_district(principal)
    if home and area.kind == "district" and home == area.ident:
        return
    if home and area.kind == "station" and scope_station(area.ident).district_id == home:
        return
    raise Forbidden("只能查看本人负责范围的代表", field="scope", code="scope_forbidden")


def deputy_rows(area: Area) -> list[dict]:
    """The area's deputies (station, then id) with their load; never a phone number."""
    if area.kind == "station":
        deputies = list(DeputyModel.station.query(area.ident))
    else:
        deputies = list(DeputyModel.district.query(area.ident))
    deputies.sort(key=lambda d: (d.station_id or "", d.id))
    ids = sorted({d.station_id for d in deputies if d.station_id})
    names = (
        {s.id: s.name for s in StationModel.batch_get(ids, attributes_to_get=["id", "name"])}
        if ids
        else {}
    )
    weekday = utcnow().astimezone(BEIJING).isoweekday()
    return [
        {
            "id": d.id,
            "name": d.name,
            "level": d.level,
            "level_name": DEPUTY_LEVELS.get(d.level, d.level),
            "station_id": d.station_id,
            "station_name": names.get(d.station_id),
            "expertise": list(d.expertise or []),
            "open_tasks": int(d.open_tasks or 0),
            "on_duty_today": weekday in {int(w) for w in d.duty_weekdays or []},
        }
        for d in deputies
    ]

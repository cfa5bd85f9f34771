"""Who gets told: recipients of notices, looked up through indexes."""

from __future__ import annotations

from chalicelib.notify.outbox import Recipient
from chalicelib.store.models import DeputyModel, ReportModel, UserModel


def citizen(report: ReportModel) -> Recipient:
    """The reporter (WeChat only: citizens are never sent SMS)."""
    return Recipient("citizen", report.reporter_id, openid=report.reporter_openid)


def followers(report: ReportModel) -> list[Recipient]:
    """Reporters of duplicates merged into this report."""
    ids = list(dict.fromkeys(report.followers or []))
    if not ids:
        return []
    users = UserModel.batch_get(ids, attributes_to_get=["id", "openid"])
    return [Recipient("citizen", user.id, openid=user.openid) for user in users]


def deputy(item: DeputyModel) -> Recipient:
    """A deputy, on WeChat (if bound to a user) and SMS."""
    return Recipient("deputy", item.id, openid=item.openid, phone=item.phone)


def _staff(index, key: str, role: str) -> list[Recipient]:
    return [
        Recipient("staff", user.id, openid=user.openid)
        for user in index.query(key)
        if role in (user.roles or set())
    ]


def station_staff(station_id: str | None) -> list[Recipient]:
    """Staff of a station."""
    return _staff(UserModel.by_station, station_id, "station_staff") if station_id else []


def district_staff(district_id: str | None) -> list[Recipient]:
    """Staff of a district."""
    return _staff(UserModel.by_district, district_id, "district_staff") if district_id else []


def city_staff(city_id: str | None) -> list[Recipient]:
    """Staff of a city (the standing committee's deputy affairs office)."""
    return _staff(UserModel.by_city, city_id, "city_staff") if city_id else []


def assigning_staff(report: ReportModel) -> list[Recipient]:
    """Staff who assign an unmatched report: the station's (the district's, the city's if none)."""
    return (
        station_staff(report.station_id)
        or district_staff(report.district_id)
        or city_staff(report.city_id)
    )


def handlers(department_id: str) -> list[Recipient]:
    """Handlers of a department."""
    return [
        Recipient("handler", user.id, openid=user.openid)
        for user in UserModel.by_department.query(department_id)
        if "handler" in (user.roles or set())
    ]

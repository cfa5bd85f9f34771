"""Helpers of the staff-list API tests: a test city of their own, listing, planting.

`make_area` builds a city with two districts in the scope directory (A: stations A1, A2;
B: station B1), deputies and staff, and removes its scope entries afterwards so digests
never see it. District A's deputies have no phone and no login, so nobody can be offered
its reports: they go to `unmatched` as soon as they are matched. District B's deputy has
a login.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.workflow_helpers import drain

ROW_FIELDS = {
    "id",
    "category",
    "category_name",
    "excerpt",
    "station_id",
    "station_name",
    "created_at",
    "status",
    "status_name",
}
OVERDUE_FIELDS = ROW_FIELDS | {
    "step",
    "step_name",
    "rung",
    "rung_name",
    "deadline",
    "overdue_since",
    "overdue_hours",
    "overdue_days",
    "holders",
    "holder",
}
REVIEW_FIELDS = ROW_FIELDS | {"moderation", "moderation_name", "held_at", "waiting_hours"}
UNMATCHED_FIELDS = ROW_FIELDS | {
    "unmatched_since",
    "waiting_hours",
    "deadline",
    "rung",
    "rung_name",
    "overdue",
}
DEPUTY_FIELDS = {
    "id",
    "name",
    "level",
    "level_name",
    "station_id",
    "station_name",
    "expertise",
    "open_tasks",
    "on_duty_today",
}


@dataclass
class Area:
    """A test city: districts A (stations A1, A2) and B (station B1)."""

    city: str
    districts: dict[str, str]
    stations: dict[str, str]
    deputies: dict[str, str]
    codes: dict[str, str] = field(default_factory=dict)

    def token(self, api, who: str) -> str:
        return api.login(self.codes[who])["token"]


def _grant(api, code: str, role: str, **binding: str) -> None:
    from chalicelib.auth.users import grant_role

    grant_role(api.login(code)["user"]["id"], role, **binding)


def make_area(api) -> Iterator[Area]:
    """A fresh test city (see the module docstring); its scope entries removed after."""
    from chalicelib.stations.directory import geo_fields
    from chalicelib.store.models import DeputyModel, ScopeModel, StationModel

    tag = uuid.uuid4().hex[:8]
    city = f"tc{tag}"
    districts = {"A": f"{city}-a", "B": f"{city}-b"}
    stations = {"A1": f"{city}-a1", "A2": f"{city}-a2", "B1": f"{city}-b1"}
    scopes = [ScopeModel("city", city, name="测试市")]
    for key, district in districts.items():
        scopes.append(ScopeModel("district", district, name=f"测试{key}区", parent=f"city:{city}"))
    for n, (key, station_id) in enumerate(stations.items()):
        district = districts[key[0]]
        lat, lng = -40.0 - n * 0.01, 150.0
        StationModel(
            station_id,
            name=f"测试{key}联络站",
            address="测试路1号",
            lat=lat,
            lng=lng,
            district_id=district,
            city_id=city,
            **geo_fields(lat, lng),
        ).save()
        scopes.append(
            ScopeModel(
                "station", station_id, name=f"测试{key}联络站", parent=f"district:{district}"
            )
        )
    for scope in scopes:
        scope.save()
    deputies = {"a1": f"{city}-da1", "a2": f"{city}-da2", "b1": f"{city}-db1"}
    for key, deputy_id in deputies.items():
        station_key = key.upper()
        DeputyModel(
            deputy_id,
            name=f"代表{key}",
            level="district",
            expertise=["市政"],
            station_id=stations[station_key],
            district_id=districts[station_key[0]],
            city_id=city,
        ).save()
    found = Area(city, districts, stations, deputies)
    found.codes["deputy_b1"] = f"{city}-deputy-b1"
    _grant(api, found.codes["deputy_b1"], "deputy", deputy_id=deputies["b1"])
    found.codes["city"] = f"{city}-city"
    _grant(api, found.codes["city"], "city_staff", city_id=city)
    for key, district in districts.items():
        found.codes[key] = f"{city}-staff-{key}"
        _grant(api, found.codes[key], "district_staff", district_id=district, city_id=city)
    for key, station_id in stations.items():
        found.codes[key] = f"{city}-staff-{key}"
        district = districts[key[0]]
        _grant(api, found.codes[key], "station_staff", station_id=station_id, district_id=district)
    try:
        yield found
    finally:
        for scope in scopes:
            scope.delete()


def submit(api, station_id: str, text: str = "路灯不亮", category="municipal.streetlight") -> str:
    status, body = api.json(
        "POST",
        "/reports",
        {"station_id": station_id, "category": category, "text": text},
        token=api.login()["token"],
    )
    assert status == 201, body
    drain(api)
    return body["id"]


def listing(api, token: str, name: str, **params) -> tuple[int, dict]:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return api.json("GET", f"/staff/{name}" + (f"?{query}" if query else ""), token=token)


def ids(api, token: str, name: str, **params) -> list[str]:
    status, body = listing(api, token, name, **params)
    assert status == 200, body
    assert body["next_cursor"] is None, "one page expected"
    return [item["id"] for item in body["items"]]


def plant(
    district: str, station: str, report_id: str, status: str = "accepted", **attributes
) -> None:
    from chalicelib.store.models import ReportModel

    ReportModel(
        report_id,
        reporter_id="u-test",
        created_at="2026-01-01T00:00:00.000000+00:00",
        updated_at="2026-01-01T00:00:00.000000+00:00",
        status=status,
        category="municipal.road",
        text="路面破损",
        station_id=station,
        district_id=district,
        phone="+8613800000000",
        reporter_openid="o-secret",
        **attributes,
    ).save()


def walk_pages(api, token: str, name: str, scope: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        params = {"scope": scope, "limit": limit, **({"cursor": cursor} if cursor else {})}
        status, body = listing(api, token, name, **params)
        assert status == 200, body
        pages.append([item["id"] for item in body["items"]])
        for item in body["items"]:
            assert "phone" not in item and "reporter_openid" not in item
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "paging does not end"

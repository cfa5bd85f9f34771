"""`GET /stats`: figures of a district, its stations and the city after a scripted loop.

Each test builds its own district (stations far from the demo's, three deputies, staff)
so the counters it reads hold only its own reports.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from chalicelib.bootstrap import services
from chalicelib.workflow.engine import beijing_day
from tests.workflow_helpers import drain, run_schedule

CITY = "qingdao"


def sweep(api) -> None:
    """Run the scheduled sweep of due reports once."""
    run_schedule(api, "sweep_due_reports")


@dataclass
class District:
    """A fresh district of the demo city: two stations, three deputies, staff logins."""

    id: str
    stations: list[str]
    deputies: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)

    def token(self, api, who: str) -> str:
        return api.login(self.codes[who])["token"]


def _grant(api, code: str, role: str, **binding: str) -> None:
    from chalicelib.auth.users import grant_role

    user_id = api.login(code)["user"]["id"]
    grant_role(user_id, role, **binding)


def make_district(api) -> District:
    from chalicelib.stations.directory import geo_fields
    from chalicelib.store.models import DeputyModel, StationModel

    district_id = f"t{uuid.uuid4().hex[:8]}"
    district = District(district_id, [f"{district_id}-s1", f"{district_id}-s2"])
    for n, station_id in enumerate(district.stations):
        lat, lng = 45.0 + n * 0.01, 90.0
        StationModel(
            station_id,
            name=f"测试联络站{n + 1}",
            address="测试地址",
            lat=lat,
            lng=lng,
            district_id=district_id,
            city_id=CITY,
            **geo_fields(lat, lng),
        ).save()
    homes = {"d1": district.stations[0], "d2": district.stations[0], "d3": district.stations[1]}
    for key, station_id in homes.items():
        deputy_id = f"{district_id}-{key}"
        DeputyModel(
            deputy_id,
            name=f"代表{key}",
            level="district",
            expertise=[],
            phone=f"+86137{secrets.randbelow(10**8):08d}",
            station_id=station_id,
            district_id=district_id,
            city_id=CITY,
        ).save()
        code = f"{district_id}-deputy-{key}"
        _grant(api, code, "deputy", deputy_id=deputy_id)
        district.deputies[key] = deputy_id
        district.codes[key] = code
    district.codes["district_staff"] = f"{district_id}-staff"
    _grant(
        api,
        district.codes["district_staff"],
        "district_staff",
        district_id=district_id,
        city_id=CITY,
    )
    for n, station_id in enumerate(district.stations, start=1):
        code = f"{district_id}-staff-s{n}"
        _grant(api, code, "station_staff", station_id=station_id, district_id=district_id)
        district.codes[f"s{n}"] = code
    return district


class Loop:
    """A citizen's report in the test district, walked through the loop over HTTP."""

    def __init__(self, api, district: District, station: int, category: str, text: str):
        self.api = api
        self.district = district
        self.citizen = api.login()["token"]
        status, report = api.json(
            "POST",
            "/reports",
            {"station_id": district.stations[station - 1], "category": category, "text": text},
            token=self.citizen,
        )
        assert status == 201, report
        self.id = report["id"]
        self.submitted_day = beijing_day()
        drain(api)

    def read(self) -> dict:
        status, body = self.api.json("GET", f"/reports/{self.id}", token=self.citizen)
        assert status == 200, body
        return body

    def act(self, path: str, token: str, body: dict | None = None) -> dict:
        status, answer = self.api.json(
            "POST", f"/reports/{self.id}/{path}", body or {}, token=token
        )
        assert status == 200, (path, answer)
        drain(self.api)
        return answer


@pytest.fixture
def stats_api(api, wechat, sms):
    return api


def get_stats(api, token: str, **params: str) -> tuple[int, dict]:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return api.json("GET", f"/stats?{query}" if query else "/stats", token=token)


def test_figures_of_a_scripted_district(stats_api):
    import time_machine

    from chalicelib.clock import utcnow

    api = stats_api
    district = make_district(api)
    d1, d2 = district.token(api, "d1"), district.token(api, "d2")
    closed_days: list[str] = []

    first = Loop(api, district, 1, "traffic.parking", "小区门口乱停车")
    first.act("accept", d1)
    first.act("triage", d1, {"action": "reply", "note": "已联系物业劝离"})
    assert first.act("evaluation", first.citizen, {"result": "satisfied"})["status"] == "closed"
    closed_days.append(beijing_day())

    second = Loop(api, district, 1, "traffic.parking", "消防通道被占")
    second.act("accept", d1)
    second.act("triage", d1, {"action": "reply", "note": "已通知交警"})
    again = second.act("evaluation", second.citizen, {"result": "unsatisfied"})
    assert again["status"] == "second_handling"
    second.act("resolve", d1, {"note": "已加装隔离桩"})
    assert second.act("evaluation", second.citizen, {"result": "satisfied"})["status"] == "closed"
    closed_days.append(beijing_day())

    third = Loop(api, district, 1, "municipal.road", "路面坑洼")
    third.act("accept", d2)
    third.act("triage", d2, {"action": "reply", "note": "已报修"})
    days = services().settings.evaluation_days
    with time_machine.travel(utcnow() + timedelta(days=days, hours=1), tick=True):
        sweep(api)
        closed_days.append(beijing_day())
    view = third.read()
    assert view["status"] == "closed" and view["close_reason"] == "not_evaluated"

    fourth = Loop(api, district, 2, "traffic.parking", "路口违停")
    fourth.act("accept", d2)
    loops = [first, second, third, fourth]

    day_from = min(loop.submitted_day for loop in loops)
    day_to = max(closed_days)
    staff = district.token(api, "district_staff")
    status, body = get_stats(
        api, staff, scope=f"district:{district.id}", **{"from": day_from, "to": day_to}
    )
    assert status == 200, body
    assert body["scope"] == f"district:{district.id}"
    assert (body["from"], body["to"]) == (day_from, day_to)
    assert body["new"] == 4 and body["accepted"] == 4 and body["closed"] == 3
    assert body["closure_rate"] == 0.75
    assert body["one_time_closure_rate"] == 0.3333
    assert body["evaluations"] == 3 and body["satisfied"] == 2
    assert body["satisfaction"] == 0.6667
    assert body["not_evaluated"] == 1 and body["second_handling"] == 1
    expected_days = (days + 1 / 24) / 3
    assert body["avg_days_to_close"] == pytest.approx(expected_days, abs=0.05)
    assert body["deputies_total"] == 3 and body["deputies_active"] == 2
    assert body["deputy_participation"] == 0.6667
    assert body["overdue"] == 0 and body["escalated"] == 0
    assert body["by_category"] == [
        {"category": "traffic.parking", "name": "停车难、乱停车", "count": 3},
        {"category": "municipal.road", "name": "道路破损", "count": 1},
    ]
    s1, s2 = district.stations
    assert body["by_station"] == [
        {"station_id": s1, "count": 3, "name": "测试联络站1"},
        {"station_id": s2, "count": 1, "name": "测试联络站2"},
    ]
    submitted = Counter(loop.submitted_day for loop in loops)
    closed = Counter(closed_days)
    span = (date.fromisoformat(day_to) - date.fromisoformat(day_from)).days + 1
    assert len(body["by_day"]) == span
    for row in body["by_day"]:
        assert row["submitted"] == submitted.get(row["day"], 0), row
        assert row["closed"] == closed.get(row["day"], 0), row
    assert body["definitions"]["closure_rate"]["label"] == "办结率"

    period = {"from": day_from, "to": day_to}
    status, station = get_stats(api, district.token(api, "s1"), scope=f"station:{s1}", **period)
    assert status == 200, station
    assert (station["new"], station["accepted"], station["closed"]) == (3, 3, 3)
    assert station["closure_rate"] == 1.0 and station["satisfaction"] == 0.6667
    assert station["deputies_total"] == 2 and station["deputy_participation"] == 1.0
    status, other = get_stats(api, staff, scope=f"station:{s2}", **period)
    assert status == 200, other
    assert (other["new"], other["accepted"], other["closed"]) == (1, 1, 0)
    assert other["closure_rate"] == 0.0 and other["deputy_participation"] == 0.0

    city_staff = api.login("staff-city")["token"]
    status, city = get_stats(api, city_staff, scope=f"city:{CITY}", districts=district.id, **period)
    assert status == 200, city
    assert city["new"] >= 4 and city["districts"] == [district.id]
    city_categories = {c["category"]: c["count"] for c in city["by_category"]}
    for entry in body["by_category"]:
        assert city_categories.get(entry["category"], 0) >= entry["count"]
    city_stations = {s["station_id"]: s["count"] for s in city["by_station"]}
    for entry in body["by_station"]:
        assert city_stations.get(entry["station_id"]) == entry["count"]
    assert city["deputies_total"] == 3 and city["deputy_participation"] == 0.6667
    status, bare = get_stats(api, city_staff, scope=f"city:{CITY}", **period)
    assert status == 200 and sorted(bare["districts"]) == ["huangdao", "shinan"]
    assert bare["new"] == city["new"], "the city's own counters hold its totals"
    categories = {c["category"] for c in bare["by_category"]}
    assert {c["category"] for c in body["by_category"]} <= categories


def test_default_scope_and_period_are_the_callers_own(stats_api):
    api = stats_api
    district = make_district(api)
    status, body = get_stats(api, district.token(api, "district_staff"))
    assert status == 200, body
    today = date.fromisoformat(beijing_day())
    assert body["scope"] == f"district:{district.id}"
    assert body["to"] == today.isoformat()
    assert body["from"] == (today - timedelta(days=29)).isoformat()
    assert len(body["by_day"]) == 30 and body["new"] == 0 and body["closure_rate"] is None
    status, own = get_stats(api, district.token(api, "s2"))
    assert status == 200 and own["scope"] == f"station:{district.stations[1]}"
    status, city = get_stats(api, api.login("staff-city")["token"])
    assert status == 200 and city["scope"] == f"city:{CITY}"


@pytest.mark.parametrize(
    ("who", "scope", "expected"),
    [
        ("citizen", None, 403),
        ("deputy", None, 403),
        ("district_staff", "district:shinan", 403),
        ("district_staff", "station:S01", 403),
        ("district_staff", "city:qingdao", 403),
        ("district_staff", "station:{s2}", 200),
        ("district_staff", "station:nowhere", 404),
        ("s1", "station:{s2}", 403),
        ("s1", "district:{district}", 403),
        ("s1", "station:{s1}", 200),
        ("staff-city", "district:{district}", 200),
        ("staff-city", "station:{s1}", 200),
        ("staff-city", "city:beijing", 403),
        ("staff-city", "district:nowhere", 404),
        ("staff-district-1", "district:{district}", 403),
    ],
)
def test_staff_see_only_their_own_scope(stats_api, who, scope, expected):
    api = stats_api
    district = make_district(api)
    if who == "citizen":
        token = api.login()["token"]
    elif who == "deputy":
        token = district.token(api, "d1")
    elif who in district.codes:
        token = district.token(api, who)
    else:
        token = api.login(who)["token"]
    params = {}
    if scope:
        s1, s2 = district.stations
        params["scope"] = scope.format(district=district.id, s1=s1, s2=s2)
    status, body = get_stats(api, token, **params)
    assert status == expected, body
    if expected >= 400:
        assert body["error"]["message"]


def test_city_staff_name_only_districts_of_their_city(stats_api):
    api = stats_api
    token = api.login("staff-city")["token"]
    status, body = get_stats(api, token, scope="city:qingdao", districts="shinan,nowhere")
    assert status == 422 and body["error"]["field"] == "districts"
    status, body = get_stats(api, token, scope="city:qingdao", districts="shinan,huangdao")
    assert status == 200 and body["districts"] == ["shinan", "huangdao"]
    from devstack.seed import demo_data

    homes = {s["id"]: s["district_id"] for s in demo_data()["stations"]}
    assert body["deputies_total"] == sum(
        homes[d["station_id"]] in ("shinan", "huangdao") for d in demo_data()["deputies"]
    )


def test_without_a_token_is_401(stats_api):
    assert stats_api.json("GET", "/stats")[0] == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"scope": "nope"}, "scope"),
        ({"scope": "deputy:D01"}, "scope"),
        ({"scope": "district:"}, "scope"),
        ({"scope": "city:qing%20dao"}, "scope"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026/01/01"}, "from"),
        ({"from": "20260101"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-02-01", "to": "2026-01-31"}, "to"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "from"),
        ({"scope": "district:shinan", "districts": "shinan"}, "districts"),
        ({"scope": "city:qingdao", "districts": "a,b c"}, "districts"),
    ],
)
def test_bad_queries_are_422_naming_the_parameter(stats_api, params, field):
    token = stats_api.login("staff-city")["token"]
    status, body = get_stats(stats_api, token, **params)
    assert status == 422, body
    assert body["error"]["field"] == field and body["error"]["message"]


def test_a_full_year_is_allowed(stats_api):
    token = stats_api.login("staff-district-1")["token"]
    status, body = get_stats(stats_api, token, **{"from": "2025-01-01", "to": "2026-01-01"})
    assert status == 200 and len(body["by_day"]) == 366

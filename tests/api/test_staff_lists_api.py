"""Staff lists (`GET /staff/overdue`, `/staff/review`, `/staff/unmatched`, `/staff/deputies`):
what each lists, in which order, for whom, walked through the real transitions.

Each test has a city of its own (`tests.staff_helpers.make_area`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from chalicelib.clock import utcnow
from tests.staff_helpers import (
    DEPUTY_FIELDS,
    OVERDUE_FIELDS,
    REVIEW_FIELDS,
    UNMATCHED_FIELDS,
    ids,
    listing,
    make_area,
    submit,
)
from tests.workflow_helpers import drain, run_schedule


@pytest.fixture
def area(api, wechat, sms):
    yield from make_area(api)


def test_unmatched_reports_are_listed_for_their_area_oldest_first_until_assigned(api, area):
    first = submit(api, area.stations["A1"], "路灯不亮，晚上看不见路" * 6)
    second = submit(api, area.stations["A1"], "井盖松动")
    third = submit(api, area.stations["A2"], "垃圾没人收")
    station = area.token(api, "A1")
    status, body = listing(api, station, "unmatched", scope=f"station:{area.stations['A1']}")
    assert status == 200, body
    assert [i["id"] for i in body["items"]] == [first, second]
    row = body["items"][0]
    assert set(row) == UNMATCHED_FIELDS
    assert row["status"] == "unmatched" and row["status_name"] == "待分派代表"
    assert row["category_name"] == "路灯不亮" and row["station_name"] == "测试A1联络站"
    assert len(row["excerpt"]) == 60 and row["excerpt"].endswith("…")
    assert row["deadline"] > row["unmatched_since"] and row["rung"] == 0
    assert row["overdue"] is False and row["waiting_hours"] == 0
    assert ids(api, station, "unmatched") == [first, second]  # own scope by default

    district = area.token(api, "A")
    assert ids(api, district, "unmatched", scope=f"district:{area.districts['A']}") == [
        first,
        second,
        third,
    ]
    city = area.token(api, "city")
    assert ids(api, city, "unmatched", scope=f"city:{area.city}") == [first, second, third]

    status, _ = api.json(
        "POST", f"/reports/{second}/assign", {"deputy_id": area.deputies["a1"]}, token=station
    )
    assert status == 200
    assert ids(api, city, "unmatched") == [first, third]


def test_reports_held_for_review_are_listed_newest_first_until_reviewed(api, area, wechat):
    wechat.state.set_words(review=["上访"])
    older = submit(api, area.stations["A1"], "我要上访反映噪音")
    newer = submit(api, area.stations["A1"], "准备上访，工地夜间施工")
    elsewhere = submit(api, area.stations["B1"], "上访：路面塌陷")
    passed = submit(api, area.stations["A1"], "没有敏感词")
    station = area.token(api, "A1")
    status, body = listing(api, station, "review")
    assert status == 200, body
    assert [i["id"] for i in body["items"]] == [newer, older]
    row = body["items"][0]
    assert set(row) == REVIEW_FIELDS
    assert row["moderation"] == "review" and row["moderation_name"] == "内容审核中"
    assert row["status"] == "submitted" and row["held_at"] == row["created_at"]
    city = area.token(api, "city")
    assert ids(api, city, "review", scope=f"city:{area.city}") == [elsewhere, newer, older]
    assert ids(api, city, "unmatched", scope=f"city:{area.city}") == [passed]

    assert (
        api.json("POST", f"/reports/{older}/moderation", {"result": "pass"}, token=station)[0]
        == 200
    )
    drain(api)  # matched: district A has no deputy to offer it to
    assert (
        api.json(
            "POST",
            f"/reports/{newer}/moderation",
            {"result": "reject", "note": "与人大代表职责无关"},
            token=station,
        )[0]
        == 200
    )
    assert ids(api, city, "review", scope=f"city:{area.city}") == [elsewhere]
    assert ids(api, city, "unmatched", scope=f"city:{area.city}") == [passed, older]


def test_overdue_reports_show_their_step_holder_and_age(api, area):
    from chalicelib.store.models import DeputyModel

    drain(api)
    start = utcnow()
    with time_machine.travel(start, tick=True) as clock:
        answer = submit(api, area.stations["B1"], "路面塌陷")
        deputy = area.token(api, "deputy_b1")
        assert api.json("POST", f"/reports/{answer}/accept", {}, token=deputy)[0] == 200
        waiting = submit(api, area.stations["A2"], "路灯不亮")

        clock.move_to(start + timedelta(hours=30))
        run_schedule(api, "sweep_due_reports")
        city = area.token(api, "city")
        status, body = listing(api, city, "overdue", scope=f"city:{area.city}")
        assert status == 200, body
        assert [i["id"] for i in body["items"]] == [answer, waiting]
        late, unassigned = body["items"]
        assert set(late) == OVERDUE_FIELDS
        name = DeputyModel.get(area.deputies["b1"]).name
        assert late["step"] == "answer" and late["step_name"] == "首次答复"
        assert late["holders"] == [
            {"kind": "deputy", "id": area.deputies["b1"], "name": f"{name}代表"}
        ]
        assert late["holder"] == f"{name}代表" and late["status"] == "accepted"
        assert late["rung"] == 2 and late["deadline"] == late["overdue_since"]
        assert 5 <= late["overdue_hours"] <= 6 and late["overdue_days"] == 0
        assert late["excerpt"] == "路面塌陷" and late["station_name"] == "测试B1联络站"
        assert unassigned["step"] == "assign" and unassigned["holder"] == "联络站工作人员"
        assert unassigned["created_at"] and unassigned["category_name"] == "路灯不亮"

        assert ids(api, area.token(api, "B1"), "overdue") == [answer]
        assert ids(api, area.token(api, "A"), "overdue") == [waiting]
        assert ids(api, area.token(api, "A1"), "overdue") == []
        status, body = listing(api, city, "unmatched", scope=f"district:{area.districts['A']}")
        assert [(i["id"], i["rung"], i["overdue"]) for i in body["items"]] == [(waiting, 2, True)]

        status, body = listing(api, city, "deputies", scope=f"district:{area.districts['B']}")
        assert [(d["id"], d["open_tasks"]) for d in body["items"]] == [(area.deputies["b1"], 1)]

        deputy = area.token(api, "deputy_b1")
        progress = {"note": "已到现场查看"}
        assert api.json("POST", f"/reports/{answer}/progress", progress, token=deputy)[0] == 200
        assert ids(api, city, "overdue") == [waiting]


def test_staff_see_only_their_own_area(api, area):
    a1, a2 = area.stations["A1"], area.stations["A2"]
    station = area.token(api, "A1")
    for name in ("overdue", "review", "unmatched"):
        for scope in (f"station:{a2}", f"district:{area.districts['A']}", f"city:{area.city}"):
            status, body = listing(api, station, name, scope=scope)
            assert status == 403 and body["error"]["field"] == "scope", (name, scope, body)
            assert body["error"]["code"] == "scope_forbidden"
    district = area.token(api, "A")
    status, body = listing(api, district, "overdue", scope=f"station:{area.stations['B1']}")
    assert status == 403 and body["error"]["field"] == "scope"
    assert listing(api, district, "overdue", scope=f"station:{a1}")[0] == 200
    status, body = listing(
        api, api.login("staff-city")["token"], "review", scope=f"city:{area.city}"
    )
    assert status == 403 and body["error"]["field"] == "scope"

    city = area.token(api, "city")
    status, body = listing(api, city, "unmatched", scope=f"district:{area.city}-nowhere")
    assert status == 404 and body["error"]["field"] == "scope"
    for bad in ("shinan", "town:x", "district:", "district:a%20b"):
        status, body = listing(api, city, "unmatched", scope=bad)
        assert status == 422 and body["error"]["field"] == "scope", bad
        assert "scope" in body["error"]["message"]
    for name in ("overdue", "review", "unmatched", "deputies"):
        for who in (api.login()["token"], area.token(api, "deputy_b1")):
            status, body = listing(api, who, name)
            assert status == 403 and body["error"]["code"] == "forbidden_role"
        assert api.json("GET", f"/staff/{name}")[0] == 401


def test_deputies_to_assign_are_listed_without_phones(api, area):
    a = area.districts["A"]
    station = area.token(api, "A1")
    status, body = listing(api, station, "deputies", scope=f"district:{a}")
    assert status == 200, body
    assert [d["id"] for d in body["items"]] == [area.deputies["a1"], area.deputies["a2"]]
    row = body["items"][0]
    assert set(row) == DEPUTY_FIELDS
    assert row["station_name"] == "测试A1联络站" and row["level_name"] == "区人大代表"
    assert row["expertise"] == ["市政"] and row["open_tasks"] == 0
    status, body = listing(api, station, "deputies", scope=f"station:{area.stations['A2']}")
    assert [d["id"] for d in body["items"]] == [area.deputies["a2"]]
    status, body = listing(api, station, "deputies", scope=f"district:{area.districts['B']}")
    assert status == 403 and body["error"]["field"] == "scope"
    status, body = listing(api, area.token(api, "city"), "deputies")
    assert status == 422 and body["error"]["field"] == "scope"
    status, body = listing(api, area.token(api, "city"), "deputies", scope=f"district:{a}")
    assert status == 200 and len(body["items"]) == 2

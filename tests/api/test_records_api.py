"""Deputy duty records (一人一档): duties entered by staff, the record with points, the ranking.

The points test runs on a day of its own (time travel) so the counters it reads are only the
ones it causes; the ranking test writes counters on another such day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from chalice.test import Client

from chalicelib.store.models import StatsModel
from chalicelib.workflow.engine import beijing_day
from tests.conftest import Api
from tests.workflow_helpers import Loop, drain, settle_queue


@pytest.fixture
def records(env) -> Iterator[Api]:
    from app import app

    with Client(app, stage_name="local") as client:
        yield Api(client)


def activity(**overrides) -> dict:
    body = {"kind": "inspections", "title": "视察老旧小区改造", "date": beijing_day()}
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("staff", "deputy_id", "expected"),
    [
        ("staff-station-01", "D01", 201),
        ("staff-station-01", "D03", 403),
        ("staff-district-1", "D03", 201),
        ("staff-district-1", "D09", 403),
        ("staff-district-2", "D09", 201),
        ("staff-city", "D12", 201),
        ("deputy-01", "D01", 403),
        (None, "D01", 403),
        ("staff-city", "D99", 404),
    ],
)
def test_staff_of_the_deputys_station_district_or_city_enter_duties(
    api, records, staff, deputy_id, expected
):
    token = api.login(staff)["token"]
    status, body = records.json(
        "POST", f"/deputies/{deputy_id}/activities", activity(), token=token
    )
    assert status == expected, body
    if expected == 201:
        assert body["deputy_id"] == deputy_id and body["kind_name"] == "视察调研"
        assert body["id"].startswith("A") and body["date"] == beijing_day()
    else:
        assert body["error"]["message"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": None}, "kind"),
        ({"kind": "dancing"}, "kind"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 101}, "title"),
        ({"title": 5}, "title"),
        ({"date": "2026/01/02"}, "date"),
        ({"date": "2026-02-30"}, "date"),
        ({"date": "2999-01-01"}, "date"),
        ({"note": "x" * 1001}, "note"),
        ({"note": ["x"]}, "note"),
        ({"place": "会议室"}, "place"),
    ],
)
def test_bad_duties_name_the_field(api, records, overrides, field):
    token = api.login("staff-city")["token"]
    body = {k: v for k, v in activity(**overrides).items() if v is not None}
    status, answer = records.json("POST", "/deputies/D05/activities", body, token=token)
    assert status == 422 and answer["error"]["field"] == field, answer


def test_an_empty_body_is_400(api, records):
    token = api.login("staff-city")["token"]
    status, answer = records.json("POST", "/deputies/D05/activities", raw="", token=token)
    assert status == 400 and answer["error"]["code"] == "empty_body"


def test_the_record_counts_duties_system_work_and_points(api, records, wechat):
    import time_machine

    day = "2033-05-17"
    settle_queue(api)  # what earlier tests left in the queue is handled in their time
    with time_machine.travel(datetime(2033, 5, 17, 2, 0, tzinfo=UTC), tick=True):
        loop = Loop(
            api,
            category="municipal.streetlight",
            station="S03",
            text="路灯不亮",
            staff="staff-district-1",
        )
        deputy_id = loop.candidates()[0]
        deputy = loop.deputy(deputy_id)
        for text in ("小区门口井盖缺失", "公园路灯损坏"):
            status, _ = api.json(
                "POST",
                "/reports",
                {"station_id": "S03", "category": "municipal.manhole", "text": text},
                token=deputy,
            )
            assert status == 201
        wechat.state.set_words(review=["上访"])
        status, held = api.json(
            "POST",
            "/reports",
            {"station_id": "S03", "category": "other.other", "text": "关于上访的问题"},
            token=deputy,
        )
        assert status == 201 and held["moderation"] == "review"
        status, _ = api.json(
            "POST",
            f"/reports/{held['id']}/moderation",
            {"result": "reject", "note": "与本平台受理范围无关"},
            token=api.login("staff-district-1")["token"],
        )
        assert status == 200  # a report refused by review earns no points
        drain(api)
        assert loop.act("accept", deputy)[0] == 200
        status, body = loop.act("triage", deputy, {"action": "reply", "note": "已联系路灯所"})
        assert status == 200 and body["status"] == "resolved"
        staff = api.login("staff-city")["token"]
        for kind, title in (("meetings", "区人代会"), ("contacting_voters", "进社区接待选民")):
            status, _ = records.json(
                "POST",
                f"/deputies/{deputy_id}/activities",
                activity(kind=kind, title=title, date=day, note="  "),
                token=staff,
            )
            assert status == 201

    status, record = records.json(
        "GET", f"/deputies/{deputy_id}/record?from={day}&to={day}", token=deputy
    )
    assert status == 200, record
    assert record["period"] == {"from": day, "to": day}
    assert record["system"] == {"filed": 2, "resolved": 1, "actions": 2, "suggestions": 0}
    assert record["points"] == {"filed": 0.6, "resolved": 0.5, "total": 1.1}
    assert record["activity_counts"] == {
        "meetings": 1,
        "inspections": 0,
        "suggestions": 0,
        "contacting_voters": 1,
        "group_activities": 0,
    }
    assert record["activities"]["meetings"][0]["title"] == "区人代会"
    assert record["activities"]["meetings"][0]["note"] is None

    status, before = records.json(
        "GET", f"/deputies/{deputy_id}/record?from=2033-05-16&to=2033-05-16", token=deputy
    )
    assert status == 200 and before["points"]["total"] == 0


def test_who_may_read_a_record_and_bad_periods(api, records):
    own = api.login("deputy-01")["token"]
    assert records.json("GET", "/deputies/D01/record", token=own)[0] == 200
    assert records.json("GET", "/deputies/D02/record", token=own)[0] == 403
    assert records.json("GET", "/deputies/D01/record", token=api.login()["token"])[0] == 403
    huangdao = api.login("staff-district-2")["token"]
    assert records.json("GET", "/deputies/D01/record", token=huangdao)[0] == 403
    assert records.json("GET", "/deputies/D09/record", token=huangdao)[0] == 200
    assert records.json("GET", "/deputies/D99/record", token=huangdao)[0] == 404
    for query, field in (
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-05-02&to=2026-05-01", "from"),
        ("from=2010-01-01&to=2026-01-01", "to"),
    ):
        status, answer = records.json("GET", f"/deputies/D01/record?{query}", token=own)
        assert status == 422 and answer["error"]["field"] == field, query


def test_the_district_ranking_orders_deputies_by_points(api, records, monkeypatch):
    day = "2034-02-03"
    seeded = {
        "D09": {"filed": 1},
        "D10": {"resolved": 2},
        "D11": {"filed": 2, "resolved": 1},
        "D12": {"filed": 5, "actions": 3},
    }
    for deputy_id, metrics in seeded.items():
        for metric, n in metrics.items():
            StatsModel(f"deputy:{deputy_id}", f"{day}#{metric}", n=n).save()
    query = f"/deputies/ranking?district=huangdao&from={day}&to={day}"

    status, ranking = records.json("GET", query, token=api.login("staff-city")["token"])
    assert status == 200, ranking
    rows = ranking["items"]
    assert [r["id"] for r in rows] == ["D12", "D11", "D10", "D09", "D13", "D14"]
    assert [r["points"] for r in rows] == [1.5, 1.1, 1.0, 0.3, 0, 0]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5, 5]
    assert rows[0]["actions"] == 3 and rows[1]["filed"] == 2 and rows[1]["resolved"] == 1

    district = api.login("staff-district-2")["token"]
    status, own = records.json("GET", f"/deputies/ranking?from={day}&to={day}", token=district)
    assert status == 200 and [r["id"] for r in own["items"]] == [r["id"] for r in rows]

    # a deputy sees where they stand in their own record, not the others' rows
    record = f"/deputies/D11/record?from={day}&to={day}"
    status, own_record = records.json("GET", record, token=api.login("deputy-11")["token"])
    assert status == 200, own_record
    assert own_record["rank"] == {"district_id": "huangdao", "rank": 2, "of": 6}
    assert "items" not in own_record
    status, tied = records.json(
        "GET", f"/deputies/D14/record?from={day}&to={day}", token=api.login("deputy-14")["token"]
    )
    assert status == 200 and tied["rank"] == {"district_id": "huangdao", "rank": 5, "of": 6}

    monkeypatch.setenv("DUTY_POINTS_FILED", "1")
    status, reweighted = records.json("GET", query, token=district)
    assert [r["points"] for r in reweighted["items"]][:2] == [5.0, 2.5]

    shinan = api.login("staff-district-1")["token"]
    assert records.json("GET", query, token=shinan)[0] == 403
    assert records.json("GET", query, token=api.login("deputy-09")["token"])[0] == 403
    status, answer = records.json(
        "GET", "/deputies/ranking", token=api.login("staff-city")["token"]
    )
    assert status == 422 and answer["error"]["field"] == "district"

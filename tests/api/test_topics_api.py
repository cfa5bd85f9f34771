"""Micro-topics (微专题) through the daily job and the staff API.

Reports are written as intake writes them (the report and its topic-log entry in one
transaction, `log_for_topics`), at places of their own, so other tests' reports never join
these groups.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from chalice.test import Client

from chalicelib.bootstrap import services
from chalicelib.clock import now_iso
from chalicelib.store.models import OutboxModel, ReportModel, TopicModel
from chalicelib.store.transactions import transact_write
from chalicelib.topics import log_for_topics
from tests.conftest import Api
from tests.workflow_helpers import drain, scheduled_event

CATEGORY = "community.ebike"


@pytest.fixture
def topics(env) -> Iterator[Api]:
    from app import app

    with Client(app, stage_name="local") as client:
        yield Api(client)


def run_job(topics: Api) -> dict:
    return topics.client.lambda_.invoke("open_topics", scheduled_event(topics.client)).payload


def file_report(station: str, category: str = CATEGORY, moderation: str = "pass") -> str:
    """A report as intake stores it: report and topic-log entry in one transaction."""
    now = now_iso()
    report = ReportModel(
        f"R-topic-{uuid.uuid4().hex[:10]}",
        reporter_id=f"u-topic-{uuid.uuid4().hex[:6]}",
        created_at=now,
        updated_at=now,
        status="submitted",
        moderation=moderation,
        category=category,
        text="小区电动车充电难，楼道飞线充电",
        station_id=station,
        district_id="shinan",
        city_id="qingdao",
    )
    with transact_write(services().settings) as transaction:
        transaction.save(report)
        log_for_topics(report)(transaction)
    return report.id


def topics_of(station: str) -> list[TopicModel]:
    return [t for t in TopicModel.by_district.query("shinan") if t.place == f"station:{station}"]


def test_a_group_opens_one_topic_at_the_threshold_and_links_later_reports(api, topics, wechat):
    place, other_place = f"SX-{uuid.uuid4().hex[:6]}", f"SY-{uuid.uuid4().hex[:6]}"
    first = [file_report(place) for _ in range(9)]
    held = file_report(place, moderation="review")
    others = [file_report(other_place) for _ in range(9)]
    file_report(place, category="traffic.parking")
    run_job(topics)
    assert topics_of(place) == [] and topics_of(other_place) == [], "9 counting reports"

    tenth = file_report(place)
    run_job(topics)
    [topic] = topics_of(place)
    assert topic.status == "open" and topic.report_count == 10
    assert topic.report_ids == [*first, tenth] and held not in topic.report_ids
    assert topic.category == CATEGORY and topic.district_id == "shinan"
    assert topics_of(other_place) == [], "a different place does not merge"
    assert set(others).isdisjoint(topic.report_ids)

    notices = list(OutboxModel.by_report.query(topic.id))
    assert notices and {n.purpose for n in notices} == {"topic_opened"}
    assert {n.recipient_kind for n in notices} == {"staff"}
    drain(api)
    city_staff = wechat.state.openid_for("staff-city")
    sends = [
        c["body"]
        for c in wechat.state.calls("subscribe_send")
        if c.get("errcode") in (0, None)
        and c["body"]["touser"] == city_staff
        and topic.id in (c["body"].get("page") or "")
    ]
    assert len(sends) == 1 and sends[0]["template_id"] == "tmpl-topic-opened"

    eleventh = file_report(place)
    run_job(topics)
    [linked] = topics_of(place)
    assert linked.id == topic.id and linked.report_count == 11
    assert linked.report_ids[-1] == eleventh

    again = run_job(topics)
    assert again["opened"] == 0 and again["linked"] == 0
    [same] = topics_of(place)
    assert same.report_count == 11
    assert len(list(OutboxModel.by_report.query(topic.id))) == len(notices)


def test_staff_see_the_topics_of_their_city_or_district_and_close_them(api, topics):
    place = f"SZ-{uuid.uuid4().hex[:6]}"
    ids = [file_report(place) for _ in range(10)]
    run_job(topics)
    drain(api)
    [topic] = topics_of(place)

    city = api.login("staff-city")["token"]
    status, listing = topics.json("GET", "/topics", token=city)
    assert status == 200 and topic.id in [t["id"] for t in listing["items"]]
    item = next(t for t in listing["items"] if t["id"] == topic.id)
    assert item["report_count"] == 10 and item["category_name"] == "电动车充电"
    assert "report_ids" not in item

    shinan = api.login("staff-district-1")["token"]
    status, detail = topics.json("GET", f"/topics/{topic.id}", token=shinan)
    assert status == 200 and detail["report_ids"] == ids
    assert [r["id"] for r in detail["reports"]] == ids

    huangdao = api.login("staff-district-2")["token"]
    status, listing = topics.json("GET", "/topics", token=huangdao)
    assert status == 200 and topic.id not in [t["id"] for t in listing["items"]]
    assert topics.json("GET", f"/topics/{topic.id}", token=huangdao)[0] == 404
    assert topics.json("GET", "/topics/T-nope", token=city)[0] == 404
    for code in ("staff-station-01", "deputy-01", None):
        status, answer = topics.json("GET", "/topics", token=api.login(code)["token"])
        assert status == 403 and answer["error"]["code"] == "forbidden_role"
    status, answer = topics.json("GET", "/topics?status=pending", token=city)
    assert status == 422 and answer["error"]["field"] == "status"

    status, closed = topics.json(
        "POST", f"/topics/{topic.id}/close", {"note": "已召开专题座谈会"}, token=shinan
    )
    assert status == 200 and closed["status"] == "closed" and closed["closed_at"]
    status, listing = topics.json("GET", "/topics?status=closed", token=city)
    assert topic.id in [t["id"] for t in listing["items"]]
    status, answer = topics.json("POST", f"/topics/{topic.id}/close", {}, token=shinan)
    assert status == 409
    status, answer = topics.json(
        "POST", f"/topics/{topic.id}/close", {"note": "x" * 501}, token=shinan
    )
    assert status == 422 and answer["error"]["field"] == "note"

    file_report(place)
    run_job(topics)
    assert [t.id for t in topics_of(place)] == [topic.id], "closed: earlier reports do not count"

"""Merging a duplicate: only into an open report the deputy may see; ids in bodies are bounded."""

from __future__ import annotations

import pytest

from tests.workflow_helpers import Loop


@pytest.fixture
def merge_api(api, wechat, sms):
    return api


def _accepted_duplicate(api, text="汇泉路路面塌了个坑", exclude=()) -> tuple[Loop, str, str]:
    """A report of S01 accepted by one of its candidates not in `exclude`; (loop, id, token)."""
    loop = Loop(api, category="municipal.road", text=text)
    deputy_id = next(d for d in loop.candidates() if d not in exclude)
    token = loop.deputy(deputy_id)
    assert loop.act("accept", token)[0] == 200
    return loop, deputy_id, token


def _merge(loop: Loop, token: str, into: str):
    return loop.act("triage", token, {"action": "merge", "into": into})


def test_a_report_out_of_the_deputys_reach_is_answered_like_an_unknown_one(merge_api):
    api = merge_api
    elsewhere = Loop(
        api, station="S05", category="municipal.road", text="长江路有坑", staff="staff-district-2"
    )
    before = elsewhere.staff_view()
    duplicate, _, token = _accepted_duplicate(api)

    status, answer = _merge(duplicate, token, elsewhere.id)
    unknown_status, unknown = _merge(duplicate, token, "R20990101-ZZZZZZZZ")

    assert status == unknown_status == 422
    assert answer == unknown and answer["error"]["field"] == "into"
    assert elsewhere.id not in answer["error"]["message"]
    assert elsewhere.staff_view() == before, "the other report gained no follower"
    status, _ = api.json("GET", f"/reports/{elsewhere.id}", token=duplicate.citizen)
    assert status == 404
    assert duplicate.read()["status"] == "accepted"


def test_a_report_of_the_same_district_not_offered_to_the_deputy_is_a_valid_target(merge_api):
    api = merge_api
    target = Loop(
        api,
        station="S04",
        category="greening.tree",
        text="行道树倒伏压坏路面",
        staff="staff-district-1",
    )
    duplicate, deputy_id, token = _accepted_duplicate(
        api, text="树倒了路面坏了", exclude=target.candidates()
    )
    assert deputy_id not in target.candidates()

    status, merged = _merge(duplicate, token, target.id)

    assert status == 200 and merged["status"] == "merged" and merged["merged_into"] == target.id
    status, view = api.json("GET", f"/reports/{target.id}", token=duplicate.citizen)
    assert status == 200 and view["id"] == target.id


def test_a_closed_or_merged_report_or_the_report_itself_is_no_target(merge_api):
    api = merge_api
    closed, _, closer = _accepted_duplicate(api, text="路面有裂缝")
    assert closed.act("triage", closer, {"action": "reply", "note": "已修补"})[0] == 200
    assert closed.act("evaluation", closed.citizen, {"result": "satisfied"})[0] == 200
    original = Loop(api, category="municipal.road", text="人行道砖松动")
    merged, _, merger = _accepted_duplicate(api, text="人行道砖翘起")
    assert _merge(merged, merger, original.id)[0] == 200
    duplicate, _, token = _accepted_duplicate(api, text="路面坑洼")

    for into in (closed.id, merged.id, duplicate.id):
        status, answer = _merge(duplicate, token, into)
        assert status == 422 and answer["error"]["field"] == "into", (into, answer)
        assert answer["error"]["message"]
    assert duplicate.read()["status"] == "accepted"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"action": "merge", "into": "R" * 65}, "into", "格式"),
        ({"action": "merge", "into": "R" * 5000}, "into", "格式"),
        ({"action": "merge", "into": "R2026/../x"}, "into", "格式"),
        ({"action": "merge", "into": 42}, "into", "请填写"),
        ({"action": "transfer", "department_id": "d" * 65}, "department_id", "格式"),
        ({"action": "transfer", "department_id": "d" * 5000}, "department_id", "格式"),
        ({"action": "transfer", "department_id": "shinan cg"}, "department_id", "格式"),
        ({"action": "transfer", "department_id": ["shinan-cg"]}, "department_id", "请选择"),
    ],
)
def test_ids_in_triage_bodies_are_bounded(merge_api, body, field, message):
    duplicate, _, token = _accepted_duplicate(merge_api, text="井盖松动")
    status, answer = duplicate.act("triage", token, body)
    assert status == 422 and answer["error"]["field"] == field, answer
    assert message in answer["error"]["message"], answer
    assert duplicate.read()["status"] == "accepted"


@pytest.mark.parametrize("deputy_id", ["D" * 65, "D" * 5000, "D01;DROP", ""])
def test_the_deputy_staff_assign_is_bounded(merge_api, deputy_id):
    loop = Loop(merge_api, category="municipal.road", text="路牌倒了")
    staff = merge_api.login("staff-station-01")["token"]
    status, answer = loop.act("assign", staff, {"deputy_id": deputy_id})
    assert status == 422 and answer["error"]["field"] == "deputy_id", answer
    assert loop.staff_view()["status"] == "offered"

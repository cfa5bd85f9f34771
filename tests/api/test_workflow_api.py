"""The closed loop through HTTP and the notice worker's queue events.

群众提 → 代表接 → 政府办 → 群众评: submit, offer to K deputies (SMS and WeChat on the
emulators), accept, transfer, progress, resolve, evaluate; second handling; escalation.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.bootstrap import services
from tests.workflow_helpers import DEPUTY_CODES, DEPUTY_PHONES, Loop, drain, run_schedule


@pytest.fixture
def loop_api(api, wechat, sms):
    return api


def _subscribe_sends(wechat, openid=None, template_id=None):
    calls = [c for c in wechat.state.calls("subscribe_send") if c.get("errcode") in (0, None)]
    return [
        c
        for c in calls
        if (openid is None or c["body"]["touser"] == openid)
        and (template_id is None or c["body"]["template_id"] == template_id)
    ]


def _notices(wechat, openid: str, template_id: str, report_id: str) -> list[dict]:
    """WeChat notices of one purpose (template) about one report to one person."""
    return [
        c
        for c in _subscribe_sends(wechat, openid, template_id)
        if report_id in (c["body"].get("page") or "")
    ]


def test_the_whole_loop_to_escalation(loop_api, wechat, sms):
    api = loop_api
    drain(api)  # notices other tests left queued reach nobody during this one
    wechat.state.clear_calls()
    sms.state.reset()
    loop = Loop(api)
    view = loop.staff_view()
    assert view["status"] == "offered"
    offered = [c["deputy_id"] for c in view["candidates"]]
    assert len(offered) == 3 and all(c["reasons"] for c in view["candidates"])
    citizen = wechat.state.openid_for(loop.citizen_code)
    deputy_openid = {d: wechat.state.openid_for(code) for d, code in DEPUTY_CODES.items()}
    # The offer reached each of the K deputies exactly once on WeChat and once by SMS
    # (with the station's name), and nobody else.
    for deputy_id in offered:
        offers = _notices(wechat, deputy_openid[deputy_id], "tmpl-task-offered", loop.id)
        assert len(offers) == 1, (deputy_id, offers)
        assert offers[0]["body"]["data"]["thing2"]["value"] == "八大关街道人大代表联络站"
        texts = sms.state.messages(DEPUTY_PHONES[deputy_id])
        assert [m["template_id"] for m in texts] == ["1800001"], (deputy_id, texts)
    assert len(_subscribe_sends(wechat, template_id="tmpl-task-offered")) == 3
    assert len(sms.state.messages()) == 3

    winner, loser = offered[0], offered[1]
    status, accepted = loop.act("accept", loop.deputy(winner))
    assert status == 200 and accepted["status"] == "accepted"
    assert len(_notices(wechat, citizen, "tmpl-report-accepted", loop.id)) == 1
    _, tasks = api.json("GET", "/tasks?status=withdrawn", token=loop.deputy(loser))
    mine = [t for t in tasks["items"] if t["report_id"] == loop.id]
    assert mine and mine[0]["taken_by"]

    deputy = loop.deputy(winner)
    status, body = loop.act(
        "triage",
        deputy,
        {
            "action": "transfer",
            "department_id": "shinan-jj",
            "deadline_days": 5,
            "note": "请交警核查",
        },
    )
    assert status == 200 and body["status"] == "in_progress" and body["work_order_due"]
    status, _ = loop.act("progress", deputy, {"note": "已到现场查看"})
    assert status == 200
    status, _ = loop.act("progress", deputy, {"note": "内部：与交警电话沟通", "internal": True})
    assert status == 200
    status, resolved = loop.act("resolve", deputy, {"note": "已施划禁停线"})
    assert status == 200 and resolved["status"] == "resolved"
    assert len(_notices(wechat, citizen, "tmpl-report-resolved", loop.id)) == 1

    status, second = loop.act(
        "evaluation", loop.citizen, {"result": "unsatisfied", "comment": "晚上还是乱停"}
    )
    assert status == 200 and second["status"] == "second_handling" and second["round"] == 2
    assert len(_notices(wechat, citizen, "tmpl-second-handling", loop.id)) == 1
    # The deputy who accepted it, and nobody else, is told to handle it again.
    told = [
        deputy_id
        for deputy_id, openid in deputy_openid.items()
        if _notices(wechat, openid, "tmpl-second-handling-deputy", loop.id)
    ]
    assert told == [winner]
    assert len(_notices(wechat, deputy_openid[winner], "tmpl-second-handling-deputy", loop.id)) == 1
    assert [m["template_id"] for m in sms.state.messages(DEPUTY_PHONES[winner])] == [
        "1800001",
        "1800002",
    ]
    status, _ = loop.act("resolve", deputy, {"note": "已加装隔离桩"})
    assert status == 200
    status, escalated = loop.act("evaluation", loop.citizen, {"result": "unsatisfied"})
    assert status == 200 and escalated["status"] == "escalated"

    citizen_view = loop.read()
    types = [e["type"] for e in citizen_view["timeline"]]
    assert types == [
        "submitted",
        "offered",
        "accepted",
        "transferred",
        "progress",
        "resolved",
        "evaluated",
        "resolved",
        "evaluated",
    ]
    assert all("内部" not in (e["note"] or "") for e in citizen_view["timeline"])
    assert "内部：与交警电话沟通" in [e["note"] for e in loop.staff_view()["timeline"]]

    purposes = [c["body"]["template_id"] for c in _subscribe_sends(wechat)]
    citizen_openid = [
        c["body"]["touser"]
        for c in wechat.state.calls("subscribe_send")
        if "report/detail" in (c["body"].get("page") or "")
    ]
    assert citizen_openid, purposes
    staff_city = api.login("staff-city")
    city_sends = [
        c
        for c in wechat.state.calls("subscribe_send")
        if "staff/report" in (c["body"].get("page") or "")
    ]
    assert city_sends, "city staff are told of the escalation"
    assert staff_city["user"]["roles"] == ["citizen", "city_staff"]


def test_satisfied_closes_and_frees_the_deputy(loop_api):
    api = loop_api
    loop = Loop(api, category="municipal.streetlight", text="路灯不亮")
    winner = loop.candidates()[0]
    deputy = loop.deputy(winner)
    assert loop.act("accept", deputy)[0] == 200
    status, body = loop.act("triage", deputy, {"action": "reply", "note": "已联系路灯所，今晚修复"})
    assert status == 200 and body["status"] == "resolved"
    status, closed = loop.act("evaluation", loop.citizen, {"result": "satisfied", "comment": "好"})
    assert status == 200 and closed["status"] == "closed" and closed["close_reason"] == "satisfied"
    _, tasks = api.json("GET", "/tasks?status=closed", token=deputy)
    assert loop.id in [t["report_id"] for t in tasks["items"]]


def test_declines_move_the_offer_down_the_ranking_then_to_staff(loop_api, wechat):
    api = loop_api
    loop = Loop(
        api, station="S07", category="other.other", text="村口垃圾桶不够", staff="staff-district-2"
    )
    huangdao = {f"D{n:02d}" for n in range(9, 15)}
    declined: list[str] = []
    while loop.staff_view()["status"] == "offered":
        view = loop.staff_view()
        pending = [c["deputy_id"] for c in view["candidates"] if c["deputy_id"] not in declined]
        assert pending
        status, _ = loop.act("decline", loop.deputy(pending[0]), {"reason": "近期外出"})
        assert status == 200
        declined.append(pending[0])
    view = loop.staff_view()
    assert view["status"] == "unmatched"
    assert set(declined) == huangdao, "every deputy of the district was offered once"
    district_staff = wechat.state.openid_for("staff-district-2")
    assert any(
        c["body"]["touser"] == district_staff and "staff/report" in c["body"]["page"]
        for c in wechat.state.calls("subscribe_send")
    )

    staff = api.login("staff-district-2")["token"]
    assert loop.act("assign", staff, {"deputy_id": declined[0]})[0] == 409
    status, body = loop.act("assign", staff, {"deputy_id": "D03"})
    assert status == 200 and body["status"] == "offered"
    status, accepted = loop.act("accept", loop.deputy("D03"))
    assert status == 200 and accepted["accepted_by"] == "D03"


def test_merge_makes_the_duplicate_reporter_follow_the_original(loop_api):
    api = loop_api
    original = Loop(api, category="municipal.road", text="汇泉路有坑")
    duplicate = Loop(api, category="municipal.road", text="汇泉路路面塌了个坑")
    deputy_id = duplicate.candidates()[0]
    deputy = duplicate.deputy(deputy_id)
    assert duplicate.act("accept", deputy)[0] == 200
    status, merged = duplicate.act("triage", deputy, {"action": "merge", "into": original.id})
    assert status == 200 and merged["status"] == "merged" and merged["merged_into"] == original.id
    follower_view = api.json("GET", f"/reports/{original.id}", token=duplicate.citizen)
    assert follower_view[0] == 200


def test_handler_of_the_department_acts_on_the_work_order(loop_api, wechat):
    api = loop_api
    loop = Loop(api, category="sanitation.garbage", text="垃圾三天没人清运")
    deputy = loop.deputy(loop.candidates()[0])
    loop.act("accept", deputy)
    handler = api.login("handler-01")
    status, _ = loop.act("triage", deputy, {"action": "transfer", "department_id": "shinan-cg"})
    assert status == 200
    assert any(
        c["body"]["touser"] == wechat.state.openid_for("handler-01")
        for c in wechat.state.calls("subscribe_send")
    )
    status, body = loop.act("progress", handler["token"], {"note": "已安排环卫车"})
    assert status == 200
    status, body = loop.act("resolve", handler["token"], {"note": "已清运完毕"})
    assert status == 200 and body["status"] == "resolved"
    other_handler = api.login("handler-02")["token"]
    assert loop.act("progress", other_handler, {"note": "x"})[0] == 404


def test_suggestion_turns_a_common_problem_into_a_deputy_suggestion(loop_api):
    loop = Loop(loop_api, category="community.ebike", text="小区电动车充电难")
    deputy = loop.deputy(loop.candidates()[0])
    loop.act("accept", deputy)
    status, body = loop.act(
        "triage", deputy, {"action": "suggestion", "note": "将形成代表建议提交常委会"}
    )
    assert status == 200 and body["handling"] == "suggestion" and body["status"] == "in_progress"


@pytest.mark.parametrize(
    ("actor", "path", "body", "expected"),
    [
        ("citizen", "accept", {}, 403),
        ("other-deputy", "accept", {}, 404),
        ("offered-deputy", "evaluation", {"result": "satisfied"}, 403),
        ("offered-deputy", "resolve", {"note": "x"}, 403),
        ("citizen", "evaluation", {"result": "satisfied"}, 409),
        ("citizen", "triage", {"action": "reply", "note": "x"}, 403),
        ("stranger", "evaluation", {"result": "satisfied"}, 404),
        ("handler", "progress", {"note": "x"}, 404),
        ("citizen", "assign", {"deputy_id": "D01"}, 403),
    ],
)
def test_forbidden_roles_and_transitions_are_4xx(loop_api, actor, path, body, expected):
    api = loop_api
    loop = Loop(api, category="cityscape.stall", text="占道经营")
    offered = loop.candidates()
    others = [d for d in DEPUTY_CODES if d not in offered and d.startswith("D0")]
    tokens = {
        "citizen": loop.citizen,
        "offered-deputy": loop.deputy(offered[0]),
        "other-deputy": loop.deputy(others[0]),
        "stranger": api.login()["token"],
        "handler": api.login("handler-01")["token"],
    }
    status, answer = api.json("POST", f"/reports/{loop.id}/{path}", body, token=tokens[actor])
    assert status == expected, answer
    assert answer["error"]["message"]


def test_accepting_twice_and_after_another_won_is_409(loop_api):
    loop = Loop(loop_api, category="traffic.signal", text="红绿灯坏了")
    first, second = loop.candidates()[:2]
    assert loop.act("accept", loop.deputy(first))[0] == 200
    status, answer = loop.act("accept", loop.deputy(second))
    assert status == 409 and answer["error"]["message"]
    assert loop.act("accept", loop.deputy(first))[0] == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "fly"}, "action"),
        ({"action": "transfer"}, "department_id"),
        ({"action": "transfer", "department_id": "nope"}, "department_id"),
        ({"action": "transfer", "department_id": "shinan-cg", "deadline_days": 0}, "deadline_days"),
        ({"action": "reply"}, "note"),
        ({"action": "merge", "into": "R-none"}, "into"),
    ],
)
def test_bad_triage_bodies_name_the_field(loop_api, body, field):
    loop = Loop(loop_api, category="traffic.bus", text="公交站牌损坏")
    deputy = loop.deputy(loop.candidates()[0])
    loop.act("accept", deputy)
    status, answer = loop.act("triage", deputy, body)
    assert status == 422 and answer["error"]["field"] == field


def test_unevaluated_reports_close_as_not_evaluated_after_the_window(loop_api, monkeypatch):
    import time_machine

    api = loop_api
    loop = Loop(api, category="greening.tree", text="树倒了")
    deputy = loop.deputy(loop.candidates()[0])
    loop.act("accept", deputy)
    loop.act("triage", deputy, {"action": "reply", "note": "园林部门已处理"})
    days = services().settings.evaluation_days
    from chalicelib.clock import utcnow

    with time_machine.travel(utcnow() + timedelta(days=days, hours=1), tick=True):
        run_schedule(api, "sweep_due_reports")
    view = loop.read()
    assert view["status"] == "closed" and view["close_reason"] == "not_evaluated"


def test_failed_notices_are_visible_to_staff(loop_api, sms, monkeypatch):
    monkeypatch.setenv("NOTIFY_MAX_ATTEMPTS", "1")
    sms.state.inject(code="FailedOperation.TemplateIncorrectOrUnapproved", times=-1)
    loop = Loop(loop_api, category="safety.fire", text="楼道堆放杂物")
    staff = loop_api.login("staff-station-01")["token"]
    status, failed = loop_api.json("GET", "/notices/failed", token=staff)
    assert status == 200
    mine = [n for n in failed["items"] if n["report_id"] == loop.id]
    assert mine and all(n["channel"] == "sms" and n["last_error"] for n in mine)
    assert json.dumps(failed).count("139000") == 0


def test_staff_review_releases_a_held_report_to_matching_or_rejects_it(loop_api, wechat):
    api = loop_api
    wechat.state.set_words(review=["上访"])
    citizen = api.login()["token"]
    held = [
        api.json(
            "POST",
            "/reports",
            {"station_id": "S01", "category": "other.other", "text": f"关于上访的问题{n}"},
            token=citizen,
        )[1]["id"]
        for n in range(2)
    ]
    drain(api)
    staff = api.login("staff-station-01")["token"]
    first = api.json("GET", f"/reports/{held[0]}", token=staff)[1]
    assert first["status"] == "submitted" and first["moderation"] == "review"
    assert "candidates" not in first or not first["candidates"]

    deputy = api.login("deputy-01")["token"]
    assert (
        api.json("POST", f"/reports/{held[0]}/moderation", {"result": "pass"}, token=deputy)[0]
        == 403
    )
    status, passed = api.json(
        "POST", f"/reports/{held[0]}/moderation", {"result": "pass"}, token=staff
    )
    assert status == 200 and passed["moderation"] == "pass"
    drain(api)
    assert api.json("GET", f"/reports/{held[0]}", token=staff)[1]["status"] == "offered"

    status, answer = api.json(
        "POST", f"/reports/{held[1]}/moderation", {"result": "reject"}, token=staff
    )
    assert status == 422 and answer["error"]["field"] == "note"
    status, rejected = api.json(
        "POST",
        f"/reports/{held[1]}/moderation",
        {"result": "reject", "note": "与本平台受理范围无关"},
        token=staff,
    )
    assert status == 200 and rejected["status"] == "closed"
    assert rejected["close_reason"] == "rejected"
    assert (
        api.json("POST", f"/reports/{held[1]}/moderation", {"result": "pass"}, token=staff)[0]
        == 409
    )

"""The deputy's workbench: counts per tab (offered, in hand, overdue) and the overdue tab."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import time_machine

from chalicelib.auth.users import grant_role
from chalicelib.workflow.calendar import BEIJING
from tests.workflow_helpers import drain, seed_station

START = datetime(2026, 11, 17, 10, 0, tzinfo=BEIJING)  # a Tuesday without holidays around


def _deputy_login(api, deputy_id: str) -> str:
    """A login bound to the deputy (as `python -m chalicelib.admin grant` binds one)."""
    code = f"login-{deputy_id}-{uuid.uuid4().hex[:4]}"
    grant_role(api.login(code)["user"]["id"], "deputy", deputy_id=deputy_id)
    return code


def _tasks(api, code: str, query: str = "") -> dict:
    status, body = api.json("GET", f"/tasks{query}", token=api.login(code)["token"])
    assert status == 200, body
    return body


def _report(api, station: str, text: str) -> str:
    status, report = api.json(
        "POST",
        "/reports",
        {"station_id": station, "category": "municipal.manhole", "text": text},
        token=api.login()["token"],
    )
    assert status == 201, report
    drain(api)
    return report["id"]


def _act(api, code: str, report_id: str, action: str, body: dict | None = None) -> None:
    status, answer = api.json(
        "POST", f"/reports/{report_id}/{action}", body or {}, token=api.login(code)["token"]
    )
    assert status == 200, answer
    drain(api)


def test_counts_follow_the_tasks_through_offer_hand_and_overdue(api, wechat, sms):
    drain(api)  # what other tests left is handled in their time
    with time_machine.travel(START, tick=True) as clock:
        station, deputies = seed_station(3, prefix="K")
        me = _deputy_login(api, deputies[0])
        zero = {"offered": 0, "accepted": 0, "in_progress": 0, "in_hand": 0, "overdue": 0}
        assert _tasks(api, me) == {"items": [], "counts": zero}

        first = _report(api, station, "井盖丢了")
        second = _report(api, station, "井盖松动")
        third = _report(api, station, "井盖破损")
        answer = _tasks(api, me, "?status=offered")
        assert {t["report_id"] for t in answer["items"]} == {first, second, third}
        assert answer["counts"] == {**zero, "offered": 3}

        _act(api, me, first, "accept")
        _act(api, me, second, "accept")
        _act(api, me, second, "progress", {"note": "已到现场查看"})
        counts = _tasks(api, me)["counts"]
        assert counts == {**zero, "offered": 1, "accepted": 1, "in_progress": 1, "in_hand": 2}
        held = {t["report_id"]: t for t in _tasks(api, me, "?status=accepted")["items"]}
        assert held[first]["deadline"] and held[first]["overdue"] is False

        # The first answer is due within ANSWER_HOURS (24 h) of accepting; the handling
        # step after a progress note has WORK_ORDER_DAYS working days.
        clock.move_to(START + timedelta(hours=30))
        answer = _tasks(api, me, "?status=overdue")
        assert [t["report_id"] for t in answer["items"]] == [first]
        assert answer["items"][0]["overdue"] is True
        assert answer["counts"]["overdue"] == 1 and answer["counts"]["in_hand"] == 2
        others = _tasks(api, me, "?status=in_progress")["items"]
        assert [(t["report_id"], t["overdue"]) for t in others] == [(second, False)]

        _act(api, me, first, "resolve", {"note": "已补装井盖"})
        counts = _tasks(api, me)["counts"]
        assert counts["overdue"] == 0 and counts["accepted"] == 0
        # A resolved report is still the deputy's (in progress until closed), not overdue.
        assert counts["in_progress"] == 2
        # The other deputies' offers of the accepted reports were withdrawn.
        other = _deputy_login(api, deputies[1])
        assert _tasks(api, other)["counts"]["offered"] == 1
        drain(api)


def test_an_unknown_status_is_422_naming_it(api):
    status, body = api.json("GET", "/tasks?status=late", token=api.login("deputy-02")["token"])
    assert status == 422 and body["error"]["field"] == "status"
    assert "overdue" in body["error"]["message"]

"""The overdue ladder for the steps before and after a deputy takes a report.

An offer nobody accepts, a report no deputy is left for (the "assign" step of staff),
a first answer given as a progress note (the "handling" step), and the configurable
windows; driven over days by a controllable clock and the scheduled sweep.

The tests travel to fixed days away from today (the SMS ledger of a deputy's phone is
kept per Beijing day, and a send "later today" would hold back the next tests' SMS) and
leave their reports answered, off the ladder, for the sweeps of later tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import time_machine

from chalicelib.workflow.calendar import BEIJING
from tests.workflow_helpers import DEPUTY_CODES, Loop, drain, run_schedule, wechat_sends

HUANGDAO = {"D09", "D10", "D11", "D12", "D13", "D14"}


def _sweep_at(api, clock, moment: datetime) -> None:
    """Move the clock to `moment`, then run the scheduled due sweep twice in a row (as a
    retried invocation would)."""
    clock.move_to(moment)
    run_schedule(api, "sweep_due_reports")
    run_schedule(api, "sweep_due_reports")


def _sweep_after(api, clock, start: datetime, hours: float) -> None:
    _sweep_at(api, clock, start + timedelta(hours=hours))


def _reminders(wechat, loop) -> list[dict]:
    return wechat_sends(wechat, "tmpl-deadline-reminder", loop.id)


def _overdue(wechat, loop) -> list[dict]:
    return wechat_sends(wechat, "tmpl-report-overdue", loop.id)


def _to(calls: list[dict]) -> list[str]:
    return [c["body"]["touser"] for c in calls]


def _field(call: dict, key: str) -> str:
    return call["body"]["data"][key]["value"]


def _timeline(loop) -> list[dict]:
    return loop.staff_view()["timeline"]


def _types(loop) -> list[str]:
    return [e["type"] for e in _timeline(loop)]


def _answer(loop, deputy_id: str, accept: bool = True) -> None:
    """Take the report off the ladder (accepted and answered), so later tests' sweeps
    and digests do not find it overdue."""
    if accept:
        assert loop.act("accept", loop.deputy(deputy_id))[0] == 200
    reply = {"action": "reply", "note": "已答复"}
    assert loop.act("triage", loop.deputy(deputy_id), reply)[0] == 200
    drain(loop.api)


def test_an_offer_nobody_accepts_ends_with_staff_and_climbs_to_the_city(api, wechat):
    drain(api)
    openid = wechat.state.openid_for
    deputies = {d: openid(DEPUTY_CODES[d]) for d in HUANGDAO}
    station, district, city = (
        openid("staff-station-05"),
        openid("staff-district-2"),
        openid("staff-city"),
    )
    start = datetime(2025, 11, 3, 9, 0, tzinfo=BEIJING)
    with time_machine.travel(start, tick=True) as clock:
        loop = Loop(
            api,
            station="S05",
            category="greening.tree",
            text="长江路行道树枯死多日无人处理",
            staff="staff-station-05",
        )

        at = partial(_sweep_after, api, clock, start)
        reminders = partial(_reminders, wechat, loop)
        overdue = partial(_overdue, wechat, loop)

        first = loop.candidates()
        assert len(first) == 3 and set(first) <= HUANGDAO

        # The first offer: reminded at 75 % of 24 h, re-offered at 24 h.
        at(19)
        assert sorted(_to(reminders())) == sorted(deputies[d] for d in first)
        at(25)
        view = loop.staff_view()
        assert view["status"] == "offered"
        second = [c["deputy_id"] for c in view["candidates"]][3:]
        assert set(second) == HUANGDAO - set(first)
        assert _types(loop).count("offer_expired") == 1

        # The second offer: reminded, then nobody is left: unmatched, station staff told.
        at(44)
        assert sorted(_to(reminders()[3:])) == sorted(deputies[d] for d in second)
        at(50)
        assert loop.staff_view()["status"] == "unmatched"
        assert _types(loop).count("offer_expired") == 2
        assert _to(wechat_sends(wechat, "tmpl-report-unmatched", loop.id)) == [station]
        assert len(reminders()) == 6 and overdue() == []

        # The assign step of staff (24 h): reminded at 75 %, then the overdue ladder.
        at(69)
        assert _to(reminders()[6:]) == [station]
        assert _field(reminders()[6], "thing2") == "分派代表"
        assert _types(loop)[-1] == "reminded"
        assert overdue() == []

        at(75)
        assert _to(overdue()) == [station]
        assert _types(loop)[-1] == "overdue"

        at(99 + 1 / 60)
        assert _to(overdue()) == [station, district]

        at(123 + 1 / 60)
        assert _to(overdue()) == [station, district, city]
        notes = [e["note"] for e in _timeline(loop) if e["type"] == "overdue"]
        assert len(notes) == 3
        assert "分派代表已超期" in notes[0] and "提级督办" in notes[-1]

        at(24 * 10)
        assert len(overdue()) == 3 and len(reminders()) == 7
        types = _types(loop)
        assert types.count("reminded") == 3 and types.count("overdue") == 3

        # Staff assigning a deputy ends the assign step and starts an offer step.
        staff = loop.api.login("staff-station-05")["token"]
        status, body = loop.act("assign", staff, {"deputy_id": "D01"})
        assert status == 200, body
        assert body["status"] == "offered"
        at(24 * 10 + 19)
        assert _to(reminders()[7:]) == [openid("deputy-01")]
        assert len(overdue()) == 3
        _answer(loop, "D01")


def test_a_first_answer_by_progress_keeps_the_report_on_the_ladder(api, wechat):
    drain(api)
    openid = wechat.state.openid_for
    monday = datetime(2025, 12, 8, 10, 0, tzinfo=BEIJING)
    with time_machine.travel(monday, tick=True) as clock:
        loop = Loop(api, category="municipal.facility", text="小区健身器材损坏")
        deputy_id = loop.candidates()[0]
        deputy = loop.deputy(deputy_id)
        assert loop.act("accept", deputy)[0] == 200
        status, body = loop.act("progress", deputy, {"note": "已到现场查看，正在联系物业"})
        assert status == 200 and body["status"] == "in_progress"

        at = partial(_sweep_at, api, clock)
        reminders = partial(_reminders, wechat, loop)
        overdue = partial(_overdue, wechat, loop)

        # The answer was given: its 24 h deadline passes without a word.
        at(monday + timedelta(hours=30))
        assert reminders() == [] and overdue() == []

        # Handling: WORK_ORDER_DAYS (7) working days, to Wednesday 17 December 23:59.
        at(datetime(2025, 12, 15, 9, 0, tzinfo=BEIJING))
        assert reminders() == []
        at(datetime(2025, 12, 16, 9, 0, tzinfo=BEIJING))
        assert _to(reminders()) == [openid(DEPUTY_CODES[deputy_id])]
        assert _field(reminders()[0], "thing2") == "代表办理"
        assert _field(reminders()[0], "time3") == "2025-12-17 23:59"
        at(datetime(2025, 12, 17, 22, 0, tzinfo=BEIJING))
        assert overdue() == []
        at(datetime(2025, 12, 18, 9, 0, tzinfo=BEIJING))
        assert _to(overdue()) == [openid("staff-station-01")]
        note = [e["note"] for e in _timeline(loop) if e["type"] == "overdue"][0]
        assert "代表办理已超期" in note

        # Resolving ends the step: nothing more climbs.
        assert loop.act("resolve", loop.deputy(deputy_id), {"note": "已更换健身器材"})[0] == 200
        at(datetime(2025, 12, 20, 9, 0, tzinfo=BEIJING))
        assert len(overdue()) == 1
        drain(api)


def test_the_offer_answer_and_assign_windows_come_from_the_settings(api, wechat, monkeypatch):
    monkeypatch.setenv("OFFER_HOURS", "4")
    monkeypatch.setenv("ANSWER_HOURS", "8")
    monkeypatch.setenv("ASSIGN_HOURS", "2")
    drain(api)
    openid = wechat.state.openid_for
    start = datetime(2025, 11, 17, 9, 0, tzinfo=BEIJING)
    with time_machine.travel(start, tick=True) as clock:
        accepted = Loop(api, category="sanitation.garbage", text="垃圾桶满了没人清运")
        offered = Loop(
            api,
            station="S05",
            category="cityscape.ad",
            text="楼道小广告太多",
            staff="staff-station-05",
        )

        at = partial(_sweep_after, api, clock, start)
        reminders = partial(_reminders, wechat)

        # Offers: 4 h, so reminded after 3 h and re-offered after 4 h.
        at(3.1)
        assert len(reminders(accepted)) == 3 and len(reminders(offered)) == 3
        deputy_id = accepted.candidates()[0]
        assert accepted.act("accept", accepted.deputy(deputy_id))[0] == 200
        at(4.1)
        assert offered.staff_view()["status"] == "offered"
        assert _types(offered).count("offer_expired") == 1

        # Nobody takes the second offer (4.1 h + 4 h): unmatched, staff have 2 h to assign.
        at(7.3)
        assert len(reminders(offered)) == 6
        at(8.2)
        assert offered.staff_view()["status"] == "unmatched"
        assert len(reminders(accepted)) == 3

        # The first answer: 8 h from accepting (3.1 h), so reminded after 9.1 h.
        at(9.4)
        assert _to(reminders(accepted)[3:]) == [openid(DEPUTY_CODES[deputy_id])]
        assert _field(reminders(accepted)[3], "thing2") == "首次答复"
        assert len(reminders(offered)) == 6

        at(9.8)
        assert _to(reminders(offered)[6:]) == [openid("staff-station-05")]
        at(10.3)
        overdue = wechat_sends(wechat, "tmpl-report-overdue", offered.id)
        assert _to(overdue) == [openid("staff-station-05")]
        assert wechat_sends(wechat, "tmpl-report-overdue", accepted.id) == []
        _answer(accepted, deputy_id, accept=False)
        staff = offered.api.login("staff-station-05")["token"]
        assert offered.act("assign", staff, {"deputy_id": "D01"})[0] == 200
        _answer(offered, "D01")

"""The overdue ladder over days, driven by a controllable clock and the scheduled sweep."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import time_machine

from chalicelib.clock import utcnow
from chalicelib.workflow.calendar import BEIJING
from tests.workflow_helpers import DEPUTY_CODES, Loop, drain, run_schedule, wechat_sends


def sweep(api) -> dict:
    """Invoke the scheduled due sweep the way EventBridge would."""
    return run_schedule(api, "sweep_due_reports")


def _timeline(loop) -> list[str]:
    return [e["type"] for e in loop.staff_view()["timeline"]]


def test_an_unanswered_task_climbs_the_ladder_rung_by_rung(api, wechat, sms):
    drain(api)
    start = utcnow()
    with time_machine.travel(start, tick=True) as clock:
        loop = Loop(api, category="municipal.manhole", text="井盖丢了，很危险")
        deputy_id = loop.candidates()[0]
        assert loop.act("accept", loop.deputy(deputy_id))[0] == 200

        clock.move_to(start + timedelta(hours=19))
        sweep(api)
        assert len(wechat_sends(wechat, "tmpl-deadline-reminder", loop.id)) == 1
        assert _timeline(loop)[-1] == "reminded"
        assert "reminded" not in [e["type"] for e in loop.read()["timeline"]]

        clock.move_to(start + timedelta(hours=25))
        sweep(api)
        station = wechat.state.openid_for("staff-station-01")
        overdue = wechat_sends(wechat, "tmpl-report-overdue", loop.id)
        assert [c["body"]["touser"] for c in overdue] == [station]

        clock.move_to(start + timedelta(hours=49, minutes=1))
        sweep(api)
        district = wechat.state.openid_for("staff-district-1")
        assert [
            c["body"]["touser"] for c in wechat_sends(wechat, "tmpl-report-overdue", loop.id)
        ] == [
            station,
            district,
        ]

        clock.move_to(start + timedelta(hours=73, minutes=1))
        sweep(api)
        city = wechat.state.openid_for("staff-city")
        assert [
            c["body"]["touser"] for c in wechat_sends(wechat, "tmpl-report-overdue", loop.id)
        ] == [
            station,
            district,
            city,
        ]
        notes = [e["note"] for e in loop.staff_view()["timeline"] if e["type"] == "overdue"]
        assert len(notes) == 3 and "提级督办" in notes[-1]

        clock.move_to(start + timedelta(days=10))
        sweep(api)
        assert len(wechat_sends(wechat, "tmpl-report-overdue", loop.id)) == 3

        status, _ = loop.act("progress", loop.deputy(deputy_id), {"note": "已联系市政维修"})
        assert status == 200


def test_an_offer_nobody_accepts_is_reminded_then_moves_to_the_next_candidates(api, wechat):
    drain(api)
    start = utcnow()
    with time_machine.travel(start, tick=True) as clock:
        loop = Loop(
            api,
            station="S05",
            category="traffic.school",
            text="学校门口接送拥堵",
            staff="staff-district-2",
        )
        first = loop.candidates()
        assert len(first) == 3

        clock.move_to(start + timedelta(hours=19))
        sweep(api)
        assert len(wechat_sends(wechat, "tmpl-deadline-reminder", loop.id)) == 3

        clock.move_to(start + timedelta(hours=25))
        sweep(api)
        view = loop.staff_view()
        assert view["status"] == "offered"
        later = [c["deputy_id"] for c in view["candidates"]][3:]
        assert later and not set(later) & set(first)
        assert _timeline(loop)[-1] == "offer_expired"
        old_task = loop.api.json("GET", "/tasks?status=expired", token=loop.deputy(first[0]))[1]
        assert loop.id in [t["report_id"] for t in old_task["items"]]
        status, answer = loop.act("accept", loop.deputy(first[0]))
        assert status == 409


def test_sweeps_run_twice_or_at_once_tell_nobody_twice(api, wechat):
    drain(api)
    start = utcnow()
    with time_machine.travel(start, tick=True) as clock:
        loop = Loop(api, category="sanitation.toilet", text="公厕没有水")
        assert loop.act("accept", loop.deputy(loop.candidates()[0]))[0] == 200
        clock.move_to(start + timedelta(hours=19))
        # Two sweeps at once, as two Lambda containers would run them (the test client
        # itself is not thread-safe: it patches os.environ around each call).
        from chalicelib.bootstrap import services
        from chalicelib.workflow.jobs import sweep_due_reports

        threads = [threading.Thread(target=sweep_due_reports, args=(services(),)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sweep(api)
        assert len(wechat_sends(wechat, "tmpl-deadline-reminder", loop.id)) == 1
        assert _timeline(loop).count("reminded") == 1


def test_a_work_order_given_before_national_day_is_due_after_the_holiday(api, wechat):
    """2026: 1–7 October are the National Day holiday, 8 October is a working day."""
    drain(api)
    before_holiday = datetime(2026, 9, 30, 10, 0, tzinfo=BEIJING)
    with time_machine.travel(before_holiday, tick=True) as clock:
        loop = Loop(api, category="municipal.road", text="国庆前路面塌陷")
        deputy_id = loop.candidates()[0]
        deputy = loop.deputy(deputy_id)
        loop.act("accept", deputy)
        status, body = loop.act(
            "triage",
            deputy,
            {"action": "transfer", "department_id": "shinan-cg", "deadline_days": 1},
        )
        assert status == 200
        due = datetime.fromisoformat(body["work_order_due"]).astimezone(BEIJING)
        assert due.date().isoformat() == "2026-10-08"

        def at(*moment: int) -> None:
            clock.move_to(datetime(2026, *moment, tzinfo=BEIJING))
            sweep(api)
            sweep(api)

        def sent(template_id: str) -> list[str]:
            return [c["body"]["touser"] for c in wechat_sends(wechat, template_id, loop.id)]

        # In the holiday: one working day has not passed yet, nothing is due.
        at(10, 3, 12, 0)
        assert sent("tmpl-deadline-reminder") == [] and sent("tmpl-report-overdue") == []
        # 75 % of the window (30 September 10:00 → 8 October 23:59) is 6 October 20:30.
        at(10, 7, 9, 0)
        assert sorted(sent("tmpl-deadline-reminder")) == sorted(
            [
                wechat.state.openid_for(DEPUTY_CODES[deputy_id]),
                wechat.state.openid_for("handler-01"),
            ]
        )
        at(10, 8, 20, 0)
        assert sent("tmpl-report-overdue") == []
        assert "overdue" not in _timeline(loop)
        # The first working day after the holiday has ended: overdue, station staff told.
        at(10, 9, 9, 0)
        assert sent("tmpl-report-overdue") == [wechat.state.openid_for("staff-station-01")]
        assert _timeline(loop).count("overdue") == 1
        drain(api)

"""Staff digests on the WeCom emulator, per scope, once per period."""

from __future__ import annotations

from datetime import datetime

import time_machine

from chalicelib.workflow.calendar import BEIJING
from tests.api.test_ladder_api import sweep
from tests.workflow_helpers import Loop, drain, run_schedule


def test_daily_and_weekly_digests_per_scope_sent_once(api, wechat, wecom_env):
    wecom = wecom_env
    drain(api)  # queue messages older than SQS retention would be dropped by the time travel
    day_one = datetime(2027, 3, 1, 10, 0, tzinfo=BEIJING)
    with time_machine.travel(day_one, tick=True) as clock:
        late = Loop(
            api,
            station="S06",
            category="municipal.drainage",
            text="雨后积水严重",
            staff="staff-district-2",
        )
        late_deputy = late.candidates()[0]
        assert late.act("accept", late.deputy(late_deputy))[0] == 200
        done = Loop(
            api,
            station="S06",
            category="municipal.streetlight",
            text="路灯闪烁",
            staff="staff-district-2",
        )
        deputy = done.deputy(done.candidates()[0])
        done.act("accept", deputy)
        done.act("triage", deputy, {"action": "reply", "note": "已报修"})
        assert (
            done.act("evaluation", done.citizen, {"result": "satisfied"})[1]["status"] == "closed"
        )

        clock.move_to(datetime(2027, 3, 2, 11, 0, tzinfo=BEIJING))
        sweep(api)
        assert "overdue" in [e["type"] for e in late.staff_view()["timeline"]]

        clock.move_to(datetime(2027, 3, 2, 11, 30, tzinfo=BEIJING))
        first = run_schedule(api, "daily_digest")
        assert first["written"] > 0
        district = [m["content"] for m in wecom.state.messages("robot-huangdao")]
        assert len(district) == 1
        text = district[0]
        assert "黄岛区" in text and "2027-03-01" in text
        assert "新增反映：**2**" in text and "受理：**2**" in text and "办结：**1**" in text
        assert "满意率：100.0%" in text
        assert late.id in text and "最久超期事项" in text
        city = [m["content"] for m in wecom.state.messages("robot-qingdao")]
        assert len(city) == 1 and "新增反映：**2**" in city[0] and "青岛市" in city[0]
        shinan = [m["content"] for m in wecom.state.messages("robot-shinan")]
        assert len(shinan) == 1 and "新增反映：**0**" in shinan[0]
        staff = wechat.state.openid_for("staff-district-2")
        assert any(
            c["body"]["touser"] == staff and c["body"]["template_id"] == "tmpl-staff-digest"
            for c in wechat.state.calls("subscribe_send")
        )

        again = run_schedule(api, "daily_digest")
        assert again["written"] == 0 and again["already_sent"] == first["written"]
        assert len(wecom.state.messages("robot-huangdao")) == 1

        run_schedule(api, "weekly_digest")
        weekly = [m["content"] for m in wecom.state.messages("robot-huangdao")][1:]
        assert len(weekly) == 1 and "周报" in weekly[0] and "新增反映：**2**" in weekly[0]

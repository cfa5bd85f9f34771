"""Staff digests on the WeCom emulator, per scope (city, district, station), once per period."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
import time_machine

from chalicelib.workflow.calendar import BEIJING
from devstack.seed import demo_data
from tests.api.test_ladder_api import sweep
from tests.workflow_helpers import Loop, drain, run_schedule


def _names(kind: str) -> dict[str, str]:
    return {row["id"]: row["name"] for row in demo_data()[kind]}


def test_daily_and_weekly_digests_per_scope_sent_once(api, wechat, wecom_env):
    wecom = wecom_env
    drain(api)  # queue messages older than SQS retention would be dropped by the time travel
    day_one = datetime(2027, 3, 1, 10, 0, tzinfo=BEIJING)
    with time_machine.travel(day_one, tick=True) as clock:
        late = Loop(
            api,
            station="S05",
            category="municipal.drainage",
            text="雨后积水严重",
            staff="staff-station-05",
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
        holder = f"{_names('deputies')[late_deputy]}代表"
        assert f"超期 0 天｜{holder}" in text  # the deputy's name, not the id
        station = [m["content"] for m in wecom.state.messages("robot-S05")]
        assert len(station) == 1
        assert "长江路街道人大代表联络站" in station[0] and "2027-03-01" in station[0]
        assert "新增反映：**1**" in station[0] and "受理：**1**" in station[0]
        assert (
            "办结：**0**" in station[0] and '超期未办：<font color="warning">1</font>' in station[0]
        )
        assert f"- {late.id}｜" in station[0] and holder in station[0]
        assert done.id not in station[0]
        other_station = [m["content"] for m in wecom.state.messages("robot-S01")]
        assert len(other_station) == 1 and "八大关街道人大代表联络站" in other_station[0]
        assert "新增反映：**0**" in other_station[0] and late.id not in other_station[0]
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
        assert len(wecom.state.messages("robot-S05")) == 1

        run_schedule(api, "weekly_digest")
        weekly = [m["content"] for m in wecom.state.messages("robot-huangdao")][1:]
        assert len(weekly) == 1 and "周报" in weekly[0] and "新增反映：**2**" in weekly[0]


@pytest.fixture
def quiet_district(env):
    """A district of its own (far from the demo) with two stations: A has a robot, B's 25
    overdue reports are older than A's 6. Removed afterwards, so later digests never see it."""
    from chalicelib.stations.directory import geo_fields
    from chalicelib.store.models import ReportModel, ScopeModel, StationModel

    suffix = uuid.uuid4().hex[:8]
    district, station_a, station_b = f"qd-{suffix}", f"QA-{suffix}", f"QB-{suffix}"
    station = StationModel(
        station_a,
        name="测试联络站",
        address="测试路1号",
        lat=-45.0,
        lng=-170.0,
        district_id=district,
        city_id=f"qc-{suffix}",
        **geo_fields(-45.0, -170.0),
    )
    station.save()
    scope = ScopeModel(
        "station",
        station_a,
        name="测试联络站",
        parent=f"district:{district}",
        wecom_key=f"robot-{station_a}",
    )
    scope.save()
    reports = []
    for n, (where, month) in enumerate([(station_b, 1)] * 25 + [(station_a, 2)] * 6):
        report = ReportModel(
            f"{where}-{n:02d}",
            reporter_id="u-test",
            created_at="2026-01-01T00:00:00.000000+00:00",
            updated_at="2026-01-01T00:00:00.000000+00:00",
            status="in_progress" if n % 2 else "accepted",
            category="municipal.streetlight",
            text="路灯不亮",
            station_id=where,
            district_id=district,
            accepted_by="D09",
            department_id="huangdao-cg" if n % 2 else None,
            overdue_district=district,
            overdue_since=f"2026-{month:02d}-01T00:{n:02d}:00.000000+00:00",
        )
        report.save()
        reports.append(report)
    yield {"district": district, "station": station_a, "reports": reports}
    for report in reports:
        report.delete()
    scope.delete()
    station.delete()


def test_a_station_digest_lists_its_oldest_overdue_and_the_period_notice_failures(
    api, wechat, wecom_env, quiet_district, monkeypatch
):
    from chalicelib.bootstrap import services
    from chalicelib.notify.delivery import deliver
    from chalicelib.notify.outbox import Notice, Recipient, Scope, outbox_items

    area = quiet_district
    scope = Scope(station_id=area["station"], district_id=area["district"])

    def notice(code: str) -> str:
        staff = Recipient("staff", code, openid=wechat.state.openid_for(code))
        values = {"scope_name": "测试联络站", "summary": "新增0", "period": code}
        [item] = outbox_items(
            f"digest:test:{code}",
            staff,
            Notice("staff_digest", {**values, "report_id": code}),
            scope,
            channels=("wechat",),
        )
        item.save()
        return item.id

    today = datetime.now(BEIJING).replace(hour=12, minute=0, second=0, microsecond=0)
    drain(api)
    with time_machine.travel(today - timedelta(days=3), tick=True):  # before the period
        wechat.state.inject("subscribe_send", errcode=40037)
        assert deliver(services(), notice(f"old-{uuid.uuid4().hex}")) == "failed"
    with time_machine.travel(today - timedelta(days=1), tick=True):  # yesterday: the period
        wechat.state.inject("subscribe_send", errcode=40037)
        assert deliver(services(), notice(f"new-{uuid.uuid4().hex}")) == "failed"
        monkeypatch.setenv("WECHAT_TIMEOUT_SECONDS", "0.5")
        wechat.state.inject("subscribe_send", delay_seconds=1.5)
        assert deliver(services(), notice(f"slow-{uuid.uuid4().hex}")) == "unconfirmed"
    monkeypatch.delenv("WECHAT_TIMEOUT_SECONDS")

    run_schedule(api, "daily_digest")

    [message] = wecom_env.state.messages(f"robot-{area['station']}")
    text = message["content"]
    assert "测试联络站" in text
    assert "发送失败的通知：1　未确认送达的通知：1" in text
    assert '超期未办：<font color="warning">6</font>' in text
    ours = [r for r in area["reports"] if r.station_id == area["station"]]
    listed = [line.split("｜")[0].removeprefix("- ") for line in text.splitlines()]
    assert [r.id for r in ours[:5]] == [i for i in listed if i.startswith(area["station"])]
    assert not any(r.station_id != area["station"] and r.id in text for r in area["reports"])
    deputy = _names("deputies")["D09"]
    department = _names("departments")["huangdao-cg"]
    assert f"｜{deputy}代表／{department}" in text and f"｜{deputy}代表\n" in text
    assert "D09" not in text and "huangdao-cg" not in text

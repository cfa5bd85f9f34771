"""Handlers list their department's work orders (GET /tasks); a transfer to a department
with no handler warns the staff who assign reports."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
import time_machine

from chalicelib.auth.users import grant_role
from chalicelib.store.models import DepartmentModel
from chalicelib.workflow.calendar import BEIJING
from tests.workflow_helpers import Loop, drain, wechat_sends

# A Tuesday without holidays around it: 1 working day ends Wednesday 23:59 Beijing.
START = datetime(2026, 11, 10, 10, 0, tzinfo=BEIJING)


@pytest.fixture(autouse=True)
def _drained(api):
    """Notices other tests left queued reach nobody during this one."""
    drain(api)


def _department() -> str:
    department_id = f"dep-{uuid.uuid4().hex[:8]}"
    DepartmentModel(
        department_id, name="测试承办局", district_id="shinan", city_id="qingdao", categories=[]
    ).save()
    return department_id


def _handler(api, department_id: str) -> str:
    """A handler of the department (as `python -m chalicelib.admin grant` binds one)."""
    code = f"handler-{uuid.uuid4().hex[:8]}"
    grant_role(api.login(code)["user"]["id"], "handler", department_id=department_id)
    return code


def _transferred(api, department_id: str, days: int) -> Loop:
    loop = Loop(api, category="municipal.road", text="路面塌陷")
    deputy = loop.deputy(loop.candidates()[0])
    assert loop.act("accept", deputy)[0] == 200
    status, body = loop.act(
        "triage",
        deputy,
        {"action": "transfer", "department_id": department_id, "deadline_days": days},
    )
    assert status == 200, body
    return loop


def _orders(api, code: str, query: str = "") -> dict:
    status, body = api.json("GET", f"/tasks{query}", token=api.login(code)["token"])
    assert status == 200, body
    return body


def test_open_orders_first_by_deadline_then_done_ones(api, wechat, sms):
    drain(api)  # what other tests left is handled in their time
    with time_machine.travel(START, tick=True) as clock:
        department = _department()
        handler = _handler(api, department)
        assert _orders(api, handler) == {
            "items": [],
            "next_cursor": None,
            "counts": {"open": 0, "overdue": 0},
        }
        later = _transferred(api, department, days=10)
        sooner = _transferred(api, department, days=1)
        answer = _orders(api, handler)
        assert [row["report_id"] for row in answer["items"]] == [sooner.id, later.id]
        first = answer["items"][0]
        assert first["open"] and not first["overdue"] and first["status"] == "in_progress"
        assert first["deadline"].startswith("2026-11-11T15:59:59")  # 23:59:59 Beijing
        assert first["category_name"] == "道路破损" and first["excerpt"] == "路面塌陷"
        assert first["station_name"] == "八大关街道人大代表联络站" and first["transferred_at"]
        assert answer["counts"] == {"open": 2, "overdue": 0}

        clock.move_to(START + timedelta(days=3))
        answer = _orders(api, handler)
        assert [row["overdue"] for row in answer["items"]] == [True, False]
        assert answer["counts"] == {"open": 2, "overdue": 1}

        token = api.login(handler)["token"]
        status, body = api.json(
            "POST", f"/reports/{later.id}/resolve", {"note": "已修复路面"}, token=token
        )
        assert status == 200, body
        answer = _orders(api, handler)
        assert [(row["report_id"], row["open"]) for row in answer["items"]] == [
            (sooner.id, True),
            (later.id, False),
        ]
        assert answer["items"][1]["overdue"] is False
        assert answer["counts"] == {"open": 1, "overdue": 1}
        assert [r["report_id"] for r in _orders(api, handler, "?status=done")["items"]] == [
            later.id
        ]
        assert [r["report_id"] for r in _orders(api, handler, "?status=open")["items"]] == [
            sooner.id
        ]

        seen, cursor = [], None
        for _ in range(5):
            page = _orders(api, handler, "?limit=1" + (f"&cursor={cursor}" if cursor else ""))
            assert len(page["items"]) <= 1
            seen += [row["report_id"] for row in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [sooner.id, later.id]
        drain(api)  # nothing sent at the travelled time is left for later tests


def test_a_deputy_who_is_no_handler_still_gets_tasks(api):
    status, body = api.json("GET", "/tasks", token=api.login("deputy-01")["token"])
    assert status == 200 and "counts" in body and "next_cursor" not in body


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=offered", "status"),
        ("?status=", "status"),
        ("?limit=0", "limit"),
        ("?limit=51", "limit"),
        ("?cursor=bm9wZQ", "cursor"),
        ("?cursor=" + "x" * 3000, "cursor"),
    ],
)
def test_bad_queries_of_a_handler_are_422_naming_the_field(api, query, field):
    status, body = api.json("GET", f"/tasks{query}", token=api.login("handler-01")["token"])
    assert status == 422 and body["error"]["field"] == field


def test_another_departments_cursor_is_refused(api):
    department = _department()
    handler = _handler(api, department)
    _transferred(api, department, days=3)
    _transferred(api, department, days=4)
    cursor = _orders(api, handler, "?limit=1")["next_cursor"]
    assert cursor
    status, body = api.json(
        "GET", f"/tasks?cursor={cursor}", token=api.login("handler-01")["token"]
    )
    assert status == 422 and body["error"]["field"] == "cursor"


def test_who_may_list(api):
    citizen = api.login()["token"]
    status, body = api.json("GET", "/tasks", token=citizen)
    assert status == 403 and body["error"]["code"] == "forbidden_role"
    code = f"handler-{uuid.uuid4().hex[:8]}"
    grant_role(api.login(code)["user"]["id"], "handler")  # no department bound
    status, body = api.json("GET", "/tasks", token=api.login(code)["token"])
    assert status == 403 and body["error"]["code"] == "no_department"


def test_a_transfer_to_a_department_without_handlers_warns_station_staff(api, wechat, sms):
    wechat.state.clear_calls()
    loop = _transferred(api, _department(), days=5)
    station_staff = wechat.state.openid_for("staff-station-01")
    warned = wechat_sends(wechat, "tmpl-work-order-unstaffed", loop.id)
    assert [c["body"]["touser"] for c in warned] == [station_staff]
    assert warned[0]["body"]["data"]["thing2"]["value"] == "测试承办局"
    assert wechat_sends(wechat, "tmpl-work-order", loop.id) == []


def test_a_transfer_to_a_staffed_department_reaches_its_handler_only(api, wechat, sms):
    wechat.state.clear_calls()
    department = _department()
    handler = _handler(api, department)
    loop = _transferred(api, department, days=5)
    sent = wechat_sends(wechat, "tmpl-work-order", loop.id)
    assert [c["body"]["touser"] for c in sent] == [wechat.state.openid_for(handler)]
    assert wechat_sends(wechat, "tmpl-work-order-unstaffed", loop.id) == []

"""Staff and handlers on the phone, in the browser build: station staff approve a report the
content check held for review, and it is offered to the station's deputies; a department's
handler finds the work order a deputy handed over, adds progress and resolves it."""

from __future__ import annotations

import time
import uuid

import requests

from tests.browser.flows import Person

HELD_TEXT = "长江中路216号门前井盖缺失多日，居民说要去上访，请尽快处理"


class ApiUser:
    """Someone using the API directly (what the other side of the loop does meanwhile)."""

    def __init__(self, api: str, code: str) -> None:
        self.api = api
        answer = requests.post(f"{api}/auth/login", json={"code": code}, timeout=10)
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["token"]

    def call(self, method: str, path: str, body: dict | None = None, **headers) -> dict:
        answer = requests.request(
            method,
            f"{self.api}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}", **headers},
            timeout=10,
        )
        assert answer.status_code < 300, (path, answer.status_code, answer.text)
        return answer.json()

    def wait_for(self, report_id: str, condition, timeout: float = 30) -> dict:
        """The report once `condition(report)` holds (the queue worker matches meanwhile)."""
        deadline = time.monotonic() + timeout
        while True:
            report = self.call("GET", f"/reports/{report_id}")
            if condition(report) or time.monotonic() > deadline:
                return report
            time.sleep(0.3)


def held_report(api: str) -> tuple[ApiUser, str]:
    citizen = ApiUser(api, f"citizen-browser-held-{uuid.uuid4().hex[:8]}")
    body = {"station_id": "S05", "category": "municipal.road", "text": HELD_TEXT}
    report = citizen.call("POST", "/reports", body, **{"Idempotency-Key": uuid.uuid4().hex})
    assert report["moderation"] == "review", report
    return citizen, report["id"]


def test_station_staff_approve_a_held_report_and_a_handler_resolves_its_work_order(
    browser_stack, phone
):
    citizen, report_id = held_report(browser_stack["api"])

    staff = Person(phone(), "staff")
    staff.page.goto(f"{browser_stack['h5']}#/pages-staff/home/home")
    staff.log_in_on_wechat_page("staff-station-05")
    staff.page.locator("[data-test=stats]").wait_for()
    staff.shot("01-home")
    staff.tap("[data-test=open-review]")
    row = staff.page.locator(f'[data-test=review-row][data-id="{report_id}"]')
    row.wait_for()
    staff.shot("02-review-list")
    row.click()
    sheet = staff.page.locator("[data-test=action-sheet]")
    sheet.get_by_text("井盖缺失").wait_for()  # the whole report, not only its excerpt
    staff.shot("03-review-sheet")
    staff.tap("[data-test=sheet-submit]")
    row.wait_for(state="detached")
    offered = citizen.wait_for(report_id, lambda r: r["status"] == "offered")
    assert offered["status"] == "offered" and offered["moderation"] == "pass", offered

    deputy = next(
        user
        for user in (ApiUser(browser_stack["api"], c) for c in ("deputy-09", "deputy-10"))
        if any(
            t["report_id"] == report_id for t in user.call("GET", "/tasks?status=offered")["items"]
        )
    )
    deputy.call("POST", f"/reports/{report_id}/accept", {})
    deputy.call(
        "POST",
        f"/reports/{report_id}/triage",
        {"action": "transfer", "department_id": "huangdao-cg", "deadline_days": 5},
    )

    handler = Person(phone(), "handler")
    handler.page.goto(f"{browser_stack['h5']}#/pages-staff/orders/orders")
    handler.log_in_on_wechat_page("handler-02")
    order = handler.page.locator(f'[data-test=order-row][data-id="{report_id}"]')
    order.wait_for()
    handler.shot("01-orders")
    order.click()
    handler.page.locator("[data-test=order-deadline]").wait_for()
    handler.tap("[data-test=action-progress]")
    handler.page.locator("[data-test=input-note] textarea").fill("已派人到现场，临时围挡已设置")
    handler.tap("[data-test=sheet-submit]")
    handler.page.get_by_text("临时围挡已设置").first.wait_for()
    handler.tap("[data-test=action-resolve]")
    handler.page.locator("[data-test=input-note] textarea").fill("井盖已补装")
    handler.tap("[data-test=sheet-submit]")
    handler.page.locator("[data-test=state-hint]").wait_for()
    handler.shot("02-resolved")

    resolved = citizen.wait_for(report_id, lambda r: r["status"] == "resolved")
    assert resolved["status"] == "resolved", resolved
    notes = [step.get("note") for step in resolved["timeline"]]
    assert "已派人到现场，临时围挡已设置" in notes and "井盖已补装" in notes

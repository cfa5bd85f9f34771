"""The whole loop as people do it in the browser build: a citizen scans S01's code, logs in
on WeChat's page and sends a report with a photo (its first answer lost on the way back);
deputy-01 follows the SMS link, accepts, reports progress with a photo and resolves; the
citizen answers unsatisfied, the deputy resolves again, the citizen is satisfied: closed."""

from __future__ import annotations

import re

import pytest
import requests

from tests.browser.flows import Person, attach_photo, photo_file, wait_for_sms, wait_until_seen

TEXT = "八大关小区门口每天晚上都有车停在人行道上，老人推车只能走机动车道"
D01_PHONE = "13900000001"
MAX_SCREENS = 3
MAX_TAPS = 8


@pytest.fixture(scope="module")
def loop(chromium):
    """What the two tests share: the citizen's phone (kept open) and the report sent."""
    context = chromium.new_context(
        viewport={"width": 375, "height": 812},
        device_scale_factor=2,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(15000)
    state = {"citizen": Person(context.new_page(), "citizen")}
    yield state
    context.close()


def step_types(page) -> list[str]:
    steps = page.locator("[data-test=timeline-step]")
    steps.first.wait_for()
    return [steps.nth(i).get_attribute("data-type") for i in range(steps.count())]


def api_report(browser_stack, page, report_id: str) -> dict:
    """The report as the API gives it to the person logged in on `page`."""
    token = page.evaluate("() => JSON.parse(localStorage.getItem('ssp.session')).data.token")
    answer = requests.get(
        f"{browser_stack['api']}/reports/{report_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_citizen_sends_a_report_from_the_scan_once_despite_a_lost_answer(
    browser_stack, api_proxy, loop, tmp_path
):
    citizen = loop["citizen"]
    page = citizen.page
    page.goto(browser_stack["scan_s01"])
    page.wait_for_url(re.compile(r".*/connect/oauth2/authorize.*"))
    citizen.shot("01-wechat-login")
    citizen.log_in_on_wechat_page("citizen-browser-loop")

    page.locator("[data-test=station-name]").wait_for()
    assert "八大关" in page.locator("[data-test=station-name]").inner_text()
    page.locator("[data-test=category-group]").first.wait_for()
    citizen.shot("01-report-opened")
    citizen.tap("[data-test=category-group][data-code=traffic]")
    citizen.tap('[data-test=category-leaf][data-code="traffic.parking"]')
    citizen.tap("[data-test=report-text] textarea")
    page.locator("[data-test=report-text] textarea").fill(TEXT)
    attach_photo(citizen, photo_file(tmp_path), consent=True)
    citizen.shot("02-report-filled")

    before = len(api_proxy.requests("POST", "/reports"))
    api_proxy.drop_next_answer("POST", "/reports")
    citizen.tap("[data-test=submit]")
    assert "内容已保存" in wait_until_seen(page.locator("[data-test=submit-banner]"))
    citizen.shot("03-answer-lost")

    citizen.tap("[data-test=submit]")  # the tap again: the one the lost answer costs
    page.wait_for_url(re.compile(r".*#/pages/detail/detail\?id=.+&new=1"))
    report_id = re.search(r"[?&]id=([^&]+)", page.url).group(1)
    page.locator("[data-test=detail-new]").wait_for()
    page.locator("[data-test=detail-report]").wait_for()
    citizen.shot("04-sent")
    navigations, taps_to_sent = list(citizen.screens), citizen.taps - 1

    posts = api_proxy.requests("POST", "/reports")[before:]
    assert [p["dropped"] for p in posts] == [True, False], posts
    assert posts[0]["idempotency_key"] == posts[1]["idempotency_key"]
    assert posts[0]["status"] == 201 and posts[1]["replayed"] == "true", posts
    report = api_report(browser_stack, page, report_id)
    assert report["text"] == TEXT and report["category"] == "traffic.parking"
    assert len(report["photos"]) == 1

    # the one report, in "my reports", with its timeline
    citizen.tap("text=查看我的反映")
    rows = page.locator("[data-test=mine-row]")
    rows.first.wait_for()
    assert rows.count() == 1
    assert rows.first.get_attribute("data-id") == report_id
    citizen.shot("05-mine")
    citizen.tap("[data-test=mine-row]")
    page.wait_for_url(re.compile(r".*#/pages/detail/detail\?id="))
    assert step_types(page)[-1] == "submitted"
    citizen.shot("06-timeline")

    screens = list(dict.fromkeys(navigations))
    print(
        f"\nscan to sent: {len(screens)} screens {screens} (navigations {navigations}), "
        f"{taps_to_sent} taps with one photo (+1 tap again after the lost answer)"
    )
    assert len(screens) <= MAX_SCREENS, navigations
    assert taps_to_sent <= MAX_TAPS
    loop["report_id"] = report_id


def test_deputy_handles_it_twice_and_the_citizen_closes_it(browser_stack, phone, loop, tmp_path):
    report_id = loop.get("report_id")
    if not report_id:
        pytest.fail("the citizen's report was not sent (see the test before)")
    citizen = loop["citizen"]
    deputy = Person(phone(), "deputy")
    page = deputy.page

    # the offer reaches deputy-01 by SMS, with a link to the task page
    sms = wait_for_sms(browser_stack["sms"], D01_PHONE, r"待接单，点击 http\S+", about=report_id)
    link = sms.split("点击 ")[1]
    page.goto(link)
    deputy.log_in_on_wechat_page("deputy-01")
    assert f"#/pages-deputy/task/task?id={report_id}" in page.url
    page.locator("[data-test=accept]").wait_for()
    assert TEXT in page.locator("[data-test=report-summary]").inner_text()
    deputy.shot("01-offer")

    deputy.tap("[data-test=accept]")
    page.locator("[data-test=action-progress]").wait_for()
    deputy.shot("02-accepted")
    see_step(citizen, "accepted")

    deputy.tap("[data-test=action-progress]")
    deputy.tap("[data-test=input-note] textarea")
    page.locator("[data-test=input-note] textarea").fill("已到现场查看，已联系物业和交警")
    attach_photo(deputy, photo_file(tmp_path, "progress.jpg"), consent=True)
    deputy.shot("03-progress-sheet")
    submit_sheet(deputy, "提交进展")
    deputy.shot("04-progress-added")
    step = see_step(citizen, "progress")
    assert step.locator("[data-test=timeline-photo]").count() == 1
    assert "已到现场查看" in step.inner_text()

    resolve(deputy, "已施划禁停线，物业安排夜间巡查")
    deputy.shot("05-resolved")
    see_step(citizen, "resolved")
    evaluate(citizen, "unsatisfied", "晚上还是有车停在人行道上")
    citizen.shot("08-unsatisfied")

    page.reload()
    page.locator("[data-test=second-round]").wait_for()
    assert "晚上还是有车" in page.locator("[data-test=second-round]").inner_text()
    deputy.shot("06-second-round")
    resolve(deputy, "已加装隔离桩")
    see_step(citizen, "resolved")
    evaluate(citizen, "satisfied", "")
    status = citizen.page.locator("[data-test=detail-status]").filter(has_text="已关闭")
    wait_until_seen(status)  # back at the top: the new status, the newest step
    verdicts = citizen.page.locator('[data-test=timeline-step][data-type="evaluated"]')
    assert verdicts.count() == 2
    assert "满意" in verdicts.first.inner_text() and "不满意" in verdicts.last.inner_text()
    citizen.shot("09-closed")
    citizen.page.locator(".uni-toast").wait_for(state="hidden")
    citizen.shot("10-closed-timeline")  # the README's picture of a timeline

    page.reload()
    assert "关闭" in page.locator("[data-test=state-hint]").inner_text()
    deputy.shot("07-closed")
    report = api_report(browser_stack, citizen.page, report_id)
    assert report["status"] == "closed"
    assert [e["result"] for e in report["evaluations"]] == ["unsatisfied", "satisfied"]


def see_step(person: Person, step_type: str):
    """The citizen reloads the report's page (the step was stored before the deputy's page
    showed it done) and sees the step on the timeline."""
    page = person.page
    page.reload()
    page.locator("[data-test=detail-report]").wait_for()
    person.shot(f"timeline-{step_type}")
    step = page.locator(f'[data-test=timeline-step][data-type="{step_type}"]').first
    step.wait_for(timeout=2000)
    return step


def submit_sheet(person: Person, label: str) -> None:
    sheet = person.page.locator("[data-test=action-sheet]")
    button = sheet.locator("[data-test=sheet-submit]")
    assert button.inner_text().strip() == label
    person.tap("[data-test=sheet-submit]")
    sheet.wait_for(state="detached")


def resolve(deputy: Person, note: str) -> None:
    page = deputy.page
    deputy.tap("[data-test=action-resolve]")
    deputy.tap("[data-test=input-note] textarea")
    page.locator("[data-test=input-note] textarea").fill(note)
    submit_sheet(deputy, "确认办结")
    page.locator("[data-test=state-hint]").wait_for()
    assert "等待群众评价" in page.locator("[data-test=state-hint]").inner_text()


def evaluate(citizen: Person, result: str, comment: str) -> None:
    page = citizen.page
    citizen.tap(f"[data-test=evaluate-{result}]")
    if comment:
        citizen.tap("[data-test=evaluate-comment] textarea")
        page.locator("[data-test=evaluate-comment] textarea").fill(comment)
    citizen.tap_text("提交评价")
    page.locator("[data-test=evaluate]").wait_for(state="detached")

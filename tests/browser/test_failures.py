"""What goes wrong for a citizen on the report page, in the browser build: risky text is
refused at the text field with the server's words; photos past the limit are refused with a
message; with the API unreachable the send fails with a message and the draft survives a
reload, and once the API is back the same draft is sent."""

from __future__ import annotations

import re

from tests.browser.flows import (
    Person,
    attach_photo,
    open_report_page,
    photo_file,
    wait_until_seen,
)

STREETLIGHT = '[data-test=category-leaf][data-code="municipal.streetlight"]'


def choose_streetlight(person: Person) -> None:
    person.tap("[data-test=category-group][data-code=municipal]")
    person.tap(STREETLIGHT)
    person.page.locator("[data-test=category-chosen]").wait_for()


def type_text(person: Person, text: str) -> None:
    person.tap("[data-test=report-text] textarea")
    person.page.locator("[data-test=report-text] textarea").fill(text)


def test_risky_text_is_refused_at_the_text_field(browser_stack, api_proxy, phone):
    citizen = Person(phone(), "risky")
    page = citizen.page
    open_report_page(citizen, browser_stack["scan_s01"], "citizen-browser-risky")
    choose_streetlight(citizen)
    type_text(citizen, "汇泉路路口晚上有人聚众赌博，路灯也不亮")
    citizen.tap("[data-test=submit]")

    error = page.locator("[data-test=error-text]")
    assert wait_until_seen(error) == "反映内容包含违规信息，请修改后再提交"
    assert page.locator("[data-test=report-text].is-error").count() == 1
    assert [r["status"] for r in api_proxy.requests("POST", "/reports")][-1] == 422
    assert "/pages/report/report" in page.url
    citizen.shot("01-risky-text")

    # the person rewrites it: the message goes at the first keystroke
    type_text(citizen, "汇泉路路口的路灯晚上不亮")
    error.wait_for(state="detached")


def test_photos_past_the_limit_are_refused_with_a_message(browser_stack, phone, tmp_path):
    citizen = Person(phone(), "photos")
    page = citizen.page
    open_report_page(citizen, browser_stack["scan_s01"], "citizen-browser-photos")
    files = [str(photo_file(tmp_path, f"p{i}.jpg")) for i in range(10)]
    with page.expect_file_chooser() as chooser:
        citizen.tap("[data-test=photo-add]")
        citizen.tap_text("同意并继续")
    chooser.value.set_files(files)

    message = page.locator("[data-test=photo-message]")
    assert wait_until_seen(message) == "最多只能添加 9 张照片，已忽略多出的 1 张"
    done = page.locator("[data-test=photo-item][data-state=done]")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-test=photo-item][data-state=done]').length === 9"
    )
    assert page.locator("[data-test=photo-item]").count() == done.count() == 9
    assert page.locator("[data-test=photo-add]").count() == 0  # no room for a tenth
    wait_until_seen(message)  # still in sight with nine photos in the grid
    citizen.shot("01-photos-over-limit")


def test_api_down_keeps_the_draft_and_sends_it_when_back(browser_stack, api_proxy, phone, tmp_path):
    citizen = Person(phone(), "offline")
    page = citizen.page
    # at a Huangdao station: S01's deputies get their offers from the loop's report alone
    # (an SMS to the same number within 30 s waits for the carrier's limit)
    scan_s05 = browser_stack["scan_s01"].replace("scene=S01", "scene=S05")
    open_report_page(citizen, scan_s05, "citizen-browser-offline")
    choose_streetlight(citizen)
    text = "湛山二路公交站旁的路灯一直闪，晚上看不清台阶"
    type_text(citizen, text)
    attach_photo(citizen, photo_file(tmp_path), consent=True)

    api_proxy.down = True
    try:
        citizen.tap("[data-test=submit]")
        banner = wait_until_seen(page.locator("[data-test=submit-banner]"))
        assert "提交失败" in banner and "内容已保存" in banner
        citizen.shot("01-api-down")

        page.reload()
        page.locator("[data-test=report-text] textarea").wait_for()
        citizen.shot("02-reloaded-offline")
        assert page.locator("[data-test=report-text] textarea").input_value() == text
        assert page.locator("[data-test=category-chosen]").inner_text().startswith("路灯")
        assert page.locator("[data-test=photo-item][data-state=done]").count() == 1
    finally:
        api_proxy.down = False

    sent_before = len(api_proxy.requests("POST", "/reports"))
    citizen.tap("[data-test=submit]")
    page.wait_for_url(re.compile(r".*#/pages/detail/detail\?id=.+&new=1"))
    page.locator("[data-test=detail-report]").wait_for()
    assert page.locator("[data-test=detail-text]").inner_text() == text
    citizen.shot("03-sent-when-back")
    posts = api_proxy.requests("POST", "/reports")[sent_before:]
    assert [p["status"] for p in posts] == [201], posts

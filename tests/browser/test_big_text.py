"""Elderly mode (适老化) in the browser build: with 大字模式 on (1.5x text) the report page
fits the phone's width and every button stays a comfortable target (>= 44 px tall), with
the category steps open, a photo in the grid and the privacy popup up."""

from __future__ import annotations

import json

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.browser.flows import Person, open_report_page, photo_file, wait_until_seen

MIN_TARGET = 44

LAYOUT_JS = """() => {
    const root = document.documentElement
    const visible = (el) => {
        const r = el.getBoundingClientRect()
        const style = getComputedStyle(el)
        return r.width > 0 && r.height > 0 && style.visibility !== 'hidden'
            && style.display !== 'none'
    }
    const buttons = [...document.querySelectorAll('uni-button, button')].filter(visible)
    const wide = [...document.querySelectorAll('uni-page-body *')].filter(
        (el) => visible(el) && el.getBoundingClientRect().right > root.clientWidth + 0.5)
    return {
        scrollWidth: root.scrollWidth,
        clientWidth: root.clientWidth,
        fontSize: parseFloat(getComputedStyle(document.querySelector('.ssp-page')).fontSize),
        buttons: buttons.map((el) => ({
            text: el.innerText.trim().slice(0, 20),
            height: Math.round(el.getBoundingClientRect().height * 10) / 10,
        })),
        wide: wide.slice(0, 5).map((el) => el.className || el.tagName),
    }
}"""


def layout(person: Person) -> dict:
    return person.page.evaluate(LAYOUT_JS)


def assert_fits(person: Person, where: str) -> dict:
    seen = layout(person)
    assert seen["scrollWidth"] <= seen["clientWidth"], (where, seen["wide"])
    assert not seen["wide"], (where, seen["wide"])
    small = [b for b in seen["buttons"] if b["height"] < MIN_TARGET]
    assert not small, (where, small)
    assert seen["buttons"], where
    return seen


def test_big_text_report_page_fits_and_keeps_large_targets(browser_stack, phone, tmp_path):
    citizen = Person(phone(), "bigtext")
    page = citizen.page
    open_report_page(citizen, browser_stack["scan_s01"], "citizen-browser-bigtext")
    assert layout(citizen)["fontSize"] == 16

    citizen.tap_text("我的")
    switch = page.locator("[data-test=me-big-text]")
    citizen.tap("[data-test=me-big-text]")
    page.wait_for_function(
        "() => parseFloat(getComputedStyle(document.querySelector('.ssp-page')).fontSize) >= 24"
    )
    assert switch.locator("uni-switch .uni-switch-input-checked").count() == 1
    assert_fits(citizen, "me")
    citizen.shot("01-me-big-text")

    citizen.tap_text("随手拍")
    page.locator("[data-test=station-name]").wait_for()
    assert layout(citizen)["fontSize"] == 24
    citizen.tap("[data-test=category-group][data-code=traffic]")
    page.locator("[data-test=category-leaf]").first.wait_for()
    assert_fits(citizen, "report, category steps open")
    citizen.shot("02-report-categories")

    citizen.tap('[data-test=category-leaf][data-code="traffic.parking"]')
    page.locator("[data-test=report-text] textarea").fill("大字模式下写的反映内容，" * 6)
    with page.expect_file_chooser() as chooser:
        citizen.tap("[data-test=photo-add]")
        popup = page.locator("[data-test=privacy-popup]").filter(visible=True)
        wait_until_seen(popup.get_by_text("同意并继续", exact=True))
        assert_fits(citizen, "privacy popup")
        citizen.shot("03-privacy-popup")
        citizen.tap_text("同意并继续")
    chooser.value.set_files(str(photo_file(tmp_path)))
    page.locator("[data-test=photo-item][data-state=done]").wait_for()
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    seen = assert_fits(citizen, "report, filled in")
    citizen.shot("04-report-filled")
    smallest = min(b["height"] for b in seen["buttons"])
    print(f"\nat 1.5x: {len(seen['buttons'])} buttons on the report page, smallest {smallest} px")


def test_the_browsers_font_size_setting_scales_the_report_page(browser_stack, chromium, tmp_path):
    """The browser set to large text (default font size 24 px in its settings, as WeChat's
    fontSizeSetting is in the mini-program): the pages follow without the switch."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    preferences = {"webkit": {"webprefs": {"default_font_size": 24}}}
    (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = chromium.browser_type.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        **PHONE,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    try:
        context.set_default_timeout(15000)
        citizen = Person(context.new_page(), "systemfont")
        page = citizen.page
        page.goto(browser_stack["scan_s01"])
        citizen.log_in_on_wechat_page("citizen-browser-systemfont")
        page.locator("[data-test=station-name]").wait_for()
        citizen.tap("[data-test=category-group][data-code=municipal]")
        page.locator("[data-test=category-leaf]").first.wait_for()
        seen = assert_fits(citizen, "report at the browser's large text")
        assert seen["fontSize"] == 24
        citizen.shot("01-report")
    finally:
        context.close()

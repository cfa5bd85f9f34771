"""Opened without a station (not from a scan): the citizen finds one, with or without a
location, and the report page opens on the station chosen."""

from __future__ import annotations

import re

from tests.browser.flows import Person

# Just by S03 (湛山), a kilometre from the city centre the list falls back to
NEAR_S03 = {"latitude": 36.0641, "longitude": 120.3871}


def open_without_scene(person: Person, browser_stack: dict, identity: str) -> None:
    person.page.goto(f"{browser_stack['h5']}#/pages/report/report")
    person.log_in_on_wechat_page(identity)
    person.tap("[data-test=station-pick]")
    person.page.wait_for_url("**/pages/stations/stations")


def test_without_a_location_the_list_is_there_at_once_and_searchable(browser_stack, phone):
    citizen = Person(phone(), "stations-browse")
    page = citizen.page
    open_without_scene(citizen, browser_stack, "citizen-browser-browse")
    rows = page.locator("[data-test=station-row]")
    rows.first.wait_for()  # listed while the privacy guideline still waits for an answer
    assert rows.count() >= 5
    citizen.tap_text("不同意")
    assert "未同意隐私保护指引" in page.locator("[data-test=stations-mode]").inner_text()
    page.locator("[data-test=station-search] input").fill("黄岛")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-test=station-row]')]"
        ".every(row => row.innerText.includes('黄岛'))"
    )
    assert rows.count() >= 1
    citizen.shot("01-searched")
    rows.first.click()
    page.wait_for_url("**/pages/report/report**")
    page.locator("[data-test=station-name]").wait_for()
    assert "黄岛" in page.locator("[data-test=station-card]").inner_text()


def test_with_a_location_the_nearest_come_first_with_distances(browser_stack, phone):
    page = phone(geolocation=NEAR_S03, permissions=["geolocation"])
    citizen = Person(page, "stations-near")
    open_without_scene(citizen, browser_stack, "citizen-browser-near")
    citizen.tap_text("同意并继续")
    mode = page.locator("[data-test=stations-mode]").filter(has_text="离您最近")
    mode.wait_for()
    first = page.locator("[data-test=station-row]").first
    assert first.get_attribute("data-id") == "S03"
    assert re.search(r"\d+ 米", first.inner_text())
    citizen.shot("01-nearest")
    first.click()
    page.locator("[data-test=station-name]").wait_for()
    assert "湛山" in page.locator("[data-test=station-name]").inner_text()

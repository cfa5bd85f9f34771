"""Staff lists page by cursor: a city's districts merged, a station's filtered, cursors
checked; and openapi.yaml documents the rows the routes return.
"""

from __future__ import annotations

import uuid

import pytest

from tests.staff_helpers import (
    DEPUTY_FIELDS,
    OVERDUE_FIELDS,
    REVIEW_FIELDS,
    UNMATCHED_FIELDS,
    listing,
    make_area,
    plant,
    walk_pages,
)


@pytest.fixture
def area(api, wechat, sms):
    yield from make_area(api)


def test_a_citys_list_merges_its_districts_page_by_page(api, area):
    tag = uuid.uuid4().hex[:6]
    a, b = area.districts["A"], area.districts["B"]
    expected = []
    # Twelve overdue reports over both districts; some share their overdue time, within
    # a district and across districts, so page boundaries fall inside ties.
    for n in range(12):
        if n % 2:
            district, station = a, area.stations["A1"] if n % 3 else area.stations["A2"]
        else:
            district, station = b, area.stations["B1"]
        since = f"2026-02-01T00:{n // 3:02d}:00.000000+00:00"
        report_id = f"R{tag}{n:02d}"
        plant(
            district,
            station,
            report_id,
            due_kind="answer",
            accepted_by=area.deputies["b1"],
            ladder_rung=2,
            step_due_at=since,
            overdue_district=district,
            overdue_since=since,
        )
        expected.append((since, report_id, station))
    city = area.token(api, "city")
    pages = walk_pages(api, city, "overdue", f"city:{area.city}", limit=5)
    assert [len(p) for p in pages] == [5, 5, 2]
    listed = [i for p in pages for i in p]
    assert sorted(listed) == sorted(r for _, r, _ in expected)  # each once
    order = {r: since for since, r, _ in expected}
    assert [order[r] for r in listed] == sorted(order[r] for r in listed)

    a1 = area.stations["A1"]
    pages = walk_pages(api, area.token(api, "A1"), "overdue", f"station:{a1}", limit=2)
    mine = [r for _, r, station in sorted(expected) if station == a1]
    assert [i for p in pages for i in p] == mine and all(len(p) <= 2 for p in pages)

    for n in range(6):
        district = a if n % 2 else b
        since = f"2026-03-0{1 + n // 2}T08:00:00.000000+00:00"
        plant(
            district,
            area.stations["A1"] if district == a else area.stations["B1"],
            f"Q{tag}{n:02d}",
            status="submitted",
            moderation="review",
            queue_key=f"review#{district}",
            queued_at=since,
        )
    pages = walk_pages(api, city, "review", f"city:{area.city}", limit=4)
    assert [len(p) for p in pages] == [4, 2]
    listed = [i for p in pages for i in p]
    assert sorted(listed) == [f"Q{tag}{n:02d}" for n in range(6)]
    assert listed[:2] in ([f"Q{tag}05", f"Q{tag}04"], [f"Q{tag}04", f"Q{tag}05"])
    assert set(listed[-2:]) == {f"Q{tag}00", f"Q{tag}01"}


def test_limits_and_cursors_are_checked(api, area):
    city = area.token(api, "city")
    scope = f"city:{area.city}"
    for limit in ("0", "51", "x"):
        status, body = listing(api, city, "overdue", scope=scope, limit=limit)
        assert status == 422 and body["error"]["field"] == "limit"
    from chalicelib.staff.lists import LISTS, encode_cursor
    from chalicelib.staff.scopes import Area as Scope

    other = encode_cursor(LISTS["overdue"], Scope("district", area.districts["A"]), {})
    wrong_list = encode_cursor(LISTS["review"], Scope("city", area.city), {})
    foreign = encode_cursor(LISTS["overdue"], Scope("city", area.city), {"shinan": None})
    for cursor in ("garbage", "e30", other, wrong_list, foreign):
        status, body = listing(api, city, "overdue", scope=scope, cursor=cursor)
        assert status == 422 and body["error"]["field"] == "cursor", cursor
    done = encode_cursor(
        LISTS["overdue"], Scope("city", area.city), dict.fromkeys(area.districts.values())
    )
    status, body = listing(api, city, "overdue", scope=scope, cursor=done)
    assert status == 200 and body["items"] == [] and body["next_cursor"] is None


def test_openapi_documents_the_rows_and_limits_the_code_has():
    from pathlib import Path

    import yaml

    from chalicelib.staff import lists
    from chalicelib.workflow.states import STATE_NAMES

    spec = yaml.safe_load((Path(__file__).parents[2] / "openapi.yaml").read_text("utf-8"))
    schemas = spec["components"]["schemas"]

    def fields(name: str) -> set[str]:
        schema = schemas[name]
        parts = [schemas["StaffListRow"], schema["allOf"][1]] if "allOf" in schema else [schema]
        return {key for part in parts for key in part["properties"]}

    assert fields("StaffOverdueItem") == OVERDUE_FIELDS
    assert fields("StaffReviewItem") == REVIEW_FIELDS
    assert fields("StaffUnmatchedItem") == UNMATCHED_FIELDS
    assert fields("StaffDeputy") == DEPUTY_FIELDS
    assert set(schemas["StaffListRow"]["properties"]["status"]["enum"]) == set(STATE_NAMES)
    limit = spec["components"]["parameters"]["StaffListLimit"]["schema"]
    assert (limit["maximum"], limit["default"]) == (lists.MAX_PAGE, lists.DEFAULT_PAGE)

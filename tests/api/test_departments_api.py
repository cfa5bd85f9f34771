"""GET /departments: whom a deputy or staff may hand a report to, best fit first."""

from __future__ import annotations

import pytest


def test_a_deputy_gets_the_districts_and_city_wide_departments_best_fit_first(api):
    token = api.login("deputy-01")["token"]
    status, body = api.json("GET", "/departments?category=traffic.parking", token=token)
    assert status == 200, body
    assert body["district_id"] == "shinan"
    ids = [row["id"] for row in body["items"]]
    assert ids[0] == "shinan-jj" and body["items"][0]["suggested"] is True
    assert set(ids) == {"shinan-cg", "shinan-zj", "shinan-jj", "qingdao-jy"}
    assert [row["suggested"] for row in body["items"]].count(True) == 1
    assert body["items"][-1]["id"] == "qingdao-jy"  # city-wide after the district's
    assert body["items"][-1]["district_id"] is None


def test_staff_name_another_district_of_their_city(api):
    token = api.login("staff-city")["token"]
    status, body = api.json("GET", "/departments?district=huangdao", token=token)
    assert status == 200, body
    assert {row["id"] for row in body["items"]} == {"huangdao-cg", "huangdao-zj", "qingdao-jy"}
    assert not any(row["suggested"] for row in body["items"])


@pytest.mark.parametrize(
    ("who", "query", "status", "field"),
    [
        (None, "?district=shinan", 401, None),
        ("citizen", "?district=shinan", 403, None),
        ("staff-city", "", 422, "district"),
        ("staff-city", "?district=nowhere", 404, "district"),
        ("deputy-01", "?category=no.such", 422, "category"),
    ],
)
def test_who_may_list_and_bad_queries_name_the_field(api, who, query, status, field):
    token = None if who is None else api.login(None if who == "citizen" else who)["token"]
    answer_status, body = api.json("GET", f"/departments{query}", token=token)
    assert answer_status == status, body
    if field:
        assert body["error"]["field"] == field
        assert body["error"]["message"]

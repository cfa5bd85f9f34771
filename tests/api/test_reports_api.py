"""Scan-to-report through the HTTP API (chalice.test.Client against moto and the emulator)."""

from __future__ import annotations

from tests.helpers import jpeg_bytes, upload_to


def _report(api, token, **overrides):
    body = {"station_id": "S01", "category": "municipal.road", "text": "汇泉路路面塌陷，有积水"}
    body.update(overrides)
    return api.json("POST", "/reports", body, token=token)


def _uploaded_photo(api, token) -> str:
    data = jpeg_bytes()
    status, presigned = api.json(
        "POST", "/uploads", {"content_type": "image/jpeg", "size": len(data)}, token=token
    )
    assert status == 200, presigned
    assert upload_to(presigned, data).status_code in (200, 204)
    return presigned["key"]


def test_login_creates_a_citizen_and_returns_a_token(api):
    body = api.login("citizen-login-1")
    assert body["user"]["roles"] == ["citizen"]
    assert body["token"]
    again = api.login("citizen-login-1")
    assert again["user"]["id"] == body["user"]["id"]
    assert api.login("citizen-login-2")["user"]["id"] != body["user"]["id"]


def test_demo_codes_are_bound_to_their_roles(api):
    deputy = api.login("deputy-01")["user"]
    assert deputy["roles"] == ["citizen", "deputy"]
    assert deputy["deputy_id"] == "D01"
    assert api.login("staff-city")["user"]["roles"] == ["citizen", "city_staff"]
    assert api.login("handler-01")["user"]["department_id"] == "shinan-cg"


def test_nearest_stations_come_nearest_first_with_distance(api):
    status, body = api.json("GET", "/stations?lat=36.0645&lng=120.3875&limit=3")
    assert status == 200
    stations = body["stations"]
    assert [s["id"] for s in stations][0] == "S03"
    distances = [s["distance_m"] for s in stations]
    assert distances == sorted(distances) and len(stations) == 3


def test_nearest_stations_match_a_brute_force_ranking_near_and_far(api):
    from chalicelib.stations.geo import distance_m
    from devstack.seed import demo_data

    stations = demo_data()["stations"]
    for lat, lng in [(35.90, 120.10), (36.07, 120.39), (36.5, 120.9), (35.99, 120.15)]:
        expected = sorted(stations, key=lambda s: distance_m(lat, lng, s["lat"], s["lng"]))
        status, body = api.json("GET", f"/stations?lat={lat}&lng={lng}&limit=4")
        assert status == 200
        assert [s["id"] for s in body["stations"]] == [s["id"] for s in expected[:4]]


def test_station_detail_lists_deputies_without_phone_numbers(api):
    status, body = api.json("GET", "/stations/S01")
    assert status == 200
    assert {d["id"] for d in body["deputies"]} == {"D01", "D02"}
    assert "139" not in str(body)
    assert all("phone" not in d for d in body["deputies"])


def test_unknown_station_is_404(api):
    status, body = api.json("GET", "/stations/S99")
    assert status == 404
    assert body["error"]["code"] == "station_not_found"


def test_station_qrcode_is_a_png_that_decodes_to_the_station(api, wechat):
    import io

    import zxingcpp
    from PIL import Image

    token = api.login()["token"]
    response = api.request(
        "GET", "/stations/S02/qrcode", token=token, headers={"Accept": "image/png"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.body)))
    assert [code.text for code in decoded] == ["S02"]
    call = wechat.state.calls("getwxacodeunlimit")[-1]
    assert call["body"]["page"] == "pages/report/report"


def test_categories_are_the_taxonomy(api):
    status, body = api.json("GET", "/categories")
    assert status == 200
    codes = [child["code"] for group in body["groups"] for child in group["children"]]
    assert "municipal.road" in codes and len(codes) == len(set(codes))


def test_upload_url_is_under_the_callers_prefix(api):
    login = api.login()
    status, body = api.json(
        "POST", "/uploads", {"content_type": "image/png", "size": 2048}, token=login["token"]
    )
    assert status == 200
    assert body["key"].startswith(f"uploads/{login['user']['id']}/")
    assert body["fields"]["Content-Type"] == "image/png"


def test_a_photo_over_the_size_limit_is_refused_at_submission(api, monkeypatch):
    token = api.login()["token"]
    key = _uploaded_photo(api, token)
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "100")
    status, body = _report(api, token, photos=[key])
    assert status == 422
    assert body["error"]["field"] == "photos[0]"
    assert body["error"]["code"] == "photo_too_large"


def test_submit_with_photo_then_read_back_with_timeline(api):
    token = api.login()["token"]
    key = _uploaded_photo(api, token)
    status, report = _report(api, token, photos=[key], address="汇泉路12号门口")
    assert status == 201, report
    assert report["status"] == "submitted"
    assert report["station"]["id"] == "S01"
    status, read = api.json("GET", f"/reports/{report['id']}", token=token)
    assert status == 200
    assert [e["type"] for e in read["timeline"]] == ["submitted"]
    assert read["photos"][0]["key"] == key
    assert read["photos"][0]["url"].startswith("http")


def test_photo_url_serves_the_uploaded_image(api):
    import requests

    token = api.login()["token"]
    key = _uploaded_photo(api, token)
    _, report = _report(api, token, photos=[key])
    fetched = requests.get(report["photos"][0]["url"], timeout=10)
    assert fetched.status_code == 200 and fetched.content == jpeg_bytes()


def test_idempotency_key_returns_the_same_report(api):
    token = api.login()["token"]
    headers = {"Idempotency-Key": "retry-key-0001"}
    body = {"station_id": "S01", "category": "municipal.road", "text": "同一条反映"}
    first = api.request("POST", "/reports", body, token=token, headers=headers)
    second = api.request("POST", "/reports", body, token=token, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json_body["id"] == second.json_body["id"]
    _, mine = api.json("GET", "/reports/mine", token=token)
    assert [item["id"] for item in mine["items"]] == [first.json_body["id"]]


def test_same_idempotency_key_for_different_content_is_a_conflict(api):
    token = api.login()["token"]
    headers = {"Idempotency-Key": "retry-key-0002"}
    api.request(
        "POST",
        "/reports",
        {"station_id": "S01", "category": "municipal.road", "text": "第一条"},
        token=token,
        headers=headers,
    )
    response = api.request(
        "POST",
        "/reports",
        {"station_id": "S01", "category": "municipal.road", "text": "第二条"},
        token=token,
        headers=headers,
    )
    assert response.status_code == 409
    assert response.json_body["error"]["field"] == "Idempotency-Key"


def test_a_key_refused_by_the_content_check_can_carry_the_corrected_report(api, wechat):
    wechat.state.set_words(risky=["赌博"])
    token = api.login()["token"]
    headers = {"Idempotency-Key": "retry-key-0003"}
    body = {"station_id": "S01", "category": "other.other", "text": "这里有人聚众赌博"}
    refused = api.request("POST", "/reports", body, token=token, headers=headers)
    assert refused.status_code == 422
    corrected = {**body, "text": "这里夜间经常有人聚集喧哗"}
    first = api.request("POST", "/reports", corrected, token=token, headers=headers)
    second = api.request("POST", "/reports", corrected, token=token, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json_body["id"] == first.json_body["id"]
    _, mine = api.json("GET", "/reports/mine", token=token)
    assert [item["id"] for item in mine["items"]] == [first.json_body["id"]]


def test_a_retry_after_the_refusal_is_lifted_stores_the_report_once(api, wechat):
    wechat.state.set_words(risky=["赌博"])
    token = api.login()["token"]
    headers = {"Idempotency-Key": "retry-key-0004"}
    body = {"station_id": "S01", "category": "other.other", "text": "举报赌博窝点"}
    assert api.request("POST", "/reports", body, token=token, headers=headers).status_code == 422
    wechat.state.set_words(risky=[])
    first = api.request("POST", "/reports", body, token=token, headers=headers)
    second = api.request("POST", "/reports", body, token=token, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json_body["id"] == first.json_body["id"]
    assert [e["type"] for e in second.json_body["timeline"]] == ["submitted"]


def test_location_only_report_goes_to_the_nearest_station(api):
    token = api.login()["token"]
    status, report = api.json(
        "POST",
        "/reports",
        {
            "location": {"lat": 35.962, "lng": 120.2015},
            "category": "traffic.parking",
            "text": "小区门口乱停车",
        },
        token=token,
    )
    assert status == 201
    assert report["station"]["id"] == "S05"
    assert report["district_id"] == "huangdao"


def test_review_text_is_stored_but_held_for_review(api, wechat):
    wechat.state.set_words(review=["上访"])
    token = api.login()["token"]
    status, report = _report(api, token, text="想了解上访流程")
    assert status == 201
    assert report["moderation"] == "review"


def test_content_check_outage_holds_the_report_for_review_instead_of_losing_it(api, wechat):
    token = api.login()["token"]
    wechat.state.inject("msg_sec_check", http_status=500, times=-1)
    status, report = _report(api, token)
    assert status == 201
    assert report["moderation"] == "review"


def test_phone_code_is_resolved_and_shown_only_to_the_reporter_masked_to_staff(api):
    token = api.login()["token"]
    status, report = _report(api, token, phone_code="phone-13812345678")
    assert status == 201
    assert report["phone"] == "13812345678"
    staff = api.login("staff-station-01")["token"]
    status, seen = api.json("GET", f"/reports/{report['id']}", token=staff)
    assert status == 200
    assert seen["phone"] == "138****5678"


def test_my_reports_are_newest_first_and_paginated_by_cursor(api):
    token = api.login()["token"]
    ids = [_report(api, token, text=f"第{n}条反映")[1]["id"] for n in range(5)]
    _, page1 = api.json("GET", "/reports/mine?limit=2", token=token)
    _, page2 = api.json("GET", f"/reports/mine?limit=2&cursor={page1['next_cursor']}", token=token)
    _, page3 = api.json("GET", f"/reports/mine?limit=2&cursor={page2['next_cursor']}", token=token)
    seen = [i["id"] for i in page1["items"] + page2["items"] + page3["items"]]
    assert seen == list(reversed(ids))


def test_who_may_read_a_report(api):
    token = api.login()["token"]
    _, report = _report(api, token)
    path = f"/reports/{report['id']}"
    assert api.json("GET", path, token=api.login()["token"])[0] == 404
    assert api.json("GET", path, token=api.login("deputy-01")["token"])[0] == 404
    assert api.json("GET", path, token=api.login("staff-station-01")["token"])[0] == 200
    assert api.json("GET", path, token=api.login("staff-station-05")["token"])[0] == 404
    assert api.json("GET", path, token=api.login("staff-district-1")["token"])[0] == 200
    assert api.json("GET", path, token=api.login("staff-district-2")["token"])[0] == 404
    assert api.json("GET", path, token=api.login("staff-city")["token"])[0] == 200


def test_errors_carry_a_request_id(api):
    response = api.request("GET", "/reports/mine")
    assert response.status_code == 401
    assert response.headers["X-Request-Id"]

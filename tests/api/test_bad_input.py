"""Bad input never produces a 500: every field of POST /reports, bodies, tokens, ids."""

from __future__ import annotations

import io
import json
import logging

import pytest
from chalice import Chalice, Response
from chalice.test import Client

VALID = {"station_id": "S01", "category": "municipal.road", "text": "路灯不亮"}

INVALID_FIELDS = [
    ("station_id", {"station_id": 12}),
    ("station_id", {"station_id": "S 01"}),
    ("station_id", {"station_id": "S99"}),
    ("station_id", {"station_id": None, "location": None}),
    ("location", {"location": [36.0, 120.3]}),
    ("location.lat", {"location": {"lat": 91, "lng": 120.3}}),
    ("location.lat", {"location": {"lat": "36", "lng": 120.3}}),
    ("location.lng", {"location": {"lat": 36.0, "lng": -181}}),
    ("location.lng", {"location": {"lat": 36.0}}),
    ("category", {"category": None}),
    ("category", {"category": "municipal"}),
    ("category", {"category": "no.such"}),
    ("text", {"text": None}),
    ("text", {"text": "   "}),
    ("text", {"text": "字" * 1001}),
    ("text", {"text": ["list"]}),
    ("photos", {"photos": "uploads/x.jpg"}),
    ("photos", {"photos": [f"uploads/u/{n}.jpg" for n in range(10)]}),
    ("photos[0]", {"photos": [7]}),
    ("photos[0]", {"photos": ["uploads/someone-else/a.jpg"]}),
    ("photos", {"photos": ["a", "a"]}),
    ("address", {"address": "址" * 201}),
    ("address", {"address": 5}),
    ("phone_code", {"phone_code": 13800138000}),
    ("phone_code", {"phone_code": ""}),
    ("anonymous", {"anonymous": "yes"}),
    ("surprise", {"surprise": 1}),
]


@pytest.mark.parametrize(("field", "change"), INVALID_FIELDS, ids=[f for f, _ in INVALID_FIELDS])
def test_each_invalid_field_is_a_4xx_naming_it(api, field, change):
    token = api.login()["token"]
    body = {**VALID, **change}
    body = {k: v for k, v in body.items() if v is not None}
    status, answer = api.json("POST", "/reports", body, token=token)
    assert 400 <= status < 500, answer
    assert answer["error"]["field"] == field
    assert answer["error"]["message"]


def test_photo_key_of_the_caller_that_was_never_uploaded(api):
    login = api.login()
    key = f"uploads/{login['user']['id']}/never-uploaded.jpg"
    status, answer = api.json("POST", "/reports", {**VALID, "photos": [key]}, token=login["token"])
    assert status == 422
    assert answer["error"] == {
        "code": "photo_missing",
        "message": answer["error"]["message"],
        "field": "photos[0]",
    }


def test_another_users_uploaded_photo_is_refused(api):
    from tests.helpers import jpeg_bytes, upload_to

    owner = api.login()["token"]
    data = jpeg_bytes()
    _, presigned = api.json(
        "POST", "/uploads", {"content_type": "image/jpeg", "size": len(data)}, token=owner
    )
    upload_to(presigned, data)
    thief = api.login()["token"]
    status, answer = api.json(
        "POST", "/reports", {**VALID, "photos": [presigned["key"]]}, token=thief
    )
    assert status == 422
    assert answer["error"]["code"] == "photo_not_owned"


def test_risky_text_is_refused_with_422(api, wechat):
    wechat.state.set_words(risky=["赌博"])
    token = api.login()["token"]
    status, answer = api.json(
        "POST", "/reports", {**VALID, "text": "这里有人聚众赌博"}, token=token
    )
    assert status == 422
    assert answer["error"]["field"] == "text"
    assert answer["error"]["code"] == "content_risky"


def test_a_used_phone_code_is_422_on_phone_code(api):
    token = api.login()["token"]
    assert api.json("POST", "/reports", {**VALID, "phone_code": "once"}, token=token)[0] == 201
    status, answer = api.json("POST", "/reports", {**VALID, "phone_code": "once"}, token=token)
    assert status == 422
    assert answer["error"]["field"] == "phone_code"


def test_body_over_64_kb_is_413(api):
    token = api.login()["token"]
    raw = json.dumps({**VALID, "address": "x" * 70_000})
    status, answer = api.json("POST", "/reports", token=token, raw=raw)
    assert status == 413
    assert answer["error"]["code"] == "body_too_large"


@pytest.mark.parametrize("raw", ["not json", "{", "[1, 2]", '"text"', "null", ""])
def test_a_body_that_is_not_a_json_object_is_400(api, raw):
    token = api.login()["token"]
    status, answer = api.json("POST", "/reports", token=token, raw=raw)
    assert status == 400
    assert answer["error"]["message"]


def test_wrong_content_type_is_415_in_the_app_error_format(api):
    token = api.login()["token"]
    response = api.client.http.post(
        "/reports",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
        body=json.dumps(VALID),
    )
    assert response.status_code == 415
    assert json.loads(response.body)["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Basic abc",
        "Bearer not-a-token",
        "Bearer a.b",
        "Bearer e30.forged",
        "Bearer a.é",
        "Bearer e30.签名",
    ],
)
def test_missing_or_forged_token_is_401(api, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    response = api.client.http.post("/reports", headers=headers, body=json.dumps(VALID))
    assert response.status_code == 401
    assert json.loads(response.body)["error"]["code"] in ("missing_token", "invalid_token")


def test_expired_token_is_401(api, monkeypatch):
    from chalicelib.auth.tokens import Principal, issue_token

    token = issue_token(Principal("u1", "o1", ("citizen",)), "test-session-secret", ttl_seconds=-1)
    status, answer = api.json("GET", "/reports/mine", token=token)
    assert status == 401
    assert answer["error"]["code"] == "token_expired"


@pytest.mark.parametrize("header", ["short", "has space in it", "x" * 65, "中文幂等键中文幂等键"])
def test_bad_idempotency_key_is_422_naming_the_header(api, header):
    token = api.login()["token"]
    response = api.client.http.post(
        "/reports",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": header,
        },
        body=json.dumps(VALID),
    )
    assert response.status_code == 422
    assert json.loads(response.body)["error"]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content_type": "image/gif", "size": 10}, "content_type"),
        ({"size": 10}, "content_type"),
        ({"content_type": ["image/jpeg"], "size": 10}, "content_type"),
        ({"content_type": {"type": "image/jpeg"}, "size": 10}, "content_type"),
        ({"content_type": "image/jpeg", "size": 0}, "size"),
        ({"content_type": "image/jpeg", "size": "10"}, "size"),
        ({"content_type": "image/jpeg", "size": 10 * 1024 * 1024 + 1}, "size"),
    ],
)
def test_bad_upload_requests_name_the_field(api, body, field):
    token = api.login()["token"]
    status, answer = api.json("POST", "/uploads", body, token=token)
    assert status == 422
    assert answer["error"]["field"] == field


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lng=120.3", "lat"),
        ("lat=abc&lng=120.3", "lat"),
        ("lat=36&lng=200", "lng"),
        ("lat=36&lng=120&limit=0", "limit"),
        ("lat=36&lng=120&limit=many", "limit"),
        ("lat=nan&lng=120", "lat"),
        ("lat=36&lng=120&limit=%C2%B2", "limit"),
        ("lat=36&lng=120&limit=%D9%A1", "limit"),
        ("lat=36&lng=120&limit=%EF%BC%95", "limit"),
    ],
)
def test_bad_station_queries_name_the_field(api, query, field):
    status, answer = api.json("GET", f"/stations?{query}")
    assert status == 422
    assert answer["error"]["field"] == field


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("limit=%C2%B2", "limit"),
        ("limit=%EF%BC%95", "limit"),
        ("cursor=%%%", "cursor"),
        ("cursor=eyJhIjoxfQ", "cursor"),
    ],
)
def test_bad_list_queries_name_the_field(api, query, field):
    token = api.login()["token"]
    status, answer = api.json("GET", f"/reports/mine?{query}", token=token)
    assert status == 422
    assert answer["error"]["field"] == field


def test_someone_elses_cursor_is_refused(api):
    first = api.login()["token"]
    for n in range(3):
        api.json("POST", "/reports", {**VALID, "text": f"第{n}条"}, token=first)
    _, page = api.json("GET", "/reports/mine?limit=1", token=first)
    other = api.login()["token"]
    status, answer = api.json("GET", f"/reports/mine?cursor={page['next_cursor']}", token=other)
    assert status == 422


@pytest.mark.parametrize("report_id", ["R00000000-NOPE", "x" * 65, "%20"])
def test_unknown_report_is_404(api, report_id):
    token = api.login()["token"]
    assert api.json("GET", f"/reports/{report_id}", token=token)[0] == 404


def test_login_code_problems_are_4xx(api, wechat):
    assert api.json("POST", "/auth/login", {})[0] == 422
    assert api.json("POST", "/auth/login", {"code": 5})[0] == 422
    wechat.state.inject("jscode2session", errcode=40029, errmsg="invalid code")
    status, answer = api.json("POST", "/auth/login", {"code": "expired-code"})
    assert status == 422 and answer["error"]["field"] == "code"
    wechat.state.inject("jscode2session", http_status=500)
    assert api.json("POST", "/auth/login", {"code": "any"})[0] == 503


def test_unknown_route_is_an_app_error(api):
    response = api.request("GET", "/nowhere")
    assert response.status_code in (403, 404)


def _nested(depth: int) -> list:
    value: list = ["x"]
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 60_000,
        '{"a":' * 12_000,
        json.dumps({**VALID, "photos": _nested(40)}),
    ],
    ids=["deep-list", "deep-object", "deep-under-the-recursion-limit"],
)
def test_a_deeply_nested_body_is_400(api, raw):
    token = api.login()["token"]
    assert len(raw.encode()) < 64 * 1024
    status, answer = api.json("POST", "/reports", token=token, raw=raw)
    assert status == 400
    assert answer["error"]["code"] == "body_too_deep"
    assert answer["error"]["message"] == "请求内容嵌套层级过深"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "路灯\ud800不亮"}, "text"),
        ({"address": "汇泉路\udfff"}, "address"),
        ({"photos": ["uploads/u/\ud83d.jpg"]}, "photos[0]"),
        ({"location": {"lat": 36.0, "lng": 120.3, "\ud800": 1}}, "location"),
    ],
    ids=["text", "address", "photos", "nested-key"],
)
def test_a_lone_surrogate_is_422_naming_the_field(api, change, field):
    token = api.login()["token"]
    status, answer = api.json("POST", "/reports", {**VALID, **change}, token=token)
    assert status == 422, answer
    assert answer["error"] == {
        "code": "invalid_characters",
        "message": "包含无法识别的字符",
        "field": field,
    }


def test_a_surrogate_pair_is_ordinary_text(api):
    token = api.login()["token"]
    status, answer = api.json("POST", "/reports", {**VALID, "text": "路灯不亮😀"}, token=token)
    assert status == 201, answer
    assert answer["text"] == "路灯不亮😀"


def test_a_lone_surrogate_in_the_login_code_is_422(api, wechat):
    status, answer = api.json("POST", "/auth/login", {"code": "abc\ud800"})
    assert status == 422
    assert answer["error"]["field"] == "code"
    assert answer["error"]["message"] == "包含无法识别的字符"
    assert not wechat.state.calls("jscode2session")


@pytest.mark.parametrize("kind", [["meetings"], {"meetings": 1}])
def test_an_unhashable_duty_kind_is_422(api, kind):
    from chalicelib.workflow.engine import beijing_day

    token = api.login("staff-station-01")["token"]
    body = {"kind": kind, "title": "视察", "date": beijing_day()}
    status, answer = api.json("POST", "/deputies/D01/activities", body, token=token)
    assert status == 422
    assert answer["error"]["field"] == "kind"


@pytest.mark.parametrize("accept", [None, "text/html", "application/json", "image/*"])
def test_a_qrcode_without_accept_image_png_is_406_telling_what_to_send(api, wechat, accept):
    token = api.login()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    if accept:
        headers["Accept"] = accept
    response = api.client.http.get("/stations/S01/qrcode", headers=headers)
    assert response.status_code == 406
    error = json.loads(response.body)["error"]
    assert error["code"] == "not_acceptable"
    assert error["field"] == "Accept"
    assert "Accept: image/png" in error["message"]
    assert not wechat.state.calls("getwxacodeunlimit")


@pytest.mark.parametrize("accept", ["image/png", "*/*", "text/html, image/png;q=0.9"])
def test_a_qrcode_with_an_accept_admitting_png_is_the_png(api, accept):
    token = api.login()["token"]
    response = api.client.http.get(
        "/stations/S01/qrcode", headers={"Authorization": f"Bearer {token}", "Accept": accept}
    )
    assert response.status_code == 200
    assert response.body.startswith(b"\x89PNG")


def _json_log_handler(logger: str = "ssp") -> logging.StreamHandler:
    """The JSON-formatting handler `configure_logging` set up on `logger`."""
    from chalicelib.observability import JsonFormatter

    handlers = logging.getLogger(logger).handlers
    return next(h for h in handlers if isinstance(h.formatter, JsonFormatter))


def test_an_unexpected_failure_in_a_view_is_a_json_500_logged_with_the_request_id(api, monkeypatch):
    # A broken setting makes `services()` raise ValueError inside the view; the bad value
    # looks like a phone number, which must not reach the log unmasked.
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "13800138000x")
    handler, stream = _json_log_handler(), io.StringIO()
    previous = handler.setStream(stream)
    try:
        response = api.request("GET", "/stations/S01")
    finally:
        handler.setStream(previous)
    assert response.status_code == 500
    assert json.loads(response.body) == {
        "error": {"code": "internal_error", "message": "系统繁忙，请稍后重试", "field": None}
    }
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    failure = next(line for line in lines if line["message"] == "unhandled error")
    assert failure["request_id"] == response.headers["X-Request-Id"]
    assert failure["level"] == "ERROR"
    assert failure["path"] == "/stations/{station_id}"
    assert "ValueError" in failure["exception"]
    assert "13800138000" not in stream.getvalue()
    assert "138****8000x" in failure["exception"]


def test_chalices_own_500_is_the_app_error(env):
    """A failure Chalice catches itself (here a header it refuses) still ends as our 500."""
    import app as app_module

    own = Chalice(app_name="suishoupai")

    @own.route("/broken-header")
    def broken_header():
        return Response(body={}, headers={"X-Bad": "line\nbreak"})

    own.register_middleware(app_module.errors_and_access_log, "http")
    handler, stream = _json_log_handler(app_module.app.log.name), io.StringIO()
    previous = handler.setStream(stream)
    try:
        with Client(own, stage_name="local") as client:
            response = client.http.get("/broken-header")
    finally:
        handler.setStream(previous)
    assert response.status_code == 500
    assert json.loads(response.body)["error"]["code"] == "internal_error"
    logged = json.loads(stream.getvalue().splitlines()[0])
    assert logged["request_id"] == response.headers["X-Request-Id"]
    assert "line\\nbreak" in logged["exception"]

"""CORS: the browser build calls the API and posts photos to S3 from another origin."""

from __future__ import annotations

import json

import requests

from chalicelib.bootstrap import services
from tests.helpers import jpeg_bytes
from tests.workflow_helpers import serve_app

ORIGIN = "http://127.0.0.1:5050"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,idempotency-key,x-request-id",
}


def _lower(headers) -> dict:
    return {name.lower(): value for name, value in dict(headers).items()}


def _allows_the_browser_build(headers) -> None:
    headers = _lower(headers)
    assert headers["access-control-allow-origin"] == "*"
    allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "x-request-id"} <= allowed


def _exposes(headers) -> None:
    headers = _lower(headers)
    assert headers["access-control-allow-origin"] == "*"
    exposed = {h.strip().lower() for h in headers["access-control-expose-headers"].split(",")}
    assert {"idempotent-replayed", "x-request-id"} <= exposed


def test_answers_and_errors_carry_the_headers(api):
    ok = api.request("GET", "/client/settings", headers={"Origin": ORIGIN})
    assert ok.status_code == 200
    _exposes(ok.headers)
    refused = api.request("GET", "/reports/mine", headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    _exposes(refused.headers)  # a browser can read the Chinese message
    invalid = api.request("POST", "/auth/oauth", {"code": ""}, headers={"Origin": ORIGIN})
    assert invalid.status_code == 422
    _exposes(invalid.headers)


def test_preflight_and_calls_under_chalice_local(env):
    """`chalice local` answers the preflight of every route itself (API Gateway's mock OPTIONS
    in AWS); chalice.test.Client cannot (it fails on the preflight's empty body)."""
    from app import app

    with serve_app(app) as url:
        for path in ("/reports", "/auth/oauth", "/reports/R1/accept", "/uploads/confirm"):
            preflight = requests.options(f"{url}{path}", headers=PREFLIGHT, timeout=10)
            assert preflight.status_code == 200, path
            _allows_the_browser_build(preflight.headers)
            assert "POST" in preflight.headers["Access-Control-Allow-Methods"].split(",")
        answer = requests.post(
            f"{url}/auth/login",
            data=json.dumps({"code": "citizen-cors-check"}),
            headers={"Origin": ORIGIN, "Content-Type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 200
        _exposes(answer.headers)


def test_the_bucket_takes_a_cross_origin_presigned_post(api):
    token = api.login()["token"]
    photo = jpeg_bytes()
    status, upload = api.json(
        "POST", "/uploads", {"content_type": "image/jpeg", "size": len(photo)}, token=token
    )
    assert status == 200, upload
    rules = services().uploads._client.get_bucket_cors(Bucket=services().settings.upload_bucket)
    assert rules["CORSRules"][0]["AllowedOrigins"] == ["*"]
    assert "POST" in rules["CORSRules"][0]["AllowedMethods"]
    preflight = requests.options(
        upload["url"],
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code in (200, 204)
    assert _lower(preflight.headers)["access-control-allow-origin"] in ("*", ORIGIN)
    posted = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("photo.jpg", photo, "image/jpeg")},
        headers={"Origin": ORIGIN},
        timeout=10,
    )
    assert posted.status_code in (200, 201, 204), posted.text
    assert _lower(posted.headers)["access-control-allow-origin"] in ("*", ORIGIN)
    status, confirmed = api.json("POST", "/uploads/confirm", {"key": upload["key"]}, token=token)
    assert status == 200, confirmed

"""GET /client/settings: what the clients need before a tap, public, cacheable, no secrets."""

from __future__ import annotations

import json

from tests.conftest import TEST_ENV


def test_public_settings_without_login(env, api):
    response = api.request("GET", "/client/settings")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    body = json.loads(response.body)
    assert body["subscribe"]["report"] == [
        "tmpl-report-accepted",
        "tmpl-report-resolved",
        "tmpl-report-answered",
    ]
    templates = body["subscribe"]["templates"]
    assert templates["second_handling"] == "tmpl-second-handling"
    assert "task_offered" not in templates  # deputies' notices are not the citizen's to ask
    assert body["oauth"] == {
        "enabled": True,
        "appid": "wx-local-web-appid",
        "scope": "snsapi_userinfo",
    }
    assert body["limits"] == {
        "photos_max": 9,
        "text_min": 1,
        "text_max": 1000,
        "upload_max_bytes": 10 * 1024 * 1024,
        "upload_types": ["image/jpeg", "image/png", "image/webp"],
    }
    assert body["privacy"] == {"version": None}
    assert body["pages"] == {"report": "pages/report/report", "task": "pages-deputy/task/task"}


def test_configured_templates_limits_and_privacy_version(env, api, monkeypatch):
    monkeypatch.setenv(
        "WECHAT_TEMPLATES",
        json.dumps(
            {
                "report_accepted": {"template_id": "AbC-accepted", "fields": {"thing1": "x"}},
                "report_resolved": {"template_id": "AbC-resolved", "fields": {"thing1": "x"}},
            }
        ),
    )
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "2048")
    monkeypatch.setenv("PRIVACY_VERSION", "2026-11")
    _, body = api.json("GET", "/client/settings")
    assert body["subscribe"]["report"] == ["AbC-accepted", "AbC-resolved", "tmpl-report-answered"]
    assert body["limits"]["upload_max_bytes"] == 2048
    assert body["privacy"]["version"] == "2026-11"


def test_never_a_secret(env, api, monkeypatch):
    monkeypatch.setenv("WECHAT_OAUTH_SECRET", "oauth-secret-value")
    response = api.request("GET", "/client/settings")
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    for secret in (TEST_ENV["WECHAT_SECRET"], TEST_ENV["SESSION_SECRET"], "oauth-secret-value"):
        assert secret not in text
    assert "secret" not in text.lower()


def test_an_unreadable_template_setting_gives_no_ids_not_an_error(env, api, monkeypatch):
    monkeypatch.setenv("WECHAT_TEMPLATES", "{not json")
    status, body = api.json("GET", "/client/settings")
    assert status == 200 and body["subscribe"] == {"report": [], "templates": {}}

"""Web OAuth login for the browser build: the emulator's authorize page, the code exchange,
and one user per person across the mini-program and the web (linked by unionid)."""

from __future__ import annotations

import json
import re
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

REDIRECT = "http://127.0.0.1:5050/#/pages/report/report?scene=S01"
DEMO = json.loads((Path(__file__).parents[2] / "devstack" / "demo.json").read_text("utf-8"))


class _Forms(HTMLParser):
    """The forms of a page: action, hidden inputs, submit buttons' values, text inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs["action"], "hidden": {}, "buttons": [], "text": []})
        elif tag == "input" and self.forms:
            if attrs.get("type") == "hidden":
                self.forms[-1]["hidden"][attrs["name"]] = attrs.get("value", "")
            else:
                self.forms[-1]["text"].append(attrs["name"])
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append(attrs.get("value"))


def authorize_page(wechat, path="connect/oauth2/authorize", **overrides) -> requests.Response:
    params = {
        "appid": wechat.state.oauth_appid,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "snsapi_userinfo",
        "state": "ssp",
        **overrides,
    }
    return requests.get(f"{wechat.url}{path}", params=params, timeout=5)


def pick(wechat, identity: str, path="connect/oauth2/authorize", **overrides) -> str:
    """Submit the page's form for `identity` as a browser would: the redirect's Location."""
    page = authorize_page(wechat, path, **overrides)
    assert page.status_code == 200, page.text
    parser = _Forms()
    parser.feed(page.text)
    form = next((f for f in parser.forms if identity in f["buttons"]), None)
    if form is None:  # a new citizen: the form with the free text box
        form = next(f for f in parser.forms if "identity" in f["text"])
    answer = requests.get(
        urljoin(page.url, form["action"]),
        params={**form["hidden"], "identity": identity},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def code_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


def web_login(api, wechat, identity: str):
    return api.json("POST", "/auth/oauth", {"code": code_of(pick(wechat, identity))})


def test_the_page_lists_every_demo_login_and_a_new_citizen(env, wechat):
    page = authorize_page(wechat)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    parser = _Forms()
    parser.feed(page.text)
    buttons = [value for form in parser.forms for value in form["buttons"]]
    assert [row["code"] for row in DEMO["logins"]] == [b for b in buttons if b]
    assert "新群众" in page.text and "王建国" in page.text and '<html lang="zh-CN">' in page.text
    # Touch targets of at least 44 px: every button and the text box are 48 px tall.
    assert re.search(r"button\{[^}]*min-height:48px", page.text)
    assert re.search(r"input\{[^}]*min-height:48px", page.text)


def test_the_redirect_carries_code_and_state_before_the_fragment(env, wechat):
    location = pick(wechat, "deputy-01")
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "127.0.0.1:5050", "/")
    assert parse_qs(parts.query)["state"] == ["ssp"] and code_of(location)
    assert parts.fragment == "/pages/report/report?scene=S01"
    assert wechat.state.calls("oauth_authorize")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"appid": "wx-local-appid"}, "小程序的 appid"),
        ({"appid": "wx-unknown"}, "appid 参数错误"),
        ({"redirect_uri": "javascript:alert(1)"}, "redirect_uri"),
        ({"scope": "snsapi_login"}, "scope"),
        ({"response_type": "token"}, "response_type"),
    ],
)
def test_a_bad_authorize_request_gets_an_error_page(env, wechat, overrides, message):
    page = authorize_page(wechat, **overrides)
    assert page.status_code == 400 and message in page.text


def test_pc_scan_login_serves_the_same_picker(env, api, wechat):
    location = pick(wechat, "staff-city", path="connect/qrconnect", scope="snsapi_login")
    status, body = api.json("POST", "/auth/oauth", {"code": code_of(location)})
    assert status == 200 and body["user"]["roles"] == ["citizen", "city_staff"]


@pytest.mark.parametrize(
    "code", ["deputy-01", "deputy-14", "staff-district-1", "staff-station-05", "handler-02"]
)
def test_a_demo_identity_is_the_same_user_on_the_web_and_in_the_mini_program(
    env, api, wechat, code
):
    in_app = api.login(code)
    status, on_web = web_login(api, wechat, code)
    assert status == 200, on_web
    assert on_web["user"] == in_app["user"]
    assert on_web["user"]["roles"] != ["citizen"]
    exchange = wechat.state.calls("oauth_access_token")[-1]
    assert exchange["query"]["appid"] == wechat.state.oauth_appid
    assert exchange["query"]["grant_type"] == "authorization_code"
    assert exchange["errcode"] == 0


def test_a_citizen_who_starts_on_the_web_is_the_same_in_the_mini_program(env, api, wechat):
    identity = f"citizen-{uuid.uuid4().hex[:10]}"
    status, on_web = web_login(api, wechat, identity)
    assert status == 200 and on_web["user"]["roles"] == ["citizen"]
    status, report = api.json(
        "POST",
        "/reports",
        {"station_id": "S01", "category": "municipal.streetlight", "text": "网页上提交的反映"},
        token=on_web["token"],
    )
    assert status == 201, report
    in_app = api.login(identity)
    assert in_app["user"]["id"] == on_web["user"]["id"]
    _, mine = api.json("GET", "/reports/mine", token=in_app["token"])
    assert report["id"] in [item["id"] for item in mine["items"]]
    # ...and the web again after the mini-program: still the one user.
    assert web_login(api, wechat, identity)[1]["user"]["id"] == on_web["user"]["id"]


def test_two_people_are_two_users(env, api, wechat):
    _, one = web_login(api, wechat, f"citizen-{uuid.uuid4().hex[:10]}")
    _, two = web_login(api, wechat, f"citizen-{uuid.uuid4().hex[:10]}")
    assert one["user"]["id"] != two["user"]["id"]


def test_a_code_works_once(env, api, wechat):
    code = code_of(pick(wechat, "deputy-02"))
    assert api.json("POST", "/auth/oauth", {"code": code})[0] == 200
    status, body = api.json("POST", "/auth/oauth", {"code": code})
    assert status == 401
    assert body["error"]["field"] == "code" and body["error"]["code"] == "invalid_code"
    assert "code" in body["error"]["message"] and "登录" in body["error"]["message"]
    assert wechat.state.calls("oauth_access_token")[-1]["errcode"] == 40163


def test_an_unknown_code_is_401(env, api, wechat):
    status, body = api.json("POST", "/auth/oauth", {"code": "never-issued"})
    assert status == 401 and body["error"]["field"] == "code"
    assert wechat.state.calls("oauth_access_token")[-1]["errcode"] == 40029


@pytest.mark.parametrize("fault", [{"http_status": 502}, {"errcode": -1}])
def test_wechat_down_is_503_and_the_code_stays_usable(env, api, wechat, fault):
    code = code_of(pick(wechat, "deputy-03"))
    wechat.state.inject("oauth_access_token", **fault)
    status, body = api.json("POST", "/auth/oauth", {"code": code})
    assert status == 503 and body["error"]["code"] == "wechat_unavailable"
    assert api.json("POST", "/auth/oauth", {"code": code})[0] == 200


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": 12}, {"code": "x" * 129}])
def test_a_missing_or_malformed_code_is_422_naming_it(env, api, body):
    status, answer = api.json("POST", "/auth/oauth", body)
    assert status == 422 and answer["error"]["field"] == "code"


def test_no_oauth_app_configured_is_503(env):
    """Outside the local stage the OAuth app has no default; without it the route is off."""
    from dataclasses import replace

    from chalicelib.auth.service import oauth_login
    from chalicelib.bootstrap import Services, services
    from chalicelib.errors import ServiceUnavailable

    off = Services(replace(services().settings, oauth_appid=None, oauth_secret=None))
    with pytest.raises(ServiceUnavailable) as refused:
        oauth_login(off, "whatever")
    assert refused.value.code == "oauth_disabled"

"""The WeChat emulator's web side: OAuth login for the browser build, and URL Links.

* ``GET /connect/oauth2/authorize`` (official-account web OAuth) and ``GET /connect/qrconnect``
  (PC scan login) serve a small Chinese page where a developer picks a demo identity (the
  logins of ``devstack/demo.json``, which the stack loads) or types any code for a new citizen;
  the choice (``GET /connect/oauth2/authorize/confirm``) redirects to
  ``redirect_uri?code=CODE&state=STATE`` as WeChat does (the fragment of ``redirect_uri`` is
  kept after the query). Each code works once, for five minutes.
* ``GET /sns/oauth2/access_token`` exchanges such a code: ``{access_token, expires_in,
  refresh_token, openid, scope, unionid}``; 40029 for an unknown or expired code, 40163 for a
  code used before. The openid is the web app's (another app than the mini-program: other
  openids), the unionid the same as ``jscode2session`` gives the same identity.
* ``POST /wxa/generate_urllink`` answers ``{errcode: 0, url_link}``; locally the link is
  ``<emulator>/urllink/<token>``, which redirects a browser to the browser build's page
  ``<H5_BASE_URL>#/<path>?<query>`` (hash-mode routes).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, jsonify, redirect, request

DEMO_FILE = Path(__file__).resolve().parent / "demo.json"
OAUTH_CODE_TTL_SECONDS = 300
WEB_TOKEN_TTL_SECONDS = 7200
OAUTH_SCOPES = ("snsapi_base", "snsapi_userinfo")
QRCONNECT_SCOPES = ("snsapi_login",)
MAX_IDENTITY = 64
MAX_QUERY = 1024
MAX_LINK_DAYS = 30
DEFAULT_H5_BASE_URL = "http://127.0.0.1:5050/"
ENV_VERSIONS = ("release", "trial", "develop")

WEB_ERRMSGS = {
    40163: "code been used",
    40165: "invalid weapp pagepath",
    40212: "invalid query",
    85401: "invalid expire time",
    85402: "invalid env_version",
}

ROLE_NAMES = {
    "deputy": "人大代表",
    "city_staff": "市人大工作人员",
    "district_staff": "区人大工作人员",
    "station_staff": "联络站工作人员",
    "handler": "承办单位工作人员",
}
GROUPS = (
    ("人大代表", ("deputy",)),
    ("工作人员", ("city_staff", "district_staff", "station_staff")),
    ("承办单位", ("handler",)),
)


def unionid_for(code: str) -> str:
    """The unionid of an identity: the same in the mini-program and on the web (28 chars)."""
    digest = hashlib.sha256(f"unionid:{code}".encode()).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


@dataclass(frozen=True)
class DemoIdentity:
    """A demo login the picker offers: its code and what the stack binds to it."""

    code: str
    role: str
    label: str
    detail: str


def demo_identities(path: Path = DEMO_FILE) -> list[DemoIdentity]:
    """The demo logins of ``demo.json`` (the data ``devstack.seed`` loads), described."""
    data = json.loads(path.read_text(encoding="utf-8"))
    deputies = {row["id"]: row for row in data["deputies"]}
    stations = {row["id"]: row["name"] for row in data["stations"]}
    districts = {row["id"]: row["name"] for row in data["districts"]}
    departments = {row["id"]: row["name"] for row in data["departments"]}
    found = []
    for row in data["logins"]:
        role = row["role"]
        if role == "deputy":
            deputy = deputies.get(row["deputy_id"], {})
            label = f"{deputy.get('name', row['deputy_id'])}（代表 {row['deputy_id']}）"
            detail = stations.get(deputy.get("station_id"), "")
        elif role == "handler":
            label = departments.get(row["department_id"], row["department_id"])
            detail = ROLE_NAMES[role]
        elif role == "station_staff":
            label = stations.get(row["station_id"], row["station_id"])
            detail = ROLE_NAMES[role]
        elif role == "district_staff":
            label = f"{districts.get(row['district_id'], row['district_id'])}人大常委会"
            detail = ROLE_NAMES[role]
        else:
            label = f"{data['city']['name']}人大常委会"
            detail = ROLE_NAMES.get(role, role)
        found.append(DemoIdentity(row["code"], role, label, detail))
    return found


@dataclass
class _OAuthCode:
    identity: str
    appid: str
    scope: str
    issued_at: float


@dataclass
class _Link:
    path: str
    query: str
    expires_at: float


class WebState:
    """OAuth codes and URL Links the emulator issued (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget issued and used codes and links."""
        self._codes: dict[str, _OAuthCode] = {}
        self._used: set[str] = set()
        self._links: dict[str, _Link] = {}
        self.h5_base_url: str | None = None

    def issue_code(self, identity: str, appid: str, scope: str) -> str:
        """A fresh one-time OAuth code for ``identity``."""
        code = "emu-" + secrets.token_urlsafe(18)
        with self._lock:
            self._codes[code] = _OAuthCode(identity, appid, scope, time.time())
        return code

    def use_code(self, code: str, appid: str) -> tuple[_OAuthCode | None, int]:
        """Consume a code issued for ``appid``: (its record, 0) or (None, errcode)."""
        with self._lock:
            if code in self._used:
                return None, 40163
            issued = self._codes.get(code)
            if issued is None or issued.appid != appid:
                return None, 40029
            if time.time() - issued.issued_at > OAUTH_CODE_TTL_SECONDS:
                return None, 40029
            del self._codes[code]
            self._used.add(code)
            return issued, 0

    def add_link(self, path: str, query: str, expires_at: float) -> str:
        """Remember a URL Link; returns its token."""
        token = secrets.token_urlsafe(9)
        with self._lock:
            self._links[token] = _Link(path, query, expires_at)
        return token

    def link(self, token: str) -> _Link | None:
        """The link of a token (None when unknown)."""
        with self._lock:
            return self._links.get(token)

    def h5_base(self) -> str:
        """The browser build's base URL: set on the state, else ``H5_BASE_URL``."""
        return self.h5_base_url or os.environ.get("H5_BASE_URL") or DEFAULT_H5_BASE_URL


# --- APIs (served through the emulator's recording and fault injection) ----------------------


def oauth_access_token(state: Any, body: dict[str, Any]) -> Response:
    """``GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code``."""
    from devstack.wechat_emulator import _Answer, openid_for

    args = request.args
    if args.get("appid") != state.oauth_appid:
        raise _Answer(40013)
    if args.get("secret") != state.oauth_secret:
        raise _Answer(40125)
    if args.get("grant_type") != "authorization_code":
        raise _Answer(40002)
    issued, errcode = state.web.use_code(args.get("code", ""), state.oauth_appid)
    if issued is None:
        raise _Answer(errcode, WEB_ERRMSGS.get(errcode))
    return jsonify(
        access_token="emu-web-" + secrets.token_urlsafe(24),
        expires_in=WEB_TOKEN_TTL_SECONDS,
        refresh_token="emu-refresh-" + secrets.token_urlsafe(24),
        openid=openid_for(state.oauth_appid, issued.identity),
        scope=issued.scope,
        is_snapshotuser=0,
        unionid=unionid_for(issued.identity),
    )


def generate_urllink(state: Any, body: dict[str, Any]) -> Response:
    """``POST /wxa/generate_urllink``: a link opening ``path?query`` (the browser build here)."""
    from devstack.wechat_emulator import _Answer, _require_token

    _require_token(state)
    path = body.get("path", "")
    query = body.get("query", "")
    if not isinstance(path, str) or path.startswith("/") or " " in path or len(path) > 256:
        raise _Answer(40165, WEB_ERRMSGS[40165])
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        raise _Answer(40212, WEB_ERRMSGS[40212])
    if body.get("env_version", "release") not in ENV_VERSIONS:
        raise _Answer(85402, WEB_ERRMSGS[85402])
    now = time.time()
    expire_type = body.get("expire_type", 0)
    if expire_type == 1:
        days = body.get("expire_interval")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LINK_DAYS:
            raise _Answer(85401, WEB_ERRMSGS[85401])
        expires_at = now + days * 86400
    elif expire_type == 0:
        expires_at = body.get("expire_time", now + MAX_LINK_DAYS * 86400)
        if not isinstance(expires_at, int | float) or not now < expires_at <= now + 30 * 86400:
            raise _Answer(85401, WEB_ERRMSGS[85401])
    else:
        raise _Answer(40097)
    token = state.web.add_link(path, query, float(expires_at))
    return jsonify(errcode=0, errmsg="ok", url_link=f"{request.host_url}urllink/{token}")


WEB_API_ROUTES = {
    "oauth_access_token": ("/sns/oauth2/access_token", "GET", oauth_access_token),
    "generate_urllink": ("/wxa/generate_urllink", "POST", generate_urllink),
}


# --- pages ------------------------------------------------------------------------------------

PAGE_STYLE = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;
background:#f5f6f8;color:#1f2329;font-size:17px;line-height:1.6}
main{max-width:560px;margin:0 auto;padding:16px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:20px 0 8px}
p{margin:6px 0}.note{color:#4a4f57;font-size:15px}
.who{display:flex;flex-direction:column;gap:8px}
button{display:block;width:100%;min-height:48px;padding:10px 14px;font-size:17px;
text-align:left;border:1px solid #c9cdd4;border-radius:8px;background:#fff;color:#1f2329;
cursor:pointer}
button:hover{background:#eef0f3}button:focus-visible,input:focus-visible{outline:3px solid
#0b57d0;outline-offset:2px}
button small{display:block;color:#4a4f57;font-size:15px}
button.primary{background:#05803e;border-color:#05803e;color:#fff;text-align:center;
font-weight:600}button.primary:hover{background:#046a33}
label{display:block;margin:4px 0}
input{box-sizing:border-box;width:100%;min-height:48px;font-size:17px;padding:8px 12px;
border:1px solid #8a9099;border-radius:8px;margin-bottom:8px}
.error{background:#fff;border-left:5px solid #b3261e;padding:12px 16px;border-radius:8px}
"""


def _page(title: str, body: str, status: int = 200) -> Response:
    document = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return Response(document, status=status, mimetype="text/html")


def _error_page(message: str) -> Response:
    body = f'<h1>授权出错</h1><p class="error" role="alert">{html.escape(message)}</p>'
    return _page("授权出错", body, status=400)


def _authorize_problem(state: Any, args: Any, scopes: tuple[str, ...]) -> str | None:
    """What WeChat would refuse in the authorize request (None when it is fine)."""
    appid = args.get("appid", "")
    if not appid:
        return "缺少 appid 参数"
    if appid != state.oauth_appid:
        hint = "（这是小程序的 appid）" if appid == state.appid else ""
        return f"appid 参数错误：{appid}{hint}；网页授权的 appid 是 {state.oauth_appid}"
    target = urlsplit(args.get("redirect_uri", ""))
    if target.scheme not in ("http", "https") or not target.netloc:
        return "redirect_uri 参数错误：须为 http(s) 开头的完整地址"
    if args.get("response_type") != "code":
        return "response_type 参数错误：须为 code"
    if args.get("scope") not in scopes:
        return f"scope 参数错误：须为 {' 或 '.join(scopes)}"
    if len(args.get("state", "")) > 128:
        return "state 参数过长（最多 128 字节）"
    return None


def _hidden(args: Any) -> str:
    return "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(args.get(name, ""))}">'
        for name in ("appid", "redirect_uri", "scope", "state")
    )


def _picker(state: Any, scopes: tuple[str, ...]) -> Response:
    args = request.args
    problem = _authorize_problem(state, args, scopes)
    if problem:
        return _error_page(problem)
    identities = demo_identities()
    action = "/connect/oauth2/authorize/confirm"
    parts = [
        "<h1>微信授权登录（本地模拟）</h1>",
        '<p class="note">这是本地微信模拟器。请选择一个演示身份，页面会像微信一样带着 '
        "code 和 state 回到应用。</p>",
    ]
    suggestion = f"citizen-{secrets.token_hex(4)}"
    parts.append(
        f'<section><h2>新群众</h2><form method="get" action="{action}">{_hidden(args)}'
        '<label for="identity">登录码（任意文字，同一登录码始终是同一个人）</label>'
        f'<input id="identity" name="identity" value="{suggestion}" required '
        f'maxlength="{MAX_IDENTITY}" autocomplete="off">'
        '<button type="submit" class="primary" data-code="new">以新群众身份登录</button>'
        "</form></section>"
    )
    for title, roles in GROUPS:
        buttons = "".join(
            f'<button type="submit" name="identity" value="{html.escape(i.code)}" '
            f'data-code="{html.escape(i.code)}">{html.escape(i.label)}'
            f"<small>{html.escape(i.detail)} · 登录码 {html.escape(i.code)}</small></button>"
            for i in identities
            if i.role in roles
        )
        if buttons:
            parts.append(
                f'<section><h2>{title}</h2><form method="get" action="{action}" class="who">'
                f"{_hidden(args)}{buttons}</form></section>"
            )
    return _page("微信授权登录", "".join(parts))


def _confirm(state: Any) -> Response:
    args = request.args
    scopes = QRCONNECT_SCOPES if args.get("scope") in QRCONNECT_SCOPES else OAUTH_SCOPES
    problem = _authorize_problem(state, {**args.to_dict(), "response_type": "code"}, scopes)
    identity = args.get("identity", "").strip()
    if problem:
        return _error_page(problem)
    if not identity or len(identity) > MAX_IDENTITY:
        return _error_page(f"请选择身份，或填写 1～{MAX_IDENTITY} 个字符的登录码")
    code = state.web.issue_code(identity, args["appid"], args["scope"])
    state.record(
        {
            "api": "oauth_authorize",
            "method": request.method,
            "path": request.path,
            "query": {k: v for k, v in args.items() if k != "identity"},
            "body": None,
            "at": time.time(),
            "response_status": 302,
            "errcode": None,
        }
    )
    return redirect(with_query(args["redirect_uri"], code=code, state=args.get("state", "")))


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query (before any fragment, as WeChat does)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _open_link(state: Any, token: str) -> Response:
    link = state.web.link(token)
    if link is None:
        return _page("链接无效", '<h1>链接无效</h1><p class="error">该链接不存在。</p>', 404)
    if link.expires_at <= time.time():
        return _page("链接已失效", '<h1>链接已失效</h1><p class="error">该链接已过期。</p>', 410)
    target = f"{state.web.h5_base()}#/{link.path}" + (f"?{link.query}" if link.query else "")
    return redirect(target)


def add_web_routes(app: Flask, state: Any) -> None:
    """Register the authorize pages and the URL Link redirect on the emulator's app."""
    app.add_url_rule(
        "/connect/oauth2/authorize",
        endpoint="oauth_authorize_page",
        view_func=lambda: _picker(state, OAUTH_SCOPES),
    )
    app.add_url_rule(
        "/connect/qrconnect",
        endpoint="qrconnect_page",
        view_func=lambda: _picker(state, QRCONNECT_SCOPES),
    )
    app.add_url_rule(
        "/connect/oauth2/authorize/confirm",
        endpoint="oauth_authorize_confirm",
        view_func=lambda: _confirm(state),
    )
    app.add_url_rule(
        "/urllink/<token>",
        endpoint="urllink_open",
        view_func=lambda token: _open_link(state, token),
    )

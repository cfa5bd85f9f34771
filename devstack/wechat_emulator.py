"""Local emulator of the WeChat server APIs the backend uses (api.weixin.qq.com wire format).

Serves the same paths, methods, parameters and JSON shapes as WeChat, records every call,
and lets tests inject real failures through a control API under ``/__emulator/``:

    handle = start_wechat_emulator(appid="wx-local-appid", secret="local-secret")
    handle.url                      # "http://127.0.0.1:PORT/" -> WECHAT_API_BASE
    handle.state.inject("msg_sec_check", errcode=40001)
    handle.state.calls("stable_token")
    handle.stop()

The web side (OAuth authorize pages and ``sns/oauth2/access_token`` for the browser build,
``wxa/generate_urllink`` and its local redirect) is in ``devstack.wechat_web``.

Standalone: ``python -m devstack.wechat_emulator --port 8701 --appid A --secret S``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import segno
from flask import Flask, Response, jsonify, request

from chalicelib.config import LOCAL_DEFAULTS
from devstack.serving import WsgiServer
from devstack.wechat_web import WEB_API_ROUTES, WebState, add_web_routes, unionid_for

DEFAULT_APPID = "wx-local-appid"
DEFAULT_SECRET = "local-secret"
# The browser build's web OAuth app: the backend's local defaults, so both agree.
DEFAULT_OAUTH_APPID = LOCAL_DEFAULTS["WECHAT_OAUTH_APPID"]
DEFAULT_OAUTH_SECRET = LOCAL_DEFAULTS["WECHAT_OAUTH_SECRET"]
DEFAULT_RISKY_WORDS = ("赌博", "枪支")
DEFAULT_REVIEW_WORDS = ("上访",)
TOKEN_TTL_SECONDS = 7200
STABLE_RENEW_SECONDS = 300  # stable_token renews a token in its last five minutes

SCENE_RE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")
OPENID_RE = re.compile(r"^o[A-Za-z0-9_-]{27}$")
PHONE_CODE_RE = re.compile(r"^phone-(1\d{10})$")

ERRMSGS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40097: "invalid args",
    40125: "invalid appsecret",
    40169: "invalid length for scene, or the data is not json string",
    41030: "invalid page",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    47003: "argument invalid!",
    61010: "user access record timeout",
}

# Longest value accepted per subscribe-message key type (characters).
SUBSCRIBE_VALUE_LIMITS = {
    "thing": 20,
    "phrase": 5,
    "name": 10,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "car_number": 8,
    "phone_number": 17,
}

LABEL_NORMAL = 100
LABEL_CRIME = 20006
LABEL_OTHER = 21000


def openid_for(appid: str, code: str) -> str:
    """The stable openid the emulator gives a login code (28 characters)."""
    digest = hashlib.sha256(f"{appid}:{code}".encode()).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


def phone_for(code: str) -> str:
    """The phone number the emulator gives a phone code ("phone-1380013800x" → that number)."""
    match = PHONE_CODE_RE.match(code)
    if match:
        return match.group(1)
    digits = str(int(hashlib.sha256(code.encode()).hexdigest(), 16))
    return "1" + "3456789"[int(digits[0]) % 7] + digits[1:10]


@dataclass
class Fault:
    """A failure the next ``times`` calls of ``api`` answer with (-1 = until cleared)."""

    api: str
    errcode: int | None = None
    errmsg: str | None = None
    http_status: int | None = None
    delay_seconds: float = 0.0
    times: int = 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view of the fault."""
        return {
            "api": self.api,
            "errcode": self.errcode,
            "errmsg": self.errmsg,
            "http_status": self.http_status,
            "delay_seconds": self.delay_seconds,
            "times": self.times,
        }


@dataclass
class _Token:
    issued_at: float
    expires_at: float
    valid: bool = True


class EmulatorState:
    """Everything the emulator remembers; every method is thread-safe."""

    def __init__(
        self,
        appid: str = DEFAULT_APPID,
        secret: str = DEFAULT_SECRET,
        oauth_appid: str = DEFAULT_OAUTH_APPID,
        oauth_secret: str = DEFAULT_OAUTH_SECRET,
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.oauth_appid = oauth_appid
        self.oauth_secret = oauth_secret
        self.web = WebState()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._in_flight = 0
        self._reset_unlocked()

    def _reset_unlocked(self) -> None:
        self._calls: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._tokens: dict[str, _Token] = {}
        self._stable_token: str | None = None
        self._risky: list[str] = list(DEFAULT_RISKY_WORDS)
        self._review: list[str] = list(DEFAULT_REVIEW_WORDS)
        self._unsubscribed: set[str] = set()
        self._used_phone_codes: set[str] = set()
        self._openids: set[str] = set()
        self._msgids = itertools.count(1000001)

    def reset(self, idle_timeout: float = 15.0) -> None:
        """Forget calls, faults, tokens, used codes, OAuth codes and URL Links; restore the
        default word lists. Waits first for API calls still being answered (a slow answer
        a client gave up on), so none of them is recorded after the reset."""
        with self._changed:
            self._changed.wait_for(lambda: self._in_flight == 0, timeout=idle_timeout)
            self._reset_unlocked()
        self.web.reset()

    def begin_call(self) -> None:
        """An API call is being answered (the control API is not counted)."""
        with self._changed:
            self._in_flight += 1

    def end_call(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    def calls(self, api: str | None = None) -> list[dict[str, Any]]:
        """Recorded calls, oldest first, optionally of one api only."""
        with self._lock:
            return [dict(c) for c in self._calls if api is None or c["api"] == api]

    def clear_calls(self) -> None:
        """Forget the recorded calls."""
        with self._lock:
            self._calls.clear()

    def record(self, call: dict[str, Any]) -> None:
        """Append one call record."""
        with self._lock:
            self._calls.append(call)

    def inject(
        self,
        api: str,
        errcode: int | None = None,
        errmsg: str | None = None,
        http_status: int | None = None,
        delay_seconds: float = 0.0,
        times: int = 1,
    ) -> Fault:
        """Make the next ``times`` calls of ``api`` ("*" = any) fail or answer slowly."""
        fault = Fault(
            api=api,
            errcode=errcode,
            errmsg=errmsg,
            http_status=http_status,
            delay_seconds=float(delay_seconds or 0.0),
            times=int(times),
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def faults(self) -> list[dict[str, Any]]:
        """Pending faults."""
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def take_fault(self, api: str) -> Fault | None:
        """Consume one use of the first fault matching ``api``."""
        with self._lock:
            for fault in self._faults:
                if fault.api in (api, "*"):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def issue_token(self, stable: bool, force_refresh: bool = False) -> tuple[str, int]:
        """A token and its remaining lifetime; stable tokens are reused unless forced.

        Like WeChat, the normal mode of `stable_token` renews a token in its last five
        minutes (the old one stays usable until it expires), so every answer has
        `expires_in` >= 300.
        """
        now = time.time()
        with self._lock:
            if stable and not force_refresh and self._stable_token:
                current = self._tokens.get(self._stable_token)
                if current and current.valid and current.expires_at - now > STABLE_RENEW_SECONDS:
                    return self._stable_token, int(current.expires_at - now)
            token = "emu-" + secrets.token_urlsafe(32)
            self._tokens[token] = _Token(issued_at=now, expires_at=now + TOKEN_TTL_SECONDS)
            if stable:
                self._stable_token = token
            return token, TOKEN_TTL_SECONDS

    def check_token(self, token: str | None) -> int:
        """0 when the token is usable, else the WeChat errcode (40001 / 42001)."""
        with self._lock:
            known = self._tokens.get(token or "")
            if known is None or not known.valid:
                return 40001
            if known.expires_at <= time.time():
                return 42001
            return 0

    def expire_tokens(self) -> None:
        """Invalidate every issued access token."""
        with self._lock:
            for token in self._tokens.values():
                token.valid = False
            self._stable_token = None

    def set_words(self, risky: list[str] | None = None, review: list[str] | None = None) -> None:
        """Replace the content-security word lists (None keeps a list)."""
        with self._lock:
            if risky is not None:
                self._risky = [str(w) for w in risky]
            if review is not None:
                self._review = [str(w) for w in review]

    def classify(self, content: str) -> tuple[str, int, str | None]:
        """(suggest, label, keyword) of a text according to the word lists."""
        with self._lock:
            for word in self._risky:
                if word and word in content:
                    return "risky", LABEL_CRIME, word
            for word in self._review:
                if word and word in content:
                    return "review", LABEL_OTHER, word
        return "pass", LABEL_NORMAL, None

    def set_unsubscribed(self, openids: list[str]) -> None:
        """Mark openids whose subscribe sends answer 43101."""
        with self._lock:
            self._unsubscribed.update(str(o) for o in openids)

    def is_unsubscribed(self, openid: str) -> bool:
        """Whether subscribe sends to this openid are refused."""
        with self._lock:
            return openid in self._unsubscribed

    def login(self, code: str) -> str:
        """Openid of a login code; remembers it as a known user."""
        openid = openid_for(self.appid, code)
        with self._lock:
            self._openids.add(openid)
        return openid

    def openid_for(self, code: str) -> str:
        """The openid a login code maps to, without calling the API."""
        return openid_for(self.appid, code)

    def is_known_openid(self, openid: str) -> bool:
        """Openids seen at login, or well-formed ones, are valid send targets."""
        with self._lock:
            return openid in self._openids or bool(OPENID_RE.match(openid))

    def use_phone_code(self, code: str) -> bool:
        """Consume a phone code; False if it was used before."""
        with self._lock:
            if code in self._used_phone_codes:
                return False
            self._used_phone_codes.add(code)
            return True

    def next_msgid(self) -> int:
        """A fresh subscribe-message id."""
        with self._lock:
            return next(self._msgids)


class _Answer(Exception):
    """Short-circuits a handler with a WeChat errcode answer."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSGS.get(errcode, "error")


def _error_body(errcode: int, errmsg: str | None = None) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg or ERRMSGS.get(errcode, "error")}


def _json_body() -> dict[str, Any] | None:
    data = request.get_json(force=True, silent=True)
    return data if isinstance(data, dict) else None


def _require_token(state: EmulatorState) -> None:
    errcode = state.check_token(request.args.get("access_token"))
    if errcode:
        raise _Answer(errcode)


def _check_app(state: EmulatorState, appid: str | None, secret: str | None) -> None:
    if appid != state.appid:
        raise _Answer(40013)
    if secret != state.secret:
        raise _Answer(40125)


def _stable_token(state: EmulatorState, body: dict[str, Any]) -> Response:
    if body.get("grant_type") != "client_credential":
        raise _Answer(40002)
    _check_app(state, body.get("appid"), body.get("secret"))
    token, expires_in = state.issue_token(
        stable=True, force_refresh=bool(body.get("force_refresh"))
    )
    return jsonify(access_token=token, expires_in=expires_in)


def _token(state: EmulatorState, body: dict[str, Any]) -> Response:
    if request.args.get("grant_type") != "client_credential":
        raise _Answer(40002)
    _check_app(state, request.args.get("appid"), request.args.get("secret"))
    token, expires_in = state.issue_token(stable=False)
    return jsonify(access_token=token, expires_in=expires_in)


def _jscode2session(state: EmulatorState, body: dict[str, Any]) -> Response:
    args = request.args
    _check_app(state, args.get("appid"), args.get("secret"))
    if args.get("grant_type") != "authorization_code":
        raise _Answer(40002)
    code = args.get("js_code", "")
    if not code.strip():
        raise _Answer(40029)
    openid = state.login(code)
    key = hashlib.sha256(f"{state.secret}:{code}".encode()).digest()[:16]
    # As for a mini-program bound to an open-platform account: the unionid is the person's
    # across the account's apps (the web OAuth login gives the same one).
    return jsonify(
        openid=openid, session_key=base64.b64encode(key).decode(), unionid=unionid_for(code)
    )


def _msg_sec_check(state: EmulatorState, body: dict[str, Any]) -> Response:
    _require_token(state)
    content = body.get("content")
    if not isinstance(content, str) or body.get("version") != 2 or not body.get("openid"):
        raise _Answer(47001)
    if body.get("scene") not in (1, 2, 3, 4):
        raise _Answer(40097)
    suggest, label, keyword = state.classify(content)
    detail: dict[str, Any] = {
        "strategy": "content_model",
        "errcode": 0,
        "suggest": suggest,
        "label": label,
        "prob": 90 if keyword else 0,
    }
    if keyword:
        detail = {**detail, "strategy": "keyword", "level": 20, "keyword": keyword}
    return jsonify(
        errcode=0,
        errmsg="ok",
        result={"suggest": suggest, "label": label},
        detail=[detail],
        trace_id=secrets.token_hex(12),
    )


def _getwxacodeunlimit(state: EmulatorState, body: dict[str, Any]) -> Response:
    _require_token(state)
    scene = body.get("scene")
    if not isinstance(scene, str) or not SCENE_RE.match(scene):
        raise _Answer(40169)
    page = body.get("page")
    if page is not None and (not isinstance(page, str) or page.startswith("/")):
        raise _Answer(41030)
    if body.get("env_version", "release") not in ("release", "trial", "develop"):
        raise _Answer(40097)
    width = body.get("width", 430)
    if not isinstance(width, int) or not 280 <= width <= 1280:
        width = 430
    qr = segno.make(scene, micro=False, error="m")
    modules = qr.symbol_size(scale=1, border=2)[0]
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=max(1, width // modules), border=2)
    return Response(buf.getvalue(), mimetype="image/png")


def _getuserphonenumber(state: EmulatorState, body: dict[str, Any]) -> Response:
    _require_token(state)
    code = body.get("code")
    if not isinstance(code, str) or not code or not state.use_phone_code(code):
        raise _Answer(40029)
    phone = phone_for(code)
    return jsonify(
        errcode=0,
        errmsg="ok",
        phone_info={
            "phoneNumber": phone,
            "purePhoneNumber": phone,
            "countryCode": "86",
            "watermark": {"timestamp": int(time.time()), "appid": state.appid},
        },
    )


def _subscribe_send(state: EmulatorState, body: dict[str, Any]) -> Response:
    _require_token(state)
    touser = body.get("touser")
    if not isinstance(touser, str) or not touser or not state.is_known_openid(touser):
        raise _Answer(40003)
    if not body.get("template_id"):
        raise _Answer(40037)
    data = body.get("data")
    if not isinstance(data, dict) or not data:
        raise _Answer(47003, "argument invalid! data is empty")
    for key, item in data.items():
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value:
            raise _Answer(47003, f"argument invalid! data.{key}.value is empty")
        kind = re.sub(r"\d+$", "", key)
        limit = SUBSCRIBE_VALUE_LIMITS.get(kind)
        if limit is not None and len(value) > limit:
            raise _Answer(47003, f"argument invalid! data.{key}.value invalid")
    if body.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
        raise _Answer(47003, "argument invalid! miniprogram_state invalid")
    if state.is_unsubscribed(touser):
        raise _Answer(43101)
    return jsonify(errcode=0, errmsg="ok", msgid=state.next_msgid())


API_ROUTES = {
    "stable_token": ("/cgi-bin/stable_token", "POST", _stable_token),
    "token": ("/cgi-bin/token", "GET", _token),
    "jscode2session": ("/sns/jscode2session", "GET", _jscode2session),
    "msg_sec_check": ("/wxa/msg_sec_check", "POST", _msg_sec_check),
    "getwxacodeunlimit": ("/wxa/getwxacodeunlimit", "POST", _getwxacodeunlimit),
    "getuserphonenumber": ("/wxa/business/getuserphonenumber", "POST", _getuserphonenumber),
    "subscribe_send": ("/cgi-bin/message/subscribe/send", "POST", _subscribe_send),
    **WEB_API_ROUTES,
}


def _serve_api(state: EmulatorState, api: str, handler: Any) -> Response:
    started = time.time()
    body = _json_body()
    fault = state.take_fault(api)
    if fault and fault.delay_seconds > 0:
        time.sleep(fault.delay_seconds)
    errcode: int | None
    if fault and (fault.errcode is not None or fault.http_status):
        status = fault.http_status or 200
        if fault.errcode is not None:
            errcode = fault.errcode
            response = jsonify(_error_body(fault.errcode, fault.errmsg))
            response.status_code = status
        else:
            errcode = None
            text = fault.errmsg or f"emulated HTTP {status}"
            response = Response(
                f"<html><body>{text}</body></html>", status=status, mimetype="text/html"
            )
    else:
        try:
            response = handler(state, body or {})
            payload = response.get_json(silent=True) if response.is_json else None
            errcode = payload.get("errcode", 0) if isinstance(payload, dict) else 0
        except _Answer as answer:
            errcode = answer.errcode
            response = jsonify(_error_body(answer.errcode, answer.errmsg))
    state.record(
        {
            "api": api,
            "method": request.method,
            "path": request.path,
            "query": request.args.to_dict(),
            "body": body,
            "at": started,
            "response_status": response.status_code,
            "errcode": errcode,
        }
    )
    return response


def create_app(state: EmulatorState) -> Flask:
    """The WSGI app serving WeChat's API paths and the ``/__emulator/`` control API."""
    app = Flask("wechat_emulator")
    app.json.ensure_ascii = False

    for api, (path, method, handler) in API_ROUTES.items():

        def view(api: str = api, handler: Any = handler) -> Response:
            state.begin_call()
            try:
                return _serve_api(state, api, handler)
            finally:
                state.end_call()

        app.add_url_rule(path, endpoint=api, view_func=view, methods=[method])

    add_web_routes(app, state)

    @app.get("/__emulator/health")
    def health() -> Response:
        return jsonify(ok=True)

    @app.get("/__emulator/calls")
    def list_calls() -> Response:
        return jsonify(calls=state.calls(request.args.get("api")))

    @app.delete("/__emulator/calls")
    def clear_calls() -> Response:
        state.clear_calls()
        return jsonify(ok=True)

    @app.get("/__emulator/faults")
    def list_faults() -> Response:
        return jsonify(faults=state.faults())

    @app.post("/__emulator/faults")
    def add_fault() -> Response | tuple[Response, int]:
        body = _json_body() or {}
        api = body.get("api")
        if api != "*" and api not in API_ROUTES:
            return jsonify(error=f"unknown api {api!r}", apis=sorted(API_ROUTES)), 400
        fault = state.inject(
            api,
            errcode=body.get("errcode"),
            errmsg=body.get("errmsg"),
            http_status=body.get("http_status"),
            delay_seconds=body.get("delay_seconds") or 0.0,
            times=body.get("times", 1),
        )
        return jsonify(ok=True, fault=fault.as_dict())

    @app.delete("/__emulator/faults")
    def clear_faults() -> Response:
        state.clear_faults()
        return jsonify(ok=True)

    @app.post("/__emulator/expire_tokens")
    def expire_tokens() -> Response:
        state.expire_tokens()
        return jsonify(ok=True)

    @app.post("/__emulator/words")
    def set_words() -> Response:
        body = _json_body() or {}
        state.set_words(risky=body.get("risky"), review=body.get("review"))
        return jsonify(ok=True)

    @app.post("/__emulator/unsubscribed")
    def set_unsubscribed() -> Response:
        body = _json_body() or {}
        state.set_unsubscribed(body.get("openids") or [])
        return jsonify(ok=True)

    @app.post("/__emulator/reset")
    def reset() -> Response:
        state.reset()
        return jsonify(ok=True)

    return app


@dataclass
class EmulatorHandle:
    """A running emulator: ``url`` ends with "/" like WeChat's API base."""

    host: str
    port: int
    state: EmulatorState
    server: WsgiServer

    @property
    def url(self) -> str:
        """Base URL to use as WECHAT_API_BASE."""
        return f"http://{self.host}:{self.port}/"

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        self.server.stop()


def start_wechat_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    appid: str = DEFAULT_APPID,
    secret: str = DEFAULT_SECRET,
    oauth_appid: str = DEFAULT_OAUTH_APPID,
    oauth_secret: str = DEFAULT_OAUTH_SECRET,
) -> EmulatorHandle:
    """Serve the emulator from a background thread; port 0 picks a free port."""
    state = EmulatorState(
        appid=appid, secret=secret, oauth_appid=oauth_appid, oauth_secret=oauth_secret
    )
    server = WsgiServer(create_app(state), host, port, "wechat-emulator").start()
    return EmulatorHandle(host=host, port=server.port, state=state, server=server)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: serve in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Local WeChat API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--appid", default=DEFAULT_APPID)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    parser.add_argument("--oauth-appid", default=DEFAULT_OAUTH_APPID)
    parser.add_argument("--oauth-secret", default=DEFAULT_OAUTH_SECRET)
    args = parser.parse_args(argv)
    state = EmulatorState(
        appid=args.appid,
        secret=args.secret,
        oauth_appid=args.oauth_appid,
        oauth_secret=args.oauth_secret,
    )
    server = WsgiServer(create_app(state), args.host, args.port, "wechat-emulator")
    print(f"WeChat emulator on http://{args.host}:{server.port}/", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()


if __name__ == "__main__":
    main()

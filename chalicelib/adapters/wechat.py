"""The backend's only door to WeChat: wechatpy, a shared token in DynamoDB, one error hierarchy.

* The access token comes from ``POST cgi-bin/stable_token`` (never ``force_refresh``) and is
  shared by every Lambda instance through ``DynamoTokenStorage``.
* wechatpy's recursive ``auto_retry`` is off; on an expired token the gateway drops the stored
  token, fetches one once and retries the call once.
* Every failure surfaces as ``WeChatUnavailable`` (retryable) or ``WeChatRejected`` (not).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.oauth import WeChatOAuth
from wechatpy.session import SessionStorage

from chalicelib.config import Settings, get_settings

T = TypeVar("T")

TOKEN_SAFETY_SECONDS = 60
DEFAULT_TOKEN_TTL_SECONDS = 7200
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45011, 45033}) | TOKEN_ERRCODES
MINIPROGRAM_STATES = {"release": "formal", "trial": "trial", "develop": "developer"}
URL_LINK_MAX_DAYS = 30  # generate_urllink: expire_type 1 takes 1..30 days


class WeChatError(Exception):
    """A WeChat call failed; ``errcode`` is None for transport and HTTP failures."""

    retryable = False

    def __init__(self, errcode: int | None, errmsg: str, http_status: int | None = None) -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status


class WeChatUnavailable(WeChatError):
    """Transient failure (HTTP 5xx, timeout, connection, quota, system busy): retry later."""

    retryable = True


class WeChatUnconfirmed(WeChatUnavailable):
    """The request reached WeChat but no answer came in time: it may well have been done.

    Raised for a read timeout only (a connect timeout never reached WeChat: plain
    ``WeChatUnavailable``, retried). Sending a subscribe message again could reach the person
    twice (and spend a second one-time subscription), so notices are not re-sent: they are
    recorded as ``unconfirmed`` and listed with the failed notices for staff.
    """


class WeChatRejected(WeChatError):
    """WeChat refused the request itself (bad code, not subscribed, invalid argument …)."""

    retryable = False


def _classify(errcode: int | None, errmsg: str, http_status: int | None = None) -> WeChatError:
    if errcode is None:
        if http_status is None or http_status >= 500 or http_status == 429:
            return WeChatUnavailable(None, errmsg, http_status)
        return WeChatRejected(None, errmsg, http_status)
    if errcode in RETRYABLE_ERRCODES:
        return WeChatUnavailable(errcode, errmsg, http_status)
    return WeChatRejected(errcode, errmsg, http_status)


def _translate(exc: Exception) -> WeChatError:
    """Map wechatpy / requests exceptions onto the gateway's hierarchy."""
    if isinstance(exc, WeChatError):
        return exc
    if isinstance(exc, WeChatClientException):
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        if exc.errcode is None:
            return _classify(None, f"HTTP {status}", status)
        return _classify(int(exc.errcode), str(exc.errmsg), status)
    if isinstance(exc, requests.ReadTimeout):
        return WeChatUnconfirmed(None, f"no answer in time (request was sent): {exc}")
    if isinstance(exc, requests.Timeout):
        return WeChatUnavailable(None, f"timeout: {exc}")
    if isinstance(exc, requests.RequestException):
        return WeChatUnavailable(None, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ValueError):
        return WeChatUnavailable(None, f"unreadable answer: {exc}")
    raise exc


class DynamoTokenStorage(SessionStorage):
    """wechatpy session storage in the tokens table, with an in-process cache honouring expiry."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._cache: dict[str, tuple[str, float]] = {}

    def _model(self) -> Any:
        from chalicelib.store.models import TokenModel, bind_models

        bind_models(self._settings or get_settings())
        return TokenModel

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value, or ``default`` when missing or expired."""
        now = time.time()
        cached = self._cache.get(key)
        if cached and cached[1] > now:
            return cached[0]
        self._cache.pop(key, None)
        model = self._model()
        try:
            item = model.get(key, consistent_read=True)
        except model.DoesNotExist:
            return default
        expires_at = float(item.expires_at)
        if expires_at <= now:
            return default
        self._cache[key] = (item.value, expires_at)
        return item.value

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        """Store ``value`` until ``ttl`` seconds from now, minus a safety margin."""
        lifetime = int(ttl) if ttl else DEFAULT_TOKEN_TTL_SECONDS
        expires_at = int(time.time()) + lifetime - TOKEN_SAFETY_SECONDS
        model = self._model()
        model(key, value=str(value), expires_at=expires_at).save()
        self._cache[key] = (str(value), float(expires_at))

    def delete(self, key: str) -> None:
        """Forget the value here and in DynamoDB."""
        self._cache.pop(key, None)
        model = self._model()
        model(key, value="", expires_at=0).delete()


class _StableTokenClient(WeChatClient):
    """wechatpy client pointed at the configured base URL, fetching tokens via stable_token."""

    def __init__(self, settings: Settings, session: SessionStorage) -> None:
        super().__init__(
            settings.wechat_appid,
            settings.wechat_secret,
            session=session,
            timeout=settings.wechat_timeout_seconds,
            auto_retry=False,
        )
        self._api_base = settings.wechat_api_base
        self.API_BASE_URL = f"{settings.wechat_api_base}cgi-bin/"
        self.wxa.API_BASE_URL = settings.wechat_api_base

    def fetch_access_token(self) -> dict[str, Any]:
        """Get the shared token from ``cgi-bin/stable_token`` (no force_refresh) and store it."""
        res = self._http.post(
            url=f"{self._api_base}cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": False,
            },
            timeout=self.timeout,
        )
        try:
            res.raise_for_status()
        except requests.RequestException as reqe:
            raise WeChatClientException(
                errcode=None, errmsg=None, client=self, request=reqe.request, response=res
            ) from reqe
        result = res.json()
        if result.get("errcode", 0) != 0 or "access_token" not in result:
            raise WeChatClientException(
                result.get("errcode", -1),
                result.get("errmsg", "no access_token"),
                client=self,
                request=res.request,
                response=res,
            )
        expires_in = int(result.get("expires_in") or DEFAULT_TOKEN_TTL_SECONDS)
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result


class _WebOAuth(WeChatOAuth):
    """wechatpy's web OAuth (official account / website app) at the configured base URL,
    with the configured timeout (wechatpy's own sends none)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.oauth_appid, settings.oauth_secret, redirect_uri="")
        self.API_BASE_URL = settings.wechat_api_base
        self._timeout = settings.wechat_timeout_seconds

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return super()._request(method, url_or_endpoint, **kwargs)


class WeChatGateway:
    """Mini-program server APIs used by the backend (login, moderation, phone, QR, notices,
    URL Links) and the web OAuth exchange of the browser build."""

    def __init__(self, settings: Settings, token_storage: SessionStorage | None = None) -> None:
        self._settings = settings
        self._storage = token_storage or DynamoTokenStorage(settings)
        self._client: _StableTokenClient | None = None

    @property
    def client(self) -> _StableTokenClient:
        """The wechatpy client, created on first use."""
        if self._client is None:
            self._client = _StableTokenClient(self._settings, self._storage)
        return self._client

    def _call(self, operation: Callable[[_StableTokenClient], T]) -> T:
        """Run one API call; on an expired token refresh once and retry once."""
        client = self.client
        try:
            return operation(client)
        except (WeChatClientException, requests.RequestException, ValueError) as exc:
            error = _translate(exc)
            if error.errcode not in TOKEN_ERRCODES:
                raise error from exc
        self._storage.delete(client.access_token_key)
        client.expires_at = None
        try:
            client.fetch_access_token()
            return operation(client)
        except (WeChatClientException, requests.RequestException, ValueError) as exc:
            raise _translate(exc) from exc

    def code_to_session(self, code: str) -> dict[str, Any]:
        """Exchange a ``wx.login`` code: {"openid", "session_key", "unionid"?}."""
        result = self._call(lambda c: c.wxa.code_to_session(code))
        return {k: result[k] for k in ("openid", "session_key", "unionid") if k in result}

    def oauth_session(self, code: str) -> dict[str, Any]:
        """Exchange a web OAuth code (``sns/oauth2/access_token``): {"openid", "unionid"?,
        "scope"}. Needs the OAuth app (``WECHAT_OAUTH_APPID``/``SECRET``); no access token."""
        if not self._settings.oauth_appid or not self._settings.oauth_secret:
            raise WeChatRejected(None, "web OAuth app not configured")
        try:
            result = _WebOAuth(self._settings).fetch_access_token(code)
        except (WeChatClientException, requests.RequestException, ValueError) as exc:
            raise _translate(exc) from exc
        return {k: result[k] for k in ("openid", "unionid", "scope") if k in result}

    def url_link(self, path: str, query: str, days: int = URL_LINK_MAX_DAYS) -> str:
        """A URL Link (``wxa/generate_urllink``) opening the mini-program at ``path?query``,
        valid for ``days`` (1..30) days."""
        data = {
            "path": path,
            "query": query,
            "expire_type": 1,
            "expire_interval": max(1, min(URL_LINK_MAX_DAYS, days)),
            "env_version": self._settings.qrcode_env_version,
        }
        result = self._call(lambda c: c.wxa._post("wxa/generate_urllink", data=data))
        link = result.get("url_link") if isinstance(result, dict) else None
        if not link:
            raise WeChatUnavailable(None, f"generate_urllink answered no url_link: {result}")
        return str(link)

    def check_text(self, openid: str, text: str, scene: int = 3) -> str:
        """Content security v2: "pass", "review" or "risky" (scene 3 = forum / comment)."""
        data = {"content": text, "version": 2, "scene": scene, "openid": openid}
        result = self._call(lambda c: c.wxa._post("wxa/msg_sec_check", data=data))
        suggest = (result.get("result") or {}).get("suggest")
        if suggest not in ("pass", "review", "risky"):
            raise WeChatUnavailable(None, f"msg_sec_check answered no suggestion: {result}")
        return suggest

    def phone_number(self, code: str) -> str:
        """The phone number behind a ``getPhoneNumber`` code (each code works once)."""
        data = {"code": code}
        result = self._call(lambda c: c.wxa._post("wxa/business/getuserphonenumber", data=data))
        return str(result["phone_info"]["purePhoneNumber"])

    def station_qrcode(
        self, scene: str, page: str, env_version: str = "release", width: int = 430
    ) -> bytes:
        """PNG of an unlimited mini-program code opening ``page`` with ``scene``."""
        data = {
            "scene": scene,
            "page": page,
            "check_path": env_version == "release",
            "env_version": env_version,
            "width": width,
        }
        result = self._call(lambda c: c.wxa._post("wxa/getwxacodeunlimit", data=data))
        if isinstance(result, dict):
            raise _classify(result.get("errcode", -1), str(result.get("errmsg", result)))
        content_type = result.headers.get("Content-Type", "")
        if "json" in content_type:
            body = result.json()
            raise _classify(body.get("errcode", -1), str(body.get("errmsg", body)))
        return result.content

    def send_subscribe(
        self, openid: str, template_id: str, data: dict, page: str | None = None
    ) -> str | None:
        """Send a subscribe message; ``data`` values may be plain strings. Returns the msgid."""
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {
                key: value if isinstance(value, dict) else {"value": str(value)}
                for key, value in data.items()
            },
            "miniprogram_state": MINIPROGRAM_STATES.get(
                self._settings.qrcode_env_version, "formal"
            ),
            "lang": "zh_CN",
        }
        if page:
            payload["page"] = page
        result = self._call(lambda c: c.wxa._post("cgi-bin/message/subscribe/send", data=payload))
        msgid = result.get("msgid")
        return None if msgid is None else str(msgid)


_gateways: dict[Settings, WeChatGateway] = {}


def get_gateway(settings: Settings | None = None) -> WeChatGateway:
    """One gateway per settings per process, so a warm Lambda keeps its token cache."""
    settings = settings or get_settings()
    gateway = _gateways.get(settings)
    if gateway is None:
        gateway = _gateways[settings] = WeChatGateway(settings)
    return gateway

"""Login: a WeChat code becomes a user and a session token.

Two paths, one user per person: the mini-program's `wx.login` code (`jscode2session`) and the
browser build's web OAuth code (`sns/oauth2/access_token`); users are linked by `unionid`
(`chalicelib.auth.users`).
"""

from __future__ import annotations

from chalicelib.auth.tokens import issue_token
from chalicelib.auth.users import MINI_PROGRAM, WEB, principal_of, user_for_login
from chalicelib.bootstrap import Services
from chalicelib.errors import InvalidField, ServiceUnavailable, Unauthorized
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import UserModel

log = get_logger("auth")
MAX_CODE = 128


def _code(code: object) -> str:
    if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE:
        raise InvalidField("登录码缺失或格式不正确", field="code")
    return code.strip()


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("微信服务暂时不可用，请稍后重试", code="wechat_unavailable")


def _answer(services: Services, user: UserModel, via: str) -> dict:
    """The session of `user`: `{"token", "expires_in", "user": {...}}`."""
    principal = principal_of(user)
    settings = services.settings
    token = issue_token(principal, settings.session_secret, settings.session_ttl_seconds)
    log_event(log, "login", user_id=user.id, roles=list(principal.roles), via=via)
    return {
        "token": token,
        "expires_in": settings.session_ttl_seconds,
        "user": {
            "id": user.id,
            "roles": list(principal.roles),
            "deputy_id": principal.deputy_id,
            "station_id": principal.station_id,
            "district_id": principal.district_id,
            "city_id": principal.city_id,
            "department_id": principal.department_id,
        },
    }


def login(services: Services, code: object) -> dict:
    """Exchange a `wx.login` code for `{"token", "user": {"id", "roles"}}`."""
    from chalicelib.adapters.wechat import WeChatRejected, WeChatUnavailable

    code = _code(code)
    try:
        session = services.wechat.code_to_session(code)
    except WeChatRejected:
        raise InvalidField(
            "登录码无效或已过期，请重新登录", field="code", code="invalid_code"
        ) from None
    except WeChatUnavailable:
        raise _unavailable() from None
    user = user_for_login(
        services.settings.wechat_appid, MINI_PROGRAM, session["openid"], session.get("unionid")
    )
    return _answer(services, user, MINI_PROGRAM)


def oauth_login(services: Services, code: object) -> dict:
    """Exchange a web OAuth code (browser build) for the same answer as `login`.

    401 `invalid_code` (field `code`) when WeChat refuses the code (invalid, expired, used);
    503 when WeChat cannot answer or no OAuth app is configured.
    """
    from chalicelib.adapters.wechat import WeChatRejected, WeChatUnavailable

    code = _code(code)
    settings = services.settings
    if not settings.oauth_appid or not settings.oauth_secret:
        raise ServiceUnavailable("网页登录未开通，请在微信小程序中使用", code="oauth_disabled")
    try:
        session = services.wechat.oauth_session(code)
    except WeChatRejected as error:
        log_event(log, "oauth code refused", errcode=error.errcode)
        raise Unauthorized(
            "登录码 code 无效、已过期或已使用，请重新登录", field="code", code="invalid_code"
        ) from None
    except WeChatUnavailable:
        raise _unavailable() from None
    user = user_for_login(settings.oauth_appid, WEB, session["openid"], session.get("unionid"))
    return _answer(services, user, WEB)

"""Login: a WeChat login code becomes a user and a session token."""

from __future__ import annotations

from chalicelib.auth.tokens import issue_token
from chalicelib.auth.users import get_or_create_user, principal_of
from chalicelib.bootstrap import Services
from chalicelib.errors import InvalidField, ServiceUnavailable
from chalicelib.observability import get_logger, log_event

log = get_logger("auth")


def login(services: Services, code: object) -> dict:
    """Exchange a `wx.login` code for `{"token", "user": {"id", "roles"}}`."""
    from chalicelib.adapters.wechat import WeChatRejected, WeChatUnavailable

    if not isinstance(code, str) or not code.strip() or len(code) > 128:
        raise InvalidField("登录码缺失或格式不正确", field="code")
    try:
        session = services.wechat.code_to_session(code.strip())
    except WeChatRejected:
        raise InvalidField(
            "登录码无效或已过期，请重新登录", field="code", code="invalid_code"
        ) from None
    except WeChatUnavailable:
        raise ServiceUnavailable(
            "微信服务暂时不可用，请稍后重试", code="wechat_unavailable"
        ) from None
    user = get_or_create_user(services.settings.wechat_appid, session["openid"])
    principal = principal_of(user)
    settings = services.settings
    token = issue_token(principal, settings.session_secret, settings.session_ttl_seconds)
    log_event(log, "login", user_id=user.id, roles=list(principal.roles))
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

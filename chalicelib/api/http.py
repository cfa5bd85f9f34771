"""Request helpers shared by the blueprints: body parsing, the caller, roles."""

from __future__ import annotations

import json

from chalice.app import Request

from chalicelib.auth.tokens import Principal, bearer_token, verify_token
from chalicelib.bootstrap import services
from chalicelib.errors import BadRequest, Forbidden, PayloadTooLarge

MAX_BODY_BYTES = 64 * 1024


def json_body(request: Request) -> dict:
    """The request's JSON object body; 413 over 64 KB, 400 when not a JSON object."""
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge("请求内容过大（上限 64 KB）", code="body_too_large")
    if not raw.strip():
        raise BadRequest("请求内容不能为空", code="empty_body")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("请求内容不是合法的 JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest("请求内容必须是 JSON 对象", code="invalid_body")
    return body


def caller(request: Request) -> Principal:
    """The authenticated caller (401 without a valid token)."""
    return verify_token(bearer_token(request.headers or {}), services().settings.session_secret)


def require_any_role(principal: Principal, *roles: str) -> None:
    """403 unless the caller has one of `roles`."""
    if not any(principal.has(role) for role in roles):
        raise Forbidden("没有权限进行此操作", code="forbidden_role")


def query_param(request: Request, name: str) -> str | None:
    """A query-string value (None when absent)."""
    return (request.query_params or {}).get(name)

"""Request helpers shared by the blueprints: body parsing, the caller, roles, query values."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable

from chalice import Chalice
from chalice.app import ChaliceUnhandledError, ChaliceViewError, Request

from chalicelib.auth.tokens import Principal, bearer_token, verify_token
from chalicelib.bootstrap import services
from chalicelib.errors import AppError, BadRequest, Forbidden, InvalidField, PayloadTooLarge

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
ASCII_INT = re.compile(r"[0-9]{1,4}")
TOO_DEEP = "请求内容嵌套层级过深"
BAD_CHARACTERS = "包含无法识别的字符"


class NotAcceptable(AppError):
    status = 406
    code = "not_acceptable"


class UnhandledViewError(ChaliceUnhandledError):
    """An unexpected failure in a view, carried to the error middleware (cause attached)."""


def json_body(request: Request) -> dict:
    """The request's JSON object body.

    413 over 64 KB; 400 when not a JSON object or nested too deep; 422 naming the field
    when a string holds a lone surrogate (text no store or service can encode).
    """
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge("请求内容过大（上限 64 KB）", code="body_too_large")
    if not raw.strip():
        raise BadRequest("请求内容不能为空", code="empty_body")
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadRequest(TOO_DEEP, code="body_too_deep") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("请求内容不是合法的 JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest("请求内容必须是 JSON 对象", code="invalid_body")
    _check_values(body)
    return body


def _check_values(body: dict) -> None:
    """400 past `MAX_JSON_DEPTH` levels; 422 on the first string with a lone surrogate."""
    pending: list[tuple[object, str | None, int]] = [(body, None, 1)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(TOO_DEEP, code="body_too_deep")
        if isinstance(value, str):
            if LONE_SURROGATE.search(value):
                raise InvalidField(BAD_CHARACTERS, field=path, code="invalid_characters")
        elif isinstance(value, dict):
            children = []
            for key, item in value.items():
                if LONE_SURROGATE.search(key):
                    raise InvalidField(BAD_CHARACTERS, field=path, code="invalid_characters")
                children.append((item, f"{path}.{key}" if path else key, depth + 1))
            pending.extend(reversed(children))
        elif isinstance(value, list):
            children = [(item, f"{path}[{n}]", depth + 1) for n, item in enumerate(value)]
            pending.extend(reversed(children))


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


def int_param(
    request: Request, name: str, *, default: int, low: int, high: int, message: str
) -> int:
    """A whole number in `low`..`high` from the query string (`default` when absent or empty).

    Only ASCII digits count: `str.isdigit` also accepts "²" or "١", which `int` refuses.
    """
    value = query_param(request, name)
    if value is None or value == "":
        return default
    if not ASCII_INT.fullmatch(value) or not low <= int(value) <= high:
        raise InvalidField(message, field=name)
    return int(value)


def require_accept(request: Request, media_type: str) -> None:
    """406 unless the `Accept` header admits `media_type` (API Gateway needs it for binaries)."""
    accept = ((request.headers or {}).get("accept") or "").lower()
    ranges = {part.split(";")[0].strip() for part in accept.split(",")}
    if "*/*" not in accept and media_type not in ranges:
        raise NotAcceptable(
            f"该地址返回 {media_type} 图片，请在请求头中加上 Accept: {media_type}",
            field="Accept",
        )


def guard_views(app: Chalice) -> None:
    """Let every route's unexpected exception reach the app's error middleware.

    Chalice turns an exception raised in a view into its own 500 before any middleware
    sees it; only `ChaliceUnhandledError` passes through. Idempotent.
    """
    for methods in app.routes.values():
        for entry in methods.values():
            if not getattr(entry.view_function, "ssp_guarded", False):
                entry.view_function = _guarded(entry.view_function)


def _guarded(view: Callable) -> Callable:
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except (ChaliceUnhandledError, ChaliceViewError):
            raise
        except Exception as error:
            raise UnhandledViewError(f"{type(error).__name__} in {view.__name__}") from error

    guarded.ssp_guarded = True
    return guarded

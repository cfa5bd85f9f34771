"""Signed, expiring session tokens (HMAC-SHA256), carried as `Authorization: Bearer`.

The token holds the user's id, openid, roles and scope, so a request needs no
DynamoDB read to know who is calling. Role changes apply at the next login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field

from chalicelib.errors import Unauthorized

ROLES = ("citizen", "deputy", "station_staff", "district_staff", "city_staff", "handler")
STAFF_ROLES = ("station_staff", "district_staff", "city_staff")
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user and what the roles bind them to."""

    user_id: str
    openid: str
    roles: tuple[str, ...]
    deputy_id: str | None = None
    station_id: str | None = None
    district_id: str | None = None
    city_id: str | None = None
    department_id: str | None = None
    extra: dict = field(default_factory=dict)

    def has(self, role: str) -> bool:
        return role in self.roles


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def issue_token(
    principal: Principal, secret: str, ttl_seconds: int, now: float | None = None
) -> str:
    """A token for `principal` valid for `ttl_seconds`."""
    now = time.time() if now is None else now
    claims = {
        "sub": principal.user_id,
        "oid": principal.openid,
        "roles": list(principal.roles),
        "dep": principal.deputy_id,
        "sta": principal.station_id,
        "dis": principal.district_id,
        "cty": principal.city_id,
        "dpt": principal.department_id,
        "exp": int(now + ttl_seconds),
    }
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, payload)}"


def verify_token(token: str, secret: str, now: float | None = None) -> Principal:
    """The principal of a valid token; `Unauthorized` when forged, malformed or expired."""
    now = time.time() if now is None else now
    if not TOKEN_SHAPE.fullmatch(token):
        # compare_digest refuses non-ASCII text with a TypeError: check the alphabet first.
        raise Unauthorized("登录凭证无效，请重新登录", code="invalid_token")
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        raise Unauthorized("登录凭证无效，请重新登录", code="invalid_token")
    try:
        claims = json.loads(_unb64(payload))
    except ValueError:
        raise Unauthorized("登录凭证无效，请重新登录", code="invalid_token") from None
    if claims.get("exp", 0) < now:
        raise Unauthorized("登录已过期，请重新登录", code="token_expired")
    return Principal(
        user_id=claims["sub"],
        openid=claims["oid"],
        roles=tuple(claims["roles"]),
        deputy_id=claims.get("dep"),
        station_id=claims.get("sta"),
        district_id=claims.get("dis"),
        city_id=claims.get("cty"),
        department_id=claims.get("dpt"),
    )


def bearer_token(headers: dict) -> str:
    """The token of an `Authorization: Bearer …` header; `Unauthorized` when absent."""
    value = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("请先登录", code="missing_token")
    return token.strip()

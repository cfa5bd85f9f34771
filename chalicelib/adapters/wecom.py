"""The backend's only door to WeCom (企业微信) group robots (``cgi-bin/webhook/send``).

* ``send_markdown`` posts one markdown message; ``send_digest`` splits long content with
  ``split_markdown`` (each part ≤ 4096 UTF-8 bytes) and posts the parts in order.
* Every failure surfaces as ``WeComUnavailable`` (retryable: 45009 rate limit, -1 system busy,
  HTTP 5xx/429, timeouts, connection errors, unreadable answers) or ``WeComRejected`` (not
  retryable: 93000 invalid webhook url, 40058 content too long, any other errcode). Nothing here
  sleeps or retries: on 45009 (``.rate_limited``: 20 messages a minute per robot) the caller
  tries again a minute later; notice delivery also counts each robot's messages per minute
  before sending (``robot_fingerprint`` names the robot there).
* The robot key is a secret: it never appears in exception messages (they show ``mask_key``),
  exceptions do not chain the ``requests`` errors (whose text and request carry the URL), and
  urllib3's debug log lines have ``key=`` values scrubbed.

Configuration comes from the environment, read at each send: ``WECOM_WEBHOOK_BASE`` (default
``https://qyapi.weixin.qq.com/cgi-bin/webhook/send``), ``WECOM_TIMEOUT_SECONDS`` (default 5).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from typing import Any

import requests

DEFAULT_WEBHOOK_BASE = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_CONTENT_BYTES = 4096
CONTINUATION = "（续）\n"
RETRYABLE_ERRCODES = frozenset({-1, 45009})
RATE_LIMITED = 45009

_KEY_IN_TEXT = re.compile(r"(key=)[^&\s\"'<>]+", re.IGNORECASE)


class WeComError(Exception):
    """A robot send failed; ``errcode`` is WeCom's (None for transport and HTTP failures).

    ``sent`` tells ``send_digest``'s caller how many parts were delivered before the failure."""

    retryable = False

    def __init__(self, errcode: int | None, message: str, *, http_status: int | None = None):
        super().__init__(f"WeCom robot error {errcode}: {message}")
        self.errcode = errcode
        self.message = message
        self.http_status = http_status
        self.sent = 0

    @property
    def rate_limited(self) -> bool:
        """The robot's 20-messages-a-minute limit was hit (retry in a minute)."""
        return self.errcode == RATE_LIMITED


class WeComUnavailable(WeComError):
    """Transient failure (rate limit, system busy, 5xx, timeout, connection): retry later."""

    retryable = True


class WeComRejected(WeComError):
    """WeCom refused the message itself (invalid webhook key, content too long …)."""

    retryable = False


def mask_key(key: str) -> str:
    """A robot key fit for messages and logs: its last 4 characters at most."""
    if not key:
        return "<empty>"
    if len(key) <= 8:
        return "****"
    return f"****{key[-4:]}"


def robot_fingerprint(key: str) -> str:
    """A stable name of the robot ``key`` that reveals nothing of it (16 hex digits of SHA-256):
    fit for ledger keys and logs."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _scrub(text: str, key: str) -> str:
    """``text`` with the key (and any ``key=…`` query value) masked."""
    if key:
        text = text.replace(key, mask_key(key))
    return _KEY_IN_TEXT.sub(r"\1****", text)


class _ScrubKeyFilter(logging.Filter):
    """Masks ``key=…`` in urllib3's log lines (it logs request URLs at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is urllib3's problem, not ours
            return True
        if "key=" in message.lower():
            record.msg = _KEY_IN_TEXT.sub(r"\1****", message)
            record.args = ()
        return True


_URLLIB3_LOGGER = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _ScrubKeyFilter) for f in _URLLIB3_LOGGER.filters):
    _URLLIB3_LOGGER.addFilter(_ScrubKeyFilter())


def classify(errcode: int | None, message: str, http_status: int | None = None) -> WeComError:
    """The adapter's exception for an errcode (or, errcode None, an HTTP status)."""
    if errcode is None:
        retryable = http_status is None or http_status >= 500 or http_status == 429
    else:
        retryable = errcode in RETRYABLE_ERRCODES
    kind = WeComUnavailable if retryable else WeComRejected
    return kind(errcode, message, http_status=http_status)


def split_markdown(
    content: str, limit: int = MAX_CONTENT_BYTES, *, continuation: str = CONTINUATION
) -> list[str]:
    """Split ``content`` into parts of at most ``limit`` UTF-8 bytes each.

    Splits on line boundaries (the newline between two parts is dropped); a single line too long
    for a part is hard-split between characters (never inside a multi-byte character). Every part
    after the first starts with ``continuation`` (counted in ``limit``); parts that would hold
    blank lines only are dropped. Empty content → []."""
    if not content:
        return []
    if _size(content) <= limit:
        return [content]
    prefix_size = _size(continuation)
    if limit - prefix_size < 4:  # room for at least one character of any size
        raise ValueError(f"limit {limit} leaves no room after the continuation prefix")

    parts: list[str] = []
    lines: list[str] = []  # lines of the part being filled
    used = 0  # its size in bytes, prefix included

    def budget() -> int:
        return limit - (prefix_size if parts else 0)

    def flush() -> None:
        nonlocal lines, used
        text = "\n".join(lines)
        if text.strip():  # a part of blank lines only is not worth a message
            parts.append(continuation + text if parts else text)
        lines, used = [], 0

    for line in content.split("\n"):
        size = _size(line)
        needed = size + (1 if lines else 0)
        if lines and used + needed <= budget():
            lines.append(line)
            used += needed
            continue
        flush()
        if size <= budget():
            lines, used = [line], size
            continue
        # One line longer than a whole part: cut it between characters.
        chunk: list[str] = []
        chunk_size = 0
        for char in line:
            char_size = _size(char)
            if chunk_size + char_size > budget():
                lines, used = ["".join(chunk)], chunk_size
                flush()
                chunk, chunk_size = [], 0
            chunk.append(char)
            chunk_size += char_size
        lines, used = ["".join(chunk)], chunk_size
    flush()
    return parts


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


class WeComRobot:
    """Posts markdown to WeCom group robots; one instance may serve any number of keys."""

    def __init__(
        self,
        webhook_base: str | None = None,
        timeout_seconds: float | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self._webhook_base = webhook_base
        self._timeout_seconds = timeout_seconds
        self._session = session

    @property
    def webhook_base(self) -> str:
        """The send URL without ``?key=`` (``WECOM_WEBHOOK_BASE`` unless given)."""
        return self._webhook_base or os.environ.get("WECOM_WEBHOOK_BASE") or DEFAULT_WEBHOOK_BASE

    @property
    def timeout_seconds(self) -> float:
        """Connect and read timeout of one send (``WECOM_TIMEOUT_SECONDS`` unless given)."""
        if self._timeout_seconds is not None:
            return float(self._timeout_seconds)
        return float(os.environ.get("WECOM_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)

    @property
    def session(self) -> requests.Session:
        """The HTTP session, created on first use (a warm Lambda keeps its connections)."""
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def send_markdown(self, key: str, content: str) -> None:
        """Post one markdown message to the robot ``key``; raises ``WeComError`` on failure."""
        self._post(key, {"msgtype": "markdown", "markdown": {"content": content}})

    def send_digest(self, key: str, content: str) -> int:
        """Post ``content`` split into parts (``split_markdown``) in order; how many were sent.

        On a failure the raised ``WeComError`` has ``.sent`` = parts delivered before it."""
        sent = 0
        for part in split_markdown(content):
            try:
                self.send_markdown(key, part)
            except WeComError as exc:
                exc.sent = sent
                raise
            sent += 1
        return sent

    def _post(self, key: str, body: dict[str, Any]) -> None:
        timeout = self.timeout_seconds
        try:
            response = self.session.post(
                self.webhook_base, params={"key": key}, json=body, timeout=timeout
            )
        except requests.Timeout:
            raise WeComUnavailable(None, f"no answer within {timeout:g}s") from None
        except requests.RequestException as exc:
            # Not chained: the exception's text and request hold the URL, key included.
            detail = _scrub(f"{type(exc).__name__}: {exc}", key)
            raise WeComUnavailable(None, detail) from None
        status = response.status_code
        if status != 200:
            raise classify(None, f"HTTP {status}", status)
        try:
            answer = response.json()
            errcode = int(answer.get("errcode", -1))
            errmsg = str(answer.get("errmsg", ""))
        except (ValueError, TypeError, AttributeError):
            raise WeComUnavailable(
                None, f"unreadable answer: {_scrub(response.text[:200], key)!r}", http_status=status
            ) from None
        if errcode != 0:
            raise classify(errcode, f"{_scrub(errmsg, key)} (robot {mask_key(key)})", status)


_robot: WeComRobot | None = None


def get_wecom_robot() -> WeComRobot:
    """One robot client per process (it reads the environment at each send)."""
    global _robot
    if _robot is None:
        _robot = WeComRobot()
    return _robot

"""Structured JSON logs with a request id; phone numbers never leave unmasked."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# A mainland mobile number: an optional +86 / 0086 / 86 prefix, then 1[3-9]x xxxx xxxx,
# the groups optionally separated by one hyphen or space.
_PHONE = re.compile(
    r"(?<!\d)(?P<prefix>(?:\+|00)?86[- ]?)?"
    r"(?P<head>1[3-9]\d)(?P<sep1>[- ]?)\d{4}(?P<sep2>[- ]?)(?P<tail>\d{4})(?!\d)"
)


def _masked(match: re.Match) -> str:
    prefix, head, tail = match.group("prefix") or "", match.group("head"), match.group("tail")
    return f"{prefix}{head}{match.group('sep1')}****{match.group('sep2')}{tail}"


def mask_phone(text: str) -> str:
    """Mask every mainland mobile number in `text`: 13800138000 → 138****8000.

    Also +8613800138000 → +86138****8000 and 138-0013-8000 → 138-****-8000.
    """
    return _PHONE.sub(_masked, text)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_phone(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(*others: logging.Logger, level: int = logging.INFO) -> None:
    """Route the app's loggers through the JSON formatter (idempotent).

    `others` (e.g. Chalice's `app.log`) keep their handlers but format as JSON too.
    """
    for logger in others:
        for handler in logger.handlers:
            handler.setFormatter(JsonFormatter())
    root = logging.getLogger("ssp")
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


def get_logger(name: str) -> logging.Logger:
    """A logger under the app's JSON-formatted root."""
    return logging.getLogger(f"ssp.{name}")


def log_event(logger: logging.Logger, message: str, level: int = logging.INFO, **fields) -> None:
    """Log `message` with structured `fields`."""
    logger.log(level, message, extra={"fields": fields})

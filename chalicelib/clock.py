"""Time in one place, so schedules and tests agree on what "now" is."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def now_iso() -> str:
    """The current UTC time as sortable ISO 8601 with microseconds."""
    return utcnow().isoformat(timespec="microseconds")

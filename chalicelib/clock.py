"""Time in one place, so schedules and tests agree on what "now" is."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def now_iso() -> str:
    """The current UTC time as sortable ISO 8601 with microseconds."""
    return iso_utc(utcnow())


def iso_utc(moment: datetime | float) -> str:
    """A moment (aware datetime or epoch seconds) as UTC ISO 8601 with microseconds, the
    sortable form stored in every `*_at` attribute."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")

"""Scheduled staff digests: daily at 09:00 Beijing time, weekly on Monday (cron is UTC)."""

from __future__ import annotations

from chalice import Blueprint, Cron

from chalicelib.bootstrap import services

blueprint = Blueprint(__name__)


@blueprint.schedule(Cron(0, 1, "*", "*", "?", "*"))
def daily_digest(event):
    """Yesterday's digest for every city, district and station (09:00 Beijing = 01:00 UTC)."""
    from chalicelib.digests.digest import send_digests

    return send_digests(services(), "daily")


@blueprint.schedule(Cron(0, 1, "?", "*", "MON", "*"))
def weekly_digest(event):
    """Last week's digest, on Monday mornings."""
    from chalicelib.digests.digest import send_digests

    return send_digests(services(), "weekly")

"""Scheduled micro-topic job: every day at 09:30 Beijing time (01:30 UTC)."""

from __future__ import annotations

from chalice import Blueprint, Cron

from chalicelib.bootstrap import services

blueprint = Blueprint(__name__)


@blueprint.schedule(Cron(30, 1, "*", "*", "?", "*"))
def open_topics(event):
    """Group the window's reports; open topics at the threshold and link later reports."""
    from chalicelib.topics import run_topic_job

    return run_topic_job(services())

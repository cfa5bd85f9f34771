"""Scheduled workflow functions: acting on reports whose current step is due."""

from __future__ import annotations

from chalice import Blueprint, Rate

from chalicelib.bootstrap import services

blueprint = Blueprint(__name__)


@blueprint.schedule(Rate(15, unit=Rate.MINUTES))
def sweep_due_reports(event):
    """Every 15 minutes: missed matching, the overdue ladder, unevaluated reports."""
    from chalicelib.workflow.jobs import sweep_due_reports as sweep

    return sweep(services())

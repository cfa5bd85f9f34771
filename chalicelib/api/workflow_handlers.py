"""Scheduled workflow functions: acting on reports whose current step is due."""

from __future__ import annotations

from chalice import Blueprint, Rate

from chalicelib.bootstrap import services

blueprint = Blueprint(__name__)


@blueprint.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_due_reports(event):
    """Match reports whose matching did not run; close reports left unevaluated."""
    from chalicelib.workflow.jobs import sweep_due_reports as sweep

    return sweep(services())

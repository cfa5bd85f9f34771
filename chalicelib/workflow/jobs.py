"""Background work of the workflow: matching new reports and acting on due steps."""

from __future__ import annotations

from datetime import datetime

from chalicelib.bootstrap import Services
from chalicelib.clock import utcnow
from chalicelib.errors import AppError
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import ReportModel
from chalicelib.workflow import operations
from chalicelib.workflow.engine import DUE_SHARDS

log = get_logger("workflow.jobs")


def run_job(services: Services, job: dict) -> None:
    """Run one queued workflow job (`{"job": "match", "report_id": …}`)."""
    if job.get("job") == "match":
        operations.match_report(services, job["report_id"])
    else:
        log_event(log, "unknown job ignored", job=job)


def due_reports(now: datetime, limit_per_shard: int = 1000) -> list[ReportModel]:
    """Reports whose current step is due, from the sparse due index (no Scan)."""
    found = []
    for shard in range(DUE_SHARDS):
        found += list(
            ReportModel.due.query(
                str(shard), ReportModel.due_at <= now.isoformat(), limit=limit_per_shard
            )
        )
    return found


def sweep_due_reports(services: Services, now: datetime | None = None) -> dict[str, int]:
    """Act on every due step: run missed matching, take the next rung of the overdue
    ladder (reminders, re-offers, station → district → city, for every step with a
    deadline: offer, assign, answer, handling, work order, second handling, escalated),
    close unevaluated reports.

    Reads only due items (sparse, sharded index). A step another sweep took first
    is skipped: every action is a conditional transition.
    """
    from chalicelib.escalation.ladder import advance

    now = now or utcnow()
    done: dict[str, int] = {"read": 0}
    for item in due_reports(now):
        done["read"] += 1
        try:
            if item.due_kind == "match":
                operations.match_report(services, item.id)
                outcome = "matched"
            elif item.due_kind == "evaluation":
                outcome = "closed" if operations.expire_evaluation(services, item.id) else None
            else:
                outcome = advance(services, item.id, now)
        except AppError as error:
            log_event(
                log, "due step skipped", report_id=item.id, kind=item.due_kind, error=error.message
            )
            continue
        except Exception:
            log.exception("due step failed", extra={"fields": {"report_id": item.id}})
            done["errors"] = done.get("errors", 0) + 1
            continue
        if outcome:
            done[outcome] = done.get(outcome, 0) + 1
    return done

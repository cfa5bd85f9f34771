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


def due_reports(now: datetime, limit_per_shard: int = 100) -> list[ReportModel]:
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
    """Act on due steps: match reports whose matching did not run, close unevaluated ones."""
    now = now or utcnow()
    done = {"match": 0, "evaluation": 0}
    for item in due_reports(now):
        try:
            if item.due_kind == "match":
                operations.match_report(services, item.id)
                done["match"] += 1
            elif item.due_kind == "evaluation":
                if operations.expire_evaluation(services, item.id):
                    done["evaluation"] += 1
        except AppError as error:
            log_event(
                log, "due step skipped", report_id=item.id, kind=item.due_kind, error=error.message
            )
    return done

"""What a report adds to the figures once it is admitted.

A report is admitted when it is first matched: right after intake when the content
check passed, or after staff released it from review. Only then does it count as a
new report (statistics, a deputy's +0.3 for a valid report filed) and join the
micro-topic log, so a report refused by review never shows in the figures. The
steps below go into the matching transition's own transaction, which is
conditioned on the report still being `submitted`: they are applied exactly once.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.store.models import ReportModel
from chalicelib.topics import log_for_topics
from chalicelib.workflow.engine import Count, Step, beijing_day


def admission_counts(report: ReportModel) -> list[Count]:
    """Counters a newly admitted report adds to, under the Beijing day it was submitted."""
    day = beijing_day(datetime.fromisoformat(report.created_at))
    counts = [
        Count("submitted", day=day),
        Count(f"category:{report.category}", scopes=("district", "city"), day=day),
    ]
    if report.station_id:
        counts.append(Count(f"station:{report.station_id}", scopes=("district", "city"), day=day))
    if report.filed_by_deputy:
        counts.append(Count("filed", scopes=(f"deputy:{report.filed_by_deputy}",), day=day))
    return counts


def admission_steps(report: ReportModel) -> list[Step]:
    """Transaction steps other than counters: the report's entry in the micro-topic log."""
    return [log_for_topics(report)]

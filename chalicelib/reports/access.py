"""Who may read a report: its reporter, its matched deputies, and staff of its place."""

from __future__ import annotations

from chalicelib.auth.tokens import Principal
from chalicelib.store.models import ReportModel


def is_staff_of(principal: Principal, report: ReportModel) -> bool:
    """Whether the caller is staff of the report's station, district or city."""
    return (
        (
            principal.has("station_staff")
            and bool(report.station_id)
            and principal.station_id == report.station_id
        )
        or (
            principal.has("district_staff")
            and bool(report.district_id)
            and principal.district_id == report.district_id
        )
        or (
            principal.has("city_staff")
            and bool(report.city_id)
            and principal.city_id == report.city_id
        )
    )


def is_matched_deputy(principal: Principal, report: ReportModel) -> bool:
    """Whether the caller is a deputy the report was offered to (never while under review)."""
    return (
        principal.has("deputy")
        and principal.deputy_id is not None
        and report.moderation == "pass"
        and principal.deputy_id in (report.matched_deputy_ids or [])
    )


def is_handler_of(principal: Principal, report: ReportModel) -> bool:
    """Whether the caller handles the report's work order for its department."""
    return (
        principal.has("handler")
        and report.department_id is not None
        and principal.department_id == report.department_id
    )


def can_read(principal: Principal, report: ReportModel) -> bool:
    """Whether the caller may see the report at all (others are told it does not exist)."""
    return (
        report.reporter_id == principal.user_id
        or principal.user_id in (report.followers or [])
        or is_matched_deputy(principal, report)
        or is_handler_of(principal, report)
        or is_staff_of(principal, report)
    )

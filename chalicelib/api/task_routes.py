"""Routes: deputies' tasks, accepting and declining, triage, handling, evaluation, staff views."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import caller, int_param, json_body, query_param, require_any_role
from chalicelib.bootstrap import services
from chalicelib.errors import Forbidden, InvalidField
from chalicelib.reports.reading import station_name, timeline
from chalicelib.reports.views import report_view
from chalicelib.workflow import operations, work_orders
from chalicelib.workflow.tasks import DEPUTY_FILTERS, deputy_tasks, failed_notices
from chalicelib.workflow.work_orders import ORDER_FILTERS

blueprint = Blueprint(__name__)


def _answer(report, principal):
    svc = services()
    return report_view(
        report,
        principal,
        svc.uploads.photo_url,
        events=timeline(report),
        station_name=station_name(report.station_id),
    )


@blueprint.route("/tasks", methods=["GET"])
def get_tasks():
    """A deputy's tasks; for a handler (without the deputy role), the department's orders."""
    request = blueprint.current_request
    principal = caller(request)
    require_any_role(principal, "deputy", "handler")
    services()
    status = query_param(request, "status")
    if not principal.has("deputy"):
        return _department_orders(request, principal, status)
    if status is not None and status not in DEPUTY_FILTERS:
        raise InvalidField(f"状态须为 {'、'.join(DEPUTY_FILTERS)} 之一", field="status")
    items, counts = deputy_tasks(principal.deputy_id, status)
    return {"items": items, "counts": counts}


def _department_orders(request, principal, status: str | None) -> dict:
    if not principal.department_id:
        raise Forbidden("您的账号未绑定承办单位", code="no_department")
    if status is not None and status not in ORDER_FILTERS:
        raise InvalidField(f"状态须为 {'、'.join(ORDER_FILTERS)} 之一", field="status")
    limit = int_param(
        request,
        "limit",
        default=work_orders.DEFAULT_PAGE,
        low=1,
        high=work_orders.MAX_PAGE,
        message=f"每页条数须为 1～{work_orders.MAX_PAGE}",
    )
    cursor = query_param(request, "cursor") or None
    items, next_cursor = work_orders.department_orders(
        principal.department_id, status, limit, cursor
    )
    counts = work_orders.order_counts(principal.department_id)
    return {"items": items, "next_cursor": next_cursor, "counts": counts}


@blueprint.route("/reports/{report_id}/accept", methods=["POST"])
def post_accept(report_id: str):
    principal = caller(blueprint.current_request)
    return _answer(operations.accept(services(), principal, report_id), principal)


@blueprint.route("/reports/{report_id}/decline", methods=["POST"])
def post_decline(report_id: str):
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    return _answer(
        operations.decline(services(), principal, report_id, body.get("reason")), principal
    )


@blueprint.route("/reports/{report_id}/assign", methods=["POST"])
def post_assign(report_id: str):
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    return _answer(
        operations.assign(services(), principal, report_id, body.get("deputy_id")), principal
    )


@blueprint.route("/reports/{report_id}/moderation", methods=["POST"])
def post_moderation(report_id: str):
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    return _answer(operations.moderate(services(), principal, report_id, body), principal)


@blueprint.route("/reports/{report_id}/triage", methods=["POST"])
def post_triage(report_id: str):
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    return _answer(operations.triage(services(), principal, report_id, body), principal)


@blueprint.route("/reports/{report_id}/progress", methods=["POST"])
def post_progress(report_id: str):
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    return _answer(operations.progress(services(), principal, report_id, body), principal)


@blueprint.route("/reports/{report_id}/resolve", methods=["POST"])
def post_resolve(report_id: str):
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    return _answer(operations.resolve(services(), principal, report_id, body), principal)


@blueprint.route("/reports/{report_id}/evaluation", methods=["POST"])
def post_evaluation(report_id: str):
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    return _answer(operations.evaluate(services(), principal, report_id, body), principal)


@blueprint.route("/notices/failed", methods=["GET"])
def get_failed_notices():
    principal = caller(blueprint.current_request)
    require_any_role(principal, "station_staff", "district_staff", "city_staff")
    services()
    return {"items": failed_notices(principal)}

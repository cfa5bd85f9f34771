"""Routes: what needs staff, listed for the staff pages (station, district and city staff).

    GET /staff/overdue?scope=district:shinan&limit=20&cursor=…    overdue, oldest first
    GET /staff/review?scope=station:S01                            held for review, newest first
    GET /staff/unmatched?scope=city:qingdao                        waiting to be assigned, oldest
    GET /staff/deputies?scope=district:shinan                      whom to assign
    GET /departments?district=shinan&category=traffic.parking      whom to hand a report to

`scope` defaults to the caller's widest one; the scope rules are those of `GET /stats`
(`chalicelib.staff.scopes`). Every list is served by a sparse index (`chalicelib.staff.lists`).
"""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Request

from chalicelib.api.http import caller, int_param, query_param, require_any_role
from chalicelib.auth.tokens import STAFF_ROLES, Principal
from chalicelib.bootstrap import services
from chalicelib.staff.departments import department_rows
from chalicelib.staff.deputies import deputy_rows, require_deputy_area
from chalicelib.staff.lists import DEFAULT_PAGE, MAX_PAGE, page
from chalicelib.staff.rows import ROWS
from chalicelib.staff.scopes import parse_area, require_area

blueprint = Blueprint(__name__)
OUTSIDE = "只能查看本人负责范围的事项"


def _list(name: str, request: Request, principal: Principal) -> dict:
    require_any_role(principal, *STAFF_ROLES)
    services()
    area = parse_area(query_param(request, "scope"), principal)
    limit = int_param(
        request,
        "limit",
        default=DEFAULT_PAGE,
        low=1,
        high=MAX_PAGE,
        message=f"每页条数须为 1～{MAX_PAGE}",
    )
    require_area(principal, area, OUTSIDE)
    reports, next_cursor = page(name, area, limit, query_param(request, "cursor"))
    return {"scope": area.scope, "items": ROWS[name](reports), "next_cursor": next_cursor}


@blueprint.route("/staff/overdue", methods=["GET"])
def get_staff_overdue():
    request = blueprint.current_request
    return _list("overdue", request, caller(request))


@blueprint.route("/staff/review", methods=["GET"])
def get_staff_review():
    request = blueprint.current_request
    return _list("review", request, caller(request))


@blueprint.route("/staff/unmatched", methods=["GET"])
def get_staff_unmatched():
    request = blueprint.current_request
    return _list("unmatched", request, caller(request))


@blueprint.route("/staff/deputies", methods=["GET"])
def get_staff_deputies():
    request = blueprint.current_request
    principal = caller(request)
    require_any_role(principal, *STAFF_ROLES)
    services()
    area = parse_area(query_param(request, "scope"), principal)
    require_deputy_area(principal, area)
    return {"scope": area.scope, "items": deputy_rows(area)}


@blueprint.route("/departments", methods=["GET"])
def get_departments():
    request = blueprint.current_request
    principal = caller(request)
    services()
    return department_rows(
        principal, query_param(request, "district"), query_param(request, "category")
    )

"""Routes: deputy duty records (一人一档), duties entered by staff, the district ranking."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.http import caller, json_body, query_param
from chalicelib.bootstrap import services
from chalicelib.records.duty import add_activity, district_ranking, duty_record

blueprint = Blueprint(__name__)


@blueprint.route("/deputies/ranking", methods=["GET"])
def get_deputy_ranking():
    request = blueprint.current_request
    principal = caller(request)
    services()
    return district_ranking(
        principal,
        query_param(request, "district"),
        query_param(request, "from"),
        query_param(request, "to"),
    )


@blueprint.route("/deputies/{deputy_id}/activities", methods=["POST"])
def post_deputy_activity(deputy_id: str):
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    services()
    return Response(body=add_activity(principal, deputy_id, body), status_code=201)


@blueprint.route("/deputies/{deputy_id}/record", methods=["GET"])
def get_deputy_record(deputy_id: str):
    request = blueprint.current_request
    principal = caller(request)
    services()
    return duty_record(
        principal, deputy_id, query_param(request, "from"), query_param(request, "to")
    )

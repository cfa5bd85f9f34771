"""Routes: micro-topics (微专题) for city and district staff."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import caller, json_body, query_param
from chalicelib.bootstrap import services
from chalicelib.topics import close_topic, parse_status, topic_detail, visible_topics

blueprint = Blueprint(__name__)


@blueprint.route("/topics", methods=["GET"])
def get_topics():
    request = blueprint.current_request
    principal = caller(request)
    services()
    status = parse_status(query_param(request, "status"))
    return {"items": visible_topics(principal, status)}


@blueprint.route("/topics/{topic_id}", methods=["GET"])
def get_topic(topic_id: str):
    principal = caller(blueprint.current_request)
    services()
    return topic_detail(principal, topic_id)


@blueprint.route("/topics/{topic_id}/close", methods=["POST"])
def post_topic_close(topic_id: str):
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    return close_topic(services(), principal, topic_id, body)

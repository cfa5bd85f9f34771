"""Routes: WeChat login."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import json_body
from chalicelib.auth.service import login
from chalicelib.bootstrap import services

blueprint = Blueprint(__name__)


@blueprint.route("/auth/login", methods=["POST"])
def post_login():
    body = json_body(blueprint.current_request)
    return login(services(), body.get("code"))

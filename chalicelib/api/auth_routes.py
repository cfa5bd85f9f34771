"""Routes: WeChat login (mini-program) and web OAuth login (browser build)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import json_body
from chalicelib.auth.service import login, oauth_login
from chalicelib.bootstrap import services

blueprint = Blueprint(__name__)


@blueprint.route("/auth/login", methods=["POST"])
def post_login():
    body = json_body(blueprint.current_request)
    return login(services(), body.get("code"))


@blueprint.route("/auth/oauth", methods=["POST"])
def post_oauth_login():
    body = json_body(blueprint.current_request)
    return oauth_login(services(), body.get("code"))

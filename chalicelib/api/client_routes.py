"""Routes: public client settings (no login)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.bootstrap import services
from chalicelib.client_settings import CACHE_SECONDS, client_settings

blueprint = Blueprint(__name__)


@blueprint.route("/client/settings", methods=["GET"])
def get_client_settings():
    body = client_settings(services().settings)
    return Response(
        body=body,
        status_code=200,
        headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"},
    )

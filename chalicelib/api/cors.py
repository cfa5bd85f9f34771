"""CORS for every route: the browser build is served from another origin than the API.

`app.api.cors` must be set before the blueprints are registered (Chalice copies the default
into each route then). Chalice adds the headers to what a view returns and answers the
preflight (API Gateway's mock OPTIONS in AWS, `chalice local`'s own locally); the app's error
middleware adds them to the errors it maps, which never pass through Chalice's route code.
No cookies are used (the session is a bearer token), so any origin may call.
"""

from __future__ import annotations

from chalice import CORSConfig, Response

ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id")
EXPOSE_HEADERS = ("Idempotent-Replayed", "X-Request-Id")
MAX_AGE_SECONDS = 600

CORS = CORSConfig(
    allow_origin="*",
    allow_headers=list(ALLOW_HEADERS),
    expose_headers=list(EXPOSE_HEADERS),
    max_age=MAX_AGE_SECONDS,
)


def add_cors_headers(response: Response) -> Response:
    """The CORS headers on `response`, keeping any it already has."""
    for name, value in CORS.get_access_control_headers().items():
        if not any(existing.lower() == name.lower() for existing in response.headers):
            response.headers[name] = value
    return response

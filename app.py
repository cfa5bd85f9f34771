"""suishoupai API: routes come from blueprints; this file wires them and maps errors."""

from __future__ import annotations

import time
import uuid

from chalice import Chalice, Response

from chalicelib.api import (
    auth_routes,
    client_routes,
    digest_handlers,
    notify_handlers,
    record_routes,
    report_routes,
    staff_routes,
    station_routes,
    stats_routes,
    task_routes,
    topic_handlers,
    topic_routes,
    workflow_handlers,
)
from chalicelib.api.cors import CORS, add_cors_headers
from chalicelib.api.http import UnhandledViewError, guard_views
from chalicelib.errors import AppError
from chalicelib.observability import configure_logging, get_logger, log_event, request_id_var

app = Chalice(app_name="suishoupai")
app.api.cors = CORS  # before the blueprints: every route takes it when registered
app.register_blueprint(auth_routes.blueprint)
app.register_blueprint(client_routes.blueprint)
app.register_blueprint(station_routes.blueprint)
app.register_blueprint(report_routes.blueprint)
app.register_blueprint(task_routes.blueprint)
app.register_blueprint(stats_routes.blueprint)
app.register_blueprint(notify_handlers.blueprint)
app.register_blueprint(workflow_handlers.blueprint)
app.register_blueprint(digest_handlers.blueprint)
app.register_blueprint(topic_routes.blueprint)
app.register_blueprint(topic_handlers.blueprint)
app.register_blueprint(record_routes.blueprint)
app.register_blueprint(staff_routes.blueprint)
guard_views(app)

configure_logging(app.log)
log = get_logger("http")

INTERNAL_ERROR = {"code": "internal_error", "message": "系统繁忙，请稍后重试", "field": None}


CHALICE_ERRORS = {
    400: ("bad_request", "请求格式不正确"),
    403: ("forbidden", "没有权限进行此操作"),
    404: ("not_found", "请求的地址不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    415: ("unsupported_media_type", "请求内容类型必须是 application/json"),
}


def _as_app_error(response: Response) -> Response:
    """Chalice's own errors in the app's format; a 5xx not already ours is `internal_error`."""
    body = response.body
    ours = isinstance(body, dict) and "error" in body
    if response.status_code >= 500 and not ours:
        return Response(body={"error": dict(INTERNAL_ERROR)}, status_code=response.status_code)
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code, message = CHALICE_ERRORS.get(response.status_code, ("error", "请求无法处理"))
        response.body = {"error": {"code": code, "message": message, "field": None}}
    return response


def _request_id(event) -> str:
    context = getattr(event, "context", None) or {}
    return context.get("requestId") or uuid.uuid4().hex


@app.middleware("http")
def errors_and_access_log(event, get_response):
    """One place that turns domain errors into JSON and logs every request."""
    request_id = _request_id(event)
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        try:
            response = _as_app_error(get_response(event))
        except AppError as error:
            response = Response(body=error.body(), status_code=error.status)
        except Exception as error:
            failure = error.__cause__ if isinstance(error, UnhandledViewError) else error
            log.error(
                "unhandled error",
                exc_info=failure,
                extra={"fields": {"method": event.method, "path": event.path}},
            )
            response = Response(body={"error": dict(INTERNAL_ERROR)}, status_code=500)
        response.headers["X-Request-Id"] = request_id
        add_cors_headers(response)
        log_event(
            log,
            "request",
            method=event.method,
            path=event.path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return response
    finally:
        request_id_var.reset(token)

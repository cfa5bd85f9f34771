"""Routes: photo uploads, submitting a report, reading reports."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.adapters.uploads import ALLOWED_TYPES
from chalicelib.api.http import caller, int_param, json_body, query_param
from chalicelib.bootstrap import services
from chalicelib.errors import InvalidField
from chalicelib.reports.intake import submit_report
from chalicelib.reports.reading import (
    DEFAULT_PAGE,
    MAX_PAGE,
    load_readable_report,
    my_reports,
    station_name,
    submitted_event,
    timeline,
)
from chalicelib.reports.submission import parse_idempotency_key, parse_submission
from chalicelib.reports.views import report_view, summary_view

blueprint = Blueprint(__name__)


@blueprint.route("/uploads", methods=["POST"])
def post_upload():
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    svc = services()
    content_type = body.get("content_type")
    if not isinstance(content_type, str) or content_type not in ALLOWED_TYPES:
        raise InvalidField("仅支持 JPEG、PNG、WebP 图片", field="content_type")
    size = body.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise InvalidField("图片大小必须是正整数（字节）", field="size")
    if size > svc.settings.upload_max_bytes:
        limit_mb = svc.settings.upload_max_bytes // (1024 * 1024)
        raise InvalidField(f"图片不能超过 {limit_mb} MB", field="size", code="too_large")
    return svc.uploads.presign_upload(principal.user_id, content_type, size)


@blueprint.route("/uploads/confirm", methods=["POST"])
def post_upload_confirm():
    """The client confirms a photo once its POST to S3 succeeded: checked now, not at submission."""
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    key = body.get("key")
    if not isinstance(key, str) or not key:
        raise InvalidField("请提供照片编号", field="key")
    if len(key) > 256:
        raise InvalidField("照片编号不正确", field="key")
    return services().uploads.confirm(principal.user_id, key)


@blueprint.route("/reports", methods=["POST"])
def post_report():
    request = blueprint.current_request
    principal = caller(request)
    body = json_body(request)
    submission = parse_submission(body)
    headers = request.headers or {}
    key = parse_idempotency_key(headers.get("idempotency-key"))
    svc = services()
    report, replayed = submit_report(svc, principal, submission, key)
    view = report_view(
        report,
        principal,
        svc.uploads.photo_url,
        events=timeline(report) if replayed else [submitted_event(report)],
        station_name=station_name(report.station_id),
    )
    response_headers = {"Location": f"/reports/{report.id}"}
    if replayed:
        response_headers["Idempotent-Replayed"] = "true"
    return Response(body=view, status_code=201, headers=response_headers)


@blueprint.route("/reports/mine", methods=["GET"])
def get_my_reports():
    request = blueprint.current_request
    principal = caller(request)
    services()
    limit = int_param(
        request,
        "limit",
        default=DEFAULT_PAGE,
        low=1,
        high=MAX_PAGE,
        message=f"每页条数须为 1～{MAX_PAGE}",
    )
    items, cursor = my_reports(principal, limit, query_param(request, "cursor"))
    return {"items": [summary_view(item) for item in items], "next_cursor": cursor}


@blueprint.route("/reports/{report_id}", methods=["GET"])
def get_report(report_id: str):
    principal = caller(blueprint.current_request)
    svc = services()
    report = load_readable_report(principal, report_id)
    return report_view(
        report,
        principal,
        svc.uploads.photo_url,
        events=timeline(report),
        station_name=station_name(report.station_id),
    )

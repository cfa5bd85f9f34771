"""Settings read lazily from the environment.

Chalice applies a stage's environment variables only while a request is being
handled (and `chalice.test.Client` only during each call), so nothing here is
read at import time: call `get_settings()` where a value is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

WECHAT_API_BASE_DEFAULT = "https://api.weixin.qq.com/"
# Default window, in hours, of the steps measured in hours: a deputy accepting an offer,
# the first answer after accepting, staff assigning a report no deputy took.
DEFAULT_STEP_HOURS = 24


@dataclass(frozen=True)
class Settings:
    """Every configurable value of the backend, one place."""

    stage: str
    region: str
    table_prefix: str
    dynamodb_endpoint: str | None
    s3_endpoint: str | None
    upload_bucket: str
    upload_max_bytes: int
    upload_url_ttl_seconds: int
    photo_url_ttl_seconds: int
    wechat_appid: str
    wechat_secret: str
    wechat_api_base: str
    wechat_timeout_seconds: float
    report_page: str
    task_page: str
    qrcode_env_version: str
    oauth_appid: str | None
    oauth_secret: str | None
    privacy_version: str | None
    session_secret: str
    session_ttl_seconds: int
    sqs_endpoint: str | None
    notify_queue_url: str | None
    match_top_k: int
    offer_hours: float
    answer_hours: float
    assign_hours: float
    evaluation_days: int
    work_order_days: int
    second_handling_days: int

    def table_name(self, logical: str) -> str:
        """Physical DynamoDB table name of a logical table (e.g. "reports")."""
        return f"{self.table_prefix}{logical}"


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise RuntimeError(f"missing required setting {name}")
        return default
    return value


def _optional(name: str) -> str | None:
    value = os.environ.get(name)
    return value or None


def _hours(name: str) -> float:
    """A step window in hours (default `DEFAULT_STEP_HOURS`); must be positive."""
    value = float(_env(name, str(DEFAULT_STEP_HOURS)))
    if not value > 0:
        raise RuntimeError(f"setting {name} must be a positive number of hours")
    return value


LOCAL_DEFAULTS = {
    "WECHAT_APPID": "wx-local-appid",
    "WECHAT_SECRET": "local-secret",
    "SESSION_SECRET": "local-dev-session-secret-change-me",
    # The browser build's web OAuth app (an official account or a website app): another app
    # than the mini-program, with other openids; the same person is linked by unionid.
    "WECHAT_OAUTH_APPID": "wx-local-web-appid",
    "WECHAT_OAUTH_SECRET": "local-web-secret",
}


def _secret(name: str, stage: str) -> str:
    """A secret: required outside the local stage, a fixed development value inside it."""
    return _env(name, LOCAL_DEFAULTS[name] if stage == "local" else None)


def _optional_secret(name: str, stage: str) -> str | None:
    """A secret that may be absent outside the local stage (the feature is then off)."""
    return _optional(name) or (LOCAL_DEFAULTS[name] if stage == "local" else None)


def get_settings() -> Settings:
    """Read the settings from the current environment (cheap; call freely)."""
    stage = _env("STAGE", "local")
    api_base = _env("WECHAT_API_BASE", WECHAT_API_BASE_DEFAULT)
    if not api_base.endswith("/"):
        api_base += "/"
    return Settings(
        stage=stage,
        region=_env("AWS_REGION", _env("AWS_DEFAULT_REGION", "ap-east-1")),
        table_prefix=_env("TABLE_PREFIX", "ssp-local-"),
        dynamodb_endpoint=_optional("DYNAMODB_ENDPOINT"),
        s3_endpoint=_optional("S3_ENDPOINT"),
        upload_bucket=_env("UPLOAD_BUCKET", "ssp-local-uploads"),
        upload_max_bytes=int(_env("UPLOAD_MAX_BYTES", str(10 * 1024 * 1024))),
        upload_url_ttl_seconds=int(_env("UPLOAD_URL_TTL_SECONDS", "600")),
        photo_url_ttl_seconds=int(_env("PHOTO_URL_TTL_SECONDS", "900")),
        wechat_appid=_secret("WECHAT_APPID", stage),
        wechat_secret=_secret("WECHAT_SECRET", stage),
        wechat_api_base=api_base,
        wechat_timeout_seconds=float(_env("WECHAT_TIMEOUT_SECONDS", "3")),
        report_page=_env("REPORT_PAGE", "pages/report/report"),
        task_page=_env("TASK_PAGE", "pages-deputy/task/task"),
        qrcode_env_version=_env("QRCODE_ENV_VERSION", "release"),
        oauth_appid=_optional_secret("WECHAT_OAUTH_APPID", stage),
        oauth_secret=_optional_secret("WECHAT_OAUTH_SECRET", stage),
        privacy_version=_optional("PRIVACY_VERSION"),
        session_secret=_secret("SESSION_SECRET", stage),
        session_ttl_seconds=int(_env("SESSION_TTL_SECONDS", str(2 * 3600))),
        sqs_endpoint=_optional("SQS_ENDPOINT"),
        notify_queue_url=_optional("NOTIFY_QUEUE_URL"),
        match_top_k=int(_env("MATCH_TOP_K", "3")),
        offer_hours=_hours("OFFER_HOURS"),
        answer_hours=_hours("ANSWER_HOURS"),
        assign_hours=_hours("ASSIGN_HOURS"),
        evaluation_days=int(_env("EVALUATION_DAYS", "7")),
        work_order_days=int(_env("WORK_ORDER_DAYS", "7")),
        second_handling_days=int(_env("SECOND_HANDLING_DAYS", "5")),
    )

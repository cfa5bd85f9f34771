"""The backend's only door to Tencent Cloud SMS (``SendSms``, API version 2021-01-11).

* Uses the official SDK (``tencentcloud-sdk-python-sms``), imported on first send (cold start).
* One number per call, so a per-number failure is the call's failure: every
  ``SendStatusSet[i].Code`` other than ``"Ok"`` raises.
* Every failure surfaces as ``SmsUnavailable`` (retryable: frequency limits, Tencent internal
  errors, HTTP 5xx, timeouts, connection errors, an empty SMS package) or ``SmsRejected``
  (not retryable: credentials, parameters, template / signature, blocklisted numbers).
  Frequency limits carry ``.limit`` ("thirty_seconds", "hourly", "daily") so that callers can
  batch repeats into digests or defer them.

Configuration comes from the environment (``SmsSettings.from_env``).
"""

from __future__ import annotations

import builtins
import functools
import os
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ENDPOINT = "sms.tencentcloudapi.com"
LOCAL_SECRETS = {"SMS_SECRET_ID": "local-sms-id", "SMS_SECRET_KEY": "local-sms-key"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

# Codes worth retrying later: throttling, Tencent-side failures, transport, an empty package.
RETRYABLE_PREFIXES = ("LimitExceeded", "InternalError", "RequestLimitExceeded")
RETRYABLE_CODES = frozenset(
    {
        "ClientNetworkError",
        "ServerNetworkError",
        "ServiceUnavailable",
        "FailedOperation.InsufficientBalanceInSmsPackage",
    }
)
LIMITS = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": "thirty_seconds",
    "LimitExceeded.PhoneNumberOneHourLimit": "hourly",
    "LimitExceeded.PhoneNumberDailyLimit": "daily",
    "LimitExceeded.PhoneNumberSameContentDailyLimit": "daily",
}


class SmsError(Exception):
    """An SMS send failed; ``code`` is Tencent's error code (or the SDK's for transport)."""

    retryable = False

    def __init__(
        self,
        code: str,
        message: str,
        *,
        request_id: str | None = None,
        http_status: int | None = None,
        phone: str | None = None,
    ) -> None:
        super().__init__(f"SMS error {code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status
        self.phone = phone

    @property
    def limit(self) -> str | None:
        """Which per-number frequency limit was hit: "thirty_seconds", "hourly", "daily" or None."""
        return LIMITS.get(self.code)


class SmsUnavailable(SmsError):
    """Transient failure (frequency limit, Tencent internal error, 5xx, timeout): retry later."""

    retryable = True


class SmsRejected(SmsError):
    """Tencent refused the request itself (credentials, number, template, signature …)."""

    retryable = False


def _is_python_error(code: str) -> bool:
    """The SDK wraps unexpected exceptions (unreadable answers) with their class name as code."""
    if code == "JSONDecodeError":
        return True
    kind = getattr(builtins, code, None)
    return isinstance(kind, type) and issubclass(kind, Exception)


def classify(
    code: str,
    message: str,
    *,
    request_id: str | None = None,
    http_status: int | None = None,
    phone: str | None = None,
) -> SmsError:
    """The gateway's exception for a Tencent (or SDK) error code."""
    retryable = (
        code in RETRYABLE_CODES
        or code.split(".")[0] in RETRYABLE_PREFIXES
        or _is_python_error(code)
        or (http_status is not None and (http_status >= 500 or http_status == 429))
    )
    kind = SmsUnavailable if retryable else SmsRejected
    return kind(code, message, request_id=request_id, http_status=http_status, phone=phone)


def normalize_phone(phone: str) -> str:
    """E.164 form: spaces and dashes dropped, "00" → "+", "+86" added when no prefix is given."""
    phone = "".join(ch for ch in str(phone) if ch not in " -()")
    if phone.startswith("00"):
        return "+" + phone[2:]
    if phone.startswith("+"):
        return phone
    return "+86" + phone


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise RuntimeError(f"missing required setting {name}")
        return default
    return value


@dataclass(frozen=True)
class SmsSettings:
    """Everything the SMS gateway needs (read from the environment by ``from_env``)."""

    endpoint: str = DEFAULT_ENDPOINT
    protocol: str = "https"
    region: str = "ap-guangzhou"
    secret_id: str = LOCAL_SECRETS["SMS_SECRET_ID"]
    secret_key: str = field(default=LOCAL_SECRETS["SMS_SECRET_KEY"], repr=False)
    app_id: str = "1400000000"
    sign_name: str = "随手拍"
    timeout_seconds: float = 5.0

    @classmethod
    def from_env(cls) -> SmsSettings:
        """Read ``SMS_*``; the secrets default to local values only when STAGE is "local"/unset."""
        local = (os.environ.get("STAGE") or "local") == "local"
        return cls(
            endpoint=_env("SMS_ENDPOINT", DEFAULT_ENDPOINT),
            protocol=_env("SMS_PROTOCOL", "https"),
            region=_env("SMS_REGION", "ap-guangzhou"),
            secret_id=_env("SMS_SECRET_ID", LOCAL_SECRETS["SMS_SECRET_ID"] if local else None),
            secret_key=_env("SMS_SECRET_KEY", LOCAL_SECRETS["SMS_SECRET_KEY"] if local else None),
            app_id=_env("SMS_APP_ID", "1400000000"),
            sign_name=_env("SMS_SIGN_NAME", "随手拍"),
            timeout_seconds=float(_env("SMS_TIMEOUT_SECONDS", "5")),
        )


@functools.cache
def _sdk() -> dict[str, Any]:
    """The SDK's classes, imported once on first use; the client reports HTTP statuses."""
    from tencentcloud.common import credential
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import models
    from tencentcloud.sms.v20210111.sms_client import SmsClient

    class StatusAwareSmsClient(SmsClient):
        """SmsClient whose non-200 answers keep their HTTP status (the SDK drops it)."""

        def _check_status(self, resp: Any) -> None:
            if resp.status_code != 200:
                text = resp.text[:200] if resp.text else ""
                error = TencentCloudSDKException(
                    "ServerNetworkError", f"HTTP {resp.status_code}: {text}"
                )
                error.http_status = resp.status_code
                raise error

    return {
        "Credential": credential.Credential,
        "ClientProfile": ClientProfile,
        "HttpProfile": HttpProfile,
        "SendSmsRequest": models.SendSmsRequest,
        "SmsClient": StatusAwareSmsClient,
        "SDKException": TencentCloudSDKException,
    }


class SmsGateway:
    """Sends template SMS to one number at a time through Tencent Cloud's SDK."""

    def __init__(self, settings: SmsSettings | None = None) -> None:
        self.settings = settings or SmsSettings.from_env()
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The SDK client, created on first use."""
        if self._client is None:
            sdk = _sdk()
            s = self.settings
            http = sdk["HttpProfile"](
                protocol=s.protocol, endpoint=s.endpoint, reqTimeout=s.timeout_seconds
            )
            profile = sdk["ClientProfile"](httpProfile=http)
            client = sdk["SmsClient"](
                sdk["Credential"](s.secret_id, s.secret_key), s.region, profile
            )
            if s.endpoint.split(":")[0] in LOOPBACK_HOSTS:
                # The SDK would send loopback traffic through HTTP(S)_PROXY, ignoring NO_PROXY.
                client.request.conn.proxy = None
            self._client = client
        return self._client

    def send(
        self,
        phone: str,
        template_id: str,
        params: list[str],
        session_context: str | None = None,
    ) -> str:
        """Send template ``template_id`` with ``params`` to one number; returns the SerialNo."""
        sdk = _sdk()
        number = normalize_phone(phone)
        req = sdk["SendSmsRequest"]()
        req.PhoneNumberSet = [number]
        req.SmsSdkAppId = self.settings.app_id
        req.SignName = self.settings.sign_name
        req.TemplateId = str(template_id)
        req.TemplateParamSet = [str(p) for p in params]
        if session_context:
            req.SessionContext = session_context
        try:
            resp = self.client.SendSms(req)
        except sdk["SDKException"] as exc:
            code = str(exc.code or "ClientError")
            message = exc.message
            if isinstance(message, bytes):
                message = message.decode("utf-8", "replace")
            raise classify(
                code,
                str(message),
                request_id=exc.requestId,
                http_status=getattr(exc, "http_status", None),
                phone=number,
            ) from exc
        statuses = resp.SendStatusSet or []
        status = next((s for s in statuses if s.PhoneNumber == number), None)
        if status is None:
            if not statuses:
                raise SmsUnavailable(
                    "EmptySendStatusSet",
                    "the answer has no SendStatusSet",
                    request_id=resp.RequestId,
                    phone=number,
                )
            status = statuses[0]
        if status.Code != "Ok":
            raise classify(
                str(status.Code),
                str(status.Message),
                request_id=resp.RequestId,
                phone=number,
            )
        return str(status.SerialNo)


_gateways: dict[SmsSettings, SmsGateway] = {}


def get_sms_gateway(settings: SmsSettings | None = None) -> SmsGateway:
    """One gateway per settings per process, so a warm Lambda keeps its HTTP session."""
    settings = settings or SmsSettings.from_env()
    gateway = _gateways.get(settings)
    if gateway is None:
        gateway = _gateways[settings] = SmsGateway(settings)
    return gateway

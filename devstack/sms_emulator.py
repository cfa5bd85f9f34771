"""Local emulator of Tencent Cloud SMS ``SendSms`` (API 3.0, version 2021-01-11, wire format).

Answers ``POST /`` exactly as ``sms.tencentcloudapi.com`` does: it verifies the TC3-HMAC-SHA256
signature with the configured SecretId/SecretKey, applies Tencent's per-number frequency limits,
records every call and lets tests inject real failures through a control API under
``/__emulator/``:

    handle = start_sms_emulator(secret_id="local-sms-id", secret_key="local-sms-key")
    handle.endpoint                  # "127.0.0.1:PORT" -> SMS_ENDPOINT (with SMS_PROTOCOL=http)
    handle.state.inject(code="InternalError.Timeout")
    handle.state.inject(code="FailedOperation.PhoneNumberInBlacklist", phone="+8613800000000")
    handle.state.set_limits(same_content_seconds=30, daily_per_number=10)
    handle.state.messages("+8613800000000")
    handle.stop()

Standalone: ``python -m devstack.sms_emulator --port 8702 --secret-id I --secret-key K``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flask import Flask, Response, jsonify, request

from devstack.serving import WsgiServer

DEFAULT_SECRET_ID = "local-sms-id"
DEFAULT_SECRET_KEY = "local-sms-key"
DEFAULT_SDK_APP_ID = "1400000000"
SERVICE = "sms"
ACTION = "SendSms"
VERSION = "2021-01-11"
REGIONS = frozenset({"ap-guangzhou", "ap-beijing", "ap-nanjing"})
SIGNATURE_TTL_SECONDS = 300
MAX_NUMBERS_PER_CALL = 200
BEIJING = timezone(timedelta(hours=8))

# Tencent's default frequency limits for domestic numbers (the hourly one is off unless set).
DEFAULT_LIMITS: dict[str, int] = {
    "same_content_seconds": 30,
    "hourly_per_number": 0,
    "daily_per_number": 10,
}

AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256\s+Credential=(?P<secret_id>[^/\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/"
    r"(?P<service>[^/\s]+)/tc3_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
DOMESTIC_RE = re.compile(r"^(?:\+86)?(1[3-9]\d{9})$")
INTERNATIONAL_RE = re.compile(r"^\+(?!86)[1-9]\d{6,14}$")
PLACEHOLDER_RE = re.compile(r"\{(\d+)\}")
ISO_CODES = {"852": "HK", "853": "MO", "886": "TW", "65": "SG", "81": "JP", "82": "KR", "1": "US"}

MESSAGES = {
    "AuthFailure.InvalidAuthorization": "Authorization header is invalid.",
    "AuthFailure.SecretIdNotFound": "The SecretId is not found, please ensure that your "
    "SecretId is correct.",
    "AuthFailure.SignatureExpire": "Signature expired. Timestamp and server time cannot differ "
    "by more than 5 minutes.",
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated. "
    "Please check your signature is correct.",
    "FailedOperation.InsufficientBalanceInSmsPackage": "insufficient balance in SMS package",
    "FailedOperation.PhoneNumberInBlacklist": "the mobile number is in the blocklist",
    "FailedOperation.SignatureIncorrectOrUnapproved": "signature format error or signature "
    "not approved",
    "FailedOperation.TemplateIncorrectOrUnapproved": "template format error or template "
    "not approved",
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": "the number of template "
    "parameters does not match the approved template",
    "InternalError.Timeout": "request timed out",
    "InternalError.OtherError": "other error",
    "InvalidAction": "The action requested was invalid.",
    "InvalidParameter": "invalid parameter",
    "InvalidParameterValue.IncorrectPhoneNumber": "incorrect number format",
    "InvalidParameterValue.SdkAppIdNotExist": "the SdkAppId does not exist",
    "InvalidParameterValue.TemplateParameterFormatError": "template parameter format error",
    "LimitExceeded.AppDailyLimit": "the daily sending limit of the application is exceeded",
    "LimitExceeded.PhoneNumberCountLimit": "the number of mobile numbers exceeds 200",
    "LimitExceeded.PhoneNumberDailyLimit": "the number of sms messages sent from a single mobile "
    "number every day exceeds the upper limit",
    "LimitExceeded.PhoneNumberOneHourLimit": "the number of sms messages sent from a single "
    "mobile number within 1 hour exceeds the upper limit",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "the number of sms messages sent from a single "
    "mobile number within 30 seconds exceeds the upper limit",
    "MissingParameter": "missing parameter",
    "NoSuchVersion": "The requested version does not exist.",
    "RequestLimitExceeded": "Your current request times equals to `limit` in a second.",
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": "the request contains "
    "both domestic and international numbers",
    "UnsupportedRegion": "The requested region is not supported.",
}


def message_for(code: str) -> str:
    """Tencent's message for an error code (a generic one for codes we do not know)."""
    return MESSAGES.get(code, code.split(".")[-1] or "error")


def normalize_phone(phone: str) -> str | None:
    """E.164 form of a number as Tencent reads it ("13800000000" → "+8613800000000"), or None."""
    phone = phone.strip()
    domestic = DOMESTIC_RE.match(phone)
    if domestic:
        return "+86" + domestic.group(1)
    if INTERNATIONAL_RE.match(phone):
        return phone
    return None


def iso_code(phone: str) -> str:
    """Country code ("CN", "HK" …) of a normalized number ("" when unknown)."""
    if phone.startswith("+86"):
        return "CN"
    for prefix in sorted(ISO_CODES, key=len, reverse=True):
        if phone[1:].startswith(prefix):
            return ISO_CODES[prefix]
    return ""


def tc3_signature(
    secret_key: str,
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    signed_headers: list[str],
    payload: bytes,
    timestamp: str,
    date: str,
    service: str = SERVICE,
    unsigned_payload: bool = False,
) -> str:
    """The TC3-HMAC-SHA256 signature as documented by Tencent Cloud (API 3.0, signature v3)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical_headers = "".join(
        f"{name}:{lowered.get(name, '').strip().lower()}\n" for name in signed_headers
    )
    body = b"UNSIGNED-PAYLOAD" if unsigned_payload else payload
    canonical_request = "\n".join(
        [
            method,
            path,
            query,
            canonical_headers,
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            timestamp,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )

    def _hmac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class Fault:
    """A failure the next ``times`` calls answer with (-1 = until cleared).

    Without ``phone`` it hits the whole request (an API error, an HTTP status, a delay); with
    ``phone`` only that number's entry of ``SendStatusSet`` gets ``code`` (the call succeeds).
    """

    code: str | None = None
    message: str | None = None
    http_status: int | None = None
    delay_seconds: float = 0.0
    times: int = 1
    phone: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view of the fault."""
        return {
            "code": self.code,
            "message": self.message,
            "http_status": self.http_status,
            "delay_seconds": self.delay_seconds,
            "times": self.times,
            "phone": self.phone,
        }


@dataclass
class _SendRequest:
    """The parsed JSON body of a SendSms call."""

    phones: list[str]
    sdk_app_id: str
    sign_name: str
    template_id: str
    params: list[str]
    session_context: str
    extend_code: str
    request_id: str
    phone_faults: dict[int, Fault] = field(default_factory=dict)


class SmsEmulatorState:
    """Everything the emulator remembers; every method is thread-safe."""

    def __init__(
        self,
        secret_id: str = DEFAULT_SECRET_ID,
        secret_key: str = DEFAULT_SECRET_KEY,
        sdk_app_id: str | None = DEFAULT_SDK_APP_ID,
    ) -> None:
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self._lock = threading.Lock()
        self._reset_unlocked()

    def _reset_unlocked(self) -> None:
        self._calls: list[dict[str, Any]] = []
        self._messages: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._limits: dict[str, int] = dict(DEFAULT_LIMITS)
        self._templates: dict[str, str] = {}
        self._last_content: dict[tuple[str, str], float] = {}
        self._sent_at: dict[str, list[float]] = {}
        self._offset = 0.0

    def reset(self) -> None:
        """Forget calls, messages, faults, counters, templates; restore limits and the clock."""
        with self._lock:
            self._reset_unlocked()

    # --- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        """The frequency limits' clock: real time plus whatever ``advance`` added.

        Signatures are always checked against real time (the SDK signs with real time)."""
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the frequency limits' clock forward (30-second windows, days); the new now."""
        with self._lock:
            self._offset += float(seconds)
            return time.time() + self._offset

    # --- records -----------------------------------------------------------------------------

    def calls(self) -> list[dict[str, Any]]:
        """Every recorded SendSms call, oldest first."""
        with self._lock:
            return [dict(c) for c in self._calls]

    def clear_calls(self) -> None:
        """Forget the recorded calls (not the messages nor the counters)."""
        with self._lock:
            self._calls.clear()

    def record(self, call: dict[str, Any]) -> None:
        """Append one call record."""
        with self._lock:
            self._calls.append(call)

    def messages(self, phone: str | None = None) -> list[dict[str, Any]]:
        """Delivered messages (one per number answered "Ok"), optionally to one number only."""
        wanted = (normalize_phone(phone) or phone) if phone else None
        with self._lock:
            return [dict(m) for m in self._messages if wanted is None or m["phone"] == wanted]

    # --- faults ------------------------------------------------------------------------------

    def inject(
        self,
        code: str | None = None,
        message: str | None = None,
        http_status: int | None = None,
        delay_seconds: float = 0.0,
        times: int = 1,
        phone: str | None = None,
    ) -> Fault:
        """Make the next ``times`` calls (or sends to ``phone``) fail or answer slowly."""
        if phone is not None:
            phone = normalize_phone(phone) or phone
            if code is None:
                raise ValueError("a per-number fault needs a code")
        elif code is None and not http_status and not delay_seconds:
            raise ValueError("a fault needs a code, an http_status or a delay_seconds")
        fault = Fault(
            code=code,
            message=message,
            http_status=int(http_status) if http_status else None,
            delay_seconds=float(delay_seconds or 0.0),
            times=int(times),
            phone=phone,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def faults(self) -> list[dict[str, Any]]:
        """Pending faults."""
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def take_fault(self, phone: str | None = None) -> Fault | None:
        """Consume one use of the first request fault (``phone`` None) or fault of ``phone``."""
        with self._lock:
            for fault in self._faults:
                if fault.phone == phone:
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # --- limits and templates ----------------------------------------------------------------

    def set_limits(
        self,
        same_content_seconds: int | None = None,
        daily_per_number: int | None = None,
        hourly_per_number: int | None = None,
    ) -> dict[str, int]:
        """Change frequency limits (None keeps one, 0 disables one); returns them all."""
        changes = {
            "same_content_seconds": same_content_seconds,
            "daily_per_number": daily_per_number,
            "hourly_per_number": hourly_per_number,
        }
        with self._lock:
            for name, value in changes.items():
                if value is not None:
                    self._limits[name] = max(0, int(value))
            return dict(self._limits)

    def limits(self) -> dict[str, int]:
        """The current frequency limits (0 = off)."""
        with self._lock:
            return dict(self._limits)

    def set_templates(self, templates: dict[str, str]) -> None:
        """Declare approved templates (id → text with {1}, {2} …); once any is declared,
        unknown ids and wrong parameter counts are refused like Tencent does."""
        with self._lock:
            self._templates.update({str(k): str(v) for k, v in templates.items()})

    def templates(self) -> dict[str, str]:
        """Declared templates."""
        with self._lock:
            return dict(self._templates)

    # --- sending -----------------------------------------------------------------------------

    def _check_template(self, template_id: str, params: list[str]) -> tuple[str | None, str]:
        """(error code or None, rendered content or a stable key of the content)."""
        text = self._templates.get(template_id)
        if text is None:
            if self._templates:
                return "FailedOperation.TemplateIncorrectOrUnapproved", ""
            return None, json.dumps([template_id, params], ensure_ascii=False)
        wanted = {int(n) for n in PLACEHOLDER_RE.findall(text)}
        if len(params) != len(wanted):
            return "FailedOperation.TemplateParamSetNotMatchApprovedTemplate", ""
        return None, PLACEHOLDER_RE.sub(lambda m: params[int(m.group(1)) - 1], text)

    def deliver(self, send: _SendRequest) -> tuple[str | None, list[dict[str, Any]]]:
        """Apply templates, faults and limits: (request error code, SendStatusSet)."""
        with self._lock:
            error, content = self._check_template(send.template_id, send.params)
            if error:
                return error, []
            now = time.time() + self._offset
            rendered = (
                f"【{send.sign_name}】{content}" if send.template_id in self._templates else None
            )
            fee = 1 if rendered is None or len(rendered) <= 70 else math.ceil(len(rendered) / 67)
            statuses = []
            for index, raw in enumerate(send.phones):
                phone = normalize_phone(raw)
                fault = send.phone_faults.get(index)
                code = self._number_code(phone, content, now, fault)
                if code == "Ok":
                    message = "send success"
                elif fault is not None and fault.code == code and fault.message:
                    message = fault.message
                else:
                    message = message_for(code)
                status = {
                    "SerialNo": "",
                    "PhoneNumber": phone or raw,
                    "Fee": 0,
                    "SessionContext": send.session_context,
                    "Code": code,
                    "Message": message,
                    "IsoCode": iso_code(phone) if phone else "",
                }
                if code == "Ok" and phone:
                    serial = f"{secrets.randbelow(9000) + 1000}:{secrets.randbelow(10**28):028d}"
                    status.update(SerialNo=serial, Fee=fee)
                    self._last_content[(phone, content)] = now
                    self._sent_at.setdefault(phone, []).append(now)
                    self._messages.append(
                        {
                            "phone": phone,
                            "template_id": send.template_id,
                            "params": list(send.params),
                            "sign_name": send.sign_name,
                            "sdk_app_id": send.sdk_app_id,
                            "content": rendered,
                            "serial_no": serial,
                            "fee": fee,
                            "session_context": send.session_context,
                            "extend_code": send.extend_code,
                            "request_id": send.request_id,
                            "at": now,
                        }
                    )
                statuses.append(status)
            return None, statuses

    def _number_code(self, phone: str | None, content: str, now: float, fault: Fault | None) -> str:
        if phone is None:
            return "InvalidParameterValue.IncorrectPhoneNumber"
        if fault is not None and fault.code:
            return fault.code
        limits = self._limits
        window = limits["same_content_seconds"]
        last = self._last_content.get((phone, content))
        if window and last is not None and now - last < window:
            return "LimitExceeded.PhoneNumberThirtySecondLimit"
        sent = self._sent_at.get(phone, [])
        hourly = limits["hourly_per_number"]
        if hourly and sum(1 for at in sent if now - at < 3600) >= hourly:
            return "LimitExceeded.PhoneNumberOneHourLimit"
        daily = limits["daily_per_number"]
        today = datetime.fromtimestamp(now, BEIJING).date()
        if daily and sum(
            1 for at in sent if datetime.fromtimestamp(at, BEIJING).date() == today
        ) >= (daily):
            return "LimitExceeded.PhoneNumberDailyLimit"
        return "Ok"


class _ApiError(Exception):
    """Short-circuits a call with a request-level ``Response.Error``."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or message_for(code)


def _json_response(payload: dict[str, Any], status: int = 200) -> Response:
    """Tencent's answers carry exactly ``application/json`` (the SDK ignores anything else)."""
    body = json.dumps(payload, ensure_ascii=False)
    response = Response(body, status=status)
    response.headers["Content-Type"] = "application/json"
    return response


def _error_payload(code: str, message: str | None, request_id: str) -> dict[str, Any]:
    return {
        "Response": {
            "Error": {"Code": code, "Message": message or message_for(code)},
            "RequestId": request_id,
        }
    }


def _authenticate(state: SmsEmulatorState, raw_body: bytes) -> str:
    """Verify the TC3-HMAC-SHA256 signature of the current request; returns the SecretId."""
    match = AUTH_RE.match(request.headers.get("Authorization", "").strip())
    if not match:
        raise _ApiError("AuthFailure.InvalidAuthorization")
    signed = match["signed"].split(";")
    if "content-type" not in signed or "host" not in signed:
        raise _ApiError("AuthFailure.InvalidAuthorization", "content-type and host must be signed")
    if match["secret_id"] != state.secret_id:
        raise _ApiError("AuthFailure.SecretIdNotFound")
    timestamp = request.headers.get("X-TC-Timestamp", "")
    if not timestamp.isdigit():
        raise _ApiError(
            "MissingParameter", "The request is missing a required header X-TC-Timestamp."
        )
    if abs(time.time() - int(timestamp)) > SIGNATURE_TTL_SECONDS:
        raise _ApiError("AuthFailure.SignatureExpire")
    date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    if match["service"] != SERVICE or match["date"] != date:
        raise _ApiError(
            "AuthFailure.SignatureFailure",
            f"The credential scope must be {date}/{SERVICE}/tc3_request.",
        )
    expected = tc3_signature(
        state.secret_key,
        method=request.method,
        path=request.path,
        query=request.query_string.decode(),
        headers=dict(request.headers),
        signed_headers=signed,
        payload=raw_body,
        timestamp=timestamp,
        date=date,
        unsigned_payload=request.headers.get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD",
    )
    if not hmac.compare_digest(expected, match["signature"]):
        raise _ApiError("AuthFailure.SignatureFailure")
    return match["secret_id"]


def _check_headers() -> None:
    action = request.headers.get("X-TC-Action")
    if not action:
        raise _ApiError("MissingParameter", "The request is missing a required header X-TC-Action.")
    if action != ACTION:
        raise _ApiError("InvalidAction", f"The action {action!r} is not supported (SendSms only).")
    if request.headers.get("X-TC-Version") != VERSION:
        raise _ApiError("NoSuchVersion", f"The emulator serves version {VERSION} only.")
    region = request.headers.get("X-TC-Region")
    if not region:
        raise _ApiError("MissingParameter", "The request is missing a required header X-TC-Region.")
    if region not in REGIONS:
        raise _ApiError("UnsupportedRegion")


def _parse(state: SmsEmulatorState, raw_body: bytes, request_id: str) -> _SendRequest:
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise _ApiError("InvalidParameter", "The emulator accepts application/json bodies only.")
    try:
        body = json.loads(raw_body or b"{}")
    except ValueError as exc:
        raise _ApiError("InvalidParameter", f"The body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise _ApiError("InvalidParameter", "The body must be a JSON object.")
    phones = body.get("PhoneNumberSet")
    if not phones:
        raise _ApiError(
            "MissingParameter", "The request is missing a required parameter PhoneNumberSet."
        )
    if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
        raise _ApiError("InvalidParameter", "PhoneNumberSet must be a list of strings.")
    if len(phones) > MAX_NUMBERS_PER_CALL:
        raise _ApiError("LimitExceeded.PhoneNumberCountLimit")
    normalized = [normalize_phone(p) for p in phones]
    if any(p and p.startswith("+86") for p in normalized) and any(
        p and not p.startswith("+86") for p in normalized
    ):
        raise _ApiError("UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber")
    for name in ("SmsSdkAppId", "TemplateId"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise _ApiError(
                "MissingParameter", f"The request is missing a required parameter {name}."
            )
    if state.sdk_app_id is not None and body["SmsSdkAppId"] != state.sdk_app_id:
        raise _ApiError("InvalidParameterValue.SdkAppIdNotExist")
    domestic = any(p and p.startswith("+86") for p in normalized)
    sign_name = body.get("SignName") or ""
    if domestic and not sign_name:
        raise _ApiError("MissingParameter", "SignName is required for domestic numbers.")
    params = body.get("TemplateParamSet") or []
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise _ApiError("InvalidParameterValue.TemplateParameterFormatError")
    return _SendRequest(
        phones=phones,
        sdk_app_id=body["SmsSdkAppId"],
        sign_name=str(sign_name),
        template_id=body["TemplateId"],
        params=params,
        session_context=str(body.get("SessionContext") or ""),
        extend_code=str(body.get("ExtendCode") or ""),
        request_id=request_id,
    )


def _send_sms(state: SmsEmulatorState) -> Response:
    started = state.now()
    request_id = str(uuid.uuid4())
    raw_body = request.get_data()
    try:
        body = json.loads(raw_body or b"{}")
    except ValueError:
        body = None
    record: dict[str, Any] = {
        "action": request.headers.get("X-TC-Action"),
        "version": request.headers.get("X-TC-Version"),
        "region": request.headers.get("X-TC-Region"),
        "secret_id": None,
        "phones": body.get("PhoneNumberSet") if isinstance(body, dict) else None,
        "template_id": body.get("TemplateId") if isinstance(body, dict) else None,
        "params": body.get("TemplateParamSet") if isinstance(body, dict) else None,
        "body": body,
        "at": started,
        "request_id": request_id,
        "http_status": 200,
        "error": None,
        "statuses": [],
    }
    fault = state.take_fault()
    if fault and fault.delay_seconds > 0:
        time.sleep(fault.delay_seconds)
    try:
        if fault and (fault.code or fault.http_status):
            status = fault.http_status or 200
            record["http_status"] = status
            if not fault.code:
                text = fault.message or f"emulated HTTP {status}"
                return Response(
                    f"<html><body>{text}</body></html>", status=status, mimetype="text/html"
                )
            raise _ApiError(fault.code, fault.message)
        _check_headers()
        record["secret_id"] = _authenticate(state, raw_body)
        send = _parse(state, raw_body, request_id)
        delay = 0.0
        for index, phone in enumerate(send.phones):
            phone_fault = state.take_fault(normalize_phone(phone) or phone)
            if phone_fault:
                send.phone_faults[index] = phone_fault
                delay = max(delay, phone_fault.delay_seconds)
        if delay:
            time.sleep(delay)
        error, statuses = state.deliver(send)
        if error:
            raise _ApiError(error)
        record["statuses"] = [{"phone": s["PhoneNumber"], "code": s["Code"]} for s in statuses]
        return _json_response({"Response": {"SendStatusSet": statuses, "RequestId": request_id}})
    except _ApiError as answer:
        record["error"] = answer.code
        return _json_response(
            _error_payload(answer.code, answer.message, request_id), record["http_status"]
        )
    finally:
        state.record(record)


def create_app(state: SmsEmulatorState) -> Flask:
    """The WSGI app serving ``POST /`` (SendSms) and the ``/__emulator/`` control API."""
    app = Flask("sms_emulator")
    app.json.ensure_ascii = False

    @app.post("/")
    def send_sms() -> Response:
        return _send_sms(state)

    @app.get("/__emulator/health")
    def health() -> Response:
        return jsonify(ok=True)

    @app.get("/__emulator/messages")
    def list_messages() -> Response:
        return jsonify(messages=state.messages(request.args.get("phone")))

    @app.get("/__emulator/calls")
    def list_calls() -> Response:
        return jsonify(calls=state.calls())

    @app.delete("/__emulator/calls")
    def clear_calls() -> Response:
        state.clear_calls()
        return jsonify(ok=True)

    @app.get("/__emulator/faults")
    def list_faults() -> Response:
        return jsonify(faults=state.faults())

    @app.post("/__emulator/faults")
    def add_fault() -> Response | tuple[Response, int]:
        body = request.get_json(force=True, silent=True) or {}
        try:
            fault = state.inject(
                code=body.get("code"),
                message=body.get("message"),
                http_status=body.get("http_status"),
                delay_seconds=body.get("delay_seconds") or 0.0,
                times=body.get("times", 1),
                phone=body.get("phone"),
            )
        except (TypeError, ValueError) as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(ok=True, fault=fault.as_dict())

    @app.delete("/__emulator/faults")
    def clear_faults() -> Response:
        state.clear_faults()
        return jsonify(ok=True)

    @app.get("/__emulator/limits")
    def get_limits() -> Response:
        return jsonify(limits=state.limits())

    @app.post("/__emulator/limits")
    def set_limits() -> Response | tuple[Response, int]:
        body = request.get_json(force=True, silent=True) or {}
        try:
            limits = state.set_limits(
                same_content_seconds=body.get("same_content_seconds"),
                daily_per_number=body.get("daily_per_number"),
                hourly_per_number=body.get("hourly_per_number"),
            )
        except (TypeError, ValueError) as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(ok=True, limits=limits)

    @app.get("/__emulator/templates")
    def get_templates() -> Response:
        return jsonify(templates=state.templates())

    @app.post("/__emulator/templates")
    def set_templates() -> Response:
        body = request.get_json(force=True, silent=True) or {}
        state.set_templates(body.get("templates") or {})
        return jsonify(ok=True, templates=state.templates())

    @app.post("/__emulator/clock")
    def advance_clock() -> Response:
        body = request.get_json(force=True, silent=True) or {}
        return jsonify(ok=True, now=state.advance(float(body.get("advance_seconds") or 0)))

    @app.post("/__emulator/reset")
    def reset() -> Response:
        state.reset()
        return jsonify(ok=True)

    return app


@dataclass
class SmsEmulatorHandle:
    """A running emulator; ``endpoint`` is what ``SMS_ENDPOINT`` takes (with protocol http)."""

    host: str
    port: int
    state: SmsEmulatorState
    server: WsgiServer

    @property
    def url(self) -> str:
        """Base URL of the emulator (the control API lives under ``__emulator/``)."""
        return f"http://{self.host}:{self.port}/"

    @property
    def endpoint(self) -> str:
        """``host:port``, the SDK's ``HttpProfile.endpoint``."""
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        self.server.stop()


def start_sms_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    secret_id: str = DEFAULT_SECRET_ID,
    secret_key: str = DEFAULT_SECRET_KEY,
    sdk_app_id: str | None = DEFAULT_SDK_APP_ID,
) -> SmsEmulatorHandle:
    """Serve the emulator from a background thread; port 0 picks a free port.

    ``sdk_app_id`` None accepts any SmsSdkAppId."""
    state = SmsEmulatorState(secret_id=secret_id, secret_key=secret_key, sdk_app_id=sdk_app_id)
    server = WsgiServer(create_app(state), host, port, "sms-emulator").start()
    return SmsEmulatorHandle(host=host, port=server.port, state=state, server=server)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: serve in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Local Tencent Cloud SMS (SendSms) emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8702)
    parser.add_argument("--secret-id", default=DEFAULT_SECRET_ID)
    parser.add_argument("--secret-key", default=DEFAULT_SECRET_KEY)
    parser.add_argument(
        "--sdk-app-id", default=DEFAULT_SDK_APP_ID, help='SmsSdkAppId to accept ("" = any)'
    )
    args = parser.parse_args(argv)
    state = SmsEmulatorState(
        secret_id=args.secret_id, secret_key=args.secret_key, sdk_app_id=args.sdk_app_id or None
    )
    server = WsgiServer(create_app(state), args.host, args.port, "sms-emulator")
    print(
        f"SMS emulator on http://{args.host}:{server.port}/ "
        f"(SMS_ENDPOINT={args.host}:{server.port} SMS_PROTOCOL=http)",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.stop()


if __name__ == "__main__":
    main()

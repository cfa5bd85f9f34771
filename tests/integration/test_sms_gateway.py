"""SmsGateway (official Tencent Cloud SDK) against the SMS emulator over real HTTP.

Needs the fixtures of ``tests.fixtures.sms`` (``-p tests.fixtures.sms``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import requests

from chalicelib.adapters.sms import (
    SmsError,
    SmsGateway,
    SmsRejected,
    SmsSettings,
    SmsUnavailable,
    get_sms_gateway,
)
from devstack.sms_emulator import SmsEmulatorHandle

PHONE = "+8613800000001"
OTHER = "+8613900000002"
TEMPLATE = "1234567"


@pytest.fixture
def gateway(sms_env: SmsEmulatorHandle) -> SmsGateway:
    """A gateway configured from the environment, pointing at the clean emulator."""
    return SmsGateway(SmsSettings.from_env())


def _send_raising(gateway: SmsGateway, *args, **kwargs) -> SmsError:
    with pytest.raises(SmsError) as info:
        gateway.send(*args, **kwargs)
    return info.value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _hand_signed_post(
    sms: SmsEmulatorHandle,
    body: dict,
    *,
    secret_key: str = "local-sms-key",
    content_type: str = "application/json; charset=utf-8",
    tamper: bool = False,
) -> requests.Response:
    """A SendSms request signed step by step as Tencent's signature v3 documentation says."""
    payload = json.dumps(body, ensure_ascii=False).encode()
    timestamp = int(time.time())
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    host = sms.endpoint
    canonical_request = (
        f"POST\n/\n\ncontent-type:{content_type}\nhost:{host}\n\ncontent-type;host\n"
        + hashlib.sha256(payload).hexdigest()
    )
    scope = f"{date}/sms/tc3_request"
    string_to_sign = (
        f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n"
        + hashlib.sha256(canonical_request.encode()).hexdigest()
    )

    def _hmac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing_key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), "sms"), "tc3_request")
    signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Authorization": (
            f"TC3-HMAC-SHA256 Credential=local-sms-id/{scope}, "
            f"SignedHeaders=content-type;host, Signature={signature}"
        ),
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": "SendSms",
        "X-TC-Version": "2021-01-11",
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": "ap-guangzhou",
    }
    if tamper:
        payload = payload.replace(b"13800000001", b"13800000009")
    return requests.post(sms.url, data=payload, headers=headers, timeout=5)


# --- delivery -------------------------------------------------------------------------------


def test_send_delivers_and_records(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    serial = gateway.send("13800000001", TEMPLATE, ["张三", 3])

    assert serial
    [message] = sms.state.messages()
    assert message["phone"] == PHONE
    assert message["template_id"] == TEMPLATE
    assert message["params"] == ["张三", "3"]
    assert message["sign_name"] == "随手拍"
    assert message["sdk_app_id"] == "1400000000"
    assert message["serial_no"] == serial
    assert sms.state.messages(PHONE) == sms.state.messages("13800000001") == [message]
    assert sms.state.messages(OTHER) == []

    [call] = sms.state.calls()
    assert call["action"] == "SendSms"
    assert call["version"] == "2021-01-11"
    assert call["region"] == "ap-guangzhou"
    assert call["secret_id"] == "local-sms-id"
    assert call["phones"] == [PHONE]
    assert call["template_id"] == TEMPLATE
    assert call["params"] == ["张三", "3"]
    assert call["error"] is None
    assert call["statuses"] == [{"phone": PHONE, "code": "Ok"}]
    assert call["at"] == pytest.approx(time.time(), abs=5)


def test_wire_format_of_success_and_error(sms_env: SmsEmulatorHandle) -> None:
    """Hand-signed requests (charset in the content type) pass; answers are plain JSON."""
    body = {
        "PhoneNumberSet": [PHONE, "12345"],
        "SmsSdkAppId": "1400000000",
        "SignName": "随手拍",
        "TemplateId": TEMPLATE,
        "TemplateParamSet": ["1"],
        "SessionContext": "ctx-1",
    }
    ok = _hand_signed_post(sms_env, body)
    assert ok.status_code == 200
    assert ok.headers["Content-Type"] == "application/json"
    answer = ok.json()["Response"]
    assert answer["RequestId"]
    delivered, invalid = answer["SendStatusSet"]
    assert delivered["Code"] == "Ok"
    assert delivered["Message"] == "send success"
    assert delivered["PhoneNumber"] == PHONE
    assert delivered["Fee"] == 1
    assert delivered["IsoCode"] == "CN"
    assert delivered["SessionContext"] == "ctx-1"
    assert delivered["SerialNo"]
    assert invalid["Code"] == "InvalidParameterValue.IncorrectPhoneNumber"
    assert invalid["Fee"] == 0
    assert [m["phone"] for m in sms_env.state.messages()] == [PHONE]

    tampered = _hand_signed_post(sms_env, body, tamper=True)
    assert tampered.headers["Content-Type"] == "application/json"
    error = tampered.json()["Response"]
    assert error["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert error["Error"]["Message"]
    assert error["RequestId"]


# --- authentication -------------------------------------------------------------------------


def test_bad_secret_key_is_rejected(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    bad = SmsGateway(replace(gateway.settings, secret_key="not-the-key"))

    error = _send_raising(bad, PHONE, TEMPLATE, ["1"])

    assert isinstance(error, SmsRejected)
    assert error.code == "AuthFailure.SignatureFailure"
    assert not error.retryable
    assert error.request_id
    assert sms.state.messages() == []
    assert sms.state.calls()[0]["error"] == "AuthFailure.SignatureFailure"


def test_unknown_secret_id_is_rejected(gateway: SmsGateway) -> None:
    bad = SmsGateway(replace(gateway.settings, secret_id="AKIDunknown"))

    error = _send_raising(bad, PHONE, TEMPLATE, ["1"])

    assert isinstance(error, SmsRejected)
    assert error.code == "AuthFailure.SecretIdNotFound"


def test_expired_signature_is_rejected(
    gateway: SmsGateway, sms: SmsEmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tencentcloud.common import abstract_client

    six_minutes_ago = time.time() - 6 * 60
    monkeypatch.setattr(abstract_client, "time", SimpleNamespace(time=lambda: six_minutes_ago))

    error = _send_raising(gateway, PHONE, TEMPLATE, ["1"])

    assert isinstance(error, SmsRejected)
    assert error.code == "AuthFailure.SignatureExpire"


def test_unknown_app_id_is_rejected(gateway: SmsGateway) -> None:
    bad = SmsGateway(replace(gateway.settings, app_id="1400999999"))

    error = _send_raising(bad, PHONE, TEMPLATE, ["1"])

    assert isinstance(error, SmsRejected)
    assert error.code == "InvalidParameterValue.SdkAppIdNotExist"


# --- frequency limits -----------------------------------------------------------------------


def test_same_content_within_thirty_seconds(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    gateway.send(PHONE, TEMPLATE, ["a"])

    error = _send_raising(gateway, PHONE, TEMPLATE, ["a"])
    assert isinstance(error, SmsUnavailable)
    assert error.retryable
    assert error.code == "LimitExceeded.PhoneNumberThirtySecondLimit"
    assert error.limit == "thirty_seconds"

    gateway.send(PHONE, TEMPLATE, ["b"])  # other content
    gateway.send(OTHER, TEMPLATE, ["a"])  # other number
    sms.state.advance(31)
    gateway.send(PHONE, TEMPLATE, ["a"])

    assert len(sms.state.messages(PHONE)) == 3
    codes = [c["statuses"][0]["code"] for c in sms.state.calls()]
    assert codes == ["Ok", "LimitExceeded.PhoneNumberThirtySecondLimit", "Ok", "Ok", "Ok"]


def test_daily_limit_per_number(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    for n in range(10):
        gateway.send(PHONE, TEMPLATE, [str(n)])

    error = _send_raising(gateway, PHONE, TEMPLATE, ["10"])
    assert isinstance(error, SmsUnavailable)
    assert error.code == "LimitExceeded.PhoneNumberDailyLimit"
    assert error.limit == "daily"
    gateway.send(OTHER, TEMPLATE, ["10"])

    sms.state.advance(24 * 3600)
    gateway.send(PHONE, TEMPLATE, ["10"])
    assert len(sms.state.messages(PHONE)) == 11


def test_limits_are_configurable_and_reset(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    limits = requests.post(
        f"{sms.url}__emulator/limits", json={"daily_per_number": 2}, timeout=5
    ).json()["limits"]
    assert limits["daily_per_number"] == 2
    assert limits["same_content_seconds"] == 30
    gateway.send(PHONE, TEMPLATE, ["1"])
    gateway.send(PHONE, TEMPLATE, ["2"])
    assert _send_raising(gateway, PHONE, TEMPLATE, ["3"]).limit == "daily"

    sms.state.set_limits(daily_per_number=0, same_content_seconds=0)  # 0 = off
    gateway.send(PHONE, TEMPLATE, ["3"])
    gateway.send(PHONE, TEMPLATE, ["3"])

    assert requests.post(f"{sms.url}__emulator/reset", timeout=5).json() == {"ok": True}
    assert sms.state.limits()["daily_per_number"] == 10
    assert sms.state.messages() == []
    gateway.send(PHONE, TEMPLATE, ["3"])  # counters and windows forgotten


def test_hourly_limit_when_enabled(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    sms.state.set_limits(hourly_per_number=2)
    gateway.send(PHONE, TEMPLATE, ["1"])
    gateway.send(PHONE, TEMPLATE, ["2"])

    error = _send_raising(gateway, PHONE, TEMPLATE, ["3"])

    assert isinstance(error, SmsUnavailable)
    assert error.code == "LimitExceeded.PhoneNumberOneHourLimit"
    assert error.limit == "hourly"


# --- injected faults ------------------------------------------------------------------------


def test_injected_internal_error_is_retryable(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    answer = requests.post(
        f"{sms.url}__emulator/faults", json={"code": "InternalError.Timeout"}, timeout=5
    )
    assert answer.json()["fault"]["times"] == 1

    error = _send_raising(gateway, PHONE, TEMPLATE, ["1"])

    assert isinstance(error, SmsUnavailable)
    assert error.code == "InternalError.Timeout"
    assert error.limit is None
    assert sms.state.faults() == []
    gateway.send(PHONE, TEMPLATE, ["1"])  # the fault was used once
    assert len(sms.state.messages()) == 1


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        ("LimitExceeded.AppDailyLimit", True),
        ("RequestLimitExceeded", True),
        ("FailedOperation.InsufficientBalanceInSmsPackage", True),
        ("FailedOperation.TemplateIncorrectOrUnapproved", False),
        ("FailedOperation.SignatureIncorrectOrUnapproved", False),
        ("UnauthorizedOperation.SmsSdkAppIdVerifyFail", False),
    ],
)
def test_request_errors_are_classified(
    gateway: SmsGateway, sms: SmsEmulatorHandle, code: str, retryable: bool
) -> None:
    sms.state.inject(code=code)

    error = _send_raising(gateway, PHONE, TEMPLATE, ["1"])

    assert error.code == code
    assert error.retryable is retryable
    assert isinstance(error, SmsUnavailable if retryable else SmsRejected)


def test_http_500_is_retryable(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    sms.state.inject(http_status=500, times=2)

    for _ in range(2):
        error = _send_raising(gateway, PHONE, TEMPLATE, ["1"])
        assert isinstance(error, SmsUnavailable)
        assert error.http_status == 500
    gateway.send(PHONE, TEMPLATE, ["1"])
    assert [c["http_status"] for c in sms.state.calls()] == [500, 500, 200]


def test_slow_answer_beyond_timeout_is_retryable(
    gateway: SmsGateway, sms: SmsEmulatorHandle
) -> None:
    slow = SmsGateway(replace(gateway.settings, timeout_seconds=0.5))
    sms.state.inject(delay_seconds=2)

    started = time.monotonic()
    error = _send_raising(slow, PHONE, TEMPLATE, ["1"])

    assert time.monotonic() - started < 1.8
    assert isinstance(error, SmsUnavailable)
    assert error.code == "ClientNetworkError"


def test_connection_refused_is_retryable(gateway: SmsGateway) -> None:
    closed = SmsGateway(replace(gateway.settings, endpoint=f"127.0.0.1:{_free_port()}"))

    error = _send_raising(closed, PHONE, TEMPLATE, ["1"])

    assert isinstance(error, SmsUnavailable)
    assert error.code == "ClientNetworkError"


def test_fault_for_one_phone_only(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    requests.post(
        f"{sms.url}__emulator/faults",
        json={
            "code": "FailedOperation.PhoneNumberInBlacklist",
            "phone": "13800000001",
            "times": -1,
        },
        timeout=5,
    )

    for params in (["1"], ["2"]):
        error = _send_raising(gateway, PHONE, TEMPLATE, params)
        assert isinstance(error, SmsRejected)
        assert error.code == "FailedOperation.PhoneNumberInBlacklist"
        assert error.phone == PHONE
    gateway.send(OTHER, TEMPLATE, ["1"])

    assert [m["phone"] for m in sms.state.messages()] == [OTHER]
    assert sms.state.calls()[0]["error"] is None  # the call itself succeeded
    assert requests.delete(f"{sms.url}__emulator/faults", timeout=5).json() == {"ok": True}
    gateway.send(PHONE, TEMPLATE, ["1"])


def test_per_phone_limit_fault_is_retryable(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    sms.state.inject(code="LimitExceeded.PhoneNumberDailyLimit", phone=PHONE)

    error = _send_raising(gateway, PHONE, TEMPLATE, ["1"])

    assert isinstance(error, SmsUnavailable)
    assert error.limit == "daily"


def test_invalid_number_is_rejected(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    error = _send_raising(gateway, "12345", TEMPLATE, ["1"])

    assert isinstance(error, SmsRejected)
    assert error.code == "InvalidParameterValue.IncorrectPhoneNumber"
    assert sms.state.calls()[0]["statuses"] == [
        {"phone": "+8612345", "code": "InvalidParameterValue.IncorrectPhoneNumber"}
    ]
    assert sms.state.messages() == []


def test_declared_templates_are_checked_and_rendered(
    gateway: SmsGateway, sms: SmsEmulatorHandle
) -> None:
    sms.state.set_templates({TEMPLATE: "您有一条新的群众留言：{1}，请于{2}日内处理。"})

    gateway.send(PHONE, TEMPLATE, ["路灯损坏", "3"])
    assert sms.state.messages()[0]["content"] == (
        "【随手拍】您有一条新的群众留言：路灯损坏，请于3日内处理。"
    )

    mismatch = _send_raising(gateway, PHONE, TEMPLATE, ["路灯损坏"])
    assert isinstance(mismatch, SmsRejected)
    assert mismatch.code == "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
    unknown = _send_raising(gateway, PHONE, "7654321", ["x"])
    assert unknown.code == "FailedOperation.TemplateIncorrectOrUnapproved"


# --- control API and settings ---------------------------------------------------------------


def test_control_api(gateway: SmsGateway, sms: SmsEmulatorHandle) -> None:
    assert requests.get(f"{sms.url}__emulator/health", timeout=5).json() == {"ok": True}
    gateway.send(PHONE, TEMPLATE, ["1"])
    gateway.send(OTHER, TEMPLATE, ["1"])

    messages = requests.get(f"{sms.url}__emulator/messages", timeout=5).json()["messages"]
    assert [m["phone"] for m in messages] == [PHONE, OTHER]
    only = requests.get(f"{sms.url}__emulator/messages", params={"phone": OTHER}, timeout=5).json()[
        "messages"
    ]
    assert [m["phone"] for m in only] == [OTHER]
    calls = requests.get(f"{sms.url}__emulator/calls", timeout=5).json()["calls"]
    assert len(calls) == 2

    bad = requests.post(f"{sms.url}__emulator/faults", json={}, timeout=5)
    assert bad.status_code == 400


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMS_ENDPOINT", "SMS_PROTOCOL", "SMS_SECRET_ID", "SMS_SECRET_KEY", "STAGE"):
        monkeypatch.delenv(name, raising=False)
    local = SmsSettings.from_env()
    assert local.endpoint == "sms.tencentcloudapi.com"
    assert local.protocol == "https"
    assert local.region == "ap-guangzhou"
    assert (local.secret_id, local.secret_key) == ("local-sms-id", "local-sms-key")
    assert local.app_id == "1400000000"
    assert local.sign_name == "随手拍"
    assert local.timeout_seconds == 5
    assert "local-sms-key" not in repr(local)

    monkeypatch.setenv("STAGE", "prod")
    with pytest.raises(RuntimeError, match="SMS_SECRET_ID"):
        SmsSettings.from_env()
    monkeypatch.setenv("SMS_SECRET_ID", "AKIDprod")
    monkeypatch.setenv("SMS_SECRET_KEY", "prod-key")
    assert SmsSettings.from_env().secret_id == "AKIDprod"


def test_sdk_is_imported_lazily() -> None:
    code = (
        "import sys, chalicelib.adapters.sms as m; m.SmsGateway(m.SmsSettings());"
        "print(any(n.startswith('tencentcloud') for n in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_get_sms_gateway_is_cached_per_settings(sms_env: SmsEmulatorHandle) -> None:
    assert get_sms_gateway() is get_sms_gateway(SmsSettings.from_env())
    get_sms_gateway().send(PHONE, TEMPLATE, ["1"])
    assert len(sms_env.state.messages()) == 1

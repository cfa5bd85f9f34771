"""WeChatGateway against the WeChat emulator over HTTP, with the token table on moto's server."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
import zxingcpp
from moto.server import ThreadedMotoServer
from PIL import Image

from chalicelib.adapters.wechat import (
    DynamoTokenStorage,
    WeChatError,
    WeChatGateway,
    WeChatRejected,
    WeChatUnavailable,
)
from chalicelib.config import Settings, get_settings
from chalicelib.store.models import TokenModel, bind_models
from devstack.wechat_emulator import EmulatorHandle, openid_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def token_table() -> Iterator[Settings]:
    """A moto DynamoDB server holding the tokens table; yields settings pointing at it."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AWS_ACCESS_KEY_ID", "test")
            mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
            mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
            mp.setenv("DYNAMODB_ENDPOINT", f"http://127.0.0.1:{port}")
            mp.setenv("TABLE_PREFIX", "wxgw-test-")
            settings = get_settings()
            bind_models(settings)
            TokenModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
            yield settings
    finally:
        server.stop()
        bind_models(get_settings())


@pytest.fixture
def settings(token_table: Settings, wechat: EmulatorHandle) -> Settings:
    """Settings for a clean emulator and an empty tokens table."""
    bind_models(token_table)
    for item in TokenModel.scan():
        item.delete()
    return replace(
        token_table,
        wechat_api_base=wechat.url,
        wechat_appid=wechat.state.appid,
        wechat_secret=wechat.state.secret,
        wechat_timeout_seconds=2.0,
    )


@pytest.fixture
def gateway(settings: Settings) -> WeChatGateway:
    return WeChatGateway(settings)


def _warm(gateway: WeChatGateway, wechat: EmulatorHandle) -> None:
    """Make one call so a token is fetched and stored, then forget the recorded calls."""
    gateway.check_text(openid_for(wechat.state.appid, "warm"), "你好")
    wechat.state.clear_calls()


# --- login ---------------------------------------------------------------------------


def test_login_code_maps_to_stable_openid(gateway: WeChatGateway, wechat: EmulatorHandle):
    first = gateway.code_to_session("code-a")
    again = gateway.code_to_session("code-a")
    other = gateway.code_to_session("code-b")
    assert first["openid"] == again["openid"] == openid_for(wechat.state.appid, "code-a")
    assert len(first["openid"]) == 28 and first["openid"].startswith("o")
    assert other["openid"] != first["openid"]
    assert first["session_key"]
    call = wechat.state.calls("jscode2session")[0]
    assert call["query"]["js_code"] == "code-a"
    assert call["query"]["grant_type"] == "authorization_code"


def test_empty_login_code_is_rejected(gateway: WeChatGateway):
    with pytest.raises(WeChatRejected) as info:
        gateway.code_to_session("")
    assert info.value.errcode == 40029 and not info.value.retryable


# --- content security ----------------------------------------------------------------


def test_check_text_follows_configured_words(gateway: WeChatGateway, wechat: EmulatorHandle):
    wechat.state.set_words(risky=["违禁品"], review=["敏感"])
    openid = openid_for(wechat.state.appid, "citizen")
    assert gateway.check_text(openid, "路灯坏了，请修理") == "pass"
    assert gateway.check_text(openid, "这件事有点敏感") == "review"
    assert gateway.check_text(openid, "有人卖违禁品") == "risky"
    assert gateway.check_text(openid, "赌博") == "pass"
    body = wechat.state.calls("msg_sec_check")[0]["body"]
    assert body == {"content": "路灯坏了，请修理", "version": 2, "scene": 3, "openid": openid}


def test_default_words(gateway: WeChatGateway, wechat: EmulatorHandle):
    openid = openid_for(wechat.state.appid, "citizen")
    assert gateway.check_text(openid, "楼下有人赌博") == "risky"
    assert gateway.check_text(openid, "我要上访") == "review"


# --- mini-program code -----------------------------------------------------------------


def test_station_qrcode_decodes_to_scene(gateway: WeChatGateway, wechat: EmulatorHandle):
    scene = "st=ST-0042&v=1"
    png = gateway.station_qrcode(scene, "pages/report/report", env_version="develop")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [r.text for r in results] == [scene]
    body = wechat.state.calls("getwxacodeunlimit")[0]["body"]
    assert body["env_version"] == "develop" and body["check_path"] is False


@pytest.mark.parametrize(
    ("scene", "page", "errcode"),
    [
        ("站点-1", "pages/report/report", 40169),
        ("x" * 33, "pages/report/report", 40169),
        ("st=1", "/pages/report/report", 41030),
    ],
)
def test_station_qrcode_invalid_arguments(gateway: WeChatGateway, scene, page, errcode):
    with pytest.raises(WeChatRejected) as info:
        gateway.station_qrcode(scene, page)
    assert info.value.errcode == errcode and not info.value.retryable


# --- phone number -------------------------------------------------------------------------


def test_phone_code_works_once(gateway: WeChatGateway):
    assert gateway.phone_number("phone-13800138000") == "13800138000"
    with pytest.raises(WeChatRejected) as info:
        gateway.phone_number("phone-13800138000")
    assert info.value.errcode == 40029
    other = gateway.phone_number("opaque-code")
    assert len(other) == 11 and other.isdigit() and other.startswith("1")


# --- access token ---------------------------------------------------------------------------


def test_expired_token_refreshes_once_and_retries_once(
    gateway: WeChatGateway, wechat: EmulatorHandle
):
    _warm(gateway, wechat)
    wechat.state.inject("msg_sec_check", errcode=40001)
    assert gateway.check_text(openid_for(wechat.state.appid, "x"), "你好") == "pass"
    assert [c["errcode"] for c in wechat.state.calls("msg_sec_check")] == [40001, 0]
    stable = wechat.state.calls("stable_token")
    assert len(stable) == 1 and stable[0]["body"]["force_refresh"] is False


def test_persistently_invalid_token_gives_up_after_one_retry(
    gateway: WeChatGateway, wechat: EmulatorHandle
):
    _warm(gateway, wechat)
    wechat.state.inject("msg_sec_check", errcode=40001, times=-1)
    with pytest.raises(WeChatError) as info:
        gateway.check_text(openid_for(wechat.state.appid, "x"), "你好")
    assert info.value.errcode == 40001
    assert len(wechat.state.calls("msg_sec_check")) == 2
    assert len(wechat.state.calls("stable_token")) == 1


def test_really_expired_tokens_are_replaced(gateway: WeChatGateway, wechat: EmulatorHandle):
    _warm(gateway, wechat)
    key = f"{wechat.state.appid}_access_token"
    old = TokenModel.get(key).value
    wechat.state.expire_tokens()
    assert gateway.phone_number("phone-13900139000") == "13900139000"
    calls = wechat.state.calls("getuserphonenumber")
    assert [c["errcode"] for c in calls] == [40001, 0]
    new = TokenModel.get(key).value
    assert new != old and calls[1]["query"]["access_token"] == new


def test_token_is_shared_through_dynamodb(settings: Settings, wechat: EmulatorHandle):
    first = WeChatGateway(settings)
    first.code_to_session("code-a")
    assert len(wechat.state.calls("stable_token")) == 1
    item = TokenModel.get(f"{settings.wechat_appid}_access_token")
    assert abs(item.expires_at - (time.time() + 7200 - 60)) < 10
    assert wechat.state.calls("jscode2session")[0]["query"]["access_token"] == item.value

    second = WeChatGateway(settings, DynamoTokenStorage(settings))
    second.check_text(openid_for(settings.wechat_appid, "code-a"), "你好")
    assert len(wechat.state.calls("stable_token")) == 1
    assert wechat.state.calls("msg_sec_check")[0]["query"]["access_token"] == item.value


def test_token_storage_expiry_and_delete(settings: Settings):
    storage = DynamoTokenStorage(settings)
    storage.set("k-expired", "v1", 60)
    assert storage.get("k-expired", "none") == "none"
    assert DynamoTokenStorage(settings).get("k-expired") is None
    storage.set("k", "v2", 7200)
    assert storage.get("k") == "v2"
    assert DynamoTokenStorage(settings).get("k") == "v2"
    storage.delete("k")
    assert storage.get("k") is None
    assert DynamoTokenStorage(settings).get("k") is None


def test_wrong_secret_is_rejected(settings: Settings):
    gateway = WeChatGateway(replace(settings, wechat_secret="wrong"))
    with pytest.raises(WeChatRejected) as info:
        gateway.code_to_session("code-a")
    assert info.value.errcode == 40125


# --- transient failures --------------------------------------------------------------------


def test_http_500_is_retryable(gateway: WeChatGateway, wechat: EmulatorHandle):
    _warm(gateway, wechat)
    wechat.state.inject("msg_sec_check", http_status=500)
    with pytest.raises(WeChatUnavailable) as info:
        gateway.check_text(openid_for(wechat.state.appid, "x"), "你好")
    assert info.value.retryable and info.value.http_status == 500
    assert len(wechat.state.calls("msg_sec_check")) == 1


def test_slow_answer_times_out(settings: Settings, wechat: EmulatorHandle):
    gateway = WeChatGateway(replace(settings, wechat_timeout_seconds=0.3))
    _warm(gateway, wechat)
    wechat.state.inject("msg_sec_check", delay_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(WeChatUnavailable) as info:
        gateway.check_text(openid_for(wechat.state.appid, "x"), "你好")
    assert info.value.retryable
    assert time.monotonic() - started < 0.9


def test_token_endpoint_down_is_retryable(gateway: WeChatGateway, wechat: EmulatorHandle):
    wechat.state.inject("stable_token", errcode=-1)
    with pytest.raises(WeChatUnavailable) as info:
        gateway.code_to_session("code-a")
    assert info.value.errcode == -1
    assert wechat.state.calls("jscode2session") == []


def test_daily_quota_is_retryable(gateway: WeChatGateway, wechat: EmulatorHandle):
    wechat.state.inject("getwxacodeunlimit", errcode=45009)
    with pytest.raises(WeChatUnavailable) as info:
        gateway.station_qrcode("st=1", "pages/report/report")
    assert info.value.errcode == 45009 and info.value.retryable


# --- subscribe messages ---------------------------------------------------------------------


def test_subscribe_send(gateway: WeChatGateway, wechat: EmulatorHandle):
    openid = gateway.code_to_session("code-a")["openid"]
    msgid = gateway.send_subscribe(
        openid, "TPL-1", {"thing1": "路灯坏了", "phrase2": "已受理"}, page="pages/me/me"
    )
    assert msgid
    body = wechat.state.calls("subscribe_send")[0]["body"]
    assert body["data"] == {"thing1": {"value": "路灯坏了"}, "phrase2": {"value": "已受理"}}
    assert body["miniprogram_state"] == "formal" and body["lang"] == "zh_CN"
    assert body["page"] == "pages/me/me"


def test_subscribe_unsubscribed_user_is_rejected(gateway: WeChatGateway, wechat: EmulatorHandle):
    openid = gateway.code_to_session("code-a")["openid"]
    wechat.state.set_unsubscribed([openid])
    with pytest.raises(WeChatRejected) as info:
        gateway.send_subscribe(openid, "TPL-1", {"thing1": "你好"})
    assert info.value.errcode == 43101 and not info.value.retryable


def test_subscribe_thing_too_long_is_rejected(gateway: WeChatGateway, wechat: EmulatorHandle):
    openid = gateway.code_to_session("code-a")["openid"]
    with pytest.raises(WeChatRejected) as info:
        gateway.send_subscribe(openid, "TPL-1", {"thing1": "字" * 21})
    assert info.value.errcode == 47003
    assert "data.thing1.value invalid" in info.value.errmsg


def test_subscribe_unknown_user_is_rejected(gateway: WeChatGateway):
    with pytest.raises(WeChatRejected) as info:
        gateway.send_subscribe("not-an-openid", "TPL-1", {"thing1": "你好"})
    assert info.value.errcode == 40003


# --- emulator control API over plain HTTP -----------------------------------------------------


def _stable_token(wechat: EmulatorHandle, **overrides) -> dict:
    body = {
        "grant_type": "client_credential",
        "appid": wechat.state.appid,
        "secret": wechat.state.secret,
        "force_refresh": False,
        **overrides,
    }
    return requests.post(f"{wechat.url}cgi-bin/stable_token", json=body, timeout=5).json()


def test_control_health_and_calls(wechat: EmulatorHandle):
    assert requests.get(f"{wechat.url}__emulator/health", timeout=5).json() == {"ok": True}
    _stable_token(wechat)
    requests.get(f"{wechat.url}sns/jscode2session", params={"js_code": "x"}, timeout=5)
    calls = requests.get(f"{wechat.url}__emulator/calls", timeout=5).json()["calls"]
    assert [c["api"] for c in calls] == ["stable_token", "jscode2session"]
    only = requests.get(
        f"{wechat.url}__emulator/calls", params={"api": "jscode2session"}, timeout=5
    ).json()["calls"]
    assert len(only) == 1 and only[0]["errcode"] == 40013 and only[0]["method"] == "GET"
    requests.delete(f"{wechat.url}__emulator/calls", timeout=5)
    assert requests.get(f"{wechat.url}__emulator/calls", timeout=5).json() == {"calls": []}


def test_control_stable_token_semantics(wechat: EmulatorHandle):
    first = _stable_token(wechat)
    assert first["expires_in"] == 7200
    assert _stable_token(wechat)["access_token"] == first["access_token"]
    forced = _stable_token(wechat, force_refresh=True)["access_token"]
    assert forced != first["access_token"]
    assert _stable_token(wechat, secret="bad")["errcode"] == 40125
    assert _stable_token(wechat, appid="bad")["errcode"] == 40013
    ok = requests.post(
        f"{wechat.url}wxa/msg_sec_check",
        params={"access_token": first["access_token"]},
        json={"content": "你好", "version": 2, "scene": 3, "openid": "o" + "a" * 27},
        timeout=5,
    ).json()
    assert ok["errcode"] == 0 and ok["result"] == {"suggest": "pass", "label": 100}
    requests.post(f"{wechat.url}__emulator/expire_tokens", timeout=5)
    expired = requests.post(
        f"{wechat.url}wxa/msg_sec_check",
        params={"access_token": forced},
        json={"content": "你好", "version": 2, "scene": 3, "openid": "o" + "a" * 27},
        timeout=5,
    ).json()
    assert expired["errcode"] == 40001
    assert _stable_token(wechat)["access_token"] not in (first["access_token"], forced)


def test_control_faults_words_and_reset(wechat: EmulatorHandle):
    base = wechat.url
    bad = requests.post(f"{base}__emulator/faults", json={"api": "nope"}, timeout=5)
    assert bad.status_code == 400
    requests.post(
        f"{base}__emulator/faults", json={"api": "stable_token", "http_status": 500}, timeout=5
    )
    failed = requests.post(f"{base}cgi-bin/stable_token", json={}, timeout=5)
    assert failed.status_code == 500 and failed.text
    requests.post(
        f"{base}__emulator/faults",
        json={"api": "stable_token", "errcode": 45009, "times": 2},
        timeout=5,
    )
    assert [_stable_token(wechat)["errcode"] for _ in range(2)] == [45009, 45009]
    assert "access_token" in _stable_token(wechat)
    requests.post(
        f"{base}__emulator/faults",
        json={"api": "stable_token", "errcode": -1, "times": -1},
        timeout=5,
    )
    assert _stable_token(wechat)["errcode"] == -1
    requests.delete(f"{base}__emulator/faults", timeout=5)
    token = _stable_token(wechat)["access_token"]

    requests.post(f"{base}__emulator/words", json={"risky": ["坏词"], "review": []}, timeout=5)
    risky = requests.post(
        f"{base}wxa/msg_sec_check",
        params={"access_token": token},
        json={"content": "一个坏词", "version": 2, "scene": 3, "openid": "o" + "b" * 27},
        timeout=5,
    ).json()
    assert risky["errcode"] == 0 and risky["result"]["suggest"] == "risky"
    missing = requests.post(
        f"{base}wxa/msg_sec_check",
        params={"access_token": token},
        json={"content": "你好"},
        timeout=5,
    ).json()
    assert missing["errcode"] == 47001

    requests.post(f"{base}__emulator/reset", timeout=5)
    assert requests.get(f"{base}__emulator/calls", timeout=5).json() == {"calls": []}
    assert wechat.state.classify("赌博")[0] == "risky"
    after = requests.post(
        f"{base}wxa/msg_sec_check", params={"access_token": token}, json={}, timeout=5
    )
    assert after.headers["Content-Type"].startswith("application/json")
    assert after.json()["errcode"] == 40001


def test_control_unsubscribed(wechat: EmulatorHandle):
    token = _stable_token(wechat)["access_token"]
    openid = openid_for(wechat.state.appid, "deputy")
    requests.post(f"{wechat.url}__emulator/unsubscribed", json={"openids": [openid]}, timeout=5)
    answer = requests.post(
        f"{wechat.url}cgi-bin/message/subscribe/send",
        params={"access_token": token},
        json={"touser": openid, "template_id": "T", "data": {"thing1": {"value": "你好"}}},
        timeout=5,
    ).json()
    assert answer["errcode"] == 43101


def test_stable_token_is_renewed_in_its_last_five_minutes(wechat: EmulatorHandle):
    import time_machine

    first = _stable_token(wechat)
    with time_machine.travel(time.time() + 7200 - 400, tick=False):
        same = _stable_token(wechat)
        assert same["access_token"] == first["access_token"] and 390 <= same["expires_in"] <= 400
    with time_machine.travel(time.time() + 7200 - 100, tick=False):
        renewed = _stable_token(wechat)
        assert renewed["access_token"] != first["access_token"]
        assert renewed["expires_in"] == 7200
        assert wechat.state.check_token(first["access_token"]) == 0  # both usable meanwhile


def test_reset_waits_for_a_slow_answer_so_it_is_not_recorded_after(wechat: EmulatorHandle):
    faults = {"api": "stable_token", "delay_seconds": 1.0, "times": 1}
    requests.post(f"{wechat.url}__emulator/faults", json=faults, timeout=5)
    with pytest.raises(requests.exceptions.ReadTimeout):  # the client gives up on it
        requests.post(f"{wechat.url}cgi-bin/stable_token", json={}, timeout=0.2)
    wechat.state.reset()  # the next test's clean emulator
    assert wechat.state.calls() == []
    time.sleep(1.2)  # past the slow answer: nothing of it came in after the reset
    assert wechat.state.calls() == []

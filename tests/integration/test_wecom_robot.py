"""WeComRobot (group robot webhook) against the WeCom emulator over real HTTP.

Needs the fixtures of ``tests.fixtures.wecom`` (``-p tests.fixtures.wecom``).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time

import pytest
import requests

from chalicelib.adapters.wecom import (
    DEFAULT_WEBHOOK_BASE,
    WeComError,
    WeComRejected,
    WeComRobot,
    WeComUnavailable,
    get_wecom_robot,
    mask_key,
    split_markdown,
)
from devstack.wecom_emulator import WeComEmulatorHandle

KEY = "5f2c9a1e-7b3d-4c8e-9a01-robotkey0001"
OTHER = "5f2c9a1e-7b3d-4c8e-9a01-robotkey0002"
CONT = "（续）\n"


@pytest.fixture
def robot(wecom_env: WeComEmulatorHandle) -> WeComRobot:
    """A robot client configured from the environment, pointing at the clean emulator."""
    return WeComRobot()


def _raising(call, *args) -> WeComError:
    with pytest.raises(WeComError) as info:
        call(*args)
    return info.value


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chinese_report(lines: int) -> str:
    body = [
        f"## 第{n}条 市民反映\n> 地点：人民路{n}号，问题：路灯损坏，已转交代表处理。"
        for n in range(lines)
    ]
    return "# 随手拍 每日汇总\n" + "\n".join(body)


# --- delivery ----------------------------------------------------------------------------------


def test_markdown_is_delivered_and_recorded(robot: WeComRobot, wecom: WeComEmulatorHandle) -> None:
    robot.send_markdown(KEY, '## 新反映\n> 人民路路灯损坏 <font color="warning">待处理</font>')

    [message] = wecom.state.messages(KEY)
    assert message["msgtype"] == "markdown"
    assert message["content"].startswith("## 新反映")
    assert message["key"] == KEY
    assert message["at"] == pytest.approx(time.time(), abs=5)
    assert wecom.state.messages(OTHER) == []
    [call] = wecom.state.calls()
    assert call["errcode"] == 0 and call["http_status"] == 200
    assert call["body"]["markdown"]["content"] == message["content"]
    listed = requests.get(f"{wecom.url}__emulator/messages", params={"key": KEY}, timeout=5)
    assert listed.json()["messages"][0]["content"] == message["content"]


def test_wire_format(wecom: WeComEmulatorHandle) -> None:
    ok = requests.post(
        wecom.webhook_url(KEY), json={"msgtype": "text", "text": {"content": "你好"}}, timeout=5
    )
    assert ok.status_code == 200
    assert ok.json() == {"errcode": 0, "errmsg": "ok"}
    assert wecom.state.messages(KEY)[0]["msgtype"] == "text"

    broken = requests.post(wecom.webhook_url(KEY), data=b"{not json", timeout=5)
    assert broken.status_code == 200
    assert broken.json()["errcode"] == 40016

    odd = requests.post(wecom.webhook_url(KEY), json={"msgtype": "voice"}, timeout=5)
    assert odd.json()["errcode"] == 40008

    empty = requests.post(
        wecom.webhook_url(KEY), json={"msgtype": "markdown", "markdown": {"content": ""}}, timeout=5
    )
    assert empty.json()["errcode"] == 44004

    no_key = requests.post(
        wecom.send_url, json={"msgtype": "text", "text": {"content": "x"}}, timeout=5
    )
    assert no_key.json()["errcode"] == 93000
    assert no_key.json()["errmsg"].startswith("invalid webhook url, hint: [")
    assert len(wecom.state.messages()) == 1


def test_long_chinese_markdown_is_split_and_delivered_in_order(
    robot: WeComRobot, wecom: WeComEmulatorHandle
) -> None:
    content = _chinese_report(150)
    assert _size(content) > 3 * 4096

    sent = robot.send_digest(KEY, content)

    messages = wecom.state.messages(KEY)
    assert sent == len(messages) >= 4
    assert all(m["bytes"] <= 4096 for m in messages)
    texts = [m["content"] for m in messages]
    assert texts[0].startswith("# 随手拍 每日汇总")
    assert all(text.startswith(CONT) for text in texts[1:])
    rebuilt = "\n".join([texts[0]] + [text.removeprefix(CONT) for text in texts[1:]])
    assert rebuilt == content


def test_content_over_4096_bytes_is_rejected(robot: WeComRobot) -> None:
    error = _raising(robot.send_markdown, KEY, "汉" * 1366)  # 4098 bytes

    assert isinstance(error, WeComRejected)
    assert error.errcode == 40058
    assert not error.retryable
    assert "exceed max length 4096" in error.message


def test_short_digest_is_one_message(robot: WeComRobot, wecom: WeComEmulatorHandle) -> None:
    assert robot.send_digest(KEY, "汉" * 1365) == 1  # 4095 bytes
    assert robot.send_digest(KEY, "") == 0
    assert [m["bytes"] for m in wecom.state.messages(KEY)] == [4095]


# --- rate limit --------------------------------------------------------------------------------


def test_21st_message_in_a_minute_is_retryable(
    robot: WeComRobot, wecom: WeComEmulatorHandle
) -> None:
    for n in range(20):
        robot.send_markdown(KEY, f"第{n}条")
    robot.send_markdown(OTHER, "另一个机器人不受影响")

    started = time.monotonic()
    error = _raising(robot.send_markdown, KEY, "第21条")

    assert time.monotonic() - started < 1  # the adapter does not sleep
    assert isinstance(error, WeComUnavailable)
    assert error.errcode == 45009 and error.rate_limited and error.retryable
    assert "api freq out of limit" in error.message
    assert len(wecom.state.messages(KEY)) == 20

    wecom.state.advance(61)
    robot.send_markdown(KEY, "一分钟后")
    assert len(wecom.state.messages(KEY)) == 21


def test_clock_control_api_moves_the_window(robot: WeComRobot, wecom: WeComEmulatorHandle) -> None:
    for n in range(20):
        robot.send_markdown(KEY, f"第{n}条")
    assert _raising(robot.send_markdown, KEY, "x").errcode == 45009

    answer = requests.post(f"{wecom.url}__emulator/clock", json={"advance_seconds": 30}, timeout=5)
    assert answer.json()["ok"]
    assert _raising(robot.send_markdown, KEY, "x").errcode == 45009

    requests.post(f"{wecom.url}__emulator/clock", json={"advance_seconds": 31}, timeout=5)
    robot.send_markdown(KEY, "x")


def test_digest_stops_at_rate_limit_and_reports_parts_sent(
    robot: WeComRobot, wecom: WeComEmulatorHandle
) -> None:
    for n in range(18):
        robot.send_markdown(KEY, f"第{n}条")

    error = _raising(robot.send_digest, KEY, _chinese_report(120))

    assert error.errcode == 45009
    assert error.sent == 2
    assert len(wecom.state.messages(KEY)) == 20


# --- keys --------------------------------------------------------------------------------------


def test_unknown_key_is_rejected_when_strict(robot: WeComRobot, wecom: WeComEmulatorHandle) -> None:
    wecom.state.set_keys([KEY], strict=True)
    robot.send_markdown(KEY, "ok")

    error = _raising(robot.send_markdown, OTHER, "nope")

    assert isinstance(error, WeComRejected)
    assert error.errcode == 93000 and not error.retryable
    assert "invalid webhook url" in error.message
    assert OTHER not in str(error) and mask_key(OTHER) in str(error)
    assert [m["key"] for m in wecom.state.messages()] == [KEY]


def test_keys_control_api_and_reset(robot: WeComRobot, wecom: WeComEmulatorHandle) -> None:
    answer = requests.post(
        f"{wecom.url}__emulator/keys", json={"keys": [OTHER], "strict_keys": True}, timeout=5
    )
    assert answer.json() == {"ok": True, "keys": [OTHER], "strict_keys": True}
    assert _raising(robot.send_markdown, KEY, "x").errcode == 93000
    robot.send_markdown(OTHER, "x")

    requests.post(f"{wecom.url}__emulator/reset", timeout=5)
    assert wecom.state.messages() == [] and wecom.state.calls() == []
    assert not wecom.state.strict_keys
    robot.send_markdown(KEY, "any non-empty key is valid again")


def test_empty_key_is_rejected(robot: WeComRobot) -> None:
    error = _raising(robot.send_markdown, "", "x")
    assert isinstance(error, WeComRejected) and error.errcode == 93000


# --- transport and injected failures ------------------------------------------------------------


def test_http_500_is_retryable(robot: WeComRobot, wecom: WeComEmulatorHandle) -> None:
    answer = requests.post(f"{wecom.url}__emulator/faults", json={"http_status": 500}, timeout=5)
    assert answer.json()["ok"]

    error = _raising(robot.send_markdown, KEY, "x")

    assert isinstance(error, WeComUnavailable)
    assert error.errcode is None and error.http_status == 500 and error.retryable
    assert wecom.state.messages() == []
    robot.send_markdown(KEY, "the fault was used once")
    assert len(wecom.state.messages()) == 1


def test_http_4xx_is_rejected(robot: WeComRobot, wecom: WeComEmulatorHandle) -> None:
    wecom.state.inject(http_status=404)
    error = _raising(robot.send_markdown, KEY, "x")
    assert isinstance(error, WeComRejected) and error.http_status == 404


@pytest.mark.parametrize(
    ("errcode", "kind"),
    [
        (-1, WeComUnavailable),
        (45009, WeComUnavailable),
        (93000, WeComRejected),
        (40035, WeComRejected),
    ],
)
def test_injected_errcodes_are_classified(
    robot: WeComRobot, wecom: WeComEmulatorHandle, errcode: int, kind: type[WeComError]
) -> None:
    wecom.state.inject(errcode=errcode, times=2)

    for _ in range(2):
        error = _raising(robot.send_markdown, KEY, "x")
        assert type(error) is kind and error.errcode == errcode
    robot.send_markdown(KEY, "x")


def test_fault_for_one_key_only(robot: WeComRobot, wecom: WeComEmulatorHandle) -> None:
    wecom.state.inject(errcode=-1, key=OTHER, times=-1)

    robot.send_markdown(KEY, "x")
    assert _raising(robot.send_markdown, OTHER, "x").errcode == -1
    assert _raising(robot.send_markdown, OTHER, "x").errcode == -1
    assert len(wecom.state.faults()) == 1

    requests.delete(f"{wecom.url}__emulator/faults", timeout=5)
    robot.send_markdown(OTHER, "x")


def test_timeout_is_retryable(wecom_env: WeComEmulatorHandle) -> None:
    slow = WeComRobot(timeout_seconds=0.3)
    wecom_env.state.inject(delay_seconds=1.5)

    started = time.monotonic()
    error = _raising(slow.send_markdown, KEY, "x")

    assert time.monotonic() - started < 1.2
    assert isinstance(error, WeComUnavailable) and error.retryable
    assert error.errcode is None
    assert KEY not in str(error)


def test_connection_refused_is_retryable_and_hides_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = WeComRobot(webhook_base=f"http://127.0.0.1:{_free_port()}/cgi-bin/webhook/send")

    with caplog.at_level(logging.DEBUG):
        error = _raising(closed.send_markdown, KEY, "x")
        logging.getLogger("test").error("send failed", exc_info=error)

    assert isinstance(error, WeComUnavailable) and error.errcode is None
    assert "ConnectionError" in error.message
    assert KEY not in str(error)
    assert error.__cause__ is None and error.__suppress_context__
    assert KEY not in caplog.text


def test_successful_send_does_not_log_the_key(
    robot: WeComRobot, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        robot.send_markdown(KEY, "x")

    # The emulator's own access log (werkzeug) shows the URL; the client side must not.
    client_side = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]
    assert any("webhook/send?key=****" in line for line in client_side)
    assert not any(KEY in line for line in client_side)


def test_unreadable_answer_is_retryable(robot: WeComRobot, wecom: WeComEmulatorHandle) -> None:
    wecom.state.inject(http_status=200)  # an HTML page with status 200
    error = _raising(robot.send_markdown, KEY, "x")
    assert isinstance(error, WeComUnavailable) and "unreadable answer" in error.message


# --- configuration -----------------------------------------------------------------------------


def test_settings_are_read_from_env_at_each_send(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WECOM_WEBHOOK_BASE", raising=False)
    monkeypatch.delenv("WECOM_TIMEOUT_SECONDS", raising=False)
    robot = WeComRobot()
    assert robot.webhook_base == DEFAULT_WEBHOOK_BASE
    assert robot.timeout_seconds == 5

    monkeypatch.setenv("WECOM_WEBHOOK_BASE", "http://127.0.0.1:1/cgi-bin/webhook/send")
    monkeypatch.setenv("WECOM_TIMEOUT_SECONDS", "1.5")
    assert robot.webhook_base == "http://127.0.0.1:1/cgi-bin/webhook/send"
    assert robot.timeout_seconds == 1.5
    assert get_wecom_robot() is get_wecom_robot()


def test_mask_key() -> None:
    assert mask_key(KEY) == "****0001"
    assert mask_key("short") == "****"
    assert mask_key("") == "<empty>"


def test_standalone_emulator(tmp_path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.wecom_emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(f"{base}/__emulator/health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        WeComRobot(webhook_base=f"{base}/cgi-bin/webhook/send").send_markdown(KEY, "独立运行")
        messages = requests.get(f"{base}/__emulator/messages", timeout=5).json()["messages"]
        assert [m["content"] for m in messages] == ["独立运行"]
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- split_markdown (pure) ---------------------------------------------------------------------


def test_split_exact_boundary() -> None:
    exact = "a" * 4096
    assert split_markdown(exact) == [exact]
    assert split_markdown("汉" * 1365 + "a") == ["汉" * 1365 + "a"]  # 4096 bytes

    lines = "a" * 2047 + "\n" + "b" * 2048  # 4096 bytes with the newline
    assert split_markdown(lines) == [lines]
    over = lines + "c"
    assert split_markdown(over) == ["a" * 2047, CONT + "b" * 2048 + "c"]


def test_split_on_line_boundaries() -> None:
    parts = split_markdown("aaaa\nbbbb\ncccc", limit=10, continuation="")
    assert parts == ["aaaa\nbbbb", "cccc"]

    parts = split_markdown("# 标题\n内容一\n内容二", limit=18, continuation="")  # 8 + 1 + 9 bytes
    assert parts == ["# 标题\n内容一", "内容二"]


def test_split_never_cuts_multibyte_characters() -> None:
    content = "汉字😀" * 500 + "\n" + "é" * 3000
    for limit in (4096, 100, 17, 14):
        parts = split_markdown(content, limit=limit)
        assert all(_size(p) <= limit for p in parts), limit
        for part in parts:
            part.encode("utf-8").decode("utf-8")  # every part is whole characters
        assert all(p.startswith(CONT) for p in parts[1:])


def test_split_one_long_line() -> None:
    line = "路" * 3000  # 9000 bytes, no newline
    parts = split_markdown(line)

    assert len(parts) == 3
    assert all(_size(p) <= 4096 for p in parts)
    assert parts[0] == "路" * 1365
    assert "".join([parts[0]] + [p.removeprefix(CONT) for p in parts[1:]]) == line


def test_split_long_line_between_short_ones() -> None:
    content = "头\n" + "x" * 25 + "\n尾"
    parts = split_markdown(content, limit=10, continuation="")
    assert parts == ["头", "x" * 10, "x" * 10, "x" * 5 + "\n尾"]


def test_split_drops_blank_parts_and_empty_content() -> None:
    assert split_markdown("") == []
    assert split_markdown("a" * 4096 + "\n\n") == ["a" * 4096]


def test_split_rejects_a_limit_too_small_for_the_prefix() -> None:
    with pytest.raises(ValueError):
        split_markdown("汉" * 10, limit=12)


def test_robot_fingerprint_names_a_robot_without_revealing_its_key() -> None:
    from chalicelib.adapters.wecom import robot_fingerprint

    assert robot_fingerprint(KEY) == robot_fingerprint(KEY)
    assert robot_fingerprint(KEY) != robot_fingerprint(OTHER)
    assert len(robot_fingerprint(KEY)) == 16 and int(robot_fingerprint(KEY), 16) >= 0
    assert "robotkey" not in robot_fingerprint(KEY)

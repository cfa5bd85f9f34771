"""Local emulator of the WeCom (企业微信) group robot webhook (``cgi-bin/webhook/send``).

Answers ``POST /cgi-bin/webhook/send?key=KEY`` as ``qyapi.weixin.qq.com`` does: HTTP 200 with
``{"errcode": 0, "errmsg": "ok"}`` or an error code (93000 invalid webhook url, 40058 content too
long, 45009 more than 20 messages a minute per robot, 40016 unreadable JSON …), records every call
and lets tests inject failures through a control API under ``/__emulator/``:

    handle = start_wecom_emulator()
    handle.send_url                  # -> WECOM_WEBHOOK_BASE
    handle.state.set_keys(["robot-key"], strict=True)   # only these keys are valid
    handle.state.inject(http_status=502)                # the next call answers HTTP 502
    handle.state.inject(errcode=-1, times=3)            # "system busy" three times
    handle.state.advance(61)                            # the rate-limit window moves on
    handle.state.messages("robot-key")
    handle.stop()

By default any non-empty key is valid (``strict_keys=False``); registered keys always are.
Standalone: ``python -m devstack.wecom_emulator --port 8703 [--key K ...] [--strict-keys]``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request

from devstack.serving import WsgiServer

SEND_PATH = "/cgi-bin/webhook/send"
RATE_LIMIT_PER_MINUTE = 20
RATE_WINDOW_SECONDS = 60.0
# WeCom's documented maximum sizes of ``content`` in UTF-8 bytes, per message type.
DEFAULT_CONTENT_LIMITS: dict[str, int] = {"markdown": 4096, "text": 2048}
MORE_INFO = "more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"

ERRMSGS: dict[int, str] = {
    -1: "system busy",
    0: "ok",
    40008: "invalid message type",
    40016: "Warning: wrong json format. invalid json body",
    40058: "invalid Request Parameter",
    44004: "empty content",
    45009: "api freq out of limit",
    93000: "invalid webhook url",
}


def errmsg_for(errcode: int) -> str:
    """WeCom's message for an error code (a generic one for codes we do not know)."""
    return ERRMSGS.get(errcode, "invalid Request Parameter")


def content_size(content: str) -> int:
    """Size of ``content`` as WeCom counts it: UTF-8 bytes."""
    return len(content.encode("utf-8"))


@dataclass
class Fault:
    """A failure the next ``times`` sends answer with (-1 = until cleared).

    ``errcode`` answers a JSON error (HTTP ``http_status`` or 200); ``http_status`` alone answers
    a bare HTML error page; ``delay_seconds`` makes the call slow (then it proceeds normally
    unless ``errcode``/``http_status`` is set too). ``key`` limits the fault to one robot."""

    errcode: int | None = None
    errmsg: str | None = None
    http_status: int | None = None
    delay_seconds: float = 0.0
    times: int = 1
    key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view of the fault."""
        return {
            "errcode": self.errcode,
            "errmsg": self.errmsg,
            "http_status": self.http_status,
            "delay_seconds": self.delay_seconds,
            "times": self.times,
            "key": self.key,
        }


class WeComEmulatorState:
    """Everything the emulator remembers; every method is thread-safe."""

    def __init__(
        self,
        keys: Iterable[str] = (),
        strict_keys: bool = False,
        rate_limit: int = RATE_LIMIT_PER_MINUTE,
        content_limits: dict[str, int] | None = None,
    ) -> None:
        self._initial_keys = frozenset(keys)
        self._initial_strict = bool(strict_keys)
        self._initial_rate_limit = int(rate_limit)
        self.content_limits = dict(content_limits or DEFAULT_CONTENT_LIMITS)
        self._lock = threading.Lock()
        self._generation = 0
        self._reset_unlocked()

    def _reset_unlocked(self) -> None:
        self._calls: list[dict[str, Any]] = []
        self._messages: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._keys: set[str] = set(self._initial_keys)
        self._strict = self._initial_strict
        self._rate_limit = self._initial_rate_limit
        self._sent_at: dict[str, list[float]] = {}
        self._offset = 0.0
        # Calls still in flight (slow faults) from before a reset must not leak into the next
        # test: they carry the generation they started in and are dropped when it is stale.
        self._generation += 1

    def reset(self) -> None:
        """Forget calls, messages, faults, counters; restore keys, strictness, limits, clock."""
        with self._lock:
            self._reset_unlocked()

    @property
    def generation(self) -> int:
        """Bumped by every reset."""
        with self._lock:
            return self._generation

    # --- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        """The rate limit's clock: real time plus whatever ``advance`` added."""
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the rate limit's clock forward; returns the new now."""
        with self._lock:
            self._offset += float(seconds)
            return time.time() + self._offset

    # --- keys and limits ---------------------------------------------------------------------

    def set_keys(self, keys: Iterable[str], strict: bool | None = None) -> list[str]:
        """Register robot keys (added to those known); ``strict`` True makes only them valid."""
        with self._lock:
            self._keys.update(str(k) for k in keys if k)
            if strict is not None:
                self._strict = bool(strict)
            return sorted(self._keys)

    def clear_keys(self) -> None:
        """Forget every registered key (with strict keys on, no key is valid any more)."""
        with self._lock:
            self._keys.clear()

    def keys(self) -> list[str]:
        """Registered keys."""
        with self._lock:
            return sorted(self._keys)

    @property
    def strict_keys(self) -> bool:
        """Whether only registered keys are valid."""
        with self._lock:
            return self._strict

    @strict_keys.setter
    def strict_keys(self, value: bool) -> None:
        with self._lock:
            self._strict = bool(value)

    def is_valid_key(self, key: str) -> bool:
        """A registered key, or (not strict) any non-empty key."""
        with self._lock:
            return bool(key) and (key in self._keys or not self._strict)

    def set_rate_limit(self, per_minute: int) -> int:
        """Messages a robot may send in any 60 seconds (0 = unlimited)."""
        with self._lock:
            self._rate_limit = max(0, int(per_minute))
            return self._rate_limit

    # --- records -----------------------------------------------------------------------------

    def calls(self) -> list[dict[str, Any]]:
        """Every recorded webhook call, oldest first."""
        with self._lock:
            return [dict(c) for c in self._calls]

    def clear_calls(self) -> None:
        """Forget the recorded calls (not the messages nor the counters)."""
        with self._lock:
            self._calls.clear()

    def record(self, call: dict[str, Any], generation: int) -> None:
        """Append one call record (dropped when a reset happened since the call started)."""
        with self._lock:
            if generation == self._generation:
                self._calls.append(call)

    def messages(self, key: str | None = None) -> list[dict[str, Any]]:
        """Delivered messages, oldest first, optionally of one robot only."""
        with self._lock:
            return [dict(m) for m in self._messages if key is None or m["key"] == key]

    # --- faults ------------------------------------------------------------------------------

    def inject(
        self,
        errcode: int | None = None,
        errmsg: str | None = None,
        http_status: int | None = None,
        delay_seconds: float = 0.0,
        times: int = 1,
        key: str | None = None,
    ) -> Fault:
        """Make the next ``times`` sends (of robot ``key``, or any) fail or answer slowly."""
        if errcode is None and not http_status and not delay_seconds:
            raise ValueError("a fault needs an errcode, an http_status or a delay_seconds")
        fault = Fault(
            errcode=int(errcode) if errcode is not None else None,
            errmsg=errmsg,
            http_status=int(http_status) if http_status else None,
            delay_seconds=float(delay_seconds or 0.0),
            times=int(times),
            key=key or None,
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

    def take_fault(self, key: str) -> Fault | None:
        """Consume one use of the first fault applying to a send with ``key``."""
        with self._lock:
            for fault in self._faults:
                if fault.key is None or fault.key == key:
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # --- sending -----------------------------------------------------------------------------

    def deliver(
        self, key: str, msgtype: str, content: str, body: dict[str, Any], generation: int
    ) -> int:
        """Apply the rate limit and record the message: 0 or 45009."""
        with self._lock:
            if generation != self._generation:
                return 0  # started before a reset: answer, but leave no trace
            now = time.time() + self._offset
            sent = [at for at in self._sent_at.get(key, []) if now - at < RATE_WINDOW_SECONDS]
            self._sent_at[key] = sent
            if self._rate_limit and len(sent) >= self._rate_limit:
                return 45009
            sent.append(now)
            self._messages.append(
                {
                    "key": key,
                    "msgtype": msgtype,
                    "content": content,
                    "bytes": content_size(content),
                    "mentioned_list": body.get(msgtype, {}).get("mentioned_list"),
                    "mentioned_mobile_list": body.get(msgtype, {}).get("mentioned_mobile_list"),
                    "at": now,
                }
            )
            return 0


class _ApiError(Exception):
    """Short-circuits a call with ``{"errcode": …, "errmsg": …}``."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.errmsg = errmsg or errmsg_for(errcode)


def _hinted(errcode: int, errmsg: str) -> str:
    """WeCom appends a hint, the caller's IP and a help link to every error message."""
    hint = f"{int(time.time())}_{secrets.token_hex(8)}"
    return (
        f"{errmsg}, hint: [{hint}], from ip: {request.remote_addr}, "
        f"{MORE_INFO.format(errcode=errcode)}"
    )


def _json_response(payload: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False)
    return Response(body, status=status, content_type="application/json; charset=UTF-8")


def _parse(state: WeComEmulatorState, raw_body: bytes) -> tuple[dict[str, Any], str, str]:
    """(body, msgtype, content) of a send, or ``_ApiError`` as WeCom would answer."""
    try:
        body = json.loads(raw_body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _ApiError(40016, f"Warning: wrong json format. {exc}") from exc
    if not isinstance(body, dict):
        raise _ApiError(40016, "Warning: wrong json format. the body must be an object")
    msgtype = body.get("msgtype")
    if msgtype not in state.content_limits:
        raise _ApiError(40008, f"invalid message type {msgtype!r}")
    payload = body.get(msgtype)
    if not isinstance(payload, dict) or not isinstance(payload.get("content"), str):
        raise _ApiError(44004, f"empty content, {msgtype}.content is missing")
    content = payload["content"]
    if not content:
        raise _ApiError(44004)
    limit = state.content_limits[msgtype]
    if content_size(content) > limit:
        raise _ApiError(
            40058,
            f"{msgtype}.content exceed max length {limit}. invalid Request Parameter",
        )
    return body, msgtype, content


def _send(state: WeComEmulatorState) -> Response:
    generation = state.generation
    key = request.args.get("key", "")
    raw_body = request.get_data()
    try:
        body = json.loads(raw_body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        body = None
    msgtype = body.get("msgtype") if isinstance(body, dict) else None
    payload = body.get(msgtype) if isinstance(body, dict) and isinstance(msgtype, str) else None
    content = payload.get("content") if isinstance(payload, dict) else None
    record: dict[str, Any] = {
        "key": key,
        "msgtype": msgtype,
        "content": content,
        "body": body,
        "at": state.now(),
        "http_status": 200,
        "errcode": 0,
        "errmsg": "ok",
    }
    fault = state.take_fault(key)
    if fault and fault.delay_seconds > 0:
        time.sleep(fault.delay_seconds)
    try:
        if fault and fault.http_status and fault.errcode is None:
            record.update(http_status=fault.http_status, errcode=None, errmsg=None)
            text = fault.errmsg or f"emulated HTTP {fault.http_status}"
            return Response(
                f"<html><body><h1>{fault.http_status}</h1>{text}</body></html>",
                status=fault.http_status,
                mimetype="text/html",
            )
        if fault and fault.errcode is not None:
            record["http_status"] = fault.http_status or 200
            raise _ApiError(fault.errcode, fault.errmsg)
        if not state.is_valid_key(key):
            raise _ApiError(93000)
        body, msgtype, content = _parse(state, raw_body)
        errcode = state.deliver(key, msgtype, content, body, generation)
        if errcode:
            raise _ApiError(errcode)
        return _json_response({"errcode": 0, "errmsg": "ok"})
    except _ApiError as answer:
        errmsg = _hinted(answer.errcode, answer.errmsg) if answer.errcode else answer.errmsg
        record.update(errcode=answer.errcode, errmsg=errmsg)
        return _json_response(
            {"errcode": answer.errcode, "errmsg": errmsg}, status=record["http_status"]
        )
    finally:
        state.record(record, generation)


def create_app(state: WeComEmulatorState) -> Flask:
    """The WSGI app serving the webhook and the ``/__emulator/`` control API."""
    app = Flask("wecom_emulator")
    app.json.ensure_ascii = False

    @app.post(SEND_PATH)
    def send() -> Response:
        return _send(state)

    @app.get("/__emulator/health")
    def health() -> Response:
        return jsonify(ok=True)

    @app.get("/__emulator/messages")
    def list_messages() -> Response:
        return jsonify(messages=state.messages(request.args.get("key") or None))

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
                errcode=body.get("errcode"),
                errmsg=body.get("errmsg"),
                http_status=body.get("http_status"),
                delay_seconds=body.get("delay_seconds") or 0.0,
                times=body.get("times", 1),
                key=body.get("key"),
            )
        except (TypeError, ValueError) as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(ok=True, fault=fault.as_dict())

    @app.delete("/__emulator/faults")
    def clear_faults() -> Response:
        state.clear_faults()
        return jsonify(ok=True)

    @app.get("/__emulator/keys")
    def list_keys() -> Response:
        return jsonify(keys=state.keys(), strict_keys=state.strict_keys)

    @app.post("/__emulator/keys")
    def add_keys() -> Response | tuple[Response, int]:
        body = request.get_json(force=True, silent=True) or {}
        keys = body.get("keys") or []
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            return jsonify(error="keys must be a list of strings"), 400
        strict = body.get("strict_keys", body.get("strict"))
        registered = state.set_keys(keys, strict=None if strict is None else bool(strict))
        return jsonify(ok=True, keys=registered, strict_keys=state.strict_keys)

    @app.delete("/__emulator/keys")
    def clear_keys() -> Response:
        state.clear_keys()
        return jsonify(ok=True)

    @app.post("/__emulator/rate-limit")
    def set_rate_limit() -> Response | tuple[Response, int]:
        body = request.get_json(force=True, silent=True) or {}
        try:
            per_minute = state.set_rate_limit(body.get("per_minute", RATE_LIMIT_PER_MINUTE))
        except (TypeError, ValueError) as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(ok=True, per_minute=per_minute)

    @app.post("/__emulator/clock")
    def advance_clock() -> Response | tuple[Response, int]:
        body = request.get_json(force=True, silent=True) or {}
        try:
            seconds = float(body.get("advance_seconds") or 0)
        except (TypeError, ValueError) as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(ok=True, now=state.advance(seconds))

    @app.post("/__emulator/reset")
    def reset() -> Response:
        state.reset()
        return jsonify(ok=True)

    return app


@dataclass
class WeComEmulatorHandle:
    """A running emulator; ``send_url`` is what ``WECOM_WEBHOOK_BASE`` takes."""

    host: str
    port: int
    state: WeComEmulatorState
    server: WsgiServer

    @property
    def url(self) -> str:
        """Base URL of the emulator (the control API lives under ``__emulator/``)."""
        return f"http://{self.host}:{self.port}/"

    @property
    def send_url(self) -> str:
        """The webhook URL without its ``?key=`` (``WECOM_WEBHOOK_BASE``)."""
        return f"http://{self.host}:{self.port}{SEND_PATH}"

    def webhook_url(self, key: str) -> str:
        """The full webhook URL of one robot, as WeCom's console shows it."""
        return f"{self.send_url}?key={key}"

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        self.server.stop()


def start_wecom_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    keys: Iterable[str] = (),
    strict_keys: bool = False,
    rate_limit: int = RATE_LIMIT_PER_MINUTE,
) -> WeComEmulatorHandle:
    """Serve the emulator from a background thread; port 0 picks a free port."""
    state = WeComEmulatorState(keys=keys, strict_keys=strict_keys, rate_limit=rate_limit)
    server = WsgiServer(create_app(state), host, port, "wecom-emulator").start()
    return WeComEmulatorHandle(host=host, port=server.port, state=state, server=server)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: serve in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Local WeCom group robot webhook emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8703)
    parser.add_argument("--key", action="append", default=[], help="a valid robot key (repeat)")
    parser.add_argument(
        "--strict-keys", action="store_true", help="only keys given with --key are valid"
    )
    parser.add_argument("--rate-limit", type=int, default=RATE_LIMIT_PER_MINUTE)
    args = parser.parse_args(argv)
    state = WeComEmulatorState(
        keys=args.key, strict_keys=args.strict_keys, rate_limit=args.rate_limit
    )
    server = WsgiServer(create_app(state), args.host, args.port, "wecom-emulator")
    print(
        f"WeCom robot emulator on http://{args.host}:{server.port}/ "
        f"(WECOM_WEBHOOK_BASE=http://{args.host}:{server.port}{SEND_PATH})",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""End to end: the `make run` stack on free ports, driven as an HTTP client would."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.helpers import jpeg_bytes, upload_to

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def running_stack(whole_stack):
    """`python -m devstack run` (what `make run` starts) on free ports, stopped with SIGINT:
    the session's `whole_stack` (tests/conftest.py), which asserts the clean Ctrl-C stop."""
    return {
        "api": whole_stack.urls["api"],
        "wechat": whole_stack.urls["wechat"] + "/",
        "output": whole_stack.output,
    }


def test_the_stack_prints_urls_and_demo_codes(running_stack):
    for code in ("deputy-01", "staff-city", "staff-district-1", "handler-01"):
        assert code in running_stack["output"]


def test_every_server_is_on_a_free_port_so_a_running_make_run_cannot_clash(running_stack):
    from devstack.stack import DEFAULT_PORTS

    labels = {
        "SSP_API_PORT": "API",
        "SSP_MOTO_PORT": "moto (AWS)",
        "SSP_WECHAT_PORT": "WeChat emulator",
        "SSP_SMS_PORT": "SMS emulator",
        "SSP_WECOM_PORT": "WeCom emulator",
        "SSP_H5_PORT": "Mini-program (browser build)",
    }
    assert set(labels) == set(DEFAULT_PORTS)
    for name, label in labels.items():
        found = re.search(
            rf"^{re.escape(label)}\s+http://[^:/]+:(\d+)", running_stack["output"], re.M
        )
        assert found, f"{label} URL not printed"
        assert int(found.group(1)) != DEFAULT_PORTS[name], f"{label} on its default port"


def test_scan_to_report_end_to_end(running_stack):
    import zxingcpp
    from PIL import Image

    api = running_stack["api"]
    session = requests.Session()

    login = session.post(f"{api}/auth/login", json={"code": f"e2e-{uuid.uuid4().hex[:8]}"})
    assert login.status_code == 200, login.text
    session.headers["Authorization"] = f"Bearer {login.json()['token']}"

    stations = session.get(f"{api}/stations", params={"lat": 36.0552, "lng": 120.3561, "limit": 3})
    assert stations.status_code == 200
    station = stations.json()["stations"][0]
    assert station["id"] == "S01" and station["distance_m"] < 50

    qr = session.get(f"{api}/stations/{station['id']}/qrcode", headers={"Accept": "image/png"})
    assert qr.status_code == 200 and qr.headers["Content-Type"] == "image/png"
    scene = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.content)))[0].text
    assert scene == station["id"]

    photo = jpeg_bytes(320, 240)
    presigned = session.post(
        f"{api}/uploads", json={"content_type": "image/jpeg", "size": len(photo)}
    )
    assert presigned.status_code == 200, presigned.text
    assert upload_to(presigned.json(), photo).status_code in (200, 204)
    confirmed = session.post(f"{api}/uploads/confirm", json={"key": presigned.json()["key"]})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {
        "key": presigned.json()["key"],
        "content_type": "image/jpeg",
        "size": len(photo),
    }

    body = {
        "station_id": scene,
        "category": "municipal.streetlight",
        "text": "汇泉路12号门口路灯三天不亮了",
        "photos": [presigned.json()["key"]],
        "location": {"lat": 36.0552, "lng": 120.3561},
    }
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4().hex}"}
    started = time.perf_counter()
    first = session.post(f"{api}/reports", json=body, headers=key)
    elapsed = time.perf_counter() - started
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "submitted"
    assert elapsed < 10, "a report must take well under the ten seconds a citizen has"

    retry = session.post(f"{api}/reports", json=body, headers=key)
    assert retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]

    read = session.get(f"{api}/reports/{first.json()['id']}")
    assert read.status_code == 200
    report = read.json()
    assert report["timeline"][0]["type"] == "submitted"
    assert requests.get(report["photos"][0]["url"], timeout=10).content == photo

    mine = session.get(f"{api}/reports/mine").json()
    assert [item["id"] for item in mine["items"]] == [first.json()["id"]]

    calls = requests.get(f"{running_stack['wechat']}__emulator/calls", timeout=5).json()["calls"]
    assert {"jscode2session", "msg_sec_check", "getwxacodeunlimit"} <= {c["api"] for c in calls}


def _wait_for(predicate, timeout: float = 60.0, interval: float = 0.5):
    """Poll until `predicate()` returns something truthy (the stack's workers run on their own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail("the local stack did not get there in time")


def test_the_deputy_loop_runs_on_its_own_under_make_run(running_stack):
    """Workers and schedules run inside `make run`: notices reach both emulators."""
    api = running_stack["api"]
    sms_url = re.search(r"^SMS emulator\s+(\S+)", running_stack["output"], re.M).group(1)

    def session_for(code: str) -> requests.Session:
        session = requests.Session()
        token = session.post(f"{api}/auth/login", json={"code": code}).json()["token"]
        session.headers["Authorization"] = f"Bearer {token}"
        return session

    citizen = session_for(f"e2e-loop-{uuid.uuid4().hex[:8]}")
    report = citizen.post(
        f"{api}/reports",
        json={
            "station_id": "S03",
            "category": "sanitation.garbage",
            "text": "湛山二路垃圾满溢",
        },
    ).json()
    staff = session_for("staff-district-1")
    offered = _wait_for(
        lambda: (lambda r: r if r["status"] == "offered" else None)(
            staff.get(f"{api}/reports/{report['id']}").json()
        )
    )
    deputy_id = offered["candidates"][0]["deputy_id"]

    phone = "+86139000000" + deputy_id[1:]
    _wait_for(
        lambda: (
            requests.get(
                f"{sms_url.rstrip('/')}/__emulator/messages", params={"phone": phone}, timeout=5
            )
            .json()
            .get("messages")
        )
    )

    deputy = session_for(f"deputy-{deputy_id[1:]}")
    assert deputy.post(f"{api}/reports/{report['id']}/accept", json={}).status_code == 200
    transfer = deputy.post(
        f"{api}/reports/{report['id']}/triage",
        json={"action": "transfer", "department_id": "shinan-cg", "note": "请环卫清运"},
    )
    assert transfer.status_code == 200, transfer.text
    handler = session_for("handler-01")
    assert (
        handler.post(
            f"{api}/reports/{report['id']}/progress", json={"note": "环卫车已出发"}
        ).status_code
        == 200
    )
    assert (
        handler.post(f"{api}/reports/{report['id']}/resolve", json={"note": "已清运"}).status_code
        == 200
    )
    closed = citizen.post(f"{api}/reports/{report['id']}/evaluation", json={"result": "satisfied"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"

    def citizen_told():
        calls = requests.get(
            f"{running_stack['wechat']}__emulator/calls",
            params={"api": "subscribe_send"},
            timeout=5,
        ).json()["calls"]
        return [
            c
            for c in calls
            if report["id"] in json.dumps(c["body"], ensure_ascii=False)
            and "report/detail" in (c["body"].get("page") or "")
        ]

    assert len(_wait_for(lambda: (lambda c: c if len(c) >= 2 else None)(citizen_told()))) >= 2

"""Notice delivery through its public entry points: outbox items written as the workflow writes
them, the notice-queue handler and the sweep invoked as Lambda would invoke them, the WeChat
and SMS emulators over real HTTP. Time moves through ``deliver(..., now=...)``, never by sleeping.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime, timedelta

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.api import notify_handlers
from chalicelib.bootstrap import services
from chalicelib.notify.delivery import deliver
from chalicelib.notify.outbox import Notice, Recipient, Scope, outbox_items
from chalicelib.notify.sweep import due_ids
from chalicelib.notify.templates import BEIJING, sms_template_texts
from chalicelib.store.models import OutboxModel
from devstack.workers import QueueWorker, sqs_handlers

SQS_HANDLER = "deliver_notices"
SCHEDULE_HANDLER = "requeue_due_notices"
CATEGORY = "道路交通"
STATION = "城关街道人大代表联络站"
LONG_EXCERPT = "人民路与解放路交叉口的红绿灯已经坏了三天，早晚高峰非常拥堵，请尽快修复"


@pytest.fixture
def notify_app():
    """The app if it registers the notify blueprint, else a stand-in app that does."""
    from app import app

    if SQS_HANDLER in app.handler_map:
        return app
    stand_in = Chalice(app_name="suishoupai")
    stand_in.register_blueprint(notify_handlers.blueprint)
    return stand_in


@pytest.fixture
def lambda_client(env, notify_app):
    with Client(notify_app, stage_name="local") as client:
        yield client


@pytest.fixture(autouse=True)
def sms_limits(env, monkeypatch):
    """Tencent's limits as production keeps them, whatever the suite's environment says."""
    monkeypatch.setenv("SMS_GAP_SECONDS", "30")
    monkeypatch.setenv("SMS_DAILY_CAP", "9")
    monkeypatch.setenv("NOTIFY_MAX_ATTEMPTS", "6")


@pytest.fixture
def svc(env, monkeypatch):
    """Services on the test stack, with a notice queue of this test's own."""
    queue_url = services().sqs.create_queue(
        QueueName=f"ssp-test-notices-{uuid.uuid4().hex[:8]}",
        Attributes={"VisibilityTimeout": "60"},
    )["QueueUrl"]
    monkeypatch.setenv("NOTIFY_QUEUE_URL", queue_url)
    current = services()
    assert current.settings.notify_queue_url == queue_url
    yield current
    current.sqs.delete_queue(QueueUrl=queue_url)


def _phone() -> str:
    return f"139{random.randrange(10**8):08d}"


def _deputy(wechat, phone: str | None = None, openid: bool = True) -> Recipient:
    code = f"deputy-{uuid.uuid4().hex[:10]}"
    return Recipient(
        kind="deputy",
        id=code,
        openid=wechat.state.openid_for(code) if openid else None,
        phone=phone,
    )


def _notice(purpose: str = "task_offered", **values) -> tuple[str, Notice]:
    report_id = f"r-{uuid.uuid4().hex[:16]}"
    values = {
        "report_id": report_id,
        "category_name": CATEGORY,
        "station_name": STATION,
        "excerpt": LONG_EXCERPT,
        **values,
    }
    return report_id, Notice(purpose=purpose, values=values)


def _write(recipient: Recipient, purpose: str = "task_offered", channels=("wechat", "sms")):
    """Outbox items as the workflow writes them; {channel: item id}."""
    report_id, notice = _notice(purpose)
    items = outbox_items(report_id, recipient, notice, Scope(station_id="st-1"), channels)
    for item in items:
        item.save()
    return {item.channel: item.id for item in items}


def _item(item_id: str) -> OutboxModel:
    return OutboxModel.get(item_id, consistent_read=True)


def _sqs(client: Client, ids: list[str]) -> dict:
    event = client.events.generate_sqs_event(
        message_bodies=[json.dumps({"outbox_id": i}) for i in ids],
        queue_name=notify_handlers.NOTICE_QUEUE,
    )
    for n, record in enumerate(event["Records"]):
        record["messageId"] = f"message-{n}"
    return client.lambda_.invoke(SQS_HANDLER, event).payload


def _attempts(wechat, openid: str) -> list[dict]:
    """Subscribe-message calls to ``openid`` (an expired token makes one fail and retry)."""
    return [
        c for c in wechat.state.calls("subscribe_send") if (c["body"] or {}).get("touser") == openid
    ]


def _sends(wechat, openid: str) -> list[dict]:
    """Subscribe messages that reached ``openid``."""
    return [c for c in _attempts(wechat, openid) if c["errcode"] == 0]


def _sms_to(sms, phone: str) -> list[dict]:
    return sms.state.messages("+86" + phone)


def _drain(notify_app, svc, wanted: list[str], rounds: int = 20) -> None:
    """Receive from the notice queue and run the handler until the wanted items are handled."""
    name, handler = sqs_handlers(notify_app)[notify_handlers.NOTICE_QUEUE]
    worker = QueueWorker(svc.sqs, svc.settings.notify_queue_url, name, handler, svc.settings.region)
    for _ in range(rounds):
        if all(_item(i).status not in ("pending", "sending") for i in wanted):
            return
        worker.poll_once(wait_seconds=0)
    raise AssertionError({i: _item(i).status for i in wanted})


def test_a_notice_reaches_the_deputy_once_on_each_channel(lambda_client, svc, wechat, sms):
    sms.state.set_templates(sms_template_texts())
    phone = _phone()
    deputy = _deputy(wechat, phone)
    ids = _write(deputy)

    assert _sqs(lambda_client, [ids["wechat"], ids["sms"]]) == {"batchItemFailures": []}

    [send] = _sends(wechat, deputy.openid)
    body = send["body"]
    assert body["template_id"] == "tmpl-task-offered"
    report_id = ids["wechat"].split("#", 1)[0]
    assert body["page"] == f"pages-deputy/task/task?id={report_id}"
    data = {key: value["value"] for key, value in body["data"].items()}
    assert data["thing1"] == CATEGORY
    assert len(data["thing3"]) == 20 and data["thing3"].endswith("…")
    assert data["phrase4"] == "待接单"
    [message] = _sms_to(sms, phone)
    link = message["params"][-1]  # the URL Link of the deputy's task page
    assert link.startswith(f"{wechat.url}urllink/")
    assert (
        message["content"]
        == f"【随手拍】您有一条新的群众反映（道路交通）待接单，点击 {link} 查看并接单"
    )
    for channel, item_id in ids.items():
        item = _item(item_id)
        assert item.status == "sent", channel
        assert item.provider_id and item.sent_at
        assert item.due_at is None and item.due_shard is None and item.sms_phone is None
    assert item.provider_id == message["serial_no"]


def test_a_redelivered_message_reaches_the_person_once(lambda_client, svc, wechat, sms):
    phone = _phone()
    deputy = _deputy(wechat, phone)
    ids = _write(deputy)
    both = [ids["wechat"], ids["sms"]]

    assert _sqs(lambda_client, both + both) == {"batchItemFailures": []}
    assert _sqs(lambda_client, both) == {"batchItemFailures": []}
    assert deliver(svc, ids["sms"]) == "sent"

    assert len(_sends(wechat, deputy.openid)) == 1
    assert len(_sms_to(sms, phone)) == 1


def test_not_subscribed_skips_wechat_but_not_the_sms(lambda_client, svc, wechat, sms):
    phone = _phone()
    deputy = _deputy(wechat, phone)
    wechat.state.set_unsubscribed([deputy.openid])
    ids = _write(deputy)

    _sqs(lambda_client, [ids["wechat"], ids["sms"]])
    _sqs(lambda_client, [ids["wechat"]])

    skipped = _item(ids["wechat"])
    assert skipped.status == "skipped"
    assert "43101" in skipped.last_error
    assert skipped.due_at is None and skipped.failed_bucket is None
    assert ids["wechat"] not in due_ids(time.time() + 86400)
    assert [c["errcode"] for c in _attempts(wechat, deputy.openid)][-1] == 43101
    assert len([c for c in _attempts(wechat, deputy.openid) if c["errcode"] == 43101]) == 1
    assert _item(ids["sms"]).status == "sent"
    assert len(_sms_to(sms, phone)) == 1


def test_a_failing_sms_provider_is_retried_until_delivered(lambda_client, svc, wechat, sms):
    sms.state.inject(code="InternalError.Timeout", times=2)
    phone = _phone()
    ids = _write(_deputy(wechat, phone, openid=False), channels=("sms",))
    t0 = time.time()

    _sqs(lambda_client, [ids["sms"]])
    first = _item(ids["sms"])
    assert (first.status, first.attempts) == ("pending", 1)
    assert "InternalError.Timeout" in first.last_error
    assert t0 < first.due_at <= time.time() + 2  # first backoff: at most 2 s
    queued = svc.sqs.get_queue_attributes(
        QueueUrl=svc.settings.notify_queue_url, AttributeNames=["All"]
    )["Attributes"]
    assert (
        int(queued["ApproximateNumberOfMessagesDelayed"])
        + int(queued["ApproximateNumberOfMessages"])
        == 1
    )  # the retry does not wait for the sweep
    assert deliver(svc, ids["sms"], now=t0) == "deferred"  # not due yet

    assert deliver(svc, ids["sms"], now=t0 + 901) == "pending"
    assert _item(ids["sms"]).attempts == 2
    assert deliver(svc, ids["sms"], now=t0 + 1802) == "sent"
    assert len(_sms_to(sms, phone)) == 1
    assert deliver(svc, ids["sms"], now=t0 + 2703) == "sent"
    assert len(_sms_to(sms, phone)) == 1


def test_a_notice_failing_past_the_limit_is_failed_for_staff(svc, wechat, sms, monkeypatch):
    monkeypatch.setenv("NOTIFY_MAX_ATTEMPTS", "3")
    sms.state.inject(code="InternalError.OtherError", times=-1)
    ids = _write(_deputy(wechat, _phone(), openid=False), channels=("sms",))
    t = time.time()

    assert deliver(svc, ids["sms"], now=t) == "pending"
    assert deliver(svc, ids["sms"], now=t + 901) == "pending"
    assert deliver(svc, ids["sms"], now=t + 1802) == "failed"

    item = _item(ids["sms"])
    assert item.status == "failed" and item.attempts == 3
    assert item.failed_bucket == "failed" and item.failed_at
    assert "InternalError.OtherError" in item.last_error
    assert item.due_at is None and item.sms_phone is None
    assert ids["sms"] in {i.id for i in OutboxModel.failed.query("failed")}
    assert ids["sms"] not in due_ids(t + 86400, grace_seconds=0)
    assert deliver(svc, ids["sms"], now=t + 2703) == "failed"
    assert len(sms.state.calls()) == 3


def test_a_refused_notice_fails_at_once(svc, wechat, sms):
    ids = _write(_deputy(wechat, _phone()), channels=("wechat",))
    wechat.state.inject("subscribe_send", errcode=40037)  # invalid template id

    assert deliver(svc, ids["wechat"]) == "failed"
    item = _item(ids["wechat"])
    assert item.attempts == 0 and "40037" in item.last_error and item.failed_bucket == "failed"


def test_a_slow_wechat_answer_is_not_sent_a_second_time(svc, wechat, sms, monkeypatch):
    from chalicelib.bootstrap import services

    monkeypatch.setenv("WECHAT_TIMEOUT_SECONDS", "0.5")
    impatient = services()
    ids = _write(_deputy(wechat, _phone()), channels=("wechat",))
    wechat.state.inject("subscribe_send", delay_seconds=1.5)

    assert deliver(impatient, ids["wechat"]) == "unconfirmed"
    item = _item(ids["wechat"])
    assert (item.status, item.provider_id, item.attempts) == ("unconfirmed", "unconfirmed", 0)
    assert item.failed_bucket == "failed" and item.failed_at and item.sent_at is None
    assert "可能已送达" in item.last_error
    assert ids["wechat"] in {i.id for i in OutboxModel.failed.query("failed")}
    assert ids["wechat"] not in due_ids(time.time() + 86400, grace_seconds=0)
    assert deliver(impatient, ids["wechat"]) == "unconfirmed"
    time.sleep(1.2)
    sends = [c for c in wechat.state.calls("subscribe_send")]
    assert len(sends) == 1, "WeChat took the message; sending it again would reach them twice"


def test_a_wechat_send_that_never_connected_is_retried(svc, wechat, sms, monkeypatch):
    """Nothing reached WeChat (connection refused, as after a connect timeout): the notice is
    tried again, unlike a read timeout."""
    import socket

    with socket.socket() as sock:  # a port nobody listens on: the connection is refused
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    deputy = _deputy(wechat, _phone())
    ids = _write(deputy, channels=("wechat",))
    monkeypatch.setenv("WECHAT_API_BASE", closed)

    assert deliver(services(), ids["wechat"]) == "pending"
    item = _item(ids["wechat"])
    assert (item.status, item.attempts, item.failed_bucket) == ("pending", 1, None)

    monkeypatch.setenv("WECHAT_API_BASE", wechat.url)
    assert deliver(services(), ids["wechat"], now=time.time() + 901) == "sent"
    assert len(_sends(wechat, deputy.openid)) == 1


def test_unconfirmed_notices_are_shown_to_staff_on_the_report_and_the_failed_list(
    api, wechat, sms, monkeypatch
):
    from tests.workflow_helpers import Loop, settle_queue

    settle_queue(api)  # the slow answer below must meet this report's first notice
    # The demo deputies' SMS ledger is shared by the whole session: lift this module's
    # real per-number limits so their SMS are not held back by earlier tests' messages.
    monkeypatch.setenv("SMS_GAP_SECONDS", "0")
    monkeypatch.setenv("SMS_DAILY_CAP", "1000")
    monkeypatch.setenv("WECHAT_TIMEOUT_SECONDS", "1")
    wechat.state.inject("subscribe_send", delay_seconds=2.5)
    loop = Loop(api, category="municipal.streetlight", text="路灯不亮，晚上看不清路")

    notices = loop.staff_view()["notices"]
    unconfirmed = [n for n in notices if n["status"] == "unconfirmed"]
    assert len(unconfirmed) == 1 and unconfirmed[0]["channel"] == "wechat"
    assert unconfirmed[0]["failed_at"] and "可能已送达" in unconfirmed[0]["last_error"]
    assert {n["status"] for n in notices if n["id"] != unconfirmed[0]["id"]} == {"sent"}
    staff = api.login("staff-station-01")["token"]
    status, failed = api.json("GET", "/notices/failed", token=staff)
    assert status == 200
    listed = [n for n in failed["items"] if n["report_id"] == loop.id]
    assert [(n["id"], n["status"]) for n in listed] == [(unconfirmed[0]["id"], "unconfirmed")]
    time.sleep(2)  # the slow call ends inside this test, not in the next one


def test_an_expired_token_is_refreshed_once_and_the_send_retried_once(svc, wechat, sms):
    deputy = _deputy(wechat)
    warm = _write(deputy, channels=("wechat",))
    assert deliver(svc, warm["wechat"]) == "sent"  # a valid token is stored now
    ids = _write(deputy, channels=("wechat",))
    wechat.state.clear_calls()
    wechat.state.inject("subscribe_send", errcode=40001)

    assert deliver(svc, ids["wechat"]) == "sent"

    calls = [(c["api"], c["errcode"]) for c in wechat.state.calls()]
    assert calls == [("subscribe_send", 40001), ("stable_token", 0), ("subscribe_send", 0)]


def test_five_sms_to_one_deputy_become_one_combined_sms(lambda_client, svc, wechat, sms):
    sms.state.set_templates(sms_template_texts())
    phone = _phone()
    deputy = _deputy(wechat, phone, openid=False)
    ids = [_write(deputy, channels=("sms",))["sms"] for _ in range(5)]

    assert _sqs(lambda_client, ids) == {"batchItemFailures": []}

    [message] = _sms_to(sms, phone)
    assert message["template_id"] == "1800099"
    assert message["params"] == ["5"]
    assert message["content"] == "【随手拍】您有5条新的群众反映待处理，请登录随手拍小程序查看"
    items = [_item(i) for i in ids]
    assert {i.status for i in items} == {"sent"}
    [sender] = [i for i in items if i.combined_into is None]
    assert {i.combined_into for i in items if i is not sender} == {sender.id}
    assert {i.provider_id for i in items} == {message["serial_no"]}


def test_sms_within_30_seconds_wait_and_go_out_combined(svc, wechat, sms):
    phone = _phone()
    deputy = _deputy(wechat, phone, openid=False)
    t0 = time.time()
    first = _write(deputy, channels=("sms",))["sms"]
    assert deliver(svc, first, now=t0) == "sent"
    later = [_write(deputy, channels=("sms",))["sms"] for _ in range(3)]

    assert [deliver(svc, i, now=t0 + 5) for i in later] == ["pending"] * 3
    assert [_item(i).due_at for i in later] == [pytest.approx(t0 + 30)] * 3
    assert len(_sms_to(sms, phone)) == 1

    sms.state.advance(31)  # the emulator's clock keeps pace with ours
    assert deliver(svc, later[0], now=t0 + 31) == "sent"
    assert [deliver(svc, i, now=t0 + 31) for i in later[1:]] == ["sent", "sent"]
    messages = _sms_to(sms, phone)
    assert len(messages) == 2 and messages[1]["params"] == ["3"]


def test_the_daily_cap_holds_sms_until_next_morning(svc, wechat, sms, monkeypatch):
    monkeypatch.setenv("SMS_DAILY_CAP", "2")
    phone = _phone()
    deputy = _deputy(wechat, phone, openid=False)
    t0 = time.time()
    assert deliver(svc, _write(deputy, channels=("sms",))["sms"], now=t0) == "sent"
    sms.state.advance(40)  # the emulator's clock keeps pace with ours (same text within 30 s)
    assert deliver(svc, _write(deputy, channels=("sms",))["sms"], now=t0 + 40) == "sent"
    held = _write(deputy, channels=("sms",))["sms"]

    assert deliver(svc, held, now=t0 + 80) == "pending"

    day = datetime.fromtimestamp(t0 + 80, BEIJING).date() + timedelta(days=1)
    morning = datetime(day.year, day.month, day.day, 8, tzinfo=BEIJING).timestamp()
    item = _item(held)
    assert (item.status, item.attempts, item.due_at) == ("pending", 0, morning)
    assert len(_sms_to(sms, phone)) == 2
    assert held not in due_ids(t0 + 80, grace_seconds=0)
    assert held in due_ids(morning, grace_seconds=0)
    sms.state.advance(morning - t0 - 40)
    assert deliver(svc, held, now=morning) == "sent"
    assert len(_sms_to(sms, phone)) == 3


def test_the_sweep_requeues_notices_whose_enqueue_was_lost(
    lambda_client, notify_app, svc, wechat, sms
):
    phone = _phone()
    deputy = _deputy(wechat, phone)
    ids = _write(deputy)  # written, never queued

    event = lambda_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    import time_machine

    with time_machine.travel(time.time() + 180, tick=True):  # past the sweep's grace period
        result = lambda_client.lambda_.invoke(SCHEDULE_HANDLER, event).payload
    assert result["requeued"] >= 2

    _drain(notify_app, svc, list(ids.values()))
    assert {_item(i).status for i in ids.values()} == {"sent"}
    assert len(_sends(wechat, deputy.openid)) == 1
    assert len(_sms_to(sms, phone)) == 1


def test_a_notice_whose_worker_died_is_sent_after_the_lease(svc, wechat, sms):
    deputy = _deputy(wechat)
    ids = _write(deputy, channels=("wechat",))
    item = _item(ids["wechat"])
    t0 = time.time()
    item.update(  # a worker claimed it at t0 and died
        actions=[
            OutboxModel.status.set("sending"),
            OutboxModel.lease_until.set(t0 + 60),
            OutboxModel.due_at.set(t0 + 60),
        ]
    )

    assert deliver(svc, ids["wechat"], now=t0 + 10) == "sending"
    assert ids["wechat"] not in due_ids(t0 + 10, grace_seconds=0)
    assert ids["wechat"] in due_ids(t0 + 61, grace_seconds=0)
    assert deliver(svc, ids["wechat"], now=t0 + 61) == "sent"
    assert len(_sends(wechat, deputy.openid)) == 1


def test_only_records_that_raised_are_reported_for_redelivery(lambda_client, svc, wechat, sms):
    good = _write(_deputy(wechat), channels=("wechat",))["wechat"]
    corrupt = f"r-{uuid.uuid4().hex}#deputy:x#wechat#task_offered"
    OutboxModel._get_connection().connection.client.put_item(
        TableName=OutboxModel.Meta.table_name,
        Item={"id": {"S": corrupt}, "status": {"S": "pending"}, "attempts": {"S": "oops"}},
    )

    result = _sqs(lambda_client, [corrupt, good])
    assert result == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    assert _item(good).status == "sent"

    event = lambda_client.events.generate_sqs_event(message_bodies=["not json"])
    assert lambda_client.lambda_.invoke(SQS_HANDLER, event).payload == {"batchItemFailures": []}


def test_tencent_limits_reschedule_without_counting_an_attempt(svc, wechat, sms):
    phone = _phone()
    deputy = _deputy(wechat, phone, openid=False)
    sms.state.inject(code="LimitExceeded.PhoneNumberDailyLimit", phone=phone)
    first = _write(deputy, channels=("sms",))["sms"]
    t0 = time.time()

    assert deliver(svc, first, now=t0) == "pending"

    day = datetime.fromtimestamp(t0, BEIJING).date() + timedelta(days=1)
    morning = datetime(day.year, day.month, day.day, 8, tzinfo=BEIJING).timestamp()
    item = _item(first)
    assert (item.attempts, item.due_at) == (0, morning)
    second = _write(deputy, channels=("sms",))["sms"]
    sms.state.advance(60)
    assert deliver(svc, second, now=t0 + 60) == "pending"  # the ledger knows the day is full
    assert _item(second).due_at == morning
    assert len(sms.state.calls()) == 1

    sms.state.advance(morning - t0 - 60)
    assert deliver(svc, first, now=morning) == "sent"
    [message] = _sms_to(sms, phone)
    assert message["params"] == ["2"]
    assert _item(second).combined_into == first


def test_a_combined_sms_that_fails_is_retried_with_all_its_notices(svc, wechat, sms):
    phone = _phone()
    deputy = _deputy(wechat, phone, openid=False)
    ids = [_write(deputy, channels=("sms",))["sms"] for _ in range(3)]
    sms.state.inject(code="InternalError.Timeout")
    t0 = time.time()

    assert deliver(svc, ids[0], now=t0) == "pending"
    items = [_item(i) for i in ids]
    assert [i.status for i in items] == ["pending"] * 3
    assert [i.attempts for i in items] == [1, 0, 0]
    assert [_sms_to(sms, phone)] == [[]]

    assert deliver(svc, ids[2], now=t0 + 901) == "sent"
    [message] = _sms_to(sms, phone)
    assert message["params"] == ["3"]
    assert {_item(i).status for i in ids} == {"sent"}


def test_wechat_templates_come_from_the_environment(svc, wechat, sms, monkeypatch):
    monkeypatch.setenv(
        "WECHAT_TEMPLATES",
        json.dumps(
            {
                "report_answered": {
                    "template_id": "real-template-id",
                    "fields": {"character_string1": "report_id", "phrase2": "status_name"},
                }
            }
        ),
    )
    citizen = Recipient(kind="citizen", id="u-1", openid=wechat.state.openid_for("citizen-env"))
    report_id, notice = _notice("report_answered", status_name="已答复待评价")
    [item] = outbox_items(report_id, citizen, notice, Scope())
    item.save()

    assert deliver(svc, item.id) == "sent"

    [send] = _sends(wechat, citizen.openid)
    assert send["body"]["template_id"] == "real-template-id"
    assert send["body"]["data"] == {
        "character_string1": {"value": report_id},
        "phrase2": {"value": "已答复待评"},
    }
    assert send["body"]["page"] == f"pages/report/detail?id={report_id}"


# --- WeCom group robots: 20 messages a minute each --------------------------------------------


@pytest.fixture
def robot_area(env):
    """An area of its own with a robot of its own (removed afterwards: digests must not see it)."""
    from chalicelib.store.models import ScopeModel

    suffix = uuid.uuid4().hex[:8]
    area = ScopeModel(
        "district", f"tw-{suffix}", name="测试区", parent="city:tw", wecom_key=f"robot-{suffix}"
    )
    area.save()
    yield area
    area.delete()


def _digest(area, markdown: str) -> str:
    """A digest outbox item for the area's robot, as the digest job writes it; its id."""
    subject = f"digest:district:{area.id}:{uuid.uuid4().hex[:8]}"
    robot = Recipient("robot", f"district:{area.id}")
    values = {"scope_name": area.name, "summary": "新增1", "period": "2027-03-01"}
    notice = Notice("staff_digest", {**values, "markdown": markdown, "report_id": subject})
    [item] = outbox_items(subject, robot, notice, Scope(district_id=area.id), channels=("wecom",))
    item.save()
    return item.id


def _next_minute() -> float:
    """The start of the next minute (every item written so far is due by then)."""
    return (int(time.time()) // 60 + 1) * 60.0


def _long_digest() -> str:
    lines = [f"- 第{n}条｜市政设施｜人民路{n}号路灯损坏，已转交代表处理" for n in range(150)]
    return "## 随手拍日报｜测试区\n" + "\n".join(lines)


def test_a_full_robot_minute_defers_digests_to_the_next_minute_without_an_attempt(
    svc, wecom_env, robot_area, monkeypatch
):
    monkeypatch.setenv("WECOM_ROBOT_PER_MINUTE", "2")
    ids = [_digest(robot_area, f"## 日报 {n}") for n in range(3)]
    t0 = _next_minute() + 1

    assert [deliver(svc, i, now=t0 + n) for n, i in enumerate(ids)] == ["sent", "sent", "pending"]

    held = _item(ids[2])
    assert (held.status, held.attempts, held.due_at) == ("pending", 0, t0 - 1 + 60)
    assert "minute full" in held.last_error
    assert [m["content"] for m in wecom_env.state.messages(robot_area.wecom_key)] == [
        "## 日报 0",
        "## 日报 1",
    ]
    assert deliver(svc, ids[2], now=t0 + 30) == "deferred"
    assert ids[2] in due_ids(t0 + 59, grace_seconds=-1)
    assert deliver(svc, ids[2], now=t0 + 59) == "sent"
    assert len(wecom_env.state.messages(robot_area.wecom_key)) == 3
    assert _item(ids[2]).attempts == 0


def test_a_rate_limited_digest_waits_a_minute_and_resumes_at_the_part_not_sent(
    svc, wecom_env, robot_area
):
    from chalicelib.adapters.wecom import WeComRobot, split_markdown

    key = robot_area.wecom_key
    markdown = _long_digest()
    parts = split_markdown(markdown)
    assert len(parts) == 3
    for n in range(19):  # someone else used the robot: our ledger does not know
        WeComRobot().send_markdown(key, f"别的消息{n}")
    first, second = _digest(robot_area, markdown), _digest(robot_area, "## 另一份日报")
    t0 = _next_minute() + 1  # t0 and t0 + 1 fall in one minute of the ledger

    assert deliver(svc, first, now=t0) == "pending"  # part 1 went out, part 2 got 45009

    item = _item(first)
    assert (item.status, item.attempts, item.due_at) == ("pending", 0, t0 + 60)
    assert "45009" in item.last_error and "part 2" in item.last_error
    assert item.payload["values"]["parts_sent"] == 1
    calls = len(wecom_env.state.calls())
    assert deliver(svc, second, now=t0 + 1) == "pending"  # the minute is known to be full
    assert len(wecom_env.state.calls()) == calls
    assert _item(second).attempts == 0

    wecom_env.state.advance(61)
    assert deliver(svc, first, now=t0 + 60) == "sent"
    ours = [m["content"] for m in wecom_env.state.messages(key)][19:]
    assert ours == parts, "every part exactly once, in order"
    assert _item(first).provider_id == "3 parts"
    assert deliver(svc, second, now=t0 + 61) == "sent"


def test_a_digest_resumes_after_its_worker_died_between_parts(svc, wecom_env, robot_area):
    """``parts_sent`` is saved after every part, not only when a send fails: a worker killed
    while sending part 2 leaves part 1 recorded, and the next worker starts at part 2."""
    import os
    import subprocess
    import sys

    from chalicelib.adapters.wecom import split_markdown

    key = robot_area.wecom_key
    markdown = _long_digest()
    parts = split_markdown(markdown)
    item_id = _digest(robot_area, markdown)
    wecom_env.state.inject(delay_seconds=0.01, key=key)  # part 1: goes through
    wecom_env.state.inject(http_status=502, delay_seconds=8, key=key)  # part 2: hangs
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from chalicelib.bootstrap import services; "
            "from chalicelib.notify.delivery import deliver; deliver(services(), sys.argv[1])",
            item_id,
        ],
        env={**os.environ, "WECOM_TIMEOUT_SECONDS": "30"},
    )
    try:
        deadline = time.monotonic() + 20
        while wecom_env.state.faults():  # until part 2 is hanging at WeCom
            assert worker.poll() is None and time.monotonic() < deadline, "part 2 never sent"
            time.sleep(0.05)
    finally:
        worker.kill()
        worker.wait(timeout=10)
    died = _item(item_id)
    assert died.status == "sending" and died.payload["values"]["parts_sent"] == 1
    assert [m["content"] for m in wecom_env.state.messages(key)] == parts[:1]

    assert deliver(svc, item_id, now=time.time() + 61) == "sent"  # after the dead one's lease

    assert [m["content"] for m in wecom_env.state.messages(key)] == parts
    assert _item(item_id).attempts == 0


def test_a_robot_saturated_past_the_deferral_window_fails_for_staff(svc, wecom_env, robot_area):
    wecom_env.state.inject(errcode=45009, key=robot_area.wecom_key, times=-1)
    item_id = _digest(robot_area, "## 日报")
    t0 = time.time()

    assert deliver(svc, item_id, now=t0) == "pending"
    assert deliver(svc, item_id, now=t0 + 3600) == "pending"
    assert _item(item_id).attempts == 0
    assert deliver(svc, item_id, now=t0 + 86400 - 30) == "failed"  # a minute more is too long

    item = _item(item_id)
    assert (item.status, item.attempts, item.failed_bucket) == ("failed", 0, "failed")
    assert "延后超过24小时" in item.last_error and "45009" in item.last_error
    assert item.due_at is None
    assert item_id in {i.id for i in OutboxModel.failed.query("failed", scan_index_forward=False)}
    assert len(wecom_env.state.calls()) == 3


def test_tencent_per_number_limits_end_as_failed_after_the_deferral_window(api, svc, wechat, sms):
    phone = _phone()
    deputy = _deputy(wechat, phone, openid=False)
    sms.state.inject(code="LimitExceeded.PhoneNumberOneHourLimit", phone=phone, times=-1)
    report_id, notice = _notice()
    scope = Scope(station_id="S01", district_id="shinan", city_id="qingdao")
    [item] = outbox_items(report_id, deputy, notice, scope, channels=("sms",))
    item.save()
    t0 = time.time()

    assert deliver(svc, item.id, now=t0) == "pending"
    held = _item(item.id)
    assert (held.attempts, held.due_at) == (0, t0 + 3600)
    assert "PhoneNumberOneHourLimit" in held.last_error
    assert deliver(svc, item.id, now=t0 + 24 * 3600) == "pending"  # still within 48 hours
    assert deliver(svc, item.id, now=t0 + 47 * 3600) == "failed"  # one hour more is too long

    failed = _item(item.id)
    assert (failed.status, failed.attempts) == ("failed", 0)
    assert "延后超过48小时" in failed.last_error
    assert failed.sms_phone is None and failed.due_at is None
    staff = api.login("staff-station-01")["token"]
    status, listed = api.json("GET", "/notices/failed", token=staff)
    assert status == 200
    [mine] = [n for n in listed["items"] if n["id"] == item.id]
    assert mine["status"] == "failed" and mine["channel"] == "sms"
    assert len(_sms_to(sms, phone)) == 0 and len(sms.state.calls()) == 3

"""How a cancelled transition is answered, on DynamoDB Local behind a cloud-like proxy.

Every transition also adds to the day counters of its station, district and city, so
transitions of different reports collide on those items in the cloud (TransactionConflict):
they are sent again, not refused. A failed condition of the report, its event or its
outbox items is 409; any other cancellation is 503. The proxy (`DynamoDBConflicts`)
cancels colliding transactions as DynamoDB in the cloud does and injects the others.
"""

from __future__ import annotations

import re
import threading

import pytest

from chalicelib.store.models import StatsModel
from chalicelib.workflow.engine import MAX_ATTEMPTS, beijing_day
from tests.workflow_helpers import deputy_token, seed_station

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("backend", ["dynamodb-local"], indirect=True),
]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _counter(scope: str, metric: str) -> int:
    try:
        return int(StatsModel.get(scope, f"{beijing_day()}#{metric}", consistent_read=True).n)
    except StatsModel.DoesNotExist:
        return 0


def _accept(cloud, report_id: str, token: str):
    return cloud.http.json("POST", f"/reports/{report_id}/accept", {}, token=token)


def _status(cloud, report_id: str, token: str) -> str:
    status, body = cloud.http.json("GET", f"/reports/{report_id}", token=token)
    assert status == 200, body
    return body["status"]


@pytest.fixture
def offered(cloud, monkeypatch):
    """A report of a new station offered to its two deputies, with their tokens."""
    monkeypatch.setenv("MATCH_TOP_K", "2")
    station_id, deputies = seed_station(2, prefix="C")
    report_id = cloud.submit(station_id, "路口积水")
    tokens = [deputy_token(cloud.http, d) for d in deputies]
    return station_id, report_id, deputies, tokens


def test_transitions_of_different_reports_of_one_station_at_once_all_succeed(cloud, monkeypatch):
    monkeypatch.setenv("MATCH_TOP_K", "8")
    station_id, deputies = seed_station(8, prefix="C")
    reports = [cloud.submit(station_id, f"第{n}处路灯不亮") for n in range(len(deputies))]
    tokens = [deputy_token(cloud.http, d) for d in deputies]
    barrier = threading.Barrier(len(reports))
    outcomes: dict[int, tuple[int, dict]] = {}

    def accept(n: int) -> None:
        barrier.wait()
        outcomes[n] = _accept(cloud, reports[n], tokens[n])

    threads = [threading.Thread(target=accept, args=(n,)) for n in range(len(reports))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert cloud.proxy.conflicts > 0, "the transitions collided on the shared counters"
    assert {n: status for n, (status, _) in outcomes.items()} == {n: 200 for n in outcomes}
    assert len(outcomes) == len(reports)
    for n, (_, body) in outcomes.items():
        assert body["status"] == "accepted" and body["accepted_by"] == deputies[n]
    # Each transition counted once: a cancelled attempt writes nothing.
    assert _counter(f"station:{station_id}", "accepted") == len(reports)


def test_a_conflict_or_throttling_is_sent_again_and_counted_once(cloud, offered):
    station_id, report_id, deputies, tokens = offered
    cloud.proxy.inject("TransactionConflict", "reports", {"id": report_id}, times=2)
    cloud.proxy.inject("ThrottlingError", "stats", times=1)

    status, body = _accept(cloud, report_id, tokens[0])

    assert status == 200 and body["accepted_by"] == deputies[0], body
    assert len(cloud.proxy.cancelled) == 3
    assert [e["type"] for e in body["timeline"]].count("accepted") == 1
    assert _counter(f"station:{station_id}", "accepted") == 1


def test_a_cancellation_for_another_reason_is_503_and_changes_nothing(cloud, offered):
    station_id, report_id, deputies, tokens = offered
    cloud.proxy.inject("ValidationError", "stats", times=1)

    status, body = _accept(cloud, report_id, tokens[0])

    assert status == 503, body
    assert body["error"]["message"] == "系统繁忙，请稍后重试"
    assert len(cloud.proxy.cancelled) == 1, "not sent again"
    assert _status(cloud, report_id, tokens[0]) == "offered"
    assert _counter(f"station:{station_id}", "accepted") == 0
    assert _accept(cloud, report_id, tokens[1])[0] == 200


def test_conflicts_that_do_not_clear_are_503_after_the_last_attempt(cloud, offered):
    _, report_id, _, tokens = offered
    cloud.proxy.inject("TransactionConflict", "stats", times=MAX_ATTEMPTS)

    status, body = _accept(cloud, report_id, tokens[0])

    assert status == 503 and CHINESE.search(body["error"]["message"]), body
    assert len(cloud.proxy.cancelled) == MAX_ATTEMPTS
    assert _status(cloud, report_id, tokens[0]) == "offered"
    assert _accept(cloud, report_id, tokens[0])[0] == 200


@pytest.mark.parametrize("table", ["report_events", "outbox", "reports"])
def test_a_failed_condition_of_the_report_its_event_or_its_notices_is_409(cloud, offered, table):
    _, report_id, _, tokens = offered
    key = {"id": report_id} if table == "reports" else {}
    cloud.proxy.inject("ConditionalCheckFailed", table, key, times=1)

    status, body = _accept(cloud, report_id, tokens[0])

    assert status == 409 and CHINESE.search(body["error"]["message"]), body
    assert len(cloud.proxy.cancelled) == 1, "a failed condition is not sent again"
    assert _status(cloud, report_id, tokens[0]) == "offered"


def test_a_merge_target_closed_meanwhile_is_422_naming_into(cloud, monkeypatch):
    monkeypatch.setenv("MATCH_TOP_K", "1")
    station_id, deputies = seed_station(1, prefix="C")
    original = cloud.submit(station_id, "桥下有积水")
    duplicate = cloud.submit(station_id, "桥洞下积水很深")
    token = deputy_token(cloud.http, deputies[0])
    assert _accept(cloud, duplicate, token)[0] == 200
    cloud.proxy.inject("ConditionalCheckFailed", "reports", {"id": original}, times=1)

    status, body = cloud.http.json(
        "POST", f"/reports/{duplicate}/triage", {"action": "merge", "into": original}, token=token
    )

    assert status == 422 and body["error"]["field"] == "into", body
    assert CHINESE.search(body["error"]["message"])
    assert _status(cloud, duplicate, token) == "accepted"

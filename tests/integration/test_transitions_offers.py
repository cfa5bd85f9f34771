"""Who holds an offer is read from the report and the tasks' keys, never from a lagging index.

The tasks' `report` index is eventually consistent: right after an offer it may not list
it yet. The proxy in front of DynamoDB Local (`DynamoDBConflicts.lag_index`) makes that
index answer every query with nothing; accepting, declining and re-offering must still
close exactly the offers that are open.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from chalicelib.clock import utcnow
from tests.workflow_helpers import deputy_token, scheduled_event, seed_station

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("backend", ["dynamodb-local"], indirect=True),
]


@pytest.fixture(autouse=True)
def lagging_index(cloud):
    cloud.proxy.lag_index("tasks", "report")


def _task_ids(cloud, token: str, status: str) -> list[str]:
    code, body = cloud.http.json("GET", f"/tasks?status={status}", token=token)
    assert code == 200, body
    return [t["report_id"] for t in body["items"]]


def _offered(cloud, report_id: str, tokens: dict[str, str]) -> list[str]:
    return [d for d, token in tokens.items() if report_id in _task_ids(cloud, token, "offered")]


def _report(cloud, report_id: str, token: str) -> dict:
    code, body = cloud.http.json("GET", f"/reports/{report_id}", token=token)
    assert code == 200, body
    return body


def test_accepting_withdraws_every_other_open_offer(cloud, monkeypatch):
    monkeypatch.setenv("MATCH_TOP_K", "3")
    station_id, deputies = seed_station(3, prefix="O")
    report_id = cloud.submit(station_id, "小区门口的路灯坏了")
    tokens = {d: deputy_token(cloud.http, d) for d in deputies}
    assert sorted(_offered(cloud, report_id, tokens)) == sorted(deputies)

    winner, *others = deputies
    code, body = cloud.http.json("POST", f"/reports/{report_id}/accept", {}, token=tokens[winner])

    assert code == 200, body
    for other in others:
        code, withdrawn = cloud.http.json("GET", "/tasks?status=withdrawn", token=tokens[other])
        mine = [t for t in withdrawn["items"] if t["report_id"] == report_id]
        assert len(mine) == 1 and mine[0]["taken_by"], withdrawn
        assert report_id not in _task_ids(cloud, tokens[other], "offered")


def test_declining_goes_to_the_next_deputy_only_when_nobody_holds_an_offer(cloud, monkeypatch):
    monkeypatch.setenv("MATCH_TOP_K", "2")
    station_id, deputies = seed_station(3, prefix="O")
    report_id = cloud.submit(station_id, "楼下餐馆油烟扰民")
    tokens = {d: deputy_token(cloud.http, d) for d in deputies}
    first, second = _offered(cloud, report_id, tokens)
    (spare,) = set(deputies) - {first, second}

    code, body = cloud.http.json(
        "POST", f"/reports/{report_id}/decline", {"reason": "近期外出"}, token=tokens[first]
    )
    assert code == 200 and body["status"] == "offered", body
    view = _report(cloud, report_id, tokens[second])
    assert sorted(c["deputy_id"] for c in view["candidates"]) == sorted([first, second])
    assert _offered(cloud, report_id, tokens) == [second], "the spare deputy is not offered yet"
    assert report_id in _task_ids(cloud, tokens[first], "declined")

    code, body = cloud.http.json(
        "POST", f"/reports/{report_id}/decline", {"reason": "不熟悉该领域"}, token=tokens[second]
    )
    assert code == 200 and body["status"] == "offered", body
    assert _offered(cloud, report_id, tokens) == [spare]


def test_an_offer_nobody_took_in_time_is_expired_when_the_next_deputies_get_it(cloud, monkeypatch):
    monkeypatch.setenv("MATCH_TOP_K", "2")
    station_id, deputies = seed_station(4, prefix="O")
    start = utcnow()
    with time_machine.travel(start, tick=True) as clock:
        report_id = cloud.submit(station_id, "公园健身器材损坏")
        tokens = {d: deputy_token(cloud.http, d) for d in deputies}
        first_round = _offered(cloud, report_id, tokens)
        assert len(first_round) == 2

        clock.move_to(start + timedelta(hours=25))
        cloud.client.lambda_.invoke("sweep_due_reports", scheduled_event(cloud.client))
        cloud.drain()

        tokens = {d: deputy_token(cloud.http, d) for d in deputies}  # the old ones expired
        second_round = _offered(cloud, report_id, tokens)
        assert sorted(second_round) == sorted(set(deputies) - set(first_round))
        for deputy_id in first_round:
            assert report_id in _task_ids(cloud, tokens[deputy_id], "expired")
        code, body = cloud.http.json(
            "POST", f"/reports/{report_id}/accept", {}, token=tokens[first_round[0]]
        )
        assert code == 409, body

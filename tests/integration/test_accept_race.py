"""Ten deputies accept one report at the same moment over HTTP: exactly one wins.

The app runs behind `chalice local`'s threaded HTTP server; its tables are on DynamoDB
Local behind a proxy that cancels colliding transactions as DynamoDB in the cloud does
(DynamoDB Local runs them one at a time), so the losers meet both kinds of refusal:
a conflict with the winner's transaction in flight, and the winner's committed change.
"""

from __future__ import annotations

import threading

import pytest

from chalicelib.store.models import DeputyModel
from tests.workflow_helpers import deputy_token, seed_station

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("backend", ["dynamodb-local"], indirect=True),
]


def test_ten_deputies_accept_concurrently_one_wins(cloud, monkeypatch):
    monkeypatch.setenv("MATCH_TOP_K", "10")
    station_id, deputies = seed_station(10, prefix="R")
    report_id = cloud.submit(station_id, "十位代表同时接单")
    tokens = {deputy_id: deputy_token(cloud.http, deputy_id) for deputy_id in deputies}
    first = cloud.http.json("GET", "/tasks?status=offered", token=tokens[deputies[0]])[1]
    assert report_id in [t["report_id"] for t in first["items"]]

    barrier = threading.Barrier(len(deputies))
    outcomes: dict[str, tuple[int, dict]] = {}

    def accept(deputy_id: str) -> None:
        barrier.wait()
        outcomes[deputy_id] = cloud.http.json(
            "POST", f"/reports/{report_id}/accept", {}, token=tokens[deputy_id]
        )

    threads = [threading.Thread(target=accept, args=(d,)) for d in deputies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(status for status, _ in outcomes.values()) == [200] + [409] * 9, outcomes
    winner = next(d for d, (status, _) in outcomes.items() if status == 200)
    accepted = outcomes[winner][1]
    assert accepted["status"] == "accepted" and accepted["accepted_by"] == winner
    assert [e["type"] for e in accepted["timeline"]].count("accepted") == 1
    for deputy_id, (_, body) in outcomes.items():
        if deputy_id != winner:
            # Refused by the winner's committed change, or seen after it at the first read.
            assert body["error"]["code"] in ("state_conflict", "transition_not_allowed"), body
            assert "接单" in body["error"]["message"], body

    winner_name = DeputyModel.get(winner).name
    for loser in (d for d in deputies if d != winner):
        status, tasks = cloud.http.json("GET", "/tasks?status=withdrawn", token=tokens[loser])
        assert status == 200
        mine = [t for t in tasks["items"] if t["report_id"] == report_id]
        assert len(mine) == 1 and mine[0]["taken_by"] == winner_name, (loser, tasks)
        offered = cloud.http.json("GET", "/tasks?status=offered", token=tokens[loser])[1]
        assert report_id not in [t["report_id"] for t in offered["items"]]
    status, tasks = cloud.http.json("GET", "/tasks?status=accepted", token=tokens[winner])
    assert [t["report_id"] for t in tasks["items"]] == [report_id]
    assert DeputyModel.get(winner).open_tasks == 1

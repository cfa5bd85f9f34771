"""Helpers of the workflow tests: drive the notice queue and the schedules, walk a report.

The worker Lambda and the scheduled functions are invoked through `chalice.test.Client`
exactly as AWS would invoke them.
"""

from __future__ import annotations

import uuid

from chalicelib.bootstrap import services

DEPUTY_CODES = {f"D{n:02d}": f"deputy-{n:02d}" for n in range(1, 15)}
DEPUTY_PHONES = {f"D{n:02d}": f"+86139000000{n:02d}" for n in range(1, 15)}


def drain(api, rounds: int = 200) -> int:
    """Feed the notice queue's messages to the worker Lambda until the queue is empty."""
    sqs = services().sqs
    url = services().settings.notify_queue_url
    handled = 0
    for _ in range(rounds):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            break
        event = api.client.events.generate_sqs_event(
            message_bodies=[m["Body"] for m in messages], queue_name="suishoupai-notices"
        )
        api.client.lambda_.invoke("deliver_notices", event)
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        handled += len(messages)
    return handled


def settle_queue(api) -> None:
    """Drain the notice queue, then purge what is still delayed or in flight.

    Call before travelling far in time: moto's SQS stops answering a receive at the
    first message older than the queue's retention, so one leftover message of an
    earlier test would hide every message the travelling test sends.
    """
    drain(api)
    services().sqs.purge_queue(QueueUrl=services().settings.notify_queue_url)


class Loop:
    """A citizen's report walked through the loop, with the actors' tokens."""

    def __init__(
        self,
        api,
        category="traffic.parking",
        station="S01",
        text="小区门口乱停车",
        staff="staff-station-01",
    ):
        self.api = api
        self.staff = staff
        self.citizen_code = f"citizen-{uuid.uuid4().hex[:12]}"
        status, report = api.json(
            "POST",
            "/reports",
            {"station_id": station, "category": category, "text": text},
            token=self.citizen,
        )
        assert status == 201, report
        self.id = report["id"]
        drain(api)

    @property
    def citizen(self) -> str:
        """A fresh token of the reporter (tests travel in time past a token's life)."""
        return self.api.login(self.citizen_code)["token"]

    def read(self, token=None):
        status, body = self.api.json("GET", f"/reports/{self.id}", token=token or self.citizen)
        assert status == 200, body
        return body

    def staff_view(self, code=None):
        return self.read(self.api.login(code or self.staff)["token"])

    def candidates(self) -> list[str]:
        return [c["deputy_id"] for c in self.staff_view()["candidates"]]

    def deputy(self, deputy_id: str) -> str:
        return self.api.login(DEPUTY_CODES[deputy_id])["token"]

    def act(self, path: str, token: str, body: dict | None = None):
        status, answer = self.api.json(
            "POST", f"/reports/{self.id}/{path}", body or {}, token=token
        )
        drain(self.api)
        return status, answer


def run_schedule(api, handler: str) -> dict:
    """Invoke a scheduled function as EventBridge would, then drain the notice queue."""
    event = api.client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=[],
        region="ap-east-1",
    )
    payload = api.client.lambda_.invoke(handler, event).payload
    drain(api)
    return payload
